"""ROGLE's units: the sentences (long captions) or noun phrases (short captions) that RSM assigns to
regions, each with its ground-truth part where the generator knows it, and the keyword lexicon's
guess beside it."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from glalign.errors import GlalignError
from glalign.text.sentences import split_many


CAPTIONS = ("long", "short")
UNIT = {"long": "sentence", "short": "noun phrase"}


def unit_offsets(text: str, units: list[str]) -> list[tuple[int, int]]:
    """Character span of each unit, found in order (a unit not found gets an empty span)."""
    out, pos = [], 0
    for u in units:
        start = text.find(u, pos)
        if start < 0:
            out.append((pos, pos))
            continue
        out.append((start, start + len(u)))
        pos = start + len(u)
    return out


def truth_by_overlap(spans, sentences) -> list[str | None]:
    """Each unit's ground-truth part: that of the annotated sentence it overlaps most."""
    parts = []
    for a, b in spans:
        best = max(sentences, key=lambda s: min(b, s.end) - max(a, s.start))
        parts.append(best.part if min(b, best.end) - max(a, best.start) > 0 else None)
    return parts


def truth_for_phrases(phrases, mentions: list[dict]) -> list[str | None]:
    """Short captions: a noun phrase takes the part of the first unused annotated mention whose
    noun occurs in it as whole words (annotations.json keeps each mention's noun and part)."""
    used, out = set(), []
    for p in phrases:
        words = p.text.replace("_", " ").lower().split()
        part = None
        for k, m in enumerate(mentions):
            noun = m["noun"].lower().split()
            if k not in used and any(words[i:i + len(noun)] == noun for i in range(len(words) - len(noun) + 1)):
                used.add(k)
                part = m["part"]
                break
        out.append(part)
    return out


def lexicon_part(phrases) -> str | None:
    """A unit's part by the keyword lexicon: the majority part of its noun phrases (ties: the
    part named first); None when no phrase names a part."""
    parts = [p.part for p in phrases if p.part is not None]
    if not parts:
        return None
    counts = Counter(parts)
    best = max(counts.values())
    return next(p for p in parts if counts[p] == best)


@dataclass
class Unit:
    file_path: str
    caption: int
    index: int
    text: str
    truth: str | None  # ground-truth part (None: no region, or no ground truth)
    lexicon: str | None


def caption_units(root: Path, records, lang: str, captions: str) -> dict[str, list[Unit]]:
    """Per image, the units of all its captions in `lang`, with ground truth and the lexicon's part."""
    from glalign.text.phrases import cached_extract, dataset_cache_dir

    out: dict[str, list[Unit]] = {r.file_path: [] for r in records}
    if captions == "long":
        caps = [(r, k, c) for r in records for k, c in enumerate(r.long_captions.get(lang, []))]
        if not caps:
            raise GlalignError(f"{root}/regions.json has no long captions in {lang!r}")
        sentences = split_many([c.text for _, _, c in caps], lang)
        for (r, k, c), ss in zip(caps, sentences):
            truth = truth_by_overlap(unit_offsets(c.text, ss), c.sentences)
            for j, (s, t) in enumerate(zip(ss, truth)):
                out[r.file_path].append(Unit(r.file_path, k, j, s, t, None))
        return out
    from glalign.data.records import load_dataset

    ds = load_dataset(root, lang=lang, check_images=False)
    by_path = {r.file_path: r for r in ds.records}
    ann_path = root / "annotations.json"
    gt = json.loads(ann_path.read_text(encoding="utf-8"))["captions"] if ann_path.exists() else {}
    caps = [(r.file_path, k, c) for r in records if r.file_path in by_path
            for k, c in enumerate(by_path[r.file_path].captions)]
    phrases = cached_extract([c for _, _, c in caps], lang, "extended", dataset_cache_dir(root))
    for (rel, k, _), ps in zip(caps, phrases):
        mentions = gt.get(rel, {}).get(lang)
        truth = truth_for_phrases(ps, mentions[k]) if mentions else [None] * len(ps)
        for j, (p, t) in enumerate(zip(ps, truth)):
            out[rel].append(Unit(rel, k, j, p.text.replace("_", " "), t, p.part))
    return out


def keyword_parts(texts: list[str], lang: str, cache_dir=None) -> list[str | None]:
    """The keyword lexicon's part of each text (lexicon_part of its noun phrases): the text-only
    baseline of RSM and of the local protocol. With cache_dir, the noun-phrase parse is read from
    (and added to) that dataset's phrase cache: the baseline is the same for every run scored."""
    from glalign.text.phrases import cached_extract, extract

    parsed = cached_extract(texts, lang, "extended", cache_dir) if cache_dir else extract(texts, lang)
    return [lexicon_part(phrases) for phrases in parsed]


def add_lexicon(units: dict[str, list[Unit]], lang: str) -> None:
    """The keyword-lexicon baseline's part for each long-caption sentence (short-caption units,
    noun phrases, carry theirs from extraction)."""
    flat = [u for us in units.values() for u in us]
    for u, part in zip(flat, keyword_parts([u.text for u in flat], lang)):
        u.lexicon = part
