"""Readers for every real layout on small fixtures, and every bad-input case."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from glalign.data.records import contiguous_labels, load_dataset
from glalign.errors import DataError


def _img(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 4, 3), 128, np.uint8)).save(path)


def _cuhk(root, entries, name="reid_raw.json", key="file_path", images=True):
    root.mkdir(parents=True, exist_ok=True)
    for e in entries:
        if images:
            _img(root / "imgs" / e[key])
    (root / name).write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    return root


ENTRIES = [{"split": "train", "captions": ["a man in a red shirt", "red shirt, black pants"], "file_path": "c/1.jpg", "id": 1},
           {"split": "train", "captions": ["a woman with a bag"], "file_path": "c/2.jpg", "id": 2},
           {"split": "test", "captions": ["a man in blue jeans"], "file_path": "c/3.jpg", "id": 0}]


def test_cuhk_pedes(tmp_path):
    ds = load_dataset(_cuhk(tmp_path / "cuhk", ENTRIES))
    assert ds.format == "cuhk-pedes" and len(ds.records) == 3
    assert [r.pid for r in ds.records] == [1, 2, 0]  # ids kept as given (0 stays 0)
    assert ds.records[0].image == tmp_path / "cuhk" / "imgs" / "c/1.jpg"


def test_cuhk_pedes_vn_language_variant(tmp_path):
    root = _cuhk(tmp_path / "cuhk", ENTRIES)
    vi = [dict(e, captions=["người đàn ông mặc áo đỏ"]) for e in ENTRIES]
    (root / "reid_raw_vi.json").write_text(json.dumps(vi, ensure_ascii=False), encoding="utf-8")
    ds = load_dataset(root, lang="vi")
    assert ds.caption_file.name == "reid_raw_vi.json" and ds.records[0].captions[0].startswith("người")


def test_vn3k_format(tmp_path):
    entries = [dict(e, captions=["cô gái mặc váy trắng"]) for e in ENTRIES]
    ds = load_dataset(_cuhk(tmp_path / "vn3k", entries), fmt="vn3k", lang="vi")
    assert ds.format == "vn3k" and ds.lang == "vi"


@pytest.mark.parametrize("name", ["ICFG-PEDES.json", "ICFG_PEDES.json"])
def test_icfg_pedes(tmp_path, name):
    ds = load_dataset(_cuhk(tmp_path / "icfg", ENTRIES, name=name))
    assert ds.format == "icfg-pedes" and len(ds.split("test")) == 1


def test_rstpreid(tmp_path):
    entries = [{"id": e["id"], "img_path": e["file_path"], "captions": e["captions"],
                "split": "val" if e["split"] == "test" else e["split"]} for e in ENTRIES]
    ds = load_dataset(_cuhk(tmp_path / "rst", entries, name="data_captions.json", key="img_path"))
    assert ds.format == "rstpreid" and ds.split("val")[0].file_path == "c/3.jpg"


def test_manifest_csv_and_jsonl(tmp_path):
    root = tmp_path / "man"
    root.mkdir()
    for i in (1, 2):
        _img(root / f"p{i}.png")
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "id", "caption", "split"])
        w.writerow(["p1.png", "7", "a tall man", "train"])
        w.writerow(["p1.png", "7", "man in grey coat", "train"])
        w.writerow(["p2.png", "8", "a child", "test"])
    ds = load_dataset(root)
    assert ds.format == "manifest" and ds.records[0].pid == 7 and len(ds.records[0].captions) == 2
    (root / "manifest.csv").unlink()
    (root / "manifest.jsonl").write_text('{"image": "p1.png", "id": "x1", "caption": "c", "split": "train"}\n')
    assert load_dataset(root).records[0].pid == "x1"


@pytest.mark.parametrize("mutate, needle", [
    (lambda e: e[1].update(captions=["  "]), "entry 1: caption 0 is empty"),
    (lambda e: e[2].update(split="dev"), "entry 2: unknown split 'dev'"),
    (lambda e: e[2].update(file_path="c/1.jpg"), "entry 2: file_path c/1.jpg already used by reid_raw.json entry 0"),
    (lambda e: e[2].update(id=1), "identity is in both train and test"),
    (lambda e: e[0].pop("captions"), "entry 0: missing key(s) captions"),
])
def test_bad_entries_are_named(tmp_path, mutate, needle):
    entries = json.loads(json.dumps(ENTRIES))
    root = _cuhk(tmp_path / "d", entries)
    mutate(entries)
    (root / "reid_raw.json").write_text(json.dumps(entries))
    with pytest.raises(DataError) as err:
        load_dataset(root)
    assert needle in str(err.value) and "reid_raw.json" in str(err.value)


def test_missing_and_broken_images(tmp_path):
    root = _cuhk(tmp_path / "d", ENTRIES)
    (root / "imgs" / "c/2.jpg").unlink()
    with pytest.raises(DataError, match=r"entry 1: image .*c/2.jpg is missing"):
        load_dataset(root)
    (root / "imgs" / "c/2.jpg").write_bytes(b"not an image")
    with pytest.raises(DataError, match="cannot be read"):
        load_dataset(root)


def test_malformed_json_names_line(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    (root / "reid_raw.json").write_text('[{"split": "train",\n "captions": ]')
    with pytest.raises(DataError, match=r"reid_raw.json: malformed JSON at line 2"):
        load_dataset(root)


def test_skip_bad_drops_and_counts(tmp_path):
    entries = json.loads(json.dumps(ENTRIES))
    entries[1]["captions"] = [""]
    ds = load_dataset(_cuhk(tmp_path / "d", entries), skip_bad=True)
    assert len(ds.records) == 2 and len(ds.skipped) == 1


def test_contiguous_labels_are_sorted_ids():
    class R:
        def __init__(self, pid):
            self.pid = pid
    assert contiguous_labels([R(10), R(0), R(10), R(3)]) == {0: 0, 3: 1, 10: 2}


def test_cli_check_json_and_errors(run_cli, tmp_path, synth_a):
    res = run_cli("data", "check", synth_a, "--json")
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout)
    assert set(stats["splits"]) == {"train", "test"}
    assert set(stats["splits"]["train"]) == {"identities", "images", "captions", "mean_caption_length"}
    res = run_cli("data", "check", synth_a, "--lang", "vi", "--json")
    assert json.loads(res.stdout)["caption_file"] == "reid_raw_vi.json"
    res = run_cli("data", "check", tmp_path / "nope")
    assert res.returncode == 2 and "does not exist" in res.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "reid_raw.json").write_text("{")
    res = run_cli("data", "check", bad)
    assert res.returncode == 2 and "malformed JSON" in res.stderr and "Traceback" not in res.stderr


def test_masks_folder_option(synth_a, tmp_path):
    """Estimated masks live beside the ground-truth ones (e.g. parsing_est/ from `data parse`)."""
    import shutil

    from glalign.data.records import load_dataset
    from glalign.errors import GlalignError

    root = tmp_path / "A"
    shutil.copytree(synth_a, root)
    with pytest.raises(GlalignError, match="mask folder .*parsing_est does not exist"):
        load_dataset(root, lang="en", masks="parsing_est")
    shutil.copytree(root / "parsing", root / "parsing_est")
    recs = load_dataset(root, lang="en", masks="parsing_est").records
    assert all(r.mask is not None and r.mask.parent.parent.name == "parsing_est" for r in recs)
    (root / "parsing_est" / recs[0].file_path).with_suffix(".png").unlink()
    assert load_dataset(root, lang="en", masks="parsing_est").records[0].mask is None  # stripes for that one
