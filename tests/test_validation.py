"""Validation splits, epochs chosen on validation, and the converged rule (issue 28)."""
import json

import pandas as pd
import pytest

from glalign.selection import CONVERGED_RISE, best_epoch, run_summary


def _ids(root, split):
    rows = json.loads((root / "reid_raw.json").read_text())
    return {r["id"] for r in rows if r["split"] == split}


def test_validation_identities_are_disjoint_and_leave_test_as_it_was(tmp_path):
    from glalign.data.synth import generate_domain

    s = generate_domain(tmp_path / "A", "A", n_ids=40, seed=1, progress=False, val_ids=6)
    generate_domain(tmp_path / "A0", "A", n_ids=40, seed=1, progress=False, val_ids=0)
    train, val, test = (_ids(tmp_path / "A", k) for k in ("train", "val", "test"))
    assert len(val) >= 6 and s["val_ids"] == len(val) and s["train_ids"] == len(train)
    assert not (train & val) and not (train & test) and not (val & test)
    assert test == _ids(tmp_path / "A0", "test")  # validation is carved from what was training
    assert _ids(tmp_path / "A0", "train") == train | val


def test_val_ids_out_of_range_is_refused(tmp_path):
    from glalign.data.synth import generate_domain
    from glalign.errors import GlalignError

    with pytest.raises(GlalignError, match="--val-ids 39"):
        generate_domain(tmp_path / "A", "A", n_ids=40, progress=False, val_ids=39)


@pytest.fixture(scope="module")
def synth_val(tmp_path_factory):
    from glalign.data.synth import generate_domain

    root = tmp_path_factory.mktemp("synth") / "A"
    generate_domain(root, "A", n_ids=24, seed=3, progress=False, val_ids=4)
    return root


def _train(root, out, **kw):
    from glalign.train import TrainConfig, train

    cfg = TrainConfig.for_profile("tiny", data=[str(root)], lang="en", out=str(out), epochs=3, device="cpu", **kw)
    return train(cfg, progress=False)


def test_the_published_weights_are_the_best_validation_epoch(synth_val, tmp_path, monkeypatch):
    """Validation Rank-1 made to fall after epoch 1: the top-level model is epoch 1's, while the
    checkpoint training resumes from is the newest."""
    import glalign.evaluate as ev

    scores = iter([50.0, 40.0, 30.0])
    real = ev.validation_scores

    def falling(*args, **kw):
        out = real(*args, **kw)
        out["val_R1"] = next(scores)
        return out
    monkeypatch.setattr(ev, "validation_scores", falling)
    run = _train(synth_val, tmp_path / "r")
    hist = pd.read_csv(run / "history.csv")
    assert hist.val_R1.tolist() == [50.0, 40.0, 30.0] and hist.val_queries.gt(0).all()
    assert {"val_R1_global", "val_R1_local", "steps", "pair_passes"} <= set(hist.columns)
    best = json.loads((run / "checkpoints" / "best" / "best.json").read_text())
    assert best["epoch"] == 1 == best_epoch(hist.to_dict("records"))
    top = (run / "model.safetensors").read_bytes()
    assert top == (run / "checkpoints" / "best" / "model.safetensors").read_bytes()
    assert top != (run / "checkpoints" / "epoch-0003" / "model.safetensors").read_bytes()
    s = run_summary(run)
    assert s["best_epoch"] == 1 and s["val_R1"] == 50.0 and s["converged"]
    assert s["steps"] == hist.steps.iloc[-1] and s["pair_passes"] == s["steps"] * 32


def test_without_validation_the_last_epoch_is_published(synth_val, tmp_path):
    run = _train(synth_val, tmp_path / "r", validate=False)
    hist = pd.read_csv(run / "history.csv")
    assert "val_R1" not in hist and not (run / "checkpoints" / "best").exists()
    assert (run / "model.safetensors").read_bytes() == (run / "checkpoints" / "epoch-0003" / "model.safetensors").read_bytes()
    assert run_summary(run)["best_epoch"] is None and not run_summary(run)["converged"]


def test_resume_keeps_choosing_on_the_whole_curve(synth_val, tmp_path):
    from glalign.train import TrainConfig, train

    cfg = TrainConfig.for_profile("tiny", data=[str(synth_val)], lang="en", out=str(tmp_path / "r"), epochs=3,
                                  device="cpu")
    train(cfg, progress=False, stop_after_epoch=2)
    train(cfg, resume=True, progress=False)
    hist = pd.read_csv(tmp_path / "r" / "history.csv")
    assert len(hist) == 3 and hist.val_R1.notna().all()
    best = json.loads((tmp_path / "r" / "checkpoints" / "best" / "best.json").read_text())
    assert best["epoch"] == best_epoch(hist.to_dict("records"))


@pytest.mark.parametrize("curve, converged", [
    ([10, 20, 30, 40], False),             # still climbing in the last quarter
    ([10, 30, 30.5, 30.9], True),          # less than a point over the last quarter
    ([10, 30, 29, 28, 29, 30, 30, 32], False),  # 8 epochs: the last 2 beat the best before by 2 points
    ([10, 30, 29, 31.5, 30, 30, 30.8, 30], True),  # ... by less than nothing: levelled off
])
def test_converged_rule(tmp_path, curve, converged):
    pd.DataFrame({"epoch": range(1, len(curve) + 1), "val_R1": curve, "seconds": 1.0, "steps": 1,
                  "pair_passes": 1}).to_csv(tmp_path / "history.csv", index=False)
    s = run_summary(tmp_path)
    assert s["converged"] is converged
    assert (s["last_quarter_rise"] < CONVERGED_RISE) is converged


def test_best_settings_ranks_each_sweep_stage_on_its_own():
    """A schedule stage (6 epochs) is chosen within its stage, not outranked by a longer stage's row."""
    import pandas as pd

    from glalign.repro.sweep import best_settings

    table = pd.DataFrame([dict(lang="vi", init="pretrained", epochs=8, lr=1e-3, val_R1=71.4),
                          dict(lang="vi", init="pretrained", epochs=8, lr=3e-4, val_R1=64.9),
                          dict(lang="vi", init="pretrained", epochs=6, lr=1e-3, val_R1=69.0),
                          dict(lang="vi", init="pretrained", epochs=6, lr=2e-3, val_R1=62.5),
                          dict(lang="en", init="scratch", epochs=8, lr=3e-3, val_R1=69.6)])
    best = best_settings(table).set_index(["lang", "init", "epochs"]).lr.to_dict()
    assert best == {("en", "scratch", 8): 3e-3, ("vi", "pretrained", 6): 1e-3, ("vi", "pretrained", 8): 1e-3}
    assert len(best_settings(table.drop(columns="epochs"))) == 2  # a table without stages: one per (lang, init)
    variants = pd.concat([table.assign(alpha=0.5), pd.DataFrame([dict(lang="vi", init="pretrained", epochs=6, lr=3e-3,
                                                                       alpha=1.0, val_R1=40.0)])])
    best = best_settings(variants).set_index(["lang", "init", "alpha", "epochs"]).lr.to_dict()
    assert best[("vi", "pretrained", 1.0, 6)] == 3e-3 and best[("vi", "pretrained", 0.5, 6)] == 1e-3


def test_a_variant_gets_its_own_preset_only_where_the_profile_gives_one():
    """Vietnamese global-only runs train 12 epochs and English full-model runs 8, in both inits (equal
    pair passes), every other run its language's preset; a run's folder name follows its settings, so the cache tells them apart."""
    from glalign.config import PROFILES
    from glalign.repro.scenarios import profile_settings, training_profile

    s = profile_settings("synthpedes")
    chosen = {(init, lang, a): training_profile(s, init, lang, a)
              for init in ("pretrained", "scratch") for lang in ("en", "vi") for a in (0.0, 0.5, 1.0)}
    assert chosen[("pretrained", "vi", 1.0)] == "synthpedes-finetune-vi-global"
    assert chosen[("scratch", "vi", 1.0)] == "synthpedes-vi-global"
    assert chosen[("pretrained", "vi", 0.5)] == "synthpedes-finetune-vi" and chosen[("scratch", "en", 1.0)] == "synthpedes"
    assert chosen[("pretrained", "en", 0.5)] == "synthpedes-finetune-en-full" and chosen[("scratch", "en", 0.5)] == "synthpedes-en-full"
    assert chosen[("pretrained", "en", 0.0)] == "synthpedes-finetune" and chosen[("scratch", "vi", 0.5)] == "synthpedes-vi"
    assert PROFILES["synthpedes-finetune-en-full"]["epochs"] == PROFILES["synthpedes-en-full"]["epochs"] == 8
    assert PROFILES["synthpedes-finetune-vi-global"]["epochs"] == PROFILES["synthpedes-vi-global"]["epochs"] == 12
    assert training_profile(profile_settings("tiny"), "pretrained", "vi", 1.0) == "tiny-finetune"
    assert training_profile(s, "pretrained", "en", 0.25) == "synthpedes-finetune"  # an α outside the variants
