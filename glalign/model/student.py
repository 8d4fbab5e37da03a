"""TextStudent: a Vietnamese text tower in SynthCLIP's space (SynthPhoBERT's encoder, mean-pooled,
projected to the teacher's projection_dim, L2-normalised), the ROGLE judge's text side.
glalign.pretrain.distill trains it; glalign.rsm's Embedder reads the folder it is saved in
(rsm_student.json names the CLIP folder whose image tower pairs with it)."""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from glalign.errors import GlalignError

STUDENT_FILE = "rsm_student.json"
PROJECTION_FILE = "projection.safetensors"
POOLING = "mean"


class TextStudent(torch.nn.Module):
    """A RoBERTa encoder, mean-pooled, projected to the teacher's space and L2-normalised: the one
    definition of the student's embedding, used by training and by glalign.rsm.Embedder."""

    def __init__(self, encoder, dim: int):
        super().__init__()
        self.encoder = encoder
        self.projection = torch.nn.Linear(encoder.config.hidden_size, dim)

    def forward(self, input_ids, attention_mask):
        from glalign.model.encoders import pool_text

        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return F.normalize(self.projection(pool_text(hidden, attention_mask, POOLING)), dim=-1)

    encode = forward

    @property
    def max_length(self) -> int:
        from glalign.model.encoders import text_context

        return text_context(self.encoder.config)

    def save(self, folder) -> None:
        from safetensors.torch import save_file

        from glalign.hub import quiet_transformers

        folder = Path(folder)
        with quiet_transformers():
            self.encoder.save_pretrained(folder)
        save_file({k: v.contiguous() for k, v in self.projection.state_dict().items()}, str(folder / PROJECTION_FILE))

    @classmethod
    def from_folder(cls, folder, dim: int | None = None, projection: bool = True) -> "TextStudent":
        """A saved student (projection read from projection.safetensors) or, with projection=False,
        an MLM folder's encoder under a new projection of `dim` (the start of distillation)."""
        from transformers import RobertaModel

        from glalign.hub import from_pretrained

        folder = Path(folder)
        encoder = from_pretrained(RobertaModel, folder, add_pooling_layer=False)
        if not projection:
            return cls(encoder, dim)
        from safetensors.torch import load_file

        weights = load_file(str(folder / PROJECTION_FILE))
        model = cls(encoder, weights["weight"].shape[0])
        model.projection.load_state_dict(weights)
        return model


def read_student(folder) -> dict | None:
    """rsm_student.json of a student folder, or None for any other folder."""
    path = Path(folder) / STUDENT_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GlalignError(f"{path} is not valid JSON ({exc}); distil the student again") from None
