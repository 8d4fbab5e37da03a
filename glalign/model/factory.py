"""Building a GLAlign model for training, and loading a trained run for inference.

`build_model` starts each tower from a small config (trained from scratch) or from a pretrained
checkpoint (a folder, or a hub name in the local cache); `load_run` reads a run folder with
`GLAlignModel.from_pretrained` and its tokenizer. Runs written before the model became a
transformers model (config.json with "train" and "hf_configs") are converted on read. Nothing
here imports the training loop, so evaluation and search stay light."""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import torch

from glalign.errors import GlalignError
from glalign.hub import (  # noqa: F401  (quiet_transformers, refuse_non_finite: re-exported for old callers)
    from_pretrained, load_config, load_pretrained, quiet_transformers, refuse_non_finite,
)
from glalign.model.configuration import GLAlignConfig, read_run_config  # noqa: F401
from glalign.model.encoders import EncoderSpec, build_image_encoder, build_text_encoder, text_context, text_kind_of
from glalign.model.glalign import GLAlignModel
from glalign.model.processing import text_view_for  # noqa: F401  (its home is the processor)


def build_model(cfg, tokenizer=None) -> GLAlignModel:
    """A new model for a TrainConfig: towers from scratch ('small') or from pretrained checkpoints.
    From a CLIP checkpoint the global heads and the logit scale start from CLIP's own projections
    and temperature (the local heads from copies of them), so the joint space is kept at step 0.

    `cfg` is never changed: what the checkpoint imposes (CLIP's projection width as embed_dim, the
    text encoder's context as max_length) is in the model's config (model.config.embed_dim,
    .max_length), the effective settings; the TrainConfig keeps what was asked for, which is what
    --resume compares."""
    m = dataclasses.replace(cfg.model)
    vision, _, _, _ = build_image_encoder(EncoderSpec(
        source=m.image_encoder, hidden=m.vision_hidden, layers=m.vision_layers, heads=m.heads,
        image_size=m.image_size, patch_size=m.patch_size, dropout=m.dropout))
    text, _ = build_text_encoder(m.text_kind, EncoderSpec(
        source=m.text_encoder, hidden=m.text_hidden, layers=m.text_layers, heads=m.heads,
        max_length=m.max_length, dropout=m.dropout),
        vocab_size=len(tokenizer) if tokenizer is not None else None,
        pad_id=tokenizer.pad_token_id if tokenizer is not None else 0)
    context = text_context(text.config)
    if m.max_length > context:
        warnings.warn(f"max_length {m.max_length} is more than {m.text_encoder} can read; captions are cut at "
                      f"{context} tokens", stacklevel=2)
        m.max_length = context
    heads = {source: _clip_heads(source) for source in {m.image_encoder, m.text_encoder}}  # one load per folder
    clip = heads[m.image_encoder]
    if clip is not None and clip["visual_projection.weight"].shape[1] != vision.config.hidden_size:
        clip = None  # a projection that does not fit the tower
    if clip is not None:
        m.embed_dim = clip["visual_projection.weight"].shape[0]
    config = GLAlignConfig(vision_config=vision.config, text_config=text.config, text_kind=m.text_kind,
                           embed_dim=m.embed_dim, region_mode=m.region_mode, max_length=m.max_length,
                           lang=cfg.data.lang, lexicon_mode=cfg.data.lexicon_mode, alpha=cfg.optim.alpha,
                           phrase_routing="best-region" if cfg.data.local_supervision == "rsm" else "lexicon",
                           text_pooling="" if m.text_pooling == "default" else m.text_pooling,
                           **image_processor_settings(m.image_encoder))
    model = GLAlignModel(config, vision=vision, text=text)
    if clip is not None:
        with torch.no_grad():
            model.image_proj.weight.copy_(clip["visual_projection.weight"])
            model.region_proj.weight.copy_(clip["visual_projection.weight"])
            model.logit_scale.copy_(clip["logit_scale"])
            text_heads = heads[m.text_encoder]
            if text_heads is not None and tuple(text_heads["text_projection.weight"].shape) == \
                    (m.embed_dim, text.config.hidden_size):
                model.text_proj.weight.copy_(text_heads["text_projection.weight"])
                model.phrase_proj.weight.copy_(text_heads["text_projection.weight"])
    return model


def _clip_heads(source: str) -> dict | None:
    """CLIP's two projections and logit scale from a full CLIPModel checkpoint, or None when the
    source is small or not a CLIPModel."""
    if source == "small" or load_config(source).model_type != "clip":
        return None
    from transformers import CLIPModel

    clip = load_pretrained(CLIPModel, source)
    return {"visual_projection.weight": clip.visual_projection.weight.detach().clone(),
            "text_projection.weight": clip.text_projection.weight.detach().clone(),
            "logit_scale": clip.logit_scale.detach().clone()}


def resolve_text_kind(cfg) -> None:
    """A pretrained text encoder's kind comes from its own config (a GPT-2 folder is never pooled
    or tokenised as CLIP)."""
    if cfg.model.text_encoder != "small":
        cfg.model.text_kind = text_kind_of(cfg.model.text_encoder)


def image_processor_settings(source: str) -> dict:
    """image_mean / image_std of a pretrained image encoder's own processor (preprocessor_config.json),
    so its pixels are normalised as it was trained; {} when it has none (CLIP's are used)."""
    if source == "small":
        return {}
    from transformers.utils import cached_file

    path = cached_file(source, "preprocessor_config.json", local_files_only=True,
                       _raise_exceptions_for_missing_entries=False, _raise_exceptions_for_connection_errors=False)
    if not path:
        return {}
    saved = json.loads(Path(path).read_text(encoding="utf-8"))
    return {k: [float(v) for v in saved[k]] for k in ("image_mean", "image_std") if len(saved.get(k) or ()) == 3}


def image_store_for(model):
    """An ImageStore that resizes and normalises images as this model reads them (its processor's)."""
    from glalign.model.processing import GLAlignProcessor

    return GLAlignProcessor.from_config(model.config).image_store()


def model_geometry(model) -> tuple[int, tuple[int, int]]:
    c = model.config.vision_config
    g = c.image_size // c.patch_size
    return c.image_size, (g, g)


def zero_shot(image_encoder: str, text_encoder: str, lang: str = "en", alpha: float = 1.0,
              region_mode: str = "pool", device: str = "cpu"):
    """(model, tokenizer, GLAlignConfig) of pretrained encoders with no fine-tuning: the first row
    of every TBPS table. With a CLIP checkpoint the global score is CLIP's own cosine similarity."""
    from glalign.config import TrainConfig
    from glalign.device import resolve_device
    from glalign.text.tokenizers import load_tokenizer

    cfg = TrainConfig.from_flat({"image_encoder": image_encoder, "text_encoder": text_encoder, "lang": lang,
                                 "alpha": alpha, "region_mode": region_mode, "dropout": 0.0})
    resolve_text_kind(cfg)
    config = load_config(text_encoder)
    cfg.model.max_length = text_context(getattr(config, "text_config", None) or config)  # the encoder's whole context
    tokenizer = load_tokenizer(text_encoder, cfg.model.text_kind)
    # heads a pretrained folder lacks (PhoBERT has no projection into CLIP's space) start at random:
    # from a fixed seed, so a zero-shot row is the same number every time (the caller's RNG is kept)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.optim.seed)
        model = build_model(cfg, tokenizer)
    return model.to(resolve_device(device)).eval(), tokenizer, model.config


def load_run(run, device: str = "cpu"):
    """(model, tokenizer, GLAlignConfig) from a run folder, on `device`, in eval mode."""
    from glalign.device import resolve_device
    from glalign.text.tokenizers import load_tokenizer

    run = Path(run)
    if not (run / "config.json").exists() or not (run / "model.safetensors").exists():
        raise GlalignError(f"{run} is not a trained run (no config.json / model.safetensors); train one with "
                           "`glalign train`")
    config = read_run_config(run)
    try:
        model = from_pretrained(GLAlignModel, run, config=config)
    except Exception as exc:  # safetensors raises its own errors on a truncated or foreign file
        raise GlalignError(f"{run / 'model.safetensors'} cannot be loaded ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200]}); the file is damaged or from another model: retrain "
                           "or restore it") from None
    refuse_non_finite(model, run / "model.safetensors")
    tokenizer = load_tokenizer(run / "tokenizer", config.text_kind)
    return model.to(resolve_device(device)).eval(), tokenizer, config
