"""SynthPEDES domains on disk, in the CUHK-PEDES layout, so the real-data reader reads them.

    DIR/imgs/<pid>/<pid>_<k>.png      person images
    DIR/parsing/<pid>/<pid>_<k>.png   part label maps (ViTAA ids 0-5)
    DIR/reid_raw.json                 native captions   [{"split","captions","file_path","id"}]
    DIR/reid_raw_<lang>.json          translated captions, caption-for-caption
    DIR/conditions.json               per image: view, low_light, occluded, blur, scale
    DIR/annotations.json              attributes per identity, families, per-caption ground truth
    DIR/synth.json                    how it was made (seed, sizes, generator version)

The domain is written into a temporary folder and renamed into place, so an interrupted run
leaves nothing half-written. The same arguments give the same bytes."""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from glalign.data.captions_en import write_en
from glalign.data.captions_vi import write_vi
from glalign.data.mentions import mentions_for
from glalign.data.synth_people import family_variant, sample_conditions, sample_person
from glalign.data.synth_render import render
from glalign.data.translate import translate
from glalign.data.vocabulary import STYLES
from glalign.errors import GlalignError
from glalign.io import atomic_dir

GENERATOR_VERSION = 5  # 5: a validation split of identities in A and B
DOMAINS = {
    # A mirrors CUHK-PEDES (English native, Vietnamese translated): 11,003 + 1,000 of 12,003 ids in
    # proportion (at least a quarter of small domains, up to 100 ids, go to test so a gallery exists).
    "A": {"native": "en", "translated": "vi", "default_ids": 500, "images": (2, 4), "hard": False,
          "test_fraction": 1000 / 12003, "min_test": 100, "val_fraction": 0.1},
    # B mirrors 3000VnPerson-Search (Vietnamese native, English translated): 2,000 train + 1,000 test.
    "B": {"native": "vi", "translated": "en", "default_ids": 300, "images": (2, 3), "hard": True,
          "test_fraction": 1 / 3, "min_test": 0, "val_fraction": 0.1},
    # P is the pretraining corpus (glalign.pretrain.corpus): no families (every identity sampled on
    # its own), half the identities under B's hard conditions, nearly all ids in train (a 5% held-out
    # test share). Its seed stream [seed, ord("P"), ...] never meets A's or B's, whatever the seed.
    "P": {"native": "en", "translated": "vi", "default_ids": 2000, "images": (2, 3), "hard": "mixed",
          "test_fraction": 0.05, "min_test": 0, "families": False},
}


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _split_families(families: list[list[int]], domain: str, rng, n_test: int | None = None,
                    n_val: int | None = None) -> dict[int, str]:
    """Identity-disjoint train / val / test split that keeps each family on one side, so
    look-alikes meet in test (and in validation, which chooses epochs and settings). `n_test` /
    `n_val` (at least that many identities) override the domain's fractions. Test takes the first
    families of one permutation and validation the next, so adding validation leaves test as it was."""
    spec = DOMAINS[domain]
    n = sum(len(f) for f in families)
    if n_test is None:
        n_test = max(round(n * spec["test_fraction"]), min(spec["min_test"], n // 4), 1)
    if n_val is None:
        n_val = round(n * spec.get("val_fraction", 0.0))
    order = rng.permutation(len(families))
    split, counts = {}, {"test": 0, "val": 0}
    for idx in order:
        side = "test" if counts["test"] < n_test else "val" if counts["val"] < n_val else "train"
        for pid in families[idx]:
            split[pid] = side
        if side != "train":
            counts[side] += len(families[idx])
    return split


def generate_domain(out, domain: str = "A", n_ids: int | None = None, seed: int = 0, height: int = 128,
                    width: int = 64, progress: bool = True, test_ids: int | None = None,
                    val_ids: int | None = None) -> dict:
    """Write one SynthPEDES domain to `out` and return its summary. Re-running with the same
    arguments on an existing folder is a no-op; other arguments on a non-empty folder are an error.
    `test_ids`: at least this many test identities instead of the domain's proportion (a gallery
    sized for the protocol, e.g. SV2's 100 of 500 identities, without a training set to match)."""
    if domain not in DOMAINS:
        raise GlalignError(f"unknown SynthPEDES domain {domain!r}; choose A or B (P is the pretraining corpus)")
    spec = DOMAINS[domain]
    n_ids = n_ids or spec["default_ids"]
    if n_ids < 4:
        raise GlalignError(f"--ids {n_ids} is too few: a domain needs at least 4 identities (train and test)")
    if test_ids is not None and not 1 <= test_ids <= n_ids - 3:
        raise GlalignError(f"--test-ids {test_ids}: choose 1 to {n_ids - 3} of the {n_ids} identities, leaving some "
                           "for training")
    out = Path(out)
    meta = {"generator": "SynthPEDES", "version": GENERATOR_VERSION, "domain": domain, "ids": n_ids,
            "seed": seed, "height": height, "width": width, "native_language": spec["native"],
            "translated_language": spec["translated"]}
    if val_ids is not None and not 0 <= val_ids <= n_ids - (test_ids or 1) - 2:
        raise GlalignError(f"--val-ids {val_ids}: choose 0 to {n_ids - (test_ids or 1) - 2} of the {n_ids} identities, "
                           "leaving some for training and test")
    if test_ids is not None:
        meta["test_ids"] = test_ids
    if val_ids is not None:
        meta["val_ids"] = val_ids
    if out.exists() and any(out.iterdir()):
        existing = out / "synth.json"
        if existing.exists() and json.loads(existing.read_text())["params"] == meta:
            return json.loads(existing.read_text())["summary"]
        raise GlalignError(f"{out} exists and is not the SynthPEDES domain asked for; choose an empty "
                           "folder or delete it")
    with atomic_dir(out) as stage:  # an empty `out` is replaced
        summary = _write_domain(stage, meta, spec, progress)
        # timings vary run to run: they are returned, never written (same seed, same bytes)
        stored = {k: v for k, v in summary.items() if k not in ("seconds", "images_per_second")}
        (stage / "synth.json").write_text(json.dumps({"params": meta, "summary": stored}, indent=1) + "\n")
    return summary


def _families(n_ids: int, rng, grouped: bool = True) -> list[list[int]]:
    """Identities 1..n_ids in families of 1-3 look-alikes (each alone when not `grouped`)."""
    families, pid = [], 1
    while pid <= n_ids:
        size = min(int(rng.choice((1, 2, 3), p=(0.4, 0.4, 0.2))), n_ids - pid + 1) if grouped else 1
        families.append(list(range(pid, pid + size)))
        pid += size
    return families


def _captions(person, cond, rng, writer, native: str, other: str) -> tuple[dict, dict]:
    """Two captions by two different annotator styles, each with its translation, and the parts and
    nouns each one mentions (the NP analysis' ground truth): ({lang: [text]}, {lang: [[mention]]})."""
    mentions = mentions_for(person, cond)
    styles = rng.choice(len(STYLES), size=2, replace=False)  # two different annotators
    caps = {native: [], other: []}
    truth = {native: [], other: []}
    for s in styles:
        text, rendered = writer(person, mentions, STYLES[int(s)], rng, cond)
        ttext, trendered = translate(person, rendered, native, rng, cond)
        caps[native].append(text)
        caps[other].append(ttext)
        truth[native].append([{"part": r["part"], "noun": r["noun"]} for r in rendered])
        truth[other].append([{"part": r["part"], "noun": r["noun"]} for r in trendered])
    return caps, truth


def _write_domain(stage: Path, meta: dict, spec: dict, progress: bool) -> dict:
    domain, seed, n_ids = meta["domain"], meta["seed"], meta["ids"]
    hard = spec["hard"]
    root_rng = np.random.default_rng([seed, ord(domain)])
    families = _families(n_ids, root_rng, spec.get("families", True))
    split_of = _split_families(families, domain, root_rng, meta.get("test_ids"), meta.get("val_ids"))

    native, other = spec["native"], spec["translated"]
    writer = {"en": write_en, "vi": write_vi}[native]
    entries = {native: [], other: []}
    conditions, attributes, family_of, gt = {}, {}, {}, {}
    t0, n_images = time.perf_counter(), 0
    bar = tqdm(total=n_ids, desc=f"SynthPEDES {domain}", unit="id", disable=not progress)
    for fam_idx, family in enumerate(families):
        frng = np.random.default_rng([seed, ord(domain), fam_idx])
        base = sample_person(frng)
        if spec["hard"] == "mixed":  # a broad corpus: easy and hard conditions, per identity
            hard = bool(frng.random() < 0.5)
        for member, pid in enumerate(family):
            person = base if member == 0 else family_variant(base, frng)
            attributes[str(pid)] = person.to_dict()
            family_of[str(pid)] = fam_idx
            lo, hi = spec["images"]
            for k in range(int(frng.integers(lo, hi + 1))):
                cond = sample_conditions(frng, hard)
                img, label = render(person, cond, frng, meta["height"], meta["width"], hard=hard)
                rel = f"{pid:05d}/{pid:05d}_{k}.png"
                for sub, arr in (("imgs", img), ("parsing", label)):
                    path = stage / sub / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(_png_bytes(arr))
                caps, truth = _captions(person, cond, frng, writer, native, other)
                for lang in (native, other):
                    entries[lang].append({"split": split_of[pid], "captions": caps[lang], "file_path": rel,
                                          "id": pid})
                conditions[rel] = cond.to_dict()
                gt[rel] = truth
                n_images += 1
            bar.update(1)
    bar.close()
    elapsed = time.perf_counter() - t0
    for name, obj in (("reid_raw.json", entries[native]), (f"reid_raw_{other}.json", entries[other]),
                      ("conditions.json", conditions),
                      ("annotations.json", {"attributes": attributes, "family": family_of, "captions": gt})):
        (stage / name).write_text(json.dumps(obj, ensure_ascii=False, indent=None, sort_keys=True) + "\n",
                                  encoding="utf-8")
    n_test = sum(1 for v in split_of.values() if v == "test")
    n_val = sum(1 for v in split_of.values() if v == "val")
    return {"domain": domain, "ids": n_ids, "train_ids": n_ids - n_test - n_val, "val_ids": n_val, "test_ids": n_test,
            "images": n_images, "families": len(families), "native_language": native,
            "translated_language": other, "seconds": round(elapsed, 2),
            "images_per_second": round(n_images / max(elapsed, 1e-9), 1)}
