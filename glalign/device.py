"""Which device to run on, and the autocast that goes with it."""
from __future__ import annotations

import torch

from glalign.errors import GlalignError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GlalignError("--device cuda asked for, but no CUDA GPU is visible; use --device cpu or auto")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise GlalignError(f"unknown device {name!r}; choose auto, cpu or cuda")
    return torch.device(name)


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA, plain fp32 on the CPU (deterministic). Losses are computed outside it."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)
