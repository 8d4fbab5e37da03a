"""Old path of glalign.retrieval.search (kept for one release): the same module object."""
import sys

from glalign.retrieval import search

sys.modules[__name__] = search
