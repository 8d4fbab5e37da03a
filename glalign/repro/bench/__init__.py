"""Benchmarks that print numbers (`glalign bench ...`), not timed tests: one module per benchmark, each
result a JSON line (emit). `main` dispatches a command to its module."""
from __future__ import annotations

from glalign.repro.bench.data import bench_phrases, bench_pipeline, bench_synth
from glalign.repro.bench.search import bench_search
from glalign.repro.bench.train import bench_train
# what this module held before it became a package (glalign.bench.X, one release)
from glalign.repro.bench.train import (  # noqa: F401
    PAPER_RANDOM, RandomVocab, device_peak, random_batch, tower_flops, train_flops_per_pair,
)


def main(what: str, args) -> int:
    {"synth": bench_synth, "phrases": bench_phrases, "train": bench_train, "search": bench_search,
     "pipeline": bench_pipeline}[what](args)
    return 0
