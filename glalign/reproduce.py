"""Old path of glalign.repro.reproduce (kept for one release): the same module object."""
import sys

from glalign.repro import reproduce

sys.modules[__name__] = reproduce
