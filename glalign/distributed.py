"""Data-parallel training over the processes torchrun starts (one per GPU, or several on the CPU).

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; `init` joins the process group (NCCL on CUDA,
gloo on the CPU). Each process holds an even share of every global batch. The contrastive
losses need the negatives of the whole global batch, so `gather_batch` all-gathers the
embeddings, ids and masks before the losses, through a gather that sends each rank the gradient
of its own rows summed over all ranks: every rank then computes the global loss L, the gradient
reaching rank r's parameters is N * dL/dE_r dE_r/dθ, and DistributedDataParallel's mean over the
N ranks gives Σ_r dL/dE_r dE_r/dθ = dL/dθ, exactly the gradient of one process on the whole
batch, with no rescaling of the loss (which would be wrong for the logit scale, whose gradient
every rank already computes whole). open_clip's gather (loss.py, `gather_features`) keeps only
the local gradient instead and so needs the loss multiplied by N."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from glalign.errors import GlalignError

_GATHER_GROUP = None  # set by init


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among world_size processes and its device."""
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise GlalignError(f"environment variable {name}={value!r} is not a whole number; it is set by torchrun "
                           "(start several processes with `torchrun --nproc_per_node N -m glalign -- train ...`)") from None


def env_world_size() -> int:
    """The number of processes torchrun started (1 when it did not start this one)."""
    return _env_int("WORLD_SIZE", 1)


def init(device_name: str = "auto") -> Context:
    """Join the process group torchrun describes (one process: nothing to join). On CUDA each
    process takes the GPU of its LOCAL_RANK."""
    from glalign.device import resolve_device

    world, rank, local = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    device = resolve_device(device_name)
    if world <= 1:
        return Context(0, 1, 0, device)
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise GlalignError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s) are visible; start at "
                               "most one process per GPU (--nproc_per_node)")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    global _GATHER_GROUP
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
    # the gathers get a group of their own: their backward all_reduce then never has to agree in
    # order with the gradient all-reduces DistributedDataParallel launches on the default group
    _GATHER_GROUP = dist.new_group()
    return Context(rank, world, local, device)


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main() -> bool:
    """True in the process that writes files and prints (rank 0, or the only process; RANK
    still tells after the process group is gone)."""
    return dist.get_rank() == 0 if active() else os.environ.get("RANK", "0") == "0"


def barrier() -> None:
    if active():
        dist.barrier()


def cleanup() -> None:
    global _GATHER_GROUP
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _GATHER_GROUP = None


def broadcast_object(obj):
    """Rank 0's object on every rank (a tokenizer trained once, so every rank has the same ids)."""
    if not active():
        return obj
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextlib.contextmanager
def main_first():
    """Rank 0 runs the block first (it may write shared caches); the others run it after."""
    if not is_main():
        barrier()
    try:
        yield
    finally:
        if is_main():
            barrier()


class _GatherRows(torch.autograd.Function):
    """all_gather along dim 0; backward: the gradient of the whole gathered tensor summed over
    ranks, this rank's rows of it (what reduce_scatter computes, written with all_reduce, which
    every backend has)."""

    @staticmethod
    def forward(ctx, tensor):
        world, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor.contiguous(), group=_GATHER_GROUP)
        ctx.rank, ctx.rows = rank, tensor.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=_GATHER_GROUP)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's rows, in rank order; differentiable when the tensor requires grad. Every rank
    must hand a tensor of the same shape, and must require grad alike (the backward is itself a
    collective that all ranks must join)."""
    if not active():
        return tensor
    if tensor.requires_grad:
        return _GatherRows.apply(tensor)
    dtype = tensor.dtype
    flat = tensor.to(torch.uint8) if dtype == torch.bool else tensor.contiguous()
    parts = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, flat, group=_GATHER_GROUP)
    return torch.cat(parts).to(dtype)


def gather_batch(out: dict) -> dict:
    """GLAlignTask.gather: every tensor of the dict (embeddings, ids, presence masks, weights)
    gathered over the ranks along the batch dimension, so the losses see the global batch."""
    return {k: all_gather(v) if torch.is_tensor(v) else v for k, v in out.items()}


def launch(nproc: int, glalign_args: list[str]) -> int:
    """`glalign train --nproc N`: run `python -m torch.distributed.run --standalone
    --nproc_per_node N -m glalign -- ARGS` (torchrun on a free local port) and return its exit
    status; every process runs the command without --nproc. The `--` keeps torchrun from reading
    glalign's options as abbreviations of its own (`--run` of `--run-path`)."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "glalign", "--", *glalign_args]
    with tempfile.TemporaryDirectory(prefix="glalign-ranks-") as status:
        rc = subprocess.run(cmd, env={**os.environ, STATUS_DIR: status}).returncode
        codes = [int(p.read_text() or 1) for p in Path(status).glob("rank-*")]
    # torchrun exits 1 whatever failed; a user mistake (the failed ranks exited 2, the others stopped
    # because of them: cli.PEER_FAILED, or were killed by torchrun before saying) stays exit 2
    return 2 if rc and 2 in codes and set(codes) <= {0, 2, 3} else rc


STATUS_DIR = "GLALIGN_RANK_STATUS_DIR"  # set by launch: each rank's cli.main writes its exit code there


def record_exit(code) -> None:
    """A process started by `launch` leaves its exit code for the launcher (see launch)."""
    folder = os.environ.get(STATUS_DIR)
    if folder and os.path.isdir(folder):
        with open(os.path.join(folder, f"rank-{os.environ.get('RANK', '0')}"), "w") as f:
            f.write(str(code if isinstance(code, int) else 1))
