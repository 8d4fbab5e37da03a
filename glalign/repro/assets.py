"""What a workspace builds once and caches by content: the SynthPEDES domains, the pretrained stand-ins
(shipped and checked against their manifest, or pretrained here), SynthParser's masks, long-form
captions, the RSM judge and its mined pairs."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from glalign.errors import GlalignError
from glalign.fingerprint import file_digest
from glalign.repro.scenarios import MASKS, ROGLE_LANGS, RSM_JUDGE, RSM_SETTINGS, STUDIES, profile_settings


class WorkspaceAssets:
    """The cached inputs of a Workspace (glalign.repro.workspace), each made on first use."""

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

    @property
    def rogle_langs(self) -> tuple[str, ...]:
        """The languages of notebook 08's RSM arms this profile trains (scenarios.ROGLE_LANGS unless it says)."""
        return tuple(self.settings.get("rogle_langs", ROGLE_LANGS))

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
        return file_digest([self.domain(n) / "synth.json" for n in names], n=8)

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
        from glalign.rogle.embedder import Embedder

        source, tower = self.rsm_model(lang)
        return Embedder(source, tower=tower)

    def rsm_pairs(self, name: str, lang: str) -> Path:
        """Region-sentence pairs mined from the long captions of domain `name`'s train split (what
        --local-supervision rsm trains on: glalign.train.mined_phrases), mined now unless the file
        beside the dataset was mined with the same model (by fingerprint) and settings. Mined with
        no keyword list (baseline=False: not even the lexicon baseline is computed); the file
        keeps RSM's precision and recall against the generator's sentence parts."""
        from glalign.rogle.embedder import Embedder, model_fingerprint
        from glalign.rogle.mine import mine
        from glalign.training.loop import RSM_CAPTIONS

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
