"""`glalign data check`: validate a dataset folder and report Table 3-style statistics."""
from __future__ import annotations

from glalign.data.records import load_dataset, statistics


def check_dataset(root, fmt: str = "auto", skip_bad: bool = False, lang: str | None = None) -> dict:
    ds = load_dataset(root, fmt=fmt, skip_bad=skip_bad, lang=lang)
    stats = statistics(ds)
    stats["problems"] = ds.skipped
    return stats


def format_stats(stats: dict) -> str:
    lines = [f"{stats['root']}  ({stats['format']}, {stats['caption_file']}, language: {stats['language'] or '?'})",
             f"{'split':<6} {'identities':>10} {'images':>8} {'captions':>9} {'mean length':>12}"]
    for split, s in stats["splits"].items():
        lines.append(f"{split:<6} {s['identities']:>10} {s['images']:>8} {s['captions']:>9} "
                     f"{s['mean_caption_length']:>12.2f}")
    if stats["skipped"]:
        lines.append(f"skipped {stats['skipped']} bad entr{'y' if stats['skipped'] == 1 else 'ies'}:")
        lines += [f"  {p}" for p in stats["problems"]]
    return "\n".join(lines)
