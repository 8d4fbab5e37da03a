"""Contract: the keys the package names run folders, caches and index files by are the ones it has
always produced. Every site hashes through glalign.fingerprint; the values below were computed
before they did, so a change to how anything is keyed (which would re-key every user's cache)
fails here first."""
import json
import os
import types
from pathlib import Path

import numpy as np

from glalign.fingerprint import content_key, digest, file_digest

T = 1_700_000_000_123_456_789  # a fixed mtime (ns): keys that read file stamps stay machine-independent


def _files(root: Path, spec: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in spec.items():
        (root / name).write_bytes(data)
        os.utime(root / name, ns=(T, T))
    return root


def test_the_primitives():
    assert digest("a", b"b") == digest("ab") == "da23614e02469a0d7c7bd1bdab5c9c474b1904dc"
    assert digest("áo", n=8) == "f09d2448"
    assert content_key({"b": 1, "a": "á"}, n=12) == digest('{"a": "\\u00e1", "b": 1}', n=12)
    assert content_key({"a": "á"}, ensure_ascii=False) == digest('{"a": "á"}')


def test_file_digest_is_the_digest_of_the_bytes(tmp_path):
    big = b"\x07" * (3 << 20)  # over several read blocks
    _files(tmp_path, {"a": b"x", "b": big})
    assert file_digest([tmp_path / "a", tmp_path / "b"], n=10) == digest(b"x" + big, n=10)


def test_data_text_and_pretrain_keys(tmp_path, monkeypatch):
    from glalign.data.image_cache import fingerprint as image_fp
    from glalign.pretrain.common import corpus_fingerprint, fingerprint
    from glalign.text import phrases as ph

    monkeypatch.setattr(ph, "noun_phrases", lambda texts, lang: [[("a red coat", "coat", "coat")] for _ in texts])
    ph.cached_extract(["a woman in a red coat", "ông già áo đen"], "en", "extended", tmp_path / "c")
    cache = json.loads((tmp_path / "c" / f"phrases-{ph.EXTRACTOR_VERSION}-en.json").read_text(encoding="utf-8"))
    assert sorted(cache) == ["09d8f6427998eab2", "a01d0888a0ab8e02"]
    corpus = _files(tmp_path / "corpus", {"a.json": b'{"x": 1}', "b.jsonl": "ảnh\n".encode(), "c.txt": b"ignored"})
    assert corpus_fingerprint(corpus) == "a717231bcbd7b4e611dcc530670e63cd10854ef3"
    assert fingerprint("clip", {"epochs": 3, "lr": 1e-4, "name": "áo"}, "abc") == "4037928decd683b3"
    monkeypatch.chdir(_files(tmp_path / "imgs", {"i1.png": b"png1", "m1.png": b"mask"}))
    records = [types.SimpleNamespace(image="i1.png", mask="m1.png"), types.SimpleNamespace(image="i1.png", mask=None),
               types.SimpleNamespace(image="gone.png", mask=None)]
    assert image_fp(records, 64, "clip") == "2b8fa62e98a07eea"


def test_model_index_and_workspace_keys(tmp_path):
    from glalign.repro.assets import WorkspaceAssets
    from glalign.repro.workspace import mined_pairs_digest
    from glalign.retrieval.index import faiss_path
    from glalign.rogle.embedder import model_fingerprint

    model = _files(tmp_path / "model", {"config.json": b'{"k": 1}', "b.safetensors": b"\x00" * 3000000,
                                        "a.safetensors": b"w"})
    assert model_fingerprint(model) == "20de72ecaa649dc2"
    header = types.SimpleNamespace(header={"n": 3, "paths": ["b", "á"], "dtype": "float16"}, path=Path("/g/x.gli"))
    assert faiss_path(header, 8).name == "x.gli.41c24b9d999b.ivf8.faiss"
    for name, params in (("A", b'{"params": 1}'), ("B", b'{"params": 2}')):
        _files(tmp_path / "ws" / name, {"synth.json": params})
    ws = types.SimpleNamespace(domain=lambda n: tmp_path / "ws" / n)
    assert WorkspaceAssets.data_fingerprint(ws, ["A", "B"]) == "b1f39782"
    (tmp_path / "pairs.json").write_text(json.dumps({"model": "/x", "pairs": [["á", 1]], "k": 2}, ensure_ascii=False),
                                         encoding="utf-8")
    assert mined_pairs_digest(tmp_path / "pairs.json") == "b451cdd85ae440fb0855e237158e56c92c767b06"


def test_search_index_keys(tmp_path, monkeypatch):
    from glalign.retrieval.gallery_cache import GalleryImage, index_fingerprint, index_paths

    run = _files(tmp_path / "run", {"model.safetensors": b"\x01" * 5000})
    gallery = _files(tmp_path / "gal", {"a.png": b"1", "b.jpg": b"22"})
    rels = ["a.png", "b.jpg", "gone.png"]
    items = [GalleryImage(gallery / r, None) for r in rels]
    assert index_fingerprint(run, "float16", "parsing", items, rels) == "7349258ac416bc2458b8dd89398d9698ff843559"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    beside, user = index_paths(Path("/g/run"), Path("/g/imgs"), "estimated", "float16")
    assert beside == Path("/g/imgs/.glalign-index-14bf5051eb-fp16.gli")
    assert user == tmp_path / "xdg" / "glalign" / "7df37fbaa37d17ca" / "glalign-index-14bf5051eb-fp16.gli"


def test_numpy_digests():
    from glalign.data.image_cache import _sample_digest

    arrays = (np.arange(300, dtype=np.uint8).reshape(100, 3), np.ones((100, 2), np.float32), np.zeros((100, 5), bool))
    assert _sample_digest(arrays) == "51f26dec5ef0fa1ac07ee366c6cf6758659143a5"
