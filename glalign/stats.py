"""Old path of glalign.retrieval.stats (kept for one release): the same module object."""
import sys

from glalign.retrieval import stats

sys.modules[__name__] = stats
