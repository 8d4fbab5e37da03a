"""Encoders (CLIP ViT; CLIP text, GPT-2, PhoBERT), the GLAlign model and its losses.

Importing this package (or any module in it) registers GLAlign with transformers' AutoConfig and
AutoModel, so a run folder loads with `transformers.AutoModel.from_pretrained(RUN)` after
`import glalign.model`, whatever was imported before. `import glalign` alone stays light (it
imports neither torch nor transformers), so the data and text commands start in milliseconds."""
from transformers import AutoConfig, AutoModel

from glalign.model.configuration import GLAlignConfig
from glalign.model.glalign import GLAlignModel

AutoConfig.register("glalign", GLAlignConfig, exist_ok=True)
AutoModel.register(GLAlignConfig, GLAlignModel, exist_ok=True)

__all__ = ["GLAlignConfig", "GLAlignModel"]
