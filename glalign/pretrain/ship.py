"""The pretrained stand-ins shipped inside the package (glalign/pretrained/): SynthCLIP, SynthPhoBERT
and SynthParser, made once by one command with a budget far beyond any fine-tuning, as CLIP's and
PhoBERT's pretraining dwarfs what a user fine-tunes. `make reproduce` only reads them, as a user
reads openai/clip-vit-base-patch32 from a folder.

    glalign pretrain shipped --out glalign/pretrained            # the shipped recipe (about an hour, 2 cores)
    glalign pretrain shipped --out DIR --recipe tiny             # the same code at test size

MANIFEST.json beside the folders records the command, the recipe, the corpus (identities, seed,
fingerprint), the device, each model's wall time and held-out metrics, and the sha256 of every file,
so `verify_manifest` can tell a damaged or hand-edited folder from the one the recipe made."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path

from glalign.errors import GlalignError

SHIPPED = Path(__file__).resolve().parent.parent / "pretrained"
KINDS = {"clip": "synthclip", "phobert": "synthphobert", "parser": "synthparser"}
MANIFEST = "MANIFEST.json"
# The shipped recipe: a corpus 3x the size of the old in-workspace one, each model trained until its
# held-out metric levels off (the history.csv in each folder shows the curve).
RECIPES = {
    "shipped": {"corpus_ids": 3000, "corpus_seed": 7919, "seed": 0,
                "clip": dict(epochs=20), "phobert": dict(epochs=12),
                "parser": dict(epochs=12, class_weight_power=0.5)},
    "tiny": {"corpus_ids": 40, "corpus_seed": 7919, "seed": 0,
             "clip": dict(epochs=2, batch_size=16, image_size=32, patch_size=8, vision_width=32, vision_layers=1,
                          text_width=32, text_layers=1, heads=2, projection_dim=32, max_length=32, vocab_size=300),
             "phobert": dict(epochs=2, batch_size=16, width=32, layers=1, heads=2, max_length=48, vocab_size=300),
             "parser": dict(epochs=2, batch_size=16, hidden_sizes=(8, 16, 24, 32), decoder_hidden=16,
                            class_weight_power=0.5)},
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_digests(folder: Path) -> dict[str, str]:
    return {p.name: sha256(p) for p in sorted(Path(folder).iterdir()) if p.is_file()}


def pretrain_one(kind: str, out: Path, corpus: Path, recipe: str, device: str = "cpu", progress: bool = True) -> dict:
    """Pretrain one stand-in of `recipe` into out/<name>; its manifest entry."""
    spec = RECIPES[recipe]
    folder = Path(out) / KINDS[kind]
    t0 = time.perf_counter()
    if kind == "clip":
        from glalign.pretrain.clip import ClipPretrainConfig, pretrain_clip

        pretrain_clip(folder, corpus=corpus, cfg=ClipPretrainConfig(seed=spec["seed"], **spec["clip"]),
                      device=device, overwrite=True, progress=progress)
    elif kind == "phobert":
        from glalign.pretrain.mlm import MlmPretrainConfig, pretrain_mlm

        pretrain_mlm(folder, corpus=corpus, cfg=MlmPretrainConfig(seed=spec["seed"], **spec["phobert"]),
                     device=device, overwrite=True, progress=progress)
    else:
        from glalign.pretrain.parser import ParserPretrainConfig, train_parser

        train_parser(corpus, folder, cfg=ParserPretrainConfig(seed=spec["seed"], **spec["parser"]), device=device,
                     overwrite=True, progress=progress)
    _drop_machine_paths(folder)
    saved = json.loads((folder / "pretrain_config.json").read_text(encoding="utf-8"))
    return {"folder": folder.name, "fingerprint": saved["fingerprint"], "settings": saved["settings"],
            "heldout": saved.get("heldout"), "wall_s": round(time.perf_counter() - t0, 1),
            "files": folder_digests(folder)}


def _drop_machine_paths(folder: Path) -> None:
    """pretrain_config.json names the corpus folder it was made from; a shipped folder names it by
    its fingerprint alone, so no path of the machine that made it travels with the package."""
    from glalign.io import write_json

    path = folder / "pretrain_config.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved.get("corpus") != "corpus":
        saved["corpus"] = "corpus"
        write_json(path, saved)


def _jobs(kinds: list[str], out: str, corpus: str, recipe: str, device: str, progress: bool, threads: int):
    import torch

    import glalign.pretrain.clip, glalign.pretrain.mlm, glalign.pretrain.parser  # noqa: F401,E401 (code fixed at start)

    torch.set_num_threads(threads)
    return {k: pretrain_one(k, Path(out), Path(corpus), recipe, device, progress) for k in kinds}


def ship(out=SHIPPED, recipe: str = "shipped", corpus=None, device: str = "cpu", workers: int = 2,
         progress: bool = True) -> Path:
    """Make every stand-in of `recipe` into `out` and write its MANIFEST.json. SynthCLIP trains in
    one process and SynthPhoBERT then SynthParser in another (one thread each), so two cores
    finish in the time of the longest; a single worker runs them in turn."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch

    from glalign.io import write_json
    from glalign.pretrain import common

    if recipe not in RECIPES:
        raise GlalignError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    spec, out = RECIPES[recipe], Path(out)
    corpus = Path(corpus) if corpus else Path("work") / f"pretrain-corpus-{recipe}"
    from glalign.pretrain.corpus import make_corpus

    make_corpus(corpus, n_ids=spec["corpus_ids"], seed=spec["corpus_seed"], progress=progress)
    t0 = time.perf_counter()
    groups = [["clip"], ["phobert", "parser"]] if workers > 1 else [["clip", "phobert", "parser"]]
    threads = max(1, (os.cpu_count() or 1) // len(groups))
    models = {}
    if len(groups) == 1:
        models = _jobs(groups[0], str(out), str(corpus), recipe, device, progress, torch.get_num_threads())
    else:
        with ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("spawn")) as pool:
            for job in [pool.submit(_jobs, g, str(out), str(corpus), recipe, device, progress, threads)
                        for g in groups]:
                models.update(job.result())
    manifest = {
        "command": f"glalign pretrain shipped --out {'glalign/pretrained' if out == SHIPPED else out} --recipe {recipe}"
                   + (f" --workers {workers}" if workers != 2 else ""),
        "recipe": recipe, "seed": spec["seed"],
        "corpus": {"ids": spec["corpus_ids"], "seed": spec["corpus_seed"],
                   "fingerprint": common.corpus_fingerprint(corpus)},
        "device": {"device": device, "machine": platform.machine(), "processor": _cpu_name(),
                   "cpu_count": os.cpu_count(), "processes": len(groups), "threads_per_process": threads,
                   "torch": torch.__version__},
        "wall_s": round(time.perf_counter() - t0, 1),
        "models": {KINDS[k]: models[k] for k in KINDS},
    }
    write_json(out / MANIFEST, manifest)
    return out


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def verify_manifest(root=SHIPPED) -> dict[str, Path]:
    """{name: folder} of the stand-ins under `root`, after checking every file against MANIFEST.json;
    a missing, extra or changed file is an error naming it and the command that remakes it."""
    root = Path(root)
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GlalignError(f"{root / MANIFEST} is missing: the shipped pretrained models are incomplete; "
                           "restore glalign/pretrained/ from git or remake it with `glalign pretrain shipped`")
    except ValueError as e:
        raise GlalignError(f"{root / MANIFEST} is not valid JSON ({e}); restore it from git")
    folders = {}
    for name, entry in manifest["models"].items():
        folder = root / entry["folder"]
        have = folder_digests(folder) if folder.is_dir() else {}
        for fname, digest in entry["files"].items():
            if fname not in have:
                raise GlalignError(f"{folder / fname} is missing (MANIFEST.json lists it); restore "
                                   f"glalign/pretrained/ from git or run `{manifest['command']}`")
            if have[fname] != digest:
                raise GlalignError(f"{folder / fname} differs from MANIFEST.json (sha256 {have[fname][:12]}..., "
                                   f"expected {digest[:12]}...); restore it from git or run `{manifest['command']}`")
        extra = sorted(set(have) - set(entry["files"]))
        if extra:
            raise GlalignError(f"{folder} holds files MANIFEST.json does not list: {', '.join(extra)}")
        folders[name] = folder
    return folders
