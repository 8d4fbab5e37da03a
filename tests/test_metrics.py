"""rank_metrics against hand-worked cases (IRRA's definitions)."""
import numpy as np
import pytest

from glalign.metrics import first_correct_rank, rank_metrics


def test_hand_worked_two_queries():
    # gallery pids: 0 1 0 2 ; query 0 ranks [g1, g0, g2, g3] -> positives at ranks 2 and 3
    # query 1 ranks [g1, ...] -> positive at rank 1
    sim = np.array([[0.8, 0.9, 0.7, 0.1],
                    [0.2, 0.9, 0.3, 0.1]])
    m = rank_metrics(sim, np.array([0, 1]), np.array([0, 1, 0, 2]), max_rank=3)
    assert m["R1"] == pytest.approx(50.0)
    assert m["cmc"].tolist() == pytest.approx([50.0, 100.0, 100.0])
    # AP(q0) = (1/2 + 2/3) / 2 = 7/12 ; AP(q1) = 1
    assert m["mAP"] == pytest.approx((7 / 12 + 1) / 2 * 100)
    # INP(q0) = 2/3 (hardest positive at rank 3, 2 positives) ; INP(q1) = 1
    assert m["mINP"] == pytest.approx((2 / 3 + 1) / 2 * 100)
    assert set(m) >= {"R1", "R5", "R10", "mAP", "mINP", "cmc"}
    assert all(isinstance(m[k], float) for k in ("R1", "R5", "R10", "mAP", "mINP"))


def test_ties_go_to_lower_gallery_index():
    sim = np.zeros((1, 3))
    assert rank_metrics(sim, [7], [7, 8, 7])["R1"] == 100.0
    assert rank_metrics(sim, [7], [8, 7, 7])["R1"] == 0.0
    ranks, top = first_correct_rank(sim, np.array([7]), np.array([8, 7, 7]))
    assert ranks.tolist() == [2] and top[0].tolist() == [0, 1, 2]


def test_chunking_gives_the_same_numbers():
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(37, 50))
    q, g = rng.integers(0, 10, 37), np.tile(np.arange(10), 5)
    a, b = rank_metrics(sim, q, g), rank_metrics(sim, q, g, chunk=4)
    for k in ("R1", "R5", "R10", "mAP", "mINP"):
        assert a[k] == pytest.approx(b[k])


def test_query_without_gallery_match_is_named():
    with pytest.raises(ValueError, match=r"query 1 \(person id 9\)"):
        rank_metrics(np.zeros((2, 2)), [1, 9], [1, 2])


def test_shape_mismatch():
    with pytest.raises(ValueError, match="queries x gallery"):
        rank_metrics(np.zeros((2, 3)), [1, 2], [1, 2])


def test_chance_r1_is_the_share_of_the_gallery_showing_the_query():
    from glalign.metrics import chance_r1

    # query 1: 2 of 4 gallery images; query 2: 1 of 4 -> (50 + 25) / 2
    assert chance_r1([1, 2], [1, 1, 2, 3]) == 37.5
    # a random ranking's Rank-1 over many draws agrees
    rng = np.random.default_rng(0)
    g = np.array([1, 1, 2, 3, 3, 3])
    q = np.array([1, 3, 2])
    hits = np.mean([[g[rng.permutation(len(g))[0]] == p for p in q] for _ in range(20000)]) * 100
    assert abs(hits - chance_r1(q, g)) < 1.0
