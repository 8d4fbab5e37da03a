"""The pretrained stand-ins shipped in glalign/pretrained/: their manifest, their loading as the
real models load, the recipe's determinism, and that fine-tuning really starts from them."""
import json
import shutil

import pytest
import torch

from glalign.errors import GlalignError
from glalign.pretrain.ship import KINDS, MANIFEST, SHIPPED, folder_digests, ship, verify_manifest


@pytest.fixture(scope="module")
def tiny_shipped(tmp_path_factory):
    """The recipe at test size, made twice in different folders (so paths cannot leak into bytes)."""
    root = tmp_path_factory.mktemp("ship")
    outs = [ship(root / f"out{i}", recipe="tiny", corpus=root / f"corpus{i}", progress=False) for i in (1, 2)]
    return outs


def test_shipped_files_match_their_manifest():
    folders = verify_manifest()
    assert set(folders) == set(KINDS.values())
    manifest = json.loads((SHIPPED / MANIFEST).read_text())
    assert manifest["command"].startswith("glalign pretrain shipped")
    assert manifest["corpus"]["ids"] >= 3000 and len(manifest["corpus"]["fingerprint"]) == 40
    # far beyond the old in-workspace budget (218 s of SynthCLIP on 1,000 identities)
    assert manifest["models"]["synthclip"]["settings"]["epochs"] >= 15
    size = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    assert size < 40 * 2**20, f"shipped folders are {size / 2**20:.1f} MB (limit 40)"


def test_shipped_folders_name_no_path_of_the_machine_that_made_them():
    for folder in verify_manifest().values():
        saved = json.loads((folder / "pretrain_config.json").read_text())
        assert saved["corpus"] == "corpus"
        for f in folder.iterdir():
            if f.suffix in (".json", ".csv", ".txt"):
                text = f.read_text(encoding="utf-8")
                assert "/work/" not in text and "/tmp/" not in text and "/root/" not in text, f


def test_shipped_held_out_metrics_levelled_off():
    """Each stand-in is trained until its held-out metric stops climbing: the last quarter of the
    epochs adds little over the best before it."""
    import pandas as pd

    folders = verify_manifest()
    for name, col, tol in (("synthclip", "heldout_R1", 3.0), ("synthphobert", "heldout_masked_acc", 1.0),
                           ("synthparser", "heldout_miou", 0.02)):
        hist = pd.read_csv(folders[name] / "history.csv")
        q = max(1, len(hist) // 4)
        assert hist[col].iloc[-q:].max() - hist[col].iloc[:-q].max() < tol, (name, hist[col].tolist())


def test_shipped_folders_load_as_the_real_models_do():
    from transformers import (AutoTokenizer, CLIPModel, RobertaForMaskedLM, SegformerForSemanticSegmentation)

    folders = verify_manifest()
    clip = CLIPModel.from_pretrained(str(folders["synthclip"]), local_files_only=True)
    tok = AutoTokenizer.from_pretrained(str(folders["synthclip"]))
    assert clip.config.projection_dim > 0 and len(tok) == clip.config.text_config.vocab_size
    mlm = RobertaForMaskedLM.from_pretrained(str(folders["synthphobert"]), local_files_only=True)
    assert mlm.config.model_type == "roberta"
    parser = SegformerForSemanticSegmentation.from_pretrained(str(folders["synthparser"]), local_files_only=True)
    assert parser.config.num_labels == 6


def test_fine_tuning_starts_from_every_shipped_weight():
    """No silent re-initialisation: towers, projection heads and the logit scale of the fine-tuned
    model at step 0 are SynthCLIP's / SynthPhoBERT's own."""
    from transformers import CLIPModel, RobertaForMaskedLM

    from glalign.config import TrainConfig
    from glalign.model.factory import build_model, resolve_text_kind
    from glalign.text.tokenizers import load_tokenizer

    folders = verify_manifest()
    clip = CLIPModel.from_pretrained(str(folders["synthclip"]), local_files_only=True)
    for lang, text in (("en", folders["synthclip"]), ("vi", folders["synthphobert"])):
        cfg = TrainConfig.for_profile("synthpedes-finetune", data=["unused"], lang=lang,
                                      image_encoder=str(folders["synthclip"]), text_encoder=str(text))
        resolve_text_kind(cfg)
        model = build_model(cfg, load_tokenizer(str(text), cfg.model.text_kind))
        ours = {k: v for k, v in model.vision.state_dict().items()}
        theirs = clip.vision_model.state_dict()
        assert ours.keys() == {f"vision_model.{k}" for k in theirs} or ours.keys() == theirs.keys()
        for k, v in theirs.items():
            assert torch.equal(ours.get(k, ours.get(f"vision_model.{k}")), v), k
        assert torch.equal(model.image_proj.weight, clip.visual_projection.weight)
        assert torch.equal(model.logit_scale, clip.logit_scale)
        if lang == "en":
            assert torch.equal(model.text_proj.weight, clip.text_projection.weight)
            for k, v in clip.text_model.state_dict().items():
                got = model.text.state_dict()
                assert torch.equal(got.get(k, got.get(f"text_model.{k}")), v), k
        else:
            mlm = RobertaForMaskedLM.from_pretrained(str(text), local_files_only=True)
            theirs = {k.removeprefix("roberta."): v for k, v in mlm.state_dict().items() if k.startswith("roberta.")}
            got = model.text.state_dict()
            assert set(got) <= set(theirs)
            for k, v in got.items():
                assert torch.equal(v, theirs[k]), k


TIMED = ("history.csv", "pretrain_config.json")  # they record wall times and throughput beside the curve


def test_the_recipe_gives_the_same_bytes_twice(tiny_shipped):
    """Weights, configs, tokenizers and processors: the same bytes; the curve and settings files
    too, but for their timing columns."""
    import pandas as pd

    a, b = tiny_shipped
    ma, mb = (json.loads((p / MANIFEST).read_text()) for p in (a, b))
    for name in KINDS.values():
        fa, fb = ma["models"][name]["files"], mb["models"][name]["files"]
        assert fa.keys() == fb.keys() and "model.safetensors" in fa, name
        assert {k: v for k, v in fa.items() if k not in TIMED} == {k: v for k, v in fb.items() if k not in TIMED}, name
        assert folder_digests(a / name) == fa
        ha, hb = (pd.read_csv(p / name / "history.csv") for p in (a, b))
        untimed = [c for c in ha.columns if not c.endswith(("_per_s", "seconds"))]
        pd.testing.assert_frame_equal(ha[untimed], hb[untimed])
        ca, cb = (json.loads((p / name / "pretrain_config.json").read_text()) for p in (a, b))
        assert {k: v for k, v in ca.items() if k != "seconds"} == {k: v for k, v in cb.items() if k != "seconds"}
    assert verify_manifest(a).keys() == set(KINDS.values())


def test_a_changed_or_missing_shipped_file_is_named(tiny_shipped, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_shipped[0], copy)
    weights = copy / "synthclip" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(GlalignError, match=r"synthclip/model.safetensors differs from MANIFEST.json"):
        verify_manifest(copy)
    weights.unlink()
    with pytest.raises(GlalignError, match="is missing"):
        verify_manifest(copy)
    (copy / MANIFEST).unlink()
    with pytest.raises(GlalignError, match="MANIFEST.json is missing"):
        verify_manifest(copy)
