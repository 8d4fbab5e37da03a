"""NP coverage (the paper's Table 2) and, on SynthPEDES, precision against ground truth.

Per part: total = phrases that truly describe the part (SynthPEDES records which attribute each
caption mentions); matched = those the mapping assigns to that part (coverage = matched / total);
predicted = phrases the mapping assigns to the part; precision = correct / predicted.
Phrases that name no part (pose, view, setting: ground-truth part None) never count towards
coverage, but one the lexicon maps to a part ('seen from the back') is a wrong prediction."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from glalign.constants import PARTS
from glalign.data.formats import dataset_cache_dir
from glalign.text.phrases import cached_extract


def _contains(phrase_text: str, noun: str) -> bool:
    """Does the phrase contain the noun, ignoring case, spaces, hyphens and underscores?"""
    squash = lambda t: re.sub(r"[\W_]+", "", t.lower())  # noqa: E731
    return squash(noun) in squash(phrase_text)


def coverage_table(root, lang: str, mode: str, split: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Returns (table with one row per part plus Overall, unmatched phrase examples)."""
    from glalign.data.records import load_dataset

    root = Path(root)
    ds = load_dataset(root, lang=lang, check_images=False)
    records = ds.records if split is None else ds.split(split)
    truth = json.loads((root / "annotations.json").read_text(encoding="utf-8"))["captions"]
    captions = [c for r in records for c in r.captions]
    extracted = cached_extract(captions, lang, mode, dataset_cache_dir(root))
    stats = {p: {"total_nps": 0, "matched": 0, "predicted": 0, "correct": 0} for p in PARTS}
    unmatched: list[str] = []
    i = 0
    for r in records:
        for ci, _ in enumerate(r.captions):
            phrases = extracted[i]
            i += 1
            gt = [m for m in truth[r.file_path][lang][ci] if m["part"] is not None]
            for m in gt:
                stats[m["part"]]["total_nps"] += 1
                if any(p.part == m["part"] and _contains(p.text, m["noun"]) for p in phrases):
                    stats[m["part"]]["matched"] += 1
            for p in phrases:
                if p.part is None:
                    if any(_contains(p.text, m["noun"]) for m in gt):
                        unmatched.append(p.text)
                    continue
                stats[p.part]["predicted"] += 1
                if any(m["part"] == p.part and _contains(p.text, m["noun"]) for m in gt):
                    stats[p.part]["correct"] += 1
    rows = [{"part": p, **s} for p, s in stats.items()]
    overall = {k: sum(r[k] for r in rows) for k in ("total_nps", "matched", "predicted", "correct")}
    rows.append({"part": "Overall", **overall})
    table = pd.DataFrame(rows)
    table["coverage"] = (100 * table.matched / table.total_nps.clip(lower=1)).round(1)
    table["precision"] = (100 * table.correct / table.predicted.clip(lower=1)).round(1)
    table.insert(0, "mode", mode)
    table.insert(0, "lang", lang)
    return table, unmatched
