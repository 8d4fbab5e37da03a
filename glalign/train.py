"""Training: config, the loop, atomic per-epoch checkpoints, exact resume, and run loading.

A run folder holds config.json (everything needed to rebuild the model and its tokenizer),
model.safetensors, tokenizer/ and history.csv (one row per epoch); checkpoint/ holds the
optimizer state for --resume (safetensors + JSON, never a pickle). Each epoch is written to a
temporary folder and renamed into place, so a crash leaves the last complete epoch."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from glalign import PARTS
from glalign.errors import GlalignError

PROFILES = {
    # Smallest thing that learns: notebook defaults and tests.
    "tiny": dict(image_size=48, patch_size=8, vision_hidden=64, vision_layers=2, text_hidden=64, text_layers=2,
                 heads=2, embed_dim=64, max_length=48, vocab_size=600, epochs=2, batch_size=32, lr=1e-3,
                 weight_decay=0.01, warmup_fraction=0.1, dropout=0.0),
    # Small models from scratch on the CPU (the embedded default): AdamW at 5e-4 with warmup and
    # cosine decay trains these from random weights; the paper's 5e-6 is for fine-tuning CLIP.
    # Sized so the whole scenario grid trains in minutes on 2 CPU cores (bench: `glalign bench train`).
    "synthpedes": dict(image_size=64, patch_size=8, vision_hidden=96, vision_layers=3, text_hidden=96,
                       text_layers=2, heads=4, embed_dim=96, max_length=64, vocab_size=1500, epochs=6,
                       batch_size=64, lr=1e-3, weight_decay=0.05, warmup_fraction=0.1, dropout=0.1),
    # The paper's setting (Section 4.1.2): ViT-B/32 at 224, 20 epochs, lr 5e-6, batch 32, wd 0.01, dropout 0.1.
    "paper": dict(image_encoder="openai/clip-vit-base-patch32", text_encoder="openai/clip-vit-base-patch32",
                  image_size=224, patch_size=32, embed_dim=512, max_length=77, epochs=20, batch_size=32, lr=5e-6,
                  weight_decay=0.01, warmup_fraction=0.0, dropout=0.1),
}


@dataclass
class TrainConfig:
    data: list[str]
    lang: str
    out: str
    format: str = "auto"
    profile: str = "synthpedes"
    image_encoder: str = "small"
    text_encoder: str = "small"  # "small" or a model folder / cached hub name
    text_kind: str = "clip"      # clip | gpt2 | phobert
    image_size: int = 64
    patch_size: int = 8
    vision_hidden: int = 96
    vision_layers: int = 3
    text_hidden: int = 96
    text_layers: int = 2
    heads: int = 4
    embed_dim: int = 96
    max_length: int = 64
    vocab_size: int = 1500
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1
    dropout: float = 0.1
    alpha: float = 0.5
    region_mode: str = "pool"
    lexicon_mode: str = "extended"
    flip: bool = True
    seed: int = 0
    device: str = "auto"

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> "TrainConfig":
        if profile not in PROFILES:
            raise GlalignError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        values = {**PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise GlalignError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(profile=profile, **values)

    @classmethod
    def from_cli(cls, args) -> "TrainConfig":
        file_values = {}
        if args.config:
            try:
                file_values = json.loads(Path(args.config).read_text())
            except FileNotFoundError:
                raise GlalignError(f"config file {args.config} does not exist") from None
            except json.JSONDecodeError as exc:
                raise GlalignError(f"{args.config}: malformed JSON ({exc.msg}, line {exc.lineno})") from None
        text = args.text_encoder
        flags = dict(data=args.data, lang=args.lang, out=args.out, format=args.format, epochs=args.epochs,
                     batch_size=args.batch_size, lr=args.lr, alpha=args.alpha, region_mode=args.region_mode,
                     seed=args.seed, device=args.device, image_encoder=args.image_encoder)
        if text in ("clip", "gpt2", "phobert"):
            flags["text_kind"] = text
        elif text:
            flags["text_encoder"] = text
        return cls.for_profile(args.profile, **{**file_values, **{k: v for k, v in flags.items() if v is not None}})


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GlalignError("--device cuda asked for, but no CUDA GPU is visible; use --device cpu or auto")
    return torch.device(name)


def infer_text_kind(source: str) -> str | None:
    cfg = Path(source) / "config.json"
    if not cfg.exists():
        return None
    model_type = json.loads(cfg.read_text()).get("model_type", "")
    return {"clip": "clip", "clip_text_model": "clip", "gpt2": "gpt2", "roberta": "phobert"}.get(model_type)


# ---------------------------------------------------------------- building
def _configs_from_model(model) -> dict:
    return {"vision": model.vision.config.to_dict(), "text": model.text.config.to_dict()}


def build_model(cfg: TrainConfig, tokenizer=None, hf_configs: dict | None = None):
    """From scratch/pretrained (hf_configs None) or rebuilt from a run's saved configs."""
    from glalign.model.encoders import EncoderSpec, build_image_encoder, build_text_encoder
    from glalign.model.glalign import GLAlign

    if hf_configs is not None:
        from transformers import AutoConfig, CLIPTextModel, CLIPVisionModel, GPT2Model, RobertaModel

        vcfg = AutoConfig.for_model(**hf_configs["vision"])
        vision = CLIPVisionModel(vcfg)
        tcfg = AutoConfig.for_model(**hf_configs["text"])
        tcls = {"clip": CLIPTextModel, "gpt2": GPT2Model, "phobert": RobertaModel}[cfg.text_kind]
        text = tcls(tcfg, add_pooling_layer=False) if cfg.text_kind == "phobert" else tcls(tcfg)
        vh = vcfg.hidden_size
        th = getattr(tcfg, "hidden_size", None) or tcfg.n_embd
    else:
        vspec = EncoderSpec(source=cfg.image_encoder, hidden=cfg.vision_hidden, layers=cfg.vision_layers,
                            heads=cfg.heads, image_size=cfg.image_size, patch_size=cfg.patch_size,
                            dropout=cfg.dropout)
        vision, vh, _, _ = build_image_encoder(vspec)
        tspec = EncoderSpec(source=cfg.text_encoder, hidden=cfg.text_hidden, layers=cfg.text_layers,
                            heads=cfg.heads, max_length=cfg.max_length, dropout=cfg.dropout)
        text, th = build_text_encoder(cfg.text_kind, tspec, vocab_size=len(tokenizer) if tokenizer else None,
                                      pad_id=tokenizer.pad_token_id if tokenizer else 0)
    return GLAlign(vision, vh, text, th, cfg.text_kind, cfg.embed_dim, cfg.region_mode)


def model_geometry(model) -> tuple[int, tuple[int, int]]:
    c = model.vision.config
    g = c.image_size // c.patch_size
    return c.image_size, (g, g)


def text_view_for(kind: str, lang: str, texts: list[str]):
    """PhoBERT reads word-segmented Vietnamese; the segmentation is done once per caption."""
    if kind == "phobert" and lang == "vi":
        from glalign.text.tokenizers import segment_vietnamese

        table = dict(zip(texts, segment_vietnamese(texts)))
        return lambda t: table.get(t) or segment_vietnamese([t])[0]
    return None


# ---------------------------------------------------------------- data
def load_training_records(cfg: TrainConfig):
    """Train-split records of every --data root; ids of different roots never collide."""
    from glalign.data.records import load_dataset
    from glalign.text.phrases import cached_extract, dataset_cache_dir, part_phrases

    records, phrases = [], {}
    for i, root in enumerate(cfg.data):
        ds = load_dataset(root, fmt=cfg.format, lang=cfg.lang, check_images=False)
        train = ds.split("train")
        if not train:
            raise GlalignError(f"{root}: no 'train' split entries to train on")
        if len(cfg.data) > 1:
            for r in train:
                r.pid = (i, r.pid)
        captions = sorted({c for r in train for c in r.captions})
        extracted = cached_extract(captions, cfg.lang, cfg.lexicon_mode, dataset_cache_dir(root))
        phrases.update({c: part_phrases(p) for c, p in zip(captions, extracted)})
        records += train
    return records, phrases


# ---------------------------------------------------------------- checkpoints
def _save_tensors(path: Path, tensors: dict) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path))


def _optimizer_to_flat(opt) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {"param_groups": sd["param_groups"], "state": {}}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{idx}.{k}"] = v
            else:
                scalars["state"].setdefault(str(idx), {})[k] = v
    return tensors, scalars


def _optimizer_from_flat(opt, tensors: dict, scalars: dict) -> None:
    state: dict = {}
    for key, v in tensors.items():
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    for idx, st in scalars["state"].items():
        state.setdefault(int(idx), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})


def save_checkpoint(run: Path, model, opt, sched_step: int, epoch: int, history: list[dict], config: dict) -> None:
    """Write the whole epoch to a temporary folder, then swap it in with renames."""
    import pandas as pd

    stage = Path(tempfile.mkdtemp(prefix=".epoch-", dir=run))
    try:
        _save_tensors(stage / "model.safetensors", model.state_dict())
        tensors, scalars = _optimizer_to_flat(opt)
        (stage / "checkpoint").mkdir()
        _save_tensors(stage / "checkpoint" / "optimizer.safetensors", tensors)
        (stage / "checkpoint" / "trainer_state.json").write_text(json.dumps(
            {"epoch": epoch, "scheduler_step": sched_step, "optimizer": scalars}, indent=1))
        pd.DataFrame(history).to_csv(stage / "history.csv", index=False)
        (stage / "config.json").write_text(json.dumps(config, indent=1, ensure_ascii=False))
        old = run / "checkpoint"
        if old.exists():
            shutil.rmtree(old)
        for name in ("model.safetensors", "history.csv", "config.json", "checkpoint"):
            os.replace(stage / name, run / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def completed_epochs(run) -> int:
    state = Path(run) / "checkpoint" / "trainer_state.json"
    return json.loads(state.read_text())["epoch"] + 1 if state.exists() else 0


# ---------------------------------------------------------------- the loop
def autocast_for(device: torch.device):
    """bf16 autocast on CUDA, plain fp32 on the CPU (deterministic)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def step_loss(model, batch: dict, alpha: float, device: torch.device):
    """One training step's forward pass: (total, global, local) losses of Eq. 9-11 for a collated
    batch. The training loop and `glalign bench train` both call this, so the benchmark measures
    the real step."""
    from glalign.model.losses import local_loss, symmetric_ce, total_loss

    with autocast_for(device):
        use_local = alpha < 1.0
        img_g, regions = model.encode_image(batch["pixels"], batch.get("weights"), batch.get("crops"),
                                            batch["present"], local=use_local)
        txt_g = model.encode_text(batch["input_ids"], batch["attention_mask"])
        scale = model.scale()
        g_loss = symmetric_ce(img_g.float(), txt_g.float(), scale, batch["labels"])
        if use_local and "phrase_ids" in batch:
            phr = model.encode_phrases(batch["phrase_ids"], batch["phrase_mask"], batch["phrase_slots"], len(img_g))
            l_loss, _ = local_loss(regions.float(), batch["present"], phr.float(), batch["phrase_present"], scale,
                                   batch["labels"])
        else:
            l_loss = g_loss * 0.0
        return total_loss(g_loss, l_loss, alpha), g_loss, l_loss
def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, stop_after_epoch: int | None = None) -> Path:
    """Train (or, with resume, continue) a run; returns the run folder. stop_after_epoch ends the
    call early as an interruption would (the schedule still spans cfg.epochs), for time-sliced runs."""
    from safetensors.torch import load_file
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from glalign.data.records import contiguous_labels
    from glalign.data.torchdata import ImageStore, PairDataset, make_collate
    from glalign.text.tokenizers import load_tokenizer, train_tokenizer

    if cfg.lang not in ("en", "vi"):
        raise GlalignError(f"unknown language {cfg.lang!r}; choose en or vi")
    if cfg.region_mode not in ("pool", "crop"):
        raise GlalignError(f"unknown region mode {cfg.region_mode!r}; choose crop or pool")
    if cfg.text_encoder != "small":
        cfg.text_kind = infer_text_kind(cfg.text_encoder) or cfg.text_kind
    run = Path(cfg.out)
    done = completed_epochs(run)
    if done and not resume:
        raise GlalignError(f"{run} already holds a run ({done} epoch(s)); use --resume or another --out")
    run.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)

    records, phrases = load_training_records(cfg)
    labels = contiguous_labels(records)
    captions = sorted({c for r in records for c in r.captions})
    view = text_view_for(cfg.text_kind, cfg.lang, captions + sorted(set(v for d in phrases.values()
                                                                        for v in d.values())))
    tok_dir = run / "tokenizer"
    if (tok_dir / "tokenizer.json").exists() or (tok_dir / "tokenizer_config.json").exists():
        tokenizer = load_tokenizer(tok_dir, cfg.text_kind)
    elif cfg.text_encoder == "small":
        corpus = [view(c) if view else c for c in captions]
        tokenizer = train_tokenizer(corpus, cfg.text_kind, cfg.vocab_size)
        tokenizer.save_pretrained(str(tok_dir))
    else:
        tokenizer = load_tokenizer(cfg.text_encoder, cfg.text_kind)
        tokenizer.save_pretrained(str(tok_dir))

    model = build_model(cfg, tokenizer).to(device)
    size, grid = model_geometry(model)
    store = ImageStore(size, grid)
    dataset = PairDataset(records, store, phrases, labels, cfg.region_mode, flip=cfg.flip, text_view=view)
    collate = make_collate(tokenizer, cfg.max_length, view)
    steps_per_epoch = max(1, len(dataset) // cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    warmup = int(cfg.warmup_fraction * total_steps)

    def lr_lambda(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    history: list[dict] = []
    start = 0
    if resume and done:
        model.load_state_dict(load_file(str(run / "model.safetensors")))
        state = json.loads((run / "checkpoint" / "trainer_state.json").read_text())
        _optimizer_from_flat(opt, load_file(str(run / "checkpoint" / "optimizer.safetensors")), state["optimizer"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda, last_epoch=state["scheduler_step"] - 1)
        import pandas as pd

        history = pd.read_csv(run / "history.csv").to_dict("records")
        start = state["epoch"] + 1
        if start >= cfg.epochs:
            return run

    saved_config = {"train": dataclasses.asdict(cfg), "hf_configs": _configs_from_model(model),
                    "pad_token_id": tokenizer.pad_token_id, "vocab_size": len(tokenizer),
                    "n_train_pairs": len(dataset), "n_train_ids": len(labels), "parts": list(PARTS)}
    for epoch in range(start, cfg.epochs):
        torch.manual_seed(cfg.seed * 1000 + epoch)  # dropout and flips: the same whether resumed or not
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=len(dataset) >= cfg.batch_size,
                            generator=gen, collate_fn=collate, num_workers=0)
        model.train()
        sums = {"loss": 0.0, "global": 0.0, "local": 0.0}
        n_batches, n_pairs, t0 = 0, 0, time.perf_counter()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not progress, leave=False)
        for batch in bar:
            batch = {k: v.to(device) for k, v in batch.items()}
            loss, g_loss, l_loss = step_loss(model, batch, cfg.alpha, device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            n_batches += 1
            n_pairs += len(batch["labels"])
            for k, v in (("loss", loss), ("global", g_loss), ("local", l_loss)):
                sums[k] += float(v.detach())
            bar.set_postfix(loss=f"{sums['loss'] / n_batches:.3f}",
                            pairs_s=f"{n_pairs / (time.perf_counter() - t0):.0f}")
        seconds = time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "loss": sums["loss"] / max(n_batches, 1),
                        "global_loss": sums["global"] / max(n_batches, 1),
                        "local_loss": sums["local"] / max(n_batches, 1), "lr": opt.param_groups[0]["lr"],
                        "logit_scale": float(model.scale().detach()), "pairs_per_s": n_pairs / max(seconds, 1e-9),
                        "seconds": seconds})
        save_checkpoint(run, model, opt, sched.last_epoch, epoch, history, saved_config)
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
            break
        if progress:
            h = history[-1]
            print(f"epoch {epoch + 1}/{cfg.epochs}: loss {h['loss']:.4f} (global {h['global_loss']:.4f}, "
                  f"local {h['local_loss']:.4f}), {h['pairs_per_s']:.0f} pairs/s")
    return run


def load_run(run, device: str = "cpu"):
    """(model, tokenizer, TrainConfig) from a run folder, on `device`, in eval mode."""
    from safetensors.torch import load_file

    from glalign.text.tokenizers import load_tokenizer

    run = Path(run)
    if not (run / "config.json").exists() or not (run / "model.safetensors").exists():
        raise GlalignError(f"{run} is not a trained run (no config.json / model.safetensors); train one with "
                           "`glalign train`")
    saved = json.loads((run / "config.json").read_text())
    unknown = sorted(set(saved["train"]) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise GlalignError(f"{run / 'config.json'} has settings this version does not know ({', '.join(unknown)}); "
                           "it was written by another glalign version: retrain, or use that version")
    cfg = TrainConfig(**saved["train"])
    tokenizer = load_tokenizer(run / "tokenizer", cfg.text_kind)
    model = build_model(cfg, tokenizer, hf_configs=saved["hf_configs"])
    model.load_state_dict(load_file(str(run / "model.safetensors")))
    return model.to(resolve_device(device)).eval(), tokenizer, cfg
