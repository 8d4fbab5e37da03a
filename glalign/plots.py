"""Old path of glalign.repro.plots (kept for one release): the same module object."""
import sys

from glalign.repro import plots

sys.modules[__name__] = plots
