"""The lab's statistics against scipy.stats and Holm's procedure worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from lrlab.lab.stats import holm, paired_difference, t_quantile


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 7, 30, 1000])
def test_t_quantile_is_scipys(dof):
    for p in (0.9, 0.975, 0.995):
        assert t_quantile(p, dof) == pytest.approx(scipy.stats.t.ppf(p, dof), rel=1e-10)


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_paired_difference_is_scipys_ttest_rel(n):
    rng = np.random.default_rng(n)
    base = rng.normal(2.0, 0.5, n)
    arm = base + rng.normal(0.1, 0.05, n)
    mine = paired_difference(list(arm), list(base))
    test = scipy.stats.ttest_rel(arm, base)
    ci = test.confidence_interval(0.95)
    assert mine.n == n
    assert mine.mean_diff == pytest.approx(float(np.mean(arm - base)), rel=1e-12)
    assert mine.ci == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert mine.p == pytest.approx(test.pvalue, rel=1e-8)


def test_paired_difference_edge_cases():
    one = paired_difference([1.5], [1.0])
    assert (one.mean_diff, one.ci, one.p, one.n) == (0.5, None, None, 1)
    assert paired_difference([], []).n == 0
    same = paired_difference([1.0, 2.0], [0.5, 1.5])  # identical differences: no spread
    assert (same.mean_diff, same.ci, same.p) == (0.5, (0.5, 0.5), 0.0)
    zero = paired_difference([1.0, 2.0], [1.0, 2.0])
    assert (zero.mean_diff, zero.p) == (0.0, 1.0)
    nan = paired_difference([1.0, math.nan, 3.0], [0.0, 0.0, 1.0])  # a non-finite pair is left out
    assert nan.n == 2 and nan.mean_diff == pytest.approx(1.5)
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0], [1.0, 2.0])


def test_holm_by_hand():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, None, 0.9]) == [pytest.approx(1.0), None, pytest.approx(1.0)]
    assert holm([]) == [] and holm([None]) == [None]
    assert holm([0.02]) == [0.02]
