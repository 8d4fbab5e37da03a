"""The training loop: data, optimiser and schedule, one GLAlignTask step per batch, a checkpoint per
epoch (glalign.checkpoint), exact resume.

Settings are glalign.config.TrainConfig; the model is built by glalign.model.factory; the loss lives
in GLAlignTask.forward, the module a distributed wrapper sees."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from glalign.config import TrainConfig
from glalign.errors import GlalignError
from glalign.training.checkpoint import (latest_checkpoint, load_checkpoint, load_steps, restore_top_files,
                                         save_checkpoint)
from glalign.training.inputs import load_training_records, load_validation_records
from glalign.training.optim import make_optimizer
from glalign.training.outfolder import prepare_out, tokenizer_for
from glalign.training.selection import best_epoch


__all__ = ["TrainConfig", "train", "completed_epochs", "load_training_records"]


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, stop_after_epoch: int | None = None,
          overwrite: bool = False) -> Path:
    """Train (or, with resume, continue) a run; returns the run folder. stop_after_epoch ends the
    call early as an interruption would (the schedule still spans the configured epochs).

    Started by torchrun (WORLD_SIZE > 1), every process runs this with the same settings: each
    takes an even share of every global batch (--batch-size stays global), the losses see the
    whole batch (glalign.distributed), and rank 0 alone writes the run and prints."""
    from glalign import distributed

    ctx = distributed.init(cfg.device)
    try:
        return _train(cfg, ctx, resume, progress, stop_after_epoch, overwrite)
    finally:
        if ctx.world_size > 1:
            distributed.cleanup()


def _train(cfg: TrainConfig, ctx, resume: bool, progress: bool, stop_after_epoch: int | None,
           overwrite: bool) -> Path:
    from glalign import distributed
    from glalign.model.factory import resolve_text_kind

    if not cfg.out:
        raise GlalignError("no run folder given (--out)")
    run = Path(cfg.out)
    resolve_text_kind(cfg)
    cfg.world_size = ctx.world_size
    ckpt = prepare_out(cfg, resume, overwrite) if ctx.is_main else None
    distributed.barrier()  # the others look at the folder once rank 0 has checked (and cleared) it
    if not ctx.is_main and resume:
        ckpt = latest_checkpoint(run)
    o, main = cfg.optim, ctx.is_main
    torch.manual_seed(o.seed)
    b = _build(cfg, ctx, run, ckpt)
    opt, lr_lambda = make_optimizer(b.model, cfg, b.steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    history, steps, start = [], [], 0  # steps: one row per optimiser step (RUN/steps.csv)
    if ckpt is not None:
        sched, history, steps, start = _resume(ckpt, run, b.model, opt, lr_lambda, main)
        if start >= o.epochs:
            return run
    step_module = _wrapped(b.task, ctx, o.alpha)
    val_records = load_validation_records(cfg)
    train_config = {**cfg.to_dict(), "n_train_pairs": len(b.dataset), "n_train_ids": len(b.labels),
                    "n_val_ids": len({r.pid for r in val_records}), "steps_per_epoch": b.steps_per_epoch,
                    "effective": {"embed_dim": b.model.config.embed_dim, "max_length": b.model.config.max_length}}
    for epoch in range(start, o.epochs):
        history.append(_epoch(cfg, ctx, b, step_module, opt, sched, epoch, steps, progress, run))
        if val_records:  # every rank takes part (encoding is sharded), each gets the same numbers
            history[-1].update(_validation(cfg, b, val_records))
        if main:
            save_checkpoint(run, b.model, opt, sched.last_epoch, epoch, history, train_config, b.tokenizer,
                            best=best_epoch(history), steps=steps)
        distributed.barrier()  # no rank runs ahead of a checkpoint (nor leaves before the last one)
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
            break
        if progress and main:
            h = history[-1]
            print(f"epoch {epoch + 1}/{o.epochs}: loss {h['loss']:.4f} (global {h['global_loss']:.4f}, "
                  f"local {h['local_loss']:.4f}), {h['pairs_per_s']:.0f} pairs/s"
                  + (f", validation R1 {h['val_R1']:.1f}" if "val_R1" in h else ""))
    return run


class _Built:
    """What one training run works on: its data, tokenizer, model, task and loader."""


def _build(cfg: TrainConfig, ctx, run: Path, ckpt) -> _Built:
    from torch.utils.data import DataLoader

    from glalign import distributed
    from glalign.data.records import contiguous_labels
    from glalign.data.torchdata import GlobalBatchSampler, PairDataset, make_collate
    from glalign.model.factory import build_model, image_store_for
    from glalign.model.processing import text_view_for
    from glalign.model.task import GLAlignTask, enable_grad_checkpointing

    o, b = cfg.optim, _Built()
    with distributed.main_first():  # rank 0 fills the phrase cache, the others read it
        records, phrases, phrase_weights = load_training_records(cfg)
    b.labels = contiguous_labels(records)
    captions = sorted({c for r in records for c in r.captions})
    view = text_view_for(cfg.model.text_kind, cfg.data.lang,
                         captions + sorted(set(v for d in phrases.values() for v in d.values())))
    b.tokenizer = distributed.broadcast_object(tokenizer_for(cfg, run, ckpt, captions, view) if ctx.is_main else None)
    b.model = build_model(cfg, b.tokenizer).to(ctx.device)
    if cfg.grad_checkpointing:
        enable_grad_checkpointing(b.model)
    b.task = GLAlignTask(b.model, o.alpha, gather=distributed.gather_batch if ctx.world_size > 1 else None)
    b.dataset = PairDataset(records, image_store_for(b.model), phrases, b.labels, cfg.model.region_mode,
                            flip=cfg.data.flip, text_view=view, phrase_weights=phrase_weights)
    if cfg.image_cache:  # decoded once per dataset, shared by every process and worker
        _attach_image_caches(cfg, b.dataset, records)
    b.sampler = GlobalBatchSampler(len(b.dataset), o.batch_size, ctx.rank, ctx.world_size, seed=o.seed * 1000)
    collate = make_collate(b.tokenizer, b.model.config.max_length, view)  # the effective one (build_model)
    b.steps_per_epoch = max(1, len(b.dataset) // o.batch_size)
    b.loader = DataLoader(b.dataset, batch_size=b.sampler.local, sampler=b.sampler, collate_fn=collate,
                          num_workers=cfg.workers, pin_memory=ctx.device.type == "cuda",
                          persistent_workers=cfg.workers > 0)
    return b


def _attach_image_caches(cfg: TrainConfig, dataset, records) -> None:
    from glalign import distributed
    from glalign.data.image_cache import attach

    with distributed.main_first():
        for root in cfg.data.data:
            base = os.path.abspath(root) + os.sep
            mine = [r for r in records if os.path.abspath(r.image).startswith(base)]
            if mine:
                attach(dataset.store, mine, root)


def _resume(ckpt: Path, run: Path, model, opt, lr_lambda, main: bool):
    """(schedule, history, steps, first epoch) restored from the checkpoint; top-level files that
    differ from it are restored too (inference reads them)."""
    state, history = load_checkpoint(ckpt, model, opt)
    steps = load_steps(ckpt)
    if main:
        for name in restore_top_files(run, ckpt):
            print(f"glalign: {run / name} differed from its checkpoint copy (damaged or edited): restored it from "
                  "that checkpoint", file=sys.stderr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda, last_epoch=state["scheduler_step"] - 1)
    return sched, history, steps, state["epoch"] + 1


def _wrapped(task, ctx, alpha: float):
    """The module a step calls: the task, under DistributedDataParallel with several processes."""
    if ctx.world_size <= 1:
        return task
    # global-only (alpha = 1) leaves the local heads unused; otherwise every rank uses every
    # parameter at every step (GLAlignTask), so DDP need not search the graph for unused ones
    return torch.nn.parallel.DistributedDataParallel(
        task, device_ids=[ctx.device] if ctx.device.type == "cuda" else None, find_unused_parameters=alpha >= 1.0)


def _validation(cfg: TrainConfig, b: _Built, val_records) -> dict:
    from glalign.data.formats import dataset_cache_dir
    from glalign.retrieval.evaluate import validation_scores

    t_val = time.perf_counter()
    out = validation_scores(b.model, b.tokenizer, val_records, cfg.data.lang, cfg.optim.alpha,
                            dataset_cache_dir(cfg.data.data[0]))
    return {**out, "val_seconds": time.perf_counter() - t_val}


def _epoch(cfg: TrainConfig, ctx, b: _Built, step_module, opt, sched, epoch: int, steps, progress: bool,
           run: Path) -> dict:
    """One epoch of optimiser steps; returns its history row (and appends a row per step to `steps`)."""
    from tqdm.auto import tqdm

    o, main, model = cfg.optim, ctx.is_main, b.model
    # dropout: the same whether resumed or not (flips come with the samples: GlobalBatchSampler)
    torch.manual_seed(o.seed * 1000 + epoch + 1_000_003 * ctx.rank)
    b.sampler.set_epoch(epoch)
    b.task.train()
    sums = {"loss": 0.0, "global": 0.0, "local": 0.0}
    n_batches, n_pairs, t0 = 0, 0, time.perf_counter()
    bar = tqdm(b.loader, desc=f"epoch {epoch + 1}/{o.epochs}", unit="batch", disable=not (progress and main),
               leave=False)
    for step, batch in enumerate(bar):
        batch = {k: v.to(ctx.device, non_blocking=True) for k, v in batch.items()}
        losses = step_module(batch)
        if not torch.isfinite(losses["loss"]):  # the global loss: every rank stops here alike
            kept = (f"the last good checkpoint (epoch {epoch}) is kept in {run}" if epoch
                    else "no epoch had finished, so nothing was written")
            raise GlalignError(f"training diverged at epoch {epoch + 1}, step {step + 1}: the loss is "
                               f"{float(losses['loss'].detach())}; {kept}. Lower the learning rate (--lr {o.lr:g} now)")
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        lr = opt.param_groups[-1]["lr"]  # the towers' rate this step used
        opt.step()
        sched.step()
        n_batches += 1
        n_pairs += len(batch["labels"]) * ctx.world_size
        values = {k: float(losses[k].detach()) for k in sums}
        for k in sums:
            sums[k] += values[k]
        if steps is not None and main:
            steps.append({"step": sched.last_epoch, "epoch": epoch + 1, "loss": values["loss"],
                          "global_loss": values["global"], "local_loss": values["local"], "lr": lr,
                          "logit_scale": float(model.scale().detach())})
        bar.set_postfix(loss=f"{sums['loss'] / n_batches:.3f}", pairs_s=f"{n_pairs / (time.perf_counter() - t0):.0f}")
    seconds = time.perf_counter() - t0
    return {"epoch": epoch + 1, "loss": sums["loss"] / max(n_batches, 1),
            "global_loss": sums["global"] / max(n_batches, 1),
            "local_loss": sums["local"] / max(n_batches, 1), "lr": opt.param_groups[-1]["lr"],  # the towers'
            "logit_scale": float(model.scale().detach()), "pairs_per_s": n_pairs / max(seconds, 1e-9),
            "seconds": seconds, "steps": sched.last_epoch, "pair_passes": sched.last_epoch * o.batch_size}


# the names glalign.train held before it became this package's loop (one release)
from glalign.training.checkpoint import completed_epochs  # noqa: E402,F401
from glalign.training.inputs import RSM_CAPTIONS, load_training_records, mined_phrases  # noqa: E402,F401
from glalign.training.optim import TOWERS, make_optimizer  # noqa: E402,F401
