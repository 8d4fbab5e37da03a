"""Hostile inputs on the retrieval side (issue 24): `evaluate` (--protocol local, --queries long,
--fusion, zero-shot folders), `search` with the memory-mapped index, `rsm mine`. A model or an
index that gives non-finite scores is refused (never a silent R1), with one line naming it."""
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from glalign.cli import main
from test_rsm import _tiny_clip, longform_domain  # noqa: F401 (a fixture)


def _nan_copy(src, dst, weights="model.safetensors"):
    shutil.copytree(src, dst)
    path = dst / weights
    tensors = load_file(str(path))
    path.unlink()  # a run's top-level file is a hard link into its checkpoint: never write through it
    save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in tensors.items()},
              str(path), metadata={"format": "pt"})
    return dst


@pytest.fixture(scope="module")
def nan_run(tiny_run, tmp_path_factory):
    return _nan_copy(tiny_run, tmp_path_factory.mktemp("nan") / "run")


@pytest.fixture(scope="module")
def nan_clip(tmp_path_factory):
    folder = _tiny_clip(tmp_path_factory.mktemp("clip") / "clip", ["a man in a red shirt", "a black cap"] * 10)
    return _nan_copy(folder, folder.parent / "nan-clip")


def _cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


# -- cause: every weight NaN gave exit 0 and an R1 (a silent wrong result)
def test_evaluate_refuses_a_run_with_nan_weights(capsys, synth_a, nan_run):
    rc, err = _cli(capsys, "evaluate", "--run", nan_run, "--data", synth_a, "--json")
    assert rc == 2 and f"{nan_run / 'model.safetensors'}: weight " in err and "non-finite value(s)" in err, err
    assert err.count("\n") == 1


def test_zero_shot_refuses_a_folder_with_nan_weights(capsys, synth_a, nan_clip):
    rc, err = _cli(capsys, "evaluate", "--image-encoder", nan_clip, "--text-encoder", nan_clip, "--data", synth_a)
    assert rc == 2 and f"{nan_clip}: weight " in err and "non-finite" in err, err


def test_search_refuses_a_run_with_nan_weights(capsys, synth_a, nan_run):
    rc, err = _cli(capsys, "search", "--run", nan_run, "--gallery", synth_a / "imgs", "--device", "cpu", "a red shirt")
    assert rc == 2 and "non-finite" in err, err
    assert not list((synth_a / "imgs").glob(".glalign-index-*"))  # no index written from it


@pytest.mark.parametrize("which", ["clip", "run"])
def test_rsm_mine_refuses_nan_weights(capsys, longform_domain, nan_clip, nan_run, which):  # noqa: F811
    model = nan_clip if which == "clip" else nan_run
    before = sorted(p.name for p in longform_domain.iterdir())
    rc, err = _cli(capsys, "rsm", "mine", "--data", longform_domain, "--model", model, "--device", "cpu", "--quiet")
    assert rc == 2 and "non-finite" in err, err
    assert sorted(p.name for p in longform_domain.iterdir()) == before  # no rsm_pairs file


# -- cause: finite weights whose scores overflow (NaN) would be ranked in no meaningful order
def test_evaluate_refuses_non_finite_scores(capsys, monkeypatch, synth_a, tiny_run, tmp_path):
    import glalign.evaluate as ev

    real = ev.local_similarity
    monkeypatch.setattr(ev, "local_similarity", lambda q, g: real(q, g) * float("nan"))
    out = tmp_path / "per_query.csv"
    rc, err = _cli(capsys, "evaluate", "--run", tiny_run, "--data", synth_a, "--per-query", out)
    assert rc == 2 and "scores are not finite (NaN or inf) for" in err, err
    assert not out.exists()


def test_index_refuses_non_finite_gallery_embeddings(tmp_path):
    from glalign.errors import GlalignError
    from glalign.index import write_index

    g = torch.zeros(3, 4)
    g[1, 2] = float("nan")
    with pytest.raises(GlalignError, match="gallery embedding 1 is not finite"):
        write_index(tmp_path / "x.gli", g, torch.zeros(3, 5, 4), torch.ones(3, 5, dtype=torch.bool))
    big = torch.full((2, 4), 1e5)  # finite in fp32, inf in fp16
    with pytest.raises(GlalignError, match=r"gallery embedding 0 is not finite \(NaN or inf\) as float16"):
        write_index(tmp_path / "x.gli", big, torch.zeros(2, 5, 4), torch.ones(2, 5, dtype=torch.bool))
    assert list(tmp_path.iterdir()) == []


# -- causes: rsm mine --min-margin nan kept no pair and said nothing; regions.json nested beyond
# Python's recursion limit was a RecursionError "bug"
@pytest.mark.parametrize("margin", ["nan", "inf", "-inf"])
def test_rsm_min_margin_must_be_finite(capsys, tmp_path, margin):
    with pytest.raises(SystemExit) as stop:
        main(["rsm", "mine", "--data", str(tmp_path), "--model", str(tmp_path), f"--min-margin={margin}"])
    assert stop.value.code == 2 and "expected a finite number" in capsys.readouterr().err


def test_regions_json_nested_too_deeply(capsys, tmp_path, nan_clip):
    (tmp_path / "regions.json").write_text("[" * 100000 + "]" * 100000)
    rc, err = _cli(capsys, "rsm", "mine", "--data", tmp_path, "--model", nan_clip.parent / "clip", "--quiet")
    assert rc == 2 and "regions.json: JSON nested too deeply" in err, err


def test_search_gallery_that_is_a_file(capsys, tiny_run, tmp_path):
    (tmp_path / "one.png").write_bytes(b"x")
    rc, err = _cli(capsys, "search", "--run", tiny_run, "--gallery", tmp_path / "one.png", "a man")
    assert rc == 2 and "one.png is a file; pass the folder of images" in err, err


# -- cause: evaluate --protocol local --masks NAME with no such folder silently pooled regions.json's boxes
def test_local_protocol_names_a_missing_mask_folder(capsys, longform_domain, nan_clip):  # noqa: F811
    rc, err = _cli(capsys, "evaluate", "--image-encoder", nan_clip.parent / "clip", "--data", longform_domain,
                   "--protocol", "local", "--masks", "estimated")
    assert rc == 2 and f"mask folder {longform_domain / 'estimated'} does not exist" in err, err
