"""Conformance with optax's schedules (``optax.schedules``), step by step.

An optax schedule is a pure function of the step count. Each test evaluates it at every
count ``0 .. N-1`` (``jax.vmap`` over the counts, i.e. one call per step; some past the
end), once in float64 (``jax.enable_x64``), compared with lrlab at relative 1e-12, and
once in jax's default float32, compared within float32 precision.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrlab
from peers import EPS32, assert_close_rel

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy


def ours(schedule: lrlab.Schedule, steps: int) -> np.ndarray:
    scalar = np.array([schedule(t) for t in range(steps)])
    np.testing.assert_array_equal(scalar, schedule.values(steps))
    return scalar


def optax_values(make, steps: int, x64: bool = True, jit: bool = True) -> np.ndarray:
    """``make()`` builds the optax schedule (inside the precision context, as a user would)
    and it is evaluated at every count ``0 .. steps-1``, jitted (as inside a jitted update
    step; XLA may fuse and round differently from op-by-op dispatch) or op by op."""
    with jax.enable_x64(x64):
        schedule = jax.vmap(make())
        if jit:
            schedule = jax.jit(schedule)
        out = np.asarray(schedule(jnp.arange(steps)))
    assert out.dtype == (np.float64 if x64 else np.float32), out.dtype
    return out.astype(np.float64)


def check(make, schedule: lrlab.Schedule, steps: int, label: str, peak: float | None = None) -> None:
    """float64: relative 1e-12 (jitted; op-by-op dispatch is checked separately, below).
    float32: each value within 8 float32 ulps of lrlab's or 4 float32 ulps of the peak
    (optax computes every intermediate in float32, so a value that cancels near a phase end
    is only known to ~eps32 * peak absolutely)."""
    expected = ours(schedule, steps)
    assert_close_rel(expected, optax_values(make, steps), label=f"optax {label}")
    peak = float(np.max(expected)) if peak is None else peak
    assert_close_rel(expected, optax_values(make, steps, x64=False), rtol=8 * EPS32,
                     atol=4 * EPS32 * peak, label=f"optax {label} (float32)")


# --- warmup + cosine ------------------------------------------------------------------


@pytest.mark.parametrize(("init", "peak", "warm", "decay", "end"),
                         [(0.0, 1e-3, 3, 7, 0.0), (0.0, 1e-3, 10, 101, 1e-5), (1e-5, 3e-4, 0, 50, 0.0),
                          (1e-4, 1e-3, 25, 333, 1e-4), (0.0, 6e-4, 500, 5000, 6e-5)])
def test_warmup_cosine_decay_schedule(init, peak, warm, decay, end):
    """optax's ``decay_steps`` counts the warmup: the cosine lasts ``decay_steps - W``."""
    steps = decay + 20  # optax clips the count at decay_steps: it holds end_value, as lrlab
    cos = lrlab.cosine(peak, end, decay - warm)
    s = lrlab.warmup(warm, cos, start_factor=init / peak) if warm > 0 else cos
    check(lambda: optax.warmup_cosine_decay_schedule(init, peak, warm, decay, end), s, steps,
          "warmup_cosine_decay")


# --- exponential --------------------------------------------------------------------------


@pytest.mark.parametrize(("every", "rate", "begin", "staircase", "end"),
                         [(1, 0.99, 0, False, None), (7, 0.5, 0, True, None), (10, 0.9, 25, False, None),
                          (100, 0.5, 30, True, 1e-5), (250, 0.1, 0, False, 2e-6), (3, 0.97, 11, False, 1e-4)])
def test_exponential_decay(every, rate, begin, staircase, end):
    init, steps = 1e-3, 5000 if every >= 100 else 301
    decay = lrlab.exponential(init, rate, every=every, staircase=staircase,
                              floor=0.0 if end is None else end)
    s = lrlab.join(lrlab.constant(init, begin), decay) if begin > 0 else decay
    check(lambda: optax.exponential_decay(init, every, rate, transition_begin=begin, staircase=staircase,
                                          end_value=end), s, steps, "exponential_decay")


def test_exponential_growth_with_a_cap():
    """``decay_rate > 1`` with ``end_value``: optax caps with min; lrlab with ``cap`` (an
    uncapped growth reaches infinity, so lrlab refuses it)."""
    init, rate, every, cap, steps = 1e-4, 2.0, 50, 1e-2, 600
    s = lrlab.exponential(init, rate, every=every, cap=cap)
    check(lambda: optax.exponential_decay(init, every, rate, end_value=cap), s, steps, "exponential_decay")


# --- piecewise constant ---------------------------------------------------------------------


@pytest.mark.parametrize(("boundaries", "steps"),
                         [({5: 0.5, 9: 0.5, 11: 0.1}, 17), ({100: 0.1, 250: 0.1, 300: 0.5}, 401),
                          ({1000: 0.316, 4000: 0.1 / 0.316}, 5000), ({1: 0.0}, 5)])
def test_piecewise_constant_schedule(boundaries, steps):
    """Scales multiply: after the k-th boundary the LR is ``init * s_1 * ... * s_k``."""
    init = 0.1
    marks = sorted(boundaries)
    factors = list(np.cumprod([boundaries[b] for b in marks]))
    s = lrlab.multistep(init, marks, factors=[float(f) for f in factors])
    check(lambda: optax.piecewise_constant_schedule(init, boundaries), s, steps, "piecewise_constant",
          peak=init)


# --- SGDR ---------------------------------------------------------------------------------

SGDR_CYCLES = [
    [dict(init_value=0.0, peak_value=1e-3, warmup_steps=3, decay_steps=11, end_value=0.0)] * 3,
    [dict(init_value=1e-5, peak_value=1e-3, warmup_steps=10, decay_steps=100, end_value=1e-5),
     dict(init_value=1e-5, peak_value=5e-4, warmup_steps=10, decay_steps=200, end_value=1e-5),
     dict(init_value=1e-5, peak_value=2.5e-4, warmup_steps=0, decay_steps=400, end_value=0.0)],
    [dict(init_value=0.0, peak_value=3e-4, warmup_steps=100, decay_steps=1000, end_value=3e-5)] * 5,
]


@pytest.mark.parametrize("cycles", SGDR_CYCLES, ids=["3x11", "growing", "5x1000"])
def test_sgdr_schedule(cycles):
    """optax's sgdr is a join of warmup_cosine_decay cycles; so is lrlab's spelling."""
    parts = []
    for c in cycles:
        cos = lrlab.cosine(c["peak_value"], c["end_value"], c["decay_steps"] - c["warmup_steps"])
        w = c["warmup_steps"]
        parts.append(lrlab.warmup(w, cos, start_factor=c["init_value"] / c["peak_value"]) if w else cos)
    s = lrlab.join(*parts)
    steps = sum(c["decay_steps"] for c in cycles) + 20
    assert lrlab.parse(str(s)) == s
    check(lambda: optax.sgdr_schedule(cycles), s, steps, "sgdr")


# --- 1cycle ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "pct_start", "div", "final_div"),
                         [(10, 0.3, 25.0, 1e4), (101, 0.3, 25.0, 1e4), (997, 0.25, 10.0, 100.0),
                          (5000, 0.3, 25.0, 1e4)])
def test_cosine_onecycle_schedule(total, pct_start, div, final_div):
    """optax places the phase ends at ``int(pct_start * T)`` and ``T`` (``convention='optax'``)."""
    peak, steps = 0.5, total + 20  # optax holds the final value past T, as lrlab
    s = lrlab.onecycle(peak, total, pct_start=pct_start, div=div, final_div=final_div, convention="optax")
    check(lambda: optax.cosine_onecycle_schedule(total, peak, pct_start, div, final_div), s, steps,
          "cosine_onecycle")


@pytest.mark.parametrize(("total", "pct_start", "pct_final", "div", "final_div"),
                         [(10, 0.3, 0.85, 25.0, 1e4), (101, 0.3, 0.85, 25.0, 1e4), (999, 0.2, 0.7, 10.0, 1e3),
                          (5000, 0.3, 0.85, 25.0, 1e4)])
def test_linear_onecycle_schedule(total, pct_start, pct_final, div, final_div):
    """optax's linear onecycle has three phases: up, back to ``peak / div`` at ``pct_final``,
    then down to ``peak / (div * final_div)`` at ``T``."""
    peak, steps = 0.5, total + 20
    s = lrlab.onecycle(peak, total, pct_start=pct_start, div=div, final_div=final_div, anneal="linear",
                       three_phase=True, pct_final=pct_final, convention="optax")
    # optax's linear interpolation (end - start) * pct + start cancels near the end of a
    # falling phase, but optax returns the last value itself from step T on, so the
    # cancellation costs < 1e-12 here (unlike torch's OneCycleLR, which interpolates to it).
    check(lambda: optax.linear_onecycle_schedule(total, peak, pct_start, pct_final, div, final_div), s,
          steps, "linear_onecycle")


# --- op-by-op dispatch ------------------------------------------------------------------------

EAGER = {
    "warmup_cosine_decay": (lambda: optax.warmup_cosine_decay_schedule(0.0, 1e-3, 7, 61, 1e-5),
                            lrlab.warmup(7, lrlab.cosine(1e-3, 1e-5, 54))),
    "exponential_decay": (lambda: optax.exponential_decay(1e-3, 4, 0.8, transition_begin=5, end_value=2e-4),
                          lrlab.join(lrlab.constant(1e-3, 5),
                                     lrlab.exponential(1e-3, 0.8, every=4, floor=2e-4))),
    "cosine_onecycle": (lambda: optax.cosine_onecycle_schedule(53, 0.5),
                        lrlab.onecycle(0.5, 53, convention="optax")),
    "linear_onecycle": (lambda: optax.linear_onecycle_schedule(53, 0.5),
                        lrlab.onecycle(0.5, 53, anneal="linear", three_phase=True, pct_final=0.85,
                                       convention="optax")),
}


@pytest.mark.parametrize("name", list(EAGER))
def test_eager_dispatch(name):
    """Without jit, XLA runs each op on its own (no fusion): the same values within 1e-12."""
    make, s = EAGER[name]
    steps = 70
    assert_close_rel(ours(s, steps), optax_values(make, steps, jit=False), label=f"optax {name}")
