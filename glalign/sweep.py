"""Old path of glalign.repro.sweep (kept for one release): the same module object."""
import sys

from glalign.repro import sweep

sys.modules[__name__] = sweep
