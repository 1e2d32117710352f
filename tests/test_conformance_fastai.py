"""Conformance with fastai's ``Learner.fit_one_cycle``, step by step.

fastai itself is not a test dependency (``fastai.callback.schedule`` imports pandas,
matplotlib, requests, PyYAML and scipy through ``fastai.imports``), so the reference is
:func:`peers.fastai_one_cycle_lrs`, written from fastai 2.8.12's source: its phase
positions go through float32 tensors (``combine_scheds``), so the comparison is at float32
precision in the position: 8 float32 ulps relative, or 4 float32 ulps of the peak.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrlab
from peers import EPS32, assert_close_rel, fastai_one_cycle_lrs

PEAK = 3e-3


def ours(schedule: lrlab.Schedule, steps: int) -> np.ndarray:
    scalar = np.array([schedule(t) for t in range(steps)])
    np.testing.assert_array_equal(scalar, schedule.values(steps))
    return scalar


def fastai(peak: float, steps: int, pct_start: float = 0.25, div: float = 25.0,
           div_final: float = 1e5) -> lrlab.Schedule:
    """fastai's spelling: ``div_final`` divides the peak, lrlab's ``final_div`` the start."""
    return lrlab.onecycle(peak, steps, pct_start=pct_start, div=div, final_div=div_final / div,
                          convention="fastai")


@pytest.mark.parametrize(("n_epoch", "n_iter"),
                         [(1, 100), (3, 30), (5, 7), (2, 11), (4, 250), (1, 3)])
def test_fit_one_cycle_defaults(n_epoch, n_iter):
    """pct_start 0.25, div 25, div_final 1e5, cosine up and down; ``pct_start * total`` is
    fractional for 3 x 30 (22.5), 5 x 7 (8.75), 2 x 11 (5.5): the phases meet between two
    updates, as fastai places them."""
    total = n_epoch * n_iter
    theirs = fastai_one_cycle_lrs(n_epoch, n_iter, PEAK)
    s = fastai(PEAK, total)
    assert s == lrlab.parse(str(s))
    assert_close_rel(ours(s, total), theirs, rtol=8 * EPS32, atol=4 * EPS32 * PEAK,
                     label="fastai fit_one_cycle")


@pytest.mark.parametrize(("pct_start", "div", "div_final"),
                         [(0.3, 10.0, 1e4), (0.1, 25.0, 1e5), (0.5, 5.0, 100.0)])
def test_fit_one_cycle_other_settings(pct_start, div, div_final):
    n_epoch, n_iter = 3, 37
    total = n_epoch * n_iter
    theirs = fastai_one_cycle_lrs(n_epoch, n_iter, PEAK, div=div, div_final=div_final, pct_start=pct_start)
    s = fastai(PEAK, total, pct_start=pct_start, div=div, div_final=div_final)
    assert_close_rel(ours(s, total), theirs, rtol=8 * EPS32, atol=4 * EPS32 * PEAK,
                     label="fastai fit_one_cycle")


def test_fastai_convention_differs_from_torch_and_optax():
    """torch ends the warmup one step early (``pct * total - 1``), optax at
    ``int(pct * total)``; fastai at ``pct * total`` itself (22.5 here)."""
    total = 90
    theirs = fastai_one_cycle_lrs(3, 30, PEAK)
    for convention in ("torch", "optax"):
        other = lrlab.onecycle(PEAK, total, pct_start=0.25, final_div=4000.0, convention=convention)
        assert np.max(np.abs(ours(other, total) - theirs) / theirs) > 1e-3
    s = fastai(PEAK, total)
    assert s.boundaries()[:3] == (0.0, 22.5, 90.0)
