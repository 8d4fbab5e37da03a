"""Hostile inputs and faults on the training side (issue 11): no traceback, no lost run, no
silent wrong result. Each test names the cause it covers."""
import json
import os
import shutil
import stat

import pytest
import torch
from safetensors.torch import load_file

from glalign.checkpoint import completed_epochs, latest_checkpoint
from glalign.config import TrainConfig
from glalign.errors import GlalignError
from glalign.train import train


def _cfg(data, out, **kw):
    return TrainConfig.for_profile("tiny", data=[str(data)], lang="en", out=str(out), device="cpu",
                                   **{"epochs": 2, "batch_size": 16, **kw})


@pytest.fixture(scope="module")
def half_run(synth_a, tmp_path_factory):
    """A 2-epoch run stopped after its first epoch (resumable)."""
    out = tmp_path_factory.mktemp("half") / "run"
    train(_cfg(synth_a, out), progress=False, stop_after_epoch=1)
    return out


def _copy(run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


# -- cause 1: a finished run, or a folder of the user's, is never overwritten without a word
def test_out_that_holds_something_else_is_refused(run_cli, synth_a, tiny_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "own"}')
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", mine, "--profile", "tiny", "--quiet")
    assert res.returncode == 2 and "not empty and holds no glalign run" in res.stderr
    assert json.loads((mine / "config.json").read_text()) == {"my": "own"}
    finished = _copy(tiny_run, tmp_path)
    before = (finished / "model.safetensors").read_bytes()
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", finished, "--profile", "tiny", "--quiet")
    assert res.returncode == 2 and "already holds a finished run" in res.stderr
    assert (finished / "model.safetensors").read_bytes() == before


def test_overwrite_replaces_a_run(synth_a, half_run, tmp_path):
    run = _copy(half_run, tmp_path)
    train(_cfg(synth_a, run, epochs=1), overwrite=True, progress=False)
    assert completed_epochs(run) == 1
    assert json.loads((run / "train_config.json").read_text())["optim"]["epochs"] == 1


# -- cause 2: a kill while a checkpoint is written never loses the previous one
def test_kill_during_checkpoint_save_keeps_the_last_epoch(synth_a, half_run, tmp_path, monkeypatch):
    import glalign.checkpoint as ck

    run = _copy(half_run, tmp_path)
    before = load_file(str(latest_checkpoint(run) / "model.safetensors"))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # between the rename of the new checkpoint and the pointer switch
    monkeypatch.setattr(ck, "write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(synth_a, run), resume=True, progress=False)
    monkeypatch.undo()
    assert completed_epochs(run) == 1  # `latest` still names epoch 1, complete
    kept = load_file(str(latest_checkpoint(run) / "model.safetensors"))
    assert all(torch.equal(kept[k], before[k]) for k in before)
    train(_cfg(synth_a, run), resume=True, progress=False)  # resumes from epoch 1, not from scratch
    assert completed_epochs(run) == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch-0002", "latest"]  # no leftovers


def test_resume_without_a_checkpoint_says_so(synth_a, tmp_path):
    with pytest.raises(GlalignError, match="holds no run"):
        train(_cfg(synth_a, tmp_path / "none"), resume=True, progress=False)
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.safetensors").write_bytes(b"x")
    with pytest.raises(GlalignError, match="has no checkpoint to resume from"):
        train(_cfg(synth_a, tmp_path / "weights"), resume=True, progress=False)


# -- cause 3: divergence stops with a message and keeps the last good checkpoint
def test_non_finite_loss_stops_training(synth_a, half_run, tmp_path, monkeypatch):
    import glalign.model.task as task_mod

    run = _copy(half_run, tmp_path)
    real = task_mod.GLAlignTask.forward

    def diverging(self, batch):
        out = real(self, batch)
        return {**out, "loss": out["loss"] * float("nan")}
    monkeypatch.setattr(task_mod.GLAlignTask, "forward", diverging)
    with pytest.raises(GlalignError, match=r"diverged at epoch 2, step 1: the loss is nan; the last good "
                                           r"checkpoint \(epoch 1\) is kept"):
        train(_cfg(synth_a, run), resume=True, progress=False)
    assert completed_epochs(run) == 1


# -- cause 4: settings are validated, wherever they come from
@pytest.mark.parametrize("values, message", [
    ({"alpha": 3}, "alpha must be in [0.0, 1.0]"),
    ({"epochs": 0}, "epochs must be in [1, 10000]"),
    ({"lr": -1}, "lr must be in (0.0, 10.0]"),
    ({"lr": "fast"}, "lr must be a number"),
    ({"batch_size": 1.5}, "batch_size must be a whole number"),
    ({"seed": 2 ** 70}, "seed must be in [0, 4294967295]"),
    ({"flip": "yes"}, "flip must be true or false"),
    ({"region_mode": "squares"}, "region_mode must be one of pool, crop"),
    ([1, 2], "expected a JSON object of settings, got list"),
])
def test_bad_settings_in_a_config_file(run_cli, synth_a, tmp_path, values, message):
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps(values))
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", tmp_path / "r", "--profile", "tiny",
                  "--config", conf)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "r").exists()  # nothing left behind (cause 10)


def test_non_finite_flag_is_refused(run_cli, synth_a, tmp_path):
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", tmp_path / "r", "--lr", "nan")
    assert res.returncode == 2 and "lr must be a finite number" in res.stderr


def test_resume_with_other_settings_is_refused(synth_a, half_run, tmp_path):
    run = _copy(half_run, tmp_path)
    with pytest.raises(GlalignError, match=r"other settings \(alpha: 0.5 -> 0.2"):
        train(_cfg(synth_a, run, alpha=0.2), resume=True, progress=False)
    assert json.loads((run / "train_config.json").read_text())["optim"]["alpha"] == 0.5


# -- cause 5: damaged run files are named, not a traceback
def _truncate(path):
    data = path.read_bytes()
    os.unlink(path)  # a hard link into the checkpoint: damage this file only
    path.write_bytes(data[: len(data) // 2])


def test_truncated_model_is_named_by_evaluate(run_cli, synth_a, tiny_run, tmp_path):
    run = _copy(tiny_run, tmp_path)
    _truncate(run / "model.safetensors")
    res = run_cli("evaluate", "--run", run, "--data", synth_a)
    assert res.returncode == 2 and "model.safetensors cannot be loaded" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("name, damage", [
    ("model.safetensors", _truncate), ("optimizer.safetensors", _truncate),
    ("trainer_state.json", lambda p: p.write_text("{\"epoch\": ")),
    ("history.csv", lambda p: p.write_text("")),
    ("steps.csv", lambda p: p.write_text("step,epoch\n1,1\n")),
])
def test_damaged_checkpoint_is_named_on_resume(synth_a, half_run, tmp_path, name, damage):
    run = _copy(half_run, tmp_path)
    damage(latest_checkpoint(run) / name)
    with pytest.raises(GlalignError, match=f"{name} is damaged"):
        train(_cfg(synth_a, run), resume=True, progress=False)


# -- cause 9: messages that name the real problem
def test_model_paths_are_named(run_cli, synth_a, tmp_path):
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", tmp_path / "r", "--profile", "tiny",
                  "--text-encoder", "/nonexistent/model")
    assert res.returncode == 2 and "model folder /nonexistent/model does not exist" in res.stderr
    (tmp_path / "notamodel").mkdir()
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", tmp_path / "r", "--profile", "tiny",
                  "--text-encoder", tmp_path / "notamodel")
    assert res.returncode == 2 and "holds no config.json" in res.stderr
    res = run_cli("train", "--lang", "xx")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "invalid choice: 'xx'" in res.stderr


# -- cause 10: leftovers
def test_run_files_are_readable_like_any_file(tiny_run):
    mask = os.umask(0)
    os.umask(mask)
    for name in ("config.json", "model.safetensors", "history.csv", "steps.csv", "train_config.json"):
        mode = stat.S_IMODE((tiny_run / name).stat().st_mode)
        assert mode == 0o666 & ~mask, (name, oct(mode))


def test_failed_train_leaves_no_folder(synth_a, tmp_path, monkeypatch):
    import glalign.model.task as task_mod

    monkeypatch.setattr(task_mod.GLAlignTask, "forward", lambda self, b: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        train(_cfg(synth_a, tmp_path / "r"), progress=False)
    assert not (tmp_path / "r").exists()


def test_internal_errors_say_they_are_bugs(capsys, monkeypatch):
    import glalign.cli as cli
    import glalign.cli.repro as commands

    monkeypatch.setattr(commands, "cmd_paper", lambda args: 1 / 0)
    assert cli.main(["paper"]) == 1
    err = capsys.readouterr().err
    assert "ZeroDivisionError" in err and "this is a bug in glalign" in err


def test_per_query_naming_a_folder(run_cli, synth_a, tiny_run, tmp_path):
    res = run_cli("evaluate", "--run", tiny_run, "--data", synth_a, "--per-query", tmp_path)
    assert res.returncode == 2 and "is a folder" in res.stderr


def test_reproduce_removes_leftover_staging(tmp_path):
    import nbformat

    from glalign.reproduce import reproduce

    (tmp_path / "results" / ".staging-tiny-killed").mkdir(parents=True)
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"},
                                            "language_info": {"name": "python"}})
    nb.cells = [nbformat.v4.new_code_cell('profile = "tiny"\nworkdir = None\nresults_dir = None',
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print(profile)")]
    nbformat.write(nb, nbdir / "01_data_prep.ipynb")
    out = reproduce("tiny", results_root=tmp_path / "results", workdir=tmp_path / "w", only=["01"], progress=False,
                    notebooks_dir=nbdir)
    assert (out / "notebooks" / "01_data_prep.ipynb").exists()
    assert not list((tmp_path / "results").glob(".staging-*"))


# -- issue 24, cause: build_model mutated the TrainConfig it was given (embed_dim, max_length), so a run
# fine-tuned from a CLIP folder whose projection is not the profile's embed_dim could never be resumed
@pytest.fixture(scope="module")
def clip48(tmp_path_factory):
    """A tiny CLIP folder whose projection is 48 wide (the tiny-finetune profile asks for 96)."""
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig

    from glalign.text.tokenizers import train_tokenizer

    tok = train_tokenizer(["a man in a red shirt", "a woman with a white bag"] * 20, "clip", vocab_size=200)
    folder = tmp_path_factory.mktemp("clip48") / "clip"
    CLIPModel(CLIPConfig(
        text_config=CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                   num_attention_heads=2, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                                   bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id).to_dict(),
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=2, image_size=32, patch_size=8).to_dict(),
        projection_dim=48)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_build_model_leaves_its_config_alone(clip48):
    from glalign.model.factory import build_model, resolve_text_kind

    cfg = TrainConfig.for_profile("tiny-finetune", data=["unused"], lang="en", image_encoder=str(clip48),
                                  text_encoder=str(clip48), max_length=500)
    resolve_text_kind(cfg)
    before = cfg.to_dict()
    with pytest.warns(UserWarning, match="captions are cut at 64 tokens"):
        model = build_model(cfg, None)
    assert cfg.to_dict() == before
    assert (model.config.embed_dim, model.config.max_length) == (48, 64)  # the effective settings


def test_resume_of_a_run_from_a_clip_folder_of_another_width(capsys, synth_a, clip48, tmp_path):
    from glalign.cli import build_parser, main

    out = tmp_path / "run"
    argv = ["train", "--data", str(synth_a), "--lang", "en", "--out", str(out), "--profile", "tiny-finetune",
            "--image-encoder", str(clip48), "--text-encoder", str(clip48), "--epochs", "2", "--device", "cpu",
            "--quiet"]
    train(TrainConfig.from_cli(build_parser().parse_args(argv)), progress=False, stop_after_epoch=1)
    assert completed_epochs(out) == 1
    assert main([*argv, "--resume"]) == 0, capsys.readouterr().err
    assert completed_epochs(out) == 2
    assert json.loads((out / "config.json").read_text())["embed_dim"] == 48
    assert main([*argv, "--resume"]) == 0  # a finished run: nothing to do, and no refusal


# -- issue 24, cause: a finished run whose top-level model.safetensors is damaged: --resume said nothing, exit 0
@pytest.mark.parametrize("damage", [_truncate, lambda p: p.unlink()])
def test_resume_of_a_finished_run_restores_damaged_top_files(capsys, synth_a, tiny_run, tmp_path, damage):
    from glalign.cli import main
    from glalign.model.factory import load_run

    run = _copy(tiny_run, tmp_path)
    intact = (latest_checkpoint(run) / "model.safetensors").read_bytes()
    damage(run / "model.safetensors")
    argv = ["train", "--data", str(synth_a), "--lang", "en", "--out", str(run), "--profile", "tiny", "--epochs", "4",
            "--device", "cpu", "--resume", "--quiet"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"{run / 'model.safetensors'} differed from" in err and "restored it" in err, err
    assert (run / "model.safetensors").read_bytes() == intact
    load_run(run)  # inference reads it again
    assert main(argv) == 0 and "restored" not in capsys.readouterr().err  # intact: nothing to say


# -- issue 24, causes: --config files that are valid field by field but not together, or not at all
@pytest.mark.parametrize("values, message", [
    ({"vision_hidden": 30, "heads": 4}, "vision_hidden 30 is not a multiple of heads 4"),
    ({"text_hidden": 30, "heads": 4}, "text_hidden 30 is not a multiple of heads 4"),
    ({"image_size": 65536, "patch_size": 1}, "gives 4294967296 patches per image, more than 16384"),
    ({"image_size": 16, "patch_size": 32}, "patch_size 32 is larger than image_size 16"),
    ("[" * 100000 + "]" * 100000, "JSON nested too deeply to be a settings file"),
])
def test_config_files_inconsistent_or_absurd(capsys, synth_a, tmp_path, values, message):
    from glalign.cli import main

    conf = tmp_path / "c.json"
    conf.write_text(values if isinstance(values, str) else json.dumps(values))
    rc = main(["train", "--data", str(synth_a), "--lang", "en", "--out", str(tmp_path / "r"), "--profile", "tiny",
               "--config", str(conf), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists()


def test_out_of_memory_is_not_reported_as_a_bug(capsys, monkeypatch):
    import glalign.cli as cli
    import glalign.cli.repro as commands

    def oom(args):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you "
                           "tried to allocate 1099511628032 bytes")
    monkeypatch.setattr(commands, "cmd_paper", oom)
    assert cli.main(["paper"]) == 2
    err = capsys.readouterr().err
    assert "out of memory" in err and "lower --batch-size" in err and "bug" not in err


# -- issue 24, cause: train --image-cache read a tampered cache folder: a truncated images.npy or a
# garbled index.json was a traceback "bug", bytes overwritten inside images.npy were silently wrong pixels
def _overwrite(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = b"\xff" * 4096
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, damage", [
    ("images.npy", lambda p: p.write_bytes(p.read_bytes()[:100])), ("images.npy", _overwrite),
    ("index.json", lambda p: p.write_text("{")), ("labels.npy", lambda p: p.unlink()),
])
def test_tampered_image_cache_is_rebuilt(synth_a, tmp_path, name, damage):
    from glalign.data.image_cache import attach
    from glalign.data.records import load_dataset
    from glalign.data.torchdata import ImageStore

    root = tmp_path / "A"
    shutil.copytree(synth_a, root, ignore=shutil.ignore_patterns(".glalign-cache"))
    recs = load_dataset(root, lang="en", check_images=False).split("train")[:80]
    folder = attach(ImageStore(32, (4, 4)), recs, root).folder
    damage(folder / name)
    store = ImageStore(32, (4, 4))
    attach(store, recs, root)
    fresh = ImageStore(32, (4, 4))
    for r in recs:
        assert all(torch.equal(a, b) for a, b in zip(fresh.decode(r.image, r.mask), store.get(r.image, r.mask)))


# -- issue 24, cause: `train --nproc 2` on a user mistake ended with torchrun's exit 1 (its report of a
# failed child), not 2; settings and data folders are now refused once, before torchrun starts
def test_nproc_refuses_bad_settings_before_launching(capsys, monkeypatch, synth_a, tmp_path):
    import glalign.distributed as dist_mod
    from glalign.cli import main

    monkeypatch.setattr(dist_mod, "launch", lambda *a: pytest.fail("torchrun started"))
    base = ["train", "--nproc", "2", "--lang", "en", "--out", str(tmp_path / "r"), "--profile", "tiny"]
    assert main([*base, "--data", str(tmp_path / "missing")]) == 2
    assert "--data" in capsys.readouterr().err
    assert main([*base, "--data", str(synth_a), "--lr", "-1"]) == 2
    assert "lr must be in" in capsys.readouterr().err


def test_nproc_user_mistake_in_a_rank_exits_2(capsys, synth_a, tmp_path):
    """rank 0 refuses --out (it holds something else); torchrun stops the other rank (no hang at the
    barrier) and the launcher reports the ranks' own exit code."""
    from glalign.cli import main

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    rc = main(["train", "--nproc", "2", "--data", str(synth_a), "--lang", "en", "--out", str(mine), "--profile",
               "tiny", "--device", "cpu", "--quiet"])
    assert rc == 2
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
