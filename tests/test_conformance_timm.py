"""Conformance with timm's schedulers (``timm.scheduler``), step by step.

Each test builds a real timm scheduler on an SGD optimizer, drives it as timm's
``train.py`` does (``step_update(num_updates)`` after each update; ``step(epoch)`` at the
end of each epoch: :func:`peers.timm_lrs`) and compares the LR of every update with
``s(t)`` of the lrlab spelling in docs/conventions.md, relative tolerance 1e-12.

``timm.scheduler`` is imported without ``timm/__init__`` (which needs torchvision; see
:func:`peers.timm_scheduler`). Where timm's own arithmetic has a quirk (its log-based cycle
index, ``//`` on a float ``decay_t``), a test pins the difference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrlab
from peers import assert_close_rel, timm_lrs, timm_scheduler

pytest.importorskip("torch")
try:
    sched = timm_scheduler()
except ImportError as error:  # pragma: no cover - timm is a dev dependency
    pytest.skip(f"timm.scheduler is not available: {error}", allow_module_level=True)

LR = 0.1


def ours(schedule: lrlab.Schedule, steps: int) -> np.ndarray:
    scalar = np.array([schedule(t) for t in range(steps)])
    np.testing.assert_array_equal(scalar, schedule.values(steps))
    assert np.all(np.isfinite(scalar)) and np.all(scalar >= 0)
    return scalar


def timm_warmup(warm: int, init: float, then: lrlab.Schedule, prefix: bool,
                target: float = LR) -> lrlab.Schedule:
    """timm's warmup, ``init + t * (target - init) / W`` for ``t < W``, before ``then``.

    ``warmup_prefix=True``: ``then`` starts after the warmup (lrlab's ``warmup``, which rises
    to ``then(0) = target``). ``False`` (the default of the cosine, poly and tanh
    schedulers): ``then`` is read at the absolute step, so it enters ``W`` steps into its
    course, ``shift(then, W)``, while the ramp still climbs to ``target`` (the base LR; for
    tanh the value at ``W``), so the LR drops at ``W``: a join, not a ``warmup``.
    """
    if warm == 0:
        return then
    if prefix:
        return lrlab.warmup(warm, then, start_factor=init / target)
    return lrlab.join(lrlab.linear(init, target, warm), lrlab.shift(then, warm))


# --- CosineLRScheduler ------------------------------------------------------------------


@pytest.mark.parametrize(("t_initial", "lr_min", "warm", "init", "prefix"), [
    (100, 0.0, 0, 0.0, False),
    (100, 1e-3, 10, 1e-4, True),
    (100, 1e-3, 10, 1e-4, False),
    (37, 0.0, 5, 0.0, False),
    (1000, 1e-5, 50, 1e-6, False),
    (1000, 1e-5, 50, 0.0, True),
])
def test_cosine_warmup_prefix_both_ways(t_initial, lr_min, warm, init, prefix):
    steps = t_initial + warm + 30
    theirs = timm_lrs(lambda o: sched.CosineLRScheduler(
        o, t_initial=t_initial, lr_min=lr_min, warmup_t=warm, warmup_lr_init=init,
        warmup_prefix=prefix, t_in_epochs=False), steps, LR)
    s = timm_warmup(warm, init, lrlab.cosine(LR, lr_min, t_initial), prefix)
    assert_close_rel(ours(s, steps), theirs, label="timm cosine")


def test_cosine_without_prefix_starts_part_way():
    """timm's default reads the cosine at the absolute step: right after a 20-step warmup
    it is 20 steps into its swing, below the peak, and it ends at ``t_initial`` (not
    ``t_initial + warmup_t``)."""
    theirs = timm_lrs(lambda o: sched.CosineLRScheduler(o, t_initial=100, warmup_t=20,
                                                        t_in_epochs=False), 130, LR)
    s = lrlab.join(lrlab.linear(0.0, LR, 20), lrlab.shift(lrlab.cosine(LR, 0.0, 100), 20))
    assert theirs[20] < 0.95 * LR and theirs[100] == 0.0
    assert s.length == 100
    assert_close_rel(ours(s, 130), theirs, label="timm cosine")


@pytest.mark.parametrize(("t_initial", "mul", "decay", "limit", "lr_min"), [
    (20, 1.0, 1.0, 3, 0.0),
    (20, 1.0, 0.5, 4, 1e-3),
    (20, 2.0, 0.5, 4, 1e-3),
    (10, 1.5, 0.8, 5, 0.0),
    (7, 2.0, 1.0, 3, 1e-2),
])
def test_cosine_cycles(t_initial, mul, decay, limit, lr_min):
    """``cycle_mul``, ``cycle_decay``, ``cycle_limit``: sgdr, or restarts of a cosine."""
    length = t_initial * (mul ** limit - 1) / (mul - 1) if mul != 1 else t_initial * limit
    steps = int(length) + 25
    theirs = timm_lrs(lambda o: sched.CosineLRScheduler(
        o, t_initial=t_initial, lr_min=lr_min, cycle_mul=mul, cycle_decay=decay,
        cycle_limit=limit, t_in_epochs=False), steps, LR)
    a = lrlab.sgdr(LR, t_initial, mult=mul, floor=lr_min, decay=decay, cycles=limit)
    b = lrlab.restarts(lrlab.cosine(LR, lr_min, t_initial), mult=mul, decay=decay, times=limit)
    assert_close_rel(ours(a, steps), theirs, label="timm cosine cycles (sgdr)")
    assert_close_rel(ours(b, steps), theirs, label="timm cosine cycles (restarts)")


def test_cosine_log_cycle_index_quirk():
    """timm finds the cycle as ``floor(log(1 - t / T (1 - m)) / log(m))``: with
    ``cycle_mul=3`` and ``t_initial=2``, cycle 5 starts at ``t = 242``, where the argument is
    243 and ``log(243) / log(3)`` rounds to 4.999999999999999: timm is still at the end of
    cycle 4 there (``lr_min``) and restarts one step late. lrlab restarts at 242
    (``index='exact'``, the default); ``index='log'`` reproduces timm."""
    T, mul, limit, lr_min = 2, 3.0, 6, 1e-3
    steps = 740
    theirs = timm_lrs(lambda o: sched.CosineLRScheduler(
        o, t_initial=T, lr_min=lr_min, cycle_mul=mul, cycle_limit=limit, t_in_epochs=False), steps, LR)
    exact = ours(lrlab.restarts(lrlab.cosine(LR, lr_min, T), mult=mul, times=limit), steps)
    quirk = lrlab.restarts(lrlab.cosine(LR, lr_min, T), mult=mul, times=limit, index="log")
    assert_close_rel(ours(quirk, steps), theirs, label="timm cosine cycles (index='log')")
    missed = np.flatnonzero(np.abs(exact - theirs) > 1e-9).tolist()
    assert missed == [242]  # the one restart timm's rounding misses
    assert theirs[242] == pytest.approx(lr_min) and exact[242] == LR and theirs[243] < LR
    assert math.log(243, 3) < 5  # the rounding behind it


@pytest.mark.parametrize(("k", "mul", "decay", "limit"), [(2.0, 1.0, 1.0, 1), (0.5, 1.0, 1.0, 1),
                                                          (3.0, 2.0, 0.5, 3), (1.5, 1.0, 0.7, 3)])
def test_cosine_k_decay(k, mul, decay, limit):
    """``k_decay``: ``cos(pi t^k / T^k)``, a power warp of time: ``warp(cosine(...), k)``."""
    T, lr_min = 50, 1e-3
    steps = int(T * (mul ** limit - 1) / (mul - 1) if mul != 1 else T * limit) + 20
    theirs = timm_lrs(lambda o: sched.CosineLRScheduler(
        o, t_initial=T, lr_min=lr_min, cycle_mul=mul, cycle_decay=decay, cycle_limit=limit,
        k_decay=k, t_in_epochs=False), steps, LR)
    s = lrlab.warp(lrlab.cosine(LR, lr_min, T), k)
    if limit > 1:
        s = lrlab.restarts(s, mult=mul, decay=decay, times=limit)
    assert_close_rel(ours(s, steps), theirs, label="timm cosine k_decay")


@pytest.mark.parametrize(("spe", "prefix"), [(7, True), (7, False), (1, False), (50, True)])
def test_cosine_t_in_epochs(spe, prefix):
    """``t_in_epochs=True``: timm moves the LR once per epoch, to the value of the epoch
    count: ``quantize(schedule in steps, '1ep')``, lengths in epochs."""
    epochs, warm, lr_min, init = 12, 3, 1e-3, 1e-4
    steps = (epochs + warm + 3) * spe
    theirs = timm_lrs(lambda o: sched.CosineLRScheduler(
        o, t_initial=epochs, lr_min=lr_min, warmup_t=warm, warmup_lr_init=init,
        warmup_prefix=prefix, t_in_epochs=True), steps, LR, steps_per_epoch=spe)
    cosine = lrlab.cosine(LR, lr_min, f"{epochs}ep")
    if prefix:
        in_epochs = lrlab.warmup(f"{warm}ep", cosine, start_factor=init / LR)
    else:
        in_epochs = lrlab.join(lrlab.linear(init, LR, f"{warm}ep"), lrlab.shift(cosine, f"{warm}ep"))
    s = lrlab.quantize(in_epochs, "1ep")
    s = s.resolve(lrlab.Budget(steps_per_epoch=spe))
    assert_close_rel(ours(s, steps), theirs, label="timm cosine t_in_epochs")


def test_cosine_everything_at_once():
    """timm's ImageNet-style call, scaled down: per-epoch stepping, a non-prefix warmup,
    three decaying cycles growing by 2, ``k_decay`` and a floor."""
    spe, warm, T = 5, 2, 4
    steps = spe * (warm + T * 7 + 4)
    theirs = timm_lrs(lambda o: sched.CosineLRScheduler(
        o, t_initial=T, lr_min=1e-3, cycle_mul=2.0, cycle_decay=0.5, cycle_limit=3, k_decay=1.5,
        warmup_t=warm, warmup_lr_init=1e-4, t_in_epochs=True), steps, LR, steps_per_epoch=spe)
    cycles = lrlab.restarts(lrlab.warp(lrlab.cosine(LR, 1e-3, "4ep"), 1.5), mult=2.0, decay=0.5, times=3)
    s = lrlab.quantize(lrlab.join(lrlab.linear(1e-4, LR, "2ep"), lrlab.shift(cycles, "2ep")), "1ep")
    s = lrlab.parse(str(s)).resolve(lrlab.Budget(steps_per_epoch=spe))
    assert_close_rel(ours(s, steps), theirs, label="timm cosine (all options)")


# --- PolyLRScheduler, TanhLRScheduler -----------------------------------------------------


@pytest.mark.parametrize(("power", "lr_min", "warm", "prefix", "k"), [
    (0.5, 0.0, 0, False, 1.0), (2.0, 1e-3, 10, False, 1.0), (1.0, 1e-3, 10, True, 1.0),
    (0.5, 1e-4, 5, False, 2.0), (3.0, 0.0, 0, False, 0.5),
])
def test_poly(power, lr_min, warm, prefix, k):
    T = 80
    steps = T + warm + 20
    theirs = timm_lrs(lambda o: sched.PolyLRScheduler(
        o, t_initial=T, power=power, lr_min=lr_min, warmup_t=warm, warmup_prefix=prefix,
        k_decay=k, t_in_epochs=False), steps, LR)
    curve: lrlab.Schedule = lrlab.polynomial(LR, lr_min, T, power=power)
    if k != 1.0:
        curve = lrlab.warp(curve, k)
    s = timm_warmup(warm, 0.0, curve, prefix)
    assert_close_rel(ours(s, steps), theirs, label="timm poly")


def test_poly_cycles():
    T, mul, decay, limit = 15, 2.0, 0.5, 3
    steps = 15 * 7 + 20
    theirs = timm_lrs(lambda o: sched.PolyLRScheduler(
        o, t_initial=T, power=2.0, lr_min=1e-3, cycle_mul=mul, cycle_decay=decay,
        cycle_limit=limit, k_decay=1.5, t_in_epochs=False), steps, LR)
    s = lrlab.restarts(lrlab.warp(lrlab.polynomial(LR, 1e-3, T, power=2.0), 1.5), mult=mul,
                       decay=decay, times=limit)
    assert_close_rel(ours(s, steps), theirs, label="timm poly cycles")


@pytest.mark.parametrize(("lb", "ub", "lr_min", "warm", "prefix"), [
    (-7.0, 3.0, 0.0, 0, False), (-7.0, 3.0, 1e-3, 10, False), (-6.0, 4.0, 1e-3, 10, True),
    (-3.0, 3.0, 1e-2, 0, False),
])
def test_tanh(lb, ub, lr_min, warm, prefix):
    """``TanhLRScheduler``: ``lr_min + (lr - lr_min) (1 - tanh(lb (1 - x) + ub x)) / 2``.

    Its curve starts below ``lr`` (``(1 - tanh(lb)) / 2`` of the way), which shows two timm
    details: without a warmup the first update still uses the optimizer's ``lr`` (the
    scheduler sets the LR only from ``step_update(1)`` on): ``join(constant(lr, 1),
    shift(curve, 1))``; a prefix warmup climbs to ``lr`` and drops to the curve, a
    non-prefix one climbs to the curve's value at ``W`` (as lrlab's ``warmup`` does)."""
    T = 60
    steps = T + warm + 20
    theirs = timm_lrs(lambda o: sched.TanhLRScheduler(
        o, t_initial=T, lb=lb, ub=ub, lr_min=lr_min, warmup_t=warm, warmup_prefix=prefix,
        t_in_epochs=False), steps, LR)
    curve = lrlab.tanh(LR, lr_min, T, lb=lb, ub=ub)
    if warm == 0:
        s: lrlab.Schedule = lrlab.join(lrlab.constant(LR, 1), lrlab.shift(curve, 1))
    elif prefix:
        s = lrlab.join(lrlab.linear(0.0, LR, warm), curve)
    else:
        s = lrlab.warmup(warm, lrlab.shift(curve, warm))
    assert_close_rel(ours(s, steps), theirs, label="timm tanh")


def test_tanh_cycles():
    T, mul, decay, limit = 20, 2.0, 0.5, 3
    steps = 20 * 7 + 20
    theirs = timm_lrs(lambda o: sched.TanhLRScheduler(
        o, t_initial=T, lr_min=1e-3, cycle_mul=mul, cycle_decay=decay, cycle_limit=limit,
        t_in_epochs=False), steps, LR)
    curve = lrlab.restarts(lrlab.tanh(LR, 1e-3, T), mult=mul, decay=decay, times=limit, peak=LR)
    s = lrlab.join(lrlab.constant(LR, 1), lrlab.shift(curve, 1))  # see test_tanh
    assert_close_rel(ours(s, steps), theirs, label="timm tanh cycles")


# --- StepLRScheduler, MultiStepLRScheduler ------------------------------------------------


@pytest.mark.parametrize(("decay_t", "rate", "warm", "init"), [(30, 0.1, 0, 0.0), (10, 0.5, 5, 1e-3),
                                                               (7, 0.9, 3, 0.0)])
def test_step(decay_t, rate, warm, init):
    steps = 100
    theirs = timm_lrs(lambda o: sched.StepLRScheduler(
        o, decay_t=decay_t, decay_rate=rate, warmup_t=warm, warmup_lr_init=init,
        t_in_epochs=False), steps, LR)
    s = timm_warmup(warm, init, lrlab.step(LR, rate, decay_t), prefix=True)
    assert_close_rel(ours(s, steps), theirs, label="timm step")


def test_step_float_decay_t_quirk():
    """timm computes ``t // decay_t``: on floats Python's ``//`` is the floor of the exact
    quotient, so with ``decay_t = 0.1`` (a double a little above 1/10) step 1 has decayed 9
    times, not 10. lrlab decays at ``floor(t / every)`` of the rounded quotient; the two
    differ exactly at the steps where they differ, and agree everywhere else."""
    steps, every, rate = 60, 0.1, 0.95
    theirs = timm_lrs(lambda o: sched.StepLRScheduler(o, decay_t=every, decay_rate=rate,
                                                      t_in_epochs=False), steps, LR)
    mine = ours(lrlab.step(LR, rate, every), steps)
    python = np.array([t // every for t in range(steps)])
    rounded = np.floor(np.arange(steps) / every)
    differ = python != rounded
    assert differ[1] and differ.sum() >= 3
    assert_close_rel(mine[~differ], theirs[~differ], label="timm step (float decay_t)")
    assert_close_rel(mine[differ], LR * rate ** rounded[differ], label="timm step (float decay_t)")
    assert np.all(theirs[differ] > mine[differ])  # timm is one decay behind there


@pytest.mark.parametrize(("milestones", "rate", "warm"), [([30, 60, 80], 0.1, 0), ([5, 6, 20], 0.5, 4),
                                                          ([2], 0.3, 0)])
def test_multistep(milestones, rate, warm):
    """timm applies milestone ``m`` at ``t = m - 1`` (``bisect_right(decay_t, t + 1)``, kept
    on purpose in timm): ``multistep(lr, [m - 1, ...])``, after the prefix warmup."""
    steps = 100
    theirs = timm_lrs(lambda o: sched.MultiStepLRScheduler(
        o, decay_t=milestones, decay_rate=rate, warmup_t=warm, t_in_epochs=False), steps, LR)
    s = timm_warmup(warm, 0.0, lrlab.multistep(LR, [m - 1 for m in milestones], gamma=rate), prefix=True)
    assert_close_rel(ours(s, steps), theirs, label="timm multistep")


# --- WSDLRScheduler ---------------------------------------------------------------------


@pytest.mark.parametrize(("decay_fn", "power", "shape"), [
    ("linear", 0.5, lrlab.linear), ("1-sqrt", 0.5, lrlab.one_minus_sqrt), ("cosine", 0.5, lrlab.cosine),
    ("power", 0.5, None), ("power", 3.0, None),
])
@pytest.mark.parametrize(("lr_min", "warm"), [(0.0, 0), (1e-3, 10)])
def test_wsd(decay_fn, power, shape, lr_min, warm):
    """timm's ``t_initial`` is the stable + decay span after the warmup; ``decay_fn='power'``
    is ``1 - x^p``: ``one_minus_power``."""
    T, D = 100, 30
    steps = warm + T + 20
    theirs = timm_lrs(lambda o: sched.WSDLRScheduler(
        o, t_initial=T, decay_t=D, lr_min=lr_min, decay_fn=decay_fn, decay_power=power,
        warmup_t=warm, t_in_epochs=False), steps, LR)
    if shape is None:
        cooldown = lrlab.one_minus_power(LR, lr_min, D, power=power)
    else:
        cooldown = shape(LR, lr_min, D)
    s = timm_warmup(warm, 0.0, lrlab.join(lrlab.constant(LR, T - D), cooldown), prefix=True)
    assert_close_rel(ours(s, steps), theirs, label="timm wsd")
    w = lrlab.wsd(LR, T + warm, warmup=warm, cooldown=D, floor=lr_min,
                  shape="one_minus_power" if shape is None else decay_fn,
                  power=power if shape is None else 1.0)
    assert_close_rel(ours(w, steps), theirs, label="timm wsd (wsd family)")


def test_wsd_rsqrt_stable_phase():
    """``stable_fn='rsqrt'`` with ``lr_min = 0``: the decay multiplies the decaying stable
    value: ``product(inverse_sqrt, join(constant 1, cooldown factor))`` after the warmup."""
    W, T, D = 10, 100, 30
    steps = W + T + 20
    theirs = timm_lrs(lambda o: sched.WSDLRScheduler(
        o, t_initial=T, decay_t=D, stable_fn="rsqrt", decay_fn="linear", warmup_t=W,
        t_in_epochs=False), steps, LR)
    after = lrlab.product(lrlab.inverse_sqrt(LR, W),
                          lrlab.join(lrlab.constant(1.0, T - D), lrlab.linear(1.0, 0.0, D)))
    s = lrlab.warmup(W, after)
    assert_close_rel(ours(s, steps), theirs, label="timm wsd rsqrt")
