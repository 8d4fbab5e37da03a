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

import csv
import errno
import io
import json
import os
import re
import stat
import warnings
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
LANGUAGE_NAMES = {"en": "English", "vi": "Vietnamese"}


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
    """The caption language SynthPEDES recorded in synth.json (None for other datasets)."""
    meta = Path(root) / "synth.json"
    if not meta.exists():
        return None
    try:
        return _load_json(meta)["params"]["native_language"]
    except (KeyError, TypeError):
        raise DataError(f"{meta}: not a SynthPEDES synth.json (no params.native_language); "
                        "regenerate the domain or delete the file") from None


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


def _load_json(path: Path):
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply to be a dataset file") from None


def _manifest_rows(path: Path):
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


def _raw_entries(path: Path, fmt: str) -> list[tuple[str, dict]]:
    """(source, entry) pairs in the CUHK schema, from any supported file."""
    if fmt == "manifest":
        grouped: dict[str, dict] = {}
        for line, row in _manifest_rows(path):
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
    if isinstance(pid, bool) or not isinstance(pid, (int, float, str)):
        raise ValueError(f"id must be a number or a string, got {pid!r:.40}")
    if isinstance(pid, str) and pid.strip().lstrip("-").isdigit():
        return int(pid)
    if isinstance(pid, float) and pid.is_integer():
        return int(pid)
    return pid


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
    entries = _raw_entries(path, fmt)
    found, evidence = _file_language(root, path, entries)
    if lang and found and found != lang:
        raise DataError(_language_mismatch(root, path, fmt, lang, found, evidence))
    lang = lang or found
    img_root = root if fmt == "manifest" else root / "imgs"
    records, skipped, seen = [], [], {}

    def bad(msg):
        if not skip_bad:
            raise DataError(f"{path}: {msg}")
        skipped.append(msg)

    for src, e in entries:
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
        rel = e["file_path"]
        if not isinstance(rel, str) or not rel.strip() or not Path(rel).name:
            bad(f"{src}: has no file_path (got {rel!r:.40})")
            continue
        if outside_root(rel):
            bad(f"{src}: file_path {rel!r} points outside the dataset folder; paths must be relative "
                f"to {img_root} without '..'")
            continue
        if rel in seen:
            bad(f"{src}: file_path {rel} already used by {seen[rel]}")
            continue
        image = img_root / rel
        if check_images:
            problem = _image_problem(image)
            if problem:
                bad(f"{src}: {problem}")
                continue
        seen[rel] = src
        mask = mask_root / Path(rel).with_suffix(".png")
        records.append(Record(image=image, file_path=rel, pid=pid, captions=[c.strip() for c in caps],
                              split=e["split"], lang=lang, source=src,
                              mask=mask if mask.exists() or mask.is_symlink() else None))

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


def outside_root(rel: str) -> bool:
    """True for a dataset file_path that would read outside the dataset folder: absolute (POSIX or
    Windows) or climbing with '..'. Judged on the text, so a symlinked imgs/ folder still works."""
    parts = re.split(r"[\\/]+", rel)
    return rel.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", rel)) or ".." in parts


def open_image(path, what: str = "image", root=None):
    """Open an image (or part label map) lazily with PIL, or raise DataError saying why not. The one
    rule for every image file the package reads: inside `root` when given, not a dangling or looping
    symbolic link, a regular file, and at most PIL's MAX_IMAGE_PIXELS (a decompression bomb is
    refused from its header, before any pixel is decoded)."""
    from PIL import Image

    path = Path(path)
    if root is not None and outside_root(os.path.relpath(path, root)):
        raise DataError(f"{what} {path} is outside the dataset folder {root}")
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            problem = "is a symbolic link loop"
        elif path.is_symlink():
            problem = f"is a broken symbolic link (its target {os.readlink(path)} does not exist)"
        elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
            problem = "is missing"
        else:
            problem = f"cannot be opened ({exc.strerror})"
        raise DataError(f"{what} {path} {problem}") from None
    if not stat.S_ISREG(mode):
        raise DataError(f"{what} {path} is not a file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise DataError(f"{what} {path} is refused as a possible decompression bomb ({exc})") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise DataError(f"{what} {path} cannot be read ({type(exc).__name__})") from None


def load_rgb(path, what: str = "image", root=None):
    """The image decoded as RGB (a PIL image), through open_image's rule; a file that opens but
    does not decode (truncated, damaged) is a DataError naming it, not PIL's bare OSError."""
    with open_image(path, what=what, root=root) as im:
        try:
            return im.convert("RGB")
        except (OSError, ValueError, SyntaxError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise  # the file system's own refusal (glalign.cli reports it)
            raise DataError(f"{what} {path} cannot be decoded ({exc}); replace the file or remove its entry") from None


def _image_problem(path: Path) -> str | None:
    try:
        with open_image(path) as im:
            im.verify()
    except DataError as exc:
        return str(exc)
    except Exception as exc:  # PIL's verify raises many types for a broken file
        return f"image {path} cannot be read ({type(exc).__name__})"
    return None


# ------------------------------------------------------------------ caption language
_VI_LETTERS = set("ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")
_EN_WORDS = {"a", "an", "the", "and", "with", "is", "in", "of", "on", "wearing", "has", "his", "her", "he",
             "she", "wears", "carrying"}


def caption_language(captions, sample: int = 200) -> str | None:
    """'vi' when at least half of the first `sample` captions use Vietnamese letters (đ, ư, ơ, tone
    marks), 'en' when at least half are ASCII with English function words, else None (cannot tell;
    e.g. Vietnamese typed without diacritics)."""
    caps = [c.lower() for c in list(captions)[:sample] if isinstance(c, str) and c.strip()]
    if not caps:
        return None
    if sum(any(ch in _VI_LETTERS for ch in c) for c in caps) >= len(caps) / 2:
        return "vi"
    if sum(c.isascii() and bool(_EN_WORDS & set(re.findall(r"[a-z]+", c))) for c in caps) >= len(caps) / 2:
        return "en"
    return None


def _file_language(root: Path, path: Path, entries) -> tuple[str | None, str]:
    """(language of a caption file's captions, the evidence): a reid_raw_<lang>.json name,
    synth.json, a language field on every entry, or the caption heuristic."""
    m = re.fullmatch(r"reid_raw_([a-z]{2})\.json", path.name)
    if m:
        return m.group(1), f"the file name {path.name}"
    native = native_language(root)
    if native:
        return native, f"{root / 'synth.json'}"
    declared = {str(e.get("language", e.get("lang"))) for _, e in entries}
    if len(declared) == 1 and declared <= set(LANGUAGE_NAMES):
        return declared.pop(), "the entries' language field"
    caps = [c for _, e in entries[:200] for c in (e["captions"] if isinstance(e["captions"], list)
                                                  else [e["captions"]])]
    found = caption_language(caps)
    return found, "the letters and words of its captions"


def _language_mismatch(root, path, fmt, lang, found, evidence) -> str:
    name = lambda code: f"{LANGUAGE_NAMES.get(code, code)} ({code})"  # noqa: E731
    where = ("" if fmt == "manifest" else
             f"; put the {LANGUAGE_NAMES.get(lang, lang)} captions in {root / f'reid_raw_{lang}.json'}")
    return (f"{path}: asked for {name(lang)} captions, but this dataset's captions are {name(found)} "
            f"(from {evidence}) and it has no {LANGUAGE_NAMES.get(lang, lang)} variant{where}, "
            f"or use --lang {found}")


def has_captions_in(root, lang: str, fmt: str = "auto") -> bool:
    """Whether the dataset at `root` has captions in `lang`: its reid_raw_<lang>.json variant exists,
    or its main caption file is in `lang` (synth.json, a language field, else caption_language).
    A dataset whose language cannot be told counts as yes: callers refuse only on evidence."""
    root = Path(root)
    fmt = detect_format(root) if fmt in (None, "auto") else fmt
    path = caption_file(root, fmt, lang)
    found, _ = _file_language(root, path, _raw_entries(path, fmt))
    return found in (None, lang)


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
