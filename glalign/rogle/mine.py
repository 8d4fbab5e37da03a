"""Mining region-sentence pairs over a dataset (`glalign rsm mine`): units and regions embedded by the
judge, matched, written as DATA/rsm_pairs.<lang>.<captions>.json with a summary beside the keyword
lexicon's precision and recall."""
from __future__ import annotations

import time
from pathlib import Path

from tqdm.auto import tqdm

from glalign.constants import PARTS
from glalign.errors import GlalignError
from glalign.rogle.embedder import Embedder, region_embeddings
from glalign.rogle.match import match, quality
from glalign.rogle.units import CAPTIONS, UNIT, add_lexicon, caption_units


def mine(root, model, lang: str = "en", captions: str = "long", min_margin: float = 0.05, per_region: int = 1,
         region_mode: str = "crop", device: str = "cpu", batch: int = 64, progress: bool = True,
         write: bool = True, baseline: bool = True, masks: str = "parsing", split: str = "all",
         margins=()) -> dict:
    """Mine region-sentence pairs for every image of regions.json (of one split unless "all");
    write ROOT/rsm_pairs.<lang>.<captions>.json (atomically) and return a summary with the mining
    time (splitting, embedding and matching; model loading and the baseline excluded) and, where
    ground truth exists, precision/recall of RSM and of the lexicon baseline; with `margins` (each
    at least min_margin), summary["curve"] holds RSM's precision/recall at each margin, from the
    same assignment (a margin only drops pairs), so one mining gives the whole curve."""
    from glalign.data.regions import load_regions
    from glalign.io import write_json

    if captions not in CAPTIONS:
        raise GlalignError(f"unknown captions {captions!r}; choose long or short")
    if region_mode not in ("crop", "pool"):
        raise GlalignError(f"unknown region mode {region_mode!r}; choose crop or pool")
    root = Path(root)
    if not (root / "regions.json").exists():
        load_regions(root)  # the error that says how to make one, before a model is loaded
    embedder = model if isinstance(model, Embedder) else Embedder(model, device=device)
    t0 = time.perf_counter()
    records = [r for r in load_regions(root) if split in ("all", r.split)]
    if not records:
        raise GlalignError(f"{root}/regions.json has no {split} images")
    units = caption_units(root, records, lang, captions)
    if any(m < min_margin for m in margins):
        raise GlalignError(f"margins {list(margins)}: each must be at least min_margin ({min_margin}); mine with "
                           "the smallest as min_margin")
    pairs, mined, truth, margin_of = [], [], [], []
    for start in tqdm(range(0, len(records), batch), desc=f"RSM {lang} {captions}", unit="batch",
                      disable=not progress):
        chunk = records[start:start + batch]
        region_emb, present = region_embeddings(embedder, root, chunk, region_mode, masks)
        chunk_units = [units[r.file_path] for r in chunk]
        text_emb = embedder.texts([u.text for us in chunk_units for u in us], lang)
        offset = 0
        for b, (r, us) in enumerate(zip(chunk, chunk_units)):
            emb = text_emb[offset:offset + len(us)]
            offset += len(us)
            _match_image(r, us, region_emb[b], present[b], emb, min_margin, per_region, pairs, mined, margin_of)
            truth += [(r.file_path, u.caption, u.index, u.truth) for u in us if u.truth in r.regions]
    seconds = time.perf_counter() - t0
    if baseline and captions == "long":
        add_lexicon(units, lang)
    lexicon = [(u.file_path, u.caption, u.index, u.lexicon) for r in records for u in units[r.file_path]
               if u.lexicon in r.regions] if baseline else []  # a part the image has no region for is no pair
    summary = {"lang": lang, "captions": captions, "unit": UNIT[captions], "model": str(embedder.source),
               "fingerprint": embedder.fingerprint, "tower": embedder.tower, "region_mode": region_mode,
               "min_margin": min_margin, "per_region": per_region, "masks": masks,
               "split": split, "images": len(records), "units": sum(map(len, units.values())), "pairs": len(pairs),
               "seconds": round(seconds, 3), "seconds_per_1000_images": round(1000 * seconds / len(records), 2)}
    if truth:
        summary.update(_quality(mined, lexicon if baseline else None, truth, margin_of, margins))
    if write:
        path = root / f"rsm_pairs.{lang}.{captions}.json"
        write_json(path, {k: v for k, v in summary.items() if k not in ("seconds", "seconds_per_1000_images")}
                   | {"pairs": pairs}, indent=None)
        summary["path"] = str(path)
    return summary


def _match_image(r, us, region_emb, present, emb, min_margin: float, per_region: int, pairs: list, mined: list,
                 margin_of: list) -> None:
    """One image: each caption's units matched to the image's regions; the kept pairs appended."""
    for k in sorted({u.caption for u in us}):
        idx = [i for i, u in enumerate(us) if u.caption == k]
        for p in match(region_emb, present, emb[idx], min_margin, per_region):
            u, part = us[idx[p.sentence]], PARTS[p.region]
            pairs.append({"file_path": r.file_path, "caption": k, "unit": u.index, "text": u.text,
                          "part": part, "box": list(r.regions[part]), "score": round(p.score, 5),
                          "reliability": round(p.reliability, 5)})
            mined.append((r.file_path, k, u.index, part))
            margin_of.append(p.reliability)


def _quality(mined: list, lexicon: list | None, truth: list, margin_of: list, margins) -> dict:
    """Precision and recall of RSM's pairs (and of the lexicon's, unless None) against ground
    truth, and with `margins` RSM's at each margin (from the same assignment: a margin only drops pairs)."""
    out = {}
    for method, found in (("rsm", mined), ("lexicon", lexicon)):
        if found is None:
            continue
        precision, recall = quality(found, truth)
        out[method] = {"precision": precision, "recall": recall, "hits": len(set(found) & set(truth)),
                       "mined": len(set(found)), "truth": len(set(truth))}
    if margins:
        out["curve"] = []
        for m in margins:
            kept = [key for key, r in zip(mined, margin_of) if r >= m]
            precision, recall = quality(kept, truth)
            out["curve"].append({"min_margin": m, "precision": precision, "recall": recall, "mined": len(set(kept))})
    return out


def quality_table(roots, model, out_csv=None, langs=("en", "vi"), min_margin: float = 0.05,
                  region_mode: str = "crop", device: str = "cpu", progress: bool = True):
    """method,lang,captions,precision,recall over the given domains (pairs pooled across them);
    written to out_csv (e.g. results/<profile>/tables/rsm_quality.csv) when given."""
    import pandas as pd

    from glalign.io import write_csv

    embedder = model if isinstance(model, Embedder) else Embedder(model, device=device)
    rows = []
    for lang in langs:
        for captions in CAPTIONS:
            tallies = {"rsm": [0, 0, 0], "lexicon": [0, 0, 0]}  # hits, mined, ground truth
            for root in roots:
                s = mine(root, embedder, lang, captions, min_margin=min_margin, region_mode=region_mode,
                         progress=progress)
                for method, tally in tallies.items():
                    if method in s:
                        tally[0] += s[method]["hits"]
                        tally[1] += s[method]["mined"]
                        tally[2] += s[method]["truth"]
            for method, (hits, n_mined, n_truth) in tallies.items():
                rows.append({"method": method, "lang": lang, "captions": captions,
                             "precision": round(100 * hits / n_mined, 2) if n_mined else 0.0,
                             "recall": round(100 * hits / n_truth, 2) if n_truth else 0.0})
    frame = pd.DataFrame(rows, columns=["method", "lang", "captions", "precision", "recall"])
    if out_csv:
        write_csv(out_csv, frame)
    return frame
