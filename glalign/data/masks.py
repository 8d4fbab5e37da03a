"""Part label maps in ViTAA's numbering (0 background, 1 HEAD, 2 UPPERBODY, 3 LOWERBODY, 4 SHOES,
5 OTHERS) and what the model needs from them: per-part boolean masks, boxes, and patch weights.

LIP and ATR parsers use their own label ids; the tables below map them to the five parts.
Choices follow the paper's lexicons: a dress is LOWERBODY and socks are SHOES (Section 3.2 lists
"dress" and "socks" there); gloves and scarves go with the arms/neck to UPPERBODY."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from glalign.constants import PARTS
from glalign.errors import DataError

HEAD, UPPER, LOWER, SHOES, OTHERS = 1, 2, 3, 4, 5

# LIP (20 labels): 0 Background 1 Hat 2 Hair 3 Glove 4 Sunglasses 5 UpperClothes 6 Dress 7 Coat
# 8 Socks 9 Pants 10 Jumpsuits 11 Scarf 12 Skirt 13 Face 14 Left-arm 15 Right-arm 16 Left-leg
# 17 Right-leg 18 Left-shoe 19 Right-shoe.  LIP has no bag label, so OTHERS stays empty.
LIP_TO_PART = {0: 0, 1: HEAD, 2: HEAD, 3: UPPER, 4: HEAD, 5: UPPER, 6: LOWER, 7: UPPER, 8: SHOES, 9: LOWER,
               10: UPPER, 11: UPPER, 12: LOWER, 13: HEAD, 14: UPPER, 15: UPPER, 16: LOWER, 17: LOWER,
               18: SHOES, 19: SHOES}
# ATR (18 labels): 0 Background 1 Hat 2 Hair 3 Sunglasses 4 Upper-clothes 5 Skirt 6 Pants 7 Dress
# 8 Belt 9 Left-shoe 10 Right-shoe 11 Face 12 Left-leg 13 Right-leg 14 Left-arm 15 Right-arm 16 Bag 17 Scarf.
ATR_TO_PART = {0: 0, 1: HEAD, 2: HEAD, 3: HEAD, 4: UPPER, 5: LOWER, 6: LOWER, 7: LOWER, 8: LOWER, 9: SHOES,
               10: SHOES, 11: HEAD, 12: LOWER, 13: LOWER, 14: UPPER, 15: UPPER, 16: OTHERS, 17: UPPER}
VITAA_TO_PART = {i: i for i in range(6)}
SCHEMES = {"vitaa": VITAA_TO_PART, "lip": LIP_TO_PART, "atr": ATR_TO_PART}
# The label names of each scheme, by id, as parsers' configs spell them (id2label); a model's labels
# are mapped by name through the scheme's table above (glalign.parsing.segformer.label_lut).
SCHEME_NAMES = {
    "vitaa": ("background", "head", "upperbody", "lowerbody", "shoes", "others"),
    "lip": ("background", "hat", "hair", "glove", "sunglasses", "upperclothes", "dress", "coat", "socks", "pants",
            "jumpsuits", "scarf", "skirt", "face", "leftarm", "rightarm", "leftleg", "rightleg", "leftshoe",
            "rightshoe"),
    "atr": ("background", "hat", "hair", "sunglasses", "upperclothes", "skirt", "pants", "dress", "belt",
            "leftshoe", "rightshoe", "face", "leftleg", "rightleg", "leftarm", "rightarm", "bag", "scarf"),
}
# Other spellings of the same labels (after lower-casing and dropping non-letters).
NAME_ALIASES = {"bg": "background", "null": "background", "upper": "upperbody", "lower": "lowerbody",
                "shoe": "shoes", "other": "others", "upclothes": "upperclothes",
                "gloves": "glove", "jumpsuit": "jumpsuits", "sunglass": "sunglasses"}
# Stripes fallback: fractions of the image height for HEAD, UPPERBODY, LOWERBODY, SHOES (no OTHERS).
STRIPES = ((0.0, 0.18, HEAD), (0.18, 0.52, UPPER), (0.52, 0.88, LOWER), (0.88, 1.0, SHOES))


def to_vitaa(label: np.ndarray, scheme: str = "vitaa") -> np.ndarray:
    """Map a parser's label ids to ViTAA's 0-5. Unknown ids are an error, not background."""
    table = SCHEMES.get(scheme)
    if table is None:
        raise DataError(f"unknown parsing scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    lut = np.full(256, 255, np.uint8)
    for src, dst in table.items():
        lut[src] = dst
    out = lut[label]
    if (out == 255).any():
        bad = sorted(set(np.unique(label[out == 255]).tolist()))
        raise DataError(f"label ids {bad} are not in the {scheme} table (ids {min(table)}-{max(table)})")
    return out


def load_label_map(path, scheme: str = "vitaa") -> np.ndarray:
    from glalign.data.images import open_image

    path = Path(path)
    try:
        with open_image(path, what="part label map") as im:  # symlink and decompression-bomb checks
            arr = np.asarray(im)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the part label map ({exc})") from None
    if arr.ndim != 2:
        raise DataError(f"{path}: a label map must be single-channel (palette or grey), got shape {arr.shape}")
    try:
        return to_vitaa(arr, scheme)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def stripes_label_map(height: int, width: int) -> np.ndarray:
    """Horizontal bands when no parser output exists (the common 'stripes' baseline)."""
    label = np.zeros((height, width), np.uint8)
    for top, bottom, part in STRIPES:
        label[int(round(top * height)):int(round(bottom * height)), :] = part
    return label


def part_masks(label: np.ndarray) -> np.ndarray:
    """(5, H, W) booleans, one per part in PARTS order."""
    return np.stack([label == i + 1 for i in range(len(PARTS))])


def part_boxes(label: np.ndarray, min_pixels: int = 4) -> dict[str, tuple[int, int, int, int] | None]:
    """Per part the (top, left, bottom, right) box, bottom/right exclusive; None where the part is
    absent (fewer than min_pixels pixels): missing parts are explicit, never an empty crop."""
    boxes = {}
    for i, name in enumerate(PARTS):
        ys, xs = np.nonzero(label == i + 1)
        boxes[name] = None if len(ys) < min_pixels else (int(ys.min()), int(xs.min()),
                                                         int(ys.max()) + 1, int(xs.max()) + 1)
    return boxes


def patch_weights(label: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(5, gh*gw) fraction of each patch covered by each part, for pooling ViT patch tokens."""
    gh, gw = grid
    h, w = label.shape
    ys = (np.arange(h) * gh // h)
    xs = (np.arange(w) * gw // w)
    cell = ys[:, None] * gw + xs[None, :]
    counts = np.bincount(cell.ravel(), minlength=gh * gw).astype(np.float32)
    out = np.zeros((len(PARTS), gh * gw), np.float32)
    for i in range(len(PARTS)):
        out[i] = np.bincount(cell.ravel(), weights=(label == i + 1).ravel(), minlength=gh * gw) / counts
    return out
