"""Run folders and their checkpoints, written so that no crash loses a finished epoch.

    RUN/config.json, model.safetensors   the model (GLAlignModel.save_pretrained): what inference reads
    RUN/train_config.json, history.csv   training settings and one row per epoch
    RUN/steps.csv                        one row per optimiser step (loss terms, lr, logit scale)
    RUN/tokenizer/                       the tokenizer
    RUN/preprocessor_config.json         the GLAlignProcessor: image size and normalisation, lexicon, token budget
    RUN/checkpoints/epoch-NNNN/          the same files plus optimizer.safetensors and trainer_state.json
    RUN/checkpoints/latest               the name of the newest complete checkpoint
    RUN/checkpoints/best/                config.json + model.safetensors of the epoch chosen on validation,
                                         and best.json; the top-level model is this one when it exists

An epoch is written into a staging folder, renamed into checkpoints/ (one atomic step), and only
then does `latest` move to it (another atomic step); the top-level files are then replaced one
by one (each atomically, hard links into the checkpoint where the file system allows). A kill at
any moment leaves `latest` naming a complete checkpoint. Everything is safetensors and JSON,
never a pickle."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from glalign.errors import GlalignError
from glalign.io import atomic_dir, atomic_path, write_json, write_text

TOP_FILES = ("config.json", "model.safetensors", "train_config.json", "history.csv", "steps.csv",
             "preprocessor_config.json")
STEP_COLUMNS = ("step", "epoch", "loss", "global_loss", "local_loss", "lr", "logit_scale")
RUN_FILES = (*TOP_FILES, "tokenizer", "checkpoints")


def _save_tensors(path: Path, tensors: dict) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path))


def _optimizer_to_flat(opt) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {"param_groups": sd["param_groups"], "state": {}}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{idx}.{k}"] = v
            else:
                scalars["state"].setdefault(str(idx), {})[k] = v
    return tensors, scalars


def _optimizer_from_flat(opt, tensors: dict, scalars: dict) -> None:
    state: dict = {}
    for key, v in tensors.items():
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    for idx, st in scalars["state"].items():
        state.setdefault(int(idx), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})


def latest_checkpoint(run) -> Path | None:
    pointer = Path(run) / "checkpoints" / "latest"
    if not pointer.exists():
        return None
    path = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    return path if (path / "trainer_state.json").exists() else None


def completed_epochs(run) -> int:
    ckpt = latest_checkpoint(run)
    if ckpt is None:
        return 0
    try:
        return int(json.loads((ckpt / "trainer_state.json").read_text())["epoch"]) + 1
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GlalignError(f"{ckpt / 'trainer_state.json'} is damaged ({type(exc).__name__}); the run cannot be "
                           "resumed: train it again with --overwrite") from None


def is_run_folder(run: Path) -> bool:
    return any((run / name).exists() for name in RUN_FILES)


MODEL_FILES = ("config.json", "model.safetensors")


def save_checkpoint(run: Path, model, opt, sched_step: int, epoch: int, history: list[dict], train_config: dict,
                    tokenizer=None, best: int | None = None, steps: list[dict] | None = None) -> Path:
    """Publish epoch `epoch` (0-based) of a run; returns its checkpoint folder. `best` (1-based,
    chosen on validation): when it is this epoch, its weights become checkpoints/best/; the
    top-level model is then the best epoch's, not the newest (training resumes from the newest).
    `steps`: the per-step log so far (STEP_COLUMNS), published with the epoch it ends at."""
    import pandas as pd

    ckpts = run / "checkpoints"
    made = [p for p in (run, ckpts) if not p.exists()]  # removed again if this first save fails
    ckpts.mkdir(parents=True, exist_ok=True)
    final = ckpts / f"epoch-{epoch + 1:04d}"  # replaced when a kill interrupted a re-run after the rename
    try:
        from glalign.hub import quiet_transformers

        with atomic_dir(final, prefix=".staging-") as stage:
            with quiet_transformers():
                model.save_pretrained(str(stage))  # config.json + model.safetensors
            tensors, scalars = _optimizer_to_flat(opt)
            _save_tensors(stage / "optimizer.safetensors", tensors)
            (stage / "trainer_state.json").write_text(json.dumps(
                {"epoch": epoch, "scheduler_step": sched_step, "optimizer": scalars}, indent=1))
            pd.DataFrame(history).to_csv(stage / "history.csv", index=False)
            if steps is not None:
                pd.DataFrame(steps, columns=list(STEP_COLUMNS)).to_csv(stage / "steps.csv", index=False)
            (stage / "train_config.json").write_text(json.dumps(train_config, indent=1, ensure_ascii=False))
            if tokenizer is not None and not (run / "tokenizer").exists():
                tokenizer.save_pretrained(str(stage / "tokenizer"))
            from glalign.model.processing import GLAlignProcessor

            GLAlignProcessor.from_config(model.config).save_pretrained(stage)  # what inference feeds the model
    except BaseException:
        for folder in reversed(made):  # a full disk on the first epoch leaves no empty run folder behind
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    write_text(ckpts / "latest", final.name + "\n")
    if best == epoch + 1:
        _publish_best(ckpts, final, history[epoch])
    best_dir = ckpts / "best"
    use_best = best is not None and (best_dir / "best.json").exists()
    if (final / "tokenizer").exists():
        if (run / "tokenizer").exists():
            shutil.rmtree(run / "tokenizer")
        shutil.copytree(final / "tokenizer", run / "tokenizer.tmp", dirs_exist_ok=True)
        os.replace(run / "tokenizer.tmp", run / "tokenizer")
    for name in TOP_FILES:
        if (final / name).exists():  # steps.csv: absent from a run begun before steps were logged
            _publish_top(run, best_dir if use_best and name in MODEL_FILES else final, name)
    for old in ckpts.iterdir():  # older epochs and staging folders of killed saves
        if old.is_dir() and old not in (final, best_dir):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _publish_best(ckpts: Path, final: Path, row: dict) -> None:
    """checkpoints/best/ := this epoch's model files and best.json, replaced in one rename."""
    with atomic_dir(ckpts / "best", prefix=".best-") as stage:
        for name in MODEL_FILES:
            try:
                os.link(final / name, stage / name)
            except OSError:
                shutil.copy2(final / name, stage / name)
        (stage / "best.json").write_text(json.dumps({k: (v.item() if hasattr(v, "item") else v)
                                                     for k, v in row.items()}, indent=1))


def _publish_top(run: Path, ckpt: Path, name: str) -> None:
    """RUN/name := the checkpoint's file, atomically (a hard link where the file system allows)."""
    with atomic_path(run / name) as tmp:
        tmp.unlink()
        try:
            os.link(ckpt / name, tmp)
        except OSError:
            shutil.copy2(ckpt / name, tmp)


def _same_file(a: Path, b: Path) -> bool:
    import hashlib

    try:
        if os.path.samefile(a, b):
            return True
        if a.stat().st_size != b.stat().st_size:
            return False
    except OSError:  # missing (or unreadable) top-level file
        return False
    digest = lambda p: hashlib.sha256(p.read_bytes()).digest()  # noqa: E731
    return digest(a) == digest(b)


def restore_top_files(run: Path, ckpt: Path) -> list[str]:
    """The top-level files that differ from the latest checkpoint (checked complete by
    load_checkpoint), or for the model files from the epoch chosen on validation, replaced by those copies; returns their names. Inference reads the top level, so
    a damaged or deleted RUN/model.safetensors must not survive a --resume that says nothing."""
    best = ckpt.parent / "best"
    source = {name: best if name in MODEL_FILES and (best / "best.json").exists() else ckpt for name in TOP_FILES}
    restored = [name for name in TOP_FILES if (source[name] / name).exists()
                and not _same_file(run / name, source[name] / name)]
    for name in restored:
        _publish_top(run, source[name], name)
    return restored


def load_checkpoint(ckpt: Path, model, opt) -> tuple[dict, list[dict]]:
    """Restore model and optimizer from a checkpoint folder; returns (trainer state, history)."""
    import pandas as pd
    from safetensors.torch import load_file

    def damaged(name, exc):
        return GlalignError(f"{ckpt / name} is damaged ({type(exc).__name__}: {str(exc)[:160]}); the run "
                            "cannot be resumed: train it again with --overwrite")
    try:
        state = json.loads((ckpt / "trainer_state.json").read_text())
        state["epoch"], state["scheduler_step"], state["optimizer"]  # noqa: B018 (all three are needed)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise damaged("trainer_state.json", exc) from None
    try:
        model.load_state_dict(load_file(str(ckpt / "model.safetensors")))
    except Exception as exc:  # safetensors' own errors on a truncated file
        raise damaged("model.safetensors", exc) from None
    try:
        _optimizer_from_flat(opt, load_file(str(ckpt / "optimizer.safetensors")), state["optimizer"])
    except Exception as exc:
        raise damaged("optimizer.safetensors", exc) from None
    try:
        history = pd.read_csv(ckpt / "history.csv").to_dict("records")
    except Exception as exc:  # empty or garbled CSV
        raise damaged("history.csv", exc) from None
    if len(history) != state["epoch"] + 1:
        raise damaged("history.csv", ValueError(f"{len(history)} rows for {state['epoch'] + 1} epochs"))
    return state, history


def load_steps(ckpt: Path) -> list[dict] | None:
    """The per-step log a checkpoint ends with (one row per scheduler step), None where the run was
    begun before steps were logged (it stays without one, rather than logging half its steps)."""
    import pandas as pd

    path = ckpt / "steps.csv"
    if not path.exists():
        return None
    try:
        steps = pd.read_csv(path).to_dict("records")
        n = json.loads((ckpt / "trainer_state.json").read_text())["scheduler_step"]
    except Exception as exc:  # empty or garbled CSV
        raise GlalignError(f"{path} is damaged ({type(exc).__name__}: {str(exc)[:160]}); the run cannot be "
                           "resumed: train it again with --overwrite") from None
    if len(steps) != n or (steps and list(steps[-1]) != list(STEP_COLUMNS)):
        raise GlalignError(f"{path} is damaged ({len(steps)} rows for {n} steps); the run cannot be resumed: "
                           "train it again with --overwrite")
    return steps


def write_train_config(run: Path, train_config: dict) -> None:
    write_json(run / "train_config.json", train_config)
