"""Names every layer shares: the paper's five body regions, and CLIP's pixel normalisation."""

PARTS = ("HEAD", "UPPERBODY", "LOWERBODY", "SHOES", "OTHERS")
"""The paper's five body regions, in ViTAA label order (label id = index + 1; 0 is background)."""

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
"""CLIP's image mean and std (RGB, pixels in [0, 1]): the default normalisation of a GLAlign model."""
