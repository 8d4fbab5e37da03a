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


class RankAccumulator:
    """Rank metrics over query chunks: add (similarity chunk, its query ids), then result().
    Memory is one chunk x gallery at a time, whatever the number of queries."""

    def __init__(self, gallery_pids, max_rank: int = 10):
        self.g_pids = _as_numpy(gallery_pids)
        self.gallery_set = set(self.g_pids.tolist())
        self.max_rank = min(max_rank, len(self.g_pids))
        self.cmc_hits = np.zeros(self.max_rank)
        self.ap_sum = self.inp_sum = 0.0
        self.n = 0

    def add(self, sim_chunk, query_pids, top_k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Accumulate a chunk; returns each query's 1-based rank of its first correct image and
        its top-k gallery indices (from the same sort)."""
        sim = _as_numpy(sim_chunk).astype(np.float32, copy=False)
        q_pids = _as_numpy(query_pids)
        if sim.shape != (len(q_pids), len(self.g_pids)):
            raise ValueError(f"similarity is {sim.shape}, expected ({len(q_pids)}, {len(self.g_pids)}) "
                             "queries x gallery")
        for i, pid in enumerate(q_pids.tolist()):
            if pid not in self.gallery_set:
                raise ValueError(f"query {self.n + i} (person id {pid!r}) has no matching image in the gallery")
        order = ranking(sim)
        matches = self.g_pids[order] == q_pids[:, None]
        self.cmc_hits += (matches[:, :self.max_rank].cumsum(1) > 0).sum(0)
        hits = matches.cumsum(1)
        last = matches.shape[1] - 1 - np.argmax(matches[:, ::-1], axis=1)  # position of the hardest positive
        self.inp_sum += float((hits[np.arange(len(last)), last] / (last + 1.0)).sum())
        precision = hits / np.arange(1, matches.shape[1] + 1)
        self.ap_sum += float(((precision * matches).sum(1) / matches.sum(1)).sum())
        self.n += len(q_pids)
        return matches.argmax(1) + 1, order[:, :top_k]

    def result(self) -> dict:
        if not self.n:
            raise ValueError("no queries were added")
        cmc = self.cmc_hits / self.n * 100
        at = lambda k: float(cmc[min(k, self.max_rank) - 1])  # noqa: E731
        return {"R1": at(1), "R5": at(5), "R10": at(10), "mAP": self.ap_sum / self.n * 100,
                "mINP": self.inp_sum / self.n * 100, "cmc": cmc}


def rank_metrics(similarity, query_pids, gallery_pids, max_rank: int = 10, chunk: int = 1024) -> dict:
    """R1, R5, R10, mAP, mINP (percent, floats) and cmc (length max_rank), as in IRRA's evaluator.

    A query whose person id has no image in the gallery raises ValueError naming the query."""
    sim = _as_numpy(similarity)
    q_pids = _as_numpy(query_pids)
    if sim.shape[0] != len(q_pids):
        raise ValueError(f"similarity is {sim.shape}, expected ({len(q_pids)}, {len(_as_numpy(gallery_pids))}) "
                         "queries x gallery")
    acc = RankAccumulator(gallery_pids, max_rank)
    for start in range(0, len(q_pids), chunk):
        acc.add(sim[start:start + chunk], q_pids[start:start + chunk])
    return acc.result()


def first_correct_rank(similarity, query_pids, gallery_pids, top_k: int = 10):
    """Per query: the 1-based rank of the first correct image, and the top-k gallery indices."""
    return RankAccumulator(gallery_pids).add(similarity, query_pids, top_k)


def chance_r1(query_pids, gallery_pids) -> float:
    """Rank-1 (%) of a random ranking: the mean share of the gallery that shows the query's person.
    Beside every Rank-1 it tells a result from noise (a gallery of 100 identities: about 1%)."""
    g = _as_numpy(gallery_pids)
    ids, counts = np.unique(g, return_counts=True)
    share = dict(zip(ids.tolist(), (counts / len(g)).tolist()))
    return float(np.mean([share.get(p, 0.0) for p in _as_numpy(query_pids).tolist()]) * 100)
