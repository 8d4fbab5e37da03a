"""The public Python API: lazy, free of side effects, and the same numbers as the CLI's paths."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO


def _python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                                                            "HF_DATASETS_OFFLINE", "TOKENIZERS_PARALLELISM")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)


def test_import_glalign_is_light_and_changes_no_environment():
    res = _python("import os, sys; before = dict(os.environ); import glalign; "
                  "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items()); "
                  "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'; "
                  "assert glalign.PARTS[0] == 'HEAD'; assert 'load' in dir(glalign); print('ok')")
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


@pytest.mark.parametrize("first", ["transformers", "glalign"])
def test_automodel_registration_does_not_depend_on_import_order(first, tiny_run):
    """transformers imported before glalign or after: importing glalign.model registers GLAlign."""
    order = "import transformers; import glalign" if first == "transformers" else "import glalign; import transformers"
    res = _python(f"{order}; import glalign.model; from transformers import AutoModel; "
                  f"m = AutoModel.from_pretrained({str(tiny_run)!r}); print(type(m).__name__)")
    assert res.returncode == 0 and res.stdout.strip() == "GLAlignModel", res.stderr


def test_the_cli_process_is_offline(monkeypatch):
    from glalign.hub import OFFLINE_ENV, offline_environment

    for key in OFFLINE_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")  # a value the user set is kept
    offline_environment()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


def test_unknown_attribute_is_an_attribute_error():
    import glalign

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        glalign.nope  # noqa: B018


def test_load_similarity_and_evaluate_agree(tiny_run, synth_a):
    """glalign.similarity over the test split's images equals what glalign.evaluate ranks by."""
    import glalign
    from glalign.evaluate import select_records

    model, processor = glalign.load(tiny_run)
    assert processor.tokenizer is not None and (tiny_run / "preprocessor_config.json").exists()
    records = select_records(synth_a, "en", "test")
    captions = [c for r in records[:3] for c in r.captions]
    for fusion in ("raw", "zscore"):
        res = glalign.evaluate(tiny_run, synth_a, split="test", fusion=fusion, progress=False)
        scores = glalign.similarity(model, processor, [r.image for r in records], captions,
                                    masks=[r.mask for r in records], fusion=fusion)
        assert scores.shape == (len(captions), len(records))
        np.testing.assert_allclose(scores, res.fused(res.alpha, fusion)[:len(captions)], rtol=1e-4, atol=1e-5)
    assert set(res.metrics) >= {"R1", "R5", "R10", "mAP", "mINP"}


def test_features_are_the_global_scores(tiny_run, synth_a):
    """get_image_features / get_text_features from the processor's batches: unit vectors whose
    dot products are similarity's global part (alpha = 1)."""
    import torch

    import glalign
    from glalign.evaluate import select_records

    model, processor = glalign.load(tiny_run)
    records = select_records(synth_a, "en", "test")[:4]
    with torch.no_grad():
        img = model.get_image_features(processor.images([r.image for r in records], [r.mask for r in records])
                                       ["pixel_values"])
        txt = model.get_text_features(**processor.text([records[0].captions[0]]))
    assert img.shape == (4, model.config.embed_dim)
    torch.testing.assert_close(img.norm(dim=-1), torch.ones(4))
    glob = glalign.similarity(model, processor, [r.image for r in records], [records[0].captions[0]],
                              masks=[r.mask for r in records], alpha=1.0)
    np.testing.assert_allclose((txt @ img.T).numpy(), glob, atol=1e-5)


def test_processor_saved_in_the_run_round_trips(tiny_run, tmp_path):
    from glalign.model.processing import GLAlignProcessor

    saved = GLAlignProcessor.from_pretrained(tiny_run)
    derived = GLAlignProcessor.from_config(glalign_config(tiny_run))
    assert saved == derived  # the file holds what config.json implies (older runs are read from it)
    saved.save_pretrained(tmp_path)
    assert GLAlignProcessor.from_pretrained(tmp_path, tokenizer=saved.tokenizer) == saved
    (tmp_path / "preprocessor_config.json").write_text("{not json")
    from glalign.errors import GlalignError

    with pytest.raises(GlalignError, match="preprocessor_config.json is damaged"):
        GLAlignProcessor.from_pretrained(tmp_path, tokenizer=saved.tokenizer)


def glalign_config(run):
    from glalign.model.factory import read_run_config

    return read_run_config(run)
