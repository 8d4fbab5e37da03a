"""Encoder factory: a CLIP vision transformer, and a text encoder of three kinds.

Each is built from a small config (trained from scratch, the SynthPEDES default) or loaded with
transformers from a local folder or a hub name already in the local cache. The hub is never
contacted (glalign.hub loads everything offline); a missing model fails at once with a message saying how
to provide it.

Text pooling, per kind (DESIGN.md section 3):
  clip     CLIP's text tower; the EOT token, i.e. the last real token (the tokenizer appends EOT)
  gpt2     GPT-2; the last real token (GPT-2 has no pad token: never argmax(ids))
  phobert  RoBERTa; the first real token (<s>); input word-segmented by underthesea first
Both positions are found from the attention mask, so left and right padding both work."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from glalign.errors import GlalignError
from glalign.hub import DROPOUT_KEYS, load_config, load_pretrained, refuse_non_finite  # noqa: F401

TEXT_KINDS = ("clip", "gpt2", "phobert")
POOLING = {"clip": "last", "gpt2": "last", "phobert": "first"}  # each kind's own; text_pooling may override
POOLINGS = ("first", "last", "mean")


@dataclass
class EncoderSpec:
    """'small' builds from `small` sizes; anything else is a folder or a hub name to load."""
    source: str = "small"
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    image_size: int = 96
    patch_size: int = 12
    max_length: int = 64
    dropout: float = 0.1


KIND_OF_MODEL_TYPE = {"clip": "clip", "clip_text_model": "clip", "gpt2": "gpt2", "roberta": "phobert"}


def text_kind_of(name: str) -> str:
    """clip | gpt2 | phobert, from the checkpoint's own model_type (a name or a folder)."""
    model_type = load_config(name).model_type
    if model_type not in KIND_OF_MODEL_TYPE:
        raise GlalignError(f"{name} is a {model_type!r} model; the text encoder must be a CLIP, GPT-2 or "
                           "RoBERTa (PhoBERT) checkpoint")
    return KIND_OF_MODEL_TYPE[model_type]


def build_image_encoder(spec: EncoderSpec):
    """Returns (CLIPVisionModel, hidden size, patch grid (gh, gw), image size)."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    if spec.source == "small":
        cfg = CLIPVisionConfig(hidden_size=spec.hidden, intermediate_size=4 * spec.hidden,
                               num_hidden_layers=spec.layers, num_attention_heads=spec.heads,
                               image_size=spec.image_size, patch_size=spec.patch_size, dropout=spec.dropout,
                               attention_dropout=spec.dropout, projection_dim=spec.hidden)
        model = CLIPVisionModel(cfg)
    else:
        model = load_pretrained(CLIPVisionModel, spec.source, dropout=spec.dropout)
    c = model.config
    grid = c.image_size // c.patch_size
    return model, c.hidden_size, (grid, grid), c.image_size


def build_text_encoder(kind: str, spec: EncoderSpec, vocab_size: int | None = None, pad_id: int = 0):
    """Returns (model, hidden size). `vocab_size` is needed for small models (trained tokenizer)."""
    if kind not in TEXT_KINDS:
        raise GlalignError(f"unknown text encoder {kind!r}; choose one of {', '.join(TEXT_KINDS)}")
    from transformers import (CLIPTextConfig, CLIPTextModel, GPT2Config, GPT2Model, RobertaConfig,
                              RobertaModel)

    if spec.source == "small":
        if vocab_size is None:
            raise ValueError("a small text encoder needs the tokenizer's vocab_size")
        if kind == "clip":
            cfg = CLIPTextConfig(vocab_size=vocab_size, hidden_size=spec.hidden, intermediate_size=4 * spec.hidden,
                                 num_hidden_layers=spec.layers, num_attention_heads=spec.heads,
                                 max_position_embeddings=spec.max_length, dropout=spec.dropout,
                                 attention_dropout=spec.dropout, pad_token_id=pad_id, bos_token_id=pad_id, eos_token_id=pad_id,
                                 projection_dim=spec.hidden)
            model = CLIPTextModel(cfg)
        elif kind == "gpt2":
            cfg = GPT2Config(vocab_size=vocab_size, n_embd=spec.hidden, n_layer=spec.layers, n_head=spec.heads,
                             n_positions=spec.max_length, resid_pdrop=spec.dropout, embd_pdrop=spec.dropout,
                             attn_pdrop=spec.dropout)
            model = GPT2Model(cfg)
        else:
            cfg = RobertaConfig(vocab_size=vocab_size, hidden_size=spec.hidden, num_hidden_layers=spec.layers,
                                num_attention_heads=spec.heads, intermediate_size=4 * spec.hidden,
                                max_position_embeddings=spec.max_length + 2, pad_token_id=pad_id,
                                hidden_dropout_prob=spec.dropout, attention_probs_dropout_prob=spec.dropout)
            model = RobertaModel(cfg, add_pooling_layer=False)
    else:
        cls = {"clip": CLIPTextModel, "gpt2": GPT2Model, "phobert": RobertaModel}[kind]
        # RoBERTa's pooler is unused (we pool the first token ourselves) and would not survive a reload
        model = load_pretrained(cls, spec.source, dropout=spec.dropout,
                      **({"add_pooling_layer": False} if kind == "phobert" else {}))
    hidden = getattr(model.config, "hidden_size", None) or model.config.n_embd
    return model, hidden


def text_context(config) -> int:
    """How many tokens the text tower can read (CLIP 77, RoBERTa/PhoBERT 256, GPT-2 1024)."""
    if config.model_type == "gpt2":
        return config.n_positions
    if config.model_type == "roberta":  # positions start after the padding index
        return config.max_position_embeddings - (config.pad_token_id or 0) - 1
    return config.max_position_embeddings


def pool_text(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str) -> torch.Tensor:
    """The first or the last real (mask = 1) token of each row, whichever side is padded, or (mean)
    the average of its real tokens: an MLM tower such as PhoBERT never trains <s> as a summary."""
    if how == "mean":
        w = attention_mask.to(hidden.dtype).unsqueeze(-1)
        if (w.sum(1) == 0).any():
            raise ValueError("a text row has no real token (empty caption?)")
        return (hidden * w).sum(1) / w.sum(1)
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    real = attention_mask.bool()
    if how == "last":
        idx = torch.where(real, positions, torch.full_like(positions, -1)).max(dim=1).values
    elif how == "first":
        big = attention_mask.shape[1]
        idx = torch.where(real, positions, torch.full_like(positions, big)).min(dim=1).values
    else:
        raise ValueError(f"unknown pooling {how!r}")
    if (idx < 0).any() or (idx >= attention_mask.shape[1]).any():
        raise ValueError("a text row has no real token (empty caption?)")
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx]
