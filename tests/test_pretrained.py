"""The pretrained-weights path end to end, on small stand-ins saved with save_pretrained: a full
CLIP checkpoint folder (vision + text + tokenizer, like openai/clip-vit-base-patch32), a GPT-2
folder and a RoBERTa (PhoBERT-style) folder, each passed to `train` by path."""
import json

import pytest

from glalign.text.tokenizers import train_tokenizer
from glalign.train import TrainConfig, load_run, train

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
    assert saved["train"]["text_kind"] == kind  # inferred from the folder's model_type
    assert saved["hf_configs"]["vision"]["image_size"] == 32  # the checkpoint's geometry, not the profile's
    model, tok, loaded = load_run(run)  # rebuilt from config.json alone, no access to the stand-in folders
    assert len(tok) == saved["vocab_size"] and loaded.text_encoder == str(text_folder)
