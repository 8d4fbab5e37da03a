"""Old path of glalign.retrieval.evaluate (kept for one release): the same module object."""
import sys

from glalign.retrieval import evaluate

sys.modules[__name__] = evaluate
