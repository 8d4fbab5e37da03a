"""Old path of glalign.repro.paper (kept for one release): the same module object."""
import sys

from glalign.repro import paper

sys.modules[__name__] = paper
