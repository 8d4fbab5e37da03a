"""The workspace of one profile under one folder: its runs named by content, trained two at a time in
worker processes, and evaluated per scenario (its datasets, stand-ins, masks and mined pairs:
glalign.repro.assets)."""
from __future__ import annotations

import json
from pathlib import Path

from glalign import fingerprint
from glalign.repro.assets import WorkspaceAssets
from glalign.repro.scenarios import INITS, LOCAL_SUPERVISION, SCENARIOS, SV2_IDS, VARIANTS, Scenario, training_profile


class Workspace(WorkspaceAssets):
    """Datasets, runs and evaluations of one profile under one folder."""

    def run_config(self, domains: tuple[str, ...], lang: str, alpha: float, init: str = "pretrained",
                   seed: int | None = None, masks: str = "estimated"):
        from glalign.config import TrainConfig

        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        profile = training_profile(self.settings, init, lang, alpha)
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
        digest = fingerprint.digest(key, n=8)
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
        from glalign.training.checkpoint import completed_epochs, latest_checkpoint
        from glalign.training.loop import train

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
        from glalign.training.checkpoint import completed_epochs
        from glalign.config import TrainConfig
        from glalign.training.loop import train

        cfg, path = self.run_dir(domains, lang, alpha, init=init)
        cfg = TrainConfig.from_flat({**cfg.flat(), **overrides}, out="",
                                    profile=cfg.profile, device=cfg.device, where="sweep settings")
        cfg.image_cache = True
        key = fingerprint.digest(path.name + json.dumps(overrides, sort_keys=True), n=8)
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
        from glalign.training.checkpoint import completed_epochs

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
                                 initializer=set_threads, initargs=(threads,)) as pool:
            jobs = {pool.submit(call_in_worker, self.profile, str(self.root), method, kw): kw for kw in calls}
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
        from glalign.retrieval.evaluate import select_records

        ids = sorted({r.pid for r in select_records(self.domain(sc.test), sc.lang, sc.test_split)})
        return ids[:min(SV2_IDS, max(10, len(ids) // 5))]

    def evaluate(self, scenario: str, variant: str = "full", alpha: float | None = None,
                 eval_alpha: float | None = None, local_supervision: str = "lexicon", queries: str = "short",
                 init: str = "pretrained", seed: int | None = None, masks: str = "estimated"):
        """EvalResult of a scenario; `alpha` is the training weight (default: the variant's),
        `eval_alpha` the fusion weight at test time (default: the training one); queries "long":
        the test images' long-form captions instead of their short ones; masks: those the run is
        trained on are those it is tested on."""
        from glalign.retrieval.evaluate import evaluate_run

        from glalign.model.factory import load_run
        from glalign.rogle.embedder import model_fingerprint

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
        from glalign.retrieval.evaluate import evaluate_run

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
        from glalign.rogle.local_protocol import evaluate_local
        from glalign.rogle.embedder import Embedder, model_fingerprint

        sc = SCENARIOS[scenario]
        run = self.run(sc.train, sc.lang, VARIANTS[variant], local_supervision, init)
        # the run's embedder is kept for the next call (short then long queries of one run): it
        # loads once and embeds the test regions once (Embedder caches them)
        key = (str(run), model_fingerprint(run))
        if self._local_embedder is None or self._local_embedder[0] != key:
            self._local_embedder = (key, Embedder(run))
        return evaluate_local(self.longform(sc.test), self._local_embedder[1], sc.lang, split=sc.test_split,
                              region_mode="pool", queries=queries, ids=self.test_ids(sc), masks=self.masks(sc.test))


def mined_pairs_digest(path: Path) -> str:
    """sha1 of a mined-pairs file's content (its pairs and settings) without the path of the
    model that mined them: the model is named by its fingerprint, so the same pairs mined from a
    workspace or package elsewhere key the same run."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    saved.pop("model", None)
    return fingerprint.content_key(saved, ensure_ascii=False)


def default_workers() -> int:
    import os

    import torch

    return 1 if torch.cuda.is_available() else min(2, os.cpu_count() or 1)


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def call_in_worker(profile: str, root: str, method: str, kwargs: dict) -> str:
    return str(getattr(Workspace(profile, root), method)(**kwargs))
