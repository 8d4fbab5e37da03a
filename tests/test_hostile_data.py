"""Hostile but fair inputs on the data and text side: each is refused with one line naming the file
and the entry (exit 2, no traceback), or simply works where it should (a BOM in a CSV header)."""
import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from glalign.data.records import has_captions_in, load_dataset, open_image
from glalign.errors import DataError

EN = [{"split": "train", "captions": ["a man in a red shirt"], "file_path": "c/1.jpg", "id": 1},
      {"split": "test", "captions": ["a woman with a black bag"], "file_path": "c/3.jpg", "id": 0}]
VI = [dict(e, captions=[c]) for e, c in zip(EN, ["người đàn ông mặc áo đỏ", "cô gái đeo túi xách màu đen"])]


def _img(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 4, 3), 128, np.uint8)).save(path)


def _cuhk(root, entries=EN, raw=None):
    """A CUHK-PEDES layout with images for every plain relative file_path."""
    root.mkdir(parents=True)
    for e in entries:
        rel = e["file_path"]
        if isinstance(rel, str) and not rel.startswith("/") and ".." not in rel:
            _img(root / "imgs" / rel)
    (root / "reid_raw.json").write_bytes(raw if raw is not None else json.dumps(entries, ensure_ascii=False).encode())
    return root


def _bomb_png(width, height):
    """A few-hundred-byte PNG whose header claims width x height 1-bit pixels."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _manifest(root, name, data: bytes):
    root.mkdir(parents=True)
    _img(root / "a.png")
    _img(root / "b.png")
    (root / name).write_bytes(data)
    return root


def _swap_image(root, make):
    target = root / "imgs" / "c/3.jpg"
    target.unlink()
    make(target)
    return root


CASES = {
    "absolute file_path": (lambda d: _cuhk(d, [EN[0], dict(EN[1], file_path="/etc/hostname")]),
                           "entry 1: file_path '/etc/hostname' points outside the dataset folder"),
    "../ file_path": (lambda d: _cuhk(d, [EN[0], dict(EN[1], file_path="../../x.jpg")]),
                      "entry 1: file_path '../../x.jpg' points outside the dataset folder"),
    "windows file_path": (lambda d: _cuhk(d, [EN[0], dict(EN[1], file_path="C:\\x.jpg")]),
                          "points outside the dataset folder"),
    "id as list": (lambda d: _cuhk(d, [EN[0], dict(EN[1], id=[1, 2])]),
                   "entry 1: id must be a number or a string, got [1, 2]"),
    "id as object": (lambda d: _cuhk(d, [EN[0], dict(EN[1], id={"a": 1})]),
                     "entry 1: id must be a number or a string"),
    "null file_path": (lambda d: _cuhk(d, [EN[0], dict(EN[1], file_path=None)]), "entry 1: has no file_path"),
    "windows-1252 json": (lambda d: _cuhk(d, raw=json.dumps([dict(EN[0], captions=["caf\u00e9"]), EN[1]],
                                                            ensure_ascii=False, indent=1).encode("cp1252")),
                          "reid_raw.json: line 5 is not UTF-8 text"),
    "windows-1252 csv": (lambda d: _manifest(d, "manifest.csv", "image,id,caption,split\na.png,1,caf\u00e9,train\n"
                                                                "b.png,2,a man,test\n".encode("cp1252")),
                         "manifest.csv: line 2 is not UTF-8 text"),
    "jsonl row is a number": (lambda d: _manifest(d, "manifest.jsonl",
                                                  b'{"image": "a.png", "id": 1, "caption": "c", "split": "train"}\n42\n'),
                              "manifest.jsonl: line 2 is a JSON int, not an object"),
    "dangling symlink": (lambda d: _swap_image(_cuhk(d), lambda t: os.symlink(t.parent / "gone.jpg", t)),
                         "entry 1: image {root}/imgs/c/3.jpg is a broken symbolic link"),
    "symlink loop": (lambda d: _swap_image(_cuhk(d), lambda t: (os.symlink(t.parent / "x.jpg", t),
                                                               os.symlink(t, t.parent / "x.jpg"))),
                     "entry 1: image {root}/imgs/c/3.jpg is a symbolic link loop"),
    "decompression bomb": (lambda d: _swap_image(_cuhk(d), lambda t: t.write_bytes(_bomb_png(30000, 30000))),
                           "entry 1: image {root}/imgs/c/3.jpg is refused as a possible decompression bomb"),
    "decompression bomb warning": (lambda d: _swap_image(_cuhk(d), lambda t: t.write_bytes(_bomb_png(10000, 10000))),
                                   "entry 1: image {root}/imgs/c/3.jpg is refused as a possible decompression bomb"),
    "corrupt synth.json": (lambda d: (_cuhk(d) / "synth.json").write_text("{") and d,
                           "synth.json: malformed JSON at line 1"),
    "synth.json without params": (lambda d: (_cuhk(d) / "synth.json").write_text("[]") and d,
                                  "synth.json: not a SynthPEDES synth.json"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cli_check_refuses_hostile_dataset(run_cli, tmp_path, case):
    build, needle = CASES[case]
    root = build(tmp_path / "d")
    res = run_cli("data", "check", root)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert needle.format(root=root) in res.stderr


def test_cli_check_refuses_language_mismatch_naming_both(run_cli, tmp_path):
    root = _cuhk(tmp_path / "en")
    res = run_cli("data", "check", root, "--lang", "vi")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "Vietnamese (vi)" in res.stderr and "English (en)" in res.stderr and "reid_raw_vi.json" in res.stderr
    assert run_cli("data", "check", root, "--lang", "en").returncode == 0


def test_csv_manifest_with_bom_just_works(run_cli, tmp_path):
    root = _manifest(tmp_path / "m", "manifest.csv",
                     "image,id,caption,split\na.png,1,a tall man,train\nb.png,2,a child,test\n".encode("utf-8-sig"))
    res = run_cli("data", "check", root, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["splits"]["train"]["images"] == 1


def test_every_image_reader_uses_the_same_checks(tmp_path):
    """ImageStore (train/evaluate/search) and the part-mask reader refuse what the dataset reader
    refuses, even when the dataset was read with check_images=False."""
    from glalign.data.torchdata import ImageStore
    from glalign.parsing.masks import load_label_map

    root = _swap_image(_cuhk(tmp_path / "d"), lambda t: t.write_bytes(_bomb_png(10000, 10000)))
    ds = load_dataset(root, check_images=False)
    with pytest.raises(DataError, match="decompression bomb"):
        ImageStore(16, (2, 2)).get(ds.split("test")[0].image, None)
    loop = tmp_path / "loop.png"
    os.symlink(tmp_path / "other.png", loop)
    os.symlink(loop, tmp_path / "other.png")
    with pytest.raises(DataError, match="part label map .*loop.png is a symbolic link loop"):
        load_label_map(loop)
    with pytest.raises(DataError, match="outside the dataset folder"):
        open_image(tmp_path / "outside.png", root=root / "imgs")
    # a dangling mask symlink is reported, not silently replaced by the stripes fallback
    (root / "parsing" / "c").mkdir(parents=True)
    os.symlink(root / "parsing" / "gone.png", root / "parsing" / "c" / "1.png")
    rec = load_dataset(root, check_images=False).split("train")[0]
    with pytest.raises(DataError, match="broken symbolic link"):
        ImageStore(16, (2, 2)).get(rec.image, rec.mask)


def test_has_captions_in(tmp_path):
    en = _cuhk(tmp_path / "en")
    assert has_captions_in(en, "en") and not has_captions_in(en, "vi")
    vi = _cuhk(tmp_path / "vi", VI)
    assert has_captions_in(vi, "vi") and not has_captions_in(vi, "en")
    with pytest.raises(DataError, match="captions are Vietnamese"):
        load_dataset(vi, lang="en")
    (en / "reid_raw_vi.json").write_text(json.dumps(VI, ensure_ascii=False), encoding="utf-8")
    assert has_captions_in(en, "vi")  # the variant beside the main file
    synth = _cuhk(tmp_path / "synth")  # synth.json outranks the heuristic
    (synth / "synth.json").write_text(json.dumps({"params": {"native_language": "vi"}}))
    assert has_captions_in(synth, "vi") and not has_captions_in(synth, "en")
    field = _cuhk(tmp_path / "field", [dict(e, language="vi") for e in EN])  # an explicit field too
    assert not has_captions_in(field, "en")
    plain = _cuhk(tmp_path / "plain", [dict(e, captions=["nguoi dan ong mac ao do"]) for e in EN])
    assert has_captions_in(plain, "en") and has_captions_in(plain, "vi")  # cannot tell: no refusal


def test_cli_text_phrases_missing_and_non_utf8(run_cli, tmp_path):
    res = run_cli("text", "phrases", "--lang", "en", tmp_path / "missing.txt")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "missing.txt: cannot read the caption file" in res.stderr
    bad = tmp_path / "caps.txt"
    bad.write_bytes("a man\ncaf\u00e9 owner\n".encode("cp1252"))
    res = run_cli("text", "phrases", "--lang", "en", bad)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "caps.txt: line 2 is not UTF-8 text" in res.stderr


@pytest.mark.parametrize("damage", ["{\"truncated", "[1, 2]", json.dumps({"k": [["coat", "coat", 7]]}),
                                    json.dumps({"k": "not a list"})])
def test_corrupt_np_cache_is_rebuilt(tmp_path, monkeypatch, damage):
    from glalign.text import phrases

    calls = []

    def fake_parse(texts, lang):
        calls.append(list(texts))
        return [[(t, t.split()[-1], t.split()[-1])] for t in texts]

    monkeypatch.setattr(phrases, "noun_phrases", fake_parse)
    texts = ["a red coat", "a blue coat"]
    fresh = phrases.cached_extract(texts, "en", "extended", tmp_path)
    path = next(tmp_path.glob("phrases-*.json"))
    cache = json.loads(path.read_text())
    if damage.startswith("{\"k\""):  # a well-formed file with one bad entry keyed like a real one
        damage = json.dumps({**cache, next(iter(cache)): json.loads(damage)["k"]})
    path.write_text(damage)
    with pytest.warns(UserWarning, match="noun-phrase cache is damaged; rebuilding"):
        again = phrases.cached_extract(texts, "en", "extended", tmp_path)
    assert again == fresh and len(calls) == 2 and sorted(calls[1]) == sorted(texts)
    assert json.loads(path.read_text()) == cache  # rewritten whole
