"""McNemar and bootstrap against small known cases."""
import numpy as np
import pytest
from scipy.stats import binomtest

from glalign.stats import bootstrap_ci, contingency, mcnemar_test


def test_contingency_counts():
    a = [1, 1, 0, 0, 1]
    b = [1, 0, 1, 0, 0]
    assert contingency(a, b).tolist() == [[1, 2], [1, 1]]


def test_exact_when_few_discordant():
    a = np.array([1] * 9 + [0] * 1 + [1] * 20, bool)  # 9 a-only, 1 b-only
    b = np.array([0] * 9 + [1] * 1 + [1] * 20, bool)
    res = mcnemar_test(a, b)
    assert res["method"] == "exact binomial"
    assert (res["only_a"], res["only_b"]) == (9, 1)
    assert res["pvalue"] == pytest.approx(binomtest(1, 10, 0.5).pvalue)


def test_chi_square_with_correction_when_many_discordant():
    a = np.array([1] * 40 + [0] * 20 + [1] * 40, bool)
    b = np.array([0] * 40 + [1] * 20 + [1] * 40, bool)
    res = mcnemar_test(a, b)
    assert res["method"].startswith("chi-square")
    assert res["statistic"] == pytest.approx((abs(40 - 20) - 1) ** 2 / 60)


def test_bootstrap_is_seeded_and_brackets_the_mean():
    x = np.r_[np.ones(70), np.zeros(30)]
    lo, hi = bootstrap_ci(x, seed=1)
    assert (lo, hi) == bootstrap_ci(x, seed=1)
    assert lo < 70 < hi and hi - lo < 25


def test_unpaired_lengths_fail():
    with pytest.raises(ValueError, match="differ in length"):
        contingency([1, 0], [1])


def test_cluster_bootstrap_is_wider_for_correlated_captions():
    """Ten captions per person, all right or all wrong: 10 independent outcomes, not 100."""
    pids = np.repeat(np.arange(10), 10)
    x = np.repeat(np.r_[np.ones(7), np.zeros(3)], 10)
    naive = bootstrap_ci(x, seed=2)
    lo, hi = bootstrap_ci(x, clusters=pids, seed=2)
    assert lo < 70 < hi and (hi - lo) > 1.8 * (naive[1] - naive[0])
    # one caption per person: resampling people is resampling captions
    one = np.r_[np.ones(70), np.zeros(30)]
    a, b = bootstrap_ci(one, clusters=np.arange(100), seed=3), bootstrap_ci(one, seed=3)
    assert abs((a[1] - a[0]) - (b[1] - b[0])) < 3
