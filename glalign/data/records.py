"""Readers for the real TBPS layouts, all into one record type.

Supported layouts (image paths are relative to DIR/imgs unless a manifest gives them):
  cuhk-pedes  DIR/reid_raw.json  [{"split","captions","file_path","id"}]   (CUHK-PEDES, CUHK-PEDES-VN)
  vn3k        the same schema with Vietnamese captions (3000VnPerson-Search and its English 3000Vn-V2E)
  icfg-pedes  DIR/ICFG-PEDES.json (or ICFG_PEDES.json), same keys as CUHK-PEDES
  rstpreid    DIR/data_captions.json [{"id","img_path","captions","split"}]
  manifest    DIR/manifest.csv or DIR/manifest.jsonl: one row per caption with image, id, caption, split

A language variant sits beside the main file as reid_raw_<lang>.json (SynthPEDES writes one;
CUHK-PEDES-VN can be placed the same way). Part label maps, when present, are DIR/parsing/<file_path>.
A file_path must stay inside DIR; every image is opened through open_image (symlink and
decompression-bomb checks); asking for a language the captions are not in is refused."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from glalign.data.formats import (FORMATS, JSON_FILES, PATH_KEY, SPLITS, caption_file, detect_format,  # noqa: F401
                                  load_json, normalise_pid, raw_entries, read_text)
from glalign.data.images import image_problem, load_rgb, open_image, outside_root  # noqa: F401
from glalign.data.language import (LANGUAGE_NAMES, caption_language, file_language, has_captions_in,  # noqa: F401
                                   language_mismatch, native_language)
from glalign.errors import DataError, GlalignError


@dataclass
class Record:
    """One image with its person id (as given in the dataset), captions and part mask."""
    image: Path
    file_path: str
    pid: int | str
    captions: list[str]
    split: str
    lang: str | None = None
    mask: Path | None = None
    source: str = ""  # "<file>#<entry index>" for error messages


@dataclass
class Dataset:
    root: Path
    format: str
    caption_file: Path
    records: list[Record]
    lang: str | None = None
    skipped: list[str] = field(default_factory=list)

    def split(self, name: str) -> list[Record]:
        return [r for r in self.records if r.split == name]


def load_dataset(root, fmt: str = "auto", lang: str | None = None, skip_bad: bool = False,
                 check_images: bool = True, masks: str = "parsing") -> Dataset:
    """Read and validate a dataset. Every problem names the file and the entry; with skip_bad
    the bad entries are dropped and listed in Dataset.skipped instead of raising. `masks` is the
    folder of part label maps (relative to the root, or a path): the default `parsing/` may be
    absent (stripes are used), a folder named explicitly must exist."""
    root = Path(root)
    if not root.is_dir():
        raise GlalignError(f"dataset folder {root} does not exist")
    mask_root = root / masks
    if masks != "parsing" and not mask_root.is_dir():
        raise GlalignError(f"mask folder {mask_root} does not exist (make it with `glalign data parse {root} "
                           f"--parser MODEL --out {mask_root}`)")
    fmt = detect_format(root) if fmt in (None, "auto") else fmt
    if fmt not in FORMATS:
        raise GlalignError(f"unknown dataset format {fmt!r}; choose one of {', '.join(FORMATS)}")
    path = caption_file(root, fmt, lang)
    entries = raw_entries(path, fmt)
    found, evidence = file_language(root, path, entries)
    if lang and found and found != lang:
        raise DataError(language_mismatch(root, path, fmt, lang, found, evidence))
    lang = lang or found
    img_root = root if fmt == "manifest" else root / "imgs"
    records, skipped, seen = [], [], {}
    for src, e in entries:
        problem, record = _entry_record(src, e, img_root, mask_root, lang, check_images, seen)
        if problem:
            if not skip_bad:
                raise DataError(f"{path}: {problem}")
            skipped.append(problem)
        else:
            records.append(record)
    records = _without_leaks(records, path, skip_bad, skipped)
    if not records:
        raise DataError(f"{path}: no usable entries")
    return Dataset(root=root, format=fmt, caption_file=path, records=records, lang=lang, skipped=skipped)


def _entry_record(src: str, e: dict, img_root: Path, mask_root: Path, lang, check_images: bool, seen: dict):
    """(problem, None) for an entry that cannot be used, else (None, its Record); `seen` maps the
    file paths taken so far to their entry."""
    caps = [e["captions"]] if isinstance(e["captions"], str) else e["captions"]
    if not isinstance(caps, list) or not caps:
        return f"{src}: no captions", None
    empty = [i for i, c in enumerate(caps) if not isinstance(c, str) or not c.strip()]
    if empty:
        return f"{src}: caption {empty[0]} is empty", None
    if e["split"] not in SPLITS:
        return f"{src}: unknown split {e['split']!r} (expected one of {', '.join(SPLITS)})", None
    try:
        pid = normalise_pid(e["id"])
    except ValueError as exc:
        return f"{src}: {exc}", None
    rel = e["file_path"]
    if not isinstance(rel, str) or not rel.strip() or not Path(rel).name:
        return f"{src}: has no file_path (got {rel!r:.40})", None
    if outside_root(rel):
        return (f"{src}: file_path {rel!r} points outside the dataset folder; paths must be relative "
                f"to {img_root} without '..'"), None
    if rel in seen:
        return f"{src}: file_path {rel} already used by {seen[rel]}", None
    image = img_root / rel
    problem = image_problem(image) if check_images else None
    if problem:
        return f"{src}: {problem}", None
    seen[rel] = src
    mask = mask_root / Path(rel).with_suffix(".png")
    return None, Record(image=image, file_path=rel, pid=pid, captions=[c.strip() for c in caps], split=e["split"],
                        lang=lang, source=src, mask=mask if mask.exists() or mask.is_symlink() else None)


def _without_leaks(records: list[Record], path: Path, skip_bad: bool, skipped: list) -> list[Record]:
    """Identities must not leak between training and evaluation splits: refused, or (skip_bad)
    their evaluation entries dropped and the leak listed in `skipped`."""
    by_split: dict[str, set] = {}
    for r in records:
        by_split.setdefault(r.split, set()).add(r.pid)
    leak = by_split.get("train", set()) & (by_split.get("test", set()) | by_split.get("val", set()))
    if not leak:
        return records
    example = sorted(leak, key=str)[:5]
    msg = (f"{len(leak)} identit{'y is' if len(leak) == 1 else 'ies are'} in both train and test/val "
           f"(e.g. id {', '.join(map(str, example))}); the TBPS protocol needs disjoint identities")
    if not skip_bad:
        raise DataError(f"{path}: {msg}")
    skipped.append(msg)
    return [r for r in records if not (r.split != "train" and r.pid in leak)]


def contiguous_labels(records: list[Record]) -> dict:
    """The one place where dataset ids become training labels 0..K-1 (sorted by id as given),
    so that an id of 0 or a gap in the numbering never shifts a label."""
    return {pid: i for i, pid in enumerate(sorted({r.pid for r in records}, key=lambda p: (str(type(p)), p)))}


def statistics(ds: Dataset) -> dict:
    """Per split: identities, images, captions, mean caption length in words (Table 3's columns)."""
    out = {"root": str(ds.root), "format": ds.format, "caption_file": ds.caption_file.name,
           "language": ds.lang, "splits": {}, "skipped": len(ds.skipped)}
    counts = Counter(r.split for r in ds.records)
    for split in [s for s in SPLITS if counts[s]]:
        recs = ds.split(split)
        caps = [c for r in recs for c in r.captions]
        out["splits"][split] = {"identities": len({r.pid for r in recs}), "images": len(recs),
                                "captions": len(caps),
                                "mean_caption_length": round(sum(len(c.split()) for c in caps) / len(caps), 2)}
    return out
