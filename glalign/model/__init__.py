"""Encoders (CLIP ViT; CLIP text, GPT-2, PhoBERT), the GLAlign model and its losses.

Importing this package registers GLAlign with transformers' AutoConfig/AutoModel, so a run
folder loads with `transformers.AutoModel.from_pretrained(RUN)`. (`import glalign` does the same
when transformers is already imported; otherwise it stays light, so that the data and text
commands start in milliseconds instead of seconds.)"""
from transformers import AutoConfig, AutoModel

from glalign.model.configuration import GLAlignConfig
from glalign.model.glalign import GLAlignModel

AutoConfig.register("glalign", GLAlignConfig, exist_ok=True)
AutoModel.register(GLAlignConfig, GLAlignModel, exist_ok=True)

__all__ = ["GLAlignConfig", "GLAlignModel"]
