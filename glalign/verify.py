"""Old path of glalign.repro.verify (kept for one release): the same module object."""
import sys

from glalign.repro import verify

sys.modules[__name__] = verify
