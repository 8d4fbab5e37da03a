"""Search: indexing, cache reuse and invalidation, explanations, the CLI, chunked top-k."""
import json
import os
import shutil

import numpy as np
import torch
from PIL import Image

from glalign.search import GalleryIndex, topk_chunked


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


def test_topk_chunked_matches_full_sort():
    g = torch.nn.functional.normalize(torch.randn(1000, 16), dim=1)
    q = g[17]
    s, i = topk_chunked(q, g, 7, chunk=64)
    full = torch.topk(g @ q, 7)
    assert torch.equal(i, full.indices) and int(i[0]) == 17


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
