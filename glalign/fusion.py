"""Old path of glalign.retrieval.fusion (kept for one release): the same module object."""
import sys

from glalign.retrieval import fusion

sys.modules[__name__] = fusion
