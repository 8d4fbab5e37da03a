"""The optimiser and its schedule: AdamW with the towers at the learning rate and the projection heads
and logit scale at lr x head_lr_scale, a linear warm-up then cosine decay per step."""
from __future__ import annotations

import math

import torch

from glalign.config import TrainConfig


TOWERS = ("vision", "text")  # GLAlignModel's pretrained encoders; the rest are heads and the logit scale


def make_optimizer(model, cfg: TrainConfig, steps_per_epoch: int):
    """AdamW (no decay on biases, norms and the logit scale), linear warmup then cosine decay. The
    heads learn at head_lr_scale x lr: fine-tuning moves pretrained towers gently, while a head
    that starts at random (PhoBERT has no projection into CLIP's space) must move far."""
    o = cfg.optim
    total_steps = steps_per_epoch * o.epochs
    warmup = int(o.warmup_fraction * total_steps)

    def lr_lambda(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

    groups = {}  # (in a tower, decayed) -> parameters
    for name, p in model.named_parameters():
        groups.setdefault((name.split(".")[0] in TOWERS, p.ndim >= 2), []).append(p)
    opt = torch.optim.AdamW([{"params": params, "weight_decay": o.weight_decay if decayed else 0.0,
                              "lr": o.lr if tower else o.lr * o.head_lr_scale}
                             for (tower, decayed), params in sorted(groups.items())], lr=o.lr)
    return opt, lr_lambda
