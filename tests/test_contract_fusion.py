"""Contract: `evaluate` and `search` fuse the same scores, raw and zscore, through glalign.retrieval.fusion.

The search gallery is the test split's images (and their masks) copied into a dataset-shaped folder,
so both rank the same images; every caption of the first test images is scored both ways."""
import shutil

import numpy as np
import pytest


@pytest.fixture(scope="module")
def test_gallery(synth_a, tmp_path_factory):
    from glalign.evaluate import select_records

    root = tmp_path_factory.mktemp("parity") / "ds"
    for r in select_records(synth_a, "en", "test"):
        for sub in ("imgs", "parsing"):
            dst = root / sub / r.file_path
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(synth_a / sub / r.file_path, dst)
    return root / "imgs"


@pytest.mark.parametrize("fusion", ["raw", "zscore"])
def test_evaluate_and_search_fuse_the_same_scores(tiny_run, synth_a, test_gallery, fusion):
    from glalign.evaluate import evaluate_run
    from glalign.search import GalleryIndex

    res = evaluate_run(tiny_run, synth_a, split="test", fusion=fusion, progress=False)
    fused = res.fused(res.alpha, fusion)
    index = GalleryIndex(tiny_run, test_gallery, dtype="float32")
    assert sorted(index.paths) == sorted(res.gallery_paths)
    order = [index.paths.index(p) for p in res.gallery_paths]
    checked = 0
    for qi, caption in enumerate(res.per_query["caption"][:12]):
        searched = index.scores(caption, fusion=fusion).numpy()[order]
        np.testing.assert_allclose(searched, fused[qi], rtol=1e-4, atol=1e-5, err_msg=f"{fusion}: {caption!r}")
        hits = index.search(caption, top_k=3, fusion=fusion)
        best = np.argsort(-fused[qi], kind="stable")[:3]
        np.testing.assert_allclose([h["score"] for h in hits], fused[qi][best], atol=1e-5)
        checked += 1
    assert checked == 12
    if fusion == "zscore":  # standardised: each query's row over the gallery has mean 0 (alpha mixes two such)
        np.testing.assert_allclose(fused.mean(1), 0, atol=1e-5)


def test_zscore_fusion_is_refused_with_the_approximate_index(tiny_run, test_gallery):
    from glalign.errors import GlalignError
    from glalign.search import GalleryIndex

    index = GalleryIndex(tiny_run, test_gallery, index="faiss")
    with pytest.raises(GlalignError, match="use --index exact"):
        index.search("a man in a red shirt", fusion="zscore")
    with pytest.raises(GlalignError, match="unknown fusion"):
        index.search("a man in a red shirt", fusion="mean")
