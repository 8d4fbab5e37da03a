"""The figures' common ground: one part palette for every figure (PART_COLOURS for label maps,
PART_PALETTE for plots), one notebook style (`notebook_style`: figures inline, legible on a
projector), the Agg backend outside a notebook, and images read through the package's one rule."""
from __future__ import annotations

import sys

import matplotlib

if "matplotlib.pyplot" not in sys.modules and "ipykernel" not in sys.modules:
    matplotlib.use("Agg")  # the CLI draws into files; a notebook kernel keeps its inline backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from glalign.constants import PARTS  # noqa: E402


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


def load_rgb_array(path) -> np.ndarray:
    """An image as an RGB array, through the package's one image-reading rule (glalign.data.images)."""
    from glalign.data.images import load_rgb

    return np.asarray(load_rgb(path))
