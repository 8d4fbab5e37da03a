"""Old path of glalign.retrieval.index (kept for one release): the same module object."""
import sys

from glalign.retrieval import index

sys.modules[__name__] = index
