"""The training loop: data, optimiser and schedule, one GLAlignTask step per batch, a checkpoint
per epoch (glalign.checkpoint), exact resume.

Settings are glalign.config.TrainConfig; the model is built by glalign.model.factory; the loss
lives in GLAlignTask.forward, the module a distributed wrapper sees."""
from __future__ import annotations

import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch

from glalign.checkpoint import (TOP_FILES, completed_epochs, is_run_folder, latest_checkpoint, load_checkpoint,
                                load_steps, restore_top_files, save_checkpoint)
from glalign.config import TrainConfig
from glalign.errors import GlalignError
from glalign.selection import best_epoch

__all__ = ["TrainConfig", "train", "completed_epochs", "load_training_records"]


RSM_CAPTIONS = "long"  # ROGLE trains on the region-sentence pairs mined from the long captions


def mined_phrases(root, records, lang: str) -> tuple[dict, dict]:
    """ROGLE's supervision: the region-sentence pairs RSM mined from the long captions
    (rsm_pairs.<lang>.long.json), each weighed by its reliability (the mining margin). No keyword
    list is read: the part of a sentence is the region RSM assigned it to.

    A training pair is an image with one of its short captions (the global branch's text, as in
    the lexicon arm); its local phrases are the sentences mined from the image's long caption of
    the same index (SynthPEDES writes two of each; a short caption with no long caption of its
    index gets no local pair, a long caption beyond the short ones is not read), keyed by image
    and caption index (glalign.data.torchdata.pair_key), never by caption text:
    two images with the same caption keep their own pairs. Sentences of one caption assigned to
    the same region (per_region > 1) are joined with a space and weigh their mean reliability.
    Returns {key: {part: text}}, {key: {part: weight}}."""
    import json

    from glalign.data.torchdata import pair_key

    path = Path(root) / f"rsm_pairs.{lang}.{RSM_CAPTIONS}.json"
    if not path.exists():
        raise GlalignError(f"{path} does not exist: --local-supervision rsm trains on mined pairs; mine them first "
                           f"with `glalign rsm mine --data {root} --model CLIP_DIR --lang {lang} --captions long "
                           "--split train`")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        pairs = saved["pairs"]
    except (ValueError, KeyError, TypeError) as exc:
        raise GlalignError(f"{path} is damaged ({exc}); mine the pairs again") from None
    if saved.get("captions", RSM_CAPTIONS) != RSM_CAPTIONS:
        raise GlalignError(f"{path} holds pairs of the {saved['captions']} captions; mine the long captions again")
    by_long: dict = {}  # (file_path, long caption index) -> {part: [pairs]}
    for p in pairs:
        by_long.setdefault((p["file_path"], int(p["caption"])), {}).setdefault(p["part"], []).append(p)
    phrases, weights = {}, {}
    for r in records:
        for ci in range(len(r.captions)):
            found = by_long.get((r.file_path, ci))
            if found:
                key = pair_key(r, ci)
                phrases[key] = {part: " ".join(x["text"] for x in xs) for part, xs in found.items()}
                weights[key] = {part: sum(x["reliability"] for x in xs) / len(xs) for part, xs in found.items()}
    return phrases, weights


def load_training_records(cfg: TrainConfig):
    """Train-split records of every --data root (ids of different roots never collide), their part
    phrases, and (RSM supervision) the phrases' weights, else None."""
    from glalign.data.records import load_dataset
    from glalign.text.phrases import cached_extract, dataset_cache_dir, part_phrases

    records, phrases, weights = [], {}, ({} if cfg.data.local_supervision == "rsm" else None)
    data = cfg.data
    for i, root in enumerate(data.data):
        ds = load_dataset(root, fmt=data.format, lang=data.lang, check_images=False, masks=data.masks)
        train = ds.split("train")
        if not train:
            raise GlalignError(f"{root}: no 'train' split entries to train on")
        if len(data.data) > 1:
            for r in train:
                r.pid = (i, r.pid)
        if weights is not None:
            mined, w = mined_phrases(root, train, data.lang)
            phrases.update(mined)
            weights.update(w)
        else:
            captions = sorted({c for r in train for c in r.captions})
            extracted = cached_extract(captions, data.lang, data.lexicon_mode, dataset_cache_dir(root))
            phrases.update({c: part_phrases(p) for c, p in zip(captions, extracted)})
        records += train
    return records, phrases, weights


def load_validation_records(cfg: TrainConfig) -> list:
    """The 'val' split of every --data root (ids of different roots kept apart), or []."""
    from glalign.data.records import load_dataset

    if not cfg.data.validate:
        return []
    records = []
    for i, root in enumerate(cfg.data.data):
        val = load_dataset(root, fmt=cfg.data.format, lang=cfg.data.lang, check_images=False,
                           masks=cfg.data.masks).split("val")
        if len(cfg.data.data) > 1:  # a string: evaluation keeps ids in a flat object array
            for r in val:
                r.pid = f"{i}:{r.pid}"
        records += val
    return records


def _prepare_out(cfg: TrainConfig, resume: bool, overwrite: bool) -> Path | None:
    """The run folder's state: None for a new run, else its latest checkpoint. Refuses to touch a
    folder that holds something else, a finished run, or a run trained with other settings."""
    run = Path(cfg.out)
    if run.exists() and not run.is_dir():
        raise GlalignError(f"--out {run} is a file; pass a folder for the run")
    if overwrite and run.exists():
        for name in TOP_FILES:
            (run / name).unlink(missing_ok=True)
        for name in ("tokenizer", "checkpoints"):
            shutil.rmtree(run / name, ignore_errors=True)
    ckpt = latest_checkpoint(run) if run.exists() else None
    if resume:
        if ckpt is None:
            what = "has no checkpoint to resume from" if run.exists() and is_run_folder(run) else "holds no run"
            raise GlalignError(f"--resume: {run} {what}; train without --resume (add --overwrite to replace it)")
        _check_same_settings(cfg, ckpt)
        return ckpt
    if run.exists() and any(run.iterdir()):
        if ckpt is not None:
            done = completed_epochs(run)
            state = "a finished run" if done >= cfg.optim.epochs else f"a run stopped after {done} epoch(s)"
            raise GlalignError(f"--out {run} already holds {state}; use --resume to continue it, --overwrite to "
                               "replace it, or another --out")
        raise GlalignError(f"--out {run} is not empty and holds no glalign run; choose an empty or new folder "
                           "(or --overwrite to write the run's files into it)")
    return None


def _check_same_settings(cfg: TrainConfig, ckpt: Path) -> None:
    import json

    try:
        saved = TrainConfig.from_dict(json.loads((ckpt / "train_config.json").read_text()),
                                      where=str(ckpt / "train_config.json"))
    except (OSError, ValueError) as exc:
        raise GlalignError(f"{ckpt / 'train_config.json'} is damaged ({exc}); train again with --overwrite") from None
    diff = cfg.differences(saved)
    if diff:
        raise GlalignError(f"--resume would continue {cfg.out} with other settings ({'; '.join(diff)}); a run is "
                           "trained with one set of settings: resume with the original ones, or train a new run")


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


def _tokenizer_for(cfg: TrainConfig, run: Path, ckpt: Path | None, captions: list[str], view):
    from glalign.text.tokenizers import load_tokenizer, train_tokenizer

    if ckpt is not None:
        for folder in (run / "tokenizer", ckpt / "tokenizer"):
            if folder.exists():
                return load_tokenizer(folder, cfg.model.text_kind)
        raise GlalignError(f"{run}/tokenizer is missing; the run cannot be resumed: train again with --overwrite")
    if cfg.model.text_encoder == "small":
        return train_tokenizer([view(c) if view else c for c in captions], cfg.model.text_kind, cfg.model.vocab_size)
    return load_tokenizer(cfg.model.text_encoder, cfg.model.text_kind)


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
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from glalign import distributed
    from glalign.data.records import contiguous_labels
    from glalign.data.torchdata import GlobalBatchSampler, PairDataset, make_collate
    from glalign.model.factory import build_model, image_store_for, resolve_text_kind, text_view_for
    from glalign.model.task import GLAlignTask, enable_grad_checkpointing

    if not cfg.out:
        raise GlalignError("no run folder given (--out)")
    run = Path(cfg.out)
    resolve_text_kind(cfg)
    cfg.world_size = ctx.world_size
    ckpt = _prepare_out(cfg, resume, overwrite) if ctx.is_main else None
    distributed.barrier()  # the others look at the folder once rank 0 has checked (and cleared) it
    if not ctx.is_main and resume:
        ckpt = latest_checkpoint(run)
    device, main = ctx.device, ctx.is_main
    o = cfg.optim
    torch.manual_seed(o.seed)

    with distributed.main_first():  # rank 0 fills the phrase cache, the others read it
        records, phrases, phrase_weights = load_training_records(cfg)
    labels = contiguous_labels(records)
    captions = sorted({c for r in records for c in r.captions})
    view = text_view_for(cfg.model.text_kind, cfg.data.lang,
                         captions + sorted(set(v for d in phrases.values() for v in d.values())))
    tokenizer = distributed.broadcast_object(_tokenizer_for(cfg, run, ckpt, captions, view) if main else None)

    model = build_model(cfg, tokenizer).to(device)
    if cfg.grad_checkpointing:
        enable_grad_checkpointing(model)
    task = GLAlignTask(model, o.alpha, gather=distributed.gather_batch if ctx.world_size > 1 else None)
    dataset = PairDataset(records, image_store_for(model), phrases, labels, cfg.model.region_mode,
                          flip=cfg.data.flip, text_view=view, phrase_weights=phrase_weights)
    if cfg.image_cache:  # decoded once per dataset, shared by every process and worker
        from glalign.data.image_cache import attach

        with distributed.main_first():
            for root in cfg.data.data:
                base = os.path.abspath(root) + os.sep
                mine = [r for r in records if os.path.abspath(r.image).startswith(base)]
                if mine:
                    attach(dataset.store, mine, root)
    sampler = GlobalBatchSampler(len(dataset), o.batch_size, ctx.rank, ctx.world_size, seed=o.seed * 1000)
    collate = make_collate(tokenizer, model.config.max_length, view)  # the effective one (build_model)
    steps_per_epoch = max(1, len(dataset) // o.batch_size)
    opt, lr_lambda = make_optimizer(model, cfg, steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    history: list[dict] = []
    steps: list[dict] | None = []  # one row per optimiser step (RUN/steps.csv)
    start = 0
    if ckpt is not None:
        state, history = load_checkpoint(ckpt, model, opt)
        steps = load_steps(ckpt)
        if main:
            for name in restore_top_files(run, ckpt):
                print(f"glalign: {run / name} differed from its checkpoint copy (damaged or edited): restored it from "
                      "that checkpoint", file=sys.stderr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda, last_epoch=state["scheduler_step"] - 1)
        start = state["epoch"] + 1
        if start >= o.epochs:
            return run
    step_module = task
    if ctx.world_size > 1:
        # global-only (alpha = 1) leaves the local heads unused; otherwise every rank uses every
        # parameter at every step (GLAlignTask), so DDP need not search the graph for unused ones
        step_module = torch.nn.parallel.DistributedDataParallel(
            task, device_ids=[device] if device.type == "cuda" else None, find_unused_parameters=o.alpha >= 1.0)
    loader = DataLoader(dataset, batch_size=sampler.local, sampler=sampler, collate_fn=collate,
                        num_workers=cfg.workers, pin_memory=device.type == "cuda",
                        persistent_workers=cfg.workers > 0)

    val_records = load_validation_records(cfg)
    if val_records:
        from glalign.evaluate import validation_scores
        from glalign.text.phrases import dataset_cache_dir

        val_cache = dataset_cache_dir(cfg.data.data[0])
    train_config = {**cfg.to_dict(), "n_train_pairs": len(dataset), "n_train_ids": len(labels),
                    "n_val_ids": len({r.pid for r in val_records}), "steps_per_epoch": steps_per_epoch,
                    "effective": {"embed_dim": model.config.embed_dim, "max_length": model.config.max_length}}
    for epoch in range(start, o.epochs):
        # dropout: the same whether resumed or not (flips come with the samples: GlobalBatchSampler)
        torch.manual_seed(o.seed * 1000 + epoch + 1_000_003 * ctx.rank)
        sampler.set_epoch(epoch)
        task.train()
        sums = {"loss": 0.0, "global": 0.0, "local": 0.0}
        n_batches, n_pairs, t0 = 0, 0, time.perf_counter()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{o.epochs}", unit="batch", disable=not (progress and main),
                   leave=False)
        for step, batch in enumerate(bar):
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
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
            bar.set_postfix(loss=f"{sums['loss'] / n_batches:.3f}",
                            pairs_s=f"{n_pairs / (time.perf_counter() - t0):.0f}")
        seconds = time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "loss": sums["loss"] / max(n_batches, 1),
                        "global_loss": sums["global"] / max(n_batches, 1),
                        "local_loss": sums["local"] / max(n_batches, 1), "lr": opt.param_groups[-1]["lr"],  # the towers'
                        "logit_scale": float(model.scale().detach()), "pairs_per_s": n_pairs / max(seconds, 1e-9),
                        "seconds": seconds, "steps": sched.last_epoch, "pair_passes": sched.last_epoch * o.batch_size})
        if val_records:  # every rank takes part (encoding is sharded), each gets the same numbers
            t_val = time.perf_counter()
            history[-1].update(validation_scores(model, tokenizer, val_records, cfg.data.lang, o.alpha, val_cache))
            history[-1]["val_seconds"] = time.perf_counter() - t_val
        if main:
            save_checkpoint(run, model, opt, sched.last_epoch, epoch, history, train_config, tokenizer,
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

