"""Human parsing: a semantic-segmentation model (SynthParser, a clothes-parsing SegFormer) run over a
dataset to write estimated part masks (segformer), with their IoU against ground truth. The
label-map tables and mask geometry it writes into live in glalign.data.masks (re-exported here)."""
from glalign.data.masks import (  # noqa: F401
    ATR_TO_PART, LIP_TO_PART, load_label_map, part_boxes, part_masks, patch_weights, stripes_label_map, to_vitaa,
)
