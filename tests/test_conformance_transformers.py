"""Conformance with transformers' schedules (``transformers.optimization``), step by step.

Every transformers schedule is a ``LambdaLR``: ``lr(t) = base_lr * lambda(t)``. Each test
builds it on a real SGD optimizer, drives it in torch's order and compares the LR of
every update with ``s(t)`` of the lrlab spelling (docs/conventions.md), relative tolerance
1e-12. Horizons: tiny and odd ones, medium ones and one of several thousand steps.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrlab
from peers import EPS, assert_close_rel, torch_lrs

pytest.importorskip("torch")
opt_mod = pytest.importorskip("transformers.optimization")

PEAK = 3e-4

HORIZONS = [(0, 7), (3, 17), (1, 2), (10, 101), (100, 1000), (500, 5000)]


def ours(schedule: lrlab.Schedule, steps: int) -> np.ndarray:
    scalar = np.array([schedule(t) for t in range(steps)])
    np.testing.assert_array_equal(scalar, schedule.values(steps))
    return scalar


def hf_warmup(warm: int, then: lrlab.Schedule) -> lrlab.Schedule:
    """transformers' warmup, ``lr * t / W`` from 0 (lrlab's default); none when ``W = 0``."""
    return lrlab.warmup(warm, then) if warm > 0 else then


def run(factory, steps: int, lr: float = PEAK) -> np.ndarray:
    return torch_lrs(factory, steps, lr)


# --- linear, cosine, cosine with a floor ------------------------------------------------


@pytest.mark.parametrize(("warm", "total"), HORIZONS)
def test_linear_schedule_with_warmup(warm, total):
    steps = total + 20  # transformers clamps at 0 past the end: lrlab holds 0
    theirs = run(lambda o: opt_mod.get_linear_schedule_with_warmup(o, warm, total), steps)
    s = hf_warmup(warm, lrlab.linear(PEAK, 0.0, total - warm))
    assert_close_rel(ours(s, steps), theirs, label="transformers linear")


@pytest.mark.parametrize(("warm", "total"), HORIZONS)
def test_cosine_schedule_with_warmup(warm, total):
    steps = total + 1  # past the end transformers' cosine rises again (see the test below)
    theirs = run(lambda o: opt_mod.get_cosine_schedule_with_warmup(o, warm, total), steps)
    s = hf_warmup(warm, lrlab.cosine(PEAK, 0.0, total - warm))
    if warm > 0 and total - warm > 0:
        assert s == lrlab.warmup_cosine(PEAK, total, warm)
    assert_close_rel(ours(s, steps), theirs, label="transformers cosine")


def test_cosine_schedule_rises_past_the_end():
    """Documented difference: num_cycles=0.5 keeps following cos past num_training_steps."""
    warm, total = 2, 12
    theirs = run(lambda o: opt_mod.get_cosine_schedule_with_warmup(o, warm, total), 3 * total)
    s = lrlab.warmup_cosine(PEAK, total, warm)
    assert theirs[total] == 0.0 and s(total) == 0.0
    assert theirs[total + 5] > 0.1 * PEAK  # transformers climbs back towards the peak
    assert s(total + 5) == 0.0  # lrlab holds its end value


@pytest.mark.parametrize(("warm", "total", "cycles"), [(10, 110, 1.0), (0, 99, 1.5), (5, 405, 2.0)])
def test_cosine_schedule_more_cycles(warm, total, cycles):
    """``num_cycles`` other than 0.5 makes the cosine swing back up; for a multiple of 0.5
    it is a join of half-cosines, alternately falling and rising (lrlab's cosine has no
    ``num_cycles``: a finding, reachable only this way)."""
    steps = total + 1
    theirs = run(lambda o: opt_mod.get_cosine_schedule_with_warmup(o, warm, total, num_cycles=cycles), steps)
    halves = round(2 * cycles)
    length = (total - warm) / halves
    swings = [lrlab.cosine(PEAK, 0.0, length) if k % 2 == 0 else lrlab.cosine(0.0, PEAK, length)
              for k in range(halves)]
    s = hf_warmup(warm, lrlab.join(*swings))
    assert_close_rel(ours(s, steps), theirs, label="transformers cosine (num_cycles)")


def hf_cosine_cycles(peak: float, decay: float, cycles: float) -> lrlab.Schedule:
    """transformers' ``0.5 (1 + cos(2 pi num_cycles p))`` over ``decay`` steps as an lrlab
    value: a half-cosine down and one back up, each ``L = decay / (2 num_cycles)`` steps,
    repeated, and stopped at ``decay`` (where transformers' own curve is, mid-swing if
    ``num_cycles`` is not a multiple of 0.5): ``limit(repeat(join(down, up)), decay)``."""
    half = decay / (2 * cycles)
    swing = lrlab.join(lrlab.cosine(peak, 0.0, half), lrlab.cosine(0.0, peak, half))
    return lrlab.limit(lrlab.repeat(swing), decay)


@pytest.mark.parametrize(("warm", "total", "cycles"),
                         [(10, 110, 0.75), (0, 99, 1.3), (5, 405, 2.2), (3, 50, 0.1), (20, 1020, 3.7),
                          (0, 64, 1.0)])
def test_cosine_schedule_any_num_cycles(warm, total, cycles):
    """``num_cycles`` not a multiple of 0.5 stops the cosine mid-swing at ``T``; lrlab holds
    the value reached there."""
    steps = total + 10
    theirs = run(lambda o: opt_mod.get_cosine_schedule_with_warmup(o, warm, total, num_cycles=cycles),
                 total + 1)
    s = hf_warmup(warm, hf_cosine_cycles(PEAK, total - warm, cycles))
    # near the bottom of each swing (1 + cos -> 0) transformers' cos(2 pi n p) and lrlab's
    # cos(pi x) of the local time round differently: ~eps * peak absolutely (as hard restarts)
    assert_close_rel(ours(s, steps)[:total + 1], theirs, atol=EPS * PEAK,
                     label="transformers cosine (any num_cycles)")
    assert s(total + 9) == s(total)


@pytest.mark.parametrize(("warm", "total", "cycles"), [(2, 12, 0.5), (10, 110, 0.75)])
def test_cosine_schedule_past_the_end_through_repeat(warm, total, cycles):
    """transformers' cosine keeps going past ``T`` (rising again); leaving out the ``limit``
    gives that: ``warmup(W, repeat(join(down, up)))``."""
    steps = 4 * total
    theirs = run(lambda o: opt_mod.get_cosine_schedule_with_warmup(o, warm, total, num_cycles=cycles), steps)
    half = (total - warm) / (2 * cycles)
    swing = lrlab.join(lrlab.cosine(PEAK, 0.0, half), lrlab.cosine(0.0, PEAK, half))
    s = hf_warmup(warm, lrlab.repeat(swing))
    # as above: ~eps * peak absolutely at the bottom of each swing
    assert_close_rel(ours(s, steps), theirs, atol=EPS * PEAK, label="transformers cosine (past the end)")
    assert theirs[total + 5] > 0.1 * PEAK


@pytest.mark.parametrize(("warm", "total"), [(0, 10), (4, 30), (100, 1000)])
def test_constant_schedules(warm, total):
    theirs = run(lambda o: opt_mod.get_constant_schedule_with_warmup(o, warm), total)
    assert_close_rel(ours(hf_warmup(warm, lrlab.constant(PEAK)), total), theirs,
                     label="transformers constant_with_warmup")
    theirs = run(lambda o: opt_mod.get_constant_schedule(o), total)
    assert_close_rel(ours(lrlab.constant(PEAK), total), theirs, label="transformers constant")


@pytest.mark.parametrize(("warm", "total"), HORIZONS)
@pytest.mark.parametrize("how", ["min_lr", "min_lr_rate"])
def test_cosine_with_min_lr_schedule_with_warmup(warm, total, how):
    steps = total + 1  # oscillates past the end, as get_cosine_schedule_with_warmup
    floor = 0.1 * PEAK
    kwargs = {"min_lr": floor} if how == "min_lr" else {"min_lr_rate": 0.1}
    theirs = run(lambda o: opt_mod.get_cosine_with_min_lr_schedule_with_warmup(o, warm, total, **kwargs),
                 steps)
    s = hf_warmup(warm, lrlab.cosine(PEAK, floor, total - warm))
    assert_close_rel(ours(s, steps), theirs, label="transformers cosine_with_min_lr")


@pytest.mark.parametrize(("warm", "total", "warmup_lr_rate"),
                         [(1, 9, None), (2, 9, 0.05), (4, 23, None), (4, 23, 0.05), (10, 101, None),
                          (300, 3000, None), (300, 3000, 0.05)])
def test_cosine_with_min_lr_schedule_with_warmup_lr_rate(warm, total, warmup_lr_rate):
    """The ``_lr_rate`` variant counts from 1: warmup ``(t + 1) / W`` reaching the peak at
    ``t = W - 1`` (or ``r + (1 - r) t / (W - 1)``), cosine progress ``(t - W + 1) / (T - W)``,
    so the floor is reached at ``t = T - 1``. (With ``W = 1`` and a ``warmup_lr_rate`` it
    never reaches the peak: ``t = 0`` gives ``r``, ``t = 1`` is already one cosine step in;
    lrlab has no spelling for that degenerate case.)"""
    steps = total  # at t = T its cosine has passed the floor and rises again
    theirs = run(lambda o: opt_mod.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
        o, warm, total, min_lr_rate=0.1, warmup_lr_rate=warmup_lr_rate), steps)
    decay = lrlab.cosine(PEAK, 0.1 * PEAK, total - warm)
    start = 1 / warm if warmup_lr_rate is None else warmup_lr_rate
    s = lrlab.warmup(warm - 1, decay, start_factor=start) if warm > 1 else decay
    assert_close_rel(ours(s, steps), theirs, label="transformers cosine_with_min_lr_lr_rate")


# --- hard restarts -------------------------------------------------------------------


@pytest.mark.parametrize(("warm", "total", "cycles"),
                         [(0, 30, 3), (2, 17, 1), (5, 105, 4), (10, 110, 3), (100, 5000, 7), (0, 64, 2)])
def test_cosine_with_hard_restarts_schedule_with_warmup(warm, total, cycles):
    steps = total + 20  # transformers returns 0 once progress >= 1: lrlab holds the floor 0
    theirs = run(lambda o: opt_mod.get_cosine_with_hard_restarts_schedule_with_warmup(
        o, warm, total, num_cycles=cycles), steps)
    s = hf_warmup(warm, lrlab.sgdr(PEAK, (total - warm) / cycles, cycles=cycles))
    # transformers forms the cosine's argument as (n * p) % 1 with p = (t - W) / (T - W):
    # the product carries an absolute error of up to ~n * eps that lrlab's
    # (t' - k L) / L has not, so near each cycle's end, where 1 + cos(pi x) -> 0 and cos
    # sits next to -1 (ulp eps/2), the two cosines can round to neighbouring doubles:
    # LR difference <= peak/2 * eps/2. Bounded here by eps * peak.
    assert_close_rel(ours(s, steps), theirs, atol=EPS * PEAK, label="transformers cosine_with_hard_restarts")


# --- polynomial ------------------------------------------------------------------------


@pytest.mark.parametrize(("warm", "total"), [(0, 9), (3, 17), (10, 101), (250, 5000)])
@pytest.mark.parametrize(("power", "lr_end"), [(1.0, 1e-7), (2.0, 0.0), (0.5, 1e-6), (2.0, 3e-5), (1.0, 0.0)])
def test_polynomial_decay_schedule_with_warmup(warm, total, power, lr_end):
    steps = total + 20  # past the end transformers returns lr_end, as lrlab holds it
    theirs = run(lambda o: opt_mod.get_polynomial_decay_schedule_with_warmup(
        o, warm, total, lr_end=lr_end, power=power), steps)
    s = hf_warmup(warm, lrlab.polynomial(PEAK, lr_end, total - warm, power))
    # transformers writes the remaining fraction as 1 - (t - W) / D, lrlab as (D - t') / D;
    # the subtraction cancels near the end, but stays within 1e-12 here (no extra tolerance).
    assert_close_rel(ours(s, steps), theirs, label="transformers polynomial_decay")


# --- inverse square root ---------------------------------------------------------------


@pytest.mark.parametrize(("warm", "timescale"),
                         [(0, None), (10, None), (4000, None), (0, 500), (100, 37), (1000, 20_000)])
def test_inverse_sqrt_schedule(warm, timescale):
    steps = max(2 * warm, 300) + 2000
    theirs = run(lambda o: opt_mod.get_inverse_sqrt_schedule(o, warm, timescale=timescale), steps)
    scale = timescale if timescale is not None else (warm or 10_000)  # transformers' default
    s = hf_warmup(warm, lrlab.inverse_sqrt(PEAK, scale))
    assert_close_rel(ours(s, steps), theirs, label="transformers inverse_sqrt")


# --- warmup-stable-decay -----------------------------------------------------------------

WSD_SHAPES = {"linear": "linear", "cosine": "cosine", "1-sqrt": "one_minus_sqrt"}


@pytest.mark.parametrize("warmup_type", list(WSD_SHAPES))
@pytest.mark.parametrize("decay_type", list(WSD_SHAPES))
@pytest.mark.parametrize("ratio", [0.0, 0.1])
@pytest.mark.parametrize(("warm", "stable", "decay", "form"),
                         [(5, 11, 7, "num_stable_steps"), (40, 150, 67, "num_training_steps"),
                          (0, 30, 13, "num_training_steps"), (200, 2500, 800, "num_stable_steps")])
def test_wsd_schedule(warmup_type, decay_type, ratio, warm, stable, decay, form):
    total = warm + stable + decay
    if form == "num_stable_steps":
        kwargs = {"num_stable_steps": stable}
    else:
        kwargs = {"num_training_steps": total}
    steps = total + 20  # past the end transformers returns min_lr_ratio: lrlab holds the floor
    theirs = run(lambda o: opt_mod.get_wsd_schedule(
        o, warm, decay, warmup_type=warmup_type, decay_type=decay_type, min_lr_ratio=ratio, **kwargs),
        steps)
    s = lrlab.wsd(PEAK, total, warmup=warm, cooldown=decay, shape=WSD_SHAPES[decay_type],
                  floor=ratio * PEAK, start=ratio * PEAK, warmup_shape=WSD_SHAPES[warmup_type])
    assert lrlab.parse(str(s)) == s
    assert_close_rel(ours(s, steps), theirs, atol=_wsd_atol(warmup_type, warm, ratio),
                     label="transformers wsd")


def _wsd_atol(warmup_type: str, warm: int, ratio: float) -> float:
    """Only a cosine warmup from 0 needs an absolute term. transformers writes it as
    ``0.5 * (1 - cos(pi p))``, which cancels for small ``p``: cos returns a value within
    1/2 ulp of 1 (an absolute error of eps/4) while the factor is ~ (pi p)^2 / 4. lrlab
    evaluates the rising cosine with the falling expression ``peak + (0 - peak) * f`` (the
    one torch's OneCycleLR uses), which cancels the same way in the last multiplication.
    The two agree to a few eps * peak absolutely, i.e. to ~1e-12 relatively only at the
    first steps of a long warmup, where the LR is ~ peak / W^2. The 1-sqrt warmup's
    ``1 - sqrt(1 - p)`` cancels too, but its factor ~ p / 2 keeps it within 1e-12.
    """
    if warm == 0 or ratio > 0 or warmup_type != "cosine":
        return 0.0
    return 2 * EPS * PEAK


# --- names and defaults --------------------------------------------------------------------


def test_wsd_type_names_map_to_lrlab_shapes():
    for shape in WSD_SHAPES.values():
        assert shape in lrlab.SHAPES
