"""GLAlignConfig: the architecture of a GLAlign model as a transformers config.

Like transformers' VisionTextDualEncoderConfig, it holds the two towers' own configs as
sub-configs (any CLIP vision config; a CLIP text, GPT-2 or RoBERTa/PhoBERT config), so a run
folder is a transformers model folder: `GLAlignModel.from_pretrained(RUN)` and
`transformers.AutoModel.from_pretrained(RUN)` read it. Beside the architecture it records what
inference needs to treat queries as training did (caption language, token budget, lexicon mode,
the default fusion weight)."""
from __future__ import annotations

import json
import math
from dataclasses import field
from pathlib import Path

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from glalign.constants import CLIP_MEAN, CLIP_STD
from glalign.errors import GlalignError

TEXT_KINDS = ("clip", "gpt2", "phobert")
REGION_MODES = ("pool", "crop")
LANGS = ("en", "vi")
LEXICON_MODES = ("paper", "extended")
# How a query's text reaches the regions at test time (glalign.evaluate): "lexicon", GLAlign's noun
# phrases joined per part by the keyword lexicon, each scored against its part's region; "best-region",
# ROGLE's arm (trained on mined region-sentence pairs), no keyword list: each of the query's sentences
# scored against every present region of the image, its best region taken; "part-prototype", the
# alternative it was chosen over on validation (results/paper/NOTES.md): each sentence routed once
# to the part whose mean gallery region it is closest to.
PHRASE_ROUTINGS = ("lexicon", "best-region", "part-prototype")


def _float32(values) -> list[float]:
    """The values as float32 reads them (what config.json has always held)."""
    import torch

    return torch.tensor(values, dtype=torch.float32).tolist()


@strict
class GLAlignConfig(PreTrainedConfig):
    """text_kind picks the text pooling (clip: EOT token, gpt2: last real token, phobert: first
    token on word-segmented input); region_mode picks how part regions are embedded (pool: patch
    tokens averaged inside each part mask; crop: each part through the ViT)."""

    model_type = "glalign"
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="clip_vision_model"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="clip_text_model"),
    }

    vision_config: PreTrainedConfig | dict | None = None
    text_config: PreTrainedConfig | dict | None = None
    text_kind: str = "clip"
    embed_dim: int = 512
    region_mode: str = "pool"
    logit_scale_init_value: float = math.log(1 / 0.07)
    max_length: int = 77
    lang: str = "en"
    lexicon_mode: str = "extended"
    alpha: float = 0.5
    phrase_routing: str = "lexicon"  # PHRASE_ROUTINGS; "best-region" for runs trained on mined pairs
    text_pooling: str = ""  # "" = the text kind's own (encoders.POOLING); first | last | mean
    # pixel normalisation: the image encoder's own processor settings (CLIP's when it has none)
    image_mean: list[float] = field(default_factory=lambda: _float32(CLIP_MEAN))
    image_std: list[float] = field(default_factory=lambda: _float32(CLIP_STD))

    def validate_architecture(self):
        super().validate_architecture()
        for name, value, allowed in (("text_kind", self.text_kind, TEXT_KINDS),
                                     ("region_mode", self.region_mode, REGION_MODES),
                                     ("lang", self.lang, LANGS), ("lexicon_mode", self.lexicon_mode, LEXICON_MODES),
                                     ("phrase_routing", self.phrase_routing, PHRASE_ROUTINGS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if self.text_pooling not in ("", "first", "last", "mean"):
            raise ValueError(f"text_pooling must be '', first, last or mean, not {self.text_pooling!r}")
        if self.embed_dim <= 0 or self.max_length <= 0:
            raise ValueError("embed_dim and max_length must be positive")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], not {self.alpha}")

    @property
    def vision_hidden(self) -> int:
        return self.vision_config.hidden_size

    @property
    def text_hidden(self) -> int:
        return getattr(self.text_config, "hidden_size", None) or self.text_config.n_embd


def _legacy_config(saved: dict, where: Path) -> GLAlignConfig:
    """config.json of a run written before GLAlignConfig: {"train": {...flat...}, "hf_configs": {...}}."""
    from transformers import AutoConfig

    train, hf = saved["train"], saved["hf_configs"]
    try:
        return GLAlignConfig(vision_config=AutoConfig.for_model(**hf["vision"]),
                             text_config=AutoConfig.for_model(**hf["text"]), text_kind=train["text_kind"],
                             embed_dim=train["embed_dim"], region_mode=train["region_mode"],
                             max_length=train["max_length"], lang=train["lang"],
                             lexicon_mode=train.get("lexicon_mode", "extended"), alpha=float(train["alpha"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise GlalignError(f"{where}: an older run's config.json that cannot be converted ({exc}); retrain it") from None


def read_run_config(run: Path) -> GLAlignConfig:
    path = run / "config.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GlalignError(f"{path} is damaged ({type(exc).__name__}: {exc}); retrain the run") from None
    if isinstance(saved, dict) and "hf_configs" in saved and "train" in saved:
        return _legacy_config(saved, path)
    if not isinstance(saved, dict) or saved.get("model_type") != "glalign":
        raise GlalignError(f"{path} is not a GLAlign run's config (model_type {saved.get('model_type') if isinstance(saved, dict) else None!r})")
    try:
        return GLAlignConfig.from_dict(saved)
    except Exception as exc:  # strict validation: any hand-edited field that does not hold
        raise GlalignError(f"{path}: invalid GLAlign config ({str(exc).splitlines()[-1].strip()})") from None
