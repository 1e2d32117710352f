"""The values added for the peers' conventions: tanh, inverse_time, one_minus_power,
restarts, warp, extend and onecycle(convention='fastai').

Expected values are written from the formulas in the docstrings (math, not lrlab); each
family is also checked for the text round trip, ``values() == s(t)`` bit for bit, finite
values >= 0 at far steps, and refusals that name the parameter.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrlab
from lrlab import (
    constant,
    cosine,
    extend,
    inverse_sqrt,
    inverse_time,
    linear,
    one_minus_power,
    onecycle,
    parse,
    polynomial,
    restarts,
    sgdr,
    tanh,
    warp,
)

FAR = [0, 1, 2, 9, 10, 11, 99, 100, 101, 10**4, 10**6, 10**9, 2**52]

SCHEDULES = [
    tanh(1.0, 0.01, 100),
    tanh(0.01, 1.0, 50, lb=-2.0, ub=2.0),
    tanh(1.0, 0.0, 10, lb=-400.0, ub=400.0),  # exp(2z) beyond float64 at the ends
    inverse_time(0.1, 0.5),
    inverse_time(0.1, 0.5, every=10, staircase=True),
    one_minus_power(1.0, 0.1, 50, power=3.0),
    one_minus_power(0.0, 1.0, 50, power=0.05),
    restarts(cosine(1.0, 0.1, 10), mult=2.0, decay=0.5, times=4),
    restarts(linear(0.0, 1.0, 7), decay=0.9),  # rising cycles: the start is scaled
    restarts(tanh(1.0, 0.01, 10), mult=3.0, decay=0.5, peak=1.0, index="log"),
    restarts(cosine(1.0, 0.0, 1e-3), mult=1e6, times=2),
    warp(cosine(1.0, 0.0, 100), 2.0),
    warp(polynomial(1.0, 0.1, 30, power=2.0), 0.01),
    extend(polynomial(1.0, 0.1, 10, power=2.0)),
    extend(cosine(1.0, 0.0, 0.5)),
    onecycle(1.0, 90, pct_start=0.25, final_div=4000.0, convention="fastai"),
    onecycle(1.0, 91, pct_start=0.3, three_phase=True, convention="fastai"),
]


@pytest.mark.parametrize("s", SCHEDULES, ids=str)
def test_round_trip_paths_and_range(s):
    assert parse(str(s)) == s
    assert lrlab.from_dict(s.to_dict()) == s
    scalars = np.array([s(t) for t in FAR])
    np.testing.assert_array_equal(scalars, s.values(np.array(FAR)))
    dense = s.values(400)
    np.testing.assert_array_equal(dense, [s(t) for t in range(400)])
    assert np.all(np.isfinite(scalars)) and np.all(scalars >= 0)
    assert np.all(np.isfinite(dense)) and np.all(dense >= 0)
    assert s.describe()


def test_tanh_formula():
    s = tanh(2.0, 0.5, 40, lb=-5.0, ub=2.0)
    for t in (0, 1, 17, 39):
        x = t / 40
        expected = 0.5 + (2.0 - 0.5) * 0.5 * (1 - math.tanh(-5.0 * (1 - x) + 2.0 * x))
        assert s(t) == pytest.approx(expected, rel=1e-14)
    assert s(40) == 0.5 and s(10**9) == 0.5
    assert s.left_limit(40) == pytest.approx(0.5 + 1.5 * 0.5 * (1 - math.tanh(2.0)), rel=1e-14)


def test_inverse_time_formula():
    s = inverse_time(0.3, 2.0, every=7)
    assert s(0) == 0.3
    assert s(10) == pytest.approx(0.3 / (1 + 2.0 * 10 / 7), rel=1e-15)
    stairs = inverse_time(0.3, 2.0, every=7, staircase=True)
    assert stairs(13) == pytest.approx(0.3 / 3.0, rel=1e-15) and stairs(14) == pytest.approx(0.3 / 5.0)
    assert stairs.left_limit(14) == stairs(13)


def test_one_minus_power_both_ways():
    down = one_minus_power(1.0, 0.2, 10, power=3.0)
    up = one_minus_power(0.2, 1.0, 10, power=3.0)
    for t in range(11):
        x = t / 10
        assert down(t) == pytest.approx(0.2 + 0.8 * (1 - x**3), rel=1e-14)
        assert up(t) == pytest.approx(0.2 + 0.8 * (1 - (1 - x) ** 3), rel=1e-14)
    # power 2 and 0.5 are the named shapes
    assert np.allclose(one_minus_power(1.0, 0.0, 10, power=2.0).values(11),
                       lrlab.one_minus_square(1.0, 0.0, 10).values(11), rtol=1e-14, atol=1e-16)
    assert np.allclose(one_minus_power(1.0, 0.0, 10, power=0.5).values(11),
                       lrlab.one_minus_sqrt(1.0, 0.0, 10).values(11), rtol=1e-14, atol=1e-16)


def test_restarts_of_a_cosine_is_sgdr():
    a = restarts(cosine(1.0, 0.1, 10), mult=2.0, decay=0.5, times=4)
    b = sgdr(1.0, 10, mult=2.0, floor=0.1, decay=0.5, cycles=4)
    np.testing.assert_allclose(a.values(200), b.values(200), rtol=1e-14)
    assert a.length == b.length == 150
    assert a.boundaries() == (0.0, 10.0, 30.0, 70.0, 150.0)
    assert a.left_limit(30) == pytest.approx(0.1) and a(30) == pytest.approx(0.25)  # peak * decay^2


def test_restarts_formula_for_any_schedule():
    """cycle k: b + (inner((t - c_k) / mult^k) - b) * (peak decay^k - b) / (peak - b)."""
    inner = linear(0.8, 0.2, 4)
    s = restarts(inner, mult=2.0, decay=0.5)
    starts = [0, 4, 12, 28]
    for k in range(3):
        for local in range(4 * 2**k):
            t = starts[k] + local
            value = 0.8 - 0.6 * (local / 2**k) / 4  # the inner linear, stretched 2^k
            expected = 0.2 + (value - 0.2) * (0.8 * 0.5**k - 0.2) / 0.6
            assert s(t) == pytest.approx(expected, rel=1e-13), t


def test_warp_formula():
    s = warp(cosine(1.0, 0.1, 50), 3.0)
    for t in (0, 1, 25, 49):
        assert s(t) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t**3 / 50**3)), rel=1e-13)
    assert s(50) == 0.1 and s(10**6) == 0.1 and s.length == 50
    joined = warp(lrlab.join(constant(1.0, 25), linear(1.0, 0.0, 75)), 2.0)
    assert joined.boundaries() == (0.0, 50.0, 100.0)  # 100 (25 / 100)^(1/2)
    assert joined(49) == 1.0 and joined(51) < 1.0


def test_extend_formula():
    """Keras PolynomialDecay(cycle=True): horizon D * ceil(t / D), 1 at t = 0."""
    s = extend(polynomial(1.0, 0.1, 10, power=2.0))
    for t in (0, 1, 10, 11, 20, 21, 35):
        horizon = 10 * max(math.ceil(t / 10), 1)
        assert s(t) == pytest.approx(0.1 + 0.9 * (1 - t / horizon) ** 2, rel=1e-13), t
    assert s.left_limit(11) == s(11)  # continuous there; the jump is just after t = 10
    assert s.left_limit(10) == pytest.approx(0.1 + 0.9 * (1 - 10 / 10) ** 2)
    assert s.length is None


def test_fastai_onecycle_places_the_phase_end_at_pct_times_total():
    s = onecycle(1.0, 90, pct_start=0.25, div=25.0, final_div=4000.0, convention="fastai")
    assert s.boundaries() == (0.0, 22.5, 90.0)
    # fastai's SchedCos: start + (1 + cos(pi (1 - pos))) (end - start) / 2
    points = {10: (0.04, 1.0, 10 / 22.5), 23: (1.0, 1e-5, 0.5 / 67.5), 89: (1.0, 1e-5, 66.5 / 67.5)}
    for t, (a, b, pos) in points.items():
        assert s(t) == pytest.approx(a + (1 + math.cos(math.pi * (1 - pos))) * (b - a) / 2, rel=1e-12)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: tanh(1.0, 0.0, 10, lb=3.0, ub=-7.0), r"tanh\.ub must be > tanh\.lb"),
    (lambda: tanh(1.0, 0.0, 10, lb=math.nan), r"tanh\.lb"),
    (lambda: tanh(-1.0, 0.0, 10), r"tanh\.start"),
    (lambda: inverse_time(0.1, -1.0), r"inverse_time\.rate"),
    (lambda: inverse_time(0.1, 1.0, every=0), r"inverse_time\.every"),
    (lambda: one_minus_power(1.0, 0.0, 10, power=0.0), r"one_minus_power\.power"),
    (lambda: cosine(1.0, 0.0, 10).__class__(1.0, 0.0, 10, "cosine", 2.0), r"cosine\.power"),
    (lambda: warp(inverse_sqrt(1.0), 2.0), r"warp\.schedule"),
    (lambda: warp(cosine(1.0, 0.0, 10), 0.0), r"warp\.k"),
    (lambda: extend(constant(1.0)), r"extend\.schedule"),
    (lambda: restarts(constant(1.0)), r"restarts\.schedule"),
    (lambda: restarts(cosine(1.0, 0.0, 10), mult=0.5), r"restarts\.mult"),
    (lambda: restarts(cosine(1.0, 0.0, 10), decay=0.0), r"restarts\.decay"),
    (lambda: restarts(constant(1.0, 10), decay=0.5), r"restarts\.decay"),
    (lambda: restarts(cosine(1.0, 0.0, 10), mult=1e6, times=100), r"restarts\.times"),
    (lambda: restarts(cosine(1.0, 0.0, 10), index="guess"), r"restarts\.index"),
    (lambda: restarts(cosine(1.0, 0.0, 10), peak=2.0), r"restarts\.peak"),
    (lambda: onecycle(1.0, 100, convention="keras"), r"onecycle\.convention"),
    (lambda: lrlab.wsd(1.0, 100, shape="cosine", power=2.0), r"wsd\.power"),
])
def test_bad_parameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unit_lengths_resolve_inside_the_new_nodes():
    s = restarts(warp(cosine(1.0, 0.0, "1ep"), 2.0), times=2)
    assert not s.resolved
    with pytest.raises(ValueError, match="not in steps yet"):
        s(0)
    r = s.resolve(lrlab.Budget(steps_per_epoch=10))
    assert r.length == 20 and r(10) == 1.0


@pytest.mark.slow  # one jit compilation per schedule
@pytest.mark.parametrize("s", SCHEDULES, ids=str)
def test_torch_and_jax_run_the_same_formulas(s):
    """The torch and jax namespaces evaluate the one formula (float64: within a few ulps)."""
    torch = pytest.importorskip("torch")
    from lrlab.torch._backend import lr_tensor

    steps = np.array(FAR[:9] + list(range(0, 400, 7)))
    expected = s.values(steps)
    got = lr_tensor(s, torch.tensor(steps)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-300)
    jax = pytest.importorskip("jax")
    import lrlab.jax as lj

    with jax.enable_x64(True):
        values = np.asarray(jax.jit(jax.vmap(lj.schedule(s)))(jax.numpy.asarray(steps)))
    np.testing.assert_allclose(values, expected, rtol=1e-11, atol=1e-300)
