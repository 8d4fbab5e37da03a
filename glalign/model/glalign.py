"""GLAlignModel: global and local embeddings of images and captions in one shared space, as a
transformers PreTrainedModel (save_pretrained / from_pretrained / AutoModel).

The towers are built from GLAlignConfig's sub-configs (or handed in already loaded from a
pretrained checkpoint), as transformers' VisionTextDualEncoderModel pairs any two towers. The
parameter names (vision.*, text.*, image_proj, text_proj, region_proj, phrase_proj, logit_scale)
are those of runs written before the model became a PreTrainedModel, so their weights load as is."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel

from glalign.constants import PARTS
from glalign.model.configuration import GLAlignConfig
from glalign.model.encoders import POOLING, pool_text


def text_tower_from_config(config) -> PreTrainedModel:
    """RoBERTa's pooler is unused (we pool the first token ourselves) and has no weights in a
    fine-tuned run, so it is never built."""
    if config.model_type == "roberta":
        return AutoModel.from_config(config, add_pooling_layer=False)
    return AutoModel.from_config(config)


class GLAlignModel(PreTrainedModel):
    """Image [CLS] and caption (EOT / last / first token) give the global pair; part regions
    (crop: each part through the same ViT; pool: patch tokens averaged inside the part mask) and
    part phrases (through the same text encoder) give the local pairs. Local embeddings have
    their own projections; the logit scale is CLIP's learnable one, initialised to log(1/0.07)."""

    config: GLAlignConfig
    config_class = GLAlignConfig
    base_model_prefix = "glalign"
    main_input_name = "pixel_values"
    input_modalities = ("image", "text")
    supports_gradient_checkpointing = True
    _supports_sdpa = True  # every tower kind (CLIP, GPT-2, RoBERTa) has an sdpa attention

    def __init__(self, config: GLAlignConfig, vision: PreTrainedModel | None = None,
                 text: PreTrainedModel | None = None):
        super().__init__(config)
        self.vision = vision if vision is not None else AutoModel.from_config(config.vision_config)
        self.text = text if text is not None else text_tower_from_config(config.text_config)
        # building the config can reset the sub-configs' attention (they may be the towers' own config
        # objects); without one, transformers falls back to a path that warns: use the one resolved here
        for sub in (config.vision_config, config.text_config):
            sub._attn_implementation = sub._attn_implementation or self.config._attn_implementation
        # one config object per tower, so a change (dropout, attention) is saved with the run
        self.vision.config = config.vision_config
        self.text.config = config.text_config
        d = config.embed_dim
        self.image_proj = nn.Linear(config.vision_hidden, d, bias=False)
        self.text_proj = nn.Linear(config.text_hidden, d, bias=False)
        self.region_proj = nn.Linear(config.vision_hidden, d, bias=False)
        self.phrase_proj = nn.Linear(config.text_hidden, d, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))
        if not self.image_proj.weight.is_meta:  # built for real: keep nn.Linear's own init (as before
            for head in (self.image_proj, self.text_proj, self.region_proj, self.phrase_proj):  # the model
                head._is_hf_initialized = True  # became a PreTrainedModel: same seed, same weights)
        self.post_init()

    def _init_weights(self, module):
        """Heads missing from a checkpoint (from_pretrained builds on the meta device, then fills them)."""
        if isinstance(module, nn.Linear):
            module.reset_parameters()
        elif isinstance(module, GLAlignModel):
            module.logit_scale.data.fill_(float(self.config.logit_scale_init_value))

    @property
    def text_kind(self) -> str:
        return self.config.text_kind

    @property
    def region_mode(self) -> str:
        return self.config.region_mode

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
            regions = self.pool_patches(patches, part_weights)
        else:
            b = pixels.shape[0]
            regions = patches.new_zeros(b, len(PARTS), patches.shape[-1])
            idx = region_present.nonzero(as_tuple=False)
            if len(idx):
                crop_cls, _ = self._vit(crops[idx[:, 0], idx[:, 1]])
                regions = regions.index_put((idx[:, 0], idx[:, 1]), crop_cls.to(regions.dtype))
        return glob, F.normalize(self.region_proj(regions), dim=-1)

    @staticmethod
    def pool_patches(patches: torch.Tensor, part_weights: torch.Tensor) -> torch.Tensor:
        """(B, n, h) patch tokens averaged with (B, 5, n) part weights -> (B, 5, h)."""
        w = part_weights / part_weights.sum(-1, keepdim=True).clamp(min=1e-6)
        return torch.einsum("bpn,bnh->bph", w.to(patches.dtype), patches)

    def encode_regions(self, pixels: torch.Tensor, part_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Local-branch embeddings of image regions, whatever the training region mode: pooled
        parts (B, 5, d) with part_weights, or each image taken as one region crop (B, d) without."""
        cls, patches = self._vit(pixels)
        hidden = cls if part_weights is None else self.pool_patches(patches, part_weights)
        return F.normalize(self.region_proj(hidden), dim=-1)

    def encode_phrase_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Local-branch embeddings of texts (M, d): what a region is aligned with."""
        return F.normalize(self.phrase_proj(self._text_hidden(input_ids, attention_mask)), dim=-1)

    # -------------------------------------------------------------- text
    def _text_hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.text(input_ids=input_ids, attention_mask=attention_mask)
        return pool_text(out.last_hidden_state, attention_mask, self.config.text_pooling or POOLING[self.text_kind])

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_proj(self._text_hidden(input_ids, attention_mask)), dim=-1)

    def encode_phrases(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, slots: torch.Tensor,
                       batch: int) -> torch.Tensor:
        """Phrases flattened to (M, L) with `slots` (M, 2) = (row, part); returns (batch, 5, d)."""
        dim = self.phrase_proj.out_features
        out = torch.zeros(batch, len(PARTS), dim, device=self.logit_scale.device)
        if len(slots):
            emb = self.encode_phrase_text(input_ids, attention_mask)
            out = out.index_put((slots[:, 0], slots[:, 1]), emb.to(out.dtype))
        return out

    def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, d) global image embeddings, L2-normalised (the space captions are compared in)."""
        return self.encode_image(pixel_values, local=False)[0]

    def get_text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, d) global caption embeddings, L2-normalised."""
        return self.encode_text(input_ids, attention_mask)

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """Global embeddings of images and captions (what AutoModel users call); the training
        step with its losses is glalign.model.task.GLAlignTask."""
        image, _ = self.encode_image(pixel_values, local=False)
        return {"image_embeds": image, "text_embeds": self.encode_text(input_ids, attention_mask),
                "logit_scale": self.scale()}
