"""GLAlign reproducibility package: joint global-local alignment for text-based person search.

The Python API, loaded on first use (`import glalign` imports neither torch nor transformers and
changes no environment variable):

    model, processor = glalign.load(run)                      # GLAlignModel + GLAlignProcessor
    batch = processor.images(["a.png"]); text = processor.text(["a man in a red shirt"])
    model.get_image_features(batch["pixel_values"]); model.get_text_features(**text)
    glalign.similarity(model, processor, images, captions)    # captions x images, fused as evaluate ranks
    glalign.evaluate(run, data).metrics                       # R1, R5, R10, mAP, mINP
    glalign.GalleryIndex(run, folder).search("a woman with a backpack")

Importing glalign.model (which any of these does) registers GLAlign with transformers' AutoConfig
and AutoModel, whatever was imported first."""
from glalign.constants import PARTS

__version__ = "0.1.0"

_LAZY = {  # public name -> module that defines it
    "load": "glalign.api", "similarity": "glalign.api",
    "GalleryIndex": "glalign.retrieval.search",
    "GLAlignModel": "glalign.model", "GLAlignConfig": "glalign.model",
    "GLAlignProcessor": "glalign.model.processing",
    "rank_metrics": "glalign.retrieval.metrics",
}
_MODULES = ("evaluate",)  # callable modules: glalign.evaluate(run, data) is glalign.evaluate.evaluate_run

__all__ = ["PARTS", "__version__", *_LAZY, *_MODULES]


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"glalign.{name}")
    raise AttributeError(f"module 'glalign' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
