"""Conformance with Keras 3's schedules (``keras.optimizers.schedules``), step by step.

Keras runs on its numpy backend here (``KERAS_BACKEND=numpy``, set before keras is
imported; no TensorFlow). Each schedule is called at every step ``0 .. N-1`` as an
optimizer calls it and compared with ``s(t)`` of the lrlab spelling in
docs/conventions.md. Keras computes in float32 (the dtype of ``initial_learning_rate``),
so the comparison is at float32 precision: each value within 8 float32 ulps of lrlab's,
or 4 float32 ulps of the peak where a formula cancels (``1 + cos`` near a cycle's end).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import lrlab
from peers import EPS32, assert_close_rel

os.environ.setdefault("KERAS_BACKEND", "numpy")
keras = pytest.importorskip("keras")
schedules = keras.optimizers.schedules

LR = 0.1


def ours(schedule: lrlab.Schedule, steps: int) -> np.ndarray:
    scalar = np.array([schedule(t) for t in range(steps)])
    np.testing.assert_array_equal(scalar, schedule.values(steps))
    assert np.all(np.isfinite(scalar)) and np.all(scalar >= 0)
    return scalar


def keras_values(schedule, steps: int) -> np.ndarray:
    out = np.array([np.asarray(schedule(t)) for t in range(steps)])
    assert out.dtype == np.float32, out.dtype
    return out.astype(np.float64)


def check(keras_schedule, s: lrlab.Schedule, steps: int, label: str, peak: float = LR) -> None:
    assert_close_rel(ours(s, steps), keras_values(keras_schedule, steps), rtol=8 * EPS32,
                     atol=4 * EPS32 * peak, label=f"keras {label}")


@pytest.mark.parametrize(("every", "rate", "staircase"), [(10, 0.5, False), (10, 0.5, True),
                                                          (7, 0.96, True), (1, 0.99, False)])
def test_exponential_decay(every, rate, staircase):
    k = schedules.ExponentialDecay(LR, decay_steps=every, decay_rate=rate, staircase=staircase)
    check(k, lrlab.exponential(LR, rate, every=every, staircase=staircase), 120, "ExponentialDecay")


def test_exponential_growth_under_a_cap_it_never_reaches():
    """Keras lets ``decay_rate > 1`` grow without bound; lrlab needs a cap: one above every
    LR of the run gives Keras' values."""
    k = schedules.ExponentialDecay(LR, decay_steps=10, decay_rate=1.5)
    s = lrlab.exponential(LR, 1.5, every=10, cap=1e3)
    check(k, s, 120, "ExponentialDecay (growth)", peak=LR * 1.5**12)
    with pytest.raises(ValueError, match=r"exponential\.cap"):
        lrlab.exponential(LR, 1.5, every=10)


@pytest.mark.parametrize(("boundaries", "values"), [([10, 30], [0.1, 0.05, 0.01]), ([0, 5], [1.0, 0.5, 0.25]),
                                                    ([50], [3e-4, 3e-5])])
def test_piecewise_constant_decay(boundaries, values):
    """``values[i]`` for ``boundaries[i-1] < t <= boundaries[i]``: the level changes one step
    after each boundary: a join of constants (levels as given, no factors)."""
    k = schedules.PiecewiseConstantDecay(boundaries, values)
    edges = [-1, *boundaries]
    parts = [lrlab.constant(v, b - a) for v, a, b in zip(values, edges, boundaries)]
    s = lrlab.join(*parts, lrlab.constant(values[-1]))
    check(k, s, 80, "PiecewiseConstantDecay", peak=max(values))


@pytest.mark.parametrize(("decay_steps", "end", "power"), [(50, 1e-3, 1.0), (50, 0.0, 2.0), (33, 1e-4, 0.5)])
def test_polynomial_decay(decay_steps, end, power):
    k = schedules.PolynomialDecay(LR, decay_steps, end_learning_rate=end, power=power)
    check(k, lrlab.polynomial(LR, end, decay_steps, power=power), 100, "PolynomialDecay")


@pytest.mark.parametrize(("decay_steps", "end", "power"), [(20, 1e-3, 1.0), (20, 0.0, 2.0), (7, 1e-4, 0.5)])
def test_polynomial_decay_cycle(decay_steps, end, power):
    """``cycle=True`` multiplies the horizon by ``ceil(t / decay_steps)``: at each multiple
    of ``decay_steps`` the LR is at ``end`` and the next step reads the curve stretched over
    the next multiple, part-way up: ``extend(polynomial(...))``, not ``repeat``."""
    k = schedules.PolynomialDecay(LR, decay_steps, end_learning_rate=end, power=power, cycle=True)
    s = lrlab.extend(lrlab.polynomial(LR, end, decay_steps, power=power))
    check(k, s, 6 * decay_steps + 3, "PolynomialDecay(cycle=True)")
    plain = lrlab.repeat(lrlab.polynomial(LR, end, decay_steps, power=power))
    assert s(decay_steps + 1) != plain(decay_steps + 1)


@pytest.mark.parametrize(("every", "rate", "staircase"), [(10, 0.5, False), (10, 0.5, True), (1, 0.1, False),
                                                          (3, 2.0, True)])
def test_inverse_time_decay(every, rate, staircase):
    k = schedules.InverseTimeDecay(LR, decay_steps=every, decay_rate=rate, staircase=staircase)
    s = lrlab.inverse_time(LR, rate, every=every, staircase=staircase)
    check(k, s, 120, "InverseTimeDecay")
    if staircase:  # the staircase is the smooth decay held for each `every` steps
        smooth = lrlab.quantize(lrlab.inverse_time(LR, rate, every=every), every)
        check(k, smooth, 120, "InverseTimeDecay (quantize)")


@pytest.mark.parametrize(("decay_steps", "alpha"), [(100, 0.0), (100, 0.1), (37, 0.01)])
def test_cosine_decay(decay_steps, alpha):
    """``alpha`` is the floor as a fraction of the LR: ``cosine(lr, alpha * lr, decay_steps)``."""
    k = schedules.CosineDecay(LR, decay_steps, alpha=alpha)
    check(k, lrlab.cosine(LR, alpha * LR, decay_steps), decay_steps + 20, "CosineDecay")


@pytest.mark.parametrize(("init", "target", "warm", "decay_steps", "alpha"),
                         [(0.0, 0.1, 10, 100, 0.0), (1e-3, 0.1, 25, 50, 0.1), (0.01, 0.05, 5, 37, 0.01)])
def test_cosine_decay_warmup_outside(init, target, warm, decay_steps, alpha):
    """With ``warmup_target`` Keras warms up from ``initial_learning_rate`` to the target
    over ``warmup_steps`` and then decays over ``decay_steps``: the warmup is *outside* the
    decay (optax and transformers put it inside)."""
    k = schedules.CosineDecay(init, decay_steps, alpha=alpha, warmup_target=target, warmup_steps=warm)
    s = lrlab.warmup(warm, lrlab.cosine(target, alpha * target, decay_steps), start_factor=init / target)
    assert s.length == warm + decay_steps
    check(k, s, warm + decay_steps + 20, "CosineDecay(warmup_target)", peak=target)


@pytest.mark.parametrize(("first", "t_mul", "m_mul", "alpha"), [
    (10, 2.0, 1.0, 0.0), (10, 2.0, 0.5, 0.1), (20, 1.0, 0.8, 0.05), (7, 1.5, 0.9, 0.01), (10, 3.0, 0.5, 0.0),
])
def test_cosine_decay_restarts(first, t_mul, m_mul, alpha):
    """``alpha * lr`` is a floor *added under* an amplitude that decays by ``m_mul`` per
    cycle, ``lr * (alpha + (1 - alpha) m_mul^i (1 + cos) / 2)``: ``offset(sgdr(...), alpha *
    lr)`` (timm's ``lr_min`` is different: the peak decays, the floor stays)."""
    k = schedules.CosineDecayRestarts(LR, first, t_mul=t_mul, m_mul=m_mul, alpha=alpha)
    s = lrlab.offset(lrlab.sgdr((1 - alpha) * LR, first, mult=t_mul, decay=m_mul), alpha * LR)
    # Keras finds the cycle from a float32 log (as timm does in float64, see
    # test_conformance_timm's log-index test); on these horizons it misses no restart
    check(k, s, 300, "CosineDecayRestarts")
