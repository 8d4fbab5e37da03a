"""Search: indexing, cache reuse and invalidation, explanations, the CLI, chunked top-k."""
import json
import os
import shutil

import numpy as np
import torch
from PIL import Image

from glalign.search import GalleryIndex, topk_fused


def _gallery(synth_a, tmp_path, n=12):
    g = tmp_path / "gallery" / "imgs"
    for p in sorted((synth_a / "imgs").rglob("*.png"))[:n]:
        dst = g / p.relative_to(synth_a / "imgs")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dst)
    return g


def test_index_cache_and_invalidation(tiny_run, synth_a, tmp_path):
    g = _gallery(synth_a, tmp_path)
    idx = GalleryIndex(tiny_run, g)
    assert idx.rebuilt and len(idx.paths) == 12
    assert GalleryIndex(tiny_run, g).rebuilt is False  # cached
    victim = g / idx.paths[0]
    Image.fromarray(np.zeros((128, 64, 3), np.uint8)).save(victim)
    os.utime(victim, ns=(1, 1))
    assert GalleryIndex(tiny_run, g).rebuilt is True  # an image changed
    (g / idx.paths[1]).unlink()
    again = GalleryIndex(tiny_run, g)
    assert again.rebuilt and len(again.paths) == 11


def test_search_results_and_explanation(tiny_run, synth_a, tmp_path):
    idx = GalleryIndex(tiny_run, _gallery(synth_a, tmp_path))
    hits = idx.search("a man in a red shirt and black shoes", top_k=5)
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert all(a["score"] >= b["score"] for a, b in zip(hits, hits[1:]))
    scores = idx.scores("a man in a red shirt and black shoes")
    assert hits[0]["score"] == round(float(scores.max()), 6)
    ex = idx.explain("a man in a red shirt and black shoes", hits[0]["path"])
    assert {p["part"] for p in ex["phrases"]} == {"UPPERBODY", "SHOES"}
    assert abs(ex["score"] - hits[0]["score"]) < 1e-4
    assert ex["score"] == ex["alpha"] * ex["global"] + (1 - ex["alpha"]) * ex["local"]


def test_topk_fused_matches_full_sort_with_ties():
    from glalign.evaluate import GalleryEmbeddings, QueryEmbeddings, fuse

    torch.manual_seed(0)
    unit = lambda *shape: torch.nn.functional.normalize(torch.randn(*shape), dim=-1)  # noqa: E731
    g = GalleryEmbeddings(unit(1000, 16), unit(1000, 5, 16), torch.rand(1000, 5) > 0.3)
    g.global_[700] = g.global_[17]  # an exact tie across chunks: the lower index must win
    g.regions[700] = g.regions[17]
    g.present[700] = g.present[17]
    q = QueryEmbeddings(g.global_[17:18].clone(), g.regions[17:18].clone(), torch.ones(1, 5, dtype=torch.bool))
    s, i = topk_fused(q, g, 0.5, 7, chunk=64)
    full = fuse(q, g, 0.5)[0]
    expected = torch.sort(-full, stable=True).indices[:7]
    assert i.tolist() == expected.tolist() and i.tolist()[:2] == [17, 700]
    assert torch.allclose(s, full[expected])


def test_cli_search(run_cli, tiny_run, synth_a, tmp_path):
    g = _gallery(synth_a, tmp_path)
    res = run_cli("search", "--run", tiny_run, "--gallery", g, "--top-k", "3", "--json", "--out",
                  tmp_path / "strip.png", "a woman with a backpack")
    assert res.returncode == 0, res.stderr
    hits = json.loads(res.stdout)
    assert len(hits) == 3 and set(hits[0]) == {"rank", "path", "score"}
    assert (g / hits[0]["path"]).exists() and (tmp_path / "strip.png").exists()
    res = run_cli("search", "--run", tiny_run, "--gallery", tmp_path / "empty", "x")
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = run_cli("search", "--run", tiny_run, "--gallery", g, "   ")
    assert res.returncode == 2 and "query is empty" in res.stderr


def test_corrupt_or_foreign_index_is_rebuilt(tiny_run, synth_a, tmp_path):
    g = _gallery(synth_a, tmp_path)
    idx = GalleryIndex(tiny_run, g)
    path, good = idx.cache_path(), idx.cache_path().read_bytes()
    assert path.parent == g and path.is_file()
    expected = idx.search("a man in a red shirt", 3)
    del idx  # its map must not be read after the file is damaged in place
    for damaged in (good[:len(good) // 2], b"\0garbage" * 100):
        path.write_bytes(damaged)
        again = GalleryIndex(tiny_run, g)
        assert again.rebuilt and len(again.search("a man", 20)) == 12 and path.read_bytes() == good
    other = tmp_path / "other" / "imgs"  # the index of another gallery (5 images) under this gallery's name
    for p in sorted((synth_a / "imgs").rglob("*.png"))[40:45]:
        dst = other / p.relative_to(synth_a / "imgs")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dst)
    foreign = GalleryIndex(tiny_run, other)
    path.write_bytes(foreign.cache_path().read_bytes())
    again = GalleryIndex(tiny_run, g)
    assert again.rebuilt and len(again.paths) == 12 and again.search("a man in a red shirt", 3) == expected


def test_read_only_gallery_uses_user_cache(tiny_run, synth_a, tmp_path, monkeypatch):
    import glalign.search as search

    g = _gallery(synth_a, tmp_path, n=6)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    os.chmod(g, 0o555)
    try:
        if os.geteuid() == 0:  # root writes anywhere: make the folder look read-only as it would to a user
            monkeypatch.setattr(search.os, "access", lambda p, mode: False)
        idx = GalleryIndex(tiny_run, g)
        assert idx.rebuilt and not any(p.name.startswith(".glalign-index") for p in g.iterdir())
        assert idx.cache_path().is_relative_to(tmp_path / "xdg" / "glalign") and idx.cache_path().is_file()
        assert GalleryIndex(tiny_run, g).rebuilt is False
    finally:
        os.chmod(g, 0o755)


def test_unreadable_images_are_skipped_or_strict(run_cli, tiny_run, synth_a, tmp_path):
    g = _gallery(synth_a, tmp_path, n=6)
    (g / "corrupt.png").write_bytes(b"not a png at all")
    (g / "dangling.png").symlink_to(g / "nowhere.png")
    (g / "loop.jpg").symlink_to(g / "loop.jpg")
    idx = GalleryIndex(tiny_run, g)
    assert len(idx.paths) == 6 and {s[0] for s in idx.skipped} == {"corrupt.png", "dangling.png", "loop.jpg"}
    assert len(idx.search("a woman with a backpack", 20)) == 6
    res = run_cli("search", "--run", tiny_run, "--gallery", g, "--json", "--device", "cpu", "a woman with a backpack")
    assert res.returncode == 0 and "skipped 3 unreadable" in res.stderr and len(json.loads(res.stdout)) == 6
    res = run_cli("search", "--run", tiny_run, "--gallery", g, "--strict", "a woman with a backpack")
    assert res.returncode == 2 and "--strict" in res.stderr
    assert any(name in res.stderr for name in ("corrupt.png", "dangling.png", "loop.jpg"))


def test_cli_out_paths(run_cli, tiny_run, synth_a, tmp_path):
    g = _gallery(synth_a, tmp_path, n=4)
    res = run_cli("search", "--run", tiny_run, "--gallery", g, "--out", tmp_path / "new" / "deep" / "s.svg", "a man")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "new" / "deep" / "s.svg").read_text().lstrip().startswith("<?xml")
    res = run_cli("search", "--run", tiny_run, "--gallery", g, "--out", tmp_path / "s.gif", "a man")
    assert res.returncode == 2 and ".gif" in res.stderr and ".png, .jpg, .pdf or .svg" in res.stderr
    res = run_cli("search", "--run", tiny_run, "--gallery", g, "--out", tmp_path / "new", "a man")
    assert res.returncode == 2 and "is a folder" in res.stderr


def test_faiss_search_matches_exact_on_small_gallery(tiny_run, synth_a, tmp_path):
    g = _gallery(synth_a, tmp_path)
    exact = GalleryIndex(tiny_run, g).search("a man in a red shirt", 5)
    approx = GalleryIndex(tiny_run, g, index="faiss", nprobe=64).search("a man in a red shirt", 5)
    assert [h["path"] for h in approx] == [h["path"] for h in exact]
    assert all(abs(a["score"] - b["score"]) < 1e-5 for a, b in zip(approx, exact))


def test_index_reads_the_mask_folder_it_is_given(tiny_run, synth_a, tmp_path):
    """Notebook 07 searches with the masks the run was trained on: a mask folder with no part in it
    leaves every region absent, where the default (no such folder: stripes) has them all."""
    g = _gallery(synth_a, tmp_path, n=4)
    for p in g.rglob("*.png"):
        m = g.parent / "blank" / p.relative_to(g)
        m.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((128, 64), np.uint8)).save(m)
    query = "a man in a red shirt and black shoes"
    default, blank = GalleryIndex(tiny_run, g), GalleryIndex(tiny_run, g, masks="blank")
    assert blank.cache_path() != default.cache_path()
    ex_default, ex_blank = default.explain(query, default.paths[0]), blank.explain(query, blank.paths[0])
    assert ex_default["phrases"] and all(p["region_present"] for p in ex_default["phrases"])
    assert not any(p["region_present"] for p in ex_blank["phrases"])
