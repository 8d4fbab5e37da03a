"""Tolerances of a rerun's numbers: the interval a percentage can move by chance (queries clustered by
identity: a design effect widens the binomial interval), and per-query hits for paired tests."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from glalign.repro.verify_specs import CI_LEVEL


@functools.lru_cache(maxsize=None)
def query_ci(k: int, n: int) -> tuple[float, float]:
    """Query-bootstrap CI (percent) of k hits among n queries (their order does not matter)."""
    from glalign.retrieval.stats import bootstrap_ci

    x = np.zeros(n)
    x[:k] = 1
    return bootstrap_ci(x, level=CI_LEVEL)


def design_effect(per_query: pd.DataFrame) -> float:
    """Width of the identity-bootstrap CI of Rank-1 over that of the query bootstrap (at least 1)."""
    from glalign.retrieval.stats import bootstrap_ci

    hits = per_query.correct_at_1.to_numpy(bool)
    q_lo, q_hi = query_ci(int(hits.sum()), len(hits))
    c_lo, c_hi = bootstrap_ci(hits, clusters=per_query.pid.to_numpy(), level=CI_LEVEL)
    return max(1.0, (c_hi - c_lo) / (q_hi - q_lo)) if q_hi > q_lo else 1.0


def unpaired_interval(value: float, n: int, deff: float) -> tuple[float, float]:
    """The CI a rerun's percentage must fall in, without per-query outcomes: the query bootstrap of
    round(value * n) hits in n, widened by the design effect, around the committed value."""
    k = min(n, max(0, round(value * n / 100)))
    lo, hi = query_ci(k, n)
    centre = k / n * 100
    return max(0.0, value - (centre - lo) * deff), min(100.0, value + (hi - centre) * deff)


def per_query_hits(per_query: pd.DataFrame, column: str) -> np.ndarray | None:
    if column == "R1":
        return per_query.correct_at_1.to_numpy(bool)
    if column in ("R5", "R10") and "rank" in per_query.columns:
        return per_query["rank"].to_numpy() <= int(column[1:])
    return None
