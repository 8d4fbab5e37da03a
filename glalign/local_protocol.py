"""Local assessment of TBPS on region-annotated data (ROGLE's P-VLG assesses regions; its exact
protocol is not published, so it is defined here and in results/paper/NOTES.md).

Queries are the sentences whose ground truth names a region (regions.json), or with short queries
the short captions' noun phrases whose annotated part is a region of the image; the gallery is
every region of every gallery image, each an item whose id is (image, part).

(a) region retrieval: a sentence ranks all gallery regions; its one correct item is the region
    it describes. R1/R5/R10 and mAP (with one relevant item, mAP equals the mean reciprocal
    rank) come from glalign.metrics.rank_metrics.
(b) grounding accuracy: given the right image, the sentence picks the most similar of that
    image's regions; accuracy is the share that pick the described region, i.e. R1 of
    rank_metrics with the other images' regions masked out.

Embeddings are compared by cosine similarity; ties go to the lower gallery index, as in
glalign.metrics."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from glalign import PARTS
from glalign.metrics import rank_metrics


def _ids_to_ints(region_ids, sentence_targets) -> tuple[np.ndarray, np.ndarray]:
    """Any hashable ids (tuples included) as ints; a target not in the gallery is an error."""
    index = {}
    for rid in region_ids:
        if rid in index:
            raise ValueError(f"region id {rid!r} occurs twice in the gallery")
        index[rid] = len(index)
    missing = [t for t in sentence_targets if t not in index]
    if missing:
        raise ValueError(f"sentence target {missing[0]!r} is not a gallery region")
    return np.arange(len(index)), np.array([index[t] for t in sentence_targets])


def _cosine(a, b) -> np.ndarray:
    a = F.normalize(torch.as_tensor(np.asarray(a), dtype=torch.float32), dim=-1)
    b = F.normalize(torch.as_tensor(np.asarray(b), dtype=torch.float32), dim=-1)
    return (a @ b.T).numpy()


def region_retrieval(sentence_emb, sentence_targets, region_emb, region_ids) -> dict:
    """R1, R5, R10, mAP (percent) of sentences (Q, d) retrieving their region among all
    gallery regions (G, d); sentence_targets[i] is the id (e.g. (file_path, part)) of the
    region sentence i describes, region_ids the gallery regions' ids."""
    g, q = _ids_to_ints(list(region_ids), list(sentence_targets))
    m = rank_metrics(_cosine(sentence_emb, region_emb), q, g)
    return {k: m[k] for k in ("R1", "R5", "R10", "mAP")}


def grounding_accuracy(sentence_emb, sentence_targets, region_emb, region_ids, region_images) -> float:
    """Percent of sentences that, among the regions of their target's image only, are most
    similar to their target region. region_images[j] is the image of gallery region j."""
    region_ids, targets = list(region_ids), list(sentence_targets)
    g, q = _ids_to_ints(region_ids, targets)
    images = np.asarray([str(i) for i in region_images])
    sim = _cosine(sentence_emb, region_emb)
    sim[images[None, :] != images[q][:, None]] = -np.inf  # the right image is given
    return float(rank_metrics(sim, q, g, max_rank=1)["R1"])


def evaluate_local(root, model, lang: str = "en", split: str = "test", region_mode: str = "crop",
                   device: str = "cpu", masks: str = "parsing", queries: str = "long", ids=None) -> dict:
    """Both protocols on ROOT/regions.json's `split` ('all': every image; `ids`: only these
    persons) with a vision-language model (a CLIP folder, a GLAlign run or a glalign.rsm.Embedder).
    Queries: the long-caption sentences that name a region ("long"), or the short captions' noun
    phrases whose ground-truth part (SynthPEDES annotations.json) is among the image's regions
    ("short"); the gallery is every region of the selected images."""
    from pathlib import Path

    from glalign.data.regions import load_regions
    from glalign.errors import GlalignError
    from glalign.rsm import Embedder, _region_embeddings, _units

    if queries not in ("long", "short"):
        raise GlalignError(f"unknown queries {queries!r}; choose short or long")
    root = Path(root)
    wanted = None if ids is None else set(ids)
    records = [r for r in load_regions(root) if split in ("all", r.split) and (wanted is None or r.pid in wanted)]
    if not records:
        raise GlalignError(f"{root}/regions.json has no {split} images" + (" of the given ids" if ids else ""))
    embedder = model if isinstance(model, Embedder) else Embedder(model, device=device)
    emb, present = _region_embeddings(embedder, root, records, region_mode, masks)
    keep = np.nonzero(present)
    region_emb = emb[keep]
    region_ids = [(records[b].file_path, PARTS[p]) for b, p in zip(*keep)]
    texts, targets = [], []
    if queries == "long":
        for r in records:
            for c in r.long_captions.get(lang, []):
                for s in c.sentences:
                    if s.part is not None:
                        texts.append(s.text)
                        targets.append((r.file_path, s.part))
    else:
        units = _units(root, records, lang, "short")
        for r in records:
            for u in units[r.file_path]:
                if u.truth in r.regions:
                    texts.append(u.text)
                    targets.append((r.file_path, u.truth))
    if not texts:
        raise GlalignError(f"{root}/regions.json: no {lang} {queries}-caption queries with a region in the "
                           f"{split} split")
    sent = embedder.texts(texts, lang)
    out = region_retrieval(sent, targets, region_emb, region_ids)
    out["grounding"] = grounding_accuracy(sent, targets, region_emb, region_ids, [i for i, _ in region_ids])
    out.update(queries=len(texts), regions=len(region_ids))
    return out
