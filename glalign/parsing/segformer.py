"""A real parser path: run a transformers semantic-segmentation model (a clothes-parsing SegFormer,
or SynthParser) over a dataset and write part label maps in ViTAA's numbering (0-5), one PNG per
image at the image's relative path, which is where `load_dataset(masks=...)` looks for them.

The model's own id2label says what its ids mean; labels are mapped by name through the LIP/ATR/ViTAA
tables of glalign.data.masks, and a label set none of them names is refused (a parser with other
classes would silently give wrong parts). Parsing is resumable: a mask already on disk is kept, each
new one is written atomically, and the folder records which parser wrote it so two parsers' masks
are never mixed."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from glalign.constants import PARTS
from glalign.errors import DataError, GlalignError
from glalign.data.masks import NAME_ALIASES, SCHEME_NAMES, SCHEMES, load_label_map

MARKER = ".glalign-parser.json"  # in the output folder: which parser wrote its masks


def _norm(name) -> str:
    key = re.sub(r"[^a-z]", "", str(name).lower())
    return NAME_ALIASES.get(key, key)


def label_lut(id2label: dict, what: str = "the parser") -> tuple[str, np.ndarray]:
    """(scheme, lut) with lut[model id] = ViTAA part id, from a config's id2label. The first scheme
    that names every label wins (names the schemes share map to the same part in all of them)."""
    names = {int(i): _norm(n) for i, n in id2label.items()}
    for scheme, known in SCHEME_NAMES.items():
        part_of = {n: SCHEMES[scheme][i] for i, n in enumerate(known)}
        if names and all(n in part_of for n in names.values()):
            lut = np.zeros(max(names) + 1, np.uint8)
            for i, n in names.items():
                lut[i] = part_of[n]
            return scheme, lut
    labels = ", ".join(str(id2label[k]) for k in sorted(id2label, key=int))
    raise GlalignError(f"{what} has labels [{labels}], which are not a human-parsing label set glalign can map "
                       "to body parts. Known names: " + "; ".join(f"{s}: {', '.join(n)}" for s, n in
                                                                   SCHEME_NAMES.items())
                       + ". Use a human/clothes parser (LIP or ATR labels) or rename its config's id2label")


def load_parser(parser: str):
    """(model, image processor, scheme, lut), offline. Any transformers semantic-segmentation
    architecture works; the folder's own image processor is used, else SegFormer's defaults."""
    from transformers import AutoImageProcessor

    try:
        from transformers import SegformerImageProcessorPil as SegformerImageProcessor
    except ImportError:
        from transformers import SegformerImageProcessor
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING

    from glalign.hub import from_pretrained, load_config, load_pretrained, model_source

    config = load_config(parser)
    cls = MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING.get(type(config), None)
    if cls is None:
        raise GlalignError(f"{parser} is a {config.model_type!r} model, not a semantic-segmentation model "
                           "(e.g. SegformerForSemanticSegmentation); pass a human-parsing checkpoint")
    scheme, lut = label_lut(config.id2label, what=parser)
    model = load_pretrained(cls, parser)
    try:  # the PIL backend: what the parsers were trained with, and no torchvision needed
        processor = from_pretrained(AutoImageProcessor, model_source(parser), backend="pil")
    except (OSError, ValueError) as exc:
        own = Path(parser) / "preprocessor_config.json"
        if own.exists():  # the folder's own preprocessing, unreadable: never parse with other pixels silently
            raise GlalignError(f"{own} cannot be read ({str(exc).splitlines()[0][:200]}); restore the file saved "
                               "with the model, or delete it to use SegFormer's default preprocessing") from None
        processor = SegformerImageProcessor()
    return model.eval(), processor, scheme, lut


def _mask_path(out: Path, rel: str) -> Path:
    return out / Path(rel).with_suffix(".png")


def _check_marker(out: Path, meta: dict) -> None:
    path = out / MARKER
    if path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = None
        if not isinstance(saved, dict) or saved.get("parser") != meta["parser"]:
            raise GlalignError(f"{out} holds masks written by another parser "
                               f"({saved.get('parser') if isinstance(saved, dict) else 'unreadable ' + MARKER}); "
                               "pass another --out, or delete the folder to re-parse")


def parse_dataset(root, parser: str, out=None, device: str = "auto", batch_size: int = 32, progress: bool = True,
                  fmt: str = "auto") -> dict:
    """Write ViTAA label maps for every image of the dataset at `root` into `out` (default
    ROOT/parsing). Returns counts: parsed, skipped (already on disk), and the throughput."""
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from tqdm.auto import tqdm

    from glalign.data.images import load_rgb
    from glalign.data.records import load_dataset
    from glalign.device import resolve_device
    from glalign.io import atomic_path, write_json

    root = Path(root)
    out = Path(out) if out else root / "parsing"
    if out.exists() and not out.is_dir():
        raise GlalignError(f"--out {out} is a file; pass a folder for the masks")
    ds = load_dataset(root, fmt=fmt, check_images=False)
    todo = [r for r in ds.records if not _mask_path(out, r.file_path).exists()]
    counts = {"images": len(ds.records), "parsed": 0, "skipped": len(ds.records) - len(todo), "out": str(out)}
    if not todo:
        return counts
    dev = resolve_device(device)
    model, processor, scheme, lut_np = load_parser(parser)
    meta = {"parser": str(parser), "scheme": scheme,
            "id2label": {str(k): v for k, v in model.config.id2label.items()}}
    _check_marker(out, meta)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / MARKER, meta)
    model.to(dev)
    lut = torch.from_numpy(lut_np).to(dev)
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc="parsing", unit="img", disable=not progress)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        images = [load_rgb(r.image, root=root) for r in batch]
        pixels = processor(images=images, return_tensors="pt")["pixel_values"].to(dev)
        with torch.inference_mode():
            logits = model(pixel_values=pixels).logits.float()
        for r, im, lg in zip(batch, images, logits):
            label = F.interpolate(lg[None], size=(im.height, im.width), mode="bilinear", align_corners=False)
            label = lut[label.argmax(1)[0]].cpu().numpy()
            with atomic_path(_mask_path(out, r.file_path)) as tmp:
                Image.fromarray(label).save(tmp, format="PNG")
        counts["parsed"] += len(batch)
        bar.update(len(batch))
    bar.close()
    seconds = time.perf_counter() - t0
    return counts | {"scheme": scheme, "seconds": round(seconds, 2),
                     "images_per_second": round(counts["parsed"] / max(seconds, 1e-9), 1)}


def part_iou(confusion: np.ndarray) -> np.ndarray:
    """IoU of each of the five parts (background excluded) from a (6, 6) pixel confusion matrix;
    NaN for a part absent from both prediction and ground truth."""
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)[1:]


def parser_iou(pred_root, gt_root, records, domain: str | None = None):
    """Per-part IoU over a dataset (pixel counts summed over images, as parser papers report it),
    predicted maps in `pred_root` against ground truth in `gt_root`, both ViTAA ids at each record's
    file_path; 'mean' is the mean over the five parts. A part absent from both gets NaN."""
    import pandas as pd

    k = len(PARTS) + 1
    confusion = np.zeros((k, k), np.int64)
    for r in records:
        gt = load_label_map(_mask_path(Path(gt_root), r.file_path))
        pred = load_label_map(_mask_path(Path(pred_root), r.file_path))
        if gt.shape != pred.shape:
            raise DataError(f"{_mask_path(Path(pred_root), r.file_path)}: shape {pred.shape} differs from the "
                            f"ground truth's {gt.shape}")
        confusion += np.bincount(gt.ravel().astype(np.int64) * k + pred.ravel(), minlength=k * k).reshape(k, k)
    iou = part_iou(confusion)
    rows = [{"part": p, "iou": float(v)} for p, v in zip(PARTS, iou)]
    rows.append({"part": "mean", "iou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")})
    frame = pd.DataFrame(rows)
    if domain is not None:
        frame.insert(0, "domain", domain)
    return frame
