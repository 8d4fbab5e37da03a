"""The model stage: the encoders (CLIP ViT; CLIP text, GPT-2, PhoBERT) and how they are built or
loaded (encoders, factory), the GLAlign model as a transformers PreTrainedModel with its config
(glalign, configuration), its processor (processing: the one preprocessing path), the losses and
the training task wrapper (losses, task), and ROGLE's distilled text tower (student). It reads
data and text, never retrieval or training.

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
