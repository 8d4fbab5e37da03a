"""Figures for the notebooks and the CLI: examples with part masks, result strips, explanations."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from glalign import PARTS  # noqa: E402
from glalign.parsing.masks import stripes_label_map  # noqa: E402

PART_COLOURS = np.array([(0, 0, 0), (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180)],
                        np.uint8)


def _load(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _label(record) -> np.ndarray:
    if record.mask is not None:
        with Image.open(record.mask) as im:
            return np.asarray(im)
    img = _load(record.image)
    return stripes_label_map(*img.shape[:2])


def examples_figure(records, n: int = 8, title: str = "", estimated=None):
    """The paper's Fig. 2: images over their part label maps. `estimated`: the same images'
    records with a parser's masks, drawn in a third row under the ground truth."""
    rows = [records[:n]] + ([estimated[:n]] if estimated is not None else [])
    fig, axes = plt.subplots(1 + len(rows), len(rows[0]), figsize=(1.3 * len(rows[0]), 2.6 * (1 + len(rows))),
                             squeeze=False)
    for i, r in enumerate(rows[0]):
        axes[0, i].imshow(_load(r.image))
        for row, recs in enumerate(rows, start=1):
            axes[row, i].imshow(PART_COLOURS[_label(recs[i])])
        axes[0, i].set_title(f"id {r.pid}", fontsize=8)
        for ax in axes[:, i]:
            ax.axis("off")
    if estimated is not None:
        for row, name in ((1, "ground truth"), (2, "estimated")):
            axes[row, 0].text(-0.1, 0.5, name, transform=axes[row, 0].transAxes, rotation=90, va="center",
                              ha="right", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=PART_COLOURS[i + 1] / 255) for i in range(len(PARTS))]
    fig.legend(handles, PARTS, loc="lower center", ncol=5, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def contact_sheet(root, out, n_ids: int = 20, fmt: str = "auto") -> Path:
    """A sheet of n identities (image, mask, first caption) saved as PNG, to look at the data."""
    import textwrap

    from glalign.data.records import load_dataset

    ds = load_dataset(root, fmt=fmt, check_images=False)
    seen, picks = set(), []
    for r in ds.records:
        if r.pid not in seen:
            seen.add(r.pid)
            picks.append(r)
        if len(picks) >= n_ids:
            break
    cols = 5
    rows = (len(picks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols * 2, figsize=(cols * 3.4, rows * 3.6), squeeze=False)
    for k, r in enumerate(picks):
        a, b = axes[k // cols, 2 * (k % cols)], axes[k // cols, 2 * (k % cols) + 1]
        a.imshow(_load(r.image))
        b.imshow(PART_COLOURS[_label(r)])
        a.set_title(f"id {r.pid}", fontsize=8)
        b.set_title("\n".join(textwrap.wrap(r.captions[0], 30)[:7]), fontsize=5.5, loc="left")
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    out = Path(out)
    from glalign.io import atomic_path

    try:
        with atomic_path(out) as tmp:  # a full disk leaves no empty or half-written sheet
            fig.savefig(tmp, dpi=120, format={".jpg": "jpg", ".jpeg": "jpg", ".pdf": "pdf", ".svg": "svg"}.get(
                out.suffix.lower(), "png"))
    finally:
        plt.close(fig)
    return out


def result_strip(query: str, paths: list, scores: list, correct: list | None = None, title: str = ""):
    """Top-k images left to right; green frame = correct match, red = wrong (when known)."""
    fig, axes = plt.subplots(1, len(paths), figsize=(1.2 * len(paths), 2.9), squeeze=False)
    for i, (p, s) in enumerate(zip(paths, scores)):
        ax = axes[0, i]
        ax.imshow(_load(p))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"#{i + 1}\n{s:.3f}", fontsize=7)
        if correct is not None:
            for spine in ax.spines.values():
                spine.set_edgecolor("green" if correct[i] else "red")
                spine.set_linewidth(3)
    fig.suptitle(title or query, fontsize=8, wrap=True)
    return fig


def explanation_figure(explanation: dict, image_path, label: np.ndarray | None = None):
    """Image with each query part's region outlined, and per-part local similarity bars."""
    img = _load(image_path)
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(7, 3.6), gridspec_kw={"width_ratios": [1, 2.2]})
    ax_img.imshow(img)
    ax_img.axis("off")
    if label is not None:
        for i, name in enumerate(PARTS):
            if any(p["part"] == name for p in explanation["phrases"]):
                ax_img.contour(label == i + 1, levels=[0.5], colors=[PART_COLOURS[i + 1] / 255], linewidths=1.2)
    names = [f"{p['part']}: {p['text']}"[:48] for p in explanation["phrases"]]
    sims = [p["similarity"] for p in explanation["phrases"]]
    colours = [PART_COLOURS[PARTS.index(p["part"]) + 1] / 255 for p in explanation["phrases"]]
    ax_bar.barh(names + ["GLOBAL"], sims + [explanation["global"]], color=colours + [(0.3, 0.3, 0.3)])
    ax_bar.invert_yaxis()
    ax_bar.set_xlabel("cosine similarity")
    ax_bar.set_title(f"fused score {explanation['score']:.3f} (α = {explanation['alpha']})", fontsize=9)
    fig.tight_layout()
    return fig
