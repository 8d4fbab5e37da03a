"""Training settings, in three groups: what data, what model, how to optimise.

Users write them flat (CLI flags, a JSON `--config` file, the PROFILES presets of glalign.presets); `TrainConfig`
sorts each key into its group and validates every value, naming where it came from. A run saves
them as train_config.json; the model's architecture itself lives in the run's config.json
(GLAlignConfig), which is all that inference needs."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from glalign.errors import GlalignError
from glalign.presets import PROFILES  # noqa: F401  (the named presets: re-exported where users look)

# What a text-kind word means when the profile starts from pretrained weights (`--text-encoder gpt2`).
DEFAULT_NAMES = {"clip": "openai/clip-vit-base-patch32", "gpt2": "gpt2", "phobert": "vinai/phobert-base"}
LANGS = ("en", "vi")
FORMATS = ("auto", "cuhk-pedes", "icfg-pedes", "rstpreid", "vn3k", "manifest")
MAX_SEED = 2**32 - 1  # numpy's and torch's generators both accept this range


@dataclass
class DataSettings:
    data: list[str] = field(default_factory=list)
    lang: str = "en"
    format: str = "auto"
    lexicon_mode: str = "extended"
    flip: bool = True
    masks: str = "parsing"  # part label maps: a folder under each dataset root (or a path)
    local_supervision: str = "lexicon"  # lexicon: NPs mapped by keyword lists; rsm: ROGLE's mined pairs
    # score the data's 'val' split after every epoch and publish the best epoch's weights (by
    # validation Rank-1); without a 'val' split, or false, the last epoch's
    validate: bool = True


@dataclass
class ModelSettings:
    image_encoder: str = "small"  # "small" (from scratch) or a CLIP model folder / cached hub name
    text_encoder: str = "small"   # "small" or a model folder / cached hub name
    text_kind: str = "clip"       # clip | gpt2 | phobert
    image_size: int = 64
    patch_size: int = 8
    vision_hidden: int = 96
    vision_layers: int = 3
    text_hidden: int = 96
    text_layers: int = 2
    heads: int = 4
    embed_dim: int = 96
    max_length: int = 64
    vocab_size: int = 1500
    dropout: float = 0.1
    region_mode: str = "pool"
    text_pooling: str = "default"  # default: the text kind's own token (EOT, last, <s>); or first | last | mean


@dataclass
class OptimSettings:
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-3
    head_lr_scale: float = 1.0  # projection heads and logit scale learn at lr x this (the towers at lr)
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1
    alpha: float = 0.5
    seed: int = 0


GROUPS = {"data": DataSettings, "model": ModelSettings, "optim": OptimSettings}
_CHOICES = {"lang": LANGS, "format": FORMATS, "lexicon_mode": ("paper", "extended"),
            "text_kind": ("clip", "gpt2", "phobert"), "region_mode": ("pool", "crop"),
            "text_pooling": ("default", "first", "last", "mean"),
            "local_supervision": ("lexicon", "rsm")}
# (low, high, low inclusive, high inclusive) for numbers
_RANGES = {"epochs": (1, 10_000, True, True), "batch_size": (1, 1 << 20, True, True),
           "lr": (0.0, 10.0, False, True), "head_lr_scale": (0.0, 1000.0, False, True), "weight_decay": (0.0, 10.0, True, True),
           "warmup_fraction": (0.0, 1.0, True, False), "alpha": (0.0, 1.0, True, True),
           "dropout": (0.0, 1.0, True, False), "seed": (0, MAX_SEED, True, True),
           **{k: (1, 1 << 16, True, True) for k in ("image_size", "patch_size", "vision_hidden", "vision_layers",
                                                    "text_hidden", "text_layers", "heads", "embed_dim",
                                                    "max_length", "vocab_size")}}


def _check(name: str, value, kind, where: str):
    """The value, converted where lossless (an int for a float field), or a GlalignError."""
    bad = lambda want: GlalignError(f"{where}: {name} must be {want}, got {value!r}")  # noqa: E731
    if kind is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("a whole number")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        value = float(value)
        if not math.isfinite(value):
            raise bad("a finite number")
    elif kind is str:
        if not isinstance(value, str) or not value:
            raise bad("a non-empty string")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise bad(f"one of {', '.join(_CHOICES[name])}")
    elif name == "data":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise bad("a non-empty list of dataset folders")
    if name in _RANGES:
        lo, hi, lo_in, hi_in = _RANGES[name]
        if value < lo or value > hi or (value == lo and not lo_in) or (value == hi and not hi_in):
            raise bad(f"in {'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}")
    return value


MAX_PATCHES = 1 << 14  # patches per image of a tower built here (ViT-B/16 at 1024 px has 4,096)


def _check_sizes(m: "ModelSettings", where: str) -> None:
    """Sizes that are valid one by one but not together, for the towers built from scratch (a
    pretrained tower brings its own): heads must divide the widths, a patch must fit the image."""
    if m.image_encoder == "small":
        if m.vision_hidden % m.heads:
            raise GlalignError(f"{where}: vision_hidden {m.vision_hidden} is not a multiple of heads {m.heads}")
        if m.patch_size > m.image_size:
            raise GlalignError(f"{where}: patch_size {m.patch_size} is larger than image_size {m.image_size}")
        if (m.image_size // m.patch_size) ** 2 > MAX_PATCHES:
            raise GlalignError(f"{where}: image_size {m.image_size} / patch_size {m.patch_size} gives "
                               f"{(m.image_size // m.patch_size) ** 2} patches per image, more than {MAX_PATCHES}; "
                               "use a larger patch_size or a smaller image_size")
    if m.text_encoder == "small" and m.text_hidden % m.heads:
        raise GlalignError(f"{where}: text_hidden {m.text_hidden} is not a multiple of heads {m.heads}")


_TYPES = {"list[str]": list, "str": str, "int": int, "float": float, "bool": bool}


@dataclass
class TrainConfig:
    out: str
    data: DataSettings
    model: ModelSettings
    optim: OptimSettings
    profile: str = "synthpedes"
    device: str = "auto"
    world_size: int = 1
    # how to run, not what to train (never compared on --resume): DataLoader worker processes,
    # activation recomputation in the towers (memory for time), the decoded-image file cache
    workers: int = 0
    grad_checkpointing: bool = False
    image_cache: bool = False  # decoded images in a memory-mapped file beside each dataset (data.image_cache)

    @classmethod
    def from_flat(cls, values: dict, out: str = "", profile: str = "synthpedes", device: str = "auto",
                  where: str = "settings") -> "TrainConfig":
        """Sort flat keys into their groups, validating each; unknown keys are refused."""
        if not isinstance(values, dict):
            raise GlalignError(f"{where}: expected a JSON object of settings, got {type(values).__name__}")
        groups = {name: {} for name in GROUPS}
        owner = {f.name: (g, f.type) for g, c in GROUPS.items() for f in dataclasses.fields(c)}
        unknown = sorted(set(values) - set(owner))
        if unknown:
            raise GlalignError(f"{where}: unknown training setting(s) {', '.join(unknown)}; known: "
                               f"{', '.join(sorted(owner))}")
        for key, value in values.items():
            group, kind = owner[key]
            groups[group][key] = _check(key, value, _TYPES[kind], where)
        cfg = cls(out=out, profile=profile, device=device, **{g: GROUPS[g](**groups[g]) for g in GROUPS})
        _check_sizes(cfg.model, where)
        return cfg

    @classmethod
    def for_profile(cls, profile: str, out: str = "", device: str = "auto", where: str = "settings",
                    **overrides) -> "TrainConfig":
        if profile not in PROFILES:
            raise GlalignError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        values = {**PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}}
        return cls.from_flat(values, out=out, profile=profile, device=device, where=where)

    @classmethod
    def from_cli(cls, args) -> "TrainConfig":
        file_values, where = {}, "command line"
        if args.config:
            where = f"{args.config} or the command line"
            try:
                file_values = json.loads(Path(args.config).read_text(encoding="utf-8"))
            except (FileNotFoundError, IsADirectoryError):
                raise GlalignError(f"config file {args.config} does not exist") from None
            except UnicodeDecodeError:
                raise GlalignError(f"config file {args.config} is not UTF-8 text") from None
            except json.JSONDecodeError as exc:
                raise GlalignError(f"{args.config}: malformed JSON ({exc.msg}, line {exc.lineno})") from None
            except RecursionError:
                raise GlalignError(f"{args.config}: JSON nested too deeply to be a settings file") from None
            if not isinstance(file_values, dict):
                raise GlalignError(f"{args.config}: expected a JSON object of settings, "
                                   f"got {type(file_values).__name__}")
        text = args.text_encoder
        pretrained_text = {**PROFILES.get(args.profile, {}), **file_values}.get("text_encoder", "small") != "small"
        flags = dict(data=args.data, lang=args.lang, format=args.format, epochs=args.epochs,
                     batch_size=args.batch_size, lr=args.lr, head_lr_scale=args.head_lr_scale, alpha=args.alpha, region_mode=args.region_mode,
                     seed=args.seed, image_encoder=args.image_encoder, masks=args.masks,
                     local_supervision=args.local_supervision)
        if text in DEFAULT_NAMES:
            flags["text_kind"] = text
            if pretrained_text:  # a pretrained profile: the kind's own checkpoint, never CLIP's weights as GPT-2
                flags["text_encoder"] = DEFAULT_NAMES[text]
        elif text:
            flags["text_encoder"] = text
        return cls.for_profile(args.profile, out=args.out, device=args.device, where=where,
                               **{**file_values, **{k: v for k, v in flags.items() if v is not None}})

    def flat(self) -> dict:
        return {k: v for g in GROUPS for k, v in dataclasses.asdict(getattr(self, g)).items()}

    def to_dict(self) -> dict:
        return {"profile": self.profile, "world_size": self.world_size,
                **{g: dataclasses.asdict(getattr(self, g)) for g in GROUPS}}

    @classmethod
    def from_dict(cls, saved: dict, out: str = "", where: str = "train_config.json") -> "TrainConfig":
        if not isinstance(saved, dict) or not all(isinstance(saved.get(g), dict) for g in GROUPS):
            raise GlalignError(f"{where}: not a glalign training configuration (no data/model/optim groups)")
        flat = {k: v for g in GROUPS for k, v in saved[g].items()}
        cfg = cls.from_flat(flat, out=out, profile=saved.get("profile", "synthpedes"), where=where)
        cfg.world_size = saved.get("world_size", 1)
        return cfg

    def differences(self, other: "TrainConfig") -> list[str]:
        """Settings that differ (what --resume may not change)."""
        mine, theirs = self.flat(), other.flat()
        return [f"{k}: {theirs[k]!r} -> {mine[k]!r}" for k in mine if mine[k] != theirs[k]]
