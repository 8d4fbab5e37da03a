"""Old path of glalign.training.checkpoint (kept for one release): the same module object."""
import sys

from glalign.training import checkpoint

sys.modules[__name__] = checkpoint
