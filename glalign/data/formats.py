"""Dataset file formats: which layout a folder is in, where its caption file is, and its raw
entries in the CUHK-PEDES schema (split, captions, file_path, id), each problem named with its
file and entry. Read as UTF-8 only (a BOM is dropped; other encodings are refused, not guessed)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from glalign.errors import DataError

SPLITS = ("train", "val", "test")
FORMATS = ("cuhk-pedes", "icfg-pedes", "rstpreid", "vn3k", "manifest")
JSON_FILES = {
    "cuhk-pedes": ("reid_raw.json",),
    "vn3k": ("reid_raw.json", "3000VnPerson-Search.json", "data.json"),
    "icfg-pedes": ("ICFG-PEDES.json", "ICFG_PEDES.json"),
    "rstpreid": ("data_captions.json",),
}
PATH_KEY = {"cuhk-pedes": "file_path", "vn3k": "file_path", "icfg-pedes": "file_path", "rstpreid": "img_path"}


def detect_format(root: Path) -> str:
    if (root / "manifest.csv").exists() or (root / "manifest.jsonl").exists():
        return "manifest"
    if (root / "data_captions.json").exists():
        return "rstpreid"
    if any((root / n).exists() for n in JSON_FILES["icfg-pedes"]):
        return "icfg-pedes"
    if (root / "reid_raw.json").exists():
        return "cuhk-pedes"
    raise DataError(f"{root}: cannot tell the dataset format (no reid_raw.json, ICFG-PEDES.json, "
                    "data_captions.json or manifest.csv/jsonl); pass --format")


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
    for name in JSON_FILES[fmt]:
        if (root / name).exists():
            return root / name
    raise DataError(f"{root}: no {' or '.join(JSON_FILES[fmt])} for format {fmt}")


def read_text(path: Path) -> str:
    """A text file as UTF-8 (a leading BOM, as Excel writes, is dropped); other encodings are
    refused with the line of the first bad byte rather than guessed."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line} is not UTF-8 text ({exc.reason}); re-save the file as "
                        "UTF-8 (it may be Windows-1252 or Latin-1)") from None


def load_json(path: Path):
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply to be a dataset file") from None


def manifest_rows(path: Path):
    text = read_text(path)
    if path.suffix == ".jsonl":
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {i} is not JSON: {exc.msg}") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path}: line {i} is a JSON {type(row).__name__}, not an object "
                                    "with image, id, caption, split")
                yield i, row
    else:
        for i, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), 2):
            yield i, row


def raw_entries(path: Path, fmt: str) -> list[tuple[str, dict]]:
    """(source, entry) pairs in the CUHK schema, from any supported file."""
    if fmt == "manifest":
        grouped: dict[str, dict] = {}
        for line, row in manifest_rows(path):
            missing = [k for k in ("image", "id", "caption", "split") if k not in row]
            if missing:
                raise DataError(f"{path}: line {line}: missing column(s) {', '.join(missing)}")
            if not isinstance(row["image"], str) or not row["image"].strip():
                raise DataError(f"{path}: line {line}: no image path (got {row['image']!r})")
            entry = grouped.setdefault(row["image"], {"file_path": row["image"], "id": row["id"],
                                                      "split": row["split"], "captions": [],
                                                      "language": row.get("language", row.get("lang")),
                                                      "_line": line})
            if entry["id"] != row["id"] or entry["split"] != row["split"]:
                raise DataError(f"{path}: line {line}: image {row['image']} has conflicting id/split "
                                f"with line {entry['_line']}")
            entry["captions"].append(row["caption"])
        return [(f"{path.name} line {e.pop('_line')}", e) for e in grouped.values()]
    data = load_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of entries, found {type(data).__name__}")
    key = PATH_KEY[fmt]
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


def normalise_pid(pid):
    """Ids are kept as given: ints stay ints; numeric strings become ints (CSV has no types)."""
    if isinstance(pid, bool) or not isinstance(pid, (int, float, str)):
        raise ValueError(f"id must be a number or a string, got {pid!r:.40}")
    if isinstance(pid, str) and pid.strip().lstrip("-").isdigit():
        return int(pid)
    if isinstance(pid, float) and pid.is_integer():
        return int(pid)
    return pid


def dataset_cache_dir(root) -> Path:
    """Where glalign keeps what it derives from a dataset folder (noun phrases, decoded images)."""
    return Path(root) / ".glalign-cache"
