"""Old path of glalign.training.loop (kept for one release): the same module object."""
import sys

from glalign.training import loop

sys.modules[__name__] = loop
