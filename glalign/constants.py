"""Names every layer shares. The paper's five body regions, in ViTAA label order."""

PARTS = ("HEAD", "UPPERBODY", "LOWERBODY", "SHOES", "OTHERS")
"""The paper's five body regions, in ViTAA label order (label id = index + 1; 0 is background)."""
