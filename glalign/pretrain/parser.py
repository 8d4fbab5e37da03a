"""SynthParser: the embedded default's human-parsing network, a small
`SegformerForSemanticSegmentation` trained on the pretraining corpus's ground-truth label maps
(never on domains A or B) and saved as a public clothes-parsing SegFormer is (save_pretrained plus a
SegformerImageProcessor, id2label in ViTAA's part names), so `glalign data parse ROOT --parser DIR`
runs it exactly as it runs a downloaded parser.

Light augmentation (flips, darkening, contrast and noise) on top of the corpus's own mix of easy and
hard (low light, occluders, blur) identities lets it carry over to the harder domain B."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from glalign.constants import PARTS
from glalign.errors import GlalignError
from glalign.pretrain import common

PART_NAMES = ("background", "head", "upperbody", "lowerbody", "shoes", "others")  # = SCHEME_NAMES["vitaa"]


@dataclass
class ParserPretrainConfig:
    """Sized so the default 2,000-identity corpus (~4,800 train images) trains in about 2-3 minutes
    on 2 CPU cores."""
    epochs: int = 6
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    height: int = 128
    width: int = 64
    hidden_sizes: tuple = (16, 32, 64, 96)
    depths: tuple = (1, 1, 2, 1)
    heads: tuple = (1, 1, 2, 3)
    decoder_hidden: int = 64
    augment: bool = True
    # pixel loss weighted by (label frequency)^-class_weight_power: small parts (shoes, bags) would
    # otherwise lose to background and body pixels (0: plain cross-entropy)
    class_weight_power: float = 0.0
    seed: int = 0


def build_parser(cfg: ParserPretrainConfig):
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    config = SegformerConfig(num_channels=3, num_encoder_blocks=4, depths=list(cfg.depths),
                             hidden_sizes=list(cfg.hidden_sizes), num_attention_heads=list(cfg.heads),
                             sr_ratios=[8, 4, 2, 1], patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2],
                             mlp_ratios=[2, 2, 2, 2], decoder_hidden_size=cfg.decoder_hidden,
                             num_labels=len(PART_NAMES), id2label=dict(enumerate(PART_NAMES)),
                             label2id={n: i for i, n in enumerate(PART_NAMES)}, semantic_loss_ignore_index=255)
    return SegformerForSemanticSegmentation(config)


def image_processor(cfg: ParserPretrainConfig):
    """Resize to the training size, ImageNet mean/std: what the training loop does by hand."""
    try:  # the PIL backend: no torchvision needed
        from transformers import SegformerImageProcessorPil as Processor
    except ImportError:
        from transformers import SegformerImageProcessor as Processor
    from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    return Processor(size={"height": cfg.height, "width": cfg.width}, resample=2, do_reduce_labels=False,
                     image_mean=list(IMAGENET_DEFAULT_MEAN), image_std=list(IMAGENET_DEFAULT_STD))


def load_pairs(records, cfg: ParserPretrainConfig, progress: bool):
    """(N, 3, H, W) uint8 images and (N, H, W) uint8 ViTAA label maps, resized to the training size."""
    from PIL import Image
    from tqdm.auto import tqdm

    from glalign.data.images import open_image
    from glalign.data.masks import load_label_map

    size = (cfg.width, cfg.height)
    images = np.empty((len(records), cfg.height, cfg.width, 3), np.uint8)
    labels = np.empty((len(records), cfg.height, cfg.width), np.uint8)
    for i, r in enumerate(tqdm(records, desc="images", unit="img", disable=not progress, leave=False)):
        if r.mask is None:
            raise GlalignError(f"corpus image {r.image} has no ground-truth label map in parsing/; SynthParser "
                               "trains on a SynthPEDES-format corpus with masks")
        with open_image(r.image) as im:
            images[i] = np.asarray(im.convert("RGB").resize(size, Image.BILINEAR))
        labels[i] = np.asarray(Image.fromarray(load_label_map(r.mask)).resize(size, Image.NEAREST))
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def _normalise(x_u8: torch.Tensor) -> torch.Tensor:
    from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    from glalign.data.torchdata import normalise
    return normalise(x_u8, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)


def _augment(x_u8: torch.Tensor, y: torch.Tensor, gen: torch.Generator):
    """Flip (image and labels), darkening/brightening, contrast, sensor noise; float pixels in 0-255."""
    n = len(x_u8)
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x_u8.flip(-1), x_u8).float()
    y = torch.where(flip.view(-1, 1, 1), y.flip(-1), y)
    light = torch.empty(n, 1, 1, 1).uniform_(0.3, 1.3, generator=gen)
    contrast = torch.empty(n, 1, 1, 1).uniform_(0.7, 1.3, generator=gen)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean) * light
    x = x + torch.randn(x.shape, generator=gen) * torch.empty(n, 1, 1, 1).uniform_(0, 12, generator=gen)
    return x.clamp(0, 255), y


def class_weights(labels: torch.Tensor, power: float) -> torch.Tensor | None:
    """Per-label loss weights (frequency ** -power, mean 1 over the labels present), or None."""
    if not power:
        return None
    freq = torch.bincount(labels.long().ravel(), minlength=len(PART_NAMES)).double()
    w = torch.where(freq > 0, (freq / freq.sum()).clamp_min(1e-8) ** -power, torch.zeros_like(freq))
    return (w / w[freq > 0].mean()).float()


def confusion(model, images_u8, labels, device, batch_size: int = 128) -> np.ndarray:
    """(6, 6) pixel confusion matrix (rows ground truth) of the model on a set of images."""
    import torch.nn.functional as F

    k = len(PART_NAMES)
    out = torch.zeros(k * k, dtype=torch.int64)
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(images_u8), batch_size):
            x = _normalise(images_u8[s:s + batch_size]).to(device)
            logits = model(pixel_values=x).logits
            pred = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False).argmax(1).cpu()
            out += torch.bincount(labels[s:s + batch_size].long().ravel() * k + pred.ravel(), minlength=k * k)
    return out.view(k, k).numpy()


def scores(conf: np.ndarray) -> dict:
    """Per-part IoU, their mean, pixel accuracy, and the all-background baseline's pixel accuracy."""
    from glalign.parsing.segformer import part_iou

    iou, tp = part_iou(conf), np.diag(conf)
    total = max(int(conf.sum()), 1)
    return {**{f"iou_{p}": float(v) for p, v in zip(PARTS, iou)}, "miou": float(np.nanmean(iou)),
            "pixel_acc": float(tp.sum() / total), "background_acc": float(conf[0].sum() / total)}


def train_parser(corpus_root=None, out="SynthParser", epochs: int | None = None, seed: int = 0, n_ids: int = 2000,
                 cfg: ParserPretrainConfig | None = None, device: str = "cpu", overwrite: bool = False,
                 progress: bool = True) -> Path:
    """Train SynthParser into `out` (skipped when `out` already holds it with these settings and this
    corpus). `corpus_root`: a SynthPEDES-format folder with parsing/ (made with `n_ids` identities
    if missing or empty; default beside `out`, shared with SynthCLIP/SynthPhoBERT)."""
    from glalign.data.records import load_dataset
    from glalign.device import resolve_device

    cfg = cfg or ParserPretrainConfig(seed=seed, **({"epochs": epochs} if epochs else {}))
    out = Path(out)
    corpus = common.ensure_corpus(corpus_root or common.default_corpus(out, n_ids), n_ids, progress)
    settings = dataclasses.asdict(cfg)
    corpus_fp = common.corpus_fingerprint(corpus)
    fp = common.fingerprint("synthparser", settings, corpus_fp)
    if common.is_complete(out, fp):
        return out
    ds = load_dataset(corpus, check_images=False)
    train_recs, held_recs = common.split_records(ds.records, cfg.seed)
    if not train_recs or not held_recs:
        raise GlalignError(f"corpus {corpus}: needs training and held-out identities (it has {len(ds.records)} "
                           "images); generate a larger one")
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    t_start = time.perf_counter()
    images, labels = load_pairs(train_recs, cfg, progress)
    held_images, held_labels = load_pairs(held_recs, cfg, progress)
    model = build_parser(cfg).to(dev)
    weight = class_weights(labels, cfg.class_weight_power)
    weight = None if weight is None else weight.to(dev)
    steps_per_epoch = max(1, len(images) // cfg.batch_size)
    opt = common.adamw(model, cfg.lr, cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, common.warmup_cosine(steps_per_epoch * cfg.epochs,
                                                                         cfg.warmup_fraction))
    history = []
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        total = _parser_epoch(model, opt, sched, cfg, epoch, images, labels, weight, dev, steps_per_epoch, progress)
        seconds = time.perf_counter() - t0
        held = scores(confusion(model, held_images, held_labels, dev))
        history.append({"epoch": epoch + 1, "loss": total / steps_per_epoch, "lr": opt.param_groups[0]["lr"],
                        **{f"heldout_{k}": v for k, v in held.items()},
                        "images_per_s": steps_per_epoch * cfg.batch_size / seconds, "seconds": seconds})
        if progress:
            print(f"SynthParser epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]['loss']:.4f}, held-out mIoU "
                  f"{held['miou']:.3f}, pixel accuracy {held['pixel_acc']:.3f} (all-background "
                  f"{held['background_acc']:.3f})")
    model = model.cpu().eval()
    summary = {"train_images": len(images), "heldout_images": len(held_images), "heldout": held,
               "seconds": time.perf_counter() - t_start}
    _save_parser(out, overwrite, model, cfg, history, {
        "kind": "synthparser", "fingerprint": fp, "version": common.PRETRAIN_VERSION, "settings": settings,
        "corpus": str(corpus), "corpus_fingerprint": corpus_fp, **summary})
    return out


def _parser_epoch(model, opt, sched, cfg: ParserPretrainConfig, epoch: int, images, labels, weight, dev,
                  steps_per_epoch: int, progress: bool) -> float:
    """One epoch of segmentation steps in a seeded order (with augmentation); returns the summed loss."""
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
    order = torch.randperm(len(images), generator=gen)
    model.train()
    total = 0.0
    bar = tqdm(range(steps_per_epoch), desc=f"SynthParser epoch {epoch + 1}/{cfg.epochs}", unit="batch",
               disable=not progress, leave=False)
    for step in bar:
        idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
        x, y = images[idx], labels[idx]
        if cfg.augment:
            x, y = _augment(x, y, gen)
        x = _normalise(x).to(dev)
        logits = model(pixel_values=x).logits  # 1/4 resolution; upsampled for the loss, as SegFormer does
        logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        loss = F.cross_entropy(logits, y.long().to(dev), weight=weight)
        total += common.checked_step(model, opt, sched, loss, "SynthParser training", epoch, step, cfg.lr)
        bar.set_postfix(loss=f"{total / (step + 1):.3f}")
    return total


def _save_parser(out: Path, overwrite: bool, model, cfg: ParserPretrainConfig, history: list, meta: dict) -> None:
    """The model folder, written atomically: weights, its image processor, history.csv, pretrain_config.json."""
    import pandas as pd

    from glalign.hub import quiet_transformers
    from glalign.io import write_csv, write_json

    with common.staged(out, overwrite) as stage:
        with quiet_transformers():
            model.save_pretrained(stage)
        image_processor(cfg).save_pretrained(stage)
        write_csv(stage / "history.csv", pd.DataFrame(history))
        write_json(stage / "pretrain_config.json", meta)

