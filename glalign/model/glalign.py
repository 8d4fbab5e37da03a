"""The GLAlign module: global and local embeddings of images and captions in one shared space."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from glalign import PARTS
from glalign.model.encoders import POOLING, pool_text


class GLAlign(nn.Module):
    """Image [CLS] and caption (EOT / last / first token) give the global pair; part regions
    (crop: each part through the same ViT; pool: patch tokens averaged inside the part mask) and
    part phrases (through the same text encoder) give the local pairs. Local embeddings have
    their own projections; the logit scale is CLIP's learnable one, initialised to log(1/0.07)."""

    def __init__(self, vision, vision_hidden: int, text, text_hidden: int, text_kind: str, embed_dim: int,
                 region_mode: str = "pool"):
        super().__init__()
        if region_mode not in ("pool", "crop"):
            raise ValueError(f"region_mode must be pool or crop, not {region_mode!r}")
        self.vision, self.text = vision, text
        self.text_kind, self.region_mode = text_kind, region_mode
        self.image_proj = nn.Linear(vision_hidden, embed_dim, bias=False)
        self.text_proj = nn.Linear(text_hidden, embed_dim, bias=False)
        self.region_proj = nn.Linear(vision_hidden, embed_dim, bias=False)
        self.phrase_proj = nn.Linear(text_hidden, embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp().clamp(max=100.0)

    # -------------------------------------------------------------- images
    def _vit(self, pixels: torch.Tensor):
        out = self.vision(pixel_values=pixels)
        cls = out.pooler_output  # [CLS] after the post-layernorm
        # transformers 5 keeps post_layernorm on the model itself; 4.x had it under .vision_model
        post_ln = getattr(self.vision, "post_layernorm", None) or self.vision.vision_model.post_layernorm
        patches = post_ln(out.last_hidden_state[:, 1:])
        return cls, patches

    def encode_image(self, pixels: torch.Tensor, part_weights: torch.Tensor | None = None,
                     crops: torch.Tensor | None = None, region_present: torch.Tensor | None = None,
                     local: bool = True):
        """Returns (global (B, d), regions (B, 5, d) or None). pool mode needs part_weights
        (B, 5, n_patches); crop mode needs crops (B, 5, 3, S, S) and region_present (B, 5)."""
        cls, patches = self._vit(pixels)
        glob = F.normalize(self.image_proj(cls), dim=-1)
        if not local:
            return glob, None
        if self.region_mode == "pool":
            w = part_weights / part_weights.sum(-1, keepdim=True).clamp(min=1e-6)
            regions = torch.einsum("bpn,bnh->bph", w, patches)
        else:
            b = pixels.shape[0]
            regions = patches.new_zeros(b, len(PARTS), patches.shape[-1])
            idx = region_present.nonzero(as_tuple=False)
            if len(idx):
                crop_cls, _ = self._vit(crops[idx[:, 0], idx[:, 1]])
                regions = regions.index_put((idx[:, 0], idx[:, 1]), crop_cls)
        return glob, F.normalize(self.region_proj(regions), dim=-1)

    # -------------------------------------------------------------- text
    def _text_hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.text(input_ids=input_ids, attention_mask=attention_mask)
        return pool_text(out.last_hidden_state, attention_mask, POOLING[self.text_kind])

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_proj(self._text_hidden(input_ids, attention_mask)), dim=-1)

    def encode_phrases(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, slots: torch.Tensor,
                       batch: int) -> torch.Tensor:
        """Phrases flattened to (M, L) with `slots` (M, 2) = (row, part); returns (batch, 5, d)."""
        dim = self.phrase_proj.out_features
        out = torch.zeros(batch, len(PARTS), dim, device=self.logit_scale.device)
        if len(slots):
            emb = F.normalize(self.phrase_proj(self._text_hidden(input_ids, attention_mask)), dim=-1)
            out = out.index_put((slots[:, 0], slots[:, 1]), emb.to(out.dtype))
        return out
