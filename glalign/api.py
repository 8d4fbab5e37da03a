"""The Python API behind `glalign.load` and `glalign.similarity` (see glalign/__init__.py).

    model, processor = glalign.load(RUN)
    scores = glalign.similarity(model, processor, ["a.png", "b.png"], ["a man in a red shirt"])

`similarity` is what `glalign evaluate` ranks by and `glalign search` returns: the same encoders,
the same preprocessing (the run's GLAlignProcessor) and the same fusion (glalign.retrieval.fusion)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def load(run, device: str = "cpu"):
    """(GLAlignModel in eval mode on `device`, GLAlignProcessor) of a trained run folder."""
    from glalign.model.factory import load_run
    from glalign.model.processing import GLAlignProcessor

    model, tokenizer, _ = load_run(run, device)
    return model, GLAlignProcessor.from_pretrained(run, tokenizer=tokenizer)


def similarity(model, processor, images: list, captions: list[str], masks: list | None = None,
               alpha: float | None = None, fusion: str = "raw") -> np.ndarray:
    """(captions x images) fused scores, higher is better. `images`: image files; `masks`: their
    part label maps (ViTAA 0-5 PNGs; None, or a None entry: horizontal stripes stand in);
    alpha: the run's when None; fusion: raw (the paper's) or zscore (over these images)."""
    from glalign.retrieval.embeddings import encode_gallery, encode_queries
    from glalign.retrieval.fusion import check_fusion, combine, local_similarity
    from glalign.model.processing import ImageFile

    check_fusion(fusion)
    if not captions or not images:
        raise ValueError("similarity needs at least one image and one caption")
    masks = masks or [None] * len(images)
    if len(masks) != len(images):
        raise ValueError(f"{len(masks)} masks for {len(images)} images")
    items = [ImageFile(Path(i), None if m is None else Path(m)) for i, m in zip(images, masks)]
    gallery = encode_gallery(model, items, processor.image_store(), processor.region_mode, progress=False)
    queries = encode_queries(model, processor.tokenizer, list(captions), processor.phrases(list(captions)),
                             processor.max_length, processor.text_view(list(captions)), progress=False,
                             lang=processor.lang)
    gsim = (queries.global_ @ gallery.global_.t()).numpy()
    lsim = local_similarity(queries, gallery).numpy()
    return combine(model.config.alpha if alpha is None else alpha, gsim, lsim, fusion)
