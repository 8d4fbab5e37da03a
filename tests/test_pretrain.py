"""SynthCLIP / SynthPhoBERT: saved as real checkpoints are, read back by transformers and by
glalign's own loaders, deterministic, cached by configuration. Tiny sizes throughout."""
import pytest
import torch
import torch.nn.functional as F

from glalign.errors import GlalignError
from glalign.pretrain import common
from glalign.pretrain.clip import ClipPretrainConfig, pretrain_clip, save_clip, train_clip
from glalign.pretrain.mlm import MlmPretrainConfig, masked_accuracy, pretrain_mlm

TINY_CLIP = dict(epochs=2, batch_size=16, image_size=32, patch_size=8, vision_width=32, vision_layers=1,
                 text_width=32, text_layers=1, heads=2, projection_dim=32, max_length=32, vocab_size=300)
TINY_MLM = dict(epochs=12, batch_size=16, width=48, layers=1, heads=2, max_length=48, vocab_size=300, lr=3e-3)
CAPTIONS = ["a man in a red shirt and black shorts", "a woman with long hair"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return common.ensure_corpus(tmp_path_factory.mktemp("pretrain") / "corpus", n_ids=40, progress=False)


@pytest.fixture(scope="module")
def synthclip(corpus, tmp_path_factory):
    return pretrain_clip(tmp_path_factory.mktemp("clip") / "synthclip", corpus=corpus,
                         cfg=ClipPretrainConfig(**TINY_CLIP), progress=False)


def test_synthclip_folder_loads_like_openai_clip(corpus, tmp_path):
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

    from glalign.data.records import load_dataset
    from glalign.data.torchdata import CLIP_MEAN, CLIP_STD

    cfg = ClipPretrainConfig(**TINY_CLIP)
    train, held = common.split_records(load_dataset(corpus, lang="en", check_images=False).records, cfg.seed)
    model, tokenizer, history, _ = train_clip(cfg, train, held, progress=False)
    tok = tokenizer(CAPTIONS, padding=True, return_tensors="pt")
    with torch.no_grad():
        before = model.get_text_features(**tok).pooler_output
    save_clip(tmp_path, model, tokenizer, cfg, history)

    loaded = CLIPModel.from_pretrained(tmp_path, local_files_only=True).eval()
    tok2 = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)(CAPTIONS, padding=True, return_tensors="pt")
    assert torch.equal(tok2["input_ids"], tok["input_ids"])
    with torch.no_grad():
        after = loaded.get_text_features(**tok2).pooler_output
    assert torch.allclose(before, after, atol=1e-6)
    # the text tower pools the EOT token: the last real one of each (right-padded) caption
    eos = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True).eos_token_id
    assert loaded.config.text_config.eos_token_id == eos
    assert (tok2["input_ids"].gather(1, (tok2["attention_mask"].sum(1) - 1)[:, None]) == eos).all()
    proc = CLIPImageProcessor.from_pretrained(tmp_path, local_files_only=True)
    assert proc.size["height"] == proc.size["width"] == cfg.image_size and not proc.do_center_crop
    assert torch.equal(torch.tensor(proc.image_mean, dtype=torch.float32), CLIP_MEAN.flatten())
    assert torch.equal(torch.tensor(proc.image_std, dtype=torch.float32), CLIP_STD.flatten())
    assert len(history) == cfg.epochs and history[-1]["loss"] < history[0]["loss"]


def test_glalign_reads_synthclip_as_it_reads_a_clip_checkpoint(synthclip):
    """zero_shot(DIR, DIR) (the path of `glalign train --image-encoder DIR --text-encoder DIR`) starts
    from CLIP's towers, projections and temperature: its global text embedding is CLIP's."""
    from transformers import CLIPModel

    from glalign.model.factory import zero_shot

    model, tokenizer, config = zero_shot(str(synthclip), str(synthclip))
    clip = CLIPModel.from_pretrained(synthclip, local_files_only=True).eval()
    tok = tokenizer(CAPTIONS, padding=True, return_tensors="pt")
    pixels = torch.randn(2, 3, config.vision_config.image_size, config.vision_config.image_size)
    with torch.no_grad():
        assert torch.allclose(model.encode_text(tok["input_ids"], tok["attention_mask"]),
                              F.normalize(clip.get_text_features(**tok).pooler_output, dim=-1), atol=1e-5)
        assert torch.allclose(model.encode_image(pixels, local=False)[0],
                              F.normalize(clip.get_image_features(pixel_values=pixels).pooler_output, dim=-1),
                              atol=1e-5)
    assert config.text_kind == "clip" and torch.allclose(model.logit_scale, clip.logit_scale)


def test_same_seed_same_weights_and_the_cache(synthclip, corpus, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    again = pretrain_clip(tmp_path / "again", corpus=corpus, cfg=ClipPretrainConfig(**TINY_CLIP), progress=False)
    a, b = load_file(synthclip / "model.safetensors"), load_file(again / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (again / "history.csv").read_text().splitlines()[0].startswith("epoch,loss")

    def fail(*args, **kwargs):
        raise AssertionError("a cached model was trained again")

    monkeypatch.setattr("glalign.pretrain.clip.train_clip", fail)
    mtime = (again / "model.safetensors").stat().st_mtime_ns
    assert pretrain_clip(again, corpus=corpus, cfg=ClipPretrainConfig(**TINY_CLIP), progress=False) == again
    assert (again / "model.safetensors").stat().st_mtime_ns == mtime
    other = ClipPretrainConfig(**{**TINY_CLIP, "seed": 7})
    with pytest.raises(GlalignError, match="--overwrite"):  # another configuration is never silently replaced
        pretrain_clip(again, corpus=corpus, cfg=other, progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_synthphobert_loads_as_roberta_and_predicts_masked_tokens(corpus, tmp_path):
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling, RobertaForMaskedLM

    from glalign.data.records import load_dataset
    from glalign.model.encoders import EncoderSpec, build_text_encoder, text_kind_of
    from glalign.pretrain.mlm import _encode
    from glalign.text.tokenizers import segment_vietnamese

    out = pretrain_mlm(tmp_path / "synthphobert", corpus=corpus, cfg=MlmPretrainConfig(**TINY_MLM), progress=False)
    model = RobertaForMaskedLM.from_pretrained(out, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert tokenizer.mask_token is not None and tokenizer("áo_khoác đen")["input_ids"][0] == tokenizer.bos_token_id
    captions = sorted({c for r in load_dataset(corpus, lang="vi", check_images=False).records if r.split == "train"
                       for c in r.captions})
    examples = _encode(tokenizer, segment_vietnamese(captions), TINY_MLM["max_length"])
    acc = masked_accuracy(model, DataCollatorForLanguageModeling(tokenizer), examples, torch.device("cpu"), seed=5)
    assert acc["masked"] > 100 and acc["accuracy"] > acc["majority"] + 10  # the context is used
    # glalign reads the folder as it reads vinai/phobert-base: a RoBERTa text tower, kind phobert
    assert text_kind_of(str(out)) == "phobert"
    tower, hidden = build_text_encoder("phobert", EncoderSpec(source=str(out)))
    assert hidden == TINY_MLM["width"] and torch.equal(tower.embeddings.word_embeddings.weight,
                                                       model.roberta.embeddings.word_embeddings.weight)


def test_corpus_is_its_own_domain(corpus, tmp_path):
    """No families and identities of its own: none of the corpus's people is a benchmark identity,
    even with the benchmark's seed."""
    import json

    from glalign.data.synth import generate_domain

    bench = tmp_path / "A"
    generate_domain(bench, "A", n_ids=40, seed=7919, progress=False)
    people = lambda root: {json.dumps(a, sort_keys=True)
                           for a in json.loads((root / "annotations.json").read_text())["attributes"].values()}
    ours = json.loads((corpus / "annotations.json").read_text())
    assert len(set(ours["family"].values())) == len(ours["family"])  # every identity its own family
    assert not people(corpus) & people(bench)
