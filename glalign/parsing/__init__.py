"""Part masks: import parser label maps (ViTAA, LIP, ATR), a stripes fallback, region crops and pooling weights."""
from glalign.parsing.masks import (  # noqa: F401
    ATR_TO_PART, LIP_TO_PART, load_label_map, part_boxes, part_masks, patch_weights, stripes_label_map, to_vitaa,
)
