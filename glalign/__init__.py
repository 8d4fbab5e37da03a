"""GLAlign reproducibility package: joint global-local alignment for text-based person search."""
import os

# Nothing in this package may reach a model hub: set before transformers is imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"

PARTS = ("HEAD", "UPPERBODY", "LOWERBODY", "SHOES", "OTHERS")
"""The paper's five body regions, in ViTAA label order (label id = index + 1; 0 is background)."""


def __getattr__(name):
    """glalign.GLAlignModel / glalign.GLAlignConfig, imported (and registered with AutoModel) on first use."""
    if name in ("GLAlignModel", "GLAlignConfig"):
        import glalign.model

        return getattr(glalign.model, name)
    raise AttributeError(f"module 'glalign' has no attribute {name!r}")


if "transformers" in __import__("sys").modules:  # transformers already loaded: registering costs nothing
    import glalign.model  # noqa: E402,F401
