"""The paper's scenarios as data, mapped onto SynthPEDES domains exactly as the paper maps them
onto its datasets (DESIGN.md section 4): A plays CUHK-PEDES (EN native) / CUHK-PEDES-VN (VI
translated); B plays 3000VnPerson-Search (VI native) / 3000Vn-V2E (EN translated).

Trained runs and evaluations are cached under a work folder, keyed by everything that
determines them, so notebooks can ask for the same scenario and get it without retraining."""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

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
                   "B_val_ids": 50, "train_profile": {"en": "synthpedes", "vi": "synthpedes-vi"}, "seed": 0,
                   "pretrained": "shipped",
                   "finetune_profile": {"en": "synthpedes-finetune", "vi": "synthpedes-finetune-vi"},
                   "studies": ("oracle",)},  # α trained and seeds: synthpedes-full
    "tiny": {"A_ids": 40, "B_ids": 30, "train_profile": "tiny", "seed": 0, "corpus_ids": 40,
             "finetune_profile": "tiny-finetune",
             "clip_pretrain": dict(epochs=2, batch_size=16, image_size=32, patch_size=8, vision_width=32,
                                   vision_layers=1, text_width=32, text_layers=1, heads=2, projection_dim=32,
                                   max_length=32, vocab_size=300),
             "mlm_pretrain": dict(epochs=2, batch_size=16, width=32, layers=1, heads=2, max_length=48,
                                  vocab_size=300),
             "parser_pretrain": dict(epochs=12, batch_size=16)},
}


# the same with every study of notebook 06 (α trained at five weights, three seeds): four more runs,
# beyond the 25 minutes of `make reproduce` on 2 cores
PROFILES["synthpedes-full"] = {**PROFILES["synthpedes"], "studies": STUDIES}


def profile_settings(profile: str) -> dict:
    if profile not in PROFILES:
        raise GlalignError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[profile]


class Workspace:
    """Datasets, runs and evaluations of one profile under one folder."""

    def __init__(self, profile: str, root, progress: bool = False):
        self.profile, self.settings = profile, profile_settings(profile)
        self.root = Path(root)
        self.progress = progress
        self._parsed: dict[str, str] = {}  # domain -> mask folder parsed in this session
        self._shipped: dict | None = None  # the shipped stand-ins, checked against their manifest once
        self._local_embedder = None  # ((run, fingerprint), glalign.rsm.Embedder) of the last evaluate_local
        self._eval_run = None  # ((run, fingerprint), (model, tokenizer, config, gallery cache)) of the last evaluate

    @property
    def studies(self) -> tuple[str, ...]:
        """Notebook 06's studies this profile runs (scenarios.STUDIES; every one unless it says)."""
        return tuple(self.settings.get("studies", STUDIES))

    # ---------------------------------------------------------- data
    def domain(self, name: str) -> Path:
        from glalign.data.synth import generate_domain

        out = self.root / "data" / name
        args = dict(domain=name, n_ids=self.settings[f"{name}_ids"], seed=self.settings["seed"], progress=self.progress,
                    test_ids=self.settings.get(f"{name}_test_ids"), val_ids=self.settings.get(f"{name}_val_ids"))
        try:
            generate_domain(out, **args)
        except GlalignError:
            # the workspace owns this cache: one made by another generator version is rebuilt
            shutil.rmtree(out)
            generate_domain(out, **args)
        return out

    def data_fingerprint(self, names) -> str:
        return hashlib.sha1(b"".join((self.domain(n) / "synth.json").read_bytes() for n in names)).hexdigest()[:8]

    # ---------------------------------------------------------- pretrained encoders
    def pretrained(self, kind: str) -> Path:
        """SynthCLIP ("clip"), SynthPhoBERT ("phobert") or SynthParser ("parser"): the embedded
        default's pretrained transformers, pretrained now on the corpus (SynthPEDES domain P) if the
        cache lacks them. They are folders read exactly as openai/clip-vit-base-patch32 /
        vinai/phobert-base / a clothes-parsing SegFormer are."""
        if self.settings.get("pretrained") == "shipped":
            from glalign.pretrain.ship import KINDS, verify_manifest

            if kind not in KINDS:
                raise ValueError(f"unknown pretrained kind {kind!r}")
            if self._shipped is None:
                self._shipped = verify_manifest()  # every file against its sha256, once per workspace
            return self._shipped[KINDS[kind]]
        root, corpus = self.root / "pretrained", self.corpus()
        if kind == "clip":
            from glalign.pretrain.clip import ClipPretrainConfig, pretrain_clip

            cfg = ClipPretrainConfig(**self.settings.get("clip_pretrain", {}))
            return pretrain_clip(root / "synthclip", corpus=corpus, cfg=cfg, progress=self.progress, overwrite=True)
        if kind == "phobert":
            from glalign.pretrain.mlm import MlmPretrainConfig, pretrain_mlm

            cfg = MlmPretrainConfig(**self.settings.get("mlm_pretrain", {}))
            return pretrain_mlm(root / "synthphobert", corpus=corpus, cfg=cfg, progress=self.progress, overwrite=True)
        if kind == "parser":
            return self.parser()
        raise ValueError(f"unknown pretrained kind {kind!r}")

    def corpus(self) -> Path:
        """The pretraining corpus (SynthPEDES domain P, its own identities), made if missing."""
        from glalign.pretrain import common

        n_ids = self.settings["corpus_ids"]
        return common.ensure_corpus(common.default_corpus(self.root / "pretrained" / "x", n_ids), n_ids, self.progress)

    # ---------------------------------------------------------- part masks: SynthParser
    def parser(self) -> Path:
        """SynthParser, the embedded default's human-parsing network (trained now on the corpus's
        label maps if the cache lacks it), read as a downloaded clothes-parsing SegFormer is."""
        from glalign.pretrain.parser import ParserPretrainConfig, train_parser

        if self.settings.get("pretrained") == "shipped":
            return self.pretrained("parser")
        cfg = ParserPretrainConfig(**self.settings.get("parser_pretrain", {}))
        return train_parser(self.corpus(), self.root / "pretrained" / "synthparser", cfg=cfg, progress=self.progress,
                            overwrite=True)  # the workspace owns its cache: other settings retrain

    def masks(self, name: str, masks: str = "estimated") -> str:
        """The folder under domain `name` holding the part masks runs read: SynthParser's, written
        by `glalign data parse` (parsed now unless on disk; named by the parser's fingerprint, so a
        retrained parser parses again), or the generator's ground truth for "oracle"."""
        from glalign.parsing.segformer import parse_dataset
        from glalign.pretrain.common import read_pretrain_config

        if masks not in MASKS:
            raise ValueError(f"unknown masks {masks!r}; choose one of {', '.join(MASKS)}")
        if masks == "oracle":
            self.domain(name)
            return "parsing"
        if name not in self._parsed:
            parser, root = self.parser(), self.domain(name)
            folder = f"parsing-synthparser-{read_pretrain_config(parser)['fingerprint'][:8]}"
            parse_dataset(root, str(parser), out=root / folder, progress=self.progress)
            self._parsed[name] = folder
        return self._parsed[name]

    def parser_iou(self, names=("A", "B")) -> pd.DataFrame:
        """Per-part IoU of SynthParser's masks against the generator's on every image of each
        domain (domain, part, iou), as a parser paper reports it."""
        from glalign.data.records import load_dataset
        from glalign.parsing.segformer import parser_iou

        frames = []
        for name in names:
            root = self.domain(name)
            records = load_dataset(root, check_images=False).records
            frames.append(parser_iou(root / self.masks(name), root / "parsing", records, domain=name))
        return pd.concat(frames, ignore_index=True)

    # ---------------------------------------------------------- ROGLE: long-form captions, mined pairs
    def longform(self, name: str) -> Path:
        """Domain `name` with long-form captions and region boxes (regions.json), written once."""
        from glalign.data.synth_longform import add_longform

        root = self.domain(name)
        add_longform(root, seed=self.settings["seed"])
        return root

    def rsm_model(self, lang: str) -> tuple[Path, str]:
        """The model RSM mines `lang` pairs with, and the tower it uses (glalign.rsm.Embedder):
        SynthCLIP for English; for Vietnamese, which SynthCLIP cannot read, rsm_judge's student,
        which reads Vietnamese into SynthCLIP's text space (regions: SynthCLIP's image tower)."""
        if lang == "en":
            return self.pretrained("clip"), "local"
        return self.rsm_judge(), "local"

    def rsm_judge(self) -> Path:
        """The Vietnamese RSM judge (glalign.pretrain.distill): SynthPhoBERT distilled into
        SynthCLIP's text space on the parallel EN/VI captions of the RSM_JUDGE domains' training
        splits (text only: no image, region or keyword list), made once into the workspace."""
        from glalign.pretrain.distill import DistillConfig, distill

        corpora = [self.domain(name) for name in RSM_JUDGE["domains"]]
        return distill(self.root / "pretrained" / "rsm-student-vi", self.pretrained("clip"), self.pretrained("phobert"),
                       corpora, DistillConfig(**RSM_JUDGE["distill"]), split="train", overwrite=True,
                       progress=self.progress)

    def rsm_embedder(self, lang: str):
        """A glalign.rsm.Embedder over rsm_model(lang)."""
        from glalign.rsm import Embedder

        source, tower = self.rsm_model(lang)
        return Embedder(source, tower=tower)

    def rsm_pairs(self, name: str, lang: str) -> Path:
        """Region-sentence pairs mined from the long captions of domain `name`'s train split (what
        --local-supervision rsm trains on: glalign.train.mined_phrases), mined now unless the file
        beside the dataset was mined with the same model (by fingerprint) and settings. Mined with
        no keyword list (baseline=False: not even the lexicon baseline is computed); the file
        keeps RSM's precision and recall against the generator's sentence parts."""
        from glalign.rsm import Embedder, mine, model_fingerprint
        from glalign.train import RSM_CAPTIONS

        root = self.longform(name)
        source, tower = self.rsm_model(lang)
        path = root / f"rsm_pairs.{lang}.{RSM_CAPTIONS}.json"
        # the model by what it holds, not where it is (a moved workspace mines nothing again); it
        # is loaded only to mine
        masks = self.masks(name)  # regions as a parser finds them
        want = {"fingerprint": model_fingerprint(source), "tower": tower, "split": "train", "masks": masks,
                "captions": RSM_CAPTIONS, **RSM_SETTINGS}
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if {k: saved.get(k) for k in want} == want:
                return path
        except (OSError, ValueError):  # none yet, or damaged: mine again
            pass
        mine(root, Embedder(source, tower=tower), lang, RSM_CAPTIONS, split="train", progress=self.progress,
             masks=masks, baseline=False, **RSM_SETTINGS)  # what training reads
        return path

    # ---------------------------------------------------------- runs
    def encoders(self, lang: str) -> dict:
        """The pretrained towers a `lang` run starts from, paired as the paper pairs them: CLIP's
        image tower, and CLIP's text tower for English, PhoBERT for Vietnamese."""
        clip = str(self.pretrained("clip"))
        return {"image_encoder": clip, "text_encoder": clip if lang == "en" else str(self.pretrained("phobert"))}

    def run_config(self, domains: tuple[str, ...], lang: str, alpha: float, init: str = "pretrained",
                   seed: int | None = None, masks: str = "estimated"):
        from glalign.config import TrainConfig

        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        profile = self.settings["finetune_profile" if init == "pretrained" else "train_profile"]
        if isinstance(profile, dict):  # chosen per language on validation (results/paper/NOTES.md)
            profile = profile[lang]
        towers = self.encoders(lang) if init == "pretrained" else {}
        cfg = TrainConfig.for_profile(profile, data=[str(self.domain(d)) for d in domains], lang=lang, out="",
                                      alpha=alpha, seed=self.settings["seed"] if seed is None else seed,
                                      device="auto", **towers)
        cfg.data.masks = {self.masks(d, masks) for d in domains}.pop()  # one folder name in every domain
        cfg.image_cache = True  # the grid reads each domain ~10 times: decode its images once
        return cfg

    def run_dir(self, domains: tuple[str, ...], lang: str, alpha: float, local_supervision: str = "lexicon",
                init: str = "pretrained", seed: int | None = None, masks: str = "estimated"):
        """(TrainConfig, run folder) of a run, named by everything that determines it: pretrained
        folders by their fingerprint (the cache survives moving the workspace), datasets and mined
        pairs by their content, estimated masks by the parser's fingerprint (in their folder's name)."""
        from glalign.pretrain.common import read_pretrain_config

        if local_supervision not in LOCAL_SUPERVISION:
            raise ValueError(f"unknown local supervision {local_supervision!r}")
        cfg = self.run_config(domains, lang, alpha, init, seed, masks)
        cfg.data.local_supervision = local_supervision
        settings = {k: v for k, v in cfg.flat().items() if k != "data"}
        for tower in ("image_encoder", "text_encoder"):  # a folder by what it holds, wherever the workspace is
            if settings[tower] != "small":
                settings[tower] = read_pretrain_config(Path(settings[tower]))["fingerprint"]
        key = json.dumps({"profile": cfg.profile, **settings}, sort_keys=True)
        key += self.data_fingerprint(domains)  # a regenerated dataset means a new run
        if local_supervision == "rsm":  # other mined pairs mean a new run
            key += "".join(mined_pairs_digest(self.rsm_pairs(d, lang)) for d in domains)
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        tags = "".join(f"-{t}" for t in (init, local_supervision if local_supervision != "lexicon" else "",
                                          "oracle" if masks == "oracle" else "",
                                          f"seed{seed}" if seed not in (None, self.settings["seed"]) else "") if t)
        path = self.root / "runs" / f"{'+'.join(domains)}-{lang}-a{alpha:g}{tags}-{digest}"
        cfg.out = str(path)
        return cfg, path

    def run(self, domains: tuple[str, ...], lang: str, alpha: float, local_supervision: str = "lexicon",
            init: str = "pretrained", seed: int | None = None, masks: str = "estimated") -> Path:
        """A trained run, trained now if the cache lacks a complete one (resumes a broken one).
        local_supervision "rsm" trains on pairs mined by rsm_pairs (mined first if needed); init
        "scratch" starts from random weights; seed None is the profile's; masks "oracle" trains on the
        generator's masks instead of SynthParser's."""
        from glalign.checkpoint import completed_epochs, latest_checkpoint
        from glalign.train import train

        cfg, path = self.run_dir(domains, lang, alpha, local_supervision, init, seed, masks)
        if completed_epochs(path) < cfg.optim.epochs:
            resumable = latest_checkpoint(path) is not None  # the workspace owns its runs: a broken one is redone
            train(cfg, resume=resumable, overwrite=path.exists() and not resumable, progress=self.progress)
        return path

    def sweep_run(self, lang: str, init: str, overrides: dict, domains: tuple[str, ...] = ("A",),
                  alpha: float = 0.5) -> Path:
        """A run of the validation sweep (glalign.sweep): the workspace's run with `overrides`
        (training settings such as lr, head_lr_scale, text_pooling, epochs), trained now unless
        cached under sweep/. Its history holds the validation curve it is judged by."""
        from glalign.checkpoint import completed_epochs
        from glalign.config import TrainConfig
        from glalign.train import train

        cfg, path = self.run_dir(domains, lang, alpha, init=init)
        cfg = TrainConfig.from_flat({**cfg.flat(), **overrides}, out="",
                                    profile=cfg.profile, device=cfg.device, where="sweep settings")
        cfg.image_cache = True
        key = hashlib.sha1((path.name + json.dumps(overrides, sort_keys=True)).encode()).hexdigest()[:8]
        cfg.out = str(self.root / "sweep" / f"{lang}-{init}-{key}")
        if completed_epochs(cfg.out) < cfg.optim.epochs:
            resumable = Path(cfg.out, "checkpoints", "latest").exists()
            train(cfg, resume=resumable, overwrite=Path(cfg.out).exists() and not resumable, progress=self.progress)
        return Path(cfg.out)

    def train_all(self, runs: list[dict], workers: int | None = None) -> list[Path]:
        """Train the runs (each a dict of `run`'s arguments) the cache lacks, `workers` at a time,
        each in its own process with its share of the CPU cores: on 2 cores, two single-thread
        processes train small models at 2 x 127 pairs/s where one process on both cores reaches 201
        (its threads wait on each other). Pretrained folders, masks and mined pairs a run needs are made
        first, here. Default workers: 1 on a GPU, else 2 when there are 2 cores or more."""
        from glalign.checkpoint import completed_epochs

        todo, paths = {}, []
        for spec in runs:
            cfg, path = self.run_dir(**spec)
            paths.append(path)
            if completed_epochs(path) < cfg.optim.epochs:
                todo.setdefault(path, spec)  # the same run asked twice (e.g. seed 0 = the profile's) trains once
        self._in_workers("run", list(todo.values()), workers)
        return paths

    def pretrain_all(self, workers: int | None = None) -> None:
        """SynthCLIP, SynthPhoBERT and SynthParser, pretrained side by side (two processes) if the
        cache lacks them; with the shipped folders, only their check against the manifest."""
        if self.settings.get("pretrained") == "shipped":
            for kind in ("clip", "phobert", "parser"):
                self.pretrained(kind)
            return
        self.corpus()
        self._in_workers("pretrained", [{"kind": "clip"}, {"kind": "phobert"}, {"kind": "parser"}], workers)

    def _in_workers(self, method: str, calls: list[dict], workers: int | None) -> None:
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from tqdm.auto import tqdm

        workers = default_workers() if workers is None else workers
        if workers <= 1 or len(calls) <= 1:
            for kwargs in calls:
                getattr(self, method)(**kwargs)
            return
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_set_threads, initargs=(threads,)) as pool:
            jobs = {pool.submit(_call_in_worker, self.profile, str(self.root), method, kw): kw for kw in calls}
            bar = tqdm(total=len(jobs), desc=f"{method}: {workers} processes x {threads} thread(s)", unit="job",
                       disable=not self.progress)
            for job in as_completed(jobs):
                job.result()  # a failed run raises here, with its own message
                bar.update(1)
            bar.close()

    # ---------------------------------------------------------- evaluation
    def test_ids(self, sc: Scenario):
        if not sc.test_subset:
            return None
        from glalign.evaluate import select_records

        ids = sorted({r.pid for r in select_records(self.domain(sc.test), sc.lang, sc.test_split)})
        return ids[:min(SV2_IDS, max(10, len(ids) // 5))]

    def evaluate(self, scenario: str, variant: str = "full", alpha: float | None = None,
                 eval_alpha: float | None = None, local_supervision: str = "lexicon", queries: str = "short",
                 init: str = "pretrained", seed: int | None = None, masks: str = "estimated"):
        """EvalResult of a scenario; `alpha` is the training weight (default: the variant's),
        `eval_alpha` the fusion weight at test time (default: the training one); queries "long":
        the test images' long-form captions instead of their short ones; masks: those the run is
        trained on are those it is tested on."""
        from glalign.evaluate import evaluate_run

        from glalign.model.factory import load_run
        from glalign.rsm import model_fingerprint

        sc = SCENARIOS[scenario]
        alpha = VARIANTS[variant] if alpha is None else alpha
        run = self.run(sc.train, sc.lang, alpha, local_supervision, init, seed, masks)
        data = self.longform(sc.test) if queries == "long" else self.domain(sc.test)
        key = (str(run), model_fingerprint(run))  # the last run evaluated stays loaded, with its last gallery
        if self._eval_run is None or self._eval_run[0] != key:
            self._eval_run = (key, (*load_run(run), {}))
        return evaluate_run(run, data, split=sc.test_split, lang=sc.lang,
                            alpha=alpha if eval_alpha is None else eval_alpha, ids=self.test_ids(sc),
                            progress=self.progress, queries=queries, masks=self.masks(sc.test, masks),
                            loaded=self._eval_run[1])

    def zero_shot(self, scenario: str, eval_alpha: float = 1.0):
        """EvalResult of the pretrained towers with no fine-tuning (the first row of a TBPS table);
        eval_alpha < 1 mixes in the local score of CLIP's projections applied to regions and phrases."""
        from glalign.evaluate import evaluate_run

        sc = SCENARIOS[scenario]
        towers = self.encoders(sc.lang)
        return evaluate_run(None, self.domain(sc.test), split=sc.test_split, lang=sc.lang, alpha=eval_alpha,
                            ids=self.test_ids(sc), progress=self.progress, masks=self.masks(sc.test), **towers)

    def evaluate_local(self, scenario: str, variant: str = "full", local_supervision: str = "lexicon",
                       queries: str = "long", init: str = "pretrained") -> dict:
        """ROGLE-style local protocol (glalign.local_protocol) of a scenario's run on its test
        images: part-conditioned region retrieval (identity and attribute relevance), grounding
        and attribute foils, per part, each beside its chance and a text-only baseline ("rows").
        Regions are pooled from SynthParser's masks, as the runs are trained; a part with an
        empty mask is absent (counted in "absent")."""
        from glalign.local_protocol import evaluate_local
        from glalign.rsm import Embedder, model_fingerprint

        sc = SCENARIOS[scenario]
        run = self.run(sc.train, sc.lang, VARIANTS[variant], local_supervision, init)
        # the run's embedder is kept for the next call (short then long queries of one run): it
        # loads once and embeds the test regions once (Embedder caches them)
        key = (str(run), model_fingerprint(run))
        if self._local_embedder is None or self._local_embedder[0] != key:
            self._local_embedder = (key, Embedder(run))
        return evaluate_local(self.longform(sc.test), self._local_embedder[1], sc.lang, split=sc.test_split,
                              region_mode="pool", queries=queries, ids=self.test_ids(sc), masks=self.masks(sc.test))


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


def mined_pairs_digest(path: Path) -> str:
    """sha1 of a mined-pairs file's content (its pairs and settings) without the path of the
    model that mined them: the model is named by its fingerprint, so the same pairs mined from a
    workspace or package elsewhere key the same run."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    saved.pop("model", None)
    return hashlib.sha1(json.dumps(saved, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def default_workers() -> int:
    import os

    import torch

    return 1 if torch.cuda.is_available() else min(2, os.cpu_count() or 1)


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def _call_in_worker(profile: str, root: str, method: str, kwargs: dict) -> str:
    return str(getattr(Workspace(profile, root), method)(**kwargs))


def result_row(scenario: str, variant: str, result) -> dict:
    """One row of a retrieval table: the metrics with their identity-bootstrap CI, and chance
    (chance_R1, gallery_images, gallery_ids) beside them, since galleries differ between scenarios."""
    from glalign.metrics import chance_r1
    from glalign.stats import bootstrap_ci

    sc = SCENARIOS[scenario]
    lo, hi = bootstrap_ci(result.per_query.correct_at_1.to_numpy(), clusters=result.per_query.pid.to_numpy())
    m = result.metrics
    return {"scenario": scenario, "variant": variant, "train": "+".join(f"{d}-{sc.lang.upper()}" for d in sc.train),
            "test": f"{sc.test}-{sc.lang.upper()}" + (" (subset)" if sc.test_subset else "")
                    + (" (all ids)" if sc.test_split == "all" else ""),
            "lang": sc.lang, "R1": m["R1"], "R5": m["R5"], "R10": m["R10"], "mAP": m["mAP"], "mINP": m["mINP"],
            "n_queries": result.n_queries, "R1_ci_low": lo, "R1_ci_high": hi,
            "chance_R1": chance_r1(result.query_pids, result.gallery_pids),
            "gallery_images": len(result.gallery_pids), "gallery_ids": len(set(result.gallery_pids.tolist()))}


def scenario_table(ws: Workspace, scenarios=tuple(SCENARIOS), variant: str = "full") -> tuple[pd.DataFrame, dict]:
    """The scenario grid, plus the EvalResults by scenario (for per-query comparisons)."""
    results = {s: ws.evaluate(s, variant) for s in scenarios}
    table = pd.DataFrame([result_row(s, variant, r) for s, r in results.items()])
    return table, results
