"""`glalign bench search`: one query's latency over 10^4-10^6 gallery rows in fp32 and fp16, beside the
bound of reading the index once from memory, and the bf16 screen for query batches."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from glalign.repro.bench.emit import emit

D, K = 96, 10  # the synthpedes width; top-k


def _unit(*shape):
    return torch.nn.functional.normalize(torch.randn(*shape), dim=-1)


def _timed(fn, calls):
    """Median milliseconds over calls after a warm-up (pages mapped, kernels loaded), and max/min spread."""
    fn(calls[0])
    times = []
    for c in calls:
        t0 = time.perf_counter()
        fn(c)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times) / min(times)


def _row(n, dtype, nq, path, ms, bound, spread, **extra):
    emit({"bench": "search", "gallery": n, "dtype": dtype, "queries": nq, "path": path,
          "latency_ms": round(ms, 2), "bound_ms": round(bound, 2), "ratio": round(ms / bound, 2),
          "spread": round(spread, 2), **extra})


def _recall(a, b) -> float:
    """Mean share of one top-k found in the other, row by row."""
    import numpy as np
    return float(np.mean([len(set(x) & set(y)) / K for x, y in zip(a.tolist(), b.tolist())]))


def _plain_bound(idx, dtype, n, ones):
    """The fastest plain product in each dtype (numpy's BLAS for fp32: torch's fp32 gemv is single-threaded
    here; torch's fp16 gemv: numpy has none); one library per case, so two thread pools never spin
    against each other on the 2 cores."""
    import numpy as np
    plain = ((lambda x: np.dot(idx.rows, x[0])) if dtype == "float32" else
             (lambda x: idx.row_block(0, n) @ torch.from_numpy(x[0]).half()))
    return _timed(plain, ones)[0]


def _bench_faiss(idx, n, dtype, ones, batch, w, bound, exact_top):
    """The optional IVF path on the fp16 index, with its recall against the exact fp32 top-k."""
    import glalign.retrieval.index as gi
    try:
        t0 = time.perf_counter()
        ivf = gi.open_faiss(idx)
        build_s = time.perf_counter() - t0
    except Exception as exc:  # faiss is optional
        emit({"bench": "search", "gallery": n, "path": "faiss", "skipped": str(exc)})
        return
    for nq, calls in ((1, ones), (32, batch)):
        ms, spread = _timed(lambda x: gi.faiss_topk(idx, ivf, x, K), calls)
        recall = _recall(exact_top, gi.faiss_topk(idx, ivf, w, K)[1])
        _row(n, dtype, nq, "faiss", ms, bound, spread, recall_at_10=round(recall, 4),
             nlist=gi.default_nlist(n), nprobe=32, build_s=round(build_s, 1))


def _bench_size(n, q, w):
    """All cases for one gallery size: exact one-query and 32-query paths per dtype, the old topk_fused
    path (fp32), faiss (fp16)."""
    import glalign.retrieval.index as gi
    from glalign.retrieval.embeddings import GalleryEmbeddings, QueryEmbeddings
    from glalign.retrieval.search import topk_fused

    reps = 5 if n >= 1_000_000 else 9
    g = GalleryEmbeddings(_unit(n, D), _unit(n, 5, D), torch.rand(n, 5) > 0.2)
    ones = [w[i:i + 1] for i in range(reps)]
    batch = [w] * max(3, reps // 2)
    with tempfile.TemporaryDirectory() as tmp:
        top32 = {}
        for dtype in ("float32", "float16"):
            idx = gi.FusedIndex(gi.write_index(Path(tmp) / dtype, g.global_, g.regions, g.present, dtype))
            bound = _plain_bound(idx, dtype, n, ones)
            one_ms, spread = _timed(lambda x: idx.topk(x, K), ones)
            _row(n, dtype, 1, "exact", one_ms, bound, spread)
            ms, spread = _timed(lambda x: idx.topk(x, K), batch)
            top32[dtype] = idx.topk(w, K)[1]
            extra = {"vs_one_query": round(ms / one_ms, 2)}
            if dtype == "float16":
                extra["recall_at_10_vs_fp32"] = round(_recall(top32["float32"], top32[dtype]), 4)
            _row(n, dtype, 32, "exact", ms, bound, spread, **extra)
            if dtype == "float32":  # the old path, for comparison
                calls = [QueryEmbeddings(q.global_[i:i + 1], q.phrases[i:i + 1], q.present[i:i + 1])
                         for i in range(3 if n >= 1_000_000 else reps)]
                ms, spread = _timed(lambda x: topk_fused(x, g, 0.5, K), calls)
                _row(n, dtype, 1, "topk_fused", ms, bound, spread)
            else:
                _bench_faiss(idx, n, dtype, ones, batch, w, bound, top32[dtype])
            del idx


def bench_search(args):
    """Search latency per path beside the one-pass bound: a plain matrix-vector product over the same
    stored bytes (numpy or torch, whichever is faster in that dtype), on random unit embeddings of the
    synthpedes width (d = 96, global + 5 parts, 80% of parts present). Median of several queries after
    a warm-up; one JSON line per case."""
    from glalign.retrieval.embeddings import QueryEmbeddings
    from glalign.retrieval.fusion import query_rows

    torch.manual_seed(0)
    q = QueryEmbeddings(_unit(32, D), _unit(32, 5, D), torch.rand(32, 5) > 0.3)
    w = query_rows(q, 0.5)
    for n in getattr(args, "sizes", None) or (10_000, 100_000, 1_000_000):
        _bench_size(n, q, w)
