"""The run folder before training: refused when it holds something else, a finished run or a run
trained with other settings; cleared with --overwrite; the tokenizer trained, or read back from the
folder on --resume."""
from __future__ import annotations

import shutil
from pathlib import Path

from glalign.config import TrainConfig
from glalign.errors import GlalignError
from glalign.training.checkpoint import TOP_FILES, completed_epochs, is_run_folder, latest_checkpoint


def prepare_out(cfg: TrainConfig, resume: bool, overwrite: bool) -> Path | None:
    """The run folder's state: None for a new run, else its latest checkpoint. Refuses to touch a
    folder that holds something else, a finished run, or a run trained with other settings."""
    run = Path(cfg.out)
    if run.exists() and not run.is_dir():
        raise GlalignError(f"--out {run} is a file; pass a folder for the run")
    if overwrite and run.exists():
        for name in TOP_FILES:
            (run / name).unlink(missing_ok=True)
        for name in ("tokenizer", "checkpoints"):
            shutil.rmtree(run / name, ignore_errors=True)
    ckpt = latest_checkpoint(run) if run.exists() else None
    if resume:
        if ckpt is None:
            what = "has no checkpoint to resume from" if run.exists() and is_run_folder(run) else "holds no run"
            raise GlalignError(f"--resume: {run} {what}; train without --resume (add --overwrite to replace it)")
        check_same_settings(cfg, ckpt)
        return ckpt
    if run.exists() and any(run.iterdir()):
        if ckpt is not None:
            done = completed_epochs(run)
            state = "a finished run" if done >= cfg.optim.epochs else f"a run stopped after {done} epoch(s)"
            raise GlalignError(f"--out {run} already holds {state}; use --resume to continue it, --overwrite to "
                               "replace it, or another --out")
        raise GlalignError(f"--out {run} is not empty and holds no glalign run; choose an empty or new folder "
                           "(or --overwrite to write the run's files into it)")
    return None


def check_same_settings(cfg: TrainConfig, ckpt: Path) -> None:
    import json

    try:
        saved = TrainConfig.from_dict(json.loads((ckpt / "train_config.json").read_text()),
                                      where=str(ckpt / "train_config.json"))
    except (OSError, ValueError) as exc:
        raise GlalignError(f"{ckpt / 'train_config.json'} is damaged ({exc}); train again with --overwrite") from None
    diff = cfg.differences(saved)
    if diff:
        raise GlalignError(f"--resume would continue {cfg.out} with other settings ({'; '.join(diff)}); a run is "
                           "trained with one set of settings: resume with the original ones, or train a new run")


def tokenizer_for(cfg: TrainConfig, run: Path, ckpt: Path | None, captions: list[str], view):
    from glalign.text.tokenizers import load_tokenizer, train_tokenizer

    if ckpt is not None:
        for folder in (run / "tokenizer", ckpt / "tokenizer"):
            if folder.exists():
                return load_tokenizer(folder, cfg.model.text_kind)
        raise GlalignError(f"{run}/tokenizer is missing; the run cannot be resumed: train again with --overwrite")
    if cfg.model.text_encoder == "small":
        return train_tokenizer([view(c) if view else c for c in captions], cfg.model.text_kind, cfg.model.vocab_size)
    return load_tokenizer(cfg.model.text_encoder, cfg.model.text_kind)
