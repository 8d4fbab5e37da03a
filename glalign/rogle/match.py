"""Region-to-sentence matching (ROGLE's RSM step): units assigned to part regions one-to-one (or a few
per region) by cosine similarity, kept when their margin over the next-best region is reliable;
precision and recall against ground truth."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pair:
    sentence: int
    region: int
    score: float
    reliability: float


def match(region_emb, region_present, sentence_emb, min_margin: float = 0.0, per_region: int = 1) -> list[Pair]:
    """Assign sentences (S, d) to present regions (R, d) maximising total cosine similarity,
    each region used at most `per_region` times; drop pairs whose margin is under min_margin."""
    from scipy.optimize import linear_sum_assignment

    def unit_rows(x):  # numpy, not torch: per-image matrices are tiny, and torch's thread pool costs ms a call
        x = np.asarray(x, dtype=np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)

    regions, sentences = unit_rows(region_emb), unit_rows(sentence_emb)
    present = np.flatnonzero(np.asarray(region_present, dtype=bool))
    if len(present) == 0 or len(sentences) == 0:
        return []
    sim = sentences @ regions[present].T  # (S, R_present)
    rows, cols = linear_sum_assignment(np.repeat(sim, per_region, axis=1), maximize=True)
    pairs = []
    for s, c in zip(rows, cols // per_region):
        others = np.delete(sim[s], c)
        margin = float(sim[s, c] - (others.max() if len(others) else 0.0))
        if margin >= min_margin:
            pairs.append(Pair(int(s), int(present[c]), float(sim[s, c]), margin))
    return sorted(pairs, key=lambda p: p.sentence)


def quality(mined, ground_truth) -> tuple[float, float]:
    """Precision and recall (percent) of mined pairs against ground-truth pairs: any hashable
    keys, e.g. (file_path, caption, unit, part)."""
    mined, truth = set(mined), set(ground_truth)
    hit = len(mined & truth)
    return (100.0 * hit / len(mined) if mined else 0.0, 100.0 * hit / len(truth) if truth else 0.0)
