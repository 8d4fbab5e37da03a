"""Symmetric cross-entropy over cosine logits (the paper's Eq. 7-11).

The paper sums over the batch; we average (the same optimum, a learning rate that does not
depend on the batch size). When person ids are given, every pair of the same identity in the
batch counts as a positive (a target spread evenly over them), so two captions of one person in
a batch are not pushed apart; with distinct ids this is exactly Eq. 7-9."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from glalign.constants import PARTS


def symmetric_ce(img: torch.Tensor, txt: torch.Tensor, logit_scale: torch.Tensor,
                 pids: torch.Tensor | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
    """img, txt: (N, d) L2-normalised; returns (L_img + L_txt) / 2. `weights` (N,) weighs each
    pair's two cross-entropy terms (mined pairs by their reliability); None: a plain mean."""
    logits = logit_scale * img @ txt.t()
    if pids is None:
        targets = torch.eye(len(img), device=img.device, dtype=logits.dtype)
    else:
        targets = (pids[:, None] == pids[None, :]).to(logits.dtype)
        targets = targets / targets.sum(1, keepdim=True)
    ce_img = -(targets * F.log_softmax(logits, dim=1)).sum(1)
    ce_txt = -(targets.t() * F.log_softmax(logits.t(), dim=1)).sum(1)
    if weights is None:
        return (ce_img.mean() + ce_txt.mean()) / 2
    w = weights.to(ce_img.dtype)
    return ((ce_img * w).sum() + (ce_txt * w).sum()) / (2 * w.sum().clamp(min=1e-12))


def local_loss(regions: torch.Tensor, region_present: torch.Tensor, phrases: torch.Tensor,
               phrase_present: torch.Tensor, logit_scale: torch.Tensor, pids: torch.Tensor | None = None,
               weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """Per part, symmetric CE over the pairs where both the region and the phrase exist; the mean
    over parts that have at least two such pairs. `weights` (N, 5): each pair's weight (RSM's
    reliability); None weighs all alike. Returns (loss, {part: n_pairs})."""
    losses, counts = [], {}
    for p, name in enumerate(PARTS):
        valid = region_present[:, p] & phrase_present[:, p]
        n = int(valid.sum())
        counts[name] = n
        if n >= 2:
            losses.append(symmetric_ce(regions[valid, p], phrases[valid, p], logit_scale,
                                       None if pids is None else pids[valid],
                                       None if weights is None else weights[valid, p]))
    if not losses:
        return regions.sum() * 0.0, counts
    return torch.stack(losses).mean(), counts


def total_loss(global_loss: torch.Tensor, local: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. 11: alpha * global + (1 - alpha) * local; alpha = 1 is global-only, 0 local-only."""
    return alpha * global_loss + (1 - alpha) * local
