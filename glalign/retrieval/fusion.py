"""Score fusion, in one place: how a query's global and local similarities become one score.

raw (the paper's): fused = alpha * cos_global + (1 - alpha) * local, where local is the mean over
the query's parts of cos(phrase_p, region_p) and a part the image lacks contributes 0.
zscore: each of the two scores standardised over the gallery per query first, so alpha weighs two
scores of equal spread (the global cosine spreads wider than the local one).

`evaluate` ranks with `combine`; `search` scores raw fusion as one dot product per gallery row
(`query_rows`, the same sum rearranged) and zscore through `combine` again, so both read the same
numbers (tests/test_contract_fusion.py holds them equal)."""
from __future__ import annotations

import numpy as np
import torch

from glalign.errors import GlalignError

FUSIONS = ("raw", "zscore")
N_PARTS = 5


def check_fusion(fusion: str) -> None:
    if fusion not in FUSIONS:
        raise GlalignError(f"unknown fusion {fusion!r}; choose raw (the paper's) or zscore")


def mix(alpha: float, global_score, local_score):
    """The test-time score: alpha * global + (1 - alpha) * local (arrays, tensors or floats)."""
    return alpha * global_score + (1 - alpha) * local_score


def standardise_rows(sim: np.ndarray) -> np.ndarray:
    """Each query's scores over the gallery to mean 0, std 1 (a constant row stays 0)."""
    centred = sim - sim.mean(1, keepdims=True)
    std = sim.std(1, keepdims=True)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 1e-9)


def combine(alpha: float, global_sim: np.ndarray, local_sim: np.ndarray, fusion: str = "raw") -> np.ndarray:
    """Rows of queries' fused scores: the paper's raw mix, or (zscore) the mix of each score
    standardised over the gallery per query."""
    check_fusion(fusion)
    if fusion == "zscore":
        global_sim, local_sim = standardise_rows(global_sim), standardise_rows(local_sim)
    return mix(alpha, global_sim, local_sim)


def local_similarity(q, g) -> torch.Tensor:
    """(Q, G): mean over each query's parts of cos(phrase, region), 0 where the image lacks the part.
    q: phrases (Q, 5, d), present (Q, 5); g: regions (G, 5, d), present (G, 5)."""
    total = torch.zeros(len(q.global_), len(g.global_))
    for p in range(N_PARTS):
        sim = q.phrases[:, p] @ g.regions[:, p].t()
        total += sim * g.present[:, p].float()[None, :] * q.present[:, p].float()[:, None]
    return total / q.present.float().sum(1, keepdim=True).clamp(min=1)


def fuse(q, g, alpha: float) -> torch.Tensor:
    """(Q, G) raw fused scores of query and gallery embeddings."""
    return mix(alpha, q.global_ @ g.global_.t(), local_similarity(q, g))


def query_rows(q, alpha: float) -> np.ndarray:
    """(Q, 6d) float32 rows whose dot product with a gallery row [g | regions, zeroed where absent]
    is `fuse`'s raw score: alpha on the global part, (1 - alpha) / n_q on each present phrase.
    alpha = 1 gives the global score alone, alpha = 0 the local one (what zscore fusion combines)."""
    n = q.present.float().sum(1, keepdim=True).clamp(min=1)
    local = q.phrases * (q.present[..., None] * ((1 - alpha) / n)[..., None])
    return torch.cat([alpha * q.global_, local.flatten(1)], 1).float().numpy()
