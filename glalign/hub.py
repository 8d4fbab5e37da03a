"""Offline model loading, in one place: every transformers folder (or hub name already in the local
cache) that glalign reads goes through here, with `local_files_only=True`, so no call ever reaches
a model hub whatever the environment says. Importing glalign changes nothing in the host process;
the `glalign` command, which owns its process, also sets the hub-offline variables
(`offline_environment`) so that libraries it calls indirectly stay offline too.

A model that is not on this machine fails at once with a message saying how to provide it; a
folder that is not a model, a damaged weights file, weights that do not fit their config and
missing weights are each refused with a message naming the folder."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from glalign.errors import GlalignError, ModelNotAvailableError, os_error_of

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false"}

# config attributes that carry dropout, per architecture (passed when the model is built)
DROPOUT_KEYS = {"clip_vision_model": ("dropout", "attention_dropout"), "clip": ("dropout", "attention_dropout"),
                "clip_text_model": ("dropout", "attention_dropout"),
                "gpt2": ("resid_pdrop", "embd_pdrop", "attn_pdrop"),
                "roberta": ("hidden_dropout_prob", "attention_probs_dropout_prob")}


def offline_environment() -> None:
    """Hub-offline variables for a process glalign owns (the CLI); a value the user set is kept."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def quiet_transformers():
    """No 'Loading weights' / 'Writing model shards' bars from transformers for our own small files,
    and no load report: one tower of a CLIP checkpoint always leaves the other's weights unused, and
    weights a model lacks are refused by `load_pretrained` itself, not logged."""
    from transformers.utils import logging as hf_logging

    was, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if was:
            hf_logging.enable_progress_bar()


def not_available(name: str, exc: Exception) -> ModelNotAvailableError:
    return ModelNotAvailableError(
        f"model {name!r} is not available on this machine and the hub is off (HF_HUB_OFFLINE=1). "
        f"On a machine with network run `huggingface-cli download {name}` (or "
        f"`python -c \"from transformers import AutoModel; AutoModel.from_pretrained('{name}')"
        f".save_pretrained('DIR')\"`), copy the folder here and pass its path instead of the name. "
        f"({type(exc).__name__})")


def model_source(name: str) -> str:
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

    source = model_source(name)
    try:
        return AutoConfig.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as exc:
        if Path(source).exists():
            raise GlalignError(f"{name}: cannot read its config.json ({exc})") from None
        raise not_available(name, exc) from None


def from_pretrained(cls, source, **kwargs):
    """`cls.from_pretrained(source, local_files_only=True, **kwargs)` without transformers' bars and
    load report: for the package's own folders (a run, a pretrained stand-in), whose errors the
    caller words."""
    with quiet_transformers():
        return cls.from_pretrained(str(source), local_files_only=True, **kwargs)


def refuse_non_finite(model, where) -> None:
    """A GlalignError naming the first weight (or buffer) of `model` that holds NaN or inf: such a
    model scores every query as NaN, which ranks in no meaningful order (a silent wrong result)."""
    import torch

    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise GlalignError(f"{where}: weight {name} holds {bad} non-finite value(s) (NaN or inf): the model "
                               "diverged or its file is damaged; retrain it or restore the file")


def load_pretrained(cls, name: str, dropout: float | None = None, **kwargs):
    """A model of class `cls` from a folder or a cached name, offline; refuses a checkpoint that
    lacks weights the model needs (transformers would only log a warning and start them at random),
    one whose weights do not have the shapes its config.json says (e.g. a num_labels that disagrees
    with the saved classifier), and a damaged weights file, each with a message naming the folder."""
    from safetensors import SafetensorError

    source = model_source(name)
    config = load_config(name)  # names a missing folder/model clearly before anything else
    kwargs.setdefault("ignore_mismatched_sizes", True)  # reported below, with the shapes, instead of a bare RuntimeError
    try:
        own = cls.config_class.from_pretrained(source, local_files_only=True)  # e.g. the vision part of a CLIP
        if dropout is not None:
            for key in DROPOUT_KEYS.get(own.model_type, ()):
                setattr(own, key, dropout)
        model, info = from_pretrained(cls, source, config=own, output_loading_info=True, **kwargs)
    except SafetensorError as exc:  # truncated, empty or not a safetensors file at all
        if os_error_of(exc) is not None:
            raise
        raise GlalignError(f"{name}: its weights file (model.safetensors) is damaged ({exc}); save or download the "
                           "model again") from None
    except (OSError, ValueError) as exc:
        if Path(source).exists():
            raise GlalignError(f"{name}: not a {cls.__name__} checkpoint ({exc})") from None
        raise not_available(name, exc) from None
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


def load_tokenizer_files(source):
    """AutoTokenizer of a folder (or cached name), offline; a GlalignError when it has none."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise GlalignError(f"tokenizer {source!s} is not available locally ({type(exc).__name__}: {exc}); "
                           "pass a folder that holds the model's tokenizer files") from None
