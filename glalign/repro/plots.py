"""Figures for the notebooks and the CLI: examples with part masks, result strips, explanations,
the method notebook's similarity heat map, CMC curves, McNemar's discordant counts.

One part palette for every figure (PART_COLOURS for label maps, PART_PALETTE for plots), one
notebook style (`notebook_style`: figures inline, legible on a projector)."""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules and "ipykernel" not in sys.modules:
    matplotlib.use("Agg")  # the CLI draws into files; a notebook kernel keeps its inline backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from glalign.constants import PARTS  # noqa: E402
from glalign.data.masks import stripes_label_map  # noqa: E402

PART_COLOURS = np.array([(0, 0, 0), (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180)],
                        np.uint8)  # background, then PARTS in order
PART_PALETTE = {name: "#%02x%02x%02x" % tuple(PART_COLOURS[i + 1]) for i, name in enumerate(PARTS)}
SAVE_DPI = 150     # saved PNGs: sharp on a projector
INLINE_DPI = 100   # figures shown in a notebook
CHANCE_STYLE = dict(color="k", ls="--", lw=2)


def notebook_style() -> None:
    """The style every notebook sets up with: seaborn's whitegrid at a size that reads from the
    back of a room, inline figures at INLINE_DPI, saved ones at SAVE_DPI."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": INLINE_DPI, "savefig.dpi": SAVE_DPI, "savefig.bbox": "tight",
                         "legend.frameon": False})


def legend_outside(ax, **kwargs) -> None:
    """Move an axis' legend (made by matplotlib or seaborn) to the right of the plot, off the data."""
    import seaborn as sns

    if ax.get_legend() is None:
        if not ax.get_legend_handles_labels()[0]:
            return
        ax.legend()
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kwargs)


def _load(path) -> np.ndarray:
    """An image as RGB, through the package's one image-reading rule (glalign.data.images)."""
    from glalign.data.images import load_rgb

    return np.asarray(load_rgb(path))


def _label(record) -> np.ndarray:
    if record.mask is not None:
        from glalign.data.images import open_image

        with open_image(record.mask, what="part label map") as im:
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


def cmc_figure(cmcs: dict, chance: dict | None = None, title: str = "CMC"):
    """CMC curves (Rank-k accuracy, %, for k = 1..len) by name; `chance`: name -> chance Rank-1 (%),
    drawn as the k x chance line a random ranking would give (for small k)."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(7, 3.8))
    colours = dict(zip(cmcs, sns.color_palette("tab10", len(cmcs))))
    for name, cmc in cmcs.items():
        k = np.arange(1, len(cmc) + 1)
        ax.plot(k, cmc, marker="o", ms=3, color=colours[name], label=name)
        if chance is not None and name in chance:
            ax.plot(k, np.minimum(100, k * chance[name]), color=colours[name], ls=":", lw=1)
    ax.set_xlabel("rank k")
    ax.set_ylabel("Rank-k accuracy (%)")
    ax.set_title(title + ("  (dotted: a random ranking)" if chance else ""), fontsize=10)
    legend_outside(ax)
    return fig


def discordant_figure(tests: list[dict]):
    """McNemar's evidence per comparison: the queries only system a gets right and those only b
    gets right (the test uses nothing else), with the p-value beside them."""
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.75 * len(tests)))
    y = np.arange(len(tests))
    a = np.array([t["only_a"] for t in tests])
    b = np.array([t["only_b"] for t in tests])
    ax.barh(y - 0.18, a, height=0.36, color="#4c72b0", label="only a right")
    ax.barh(y + 0.18, b, height=0.36, color="#dd8452", label="only b right")
    for i, t in enumerate(tests):
        ax.text(max(a[i], b[i]) + 0.5, i, f"p = {t['pvalue']:.2g}", va="center", fontsize=9)
    ax.set_yticks(y, [f"{t['comparison']}\n(a = {t['a']}, b = {t['b']})" for t in tests], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("discordant queries")
    ax.set_xlim(0, max(1, a.max(initial=0), b.max(initial=0)) * 1.35)
    legend_outside(ax)
    return fig


LOSS_COLOURS = {"global_loss": "#404040", "local_loss": "#4c72b0", "loss": "#dd8452"}


def training_steps_figure(runs: dict, smooth: int = 10):
    """Per-step curves of a few runs, one row each: (left) the global and local loss at every
    optimiser step (thin) with a running mean over `smooth` steps (thick), epochs marked; (right)
    the towers' learning rate against steps and, on a second axis, validation Rank-1 at each epoch's
    last step. `runs`: label -> (steps frame of RUN/steps.csv, history frame of RUN/history.csv)."""
    fig, axes = plt.subplots(len(runs), 2, figsize=(13, 2.7 * len(runs)), squeeze=False)
    for row, (label, (steps, hist)) in enumerate(runs.items()):
        ax, ax_lr = axes[row]
        for col in ("global_loss", "local_loss"):
            c = LOSS_COLOURS[col]
            ax.plot(steps.step, steps[col], color=c, lw=0.6, alpha=0.35)
            ax.plot(steps.step, steps[col].rolling(smooth, min_periods=1).mean(), color=c, lw=2,
                    label=col.replace("_", " "))
        for s in hist.steps.iloc[:-1]:
            ax.axvline(s, color="0.6", lw=0.8, ls=":")
        ax.set_ylabel("loss")
        ax.set_title(f"{label}: training loss per step (dotted: epoch ends)", fontsize=10)
        ax_lr.plot(steps.step, steps.lr, color="#55a868", lw=2, label="learning rate (towers)")
        ax_lr.set_ylabel("learning rate")
        ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        ax_val = ax_lr.twinx()
        ax_val.grid(False)
        if "val_R1" in hist:
            ax_val.plot(hist.steps, hist.val_R1, color="#c44e52", marker="o", lw=1.5, label="validation Rank-1 (%)")
            best = hist.val_R1.idxmax()
            ax_val.plot(hist.steps[best], hist.val_R1[best], marker="*", ms=16, color="#c44e52", ls="",
                        label="epoch kept (best on validation)")
        ax_val.set_ylabel("validation Rank-1 (%)")
        ax_lr.set_title(f"{label}: schedule and validation", fontsize=10)
        if row == 0:  # one legend for every row, under the figure (off the data)
            handles = [h for a in (ax, ax_lr, ax_val) for h in a.get_legend_handles_labels()[0]]
        for a in (ax, ax_lr):
            a.set_xlabel("optimiser step")
    fig.tight_layout(rect=(0, 0.06 / len(runs) + 0.02, 1, 1))
    fig.legend(handles, [h.get_label() for h in handles], loc="lower center", ncol=5, frameon=False)
    return fig


def failure_panel(cases: list[dict], wrap: int = 34):
    """The paper's Fig. 3 as a panel, one row per query: its text; the global-only model's top-1 and
    the full model's top-1 (green frame: the right person, red: a wrong one); and why the full
    model's score ranks its pick over the global-only pick: the fused score's difference split into
    the global term and each query part's term (their sum is the difference). Each case: query,
    global_image, global_correct, full_image, full_correct, terms ({name: share of the difference},
    names "GLOBAL" or a part), phrases ({part: phrase})."""
    import textwrap

    from matplotlib.gridspec import GridSpec

    fig = plt.figure(figsize=(12, 2.6 * len(cases)))
    grid = GridSpec(len(cases), 4, figure=fig, width_ratios=[2.0, 0.8, 0.8, 2.4], wspace=0.75, hspace=0.5)
    for row, case in enumerate(cases):
        ax_text = fig.add_subplot(grid[row, 0])
        ax_text.axis("off")
        ax_text.text(0, 1, "\n".join(textwrap.wrap(case["query"], wrap)[:9]), va="top", fontsize=8.5,
                     transform=ax_text.transAxes)
        for col, (key, title) in enumerate((("global", "global-only top-1"), ("full", "full top-1")), start=1):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(_load(case[f"{key}_image"]))
            ax.set_xticks([])
            ax.set_yticks([])
            ok = case[f"{key}_correct"]
            for spine in ax.spines.values():
                spine.set_edgecolor("green" if ok else "red")
                spine.set_linewidth(3)
            ax.set_title(f"{title}\n({'right' if ok else 'wrong'} person)", fontsize=8)
        ax_bar = fig.add_subplot(grid[row, 3])
        names = list(case["terms"])
        values = [case["terms"][n] for n in names]
        labels = [n if n == "GLOBAL" else f"{n}\n{case['phrases'].get(n, '')[:26]}" for n in names]
        ax_bar.barh(labels, values, color=[(0.3, 0.3, 0.3) if n == "GLOBAL" else PART_PALETTE[n] for n in names])
        ax_bar.axvline(0, color="k", lw=0.8)
        ax_bar.invert_yaxis()
        ax_bar.tick_params(axis="y", labelsize=7.5)
        ax_bar.set_title(f"full model: its pick minus the global-only pick (sum {sum(values):+.3f})", fontsize=8)
        if row == len(cases) - 1:
            ax_bar.set_xlabel("term of the fused score's difference")
    return fig
