"""The real parser path (glalign.parsing.segformer), the pretraining corpus and SynthParser."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from glalign.errors import GlalignError
from glalign.parsing.masks import ATR_TO_PART, LIP_TO_PART
from glalign.parsing.segformer import label_lut, parse_dataset, parser_iou

# as the public checkpoints spell them (LIP-trained parsers; mattmdjaga/segformer_b2_clothes for ATR)
LIP = ["Background", "Hat", "Hair", "Glove", "Sunglasses", "UpperClothes", "Dress", "Coat", "Socks", "Pants",
       "Jumpsuits", "Scarf", "Skirt", "Face", "Left-arm", "Right-arm", "Left-leg", "Right-leg", "Left-shoe",
       "Right-shoe"]
ATR = ["Background", "Hat", "Hair", "Sunglasses", "Upper-clothes", "Skirt", "Pants", "Dress", "Belt", "Left-shoe",
       "Right-shoe", "Face", "Left-leg", "Right-leg", "Left-arm", "Right-arm", "Bag", "Scarf"]


def test_label_mapping_by_name():
    scheme, lut = label_lut({0: "background", 1: "HEAD", 2: "UpperBody", 3: "lower_body", 4: "shoes", 5: "Others"})
    assert scheme == "vitaa" and lut.tolist() == [0, 1, 2, 3, 4, 5]
    scheme, lut = label_lut(dict(enumerate(LIP)))
    assert scheme == "lip" and lut.tolist() == [LIP_TO_PART[i] for i in range(len(LIP))]
    scheme, lut = label_lut({str(i): n for i, n in enumerate(ATR)})  # JSON configs have string keys
    assert scheme == "atr" and lut.tolist() == [ATR_TO_PART[i] for i in range(len(ATR))]
    with pytest.raises(GlalignError, match=r"\[background, car, road\]"):
        label_lut({0: "background", 1: "car", 2: "road"})
    with pytest.raises(GlalignError, match="LABEL_1"):
        label_lut({0: "LABEL_0", 1: "LABEL_1"})  # a config that never named its labels


def _tiny_segformer(folder, labels):
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessorPil

    import torch
    torch.manual_seed(0)
    cfg = SegformerConfig(depths=[1, 1, 1, 1], hidden_sizes=[8, 8, 16, 16], num_attention_heads=[1, 1, 1, 1],
                          decoder_hidden_size=16, num_labels=len(labels), id2label=dict(enumerate(labels)),
                          label2id={n: i for i, n in enumerate(labels)})
    SegformerForSemanticSegmentation(cfg).save_pretrained(folder)
    SegformerImageProcessorPil(size={"height": 64, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_domain(tmp_path_factory):
    from glalign.data.synth import generate_domain

    root = tmp_path_factory.mktemp("parse") / "A"
    generate_domain(root, "A", n_ids=4, seed=5, progress=False)
    return root


def test_parse_dataset_writes_vitaa_masks_and_resumes(tiny_domain, tmp_path):
    from glalign.data.records import load_dataset

    parser = _tiny_segformer(tmp_path / "lip-parser", LIP)
    out = tmp_path / "masks"
    counts = parse_dataset(tiny_domain, str(parser), out=out, device="cpu", batch_size=4, progress=False)
    records = load_dataset(tiny_domain).records
    assert counts["parsed"] == len(records) and counts["skipped"] == 0 and counts["scheme"] == "lip"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == sorted(r.file_path for r in records)
    for r in records:
        mask = np.asarray(Image.open(out / r.file_path))
        assert mask.shape == np.asarray(Image.open(r.image)).shape[:2] and mask.max() <= 5
    # the masks load as the dataset's part maps
    assert all(r.mask is not None for r in load_dataset(tiny_domain, masks=str(out)).records)
    again = parse_dataset(tiny_domain, str(parser), out=out, device="cpu", progress=False)
    assert again["parsed"] == 0 and again["skipped"] == len(records)
    # another parser's masks are never mixed in
    (out / records[0].file_path).unlink()
    other = _tiny_segformer(tmp_path / "atr-parser", ATR)
    with pytest.raises(GlalignError, match="another parser"):
        parse_dataset(tiny_domain, str(other), out=out, device="cpu", progress=False)


def test_cli_parse_refuses_unknown_labels(tiny_domain, tmp_path):
    from glalign.cli import main

    parser = _tiny_segformer(tmp_path / "cars", ["background", "car", "road"])
    assert main(["data", "parse", str(tiny_domain), "--parser", str(parser), "--out", str(tmp_path / "m"),
                 "--quiet"]) == 2
    assert not (tmp_path / "m").exists()


def test_parser_iou_hand_computed(tmp_path):
    gt = np.array([[0, 1, 1], [2, 2, 0]], np.uint8)
    pred = np.array([[0, 1, 0], [2, 1, 0]], np.uint8)
    for root, arr in (("gt", gt), ("pred", pred)):
        (tmp_path / root / "1").mkdir(parents=True)
        Image.fromarray(arr).save(tmp_path / root / "1" / "a.png")
    table = parser_iou(tmp_path / "pred", tmp_path / "gt", [SimpleNamespace(file_path="1/a.png")], domain="A")
    iou = dict(zip(table["part"], table["iou"]))
    assert list(table.columns) == ["domain", "part", "iou"]
    assert iou["HEAD"] == pytest.approx(1 / 3) and iou["UPPERBODY"] == pytest.approx(1 / 2)
    assert np.isnan(iou["SHOES"]) and iou["mean"] == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_corpus_is_deterministic_without_families_and_apart_from_a(tmp_path):
    from glalign.data.records import load_dataset
    from glalign.data.synth import generate_domain
    from glalign.pretrain.corpus import make_corpus

    a = make_corpus(tmp_path / "c1", n_ids=30, seed=11, progress=False)
    b = make_corpus(tmp_path / "c2", n_ids=30, seed=11, progress=False)
    c = make_corpus(tmp_path / "c3", n_ids=30, seed=12, progress=False)
    assert (a / "reid_raw.json").read_bytes() == (b / "reid_raw.json").read_bytes()
    assert (a / "reid_raw.json").read_bytes() != (c / "reid_raw.json").read_bytes()
    ann = json.loads((a / "annotations.json").read_text())
    assert len(set(ann["family"].values())) == 30  # every identity its own family
    splits = [r.split for r in load_dataset(a, lang="en").records]
    assert 0 < splits.count("test") < splits.count("train")
    assert len(load_dataset(a, lang="vi").records) == len(splits)
    assert all((a / "parsing" / r.file_path).exists() for r in load_dataset(a, lang="en").records)
    dom_a = generate_domain(tmp_path / "A", "A", n_ids=30, seed=11, progress=False)
    attrs_a = json.loads((tmp_path / "A" / "annotations.json").read_text())["attributes"]
    assert dom_a["families"] < 30 and attrs_a["1"] != ann["attributes"]["1"]


def test_tiny_synthparser_beats_background_and_parses(tmp_path):
    from glalign.data.records import load_dataset
    from glalign.pretrain.corpus import make_corpus
    from glalign.pretrain.parser import ParserPretrainConfig, train_parser

    corpus = make_corpus(tmp_path / "corpus", n_ids=60, seed=3, progress=False)
    cfg = ParserPretrainConfig(epochs=10, batch_size=16, seed=1, height=64, width=32)
    out = train_parser(corpus, tmp_path / "sp", cfg=cfg, progress=False)
    saved = json.loads((out / "pretrain_config.json").read_text())
    held = saved["heldout"]
    assert held["pixel_acc"] > held["background_acc"] + 0.05 and held["miou"] > 0.1
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert train_parser(corpus, tmp_path / "sp", cfg=cfg, progress=False) == out  # cached
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    # run through exactly the user's command path: held-out images, ViTAA names, scored against the truth
    test = [r for r in load_dataset(corpus).records if r.split == "test"]
    parse_dataset(corpus, str(out), out=tmp_path / "pred", device="cpu", progress=False)
    table = parser_iou(tmp_path / "pred", corpus / "parsing", test)
    assert table.set_index("part").loc["mean", "iou"] > 0.1
