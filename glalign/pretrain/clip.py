"""SynthCLIP: a small `transformers.CLIPModel` pretrained contrastively on the synthetic corpus's
English image-caption pairs, as CLIP was on web pairs, and saved as openai/clip-vit-base-patch32 is
(model, tokenizer, CLIPImageProcessor), so everything that reads a CLIP folder reads it.

The loss is glalign's symmetric_ce (not CLIPModel(return_loss=True), which sees the local batch
only), with the corpus's person ids as positives: two captions of one person in a batch are not
pushed apart. Images are squashed to a square and CLIP-normalised exactly as glalign's ImageStore
does, and the saved image processor says so (no centre crop)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from glalign.pretrain import common


@dataclass
class ClipPretrainConfig:
    """Sized so ~2,000 corpus identities (~11k pairs) pretrain in a few minutes on 2 CPU cores;
    held-out R1 levels off after ~7 epochs (history.csv of a 10-epoch run: 77.5 at 7, 79.9 at 10)."""
    epochs: int = 7
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_fraction: float = 0.1
    image_size: int = 64
    patch_size: int = 8
    vision_width: int = 96
    vision_layers: int = 3
    text_width: int = 96
    text_layers: int = 2
    heads: int = 4
    projection_dim: int = 96
    max_length: int = 64
    vocab_size: int = 2000
    flip: bool = True
    seed: int = 0


def build_clip(cfg: ClipPretrainConfig, tokenizer):
    """A randomly initialised CLIPModel whose text tower pools at the tokenizer's [EOS]."""
    from transformers import CLIPConfig, CLIPModel

    text = dict(vocab_size=len(tokenizer), hidden_size=cfg.text_width, intermediate_size=4 * cfg.text_width,
                num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.heads,
                max_position_embeddings=cfg.max_length, pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                dropout=0.0, attention_dropout=0.0)
    vision = dict(hidden_size=cfg.vision_width, intermediate_size=4 * cfg.vision_width,
                  num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.heads, image_size=cfg.image_size,
                  patch_size=cfg.patch_size, dropout=0.0, attention_dropout=0.0)
    torch.manual_seed(cfg.seed)
    return CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=cfg.projection_dim))


def image_processor(cfg: ClipPretrainConfig):
    """What glalign's ImageStore does: bilinear resize to a square, CLIP mean/std."""
    try:  # the PIL backend: saved as a plain CLIPImageProcessor, no warning about torchvision
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:
        from transformers import CLIPImageProcessor as Processor
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD  # = glalign.data.torchdata's

    size = {"height": cfg.image_size, "width": cfg.image_size}
    return Processor(size=size, crop_size=size, do_center_crop=False, resample=2,  # PIL bilinear
                     image_mean=list(OPENAI_CLIP_MEAN), image_std=list(OPENAI_CLIP_STD))


def load_images(records, size: int, progress: bool) -> torch.Tensor:
    """(N, 3, S, S) uint8: every image decoded and resized once (the corpus fits in memory)."""
    from tqdm.auto import tqdm

    from glalign.data.torchdata import ImageStore

    store = ImageStore(size, (1, 1))
    out = torch.empty(len(records), 3, size, size, dtype=torch.uint8)
    for i, r in enumerate(tqdm(records, desc="images", unit="img", disable=not progress, leave=False)):
        out[i] = store.get(r.image, None)[0]
    return out


def _pixels(images_u8: torch.Tensor, flips: torch.Tensor | None = None) -> torch.Tensor:
    from glalign.data.torchdata import normalise

    x = normalise(images_u8)
    if flips is not None:
        x = torch.where(flips.view(-1, 1, 1, 1), x.flip(-1), x)
    return x


def _trim(ids: torch.Tensor, mask: torch.Tensor):
    n = int(mask.sum(1).max())
    return ids[:, :n], mask[:, :n]


@torch.inference_mode()
def heldout_retrieval(model, tokenizer, images_u8, image_pids, captions, caption_pids, device,
                      max_length: int, batch: int = 256) -> dict:
    """Zero-shot text-to-image retrieval (R1/R5/R10, mAP, %) of held-out identities, and R1 by chance."""
    import numpy as np

    from glalign.retrieval.metrics import chance_r1, rank_metrics

    model.eval()
    img = torch.cat([F.normalize(model.get_image_features(pixel_values=_pixels(images_u8[i:i + batch]).to(device))
                                 .pooler_output, dim=-1).cpu() for i in range(0, len(images_u8), batch)])
    txt = []
    for i in range(0, len(captions), batch):
        tok = tokenizer(captions[i:i + batch], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt").to(device)
        txt.append(F.normalize(model.get_text_features(**tok).pooler_output, dim=-1).cpu())
    m = rank_metrics((torch.cat(txt) @ img.t()).numpy(), np.asarray(caption_pids), np.asarray(image_pids))
    return {k: m[k] for k in ("R1", "R5", "R10", "mAP")} | {"R1_chance": chance_r1(caption_pids, image_pids)}


def pretrain_clip(out, corpus=None, n_ids: int = 2000, cfg: ClipPretrainConfig | None = None,
                  device: str = "cpu", overwrite: bool = False, progress: bool = True) -> Path:
    """Pretrain SynthCLIP into `out` (skipped when `out` already holds it with these settings).
    `corpus`: a SynthPEDES-format folder (made with `n_ids` identities if missing or empty)."""
    return common.pretrain_text_tower(out, corpus, n_ids, cfg or ClipPretrainConfig(), "synthclip", "en", train_clip,
                                      save_clip, device, overwrite, progress)


def train_clip(cfg: ClipPretrainConfig, train_recs, held_recs, device_name: str = "cpu", progress: bool = True):
    """(model on the CPU in eval mode, tokenizer, history rows, summary): contrastive pretraining
    on every (image, caption) pair of `train_recs`, zero-shot retrieval of `held_recs` each epoch."""
    from glalign.device import resolve_device
    from glalign.text.tokenizers import train_tokenizer

    device = resolve_device(device_name)
    t_start = time.perf_counter()
    captions = sorted({c for r in train_recs for c in r.captions})
    tokenizer = train_tokenizer(captions, "clip", cfg.vocab_size)
    tokenizer.model_max_length = cfg.max_length
    model = build_clip(cfg, tokenizer).to(device)

    images = load_images(train_recs, cfg.image_size, progress)
    held_images = load_images(held_recs, cfg.image_size, progress)
    pid_index = {p: i for i, p in enumerate(sorted({r.pid for r in train_recs}, key=str))}
    pairs = [(i, c) for i, r in enumerate(train_recs) for c in r.captions]
    tok = tokenizer([c for _, c in pairs], padding=True, truncation=True, max_length=cfg.max_length,
                    return_tensors="pt")
    pair_img = torch.tensor([i for i, _ in pairs])
    pair_pid = torch.tensor([pid_index[train_recs[i].pid] for i, _ in pairs])
    held_caps = [(c, r.pid) for r in held_recs for c in r.captions]

    steps_per_epoch = max(1, len(pairs) // cfg.batch_size)
    opt = common.adamw(model, cfg.lr, cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, common.warmup_cosine(steps_per_epoch * cfg.epochs,
                                                                         cfg.warmup_fraction))
    history = []
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        total = _clip_epoch(model, opt, sched, cfg, epoch, tok, images, pair_img, pair_pid, device, steps_per_epoch,
                            progress)
        seconds = time.perf_counter() - t0
        metrics = heldout_retrieval(model, tokenizer, held_images, [r.pid for r in held_recs],
                                    [c for c, _ in held_caps], [p for _, p in held_caps], device, cfg.max_length)
        history.append({"epoch": epoch + 1, "loss": total / steps_per_epoch, "lr": opt.param_groups[0]["lr"],
                        "logit_scale": float(model.logit_scale.exp().detach()), "heldout_R1": metrics["R1"],
                        "heldout_R5": metrics["R5"], "heldout_mAP": metrics["mAP"],
                        "pairs_per_s": steps_per_epoch * cfg.batch_size / seconds, "seconds": seconds})
        if progress:
            print(f"SynthCLIP epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]['loss']:.4f}, held-out R1 "
                  f"{metrics['R1']:.1f} (chance {metrics['R1_chance']:.1f})")
    summary = {"train_ids": len(pid_index), "train_pairs": len(pairs), "heldout_ids": len({r.pid for r in held_recs}),
               "heldout_queries": len(held_caps), "heldout": metrics, "seconds": time.perf_counter() - t_start}
    return model.cpu().eval(), tokenizer, history, summary


def _clip_epoch(model, opt, sched, cfg: ClipPretrainConfig, epoch: int, tok, images, pair_img, pair_pid, device,
                steps_per_epoch: int, progress: bool) -> float:
    """One epoch of contrastive steps over the pairs in a seeded order; returns the summed loss."""
    from tqdm.auto import tqdm

    from glalign.model.losses import symmetric_ce

    gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
    order = torch.randperm(len(pair_img), generator=gen)
    flips = (torch.rand(len(pair_img), generator=gen) < 0.5) & cfg.flip
    model.train()
    total = 0.0
    bar = tqdm(range(steps_per_epoch), desc=f"SynthCLIP epoch {epoch + 1}/{cfg.epochs}", unit="batch",
               disable=not progress, leave=False)
    for step in bar:
        idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
        ids, mask = _trim(tok["input_ids"][idx], tok["attention_mask"][idx])
        pixels = _pixels(images[pair_img[idx]], flips[idx])
        img = model.get_image_features(pixel_values=pixels.to(device)).pooler_output
        txt = model.get_text_features(input_ids=ids.to(device), attention_mask=mask.to(device)).pooler_output
        loss = symmetric_ce(F.normalize(img, dim=-1), F.normalize(txt, dim=-1),
                            model.logit_scale.exp().clamp(max=100.0), pair_pid[idx].to(device))
        total += common.checked_step(model, opt, sched, loss, "SynthCLIP pretraining", epoch, step, cfg.lr)
        bar.set_postfix(loss=f"{total / (step + 1):.3f}")
    return total


def save_clip(folder, model, tokenizer, cfg, history: list[dict]) -> None:
    """What a user would download: config.json, model.safetensors, tokenizer files and
    preprocessor_config.json; and history.csv, the pretraining curve."""
    import pandas as pd

    from glalign.io import write_csv
    from glalign.hub import quiet_transformers

    folder = Path(folder)
    with quiet_transformers():
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    image_processor(cfg).save_pretrained(folder)
    write_csv(folder / "history.csv", pd.DataFrame(history))
