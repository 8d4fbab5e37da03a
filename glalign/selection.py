"""Old path of glalign.training.selection (kept for one release): the same module object."""
import sys

from glalign.training import selection

sys.modules[__name__] = selection
