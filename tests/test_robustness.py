"""Every schedule that constructs gives a finite value >= 0 at every step, in ``s(t)`` and
``values()`` alike; otherwise construction raises a ValueError naming the parameter. Each
case of the core review's audit is here, with the canonical values and the nesting limit."""

from __future__ import annotations

import fractions
import math

import numpy as np
import pytest

import lrlab
from lrlab import MAX_DEPTH, Schedule, parse

STEPS = [0, 1, 7, 999, 2000, 10**4, 10**6, 10**15, 2**53 + 1, 10**300]


def _finite_everywhere(s: Schedule) -> None:
    for t in STEPS:
        v = s(t)
        assert math.isfinite(v) and v >= 0, (s, t, v)
        if t < 2**62:
            assert s.values(np.array([t], dtype=np.int64))[0] == v, (s, t)


@pytest.mark.parametrize("mult", [4, 5, 7.5, 100, 1e6])
def test_sgdr_with_a_large_multiplier_evaluates_everywhere(mult):
    s = lrlab.sgdr(1.0, 10, mult=mult)
    _finite_everywhere(s)
    # the first restart is where the formula puts it
    assert s(9) < s(10) == 1.0


def test_sgdr_cycles_that_outlast_float64_are_refused():
    with pytest.raises(ValueError, match=r"sgdr\.cycles"):
        lrlab.sgdr(1.0, 10, mult=1e6, cycles=100)


@pytest.mark.parametrize(("call", "parameter"), [
    (lambda: lrlab.exponential(1.0, 2.0), "exponential.gamma"),
    (lambda: lrlab.exponential(0.0, 2.0), "exponential.gamma"),
    (lambda: lrlab.geometric(1e-300, 1e300, 10), "geometric.end / geometric.start"),
    (lambda: lrlab.warmup(10, lrlab.constant(1), start_factor=1e-320, shape="geometric"),
     "warmup.start_factor"),
    (lambda: lrlab.sgdr(1.0, 1e-9), "sgdr.period"),
    (lambda: lrlab.warmup_cosine(1e-3, 1000, -1), "warmup_cosine.warmup_steps"),
    (lambda: lrlab.multistep(1, [1, 2, 3], gamma=1e200), "multistep.gamma"),
    (lambda: lrlab.cyclic(0.1, 1, 1, down=1e-17), "cyclic.down"),
    (lambda: lrlab.onecycle(1, 100, div=5e-324), "onecycle.div"),
    (lambda: lrlab.onecycle(1, 100, final_div=1e-320, div=1e-10), "onecycle"),
    (lambda: lrlab.scale_batch(lrlab.constant(1.0), 2.0, budget=0), "scale_batch.budget"),
    (lambda: lrlab.multistep(1, 5, gamma=0.5), "multistep.milestones"),
    (lambda: lrlab.piecewise(5), "piecewise.steps"),
    (lambda: lrlab.join(5), "join.parts"),
    (lambda: lrlab.cosine(1.0, 0.0, float("nan")), "cosine.steps"),
    (lambda: lrlab.cosine(1.0, 0.0, 10**400), "cosine.steps"),
    (lambda: lrlab.constant(float("inf")), "constant.lr"),
    (lambda: lrlab.scale(lrlab.constant(1e300), 1e300), "scale.factor"),
    (lambda: lrlab.product(lrlab.constant(1e300), lrlab.cosine(1e300, 0.0, 10)), "product.second"),
    (lambda: lrlab.constant(1e308) + lrlab.constant(1e308), "add.second"),
    (lambda: lrlab.offset(lrlab.constant(1e308), 1e308), "offset.value"),
    (lambda: parse("2e300 * constant(1e10)"), "scale.factor"),
])
def test_bad_parameters_are_refused_naming_the_parameter(call, parameter):
    with pytest.raises(ValueError, match=parameter.replace(".", r"\.")):
        call()


@pytest.mark.parametrize("s", [
    lrlab.step(1, 0.5, 5e-324),
    lrlab.step(1, 0.5, 1e-300),
    lrlab.inverse_sqrt(1.0, 1e-300),
    lrlab.warmup(10, lrlab.constant(5e-324), start_factor=0.001, shape="geometric"),
    lrlab.exponential(1e-4, 2.0, every=50, cap=1e-2),
    lrlab.cyclic(0.1, 1.0, 1e-3, 1e3, mode="triangular2"),
    lrlab.sgdr(1.0, 1e-3, mult=2.0, decay=1e-3),
    lrlab.onecycle(1.0, 1e15),
    lrlab.repeat(lrlab.cosine(1.0, 0.0, 3)),
    lrlab.quantize(lrlab.exponential(1.0, 0.5), 1e-6),
])
def test_extreme_but_valid_schedules_are_finite_everywhere(s):
    _finite_everywhere(s)


def test_every_built_schedule_has_a_finite_upper_bound_that_holds():
    cases = [lrlab.preset("gpt3-125m"), lrlab.sgdr(1.0, 10, mult=2, decay=0.5),
             lrlab.clamp(lrlab.cosine(2.0, 0.0, 10), low=0.5, high=1.5),
             lrlab.constant(0.2) + lrlab.cosine(1.0, 0.0, 10),
             lrlab.multistep(1.0, [10, 20], gamma=3.0), lrlab.exponential(1e-3, 1.5, cap=0.5)]
    for s in cases:
        bound = s.upper_bound()
        assert math.isfinite(bound)
        assert float(s.values(200).max()) <= bound


def test_the_warmup_that_failed_on_some_runs_constructs():
    # start_factor * 5e-324 underflows to 0: the ramp is linear from 0 (a geometric ramp
    # cannot leave 0)
    s = lrlab.warmup(10, lrlab.constant(5e-324), start_factor=0.001, shape="geometric")
    assert s(0) == 0.0 and s(10) == 5e-324


# --- canonical values -------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [100, 100.0, np.float64(100.0), np.int64(100), fractions.Fraction(100)])
def test_equal_lengths_are_one_value_with_one_text(steps):
    s = lrlab.cosine(1.0, 0.0, steps)
    assert s == lrlab.cosine(1.0, 0.0, 100) and str(s) == "cosine(1.0, 0.0, 100)"
    assert parse(str(s)) == s and hash(s) == hash(lrlab.cosine(1, 0, 100))


@pytest.mark.parametrize("lr", [np.float64(0.5), np.float32(0.5), fractions.Fraction(1, 2), 1 / 2])
def test_numbers_of_any_kind_are_floats(lr):
    s = lrlab.constant(lr)
    assert type(s.lr) is float and str(s) == "constant(0.5)" and parse(str(s)) == s


def test_a_fraction_that_is_not_a_float_prints_its_nearest_float():
    s = lrlab.cosine(1.0, 0.0, fractions.Fraction(1, 3))
    assert parse(str(s)) == s


# --- nesting ------------------------------------------------------------------------------------


def test_schedules_nested_up_to_the_limit_read_back():
    s: Schedule = lrlab.piecewise([0, 10], [1.0, 0.5])
    for _ in range(MAX_DEPTH - 1):
        s = lrlab.scale(s, 1.0)
    assert s.depth == MAX_DEPTH
    assert parse(str(s)) == s
    assert lrlab.from_dict(s.to_dict()) == s


def test_deeper_nesting_is_refused_at_construction_not_by_recursion():
    s: Schedule = lrlab.constant(1.0)
    with pytest.raises(ValueError, match="nested more than"):
        for _ in range(2000):
            s = lrlab.scale(s, 1.0)
    assert s.depth == MAX_DEPTH


def test_a_huge_join_is_evaluated_piece_by_piece():
    parts = [lrlab.linear(1.0, 0.5, 3)] * 4000
    s = lrlab.join(*parts)
    assert s(3 * 2500 + 1) == pytest.approx(1.0 - 0.5 / 3)
    assert s.values(range(0, 12000, 3)).tolist() == [1.0] * 4000
    assert parse(str(s)) == s
