"""Training: deterministic on the CPU, checkpoint round trip, resume equals an uninterrupted run,
and a tiny run learns (Rank-1 far above chance)."""
import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from glalign.errors import GlalignError
from glalign.checkpoint import completed_epochs
from glalign.config import TrainConfig
from glalign.model.factory import load_run
from glalign.train import train


def _cfg(data, out, **kw):
    return TrainConfig.for_profile("tiny", data=[str(data)], lang="en", out=str(out), device="cpu", **kw)


def _same_weights(a, b):
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_run_folder_contents(tiny_run):
    names = {p.name for p in tiny_run.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer", "history.csv", "train_config.json", "checkpoints"} <= names
    assert not any(p.suffix in (".pt", ".pth", ".pkl", ".bin") for p in tiny_run.rglob("*"))
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert cfg["model_type"] == "glalign" and cfg["alpha"] == 0.5 and cfg["vision_config"]["image_size"] == 48
    assert json.loads((tiny_run / "train_config.json").read_text())["optim"]["epochs"] == 4
    # no validation split: the newest epoch is published (tests/test_validation.py: the best one)
    assert sorted(p.name for p in (tiny_run / "checkpoints").iterdir()) == ["epoch-0004", "latest"]
    assert completed_epochs(tiny_run) == 4


def test_same_seed_same_weights_and_resume_matches(synth_a, tmp_path):
    full = train(_cfg(synth_a, tmp_path / "full", epochs=2, batch_size=16), progress=False)
    again = train(_cfg(synth_a, tmp_path / "again", epochs=2, batch_size=16), progress=False)
    assert _same_weights(full, again)
    # interrupted after one epoch, then resumed: the same final weights
    cfg = _cfg(synth_a, tmp_path / "half", epochs=2, batch_size=16)
    half = train(cfg, progress=False, stop_after_epoch=1)
    assert completed_epochs(half) == 1
    train(cfg, resume=True, progress=False)
    assert completed_epochs(half) == 2
    assert _same_weights(full, half)
    # the per-step log of the resumed run is the uninterrupted run's, row for row
    pd.testing.assert_frame_equal(pd.read_csv(full / "steps.csv"), pd.read_csv(half / "steps.csv"))
    with pytest.raises(GlalignError, match="already holds a finished run"):
        train(cfg, progress=False)


def test_steps_log_has_one_row_per_optimiser_step(tiny_run):
    steps, hist = pd.read_csv(tiny_run / "steps.csv"), pd.read_csv(tiny_run / "history.csv")
    assert list(steps.columns) == ["step", "epoch", "loss", "global_loss", "local_loss", "lr", "logit_scale"]
    assert steps.step.tolist() == list(range(1, int(hist.steps.iloc[-1]) + 1))
    assert steps.groupby("epoch").size().tolist() == hist.steps.diff().fillna(hist.steps).astype(int).tolist()
    # each epoch's row of history.csv is the mean of its steps
    means = steps.groupby("epoch")[["loss", "global_loss", "local_loss"]].mean()
    for col in ("loss", "global_loss", "local_loss"):
        assert means[col].to_numpy() == pytest.approx(hist[col].to_numpy(), rel=1e-9)
    assert steps.loss.to_numpy() == pytest.approx(0.5 * steps.global_loss + 0.5 * steps.local_loss, rel=1e-5)
    assert steps.lr.iloc[-1] < steps.lr.max()  # the cosine decay, read from the rate each step used
    assert steps.logit_scale.iloc[-1] == pytest.approx(hist.logit_scale.iloc[-1], rel=1e-9)


def test_load_run_roundtrip(tiny_run):
    model, tok, cfg = load_run(tiny_run)
    weights = load_file(str(tiny_run / "model.safetensors"))
    state = model.state_dict()
    assert all(torch.equal(state[k], weights[k]) for k in weights)
    assert cfg.text_kind == "clip" and tok("a red shirt")["input_ids"][0] == tok.bos_token_id


def test_tiny_run_ranks_far_above_chance(tiny_run, synth_a):
    from glalign.evaluate import evaluate_run

    res = evaluate_run(tiny_run, synth_a, progress=False)
    n_ids = len(set(res.gallery_pids.tolist()))
    assert res.metrics["R1"] > 2.5 * 100 / n_ids  # chance is 1/n_ids
    assert len(res.per_query) == res.n_queries and res.per_query["rank"].min() >= 1


@pytest.mark.parametrize("kind", ["gpt2", "phobert"])
def test_other_text_kinds_train(synth_a, tmp_path, kind):
    lang = "vi" if kind == "phobert" else "en"
    cfg = TrainConfig.for_profile("tiny", data=[str(synth_a)], lang=lang, out=str(tmp_path / kind), device="cpu",
                                  epochs=1, text_kind=kind, region_mode="crop" if kind == "gpt2" else "pool")
    run = train(cfg, progress=False)
    model, tok, loaded = load_run(run)
    assert loaded.text_kind == kind and loaded.region_mode == cfg.model.region_mode


def test_cli_train_and_evaluate(run_cli, synth_a, tmp_path, tiny_run):
    res = run_cli("evaluate", "--run", tiny_run, "--data", synth_a, "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"R1", "R5", "R10", "mAP", "mINP", "n_queries"}
    res = run_cli("evaluate", "--run", tmp_path / "none", "--data", synth_a)
    assert res.returncode == 2 and "not a trained run" in res.stderr
    res = run_cli("train", "--data", tmp_path / "missing", "--lang", "en", "--out", tmp_path / "r", "--profile", "tiny")
    assert res.returncode == 2 and "does not exist" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", tmp_path / "r2", "--profile", "tiny",
                  "--text-encoder", "gpt2", "--image-encoder", "openai/clip-vit-base-patch32")
    assert res.returncode == 2 and "not available on this machine" in res.stderr


def test_fusion_ends(tiny_run, synth_a):
    from glalign.evaluate import evaluate_run
    from glalign.metrics import rank_metrics

    res = evaluate_run(tiny_run, synth_a, progress=False)
    glob = rank_metrics(res.global_sim, res.query_pids, res.gallery_pids)
    assert rank_metrics(res.fused(1.0), res.query_pids, res.gallery_pids)["R1"] == glob["R1"]
    assert res.fused(0.5) == pytest.approx(0.5 * res.global_sim + 0.5 * res.local_sim)


def test_chunked_evaluation_matches_whole_matrix(tiny_run, synth_a, monkeypatch):
    """Large galleries are evaluated chunk by chunk (bounded memory) with the same numbers."""
    import glalign.evaluate as ev

    whole = ev.evaluate_run(tiny_run, synth_a, progress=False)
    monkeypatch.setattr(ev, "FULL_MATRIX_LIMIT", 0)
    monkeypatch.setattr(ev, "EVAL_CHUNK", 7)
    chunked = ev.evaluate_run(tiny_run, synth_a, progress=False)
    assert chunked.global_sim is None
    for k in ("R1", "R5", "R10", "mAP", "mINP"):
        assert chunked.metrics[k] == pytest.approx(whole.metrics[k])
    assert chunked.per_query["rank"].tolist() == whole.per_query["rank"].tolist()
    assert chunked.per_query["top10"].tolist() == whole.per_query["top10"].tolist()
    with pytest.raises(GlalignError, match="ran in chunks"):
        chunked.fused(0.3)


def test_cli_train_config_file_and_flags(run_cli, synth_a, tmp_path):
    conf = tmp_path / "train.json"
    conf.write_text(json.dumps({"epochs": 1, "alpha": 1.0, "batch_size": 16}))
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", tmp_path / "r", "--profile", "tiny",
                  "--config", conf, "--batch-size", "24", "--quiet")
    assert res.returncode == 0, res.stderr
    saved = json.loads((tmp_path / "r" / "train_config.json").read_text())["optim"]
    assert (saved["epochs"], saved["alpha"], saved["batch_size"]) == (1, 1.0, 24)  # flags override the file
    conf.write_text("{epochs: 1")
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", tmp_path / "r2", "--config", conf)
    assert res.returncode == 2 and "malformed JSON" in res.stderr
    conf.write_text(json.dumps({"epochz": 3}))
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", tmp_path / "r3", "--config", conf)
    assert res.returncode == 2 and "unknown training setting(s) epochz" in res.stderr


def test_load_run_refuses_a_hand_edited_config(tiny_run, tmp_path):
    import shutil

    copy = tmp_path / "edited-run"
    shutil.copytree(tiny_run, copy)
    cfg = json.loads((copy / "config.json").read_text())
    cfg["region_mode"] = "squares"
    (copy / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GlalignError, match=r"invalid GLAlign config .*region_mode must be one of pool, crop"):
        load_run(copy)


def test_zscore_fusion_standardises_each_query(tiny_run, synth_a):
    import numpy as np

    from glalign.evaluate import evaluate_run, standardise_rows

    res = evaluate_run(tiny_run, synth_a, progress=False)
    z = standardise_rows(res.global_sim)
    assert np.allclose(z.mean(1), 0, atol=1e-5) and np.allclose(z.std(1), 1, atol=1e-4)  # float32
    assert np.array_equal(standardise_rows(np.ones((2, 3))), np.zeros((2, 3)))
    # alpha = 1 ranks by the global score alone whichever fusion: the same order
    assert (np.argsort(-res.fused(1.0, "zscore"), 1, kind="stable") ==
            np.argsort(-res.fused(1.0), 1, kind="stable")).all()
    with pytest.raises(GlalignError, match="raw .*zscore"):
        res.fused(0.5, "max")


def test_run_is_a_transformers_model(tiny_run, tmp_path):
    """GLAlignModel.save_pretrained / from_pretrained and transformers.AutoModel round-trip a run."""
    from transformers import AutoConfig, AutoModel

    import glalign.model  # registers GLAlign with AutoConfig / AutoModel
    from glalign.model import GLAlignConfig, GLAlignModel

    model = GLAlignModel.from_pretrained(str(tiny_run))
    assert isinstance(AutoConfig.from_pretrained(str(tiny_run)), GLAlignConfig)
    auto = AutoModel.from_pretrained(str(tiny_run))
    assert type(auto) is GLAlignModel and auto.config.text_kind == "clip"
    model.save_pretrained(tmp_path / "copy")
    again = GLAlignModel.from_pretrained(str(tmp_path / "copy"))
    a, b = model.state_dict(), again.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert glalign.model.GLAlignModel is GLAlignModel


def test_zscore_fusion_standardises_each_score_per_query_on_both_paths(tiny_run, synth_a, monkeypatch, run_cli):
    """The option beside the paper's raw mix: each similarity to mean 0 / std 1 over the gallery
    per query, so alpha weighs two scores of different spreads equally; chunked = whole matrix."""
    import glalign.evaluate as ev
    from glalign.metrics import rank_metrics

    res = ev.evaluate_run(tiny_run, synth_a, progress=False, alpha=0.3, fusion="zscore")
    z = lambda m: (m - m.mean(1, keepdims=True)) / m.std(1, keepdims=True)  # noqa: E731
    want = 0.3 * z(res.global_sim) + 0.7 * z(res.local_sim)
    assert res.fused(0.3, "zscore") == pytest.approx(want, abs=1e-5)
    assert res.metrics["R1"] == rank_metrics(want, res.query_pids, res.gallery_pids)["R1"]
    monkeypatch.setattr(ev, "FULL_MATRIX_LIMIT", 0)
    chunked = ev.evaluate_run(tiny_run, synth_a, progress=False, alpha=0.3, fusion="zscore")
    assert [chunked.metrics[k] for k in ("R1", "R5", "mAP")] == pytest.approx([res.metrics[k] for k in ("R1", "R5", "mAP")])
    bad = run_cli("evaluate", "--run", tiny_run, "--data", synth_a, "--fusion", "softmax")
    assert bad.returncode == 2 and "zscore" in bad.stderr


def test_heads_learn_at_head_lr_scale_times_the_towers_rate():
    from glalign.config import TrainConfig
    from glalign.model.factory import build_model
    from glalign.text.tokenizers import train_tokenizer
    from glalign.train import TOWERS, make_optimizer

    cfg = TrainConfig.for_profile("tiny", data=["x"], lang="en", out="", head_lr_scale=5.0)
    model = build_model(cfg, train_tokenizer(["a man in a red coat"] * 4, "clip", 100))
    opt, _ = make_optimizer(model, cfg, steps_per_epoch=3)
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert len(lr_of) == sum(1 for _ in model.parameters())  # every parameter in exactly one group
    for name, p in model.named_parameters():
        tower = name.split(".")[0] in TOWERS
        assert lr_of[id(p)] == pytest.approx(cfg.optim.lr * (1 if tower else 5)), name
    assert any(name.startswith("text_proj") for name, _ in model.named_parameters())
