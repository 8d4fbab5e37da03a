"""What a run trains and validates on: the records of every --data root, each caption's part phrases
(the keyword lexicon's, or ROGLE's region-sentence pairs mined from the long captions), and the
validation split that chooses the epoch."""
from __future__ import annotations

from pathlib import Path

from glalign.config import TrainConfig
from glalign.errors import GlalignError


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
