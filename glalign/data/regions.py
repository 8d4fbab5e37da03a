"""Region-annotated data with long-form captions (P-VLG-like), read from ROOT/regions.json.

This is the format real region-annotated data converts to (SynthPEDES writes it with
glalign.data.synth_longform.add_longform). A JSON list, one entry per image:

    {"file_path": "00001/00001_0.png",          # relative to ROOT/imgs, as in reid_raw.json
     "id": 1,                                   # person id
     "split": "train" | "val" | "test",
     "regions": [{"part": "HEAD", "box": [y0, x0, y1, x1],
                  "attributes": {"hat": "red hat", ...}}, ...],          # optional
     "long_captions": {"en": [{"text": "...", "sentences": [{"text": "...", "part": "HEAD" | null,
                                                             "words": [...]}]}],   # optional
                       "vi": [...]}}

- part is one of HEAD, UPPERBODY, LOWERBODY, SHOES, OTHERS, at most one region per part (a
  dataset with finer regions maps them to these five, as glalign.parsing maps parser labels);
- box is in pixels, (top, left, bottom, right), bottom/right exclusive, inside the image;
- sentences are the caption's sentences in order, each occurring in "text"; part is the region
  the sentence describes (ground truth for region-sentence matching), null for sentences about
  pose, action or setting; it must name one of the image's regions. A dataset without
  sentence-level ground truth gives every sentence part null.
- attributes (optional) are the region's annotated look, canonical values by slot (string to
  string); two regions of one part with equal attributes look alike to an annotator, which the
  local protocol's attribute relevance uses (glalign.local_protocol). Regions without them are
  left out of that relevance only.
- words (optional) are the attribute words a sentence uses: [{"kind": "colour" | "type",
  "word": its surface form in the sentence, "value": the canonical value it names}]; the local
  protocol's attribute-foil test swaps them. Sentences without them are left out of that test only.

Every problem raises DataError naming regions.json#<entry index> and what to fix."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from glalign.constants import PARTS
from glalign.data.formats import SPLITS, load_json, normalise_pid
from glalign.data.images import open_image, outside_root
from glalign.errors import DataError, GlalignError

REGIONS_FILE = "regions.json"


@dataclass(frozen=True)
class Sentence:
    text: str
    part: str | None
    start: int  # character offset in the caption text
    end: int
    words: tuple[tuple[str, str, str], ...] = ()  # (kind, surface word, canonical value)


@dataclass
class LongCaption:
    text: str
    sentences: list[Sentence]


@dataclass
class RegionRecord:
    """One image, its region boxes by part, and its long captions by language."""
    image: Path
    file_path: str
    pid: int | str
    split: str
    size: tuple[int, int]  # (height, width)
    regions: dict[str, tuple[int, int, int, int]]
    long_captions: dict[str, list[LongCaption]] = field(default_factory=dict)
    source: str = ""
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # part -> its annotated look

    @property
    def present(self) -> list[bool]:
        return [p in self.regions for p in PARTS]


WORD_KINDS = ("colour", "type")


def word_span(text: str, word: str) -> tuple[int, int] | None:
    """Character span of the first whole-word occurrence of `word` in `text` (None: absent)."""
    import re

    m = re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", text)
    return m.span() if m else None


def _words(words, text: str, where: str) -> tuple[tuple[str, str, str], ...]:
    if not isinstance(words, list):
        raise DataError(f"{where}: words must be a list of {{\"kind\", \"word\", \"value\"}}")
    out = []
    for k, w in enumerate(words):
        ok = isinstance(w, dict) and w.get("kind") in WORD_KINDS and all(
            isinstance(w.get(f), str) and w[f] for f in ("word", "value"))
        if not ok:
            raise DataError(f"{where} word {k}: expected {{\"kind\": colour or type, \"word\": str, "
                            f"\"value\": str}}, got {w!r}")
        if word_span(text, w["word"]) is None:
            raise DataError(f"{where} word {k}: {w['word']!r} does not occur in the sentence; give the word "
                            "as the sentence spells it")
        out.append((w["kind"], w["word"], w["value"]))
    return tuple(out)


def _caption(c, where: str, regions: dict) -> LongCaption:
    if not isinstance(c, dict) or not isinstance(c.get("text"), str) or not isinstance(c.get("sentences"), list):
        raise DataError(f"{where}: expected {{\"text\": str, \"sentences\": [...]}}")
    text, pos, sentences = c["text"], 0, []
    for j, s in enumerate(c["sentences"]):
        if not isinstance(s, dict) or not isinstance(s.get("text"), str) or not s["text"].strip():
            raise DataError(f"{where} sentence {j}: expected {{\"text\": non-empty str, \"part\": str or null}}")
        part = s.get("part")
        if part is not None and part not in PARTS:
            raise DataError(f"{where} sentence {j}: unknown part {part!r} (expected one of {', '.join(PARTS)} or null)")
        if part is not None and part not in regions:
            raise DataError(f"{where} sentence {j}: part {part} is not among the image's regions "
                            f"({', '.join(regions) or 'none'}); add its box or set the part to null")
        start = text.find(s["text"], pos)
        if start < 0:
            raise DataError(f"{where} sentence {j}: its text does not occur in the caption text after "
                            "the previous sentence; sentences must be the caption's own text, in order")
        pos = start + len(s["text"])
        sentences.append(Sentence(s["text"], part, start, pos, _words(s.get("words", []), s["text"],
                                                                      f"{where} sentence {j}")))
    if not sentences:
        raise DataError(f"{where}: no sentences")
    return LongCaption(text, sentences)


_LOADED: dict = {}  # (path, mtime, size, check_images) -> records, the last few files read


def load_regions(root, check_images: bool = True) -> list[RegionRecord]:
    """Read and validate ROOT/regions.json (layout in the module docstring). A file read before
    in this process, unchanged since (same modification time and size), is not parsed again
    (validating every sentence's words takes seconds, and one notebook reads the file a dozen
    times); the records are shared, so callers read them and never edit them."""
    root = Path(root)
    path = root / REGIONS_FILE
    if not path.exists():
        raise GlalignError(f"{path} does not exist; convert the region annotations to this layout "
                           "(see glalign.data.regions) or, for a SynthPEDES domain, run "
                           "glalign.data.synth_longform.add_longform")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, check_images)
    if key not in _LOADED:
        if len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = _read_regions(root, path, check_images)
    return list(_LOADED[key])


def _regions(path: Path, src: str, entries, size: tuple[int, int], check_images: bool) -> tuple[dict, dict]:
    """An entry's part boxes ({part: (y0, x0, y1, x1)}, one per part, inside the image) and their
    annotated attributes ({part: {slot: value}}), every problem named with the file and entry."""
    regions: dict[str, tuple[int, int, int, int]] = {}
    attributes: dict[str, dict[str, str]] = {}
    if not isinstance(entries, list):
        raise DataError(f"{path}: {src}: regions must be a list of {{\"part\", \"box\"}}")
    for j, r in enumerate(entries):
        where = f"{src} region {j}"
        part = r.get("part") if isinstance(r, dict) else None
        if part not in PARTS:
            raise DataError(f"{path}: {where}: unknown part {part!r} (expected one of {', '.join(PARTS)})")
        if part in regions:
            raise DataError(f"{path}: {where}: a second {part} region (one box per part)")
        box = r.get("box")
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                for v in box)):
            raise DataError(f"{path}: {where}: box must be [y0, x0, y1, x1] in whole pixels, got {box!r}")
        y0, x0, y1, x1 = box
        if not (0 <= y0 < y1 and 0 <= x0 < x1) or (check_images and (y1 > size[0] or x1 > size[1])):
            raise DataError(f"{path}: {where}: box {box} is empty or outside the image "
                            f"({size[0]}x{size[1]} pixels, height x width)")
        regions[part] = (y0, x0, y1, x1)
        if "attributes" in r:
            a = r["attributes"]
            if not (isinstance(a, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in a.items())):
                raise DataError(f"{path}: {where}: attributes must map a slot to its value (strings), "
                                f"got {a!r}")
            attributes[part] = dict(a)
    return regions, attributes


def _read_regions(root: Path, path: Path, check_images: bool) -> list[RegionRecord]:
    data = load_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of entries, found {type(data).__name__}")
    out, seen = [], {}
    for i, e in enumerate(data):
        src = f"{path.name}#{i}"
        if not isinstance(e, dict):
            raise DataError(f"{path}: entry {src} is not an object")
        missing = [k for k in ("file_path", "id", "split", "regions", "long_captions") if k not in e]
        if missing:
            raise DataError(f"{path}: {src}: missing key(s) {', '.join(missing)}")
        rel = str(e["file_path"])
        if outside_root(rel):
            raise DataError(f"{path}: {src}: file_path {rel} points outside the dataset folder")
        if rel in seen:
            raise DataError(f"{path}: {src}: file_path {rel} already used by {seen[rel]}")
        seen[rel] = src
        if e["split"] not in SPLITS:
            raise DataError(f"{path}: {src}: unknown split {e['split']!r} (expected one of {', '.join(SPLITS)})")
        try:
            pid = normalise_pid(e["id"])
        except ValueError as exc:
            raise DataError(f"{path}: {src}: {exc}") from None
        image = root / "imgs" / rel
        size = (0, 0)
        if check_images:
            try:
                with open_image(image, root=root) as im:
                    size = (im.height, im.width)
            except DataError as exc:
                raise DataError(f"{path}: {src}: {exc}") from None
        regions, attributes = _regions(path, src, e["regions"], size, check_images)
        caps = e["long_captions"]
        if not isinstance(caps, dict):
            raise DataError(f"{path}: {src}: long_captions must map a language to a list of captions")
        long_captions = {}
        for lang, items in caps.items():
            if not isinstance(items, list):
                raise DataError(f"{path}: {src}: long_captions[{lang!r}] must be a list")
            try:
                long_captions[lang] = [_caption(c, f"{src} {lang} caption {k}", regions) for k, c in enumerate(items)]
            except DataError as exc:
                raise DataError(f"{path}: {exc}") from None
        out.append(RegionRecord(image=image, file_path=rel, pid=pid, split=e["split"], size=size, regions=regions,
                                long_captions=long_captions, source=src,
                                attributes=attributes))
    if not out:
        raise DataError(f"{path}: no entries")
    return out


def with_long_captions(records: list, root, lang: str) -> list:
    """Copies of dataset records whose captions are their long-form captions in `lang` (for
    `evaluate --queries long`); records without one are dropped."""
    import dataclasses

    longs = {r.file_path: [c.text for c in r.long_captions.get(lang, [])] for r in load_regions(root, check_images=False)}
    out = [dataclasses.replace(r, captions=longs[r.file_path]) for r in records if longs.get(r.file_path)]
    if not out:
        raise GlalignError(f"{Path(root) / 'regions.json'} has no {lang} long captions for these images")
    return out
