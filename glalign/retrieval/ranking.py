"""Ranking a gallery for every query, chunk by chunk, and the per-query table that lets two systems
be compared query by query (glalign.retrieval.evaluate scores and calls them)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from glalign.constants import PARTS
from glalign.errors import GlalignError


def rank_queries(rows, captions: list[str], q_pids, g_pids, chunk: int):
    """(metrics, first correct rank, top-10 indices, top-1 score) over the queries, `chunk` at a time
    (rows(slice) gives those queries' scores over the gallery)."""
    from glalign.retrieval.metrics import RankAccumulator

    acc = RankAccumulator(g_pids)
    firsts, tops, scores = [], [], []
    for start in range(0, len(captions), chunk):
        sim = rows(slice(start, start + chunk))
        refuse_non_finite_scores(sim, captions[start:start + chunk])
        first, top = acc.add(sim, q_pids[start:start + chunk])
        firsts.append(first)
        tops.append(top)
        scores.append(sim[np.arange(len(sim)), top[:, 0]])
    return acc.result(), np.concatenate(firsts), np.concatenate(tops), np.concatenate(scores)


def per_query_table(records, captions, q_pids, g_pids, queries, first, top, score_top1, units) -> pd.DataFrame:
    """One row per query: what it was, where its person ranked, what came first."""
    per_query = pd.DataFrame({
        "query": np.arange(len(captions)), "caption": captions, "pid": [str(p) for p in q_pids],
        "image": [r.file_path for r in records for _ in r.captions],
        "caption_index": [i for r in records for i in range(len(r.captions))],
        "n_parts": queries.present.sum(1).numpy(),  # lexicon routing's parts (best-region: 0; see n_units)
        "parts": [" ".join(PARTS[p] for p in range(len(PARTS)) if row[p]) for row in queries.present.tolist()],
        "rank": first, "correct_at_1": first == 1,
        "top10": [" ".join(str(g_pids[j]) for j in row) for row in top],
        "top1_image": [records[row[0]].file_path for row in top],
        "score_top1": score_top1,
    })
    if units is not None:  # best-region routing: the sentences each query was scored by
        per_query.insert(per_query.columns.get_loc("n_parts") + 1, "n_units",
                         np.bincount(units.owner.numpy(), minlength=len(captions)))
    return per_query


def refuse_non_finite_scores(sim: np.ndarray, captions: list[str]) -> None:
    """NaN scores rank in no meaningful order: a GlalignError naming the first query that has one."""
    bad = ~np.isfinite(sim).all(1)
    if bad.any():
        first = int(np.argmax(bad))
        raise GlalignError(f"the model's scores are not finite (NaN or inf) for {int(bad.sum())} of {len(sim)} "
                           f"queries (e.g. {captions[first]!r}): its weights or inputs overflow; nothing was ranked")
