"""SynthPEDES: determinism, identity-disjoint splits, exact masks, both languages."""
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from glalign.data.synth import generate_domain
from glalign.errors import GlalignError


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a1 = generate_domain(tmp_path / "a1", "B", n_ids=8, seed=5, progress=False)
    generate_domain(tmp_path / "a2", "B", n_ids=8, seed=5, progress=False)
    generate_domain(tmp_path / "a3", "B", n_ids=8, seed=6, progress=False)
    assert _digest(tmp_path / "a1") == _digest(tmp_path / "a2")
    assert _digest(tmp_path / "a1") != _digest(tmp_path / "a3")
    assert a1["images"] > 0 and a1["native_language"] == "vi"


def test_rerun_is_a_noop_and_conflicting_arguments_fail(tmp_path):
    generate_domain(tmp_path / "d", "A", n_ids=6, seed=1, progress=False)
    before = _digest(tmp_path / "d")
    generate_domain(tmp_path / "d", "A", n_ids=6, seed=1, progress=False)
    assert _digest(tmp_path / "d") == before
    with pytest.raises(GlalignError, match="not the SynthPEDES domain asked for"):
        generate_domain(tmp_path / "d", "A", n_ids=7, seed=1, progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_layout_splits_and_translations(synth_a):
    native = json.loads((synth_a / "reid_raw.json").read_text())
    translated = json.loads((synth_a / "reid_raw_vi.json").read_text())
    assert [e["file_path"] for e in native] == [e["file_path"] for e in translated]
    assert all(len(e["captions"]) == 2 for e in native)
    train = {e["id"] for e in native if e["split"] == "train"}
    test = {e["id"] for e in native if e["split"] == "test"}
    assert train and test and not train & test
    ann = json.loads((synth_a / "annotations.json").read_text())
    fam_split = {}
    for e in native:  # families stay on one side of the split
        fam_split.setdefault(ann["family"][str(e["id"])], set()).add(e["split"])
    assert all(len(s) == 1 for s in fam_split.values())
    assert any(ch in translated[0]["captions"][0] for ch in "áàảãạăâđêôơư")


def test_masks_are_pixel_exact_label_maps(synth_a):
    native = json.loads((synth_a / "reid_raw.json").read_text())
    conds = json.loads((synth_a / "conditions.json").read_text())
    for e in native[:10]:
        img = np.asarray(Image.open(synth_a / "imgs" / e["file_path"]))
        lab = np.asarray(Image.open(synth_a / "parsing" / e["file_path"]))
        assert img.shape[:2] == lab.shape == (128, 64)
        assert set(np.unique(lab)) <= {0, 1, 2, 3, 4, 5}
        assert (lab == 2).any()  # every person has an upper body
        assert set(conds[e["file_path"]]) == {"view", "low_light", "occluded", "blur", "scale"}


def test_ground_truth_mentions_name_parts(synth_a):
    ann = json.loads((synth_a / "annotations.json").read_text())["captions"]
    first = next(iter(ann.values()))
    for lang in ("en", "vi"):
        assert len(first[lang]) == 2
        # None: a pose, view or setting phrase that names no part
        assert all(m["part"] in ("HEAD", "UPPERBODY", "LOWERBODY", "SHOES", "OTHERS", None) for m in first[lang][0])


def test_cli_synth(run_cli, tmp_path):
    res = run_cli("data", "synth", "--out", tmp_path / "x", "--domain", "A", "--ids", "5", "--quiet")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ids"] == 5
    res = run_cli("data", "synth", "--out", tmp_path / "y", "--domain", "A", "--ids", "2")
    assert res.returncode == 2 and "too few" in res.stderr and "Traceback" not in res.stderr


def test_test_ids_sets_the_size_of_the_test_split(tmp_path):
    summary = generate_domain(tmp_path / "B", "B", n_ids=12, seed=1, test_ids=8, progress=False)
    assert 8 <= summary["test_ids"] <= 10 and summary["train_ids"] == 12 - summary["test_ids"] - summary["val_ids"]
    with pytest.raises(GlalignError, match="test-ids"):
        generate_domain(tmp_path / "B2", "B", n_ids=12, test_ids=11, progress=False)
