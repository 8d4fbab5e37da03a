"""Figures of results: CMC curves, McNemar's discordant counts, per-step training curves and the
failure panel of notebook 07 (glalign.repro.plots re-exports them)."""
from __future__ import annotations

import numpy as np

from glalign.repro.figure_style import PART_PALETTE, legend_outside, load_rgb_array

import matplotlib.pyplot as plt  # noqa: E402  (after figure_style, which picks the backend)


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
            ax.imshow(load_rgb_array(case[f"{key}_image"]))
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
