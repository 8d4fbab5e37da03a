"""Paired statistics on per-query Rank-1 outcomes: McNemar's test (statsmodels) and bootstrap CIs."""
from __future__ import annotations

import numpy as np

EXACT_BELOW = 25  # discordant pairs below this: exact binomial test; else chi-square with continuity correction


def contingency(a_correct, b_correct) -> np.ndarray:
    """[[both right, a right b wrong], [a wrong b right, both wrong]] over paired queries."""
    a, b = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in length: {a.shape} vs {b.shape}")
    return np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])


def mcnemar_test(a_correct, b_correct) -> dict:
    from statsmodels.stats.contingency_tables import mcnemar

    table = contingency(a_correct, b_correct)
    discordant = int(table[0, 1] + table[1, 0])
    exact = discordant < EXACT_BELOW
    res = mcnemar(table, exact=exact, correction=True)
    return {"n": int(table.sum()), "both_correct": int(table[0, 0]), "only_a": int(table[0, 1]),
            "only_b": int(table[1, 0]), "both_wrong": int(table[1, 1]), "discordant": discordant,
            "method": "exact binomial" if exact else "chi-square (continuity-corrected)",
            "statistic": float(res.statistic), "pvalue": float(res.pvalue),
            "R1_a": float(np.mean(a_correct) * 100), "R1_b": float(np.mean(b_correct) * 100)}


def bootstrap_ci(correct, clusters=None, n_boot: int = 2000, seed: int = 0, level: float = 0.95
                 ) -> tuple[float, float]:
    """Percentile CI of Rank-1 (percent). With `clusters` (e.g. each query's person id) whole
    clusters are resampled: the captions of one person are correlated, so resampling captions
    alone gives intervals that are too narrow. Without it, queries are resampled."""
    x = np.asarray(correct, float)
    rng = np.random.default_rng(seed)
    if clusters is None:
        means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(1) * 100
    else:
        _, group = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
        hits, sizes = np.bincount(group, weights=x), np.bincount(group).astype(float)
        draw = rng.integers(0, len(sizes), size=(n_boot, len(sizes)))
        means = hits[draw].sum(1) / sizes[draw].sum(1) * 100
    lo, hi = np.percentile(means, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)
