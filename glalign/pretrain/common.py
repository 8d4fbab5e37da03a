"""What SynthCLIP and SynthPhoBERT pretraining share: the corpus, the configuration cache, the
staging folder, the held-out split and the learning-rate schedule.

A model folder is complete when it holds config.json, model.safetensors and a pretrain_config.json
whose fingerprint covers every setting and the corpus's caption files; a call whose fingerprint
matches returns at once. A new model is written into a hidden staging folder beside `out` and
renamed into place, so a crash never leaves a half-written model behind."""
from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import numpy as np

from glalign.errors import GlalignError
from glalign.fingerprint import content_key, digest
from glalign.io import atomic_dir

PRETRAIN_VERSION = 1  # bump when a change to the loops changes the weights a configuration gives
COMPLETE_FILES = ("config.json", "model.safetensors", "pretrain_config.json", "history.csv")


def default_corpus(out: Path, n_ids: int) -> Path:
    """The corpus beside the model folder, shared by SynthCLIP and SynthPhoBERT of the same size
    (and by every pretraining seed: the seed varies the model, not the data)."""
    return Path(out).parent / f"corpus-{n_ids}"


def ensure_corpus(corpus, n_ids: int, progress: bool) -> Path:
    """An existing dataset folder is used as it is; a missing or empty one is generated
    (glalign.pretrain.corpus: identities of their own, disjoint from domains A and B)."""
    corpus = Path(corpus)
    if corpus.exists() and not corpus.is_dir():
        raise GlalignError(f"--corpus {corpus} is a file; pass the corpus folder")
    if not corpus.exists() or not any(corpus.iterdir()):
        from glalign.pretrain.corpus import make_corpus

        make_corpus(corpus, n_ids=n_ids, progress=progress)
    return corpus


def corpus_fingerprint(root: Path) -> str:
    """The caption and metadata files at the corpus's top level (images follow from them)."""
    files = sorted(p for p in Path(root).iterdir() if p.is_file() and p.suffix in (".json", ".jsonl", ".csv"))
    if not files:
        raise GlalignError(f"corpus {root} holds no caption files; generate it with `glalign pretrain` "
                           "without --corpus, or pass a SynthPEDES-format folder")
    return digest(*(p.name.encode() + b"\0" + p.read_bytes() for p in files))


def fingerprint(kind: str, settings: dict, corpus_fp: str) -> str:
    return content_key({"kind": kind, "version": PRETRAIN_VERSION, "settings": settings, "corpus": corpus_fp}, n=16)


def read_pretrain_config(out: Path) -> dict | None:
    try:
        return json.loads((Path(out) / "pretrain_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(out: Path, fp: str) -> bool:
    saved = read_pretrain_config(out)
    return (saved is not None and saved.get("fingerprint") == fp
            and all((Path(out) / name).exists() for name in COMPLETE_FILES))


@contextlib.contextmanager
def staged(out: Path, overwrite: bool):
    """Yield an empty staging folder; on success it replaces `out`. An `out` that holds another
    pretrained model is replaced only with overwrite; one that holds anything else never is."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise GlalignError(f"--out {out} is a file; pass a folder for the model")
        if any(out.iterdir()):
            saved = read_pretrain_config(out)
            if saved is None:
                raise GlalignError(f"--out {out} is not empty and holds no pretrained model; choose an empty or "
                                   "new folder")
            if not overwrite:
                raise GlalignError(f"--out {out} holds a {saved.get('kind', 'pretrained')} model made with other "
                                   "settings; pass --overwrite to replace it, or choose another --out")
    with atomic_dir(out, suffix=".staging") as stage:
        yield stage


def split_records(records, seed: int, fraction: float = 0.08):
    """(train, held-out) records: the corpus's own test/val identities when it has them, else a
    seeded `fraction` of its identities. Held-out identities are never trained on."""
    held = [r for r in records if r.split != "train"]
    if held:
        return [r for r in records if r.split == "train"], held
    pids = sorted({r.pid for r in records}, key=str)
    n_held = max(2, round(len(pids) * fraction)) if len(pids) >= 4 else 0
    rng = np.random.default_rng(seed)
    held_ids = {pids[i] for i in rng.permutation(len(pids))[:n_held]}
    return [r for r in records if r.pid not in held_ids], [r for r in records if r.pid in held_ids]


def warmup_cosine(total_steps: int, warmup_fraction: float):
    """LambdaLR factor: linear warmup, then cosine decay to zero (as glalign.train)."""
    warmup = int(warmup_fraction * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))
    return factor


def adamw(model, lr: float, weight_decay: float):
    """AdamW without decay on biases, norms and the logit scale."""
    import torch

    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def step(model, opt, sched, loss, max_norm: float = 5.0) -> None:
    """One optimisation step of every pretraining loop: backward, gradients clipped at max_norm,
    the optimiser and the schedule advanced."""
    import torch

    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    opt.step()
    sched.step()


def checked_step(model, opt, sched, loss, what: str, epoch: int, step_index: int, lr: float) -> float:
    """`step` after refusing a non-finite loss (a GlalignError naming the model, epoch and step,
    with the fix); returns the loss as a float, for the epoch's sum."""
    import torch

    if not torch.isfinite(loss):
        raise GlalignError(f"{what} diverged at epoch {epoch + 1}, step {step_index + 1} (loss {float(loss)}); "
                           f"lower the learning rate ({lr:g} now)")
    step(model, opt, sched, loss)
    return float(loss.detach())


def pretrain_text_tower(out, corpus, n_ids: int, cfg, kind: str, lang: str, train, save, device: str,
                        overwrite: bool, progress: bool) -> Path:
    """The frame SynthCLIP's and SynthPhoBERT's pretraining share: the corpus (made if missing), the
    fingerprint of settings and corpus (nothing is done when `out` already holds that model), the
    held-out identities, and a staged publish with pretrain_config.json beside the weights.
    `train(cfg, train_recs, held_recs, device, progress)` -> (model, tokenizer, history, summary);
    `save(stage, model, tokenizer, cfg, history)` writes the model folder."""
    import dataclasses

    from glalign.data.records import load_dataset
    from glalign.io import write_json

    out = Path(out)
    corpus = ensure_corpus(corpus or default_corpus(out, n_ids), n_ids, progress)
    settings = dataclasses.asdict(cfg)
    corpus_fp = corpus_fingerprint(corpus)
    fp = fingerprint(kind, settings, corpus_fp)
    if is_complete(out, fp):
        return out
    ds = load_dataset(corpus, lang=lang, check_images=False)
    train_recs, held_recs = split_records(ds.records, cfg.seed)
    if not train_recs or not held_recs:
        raise GlalignError(f"corpus {corpus}: needs training and held-out identities (it has {len(ds.records)} "
                           "images); generate a larger one")
    with staged(out, overwrite) as stage:
        model, tokenizer, history, summary = train(cfg, train_recs, held_recs, device, progress)
        save(stage, model, tokenizer, cfg, history)
        write_json(stage / "pretrain_config.json", {
            "kind": kind, "fingerprint": fp, "version": PRETRAIN_VERSION, "settings": settings,
            "corpus": str(corpus), "corpus_fingerprint": corpus_fp, **summary})
    return out
