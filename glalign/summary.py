"""Old path of glalign.repro.summary (kept for one release): the same module object."""
import sys

from glalign.repro import summary

sys.modules[__name__] = summary
