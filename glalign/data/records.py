"""Readers for the real TBPS layouts, all into one record type.

Supported layouts (image paths are relative to DIR/imgs unless a manifest gives them):
  cuhk-pedes  DIR/reid_raw.json  [{"split","captions","file_path","id"}]   (CUHK-PEDES, CUHK-PEDES-VN)
  vn3k        the same schema with Vietnamese captions (3000VnPerson-Search and its English 3000Vn-V2E)
  icfg-pedes  DIR/ICFG-PEDES.json (or ICFG_PEDES.json), same keys as CUHK-PEDES
  rstpreid    DIR/data_captions.json [{"id","img_path","captions","split"}]
  manifest    DIR/manifest.csv or DIR/manifest.jsonl: one row per caption with image, id, caption, split

A language variant sits beside the main file as reid_raw_<lang>.json (SynthPEDES writes one;
CUHK-PEDES-VN can be placed the same way). Part label maps, when present, are DIR/parsing/<file_path>."""
from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from glalign.errors import DataError, GlalignError

SPLITS = ("train", "val", "test")
FORMATS = ("cuhk-pedes", "icfg-pedes", "rstpreid", "vn3k", "manifest")
_JSON_FILES = {
    "cuhk-pedes": ("reid_raw.json",),
    "vn3k": ("reid_raw.json", "3000VnPerson-Search.json", "data.json"),
    "icfg-pedes": ("ICFG-PEDES.json", "ICFG_PEDES.json"),
    "rstpreid": ("data_captions.json",),
}
_PATH_KEY = {"cuhk-pedes": "file_path", "vn3k": "file_path", "icfg-pedes": "file_path", "rstpreid": "img_path"}


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


def detect_format(root: Path) -> str:
    if (root / "manifest.csv").exists() or (root / "manifest.jsonl").exists():
        return "manifest"
    if (root / "data_captions.json").exists():
        return "rstpreid"
    if any((root / n).exists() for n in _JSON_FILES["icfg-pedes"]):
        return "icfg-pedes"
    if (root / "reid_raw.json").exists():
        return "cuhk-pedes"
    raise DataError(f"{root}: cannot tell the dataset format (no reid_raw.json, ICFG-PEDES.json, "
                    "data_captions.json or manifest.csv/jsonl); pass --format")


def native_language(root: Path) -> str | None:
    meta = root / "synth.json"
    if meta.exists():
        return json.loads(meta.read_text())["params"]["native_language"]
    return None


def caption_file(root: Path, fmt: str, lang: str | None) -> Path:
    if fmt == "manifest":
        for name in ("manifest.jsonl", "manifest.csv"):
            if (root / name).exists():
                return root / name
        raise DataError(f"{root}: no manifest.csv or manifest.jsonl")
    if lang:
        variant = root / f"reid_raw_{lang}.json"
        if variant.exists():
            return variant
    for name in _JSON_FILES[fmt]:
        if (root / name).exists():
            return root / name
    raise DataError(f"{root}: no {' or '.join(_JSON_FILES[fmt])} for format {fmt}")


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _manifest_rows(path: Path):
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield i, json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}: line {i} is not JSON: {exc.msg}") from None
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh), 2):
                yield i, row


def _raw_entries(path: Path, fmt: str) -> list[tuple[str, dict]]:
    """(source, entry) pairs in the CUHK schema, from any supported file."""
    if fmt == "manifest":
        grouped: dict[str, dict] = {}
        for line, row in _manifest_rows(path):
            missing = [k for k in ("image", "id", "caption", "split") if k not in row]
            if missing:
                raise DataError(f"{path}: line {line}: missing column(s) {', '.join(missing)}")
            entry = grouped.setdefault(row["image"], {"file_path": row["image"], "id": row["id"],
                                                      "split": row["split"], "captions": [],
                                                      "_line": line})
            if entry["id"] != row["id"] or entry["split"] != row["split"]:
                raise DataError(f"{path}: line {line}: image {row['image']} has conflicting id/split "
                                f"with line {entry['_line']}")
            entry["captions"].append(row["caption"])
        return [(f"{path.name} line {e.pop('_line')}", e) for e in grouped.values()]
    data = _load_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of entries, found {type(data).__name__}")
    key = _PATH_KEY[fmt]
    out = []
    for i, entry in enumerate(data):
        src = f"{path.name} entry {i}"
        if not isinstance(entry, dict):
            raise DataError(f"{path}: {src} is not an object")
        missing = [k for k in ("split", "captions", key, "id") if k not in entry]
        if missing:
            raise DataError(f"{path}: {src}: missing key(s) {', '.join(missing)}")
        e = dict(entry)
        e["file_path"] = e.pop(key) if key != "file_path" else e["file_path"]
        out.append((src, e))
    return out


def _normalise_pid(pid):
    """Ids are kept as given: ints stay ints; numeric strings become ints (CSV has no types)."""
    if isinstance(pid, bool) or pid is None:
        raise ValueError("id must be a number or a string")
    if isinstance(pid, str) and pid.strip().lstrip("-").isdigit():
        return int(pid)
    if isinstance(pid, float) and pid.is_integer():
        return int(pid)
    return pid


def load_dataset(root, fmt: str = "auto", lang: str | None = None, skip_bad: bool = False,
                 check_images: bool = True) -> Dataset:
    """Read and validate a dataset. Every problem names the file and the entry; with skip_bad
    the bad entries are dropped and listed in Dataset.skipped instead of raising."""
    root = Path(root)
    if not root.is_dir():
        raise GlalignError(f"dataset folder {root} does not exist")
    fmt = detect_format(root) if fmt in (None, "auto") else fmt
    if fmt not in FORMATS:
        raise GlalignError(f"unknown dataset format {fmt!r}; choose one of {', '.join(FORMATS)}")
    path = caption_file(root, fmt, lang)
    lang = lang or native_language(root)
    img_root = root if fmt == "manifest" else root / "imgs"
    records, skipped, seen = [], [], {}

    def bad(msg):
        if not skip_bad:
            raise DataError(f"{path}: {msg}")
        skipped.append(msg)

    for src, e in _raw_entries(path, fmt):
        caps = e["captions"]
        if isinstance(caps, str):
            caps = [caps]
        if not isinstance(caps, list) or not caps:
            bad(f"{src}: no captions")
            continue
        empty = [i for i, c in enumerate(caps) if not isinstance(c, str) or not c.strip()]
        if empty:
            bad(f"{src}: caption {empty[0]} is empty")
            continue
        if e["split"] not in SPLITS:
            bad(f"{src}: unknown split {e['split']!r} (expected one of {', '.join(SPLITS)})")
            continue
        try:
            pid = _normalise_pid(e["id"])
        except ValueError as exc:
            bad(f"{src}: {exc}")
            continue
        rel = str(e["file_path"])
        if rel in seen:
            bad(f"{src}: file_path {rel} already used by {seen[rel]}")
            continue
        image = img_root / rel
        if check_images:
            problem = _image_problem(image)
            if problem:
                bad(f"{src}: image {image} {problem}")
                continue
        seen[rel] = src
        mask = root / "parsing" / Path(rel).with_suffix(".png")
        records.append(Record(image=image, file_path=rel, pid=pid, captions=[c.strip() for c in caps],
                              split=e["split"], lang=lang, mask=mask if mask.exists() else None, source=src))

    # Identities must not leak between training and evaluation splits.
    by_split: dict[str, set] = {}
    for r in records:
        by_split.setdefault(r.split, set()).add(r.pid)
    leak = by_split.get("train", set()) & (by_split.get("test", set()) | by_split.get("val", set()))
    if leak:
        example = sorted(leak, key=str)[:5]
        msg = (f"{len(leak)} identit{'y is' if len(leak) == 1 else 'ies are'} in both train and test/val "
               f"(e.g. id {', '.join(map(str, example))}); the TBPS protocol needs disjoint identities")
        if not skip_bad:
            raise DataError(f"{path}: {msg}")
        skipped.append(msg)
        records = [r for r in records if not (r.split != "train" and r.pid in leak)]
    if not records:
        raise DataError(f"{path}: no usable entries")
    return Dataset(root=root, format=fmt, caption_file=path, records=records, lang=lang, skipped=skipped)


def _image_problem(path: Path) -> str | None:
    if not path.exists():
        return "is missing"
    try:
        from PIL import Image

        with Image.open(path) as im:
            im.verify()
    except Exception as exc:  # PIL raises many types for a broken file
        return f"cannot be read ({type(exc).__name__})"
    return None


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
