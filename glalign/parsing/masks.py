"""Old path of glalign.data.masks (kept for one release): the same module object."""
import sys

from glalign.data import masks

sys.modules[__name__] = masks
