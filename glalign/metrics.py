"""Retrieval metrics with IRRA's definitions: CMC Rank-k, mAP and mINP, in percent.

Ranking uses a stable sort on the negated similarity, so ties go to the lower gallery index and
results are reproducible. Queries are processed in chunks, so memory stays bounded for large
galleries (one chunk x gallery matrix at a time)."""
from __future__ import annotations

import numpy as np
import torch


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def ranking(similarity: np.ndarray) -> np.ndarray:
    """Gallery indices best first; ties broken by the lower gallery index."""
    return np.argsort(-similarity, axis=1, kind="stable")


def rank_metrics(similarity, query_pids, gallery_pids, max_rank: int = 10, chunk: int = 1024) -> dict:
    """R1, R5, R10, mAP, mINP (percent, floats) and cmc (length max_rank), as in IRRA's evaluator.

    A query whose person id has no image in the gallery raises ValueError naming the query."""
    sim = _as_numpy(similarity).astype(np.float32, copy=False)
    q_pids, g_pids = _as_numpy(query_pids), _as_numpy(gallery_pids)
    if sim.shape != (len(q_pids), len(g_pids)):
        raise ValueError(f"similarity is {sim.shape}, expected ({len(q_pids)}, {len(g_pids)}) queries x gallery")
    gallery_set = set(g_pids.tolist())
    for i, pid in enumerate(q_pids.tolist()):
        if pid not in gallery_set:
            raise ValueError(f"query {i} (person id {pid!r}) has no matching image in the gallery")
    max_rank = min(max_rank, len(g_pids))
    cmc_hits = np.zeros(max_rank)
    ap_sum = inp_sum = 0.0
    for start in range(0, len(q_pids), chunk):
        order = ranking(sim[start:start + chunk])
        matches = g_pids[order] == q_pids[start:start + chunk, None]
        cmc = matches[:, :max_rank].cumsum(1) > 0
        cmc_hits += cmc.sum(0)
        hits = matches.cumsum(1)
        last = matches.shape[1] - 1 - np.argmax(matches[:, ::-1], axis=1)  # position of the hardest positive
        inp_sum += float((hits[np.arange(len(last)), last] / (last + 1.0)).sum())
        precision = hits / np.arange(1, matches.shape[1] + 1)
        ap_sum += float(((precision * matches).sum(1) / matches.sum(1)).sum())
    n = len(q_pids)
    cmc = cmc_hits / n * 100
    pad = lambda k: float(cmc[min(k, max_rank) - 1])  # noqa: E731
    return {"R1": pad(1), "R5": pad(5), "R10": pad(10), "mAP": ap_sum / n * 100, "mINP": inp_sum / n * 100,
            "cmc": cmc}


def first_correct_rank(similarity, query_pids, gallery_pids, top_k: int = 10):
    """Per query: the 1-based rank of the first correct image, and the top-k gallery indices."""
    sim = _as_numpy(similarity)
    q_pids, g_pids = _as_numpy(query_pids), _as_numpy(gallery_pids)
    order = ranking(sim)
    matches = g_pids[order] == q_pids[:, None]
    return matches.argmax(1) + 1, order[:, :top_k]
