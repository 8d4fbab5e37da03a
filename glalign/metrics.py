"""Old path of glalign.retrieval.metrics (kept for one release): the same module object."""
import sys

from glalign.retrieval import metrics

sys.modules[__name__] = metrics
