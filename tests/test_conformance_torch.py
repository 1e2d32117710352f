"""Conformance with torch.optim.lr_scheduler, step by step.

Each test drives the real torch scheduler with a real optimizer (SGD on one dummy
parameter) in torch's order (``optimizer.step(); scheduler.step()``), records the LR each
update uses (``optimizer.param_groups[0]['lr']`` before the update) and compares it with
``s(t)`` of the lrlab schedule that spells the same thing (see docs/conventions.md).
Relative tolerance 1e-12 at every step; the few absolute tolerances are tied to a named
rounding step of torch's own recursive formula, explained where used.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrlab
from peers import EPS, RTOL, assert_close_rel, torch_lrs

torch = pytest.importorskip("torch")
sched = torch.optim.lr_scheduler

LR = 0.1


def ours(schedule: lrlab.Schedule, steps: int) -> np.ndarray:
    """lrlab's LRs through both paths (scalar ``s(t)`` and ``values``), which must agree."""
    scalar = np.array([schedule(t) for t in range(steps)])
    np.testing.assert_array_equal(scalar, schedule.values(steps))
    return scalar


# --- step, multistep, exponential ----------------------------------------------------


@pytest.mark.parametrize(("steps", "every", "gamma"), [(37, 5, 0.5), (250, 1, 0.97), (5000, 700, 0.1)])
def test_step_lr(steps, every, gamma):
    theirs = torch_lrs(lambda opt: sched.StepLR(opt, step_size=every, gamma=gamma), steps, LR)
    assert_close_rel(ours(lrlab.step(LR, gamma, every), steps), theirs, label="torch StepLR")


@pytest.mark.parametrize(("steps", "milestones", "gamma"),
                         [(23, [3, 7, 20], 0.5), (400, [100, 250, 300, 399], 0.1),
                          (5000, [1500, 3000, 4500], 0.3)])
def test_multistep_lr(steps, milestones, gamma):
    theirs = torch_lrs(lambda opt: sched.MultiStepLR(opt, milestones=milestones, gamma=gamma), steps, LR)
    assert_close_rel(ours(lrlab.multistep(LR, milestones, gamma), steps), theirs,
                     label="torch MultiStepLR")


@pytest.mark.parametrize(("steps", "gamma"), [(17, 0.5), (300, 0.99), (5000, 0.999)])
def test_exponential_lr(steps, gamma):
    # torch multiplies the previous LR by gamma each step (t roundings, <= t * eps / 2 each
    # way); lrlab evaluates lr * gamma^t in closed form. 5000 steps stay far below 1e-12.
    theirs = torch_lrs(lambda opt: sched.ExponentialLR(opt, gamma=gamma), steps, LR)
    assert_close_rel(ours(lrlab.exponential(LR, gamma), steps), theirs, label="torch ExponentialLR")


# --- linear, polynomial, cosine ------------------------------------------------------


@pytest.mark.parametrize(("total", "start", "end"),
                         [(5, 1 / 3, 1.0), (31, 0.01, 1.0), (400, 0.25, 0.5), (250, 1.0, 0.1),
                          (4000, 0.001, 1.0)])
def test_linear_lr(total, start, end):
    steps = total + 25  # past total_iters torch holds end_factor * lr, as lrlab does
    theirs = torch_lrs(
        lambda opt: sched.LinearLR(opt, start_factor=start, end_factor=end, total_iters=total), steps, LR
    )
    spelled = lrlab.linear(LR * start, LR * end, total)
    assert_close_rel(ours(spelled, steps), theirs, label="torch LinearLR")
    if end == 1.0:  # the warmup spelling of the same schedule
        warm = lrlab.warmup(total, lrlab.constant(LR), start_factor=start)
        assert_close_rel(ours(warm, steps), theirs, label="torch LinearLR")


@pytest.mark.parametrize(("total", "factor"), [(5, 1 / 3), (40, 0.5), (1000, 0.1)])
def test_constant_lr(total, factor):
    steps = total + 30
    theirs = torch_lrs(lambda opt: sched.ConstantLR(opt, factor=factor, total_iters=total), steps, LR)
    s = lrlab.join(lrlab.constant(LR * factor, total), lrlab.constant(LR))
    # torch undoes the factor by multiplying by 1 / factor at total_iters: one rounding
    assert_close_rel(ours(s, steps), theirs, label="torch ConstantLR")


@pytest.mark.parametrize(("total", "power"), [(7, 1.0), (100, 2.0), (333, 0.5), (3000, 1.0), (3000, 3.0)])
def test_polynomial_lr(total, power):
    steps = total + 20  # torch holds 0 after total_iters
    theirs = torch_lrs(lambda opt: sched.PolynomialLR(opt, total_iters=total, power=power), steps, LR)
    # torch's recursive factor ((1 - t/T) / (1 - (t-1)/T))^p telescopes (numerator and
    # denominator of consecutive steps are the same double), so its LR stays within a few
    # eps * t of the closed form lrlab evaluates; no extra tolerance is needed.
    assert_close_rel(ours(lrlab.polynomial(LR, 0.0, total, power), steps), theirs,
                     label="torch PolynomialLR")


@pytest.mark.parametrize(("t_max", "eta_min"), [(9, 0.0), (100, 0.001), (777, 0.0), (5000, 1e-4)])
def test_cosine_annealing_lr(t_max, eta_min):
    steps = t_max + 1  # torch keeps oscillating past T_max (period 2 T_max); lrlab holds eta_min
    theirs = torch_lrs(lambda opt: sched.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min), steps, LR)
    # torch's recursion multiplies (1 + cos(pi t/T)) / (1 + cos(pi (t-1)/T)); consecutive
    # factors share their cosine bit for bit, so the product telescopes to the closed form.
    assert_close_rel(ours(lrlab.cosine(LR, eta_min, t_max), steps), theirs,
                     label="torch CosineAnnealingLR")


def test_cosine_annealing_oscillates_past_t_max():
    """Documented difference: torch's CosineAnnealingLR rises again after T_max."""
    t_max = 10
    theirs = torch_lrs(lambda opt: sched.CosineAnnealingLR(opt, T_max=t_max), 3 * t_max, LR)
    s = lrlab.cosine(LR, 0.0, t_max)
    assert theirs[t_max] == 0.0 and s(t_max) == 0.0
    assert theirs[2 * t_max] == pytest.approx(LR, rel=1e-12)  # back at the peak
    assert all(s(t) == 0.0 for t in range(t_max, 3 * t_max))  # lrlab holds its end


# --- 1cycle --------------------------------------------------------------------------

ONECYCLE: list[dict] = [
    dict(),  # torch's defaults: pct_start=0.3, cos, div 25, final_div 1e4, two phases
    dict(three_phase=True),
    dict(anneal_strategy="linear"),
    dict(anneal_strategy="linear", three_phase=True),
    dict(pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    dict(pct_start=0.4, three_phase=True, div_factor=5.0),
]


@pytest.mark.parametrize("total", [11, 101, 1000, 4999])
@pytest.mark.parametrize("kwargs", ONECYCLE, ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items()) or "-")
def test_onecycle_lr(total, kwargs):
    peak = 0.8
    theirs = torch_lrs(lambda opt: sched.OneCycleLR(opt, max_lr=peak, total_steps=total, **kwargs),
                       total, peak, optimizer_kwargs={"momentum": 0.9})
    s = lrlab.onecycle(
        peak, total,
        pct_start=kwargs.get("pct_start", 0.3),
        div=kwargs.get("div_factor", 25.0),
        final_div=kwargs.get("final_div_factor", 1e4),
        anneal=kwargs.get("anneal_strategy", "cos"),
        three_phase=kwargs.get("three_phase", False),
    )
    # torch's linear anneal is (end - start) * pct + start: near pct = 1 of a falling phase
    # the two terms cancel to the small end value, with an absolute error of ~eps * start
    # (start = max_lr or initial_lr). lrlab's end + (start - end) * (L - t) / L does not
    # cancel. The cosine anneal uses the same expression on both sides (bit-equal).
    atol = 2 * EPS * peak if kwargs.get("anneal_strategy") == "linear" else 0.0
    assert_close_rel(ours(s, total), theirs, atol=atol, label="torch OneCycleLR")


def test_onecycle_past_total_steps():
    """Documented difference: torch extrapolates at step total_steps and raises after it;
    lrlab holds the final LR."""
    total = 50
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0, momentum=0.9)
    scheduler = sched.OneCycleLR(opt, max_lr=1.0, total_steps=total)
    for _ in range(total):
        opt.step()
        scheduler.step()
    s = lrlab.onecycle(1.0, total)
    assert opt.param_groups[0]["lr"] != s(total)  # torch's cosine has run past its end
    assert s(total) == s(total - 1) == s(10 * total) == 1.0 / 25 / 1e4
    opt.step()
    with pytest.raises(ValueError, match="Tried to step"):
        scheduler.step()


# --- cyclic ------------------------------------------------------------------------


@pytest.mark.parametrize(("up", "down", "steps"), [(4, None, 33), (20, 30, 401), (250, 750, 5000)])
@pytest.mark.parametrize(("mode", "gamma"),
                         [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.9995)])
def test_cyclic_lr(up, down, steps, mode, gamma):
    base, peak = 0.01, 0.1
    theirs = torch_lrs(
        lambda opt: sched.CyclicLR(opt, base_lr=base, max_lr=peak, step_size_up=up, step_size_down=down,
                                   mode=mode, gamma=gamma, cycle_momentum=False),
        steps, LR,
    )
    s = lrlab.cyclic(base, peak, up, down, mode=mode, gamma=gamma)
    assert_close_rel(ours(s, steps), theirs, label="torch CyclicLR")


# --- warm restarts -------------------------------------------------------------------


@pytest.mark.parametrize(("t0", "mult", "eta_min", "steps"),
                         [(5, 1, 0.0, 41), (10, 2, 0.0, 635), (100, 1, 0.001, 1000), (7, 2, 1e-4, 5000),
                          (3, 3, 0.0, 400)])
def test_cosine_annealing_warm_restarts(t0, mult, eta_min, steps):
    theirs = torch_lrs(
        lambda opt: sched.CosineAnnealingWarmRestarts(opt, T_0=t0, T_mult=mult, eta_min=eta_min), steps, LR
    )
    s = lrlab.sgdr(LR, t0, mult=mult, floor=eta_min)
    assert_close_rel(ours(s, steps), theirs, label="torch CosineAnnealingWarmRestarts")


# --- SequentialLR: LinearLR warmup then CosineAnnealingLR ----------------------------


@pytest.mark.parametrize(("warm", "t_max", "start", "eta_min"),
                         [(3, 10, 0.1, 0.0), (50, 450, 0.01, 1e-3), (500, 4500, 1e-3, 0.0),
                          (10, 91, 1 / 3, 1e-5)])
def test_sequential_linear_then_cosine(warm, t_max, start, eta_min):
    def make(opt):
        return sched.SequentialLR(
            opt,
            [sched.LinearLR(opt, start_factor=start, total_iters=warm),
             sched.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)],
            milestones=[warm],
        )

    steps = warm + t_max + 1  # the cosine then oscillates as in test_cosine_annealing_lr
    theirs = torch_lrs(make, steps, LR)
    s = lrlab.warmup(warm, lrlab.cosine(LR, eta_min, t_max), start_factor=start)
    assert lrlab.parse(str(s)) == s
    assert_close_rel(ours(s, steps), theirs, label="torch SequentialLR(LinearLR, CosineAnnealingLR)")


# --- past T_max: the oscillation, when someone wants it -----------------------------------


@pytest.mark.parametrize(("t_max", "eta_min"), [(10, 0.0), (37, 1e-3)])
def test_cosine_annealing_oscillation_through_repeat(t_max, eta_min):
    """lrlab holds ``eta_min`` past ``T_max``; torch's swing back up (period ``2 T_max``) is
    ``repeat(join(cosine(lr, eta_min, T), cosine(eta_min, lr, T)))``."""
    steps = 6 * t_max + 3
    theirs = torch_lrs(lambda opt: sched.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min), steps, LR)
    s = lrlab.repeat(lrlab.join(lrlab.cosine(LR, eta_min, t_max), lrlab.cosine(eta_min, LR, t_max)))
    assert_close_rel(ours(s, steps), theirs, label="torch CosineAnnealingLR (oscillating)")


# --- ChainedScheduler: LinearLR and CosineAnnealingLR stepped together ---------------------


@pytest.mark.parametrize(("warm", "t_max", "start"), [(10, 50, 0.1), (7, 33, 0.3), (20, 25, 0.01)])
def test_chained_linear_and_cosine_without_floor(warm, t_max, start):
    """``ChainedScheduler([LinearLR, CosineAnnealingLR(eta_min=0)])``: each recursive step
    multiplies the LR by its own ratio, so the LR is the product of the two closed forms:
    ``product(linear(a, 1, W), cosine(lr, 0, T))``."""
    theirs = torch_lrs(lambda opt: sched.ChainedScheduler([
        sched.LinearLR(opt, start_factor=start, total_iters=warm),
        sched.CosineAnnealingLR(opt, T_max=t_max)]), t_max + 1, LR)
    s = lrlab.product(lrlab.linear(start, 1.0, warm), lrlab.cosine(LR, 0.0, t_max))
    assert_close_rel(ours(s, t_max + 1), theirs, label="torch ChainedScheduler(LinearLR, CosineAnnealingLR)")


@pytest.mark.parametrize(("warm", "t_max", "start", "eta_min"), [(10, 50, 0.1, 0.005), (7, 33, 0.3, 0.02)])
def test_chained_linear_and_cosine_with_floor(warm, t_max, start, eta_min):
    """With ``eta_min > 0`` the chain has no closed form of the step: torch's cosine step is
    ``x_t = eta + (x_(t-1) rho_t - eta) r_t`` (``rho_t`` the LinearLR ratio, ``r_t`` the
    cosine ratio), so ``x_t / (L_t c_t)`` (``L`` the linear factor, ``c = 1 + cos(pi t / T)``)
    grows by ``eta (1 / c_t - 1 / c_(t-1)) / L_t`` each step: a running sum over the warmup.
    No pointwise schedule reproduces the warmup (the product-plus-floor spellings are off by
    0.3% to 10% there; docs/conventions.md). From the end of the warmup on, the ratio is 1
    and the LR is an lrlab cosine entered ``W`` steps into its swing, its peak fixed by the
    LR torch reached at ``W``: ``shift(cosine(P, eta, T), W)``."""
    steps = t_max + 1
    theirs = torch_lrs(lambda opt: sched.ChainedScheduler([
        sched.LinearLR(opt, start_factor=start, total_iters=warm),
        sched.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)]), steps, LR)
    f_w = 0.5 * (1.0 + math.cos(math.pi * warm / t_max))
    peak = eta_min + (theirs[warm] - eta_min) / f_w
    tail = lrlab.shift(lrlab.cosine(peak, eta_min, t_max), warm)
    assert_close_rel(ours(tail, steps - warm), theirs[warm:],
                     label="torch ChainedScheduler (after the warmup)")
    product = lrlab.product(lrlab.linear(start, 1.0, warm), lrlab.cosine(LR - eta_min, 0.0, t_max))
    naive = ours(lrlab.offset(product, eta_min), steps)
    assert np.max(np.abs(naive[:warm] - theirs[:warm]) / theirs[:warm]) > 1e-3


def test_rtol_is_strict():
    """The suite's tolerance is 1e-12: a one-in-1e11 change must fail."""
    assert RTOL == 1e-12
    with pytest.raises(AssertionError, match="worst at step 3"):
        assert_close_rel([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0 + 1e-11])
    assert math.isclose(assert_close_rel([2.0], [2.0]), 0.0)
