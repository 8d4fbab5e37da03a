"""Old path of glalign.repro.bench (kept for one release): the same module object."""
import sys

from glalign.repro import bench

sys.modules[__name__] = bench
