"""The one-file memory-mapped index: exact equality with topk_fused (missing parts, ties across
chunks, fp32 and fp16), the round trip, corruption detection, and the faiss path."""
import numpy as np
import pytest
import torch

import glalign.index as gi
from glalign.evaluate import GalleryEmbeddings, QueryEmbeddings, fuse
from glalign.search import topk_fused


def _unit(*shape):
    return torch.nn.functional.normalize(torch.randn(*shape), dim=-1)


@pytest.fixture
def gallery():
    torch.manual_seed(0)
    g = GalleryEmbeddings(_unit(3000, 16), _unit(3000, 5, 16), torch.rand(3000, 5) > 0.3)
    g.present[5] = False  # an image with no part at all
    for dst in (700, 2900):  # exact ties of row 17, in later chunks: the lower index must win
        g.global_[dst], g.regions[dst], g.present[dst] = g.global_[17], g.regions[17], g.present[17]
    return g


def _queries(g, n=4):
    torch.manual_seed(1)
    q = QueryEmbeddings(_unit(n, 16), _unit(n, 5, 16), torch.rand(n, 5) > 0.4)
    q.global_[0], q.phrases[0], q.present[0] = g.global_[17], g.regions[17], torch.ones(5, dtype=torch.bool)
    q.present[1] = False  # a query with no part phrase: global only
    return q


def _write(tmp_path, g, dtype, screen=True):
    return gi.FusedIndex(gi.write_index(tmp_path / f"g.{dtype}", g.global_, g.regions, g.present, dtype,
                                        {"fingerprint": "abc"}, screen=screen), {"fingerprint": "abc"})


@pytest.mark.parametrize("dtype,screen", [("float32", True), ("float16", True), ("float16", False)])
def test_topk_equals_reference(tmp_path, gallery, dtype, screen, monkeypatch):
    """Query batches go through the bf16 screen (or, without one, the fp32 product), one query
    through the fp16 screen: every path gives the reference's indices and scores."""
    monkeypatch.setattr(gi, "SPAN", 1024)  # several selection spans
    monkeypatch.setattr(gi, "BLOCK", 100)  # and blocks that do not divide them
    monkeypatch.setattr(gi, "QGROUP", 3)  # and query groups that do not divide the batch
    monkeypatch.setattr(gi, "BLOCK_MAX", 100)  # and screen blocks that do not divide the spans
    idx = _write(tmp_path, gallery, dtype, screen)
    assert (idx.screen is not None) == screen and gi._bf16_mm_accumulates_in_fp32()
    ref_g = gallery if dtype == "float32" else GalleryEmbeddings(  # fp16: the reference on the stored values
        *(t.half().float() for t in (gallery.global_, gallery.regions)), gallery.present)
    q = _queries(gallery)
    for alpha in (0.3, 1.0):
        w = gi.query_rows(q, alpha)
        batch_s, batch_i = idx.topk(w, 9)
        for qi in range(len(w)):
            one = QueryEmbeddings(q.global_[qi:qi + 1], q.phrases[qi:qi + 1], q.present[qi:qi + 1])
            s, i = topk_fused(one, ref_g, alpha, 9, chunk=512)
            single_s, single_i = idx.topk(w[qi:qi + 1], 9)  # fp16: the screened one-query path
            for got_s, got_i in ((batch_s[qi], batch_i[qi]), (single_s[0], single_i[0])):
                assert got_i.tolist() == i.tolist()
                np.testing.assert_allclose(got_s, s.numpy(), atol=1e-5)
        assert batch_i[0, :3].tolist() == [17, 700, 2900]
    full = idx.scores(gi.query_rows(q, 0.3))
    np.testing.assert_allclose(full, fuse(q, ref_g, 0.3).numpy(), atol=1e-5)
    glob, reg, pres = idx.embeddings(5)
    assert not pres.any() and reg.abs().sum() == 0 and torch.allclose(glob, ref_g.global_[5])


def test_fp16_recall_against_fp32(tmp_path, gallery):
    w = gi.query_rows(_queries(gallery, 16), 0.5)
    _, i32 = _write(tmp_path, gallery, "float32").topk(w, 10)
    _, i16 = _write(tmp_path, gallery, "float16").topk(w, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i32.tolist(), i16.tolist())])
    assert recall >= 0.95
    assert gi._fp16_mv_accumulates_in_fp32()


def test_round_trip_is_a_map_and_corruption_is_detected(tmp_path, gallery):
    idx = _write(tmp_path, gallery, "float16")
    assert isinstance(idx.rows, np.memmap) and idx.rows.shape == (3000, 96) and idx.header["fingerprint"] == "abc"
    with pytest.raises(gi.IndexUnusable, match="fingerprint"):
        gi.FusedIndex(idx.path, {"fingerprint": "other"})
    raw = idx.path.read_bytes()
    masks_at = idx.masks.offset
    screen_at = idx.screen.offset  # the bf16 screen of row 0: a flipped bit there would hide candidates
    flip = lambda at: raw[:at] + bytes([raw[at] ^ 0x40]) + raw[at + 1:]  # noqa: E731
    bad = tmp_path / "bad"
    for damaged, why in ((raw[:-7], "size"), (b"garbage" * 40, "not a glalign index"),
                         (raw[:20] + b"\xff" * 30 + raw[50:], "header"),
                         (flip(masks_at), "digest"), (flip(screen_at + 1), "screen"), (b"", "not a glalign")):
        bad.write_bytes(damaged)
        with pytest.raises(gi.IndexUnusable, match=why):
            gi.FusedIndex(bad)


def test_faiss_path_small_gallery(tmp_path, gallery):
    idx = _write(tmp_path, gallery, "float16")
    ivf = gi.open_faiss(idx, nlist=8)
    assert gi.faiss_path(idx, 8).exists() and ivf.ntotal == 3000
    w = gi.query_rows(_queries(gallery), 0.5)
    exact_s, exact_i = idx.topk(w, 5)
    s, i = gi.faiss_topk(idx, ivf, w, 5, nprobe=8)  # every list probed: the re-ranked result is exact
    assert i.tolist() == exact_i.tolist()
    np.testing.assert_allclose(s, exact_s, atol=1e-5)
    gi.faiss_path(idx, 8).write_bytes(b"junk")  # a corrupt faiss file is rebuilt, not trusted
    assert gi.open_faiss(idx, nlist=8).ntotal == 3000


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_bf16_screen_keeps_rows_it_cannot_order(tmp_path, dtype, monkeypatch):
    """Rows that are nearly orthogonal to the queries: small scores, large vectors, so bf16's input
    rounding moves a score by many of its own output steps and the screen alone orders them wrongly.
    Its error bound must keep every row that could be in the top-k."""
    monkeypatch.setattr(gi, "SPAN", 700)
    monkeypatch.setattr(gi, "BLOCK_MAX", 16)
    torch.manual_seed(2)
    qg = _unit(4, 16)
    q = QueryEmbeddings(qg, _unit(4, 5, 16), torch.zeros(4, 5, dtype=torch.bool))  # global only
    across = torch.randn(3000, 16)
    across -= (across @ qg[0])[:, None] * qg[0]  # orthogonal to query 0 ...
    g = GalleryEmbeddings(torch.nn.functional.normalize(across, dim=-1) + torch.linspace(0.01, 0.02, 3000)[:, None]
                          * qg[0], _unit(3000, 5, 16), torch.rand(3000, 5) > 0.2)  # ... plus a small part along it
    idx = _write(tmp_path, g, dtype)
    w = gi.query_rows(q, 0.5)
    s, i = idx.topk(w, 20)
    full = idx.scores(w)
    sb = (torch.from_numpy(w).bfloat16() @ idx.screen_block(0, 3000).t()).float().numpy()
    for qi in range(4):
        ref = np.sort(full[qi])[::-1][:20]
        np.testing.assert_allclose(s[qi], ref, atol=1e-6)
        must = np.flatnonzero(full[qi] > ref[-1] + 1e-6)  # surely in the top-20
        assert set(must) <= set(i[qi].tolist())
    assert set(np.argsort(-sb[0], kind="stable")[:20].tolist()) != set(i[0].tolist())  # the screen alone is wrong
