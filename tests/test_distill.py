"""The Vietnamese RSM judge: SynthPhoBERT distilled into SynthCLIP's text space (glalign.pretrain.distill)."""
import json

import numpy as np
import pytest
import torch

from glalign.errors import GlalignError


@pytest.fixture(scope="module")
def tiny_towers(tmp_path_factory):
    """A tiny corpus with a tiny SynthCLIP and SynthPhoBERT pretrained on it (the tiny recipe's sizes)."""
    from glalign.pretrain.clip import ClipPretrainConfig, pretrain_clip
    from glalign.pretrain.corpus import make_corpus
    from glalign.pretrain.mlm import MlmPretrainConfig, pretrain_mlm
    from glalign.pretrain.ship import RECIPES

    root = tmp_path_factory.mktemp("distill")
    corpus = make_corpus(root / "corpus", n_ids=40, progress=False)
    spec = RECIPES["tiny"]
    clip = pretrain_clip(root / "synthclip", corpus=corpus, cfg=ClipPretrainConfig(**spec["clip"]), progress=False)
    mlm = pretrain_mlm(root / "synthphobert", corpus=corpus, cfg=MlmPretrainConfig(**spec["phobert"]), progress=False)
    return root, corpus, clip, mlm


def _no_lexicon(monkeypatch):
    """Any read of a keyword lexicon fails the test."""
    import glalign.text.lexicon as lexicon

    def refuse(*args, **kwargs):
        raise AssertionError("a keyword lexicon was read")

    monkeypatch.setattr(lexicon, "raw_lexicon", refuse)
    monkeypatch.setattr(lexicon, "keyword_to_part", refuse)


def test_student_reads_vietnamese_into_the_teachers_space(tiny_towers, monkeypatch):
    from glalign.pretrain.distill import DistillConfig, TextStudent, distill, parallel_captions, read_student
    from glalign.rsm import Embedder

    root, corpus, clip, mlm = tiny_towers
    _no_lexicon(monkeypatch)
    en, vi, _ = parallel_captions([corpus], "train")
    teacher = Embedder(clip).texts(en[:60], "en")
    before = _own_translation_rank1(_student_texts(TextStudent.from_folder(mlm, teacher.shape[1], projection=False),
                                                   mlm, vi[:60]), teacher)

    out = distill(root / "student", clip, mlm, [corpus], DistillConfig(epochs=15, batch_size=32, lr=2e-3),
                  progress=False)
    for name in ("config.json", "model.safetensors", "projection.safetensors", "tokenizer.json", "rsm_student.json",
                 "pretrain_config.json", "history.csv"):
        assert (out / name).exists(), name
    assert read_student(out)["image_tower"] == str(clip.resolve())
    judge = Embedder(out)
    assert judge.kind == "student" and judge.max_length > 0
    student = judge.texts(vi[:60], "vi")
    assert student.shape == teacher.shape
    assert torch.allclose(student.norm(dim=-1), torch.ones(len(student)), atol=1e-5)
    sim = (student @ teacher.T).numpy()
    own, others = np.diag(sim), sim[~np.eye(len(sim), dtype=bool)]
    assert own.mean() > others.mean(), (own.mean(), others.mean())  # the tiny teacher's space is narrow (cos ~0.96)
    after = _own_translation_rank1(student, teacher)
    assert after > max(3 * 100 / len(sim), before + 5), (before, after)  # 60 captions: chance 1.7%
    # regions come from the CLIP folder's image tower, in the teacher's space
    regions = judge.images([np.zeros((24, 12, 3), np.uint8), np.full((30, 20, 3), 200, np.uint8)])
    assert regions.shape == (2, teacher.shape[1])
    assert torch.allclose(regions, Embedder(clip).images([np.zeros((24, 12, 3), np.uint8),
                                                          np.full((30, 20, 3), 200, np.uint8)]), atol=1e-5)
    # a second call with the same settings finds the folder complete
    mtime = (out / "model.safetensors").stat().st_mtime_ns
    assert distill(out, clip, mlm, [corpus], DistillConfig(epochs=15, batch_size=32, lr=2e-3),
                   progress=False) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime


def _student_texts(student, mlm, texts):
    from transformers import AutoTokenizer

    from glalign.text.tokenizers import segment_vietnamese

    tok = AutoTokenizer.from_pretrained(str(mlm))(segment_vietnamese(texts), padding=True, truncation=True,
                                                 max_length=student.max_length, return_tensors="pt")
    with torch.inference_mode():
        return student.eval()(tok["input_ids"], tok["attention_mask"])


def _own_translation_rank1(student, teacher) -> float:
    """% of Vietnamese captions whose nearest English teacher embedding is their own translation."""
    sim = (student @ teacher.T).numpy()
    return 100.0 * float((sim.argmax(1) == np.arange(len(sim))).mean())


def test_student_with_a_changed_image_tower_is_refused(tiny_towers, tmp_path):
    import shutil

    from glalign.pretrain.distill import DistillConfig, distill
    from glalign.rsm import Embedder

    root, corpus, clip, mlm = tiny_towers
    clip_copy = tmp_path / "clip"
    shutil.copytree(clip, clip_copy)
    out = distill(tmp_path / "student", clip_copy, mlm, [corpus], DistillConfig(epochs=1, max_pairs=64),
                  progress=False)
    with pytest.raises(GlalignError, match="reads lang 'vi'"):
        Embedder(out).texts(["a man in a red shirt"], "en")
    config = json.loads((clip_copy / "config.json").read_text())
    config["logit_scale_init_value"] = 1.0
    (clip_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(GlalignError, match="distil the student again"):
        Embedder(out)
    with pytest.raises(GlalignError, match="tower='global'"):
        Embedder(out, tower="global")


def test_workspace_vi_judge_is_the_student_and_mines_long_captions_without_a_lexicon(tiny_towers, tmp_path,
                                                                                      monkeypatch):
    from glalign import scenarios
    from glalign.rsm import mine

    _, _, clip, mlm = tiny_towers
    monkeypatch.setitem(scenarios.PROFILES, "micro", {"A_ids": 6, "B_ids": 6, "train_profile": "tiny",
                                                      "finetune_profile": "tiny-finetune", "seed": 0})
    ws = scenarios.Workspace("micro", tmp_path / "ws")
    monkeypatch.setattr(ws, "pretrained", lambda kind: {"clip": clip, "phobert": mlm}.get(kind) or pytest.fail(kind))
    root = ws.longform("A")
    _no_lexicon(monkeypatch)
    source, tower = ws.rsm_model("vi")
    assert tower == "local" and (source / "rsm_student.json").exists()
    stamp = (source / "model.safetensors").stat().st_mtime_ns
    assert ws.rsm_model("vi")[0] == source and (source / "model.safetensors").stat().st_mtime_ns == stamp  # cached
    judge = ws.rsm_embedder("vi")
    assert judge.kind == "student"
    s = mine(root, judge, "vi", "long", min_margin=0.0, margins=(0.0, 0.05, 0.1), write=False, progress=False,
             baseline=False)
    assert s["pairs"] > 0 and [c["min_margin"] for c in s["curve"]] == [0.0, 0.05, 0.1]
    assert s["curve"][0]["precision"] == pytest.approx(s["rsm"]["precision"])
    assert [c["mined"] for c in s["curve"]] == sorted((c["mined"] for c in s["curve"]), reverse=True)
