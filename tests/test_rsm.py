"""ROGLE building blocks: sentence splitting, RSM matching, local metrics, region-annotated data."""
import json

import numpy as np
import pytest
from PIL import Image

from glalign.errors import DataError
from glalign.local_protocol import grounding_accuracy, region_retrieval
from glalign.rsm import match, quality, split_sentences


def test_split_sentences_english_and_vietnamese():
    en = "This woman is facing the camera. She wears a red T-shirt and blue jeans! Is she carrying a bag?"
    assert split_sentences(en, "en") == ["This woman is facing the camera.",
                                         "She wears a red T-shirt and blue jeans!", "Is she carrying a bag?"]
    vi = "Một người phụ nữ tóc dài màu đen. Cô ấy mặc áo khoác đỏ, quần bò xanh. Cô ấy đang đi bộ trên phố!"
    assert split_sentences(vi, "vi") == ["Một người phụ nữ tóc dài màu đen.", "Cô ấy mặc áo khoác đỏ, quần bò xanh.",
                                         "Cô ấy đang đi bộ trên phố!"]


def test_match_known_assignment_and_threshold():
    regions = np.eye(4)  # region j is the unit vector e_j; region 2 is absent from the image
    present = [True, True, False, True]
    sentences = np.array([[1, 0, 0, 0],        # clearly region 0
                          [0.8, 0, 0, 0.6],    # prefers region 0 (0.8) but sentence 0 takes it -> region 3
                          [0, 1, 0, 0],        # clearly region 1
                          [0, 0, 1, 0]])       # describes the absent region: similar to no present one
    pairs = match(regions, present, sentences, min_margin=-1.0)
    # Hand optimum: 1.0 + 0.6 + 1.0 = 2.6 beats giving region 0 to sentence 1 (0.8 + 0 + 1.0).
    assert [(p.sentence, p.region) for p in pairs] == [(0, 0), (1, 3), (2, 1)]
    assert [round(p.reliability, 6) for p in pairs] == [1.0, -0.2, 1.0]  # 0.6 - 0.8 for the overridden one
    assert [(p.sentence, p.region) for p in match(regions, present, sentences, min_margin=0.0)] == [(0, 0), (2, 1)]
    # An ambiguous sentence (equally close to two regions) is unmatched at a positive threshold.
    ambiguous = np.array([[0, 1, 0, 1], [1, 0, 0, 0]])
    assert [(p.sentence, p.region) for p in match(regions, present, ambiguous, min_margin=0.1)] == [(1, 0)]
    assert len(match(regions, present, ambiguous, min_margin=-1.0)) == 2
    # Two units may share a region when per_region allows it.
    twice = np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0]])
    assert [p.region for p in match(regions, present, twice, min_margin=0.0, per_region=2)] == [0, 0]
    assert quality([("a", 0, 0, "HEAD"), ("a", 0, 1, "SHOES")], [("a", 0, 0, "HEAD"), ("a", 0, 2, "OTHERS"),
                                                                 ("a", 0, 3, "UPPERBODY")]) == (50.0, 100 / 3)


def test_local_metrics_against_hand_computation():
    gallery = np.array([[1, 0], [0, 1], [0.6, 0.8], [0.8, -0.6]])
    ids = [("img1", "HEAD"), ("img1", "SHOES"), ("img2", "HEAD"), ("img2", "SHOES")]
    queries = np.array([[1, 0], [0, 1], [0.8, 0.6]])
    targets = [("img1", "HEAD"), ("img2", "HEAD"), ("img1", "SHOES")]
    # Ranks by hand: q0 -> its region first; q1 -> img1/SHOES (1.0) before img2/HEAD (0.8): rank 2;
    # q2 -> img2/HEAD 0.96, img1/HEAD 0.8, img1/SHOES 0.6: rank 3.
    m = region_retrieval(queries, targets, gallery, ids)
    assert m["R1"] == pytest.approx(100 / 3) and m["R5"] == pytest.approx(100.0)
    assert m["mAP"] == pytest.approx(100 * (1 + 1 / 2 + 1 / 3) / 3)
    # Within the right image: q0 right (1 vs 0), q1 right (0.8 vs -0.6), q2 wrong (0.8 vs 0.6).
    acc = grounding_accuracy(queries, targets, gallery, ids, [i for i, _ in ids])
    assert acc == pytest.approx(200 / 3)
    with pytest.raises(ValueError, match="not a gallery region"):
        region_retrieval(queries, [("img3", "HEAD")] * 3, gallery, ids)


def test_chance_rank_metrics_match_random_orders():
    """The exact chance formulas against rank_metrics over many random orders."""
    from glalign.local_protocol import chance_rank_metrics
    from glalign.metrics import rank_metrics

    rng = np.random.default_rng(0)
    gallery = np.array([0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8])  # 12 items; class 0 has 3, class 1 has 2
    queries = np.array([0, 1, 2] * 4000)
    m = rank_metrics(rng.random((len(queries), len(gallery))), queries, gallery)
    n_rel = np.array([(gallery == q).sum() for q in queries])
    chance = chance_rank_metrics(n_rel, np.full(len(queries), len(gallery)))
    for k in ("R1", "R5", "R10", "mAP"):
        assert chance[k].mean() == pytest.approx(m[k], abs=1.0), k
    one = chance_rank_metrics([1], [4])
    assert one["R1"][0] == pytest.approx(25.0) and one["R5"][0] == pytest.approx(100.0)
    assert one["mAP"][0] == pytest.approx(100 * (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    with pytest.raises(ValueError, match="relevant"):
        chance_rank_metrics([0], [4])


def test_local_tests_by_hand():
    """Part-conditioned retrieval, grounding and foils on hand-made embeddings."""
    from glalign.local_protocol import local_tests, make_foils

    # regions: img a (pid 1) HEAD, SHOES; img b (pid 1) HEAD; img c (pid 2) HEAD
    region = np.array([[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0], [0, 0, 1.0]])
    regions = {"image": ["a", "a", "b", "c"], "part": ["HEAD", "SHOES", "HEAD", "HEAD"], "pid": [1, 1, 1, 2],
               "attributes": [("black",), ("red",), ("brown",), ("black",)]}
    words = [(("colour", "black", "black"),), (("colour", "red", "red"), ("type", "shoes", "shoes")),
             (("colour", "brown", "brown"),)]
    q = {"image": ["a", "a", "c"], "part": ["HEAD", "SHOES", "HEAD"], "pid": [1, 1, 2],
         "attributes": [("black",), ("red",), ("black",)], "words": list(words),
         "text": ["He has black hair.", "He wears red shoes.", "He has brown hair."]}
    # q0 close to a/HEAD; q1 to a/SHOES; q2 (about c/HEAD) is closest to a/HEAD, then b, then c
    sent = np.array([[1, 0, 0], [0, 1, 0], [1, 0.05, 0.2]])
    rows = local_tests(sent, q, region, regions, encode=lambda ts: np.array([[0, 0, 1.0]] * len(ts)),
                       keyword=lambda ts: ["HEAD", None, "SHOES"])
    get = {(r["test"], r["metric"], r["part"]): r for r in rows}
    ident = get["retrieval (identity)", "R1", "HEAD"]
    # HEAD gallery a, b, c: q0 (pid 1) top a -> hit; q2 (pid 2) order a, b, c -> rank 3
    assert ident["value"] == pytest.approx(50.0) and ident["n"] == 2
    assert ident["chance"] == pytest.approx((200 / 3 + 100 / 3) / 2)  # 2 of 3 relevant for q0, 1 of 3 for q2
    assert ident["text_only"] == ident["chance"]
    assert get["retrieval (identity)", "mAP", "HEAD"]["value"] == pytest.approx((100 + 100 / 3) / 2)
    attr = get["retrieval (attribute)", "R1", "HEAD"]  # q0 black: a (black) first -> hit; q2 black: a first -> hit
    assert attr["value"] == pytest.approx(100.0)
    assert get["retrieval (identity)", "R1", "SHOES"]["value"] == 100.0 and get["retrieval (identity)", "R1", "OTHERS"]["n"] == 0
    assert get["retrieval (identity)", "R1", "all"]["n"] == 3
    g = get["grounding", "accuracy", "all"]
    # q0 in image a: HEAD 1.0 vs SHOES 0 -> right; q1 right; q2 in image c: one region -> right
    assert g["value"] == pytest.approx(100.0) and g["chance"] == pytest.approx((0.5 + 0.5 + 1) / 3 * 100)
    # keyword: q0 HEAD (right), q1 none -> 1/2 of image a's two regions, q2 SHOES not in image c -> 1/1
    assert g["text_only"] == pytest.approx((1 + 0.5 + 1) / 3 * 100)
    colour = get["foil (colour)", "accuracy", "HEAD"]
    # every foil embeds as [0, 0, 1]: q0's region a [1, 0, 0] prefers the true sentence, q2's region c [0, 0, 1]
    # the foil; q1's region (SHOES) the true one
    assert colour["n"] == 2 and colour["chance"] == 50.0 and colour["value"] == pytest.approx(50.0)
    assert get["foil (colour)", "accuracy", "SHOES"]["value"] == 100.0
    foils = make_foils(q["text"], q["words"], q["part"], "colour", seed=0)
    assert all(f is not None and f[0] != t and f[1] in t and f[2] in f[0] for f, t in zip(foils, q["text"]))
    assert make_foils(q["text"], q["words"], q["part"], "type") == [None, None, None]  # one shoe word only
    # foil words are drawn as often as the data use them: "black" (2 uses) twice as often as "red" for "brown"
    many = [("He has brown hair.", (("colour", "brown", "brown"),))] * 3000
    used = (("colour", "black", "black"),) * 2 + (("colour", "red", "red"),)
    drawn = make_foils([t for t, _ in many] + ["black hair, black shoes, a red hat"], [w for _, w in many] + [used], ["HEAD"] * 3001, "colour")
    share = np.mean([f[2] == "black" for f in drawn[:3000]])
    assert share == pytest.approx(2 / 3, abs=0.03)
    assert get["foil (type)", "accuracy", "all"]["n"] == 0 and get["foil (type)", "accuracy", "all"]["value"] is None


def _write_fixture(root, entries):
    (root / "imgs" / "p1").mkdir(parents=True)
    for k in range(2):
        Image.new("RGB", (10, 20), (120, 30, 30)).save(root / "imgs" / "p1" / f"{k}.png")  # 20 high, 10 wide
    (root / "regions.json").write_text(json.dumps(entries), encoding="utf-8")


def _entry(k, regions, sentences):
    text = " ".join(s["text"] for s in sentences)
    return {"file_path": f"p1/{k}.png", "id": 1, "split": "test", "regions": regions,
            "long_captions": {"en": [{"text": text, "sentences": sentences}]}}


GOOD = [{"part": "HEAD", "box": [0, 2, 5, 8]}, {"part": "SHOES", "box": [17, 1, 20, 10]}]
SENTS = [{"text": "A man stands at a bus stop.", "part": None}, {"text": "He wears a black cap.", "part": "HEAD"},
         {"text": "His shoes are white.", "part": "SHOES"}]


def test_read_region_annotated_fixture(tmp_path):
    from glalign.data.regions import load_regions

    _write_fixture(tmp_path, [_entry(0, GOOD, SENTS), _entry(1, GOOD[:1], SENTS[:2])])
    recs = load_regions(tmp_path)
    assert [r.file_path for r in recs] == ["p1/0.png", "p1/1.png"]
    assert recs[0].size == (20, 10) and recs[0].regions == {"HEAD": (0, 2, 5, 8), "SHOES": (17, 1, 20, 10)}
    assert recs[1].present == [True, False, False, False, False]
    cap = recs[0].long_captions["en"][0]
    assert [s.part for s in cap.sentences] == [None, "HEAD", "SHOES"]
    assert cap.text[cap.sentences[2].start:cap.sentences[2].end] == "His shoes are white."


@pytest.mark.parametrize("regions,sentences,message", [
    ([{"part": "HEAD", "box": [0, 2, 5, 8]}, {"part": "SHOES", "box": [17, 1, 21, 10]}], SENTS, "outside the image"),
    ([{"part": "HAT", "box": [0, 2, 5, 8]}], SENTS[:1], "unknown part 'HAT'"),
    (GOOD[:1], SENTS, "part SHOES is not among the image's regions"),
])
def test_bad_region_entry_is_named(tmp_path, regions, sentences, message):
    from glalign.data.regions import load_regions

    _write_fixture(tmp_path, [_entry(0, GOOD, SENTS), _entry(1, regions, sentences)])
    with pytest.raises(DataError, match=message) as err:
        load_regions(tmp_path)
    assert "regions.json#1" in str(err.value)


@pytest.fixture(scope="module")
def longform_domain(tmp_path_factory):
    from glalign.data.synth import generate_domain
    from glalign.data.synth_longform import add_longform

    root = tmp_path_factory.mktemp("longform") / "B"
    generate_domain(root, "B", n_ids=6, seed=5, progress=False)
    add_longform(root, seed=1)
    return root


def test_add_longform_captions_cover_regions(longform_domain, tmp_path):
    from glalign.data.regions import load_regions
    from glalign.data.synth_longform import MAX_WORDS, MIN_WORDS, add_longform

    path, marker = longform_domain / "regions.json", longform_domain / "regions.synth.json"
    first, stamp = path.read_bytes(), path.stat().st_mtime_ns
    add_longform(longform_domain, seed=1)  # the marker matches: a no-op
    assert path.stat().st_mtime_ns == stamp
    marker.unlink()  # no marker (e.g. killed before it was written): written again, the same bytes
    add_longform(longform_domain, seed=1)
    assert path.read_bytes() == first and marker.exists()
    add_longform(longform_domain, seed=2)  # other settings: other text, then back
    assert path.read_bytes() != first
    add_longform(longform_domain, seed=1)
    assert path.read_bytes() == first
    recs = load_regions(longform_domain)
    assert len(recs) == len(json.loads((longform_domain / "reid_raw.json").read_text()))
    for r in recs:
        for lang in ("en", "vi"):
            for cap in r.long_captions[lang]:
                assert MIN_WORDS - 5 <= len(cap.text.split()) <= MAX_WORDS, cap.text
                parts = {s.part for s in cap.sentences}
                assert set(r.regions) <= parts, (r.file_path, lang, cap.text)
                assert None in parts  # pose / action / setting sentences too
    vi = " ".join(c.text for r in recs for c in r.long_captions["vi"])
    assert "áo" in vi and "quần" in vi  # Vietnamese garment nouns, modifiers after them


def _tiny_clip(out, texts):
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from glalign.text.tokenizers import train_tokenizer

    torch.manual_seed(0)
    tok = train_tokenizer(texts, "clip", vocab_size=300)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    cfg = CLIPConfig(text_config=dict(small, vocab_size=len(tok), max_position_embeddings=64,
                                      pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                      eos_token_id=tok.eos_token_id),
                     vision_config=dict(small, image_size=32, patch_size=8), projection_dim=16)
    CLIPModel(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def test_mine_writes_pairs_and_scores_them(longform_domain, tmp_path, run_cli):
    from glalign.rsm import mine

    texts = [c["text"] for e in json.loads((longform_domain / "regions.json").read_text()) for lang in ("en", "vi")
             for c in e["long_captions"][lang]]
    model = _tiny_clip(tmp_path / "clip", texts)
    s = mine(longform_domain, model, "vi", "short", min_margin=-2.0, region_mode="pool", progress=False)
    assert s["rsm"]["truth"] > 0 and 0 <= s["rsm"]["precision"] <= 100
    assert s["lexicon"]["precision"] > 80  # SynthPEDES nouns are in the lexicon
    saved = json.loads((longform_domain / "rsm_pairs.vi.short.json").read_text())
    assert len(saved["pairs"]) == s["pairs"] > 0 and saved["unit"] == "noun phrase"
    proc = run_cli("rsm", "mine", "--data", longform_domain, "--model", model, "--lang", "en", "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    pairs = json.loads((longform_domain / "rsm_pairs.en.long.json").read_text())["pairs"]
    assert out["pairs"] == len(pairs) and all(p["reliability"] >= 0.05 for p in pairs)
    assert all(p["box"] is not None and p["part"] in ("HEAD", "UPPERBODY", "LOWERBODY", "SHOES", "OTHERS")
               for p in pairs)
    from glalign.data.regions import load_regions
    from glalign.local_protocol import evaluate_local

    local = evaluate_local(longform_domain, model, "en", split="test")
    test = [r for r in load_regions(longform_domain) if r.split == "test"]
    assert local["regions"] == sum(len(r.regions) for r in test)
    assert local["queries"] == sum(s.part is not None for r in test for c in r.long_captions["en"] for s in c.sentences)
    assert 0 <= local["R1"] <= local["R5"] <= 100 and 0 <= local["grounding"] <= 100
    bad = run_cli("rsm", "mine", "--data", tmp_path / "nowhere", "--model", model)
    assert bad.returncode == 2 and "regions.json" in bad.stderr


def test_train_with_mined_supervision(longform_domain, tmp_path):
    """--local-supervision rsm: the local loss runs over the long captions' mined region-sentence
    pairs, each weighed by its reliability."""
    import pandas as pd

    from glalign.config import TrainConfig
    from glalign.errors import GlalignError
    from glalign.rsm import mine
    from glalign.train import load_training_records, train

    cfg = TrainConfig.for_profile("tiny", data=[str(longform_domain)], lang="en", out=str(tmp_path / "run"),
                                  epochs=1, batch_size=8, local_supervision="rsm", device="cpu")
    (longform_domain / "rsm_pairs.en.long.json").unlink(missing_ok=True)
    with pytest.raises(GlalignError, match="mine them first"):
        load_training_records(cfg)
    texts = [c["text"] for e in json.loads((longform_domain / "regions.json").read_text()) for c in e["long_captions"]["en"]]
    model = _tiny_clip(tmp_path / "clip", texts)
    mine(longform_domain, model, "en", "short", min_margin=0.0, region_mode="pool", progress=False)
    with pytest.raises(GlalignError, match="mine them first"):  # short-caption pairs are not what it trains on
        load_training_records(cfg)
    mine(longform_domain, model, "en", "long", min_margin=0.0, region_mode="pool", progress=False, split="train")
    records, phrases, weights = load_training_records(cfg)
    pairs = json.loads((longform_domain / "rsm_pairs.en.long.json").read_text())["pairs"]
    assert weights and all(w >= 0.0 for d in weights.values() for w in d.values())
    from glalign.data.torchdata import pair_key

    train_images = {r.file_path: r for r in records}
    assert pairs and {p["file_path"] for p in pairs} <= set(train_images)  # mined on the train split
    for p in pairs:  # every mined pair reaches its image's caption of the same index, whole
        assert phrases[pair_key(train_images[p["file_path"]], p["caption"])][p["part"]] == p["text"]
    run = train(cfg, progress=False)
    assert pd.read_csv(run / "history.csv").local_loss.notna().all()


def test_mined_pairs_reach_the_training_batches_with_their_weights(longform_domain, tmp_path):
    """The collated batch of an RSM run holds the mined sentence of each region slot, tokenised,
    and its reliability as the slot's weight; slots with no mined pair are absent, weight 0."""
    from glalign import PARTS
    from glalign.config import TrainConfig
    from glalign.data.torchdata import ImageStore, PairDataset, make_collate
    from glalign.rsm import mine
    from glalign.text.tokenizers import train_tokenizer
    from glalign.train import load_training_records

    texts = [c["text"] for e in json.loads((longform_domain / "regions.json").read_text()) for c in e["long_captions"]["en"]]
    model = _tiny_clip(tmp_path / "clip", texts)
    mine(longform_domain, model, "en", "long", min_margin=0.0, region_mode="pool", progress=False, split="train")
    cfg = TrainConfig.for_profile("tiny", data=[str(longform_domain)], lang="en", out=str(tmp_path / "run"),
                                  local_supervision="rsm", device="cpu")
    records, phrases, weights = load_training_records(cfg)
    labels = {pid: i for i, pid in enumerate(sorted({r.pid for r in records}))}
    dataset = PairDataset(records, ImageStore(32, (4, 4)), phrases, labels, "pool", flip=False,
                          phrase_weights=weights)
    tok = train_tokenizer(texts, "clip", vocab_size=400)
    items = [dataset[i] for i in range(len(dataset))]
    batch = make_collate(tok, 64)(items)
    pairs = json.loads((longform_domain / "rsm_pairs.en.long.json").read_text())["pairs"]
    by_slot = {(p["file_path"], p["caption"], p["part"]): p for p in pairs}
    assert by_slot
    seen = 0
    for row, (ri, ci) in enumerate(dataset.items):
        rec = records[ri]
        for j, part in enumerate(PARTS):
            p = by_slot.get((rec.file_path, ci, part))
            assert bool(batch["phrase_present"][row, j]) == (p is not None)
            assert float(batch["phrase_weight"][row, j]) == pytest.approx(p["reliability"] if p else 0.0)
            if p is not None:
                slot = [k for k, (r, q) in enumerate(batch["phrase_slots"].tolist()) if (r, q) == (row, j)]
                ids = batch["phrase_ids"][slot[0]][batch["phrase_mask"][slot[0]].bool()]
                assert ids.tolist() == tok(p["text"], truncation=True, max_length=64)["input_ids"]
                seen += 1
    assert seen == len(pairs)  # every mined pair of the train split, once


def test_rsm_training_data_uses_no_keyword_list(longform_domain, tmp_path, monkeypatch):
    """The RSM arm's training records are built with the lexicon and the noun-phrase extractor
    made to fail: no phrase or part assignment comes from a keyword list. Its phrases are
    exactly the mined sentences, each at the part RSM assigned, and the lexicon arm, with the
    same patch, fails (the patch bites)."""
    from glalign.config import TrainConfig
    from glalign.rsm import mine
    from glalign.text import lexicon, phrases as phrases_module
    from glalign.train import load_training_records

    texts = [c["text"] for e in json.loads((longform_domain / "regions.json").read_text()) for c in e["long_captions"]["en"]]
    mine(longform_domain, _tiny_clip(tmp_path / "clip", texts), "en", "long", min_margin=0.0, region_mode="pool",
         progress=False, split="train", baseline=False)

    def refuse(*args, **kwargs):
        raise AssertionError("the keyword lexicon was read")

    for module, name in ((lexicon, "part_of"), (lexicon, "raw_lexicon"), (phrases_module, "extract"),
                         (phrases_module, "cached_extract"), (phrases_module, "part_phrases")):
        monkeypatch.setattr(module, name, refuse)
    lexicon_cfg = TrainConfig.for_profile("tiny", data=[str(longform_domain)], lang="en", out="", device="cpu")
    with pytest.raises(AssertionError, match="lexicon was read"):
        load_training_records(lexicon_cfg)
    rsm_cfg = TrainConfig.for_profile("tiny", data=[str(longform_domain)], lang="en", out="", device="cpu",
                                      local_supervision="rsm")
    records, phrases, weights = load_training_records(rsm_cfg)
    pairs = json.loads((longform_domain / "rsm_pairs.en.long.json").read_text())["pairs"]
    mined = {(p["file_path"], p["caption"], p["part"], p["text"]) for p in pairs}
    path_of = {str(r.image): r.file_path for r in records}  # pair_key names the image file
    got = {(path_of[image], caption, part, text) for (image, caption), d in phrases.items() for part, text in d.items()}
    assert mined and got == mined and set(weights) == set(phrases)


def test_rsm_run_scores_queries_without_the_lexicon(longform_domain, tmp_path, monkeypatch):
    """An RSM run routes query sentences to regions by its own similarity (best-region): with the
    lexicon and the noun-phrase extractor made to fail, it evaluates short and long queries, and
    its local score is, by hand, the mean over a query's sentences of the best present region."""
    import torch

    from glalign import PARTS
    from glalign.config import TrainConfig
    from glalign.evaluate import evaluate_run, query_units
    from glalign.model.factory import load_run
    from glalign.rsm import mine
    from glalign.text import lexicon, phrases as phrases_module
    from glalign.train import train

    texts = [c["text"] for e in json.loads((longform_domain / "regions.json").read_text()) for c in e["long_captions"]["en"]]
    mine(longform_domain, _tiny_clip(tmp_path / "clip", texts), "en", "long", min_margin=0.0, region_mode="pool",
         progress=False, split="train")
    cfg = TrainConfig.for_profile("tiny", data=[str(longform_domain)], lang="en", out=str(tmp_path / "rsm"),
                                  epochs=1, batch_size=8, local_supervision="rsm", device="cpu")
    run = train(cfg, progress=False)
    lex = train(TrainConfig.for_profile("tiny", data=[str(longform_domain)], lang="en", out=str(tmp_path / "lex"),
                                        epochs=1, batch_size=8, device="cpu"), progress=False)
    assert load_run(run)[2].phrase_routing == "best-region" and load_run(lex)[2].phrase_routing == "lexicon"

    def refuse(*args, **kwargs):
        raise AssertionError("the keyword lexicon was read")

    for module, name in ((lexicon, "part_of"), (lexicon, "raw_lexicon"), (phrases_module, "extract"),
                         (phrases_module, "cached_extract"), (phrases_module, "part_phrases")):
        monkeypatch.setattr(module, name, refuse)
    with pytest.raises(AssertionError, match="lexicon was read"):  # the patch bites the lexicon arm
        evaluate_run(lex, longform_domain, progress=False)
    for queries in ("short", "long"):
        res = evaluate_run(run, longform_domain, progress=False, queries=queries)
        units, owner = query_units(res.per_query.caption.tolist(), "en")
        assert (res.per_query.n_parts == 0).all() and res.per_query.n_units.tolist() == np.bincount(owner).tolist()
        assert 0 <= res.metrics["R1"] <= 100
    # the local score by hand for one long query and every gallery image
    model, tok, config = load_run(run)
    from glalign.data.records import load_dataset
    from glalign.data.torchdata import collate_images, image_item
    from glalign.model.factory import image_store_for

    records = load_dataset(longform_domain, check_images=False).split("test")
    store = image_store_for(model)
    q = 1
    sentences = [units[i] for i in np.flatnonzero(owner == q)]
    with torch.no_grad():
        tokens = tok(sentences, padding=True, truncation=True, max_length=config.max_length, return_tensors="pt")
        u = model.encode_phrase_text(tokens["input_ids"], tokens["attention_mask"])
        for j, r in enumerate(records):
            b = collate_images([image_item(store, r, False, config.region_mode)])
            _, reg = model.encode_image(b["pixels"], b.get("weights"), b.get("crops"), b["present"])
            present = [p for p in range(len(PARTS)) if b["present"][0, p]]
            want = np.mean([max(float(x @ reg[0, p]) for p in present) for x in u]) if present else 0.0
            assert res.local_sim[q, j] == pytest.approx(want, abs=1e-4)
    # the alternative compared on validation (NOTES): each unit routed once to its nearest part prototype,
    # also with no keyword list; by hand for the same query: mean unit per routed part, scored per present part
    from glalign.data.regions import with_long_captions
    from glalign.evaluate import evaluate, part_prototypes

    config.phrase_routing = "part-prototype"
    long_records = with_long_captions(records, longform_domain, "en")
    proto = evaluate(model, tok, config, long_records, "en", progress=False)
    assert proto.global_sim == pytest.approx(res.global_sim) and not np.allclose(proto.local_sim, res.local_sim)
    from glalign.evaluate import encode_gallery

    gallery = encode_gallery(model, long_records, store, config.region_mode, progress=False)
    protos, has = part_prototypes(gallery)
    routed = (u @ protos.t()).masked_fill(~has[None], -torch.inf).argmax(1)
    for j in range(len(long_records)):
        scores = [float(torch.nn.functional.normalize(u[routed == p].sum(0), dim=0) @ gallery.regions[j, p])
                  * float(gallery.present[j, p]) for p in routed.unique().tolist()]
        assert proto.local_sim[q, j] == pytest.approx(np.mean(scores), abs=1e-4)


def test_weighted_local_loss_ignores_zero_weight_pairs():
    import torch

    from glalign.model.losses import symmetric_ce

    torch.manual_seed(0)
    a, b = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1), torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    scale = torch.tensor(10.0)
    assert symmetric_ce(a, b, scale, weights=torch.ones(3)) == pytest.approx(float(symmetric_ce(a, b, scale)))
    w = torch.tensor([1.0, 1.0, 0.0])  # the third pair still acts as a negative, but adds no term of its own
    full = symmetric_ce(a, b, scale, weights=w)
    logits = scale * a @ b.t()
    by_hand = (-(torch.log_softmax(logits, 1).diag()[:2]).sum() - torch.log_softmax(logits.t(), 1).diag()[:2].sum()) / 4
    assert float(full) == pytest.approx(float(by_hand), rel=1e-5)


def test_evaluate_protocols_and_long_queries(longform_domain, tmp_path, run_cli):
    from glalign.config import TrainConfig
    from glalign.train import train

    run = train(TrainConfig.for_profile("tiny", data=[str(longform_domain)], lang="en", out=str(tmp_path / "r"),
                                        epochs=1, batch_size=8, device="cpu"), progress=False)
    local = run_cli("evaluate", "--run", run, "--data", longform_domain, "--protocol", "local", "--json")
    assert local.returncode == 0, local.stderr
    out = json.loads(local.stdout)
    assert {"R1", "R5", "R10", "mAP", "grounding", "queries", "regions", "absent", "unscored", "rows"} == set(out)
    assert 0 <= out["R1"] <= out["R5"] <= out["R10"] <= 100 and out["queries"] > 0
    from glalign.local_protocol import ROW_COLUMNS, TESTS

    assert {r["test"] for r in out["rows"]} == set(TESTS) and all(set(r) == set(ROW_COLUMNS) for r in out["rows"])
    for r in out["rows"]:  # chance and the text-only baseline beside every scored metric
        assert (r["value"] is None) == (r["chance"] is None) == (r["text_only"] is None) == (r["n"] == 0), r
    foil = [r for r in out["rows"] if r["test"].startswith("foil") and r["part"] == "all"]
    assert all(r["n"] > 0 and r["chance"] == 50.0 for r in foil)  # the long captions carry their attribute words
    ground = next(r for r in out["rows"] if r["test"] == "grounding" and r["part"] == "all")
    assert ground["text_only"] > 90  # SynthPEDES sentences name their part's keyword: text alone grounds them
    table = run_cli("evaluate", "--run", run, "--data", longform_domain, "--protocol", "local")
    assert table.returncode == 0 and "foil (colour)" in table.stdout and "absent regions by part" in table.stdout
    short = json.loads(run_cli("evaluate", "--run", run, "--data", longform_domain, "--json").stdout)
    long = run_cli("evaluate", "--run", run, "--data", longform_domain, "--queries", "long", "--json")
    assert long.returncode == 0, long.stderr
    # two long captions per image as two short ones: the same number of queries, other texts
    assert json.loads(long.stdout)["n_queries"] == short["n_queries"]


def test_empty_masks_are_absent_regions(longform_domain, tmp_path):
    """A part whose mask is empty is absent: never ranked, counted per part, its queries unscored."""
    import shutil

    from glalign.data.regions import load_regions
    from glalign.local_protocol import evaluate_local
    from glalign.parsing.masks import load_label_map

    texts = [c["text"] for e in json.loads((longform_domain / "regions.json").read_text()) for c in e["long_captions"]["en"]]
    model = _tiny_clip(tmp_path / "clip", texts)
    emptied = longform_domain / "no-shoes"
    shutil.rmtree(emptied, ignore_errors=True)
    shutil.copytree(longform_domain / "parsing", emptied)
    shoes = 1 + 3  # SHOES' label id
    for png in emptied.rglob("*.png"):
        label = load_label_map(png)
        label[label == shoes] = 0
        Image.fromarray(label).save(png)
    test = [r for r in load_regions(longform_domain) if r.split == "test"]
    with_shoes = sum("SHOES" in r.regions for r in test)
    shoe_sentences = sum(s.part == "SHOES" for r in test for c in r.long_captions["en"] for s in c.sentences)
    base = evaluate_local(longform_domain, model, "en", region_mode="pool")
    out = evaluate_local(longform_domain, model, "en", region_mode="pool", masks="no-shoes")
    assert with_shoes > 0 and out["absent"]["SHOES"] == with_shoes and base["absent"]["SHOES"] == 0
    assert out["regions"] == base["regions"] - with_shoes and out["unscored"]["SHOES"] == shoe_sentences > 0
    assert out["queries"] == base["queries"] - shoe_sentences
    assert all(r["n"] == 0 and r["value"] is None for r in out["rows"] if r["part"] == "SHOES")
    shutil.rmtree(emptied)


def test_region_attributes_and_sentence_words_are_read_and_checked(tmp_path):
    from glalign.data.regions import load_regions

    regions = [{"part": "HEAD", "box": [0, 2, 5, 8], "attributes": {"hat": "black hat"}},
               {"part": "SHOES", "box": [17, 1, 20, 10]}]
    sents = [dict(SENTS[1], words=[{"kind": "colour", "word": "black", "value": "black"},
                                   {"kind": "type", "word": "cap", "value": "hat"}])]
    _write_fixture(tmp_path, [_entry(0, regions, sents)])
    rec = load_regions(tmp_path)[0]
    assert rec.attributes == {"HEAD": {"hat": "black hat"}}
    assert rec.long_captions["en"][0].sentences[0].words == (("colour", "black", "black"), ("type", "cap", "hat"))
    bad = [dict(SENTS[1], words=[{"kind": "colour", "word": "bla", "value": "black"}])]  # not a whole word of it
    (tmp_path / "regions.json").write_text(json.dumps([_entry(0, regions, bad)]))
    with pytest.raises(DataError, match=r"regions.json#0 en caption 0 sentence 0 word 0: 'bla' does not occur"):
        load_regions(tmp_path)


def test_global_tower_embeds_like_the_runs_global_branch(longform_domain, tmp_path):
    """tower='global': a GLAlign run's global heads (what a global-only run trained), as used to mine
    Vietnamese pairs; only with a run, and only with cropped regions."""
    import torch

    from glalign.config import TrainConfig
    from glalign.errors import GlalignError
    from glalign.rsm import Embedder
    from glalign.train import train

    run = train(TrainConfig.for_profile("tiny", data=[str(longform_domain)], lang="vi", out=str(tmp_path / "r"),
                                        epochs=1, batch_size=8, alpha=1.0, device="cpu"), progress=False)
    glob, loc = Embedder(run, tower="global"), Embedder(run)
    texts = ["Cô ấy mặc áo khoác đỏ.", "quần bò xanh"]
    tok = glob.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        want = glob.model.encode_text(tok["input_ids"], tok["attention_mask"])
    assert torch.allclose(glob.texts(texts), want, atol=1e-5)
    assert not torch.allclose(glob.texts(texts), loc.texts(texts), atol=1e-3)  # the other branch's heads
    crop = np.zeros((20, 10, 3), np.uint8)
    assert glob.images([crop]).shape == loc.images([crop]).shape
    with pytest.raises(GlalignError, match="region_mode 'crop'"):
        glob.pooled([crop], np.ones((1, 5, glob.grid[0] * glob.grid[1])))
    clip = _tiny_clip(tmp_path / "clip", texts)
    with pytest.raises(GlalignError, match="a CLIP folder has one space only"):
        Embedder(clip, tower="global")


def test_local_protocol_with_short_queries_and_an_id_subset(longform_domain, tmp_path):
    from glalign.data.regions import load_regions
    from glalign.local_protocol import evaluate_local
    from glalign.rsm import caption_units as _units

    texts = [c for e in json.loads((longform_domain / "reid_raw.json").read_text()) for c in e["captions"]]
    model = _tiny_clip(tmp_path / "clip", texts)
    test = [r for r in load_regions(longform_domain) if r.split == "test"]
    units = _units(longform_domain, test, "vi", "short")
    out = evaluate_local(longform_domain, model, "vi", queries="short", region_mode="pool")
    assert out["queries"] == sum(u.truth in r.regions for r in test for u in units[r.file_path]) > 0
    one = test[0].pid
    sub = evaluate_local(longform_domain, model, "vi", queries="short", ids=[one])
    assert sub["regions"] == sum(len(r.regions) for r in test if r.pid == one) < out["regions"]
    from glalign.errors import GlalignError

    with pytest.raises(GlalignError, match="choose short or long"):
        evaluate_local(longform_domain, model, "vi", queries="medium")


@pytest.fixture
def micro_workspace(tmp_path, monkeypatch):
    """A Workspace on a micro profile (6 identities per domain) whose 'SynthCLIP' is a tiny CLIP."""
    from glalign import scenarios

    monkeypatch.setitem(scenarios.PROFILES, "micro", {"A_ids": 6, "B_ids": 6, "train_profile": "tiny",
                                                      "finetune_profile": "tiny-finetune", "seed": 0,
                                                      "corpus_ids": 4})
    ws = scenarios.Workspace("micro", tmp_path / "ws")
    clip = _tiny_clip(tmp_path / "clip", ["a man in a red jacket", "black shoes", "a woman with long hair"])
    monkeypatch.setattr(ws, "pretrained", lambda kind: clip if kind == "clip" else pytest.fail(kind))
    return ws


def test_workspace_longform_and_mined_pairs_are_cached(micro_workspace):
    from glalign.data.regions import load_regions
    from glalign.scenarios import RSM_SETTINGS

    ws = micro_workspace
    root = ws.longform("A")
    stamp = (root / "regions.json").stat().st_mtime_ns
    assert ws.longform("A") == root and (root / "regions.json").stat().st_mtime_ns == stamp
    assert len(load_regions(root)) == len(json.loads((root / "reid_raw.json").read_text()))
    pairs = ws.rsm_pairs("A", "en")
    saved = json.loads(pairs.read_text())
    assert saved["captions"] == "long" and saved["tower"] == "local" and saved["min_margin"] == RSM_SETTINGS["min_margin"]
    assert saved["unit"] == "sentence" and "lexicon" not in saved  # mined with no keyword list, not even as a baseline
    train = {r.file_path for r in load_regions(root) if r.split == "train"}
    assert saved["split"] == "train" and {p["file_path"] for p in saved["pairs"]} <= train  # what training reads
    stamp = pairs.stat().st_mtime_ns
    assert ws.rsm_pairs("A", "en").stat().st_mtime_ns == stamp  # same model, same settings: not mined again
    pairs.write_text(json.dumps({**saved, "fingerprint": "another model"}))
    ws.rsm_pairs("A", "en")
    assert json.loads(pairs.read_text())["fingerprint"] == saved["fingerprint"]  # mined again


def test_workspace_rsm_run_is_its_own_cached_run(micro_workspace):
    ws = micro_workspace
    rsm = ws.run(("A",), "en", 0.5, "rsm", init="scratch")
    lexicon = ws.run(("A",), "en", 0.5, init="scratch")
    assert rsm != lexicon and "rsm" in rsm.name
    assert json.loads((rsm / "train_config.json").read_text())["data"]["local_supervision"] == "rsm"
    assert json.loads((lexicon / "train_config.json").read_text())["data"]["local_supervision"] == "lexicon"
    assert ws.run(("A",), "en", 0.5, "rsm", init="scratch") == rsm  # cached
    pairs = ws.longform("A") / "rsm_pairs.en.long.json"
    saved = json.loads(pairs.read_text())
    assert len(saved["pairs"]) > 1
    pairs.write_text(json.dumps({**saved, "pairs": saved["pairs"][1:]}))  # other pairs, same model and settings
    assert ws.run(("A",), "en", 0.5, "rsm", init="scratch") != rsm  # a new run for the other pairs
    with pytest.raises(ValueError, match="unknown local supervision"):
        ws.run(("A",), "en", 0.5, "keywords")
    sc = ws.evaluate("SE1", local_supervision="rsm", queries="long", init="scratch")
    assert sc.n_queries > 0
    local = ws.evaluate_local("SE1", local_supervision="rsm", queries="long", init="scratch")
    assert 0 <= local["R1"] <= local["R10"] <= 100 and 0 <= local["grounding"] <= 100


def test_long_texts_are_read_whole_by_sentence_chunks(tmp_path):
    """A text over the context is packed into sentence chunks that each fit, every word kept, and
    pooled; a text that fits is encoded as before; only a sentence longer than the context warns."""
    import warnings

    import torch
    import torch.nn.functional as F

    from glalign.text.longtext import chunk_texts, encode_whole
    from glalign.text.tokenizers import train_tokenizer

    sentences = ["She has long black hair.", "She is wearing a red jacket on top.", "Below the waist she wears blue jeans.",
                 "On her feet she wears white sneakers.", "The woman is walking near a bus stop."]
    tok = train_tokenizer(sentences * 3, "clip", vocab_size=300)
    long, short = " ".join(sentences), sentences[0]
    n_tokens = len(tok(long)["input_ids"])
    max_length = 20
    assert n_tokens > max_length  # would be cut
    chunks, owner, cut = chunk_texts([short, long], tok, max_length)
    assert chunks[0] == short and list(owner) == [0] + [1] * (len(chunks) - 1) and len(chunks) > 2 and cut == 0
    assert " ".join(chunks[1:]) == long  # every word, in order
    assert all(len(tok(c)["input_ids"]) <= max_length for c in chunks)
    torch.manual_seed(0)
    table = torch.randn(len(tok), 8)

    def encode(ids, mask):  # a bag of tokens: what is cut changes the embedding
        return F.normalize((table[ids] * mask[..., None]).sum(1), dim=-1)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is cut: no warning
        emb = encode_whole([short, long], tok, max_length, encode)
    one = tok([short], return_tensors="pt")
    assert torch.allclose(emb[0], encode(one["input_ids"], one["attention_mask"])[0], atol=1e-6)
    parts = tok(chunks[1:], padding=True, return_tensors="pt")
    want = F.normalize(encode(parts["input_ids"], parts["attention_mask"]).mean(0), dim=-1)
    assert torch.allclose(emb[1], want, atol=1e-5)
    cut_once = tok([long], truncation=True, max_length=max_length, return_tensors="pt")
    assert not torch.allclose(emb[1], encode(cut_once["input_ids"], cut_once["attention_mask"])[0], atol=1e-3)
    over = sum(len(tok(s)["input_ids"]) > 8 for s in sentences)
    assert 0 < over < len(sentences)
    with pytest.warns(UserWarning, match=rf"{over} text sentence\(s\) are longer than the text tower's 8 tokens"):
        encode_whole([long], tok, 8, encode)
