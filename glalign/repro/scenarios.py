"""The paper's scenarios as data, mapped onto SynthPEDES domains exactly as the paper maps them onto
its datasets (DESIGN.md section 4): A plays CUHK-PEDES (EN native) / CUHK-PEDES-VN (VI translated);
B plays 3000VnPerson-Search (VI native) / 3000Vn-V2E (EN translated).

Trained runs and evaluations are cached under a work folder, keyed by everything that determines
them, so notebooks can ask for the same scenario and get it without retraining."""
from __future__ import annotations

from dataclasses import dataclass

from glalign.errors import GlalignError


@dataclass(frozen=True)
class Scenario:
    name: str
    train: tuple[str, ...]   # domains trained on (all in `lang`)
    test: str                # domain tested on
    lang: str
    test_split: str = "test"  # 'all' = every identity of the domain (SV3)
    test_subset: bool = False  # SV2: SV2_IDS of the test identities, as the paper tests on 100
    description: str = ""


SCENARIOS = {s.name: s for s in (
    Scenario("SE1", ("A",), "A", "en", description="train A-EN, test A-EN (CUHK-PEDES 11k/1k)"),
    Scenario("SE2", ("B",), "B", "en", description="train B-EN, test B-EN (3000Vn-V2E 2k/1k)"),
    Scenario("SE3", ("A",), "B", "en", description="train A-EN, test B-EN (cross-dataset)"),
    Scenario("SE4", ("A", "B"), "B", "en", description="train A-EN + B-EN, test B-EN"),
    Scenario("SV1", ("A",), "A", "vi", description="train A-VI, test A-VI (CUHK-PEDES-VN)"),
    Scenario("SV2", ("A",), "B", "vi", test_subset=True,
             description="train A-VI, test 100 of B-VI's test identities (the paper's 100 IDs)"),
    Scenario("SV3", ("A",), "B", "vi", test_split="all", description="train A-VI, test every B-VI identity"),
)}


SV2_IDS = 100  # the paper's SV2 tests on 100 identities (a fifth of a smaller test split)
VARIANTS = {"full": 0.5, "global-only": 1.0, "local-only": 0.0}


# Part masks a run trains and is tested on: SynthParser's estimates, as the paper's regions come from a
# parsing network (ViTAA's), or the generator's pixel-exact ground truth (the oracle-masks ablation).
MASKS = ("estimated", "oracle")
LOCAL_SUPERVISION = ("lexicon", "rsm")  # GLAlign's keyword lexicon, ROGLE's mined region-sentence pairs


RSM_SETTINGS = {"region_mode": "crop", "min_margin": 0.05, "per_region": 1}  # how the workspace mines pairs


# The Vietnamese RSM judge (Workspace.rsm_judge): distilled on these domains' training captions
RSM_JUDGE = {"domains": ("A", "B"), "distill": {}}
ALPHA_SWEEP = (0.2, 0.5, 0.8)


STUDIES = ("oracle", "alpha", "seeds")  # notebook 06's studies beyond RQ1: masks, α trained, seed spread
ROGLE_LANGS = ("en", "vi")  # notebook 08's RSM arms: SE1 (English) and SV1 (Vietnamese)


# How a run's towers start: fine-tuned from the profile's pretrained folders (SynthCLIP; SynthPhoBERT
# for Vietnamese text), as the paper fine-tunes CLIP/PhoBERT, or from random weights.
INITS = ("pretrained", "scratch")


# Reproduce profiles: dataset sizes and the training profile.
PROFILES = {
    # Test splits sized for the protocols: A 100 identities (CUHK-PEDES's 1,000 in spirit), B 500 (SV2
    # takes 100 of them); validation splits (A 30, B 50 identities) choose epochs and settings;
    # training splits (A 200, B 250 identities) sized so that `make reproduce` fits its 25 minutes on
    # 2 CPU cores. The pretrained towers are the package's shipped folders (glalign/pretrained/,
    # glalign.pretrain.ship): read as a user reads a downloaded CLIP, never pretrained here.
    "synthpedes": {"A_ids": 330, "A_test_ids": 100, "A_val_ids": 30, "B_ids": 800, "B_test_ids": 500,
                   "B_val_ids": 50, "seed": 0, "pretrained": "shipped",
                   # training profile per language, or per "language/variant" where a variant needs its own
                   "train_profile": {"en": "synthpedes", "vi": "synthpedes-vi", "en/full": "synthpedes-en-full",
                                     "vi/global-only": "synthpedes-vi-global"},
                   "finetune_profile": {"en": "synthpedes-finetune", "vi": "synthpedes-finetune-vi",
                                        "en/full": "synthpedes-finetune-en-full",
                                        "vi/global-only": "synthpedes-finetune-vi-global"},
                   # cut to hold the 25 minutes, kept in synthpedes-full: notebook 06's oracle-masks run, α
                   # trained and seeds; notebook 08's Vietnamese RSM arm (its curve still rose at 6 epochs)
                   "studies": (), "rogle_langs": ("en",)},
    "tiny": {"A_ids": 40, "B_ids": 30, "train_profile": "tiny", "seed": 0, "corpus_ids": 40,
             "finetune_profile": "tiny-finetune",
             "clip_pretrain": dict(epochs=2, batch_size=16, image_size=32, patch_size=8, vision_width=32,
                                   vision_layers=1, text_width=32, text_layers=1, heads=2, projection_dim=32,
                                   max_length=32, vocab_size=300),
             "mlm_pretrain": dict(epochs=2, batch_size=16, width=32, layers=1, heads=2, max_length=48,
                                  vocab_size=300),
             "parser_pretrain": dict(epochs=12, batch_size=16)},
}


# the same with every study of notebook 06 (oracle masks, α trained at five weights, three seeds) and both
# of notebook 08's RSM arms: six more runs, beyond the 25 minutes of `make reproduce` on 2 cores
PROFILES["synthpedes-full"] = {**PROFILES["synthpedes"], "studies": STUDIES, "rogle_langs": ROGLE_LANGS}


def training_profile(settings: dict, init: str, lang: str, alpha: float) -> str:
    """The training preset of a run: the workspace profile's, per language, or per "language/variant"
    where a variant was given its own on validation (results/paper/NOTES.md)."""
    profile = settings["finetune_profile" if init == "pretrained" else "train_profile"]
    if not isinstance(profile, dict):
        return profile
    variant = {a: v for v, a in VARIANTS.items()}.get(alpha)
    return profile.get(f"{lang}/{variant}", profile[lang])


def profile_settings(profile: str) -> dict:
    if profile not in PROFILES:
        raise GlalignError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[profile]


ALPHAS_TRAINED = (0.0, 0.25, 0.5, 0.75, 1.0)  # notebook 06: a run trained at each weight (SE1)
SEEDS = (0, 1, 2)  # notebook 06: SE1's seed spread


def pipeline_runs(studies=STUDIES) -> list[dict]:
    """The arguments of every run notebooks 03-07 evaluate, the longest first (notebook 08's RSM
    runs come later: their pairs are mined with one of these). Notebook 03 trains them all.
    `studies`: which of notebook 06's extra studies to train for (a profile's `studies`)."""
    runs = [dict(domains=SCENARIOS[s].train, lang=SCENARIOS[s].lang, alpha=VARIANTS["full"])
            for s in ("SE4", "SE2", "SE1", "SV1")]  # SE3 tests SE1's run; SV2 and SV3 test SV1's
    runs += [dict(domains=("A",), lang=lang, alpha=a, init=init)
             for lang in ("en", "vi") for a in VARIANTS.values() for init in INITS]  # RQ1 (Table 11 x init)
    if "alpha" in studies:
        runs += [dict(domains=("A",), lang="en", alpha=a) for a in ALPHAS_TRAINED]
    if "seeds" in studies:
        runs += [dict(domains=("A",), lang="en", alpha=VARIANTS["full"], seed=s) for s in SEEDS]
    if "oracle" in studies:
        runs.append(dict(domains=("A",), lang="en", alpha=VARIANTS["full"], masks="oracle"))
    return runs
