"""The reproduce workspace fine-tunes from its own pretrained folders (the real loading path):
English from SynthCLIP's two towers, Vietnamese from SynthCLIP's image tower and SynthPhoBERT;
runs are cached by what the folders hold, not where they lie."""
import json
import shutil

import pytest

from glalign.scenarios import Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_workdir):
    return Workspace("tiny", tiny_workdir(tmp_path_factory.mktemp("ws") / "tiny"))


def test_run_configs_pair_the_pretrained_towers_as_the_paper(ws):
    clip, phobert = str(ws.pretrained("clip")), str(ws.pretrained("phobert"))
    en, vi = ws.run_config(("A",), "en", 0.5), ws.run_config(("A",), "vi", 0.5)
    assert (en.model.image_encoder, en.model.text_encoder) == (clip, clip)
    assert (vi.model.image_encoder, vi.model.text_encoder) == (clip, phobert)
    assert en.profile == "tiny-finetune"
    scratch = ws.run_config(("A",), "en", 0.5, init="scratch", seed=3)
    assert (scratch.model.image_encoder, scratch.model.text_encoder, scratch.profile) == ("small", "small", "tiny")
    assert scratch.optim.seed == 3
    with pytest.raises(ValueError, match="init"):
        ws.run_config(("A",), "en", 0.5, init="imagenet")


def test_fine_tuned_run_starts_from_the_folders_and_is_cached_by_content(ws, tmp_path):
    from transformers import CLIPModel

    from glalign.model.factory import load_run

    run = ws.run(("A",), "vi", 0.5)
    saved = json.loads((run / "train_config.json").read_text())
    flat = {k: v for group in ("model", "optim") for k, v in saved[group].items()}
    assert flat["text_kind"] == "phobert" and flat["image_encoder"] == str(ws.pretrained("clip"))
    model, tokenizer, _ = load_run(run)
    assert model.config.text_config.model_type == "roberta"
    assert tokenizer.mask_token is not None  # SynthPhoBERT's own tokenizer, not a new one
    # the global image head starts from SynthCLIP's projection: fine-tuning moved it, but not far
    clip = CLIPModel.from_pretrained(ws.pretrained("clip"))
    start, end = clip.visual_projection.weight.detach(), model.image_proj.weight.detach()
    assert start.shape == end.shape and (end - start).norm() < 0.5 * start.norm()
    names = {ws.run_dir(("A",), "vi", 0.5, **kw)[1].name for kw in ({}, {"init": "scratch"}, {"seed": 1}, {"seed": 0})}
    assert len(names) == 3 and run.name in names  # seed 0 is the profile's: the same run
    assert ws.run_dir(("A",), "vi", 0.5, seed=1)[1].name.startswith("A-vi-a0.5-pretrained-seed1-")

    moved = Workspace("tiny", tmp_path / "elsewhere")  # the same cache in another folder: nothing retrained
    shutil.copytree(ws.root, moved.root)
    again = moved.run(("A",), "vi", 0.5)
    assert again.name == run.name
    assert (again / "model.safetensors").stat().st_mtime == (run / "model.safetensors").stat().st_mtime


def test_zero_shot_scores_with_the_pretrained_towers(ws):
    r = ws.zero_shot("SE1")
    assert r.n_queries > 0 and 0 <= r.metrics["R1"] <= 100


def test_summary_shows_rq1_by_initialisation_and_seed_spread(tmp_path):
    import pandas as pd

    from glalign.summary import write_summary

    tables = tmp_path / "tables"
    tables.mkdir()
    rows = [{"scenario": sc, "init": init, "variant": v, "R1": r1, "paper_R1": 70.0}
            for sc in ("SE1", "SV2") for init, r1 in (("zero-shot", 10.0), ("scratch", 40.0), ("pretrained", 60.0))
            for v in ("full", "global-only", "local-only")]
    pd.DataFrame(rows).to_csv(tables / "rq1_init.csv", index=False)
    pd.DataFrame({"scenario": "SE1", "seed": [0, 1, 2], "R1": [60.0, 62.0, 64.0], "R5": 80.0, "R10": 90.0,
                  "mAP": 55.0}).to_csv(tables / "seeds.csv", index=False)
    pd.DataFrame({"method": "rsm", "test": "grounding", "metric": "accuracy", "part": ["HEAD", "all"],
                  "value": [41.0, 57.0], "chance": [20.0, 22.5], "text_only": [99.0, 98.5], "n": [3, 9]}
                 ).to_csv(tables / "protocols.csv", index=False)
    text = write_summary(tmp_path, "tiny", {"03_train": 1.0}).read_text()
    assert "| rsm | grounding | accuracy | all | 57 | 22.5 | 98.5 | 9 |" in text and "| 41 |" not in text
    assert "per-part rows in `tables/protocols.csv`" in text
    assert "| scenario | variant | zero-shot | scratch | pretrained | paper_R1 |" in text
    assert "| SV2 | local-only | 10.00 | 40.00 | 60.00 | 70.00 |" in text
    assert "R1 62.00 ± 2.00" in text


def test_runs_train_and_test_on_synthparser_masks_with_an_oracle_variant(ws):
    from glalign.data.records import load_dataset

    cfg = ws.run_config(("A",), "en", 0.5)
    folder = cfg.data.masks
    assert folder.startswith("parsing-synthparser-")  # the parser's fingerprint names the folder
    root = ws.domain("A")
    records = load_dataset(root, check_images=False, masks=folder).records
    assert records and all(r.mask is not None and r.mask.parent.parent.name == folder for r in records)
    assert ws.run_config(("A",), "en", 0.5, masks="oracle").data.masks == "parsing"
    est, oracle = (ws.run_dir(("A",), "en", 0.5, masks=m)[1].name for m in ("estimated", "oracle"))
    assert est != oracle and "-oracle-" in oracle and "-oracle-" not in est
    with pytest.raises(ValueError, match="masks"):
        ws.masks("A", "perfect")
    iou = ws.parser_iou()
    assert set(iou.domain) == {"A", "B"} and list(iou.columns) == ["domain", "part", "iou"]
    parts = iou[iou.part != "mean"].iou.dropna()
    assert parts.between(0, 1).all() and parts.lt(1).any()  # estimates, not a copy of the ground truth


def test_train_all_trains_missing_runs_in_two_processes_once(ws):
    from glalign.checkpoint import completed_epochs

    specs = [dict(domains=("A",), lang="en", alpha=1.0, init="scratch"),
             dict(domains=("A",), lang="en", alpha=0.0, init="scratch"),
             dict(domains=("A",), lang="en", alpha=0.0, init="scratch", seed=0)]  # seed 0 = the profile's: once
    paths = ws.train_all(specs, workers=2)
    assert len(set(paths)) == 2 and paths[1] == paths[2]
    for cfg_path in set(paths):
        assert completed_epochs(cfg_path) == 2  # the tiny profile's epochs, in a worker process
    stamp = {p: (p / "model.safetensors").stat().st_mtime_ns for p in paths}
    ws.train_all(specs, workers=2)  # cached: nothing trained again
    assert all((p / "model.safetensors").stat().st_mtime_ns == t for p, t in stamp.items())


def test_pipeline_runs_hold_every_run_the_notebooks_evaluate(ws):
    from glalign.scenarios import ALPHAS_TRAINED, INITS, SEEDS, pipeline_runs

    names = {ws.run_dir(**spec)[1].name for spec in pipeline_runs()}
    for lang in ("en", "vi"):
        for alpha in (0, 0.5, 1):
            for init in INITS:
                assert any(n.startswith(f"A-{lang}-a{alpha:g}-{init}-") for n in names)
    assert all(any(n.startswith(f"A-en-a{a:g}-pretrained-") for n in names) for a in ALPHAS_TRAINED)
    assert sum(n.startswith("A-en-a0.5-pretrained-seed") for n in names) == len(SEEDS) - 1  # seed 0 is the profile's
    assert any("-oracle-" in n for n in names) and any(n.startswith("A+B-en-") for n in names)
