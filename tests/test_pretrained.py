"""The pretrained-weights path end to end, on small stand-ins saved with save_pretrained: a full
CLIP checkpoint folder (vision + text + tokenizer, like openai/clip-vit-base-patch32), a GPT-2
folder and a RoBERTa (PhoBERT-style) folder, each passed to `train` by path."""
import json

import pytest

from glalign.text.tokenizers import train_tokenizer
from glalign.config import TrainConfig
from glalign.model.factory import load_run
from glalign.train import train

CAPTIONS = ["a man in a red shirt and black pants", "a woman with long hair and a white bag",
            "người đàn ông mặc áo đỏ", "cô gái đi giày trắng"] * 20


def _save_standin(kind, folder):
    from transformers import (CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig, GPT2Config, GPT2Model,
                              RobertaConfig, RobertaModel)

    tok = train_tokenizer(CAPTIONS, kind, vocab_size=300)
    n = len(tok)
    if kind == "clip":
        model = CLIPModel(CLIPConfig(
            text_config=CLIPTextConfig(vocab_size=n, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=2, max_position_embeddings=64,
                                       pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                       eos_token_id=tok.eos_token_id).to_dict(),
            vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                           num_attention_heads=2, image_size=32, patch_size=8).to_dict(),
            projection_dim=32))
    elif kind == "gpt2":
        model = GPT2Model(GPT2Config(vocab_size=n, n_embd=32, n_layer=1, n_head=2, n_positions=64))
    else:
        model = RobertaModel(RobertaConfig(vocab_size=n, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                           intermediate_size=64, max_position_embeddings=80,
                                           pad_token_id=tok.pad_token_id), add_pooling_layer=False)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    return _save_standin("clip", tmp_path_factory.mktemp("standins") / "clip-standin")


@pytest.mark.parametrize("kind, lang", [("clip", "en"), ("gpt2", "en"), ("phobert", "vi")])
def test_train_from_local_pretrained_folders(kind, lang, clip_folder, synth_a, tmp_path):
    text_folder = clip_folder if kind == "clip" else _save_standin(kind, tmp_path / f"{kind}-standin")
    cfg = TrainConfig.for_profile("tiny", data=[str(synth_a)], lang=lang, out=str(tmp_path / "run"), epochs=1,
                                  image_encoder=str(clip_folder), text_encoder=str(text_folder), device="cpu")
    run = train(cfg, progress=False)
    saved = json.loads((run / "config.json").read_text())
    assert saved["text_kind"] == kind  # inferred from the folder's model_type
    assert saved["vision_config"]["image_size"] == 32  # the checkpoint's geometry, not the profile's
    model, tok, loaded = load_run(run)  # rebuilt from config.json alone, no access to the stand-in folders
    assert len(tok) == model.text.get_input_embeddings().num_embeddings
    assert json.loads((run / "train_config.json").read_text())["model"]["text_encoder"] == str(text_folder)


def _cfg_from(folder, text_folder=None, **kw):
    return TrainConfig.for_profile("tiny", data=["unused"], lang="en", image_encoder=str(folder),
                                   text_encoder=str(text_folder or folder), **kw)


def test_clip_heads_and_temperature_start_from_the_checkpoint(clip_folder):
    """Fix 2: a CLIP checkpoint's projections and logit scale are kept, so the global similarity
    at step 0 is CLIP's own (get_image_features / get_text_features)."""
    import torch
    from transformers import AutoTokenizer, CLIPModel

    from glalign.model.factory import build_model, resolve_text_kind

    cfg = _cfg_from(clip_folder, embed_dim=8)  # the profile's size gives way to CLIP's projection
    resolve_text_kind(cfg)
    tok = AutoTokenizer.from_pretrained(str(clip_folder))
    model = build_model(cfg, tok).eval()
    clip = CLIPModel.from_pretrained(str(clip_folder)).eval()
    assert model.config.embed_dim == 32 and float(model.scale().detach()) == pytest.approx(float(clip.logit_scale.detach().exp()))
    pixels = torch.randn(2, 3, 32, 32)
    ids = tok(["a red shirt", "white shoes and a bag"], padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = model.encode_image(pixels, local=False)[0] @ model.encode_text(ids["input_ids"], ids["attention_mask"]).t()
        img = torch.nn.functional.normalize(clip.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
        txt = torch.nn.functional.normalize(clip.get_text_features(**ids).pooler_output, dim=-1)
    assert torch.allclose(ours, img @ txt.t(), atol=1e-5)


def test_dropout_reaches_pretrained_towers(clip_folder, tmp_path):
    """Fix 3: dropout is set when the towers are built, so their modules use it."""
    from glalign.model.factory import build_model, resolve_text_kind

    cfg = _cfg_from(clip_folder, dropout=0.1)
    resolve_text_kind(cfg)
    model = build_model(cfg, None)
    attn = model.vision.vision_model.encoder.layers[0].self_attn if hasattr(model.vision, "vision_model") \
        else model.vision.encoder.layers[0].self_attn
    assert model.config.vision_config.attention_dropout == 0.1 and attn.dropout == 0.1
    assert model.config.text_config.dropout == 0.1


def test_a_checkpoint_of_another_architecture_is_refused(clip_folder, tmp_path):
    """Fix 1: GPT-2 weights are never made up from a CLIP checkpoint; a folder that is not a
    model and a path that does not exist are named as such."""
    from transformers import GPT2Model

    from glalign.errors import GlalignError
    from glalign.hub import load_pretrained
    from glalign.model.encoders import text_kind_of

    with pytest.raises(GlalignError, match="lacks .* weight"):
        load_pretrained(GPT2Model, str(clip_folder))
    assert text_kind_of(str(clip_folder)) == "clip"
    (tmp_path / "empty").mkdir()
    with pytest.raises(GlalignError, match="holds no config.json"):
        text_kind_of(str(tmp_path / "empty"))
    with pytest.raises(GlalignError, match="does not exist"):
        text_kind_of("/nonexistent/model")


def test_text_kind_word_on_a_pretrained_profile_names_that_kind(run_cli, synth_a, tmp_path):
    """`--profile paper --text-encoder gpt2` asks for GPT-2's own checkpoint (not CLIP's as GPT-2)."""
    res = run_cli("train", "--data", synth_a, "--lang", "en", "--out", tmp_path / "r", "--profile", "paper",
                  "--text-encoder", "gpt2", "--image-encoder", "small")
    assert res.returncode == 2 and "'gpt2' is not available on this machine" in res.stderr, res.stderr


def test_max_length_is_capped_at_the_encoder_context(clip_folder):
    from glalign.model.factory import build_model, resolve_text_kind

    cfg = _cfg_from(clip_folder, max_length=500)
    resolve_text_kind(cfg)
    with pytest.warns(UserWarning, match="captions are cut at 64 tokens"):
        model = build_model(cfg, None)
    assert model.config.max_length == 64


def test_losses_are_fp32_under_bf16_autocast(monkeypatch):
    """Fix 4: the encoders may run in bf16; the logits and losses never do."""
    import torch

    import glalign.model.task as task_mod
    from glalign.config import TrainConfig as TC
    from glalign.model.factory import build_model
    from glalign.text.tokenizers import train_tokenizer

    monkeypatch.setattr(task_mod, "autocast_for", lambda device: torch.autocast("cpu", dtype=torch.bfloat16))
    tok = train_tokenizer(CAPTIONS, "clip", vocab_size=300)
    model = build_model(TC.for_profile("tiny", data=["unused"], lang="en"), tok)
    seen = []
    real_ce = task_mod.symmetric_ce
    monkeypatch.setattr(task_mod, "symmetric_ce", lambda i, t, s, p: seen.append((i.dtype, t.dtype, s.dtype))
                        or real_ce(i, t, s, p))
    b = 4
    ids = tok(CAPTIONS[:b], padding=True, return_tensors="pt")
    batch = {"pixels": torch.randn(b, 3, 48, 48), "present": torch.ones(b, 5, dtype=torch.bool),
             "weights": torch.rand(b, 5, 36), "input_ids": ids["input_ids"], "attention_mask": ids["attention_mask"],
             "labels": torch.arange(b)}
    out = task_mod.GLAlignTask(model, 1.0)(batch)
    assert seen and all(d == torch.float32 for d in seen[0]) and out["loss"].dtype == torch.float32


def test_zero_shot_evaluate_is_clips_own_similarity(run_cli, clip_folder, synth_a, tmp_path):
    """Fix 5: evaluate pretrained encoders with no fine-tuning; at alpha 1 the score of each
    query's top image is CLIP's cosine similarity, and --per-query keeps its columns."""
    import pandas as pd
    import torch
    from transformers import AutoTokenizer, CLIPModel

    from glalign.data.records import load_dataset
    from glalign.model.factory import image_store_for, zero_shot

    per_query = tmp_path / "pq.csv"
    res = run_cli("evaluate", "--image-encoder", clip_folder, "--text-encoder", clip_folder, "--data", synth_a,
                  "--alpha", "1", "--json", "--per-query", per_query)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"R1", "R5", "R10", "mAP", "mINP", "n_queries"} and out["n_queries"] > 0
    pq = pd.read_csv(per_query)
    assert {"caption", "top1_image", "score_top1", "rank"} <= set(pq.columns)
    model, _, _ = zero_shot(str(clip_folder), str(clip_folder))
    clip, tok = CLIPModel.from_pretrained(str(clip_folder)).eval(), AutoTokenizer.from_pretrained(str(clip_folder))
    records = {r.file_path: r for r in load_dataset(synth_a, lang="en").records}
    row = pq.iloc[0]
    store = image_store_for(model)
    img = records[row.top1_image]
    from glalign.data.torchdata import image_item
    pixels = image_item(store, img, False, "pool")["pixels"][None]
    with torch.no_grad():
        i = torch.nn.functional.normalize(clip.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
        # a caption over the tower's context is read whole: sentence chunks, pooled (glalign.text.longtext)
        from glalign.text.longtext import encode_whole
        t = encode_whole([row.caption], tok, model.config.max_length,
                         lambda ids, m: clip.get_text_features(input_ids=ids, attention_mask=m).pooler_output)
    assert float(i @ t.t()) == pytest.approx(row.score_top1, abs=1e-4)
    res = run_cli("evaluate", "--data", synth_a)
    assert res.returncode == 2 and "nothing to evaluate" in res.stderr


def test_zero_shot_with_a_tower_lacking_heads_is_the_same_model_every_time(clip_folder, tmp_path):
    """PhoBERT has no projection into CLIP's space: zero-shot starts it at random, from a fixed seed."""
    import torch

    from glalign.model.factory import zero_shot

    phobert = _save_standin("phobert", tmp_path / "phobert-standin")
    a, _, _ = zero_shot(str(clip_folder), str(phobert), lang="vi")
    torch.manual_seed(12345)  # whatever the caller's generator holds
    b, _, _ = zero_shot(str(clip_folder), str(phobert), lang="vi")
    assert torch.equal(a.text_proj.weight, b.text_proj.weight) and torch.equal(a.phrase_proj.weight, b.phrase_proj.weight)
