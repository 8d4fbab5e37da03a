"""Encoder factory: a CLIP vision transformer, and a text encoder of three kinds.

Each is built from a small config (trained from scratch, the SynthPEDES default) or loaded with
transformers from a local folder or a hub name already in the local cache. The hub is never
contacted (HF_HUB_OFFLINE=1); a missing model fails at once with a message saying how to provide it.

Text pooling, per kind (DESIGN.md section 3):
  clip     CLIP's text tower; the EOT token, i.e. the last real token (the tokenizer appends EOT)
  gpt2     GPT-2; the last real token (GPT-2 has no pad token: never argmax(ids))
  phobert  RoBERTa; the first real token (<s>); input word-segmented by underthesea first
Both positions are found from the attention mask, so left and right padding both work."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from glalign.errors import GlalignError, ModelNotAvailableError, os_error_of

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


def _not_available(name: str, exc: Exception) -> ModelNotAvailableError:
    return ModelNotAvailableError(
        f"model {name!r} is not available on this machine and the hub is off (HF_HUB_OFFLINE=1). "
        f"On a machine with network run `huggingface-cli download {name}` (or "
        f"`python -c \"from transformers import AutoModel; AutoModel.from_pretrained('{name}')"
        f".save_pretrained('DIR')\"`), copy the folder here and pass its path instead of the name. "
        f"({type(exc).__name__})")


# config attributes that carry dropout, per architecture (passed when the model is built)
DROPOUT_KEYS = {"clip_vision_model": ("dropout", "attention_dropout"), "clip": ("dropout", "attention_dropout"),
                "clip_text_model": ("dropout", "attention_dropout"),
                "gpt2": ("resid_pdrop", "embd_pdrop", "attn_pdrop"),
                "roberta": ("hidden_dropout_prob", "attention_probs_dropout_prob")}
KIND_OF_MODEL_TYPE = {"clip": "clip", "clip_text_model": "clip", "gpt2": "gpt2", "roberta": "phobert"}


def _source(name: str) -> str:
    """A folder path as a string, or a hub name to look up in the local cache; a path that does
    not exist, or a folder that is not a model, is named as such (not as a bad repo id)."""
    path = Path(name).expanduser()
    looks_like_path = name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1
    if path.exists():
        if path.is_dir() and not (path / "config.json").exists():
            raise GlalignError(f"model folder {name} holds no config.json: it is not a transformers model folder "
                               "(save one with `model.save_pretrained(DIR)`)")
        if not path.is_dir():
            raise GlalignError(f"{name} is a file; pass the model's folder (the one with config.json)")
        return str(path)
    if looks_like_path:
        raise GlalignError(f"model folder {name} does not exist")
    return name


def load_config(name: str):
    """The transformers config of a folder or a cached hub name, offline."""
    from transformers import AutoConfig

    source = _source(name)
    try:
        return AutoConfig.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as exc:
        if Path(source).exists():
            raise GlalignError(f"{name}: cannot read its config.json ({exc})") from None
        raise _not_available(name, exc) from None


def text_kind_of(name: str) -> str:
    """clip | gpt2 | phobert, from the checkpoint's own model_type (a name or a folder)."""
    model_type = load_config(name).model_type
    if model_type not in KIND_OF_MODEL_TYPE:
        raise GlalignError(f"{name} is a {model_type!r} model; the text encoder must be a CLIP, GPT-2 or "
                           "RoBERTa (PhoBERT) checkpoint")
    return KIND_OF_MODEL_TYPE[model_type]


def refuse_non_finite(model, where) -> None:
    """A GlalignError naming the first weight (or buffer) of `model` that holds NaN or inf: such a
    model scores every query as NaN, which ranks in no meaningful order (a silent wrong result)."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise GlalignError(f"{where}: weight {name} holds {bad} non-finite value(s) (NaN or inf): the model "
                               "diverged or its file is damaged; retrain it or restore the file")


def _load(cls, name: str, dropout: float | None = None, **kwargs):
    """from_pretrained offline; refuses a checkpoint that lacks weights the model needs (transformers
    would only log a warning and start them at random), one whose weights do not have the shapes its
    config.json says (e.g. a num_labels that disagrees with the saved classifier), and a damaged
    weights file, each with a message naming the folder."""
    from safetensors import SafetensorError

    source = _source(name)
    config = load_config(name)  # names a missing folder/model clearly before anything else
    kwargs.setdefault("ignore_mismatched_sizes", True)  # reported below, with the shapes, instead of a bare RuntimeError
    try:
        own = cls.config_class.from_pretrained(source, local_files_only=True)  # e.g. the vision part of a CLIP
        if dropout is not None:
            for key in DROPOUT_KEYS.get(own.model_type, ()):
                setattr(own, key, dropout)
        from glalign.model.factory import quiet_transformers

        with quiet_transformers():
            model, info = cls.from_pretrained(source, config=own, local_files_only=True, output_loading_info=True,
                                              **kwargs)
    except SafetensorError as exc:  # truncated, empty or not a safetensors file at all
        if os_error_of(exc) is not None:
            raise
        raise GlalignError(f"{name}: its weights file (model.safetensors) is damaged ({exc}); save or download the "
                           "model again") from None
    except (OSError, ValueError) as exc:
        if Path(source).exists():
            raise GlalignError(f"{name}: not a {cls.__name__} checkpoint ({exc})") from None
        raise _not_available(name, exc) from None
    mismatched = sorted(info.get("mismatched_keys", ()))
    if mismatched:
        key, saved, wanted = mismatched[0]
        raise GlalignError(f"{name}: its weights do not match its config.json ({len(mismatched)} weight(s), e.g. "
                           f"{key} is {tuple(saved)} in the weights but {tuple(wanted)} by the config); was "
                           "config.json edited (num_labels / id2label, sizes)? Restore the config saved with the weights")
    missing = [k for k in info.get("missing_keys", ()) if "position_ids" not in k]
    if missing:
        raise GlalignError(f"{name} is a {config.model_type!r} checkpoint that lacks {len(missing)} weight(s) a "
                           f"{cls.__name__} needs (e.g. {missing[0]}); it would start from random weights. Pass "
                           "a checkpoint of that architecture")
    refuse_non_finite(model, name)
    return model


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
        model = _load(CLIPVisionModel, spec.source, dropout=spec.dropout)
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
        model = _load(cls, spec.source, dropout=spec.dropout,
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
