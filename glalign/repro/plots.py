"""Figures for the notebooks and the CLI: examples with part masks, result strips, explanations,
the method notebook's similarity heat map; and, re-exported, the palette and notebook style
(figure_style) and the result figures (result_figures: CMC curves, McNemar's discordant counts,
training curves, failure panels)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from glalign.constants import PARTS
from glalign.data.masks import stripes_label_map
from glalign.repro.figure_style import (  # noqa: F401  (first: it picks the backend; the palette and style, re-exported)
    CHANCE_STYLE, INLINE_DPI, PART_COLOURS, PART_PALETTE, SAVE_DPI, legend_outside, load_rgb_array, notebook_style,
)
from glalign.repro.result_figures import (  # noqa: F401  (re-exported: glalign.plots is this module)
    LOSS_COLOURS, cmc_figure, discordant_figure, failure_panel, training_steps_figure,
)

import matplotlib.pyplot as plt  # noqa: E402  (after figure_style, which picks the backend)


def _label(record) -> np.ndarray:
    if record.mask is not None:
        from glalign.data.images import open_image

        with open_image(record.mask, what="part label map") as im:
            return np.asarray(im)
    img = load_rgb_array(record.image)
    return stripes_label_map(*img.shape[:2])


def examples_figure(records, n: int = 8, title: str = "", estimated=None):
    """The paper's Fig. 2: images over their part label maps. `estimated`: the same images'
    records with a parser's masks, drawn in a third row under the ground truth."""
    rows = [records[:n]] + ([estimated[:n]] if estimated is not None else [])
    fig, axes = plt.subplots(1 + len(rows), len(rows[0]), figsize=(1.3 * len(rows[0]), 2.6 * (1 + len(rows))),
                             squeeze=False)
    for i, r in enumerate(rows[0]):
        axes[0, i].imshow(load_rgb_array(r.image))
        for row, recs in enumerate(rows, start=1):
            axes[row, i].imshow(PART_COLOURS[_label(recs[i])])
        axes[0, i].set_title(f"id {r.pid}", fontsize=8)
        for ax in axes[:, i]:
            ax.axis("off")
    if estimated is not None:
        for row, name in ((1, "ground truth"), (2, "estimated")):
            axes[row, 0].text(-0.1, 0.5, name, transform=axes[row, 0].transAxes, rotation=90, va="center",
                              ha="right", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=PART_PALETTE[p]) for p in PARTS]
    fig.legend(handles, PARTS, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=5, fontsize=9, frameon=False)
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
        a.imshow(load_rgb_array(r.image))
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
            fig.savefig(tmp, dpi=SAVE_DPI, format={".jpg": "jpg", ".jpeg": "jpg", ".pdf": "pdf", ".svg": "svg"}.get(
                out.suffix.lower(), "png"))
    finally:
        plt.close(fig)
    return out


def result_strip(query: str, paths: list, scores: list, correct: list | None = None, title: str = ""):
    """Top-k images left to right; green frame = correct match, red = wrong (when known)."""
    fig, axes = plt.subplots(1, len(paths), figsize=(1.2 * len(paths), 2.9), squeeze=False)
    for i, (p, s) in enumerate(zip(paths, scores)):
        ax = axes[0, i]
        ax.imshow(load_rgb_array(p))
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
    img = load_rgb_array(image_path)
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(7, 3.6), gridspec_kw={"width_ratios": [1, 2.2]})
    ax_img.imshow(img)
    ax_img.axis("off")
    if label is not None:
        for i, name in enumerate(PARTS):
            if any(p["part"] == name for p in explanation["phrases"]):
                ax_img.contour(label == i + 1, levels=[0.5], colors=[PART_PALETTE[name]], linewidths=1.2)
    names = [f"{p['part']}: {p['text']}"[:48] for p in explanation["phrases"]]
    sims = [p["similarity"] for p in explanation["phrases"]]
    colours = [PART_PALETTE[p["part"]] for p in explanation["phrases"]]
    ax_bar.barh(names + ["GLOBAL"], sims + [explanation["global"]], color=colours + [(0.3, 0.3, 0.3)])
    ax_bar.invert_yaxis()
    ax_bar.set_xlabel("cosine similarity")
    ax_bar.set_title(f"fused score {explanation['score']:.3f} (α = {explanation['alpha']})", fontsize=9)
    fig.tight_layout()
    return fig


def similarity_heatmap(sim: np.ndarray, phrase_labels: list[str], phrase_parts: list[str], region_labels: list[str],
                       region_parts: list[str], positives: np.ndarray | None = None, title: str = ""):
    """Phrases (rows) x regions (columns) cosine similarity; tick labels in their part's colour,
    positive pairs (the phrase's own image and part) outlined."""
    from matplotlib.patches import Rectangle

    h, w = sim.shape
    fig, ax = plt.subplots(figsize=(1.2 + 0.42 * w, 1.4 + 0.36 * h))
    im = ax.imshow(sim, cmap="viridis", aspect="auto")
    ax.set_xticks(range(w), region_labels, rotation=90, fontsize=8)
    ax.set_yticks(range(h), phrase_labels, fontsize=8)
    for tick, part in zip(ax.get_xticklabels(), region_parts):
        tick.set_color(PART_PALETTE[part])
    for tick, part in zip(ax.get_yticklabels(), phrase_parts):
        tick.set_color(PART_PALETTE[part])
    if positives is not None:
        for i, j in zip(*np.nonzero(positives)):
            ax.add_patch(Rectangle((j - .5, i - .5), 1, 1, fill=False, ec="white", lw=2))
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="cosine similarity")
    ax.set_xlabel("image regions (image · part)")
    ax.set_ylabel("noun phrases (caption · part)")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
