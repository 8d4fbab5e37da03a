"""Noun phrases with the part each names, per caption: the parse (glalign.text.np_parsers: spaCy for
English, underthesea for Vietnamese) mapped through the part lexicon, part phrases for the local
branch, the `glalign text phrases` stream, and the parse's JSON cache beside a dataset."""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from glalign.constants import PARTS
from glalign.data.formats import dataset_cache_dir  # noqa: F401  (its home; re-exported for callers)
from glalign.errors import GlalignError
from glalign.fingerprint import digest
from glalign.text.lexicon import part_of
from glalign.text.np_parsers import SPACY_MODELS, Parsed, english_nlp, noun_phrases  # noqa: F401  (old home)

EXTRACTOR_VERSION = "np-5"  # in the cache's file name: bump when the parse changes


@dataclass(frozen=True)
class Phrase:
    text: str
    head: str
    part: str | None


def with_parts(parsed: list[list[Parsed]], lang: str, mode: str) -> list[list[Phrase]]:
    """Parsed noun phrases, each with the part the `mode` lexicon says its head names (or None)."""
    return [[Phrase(text, head, part_of(head, lemma, lang, mode)) for text, head, lemma in caption]
            for caption in parsed]


def extract(texts: Iterable[str], lang: str, mode: str = "extended") -> list[list[Phrase]]:
    """Noun phrases of each caption, each with the part it names (or None)."""
    return with_parts(noun_phrases(texts, lang), lang, mode)


def part_phrases(phrases: list[Phrase]) -> dict[str, str]:
    """NPs of the same part joined into one part phrase (what the local branch encodes), as plain
    text: Vietnamese word-segmentation underscores ('giày_thể_thao') are undone, since a
    caption-trained tokenizer would read them as unknown tokens (PhoBERT's view re-segments)."""
    grouped: dict[str, list[str]] = {}
    for p in phrases:
        if p.part is not None:
            grouped.setdefault(p.part, []).append(p.text.replace("_", " "))
    return {part: ", ".join(grouped[part]) for part in PARTS if part in grouped}


def read_lines(path=None) -> Iterator[str]:
    """Caption lines of a UTF-8 file (or of stdin when path is None), decoded line by line so a
    long stream starts at once; a bad byte stops with its line number instead of a traceback."""
    import sys

    if path is None:
        yield from _decode_lines(sys.stdin.buffer, "standard input")
        return
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise GlalignError(f"{path}: cannot read the caption file ({exc.strerror})") from None
    with fh:
        yield from _decode_lines(fh, path)


def _decode_lines(fh, name) -> Iterator[str]:
    for i, raw in enumerate(fh, 1):
        try:
            yield raw.decode("utf-8-sig" if i == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise GlalignError(f"{name}: line {i} is not UTF-8 text ({exc.reason}); re-save it as UTF-8") from None


def stream_phrases(lines: Iterable[str], lang: str, mode: str = "extended", batch: int = 64) -> Iterator[dict]:
    """`glalign text phrases`: one JSON-able object per non-empty input line, in input order."""
    buf: list[str] = []

    def flush():
        for caption, phrases in zip(buf, extract(buf, lang, mode)):
            yield {"caption": caption, "phrases": [{"text": p.text, "part": p.part} for p in phrases]}
        buf.clear()

    for line in lines:
        line = line.strip()
        if not line:
            continue
        buf.append(line)
        if len(buf) >= batch:
            yield from flush()
    if buf:
        yield from flush()


# ------------------------------------------------------------------ cache beside the dataset
def _key(text: str) -> str:
    return digest(text, n=16)


def cached_extract(texts: list[str], lang: str, mode: str, cache_dir) -> list[list[Phrase]]:
    """extract() with a JSON cache of the parse (one per language, shared by both lexicon modes),
    keyed by caption text and extractor version; only new captions are parsed, and the cache file
    is replaced atomically."""
    from glalign.io import write_json

    path = Path(cache_dir) / f"phrases-{EXTRACTOR_VERSION}-{lang}.json"
    cache = _read_cache(path)
    missing = sorted({t for t in texts if _key(t) not in cache})
    if missing:
        for text, parsed in zip(missing, noun_phrases(missing, lang)):
            cache[_key(text)] = [list(p) for p in parsed]
        if os.access(path.parent if path.parent.exists() else path.parent.parent, os.W_OK):
            write_json(path, cache, indent=None)
    return with_parts([[tuple(p) for p in cache[_key(t)]] for t in texts], lang, mode)


def _read_cache(path: Path) -> dict:
    """The cache, or {} when it is absent; a damaged one (truncated, edited, wrong shape) is never
    trusted: it is reported and rebuilt from the captions."""
    if not path.exists():
        return {}
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
        ok = isinstance(cache, dict) and all(
            isinstance(v, list) and all(isinstance(p, list) and len(p) == 3 and isinstance(p[0], str)
                                        and isinstance(p[1], str) and (p[2] is None or isinstance(p[2], str))
                                        for p in v) for v in cache.values())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        ok = False
    if not ok:
        warnings.warn(f"{path}: the noun-phrase cache is damaged; rebuilding it", stacklevel=3)
        return {}
    return cache
