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
