"""The convex bound of Schaipp et al. 2025 (lrlab.fit.bound): against a loop over the
theorem, closed forms, a brute-force search for the best base LR, and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lrlab.cli import main
from lrlab.fit.bound import (
    bound_coefficients,
    convex_bound,
    optimal_base,
    schedule_bound,
    transfer_peak,
)


def naive_bound(eta: np.ndarray, D: float, G: float) -> float:
    """Theorem 1 of Schaipp et al. (Defazio et al. 2023, Thm 10), term by term, for
    eta_1..eta_T (Python index 0..T-1)."""
    T = len(eta)
    total = sum(eta)
    value = D * D / (2 * total) + G * G * sum(e * e for e in eta) / (2 * total)
    for k in range(T - 1):
        after = sum(eta[k + 1:])
        from_k = sum(eta[k:])
        sq = sum(e * e for e in eta[k:])
        value += G * G / 2 * eta[k] / after * sq / from_k
    return value


@pytest.mark.parametrize("seed", range(5))
def test_bound_matches_the_theorem_term_by_term(seed):
    rng = np.random.default_rng(seed)
    eta = rng.uniform(0.01, 1.0, size=int(rng.integers(2, 60)))
    D, G = float(rng.uniform(0.5, 3)), float(rng.uniform(0.5, 3))
    assert convex_bound(eta, D, G) == pytest.approx(naive_bound(eta, D, G), rel=1e-12)


def test_constant_schedule_closed_form():
    """s = 1: a = D^2/(2T), b = G^2 (1 + H_{T-1}) / 2, so the best bound is
    D G sqrt((1 + H_{T-1}) / T) at gamma = D / (G sqrt(T (1 + H_{T-1})))."""
    T, D, G = 500, 2.0, 3.0
    H = sum(1 / i for i in range(1, T))
    gamma, best = optimal_base(np.ones(T), D, G)
    assert best == pytest.approx(D * G * math.sqrt((1 + H) / T), rel=1e-12)
    assert gamma == pytest.approx(D / (G * math.sqrt(T * (1 + H))), rel=1e-12)


def test_optimal_base_is_the_minimum_over_a_grid():
    s = 1 - np.arange(300) / 300
    gamma, best = optimal_base(s)
    grid = np.geomspace(gamma / 10, gamma * 10, 4001)
    values = [convex_bound(g * s) for g in grid]
    assert min(values) >= best * (1 - 1e-12)
    assert grid[int(np.argmin(values))] == pytest.approx(gamma, rel=2e-3)


def harmonic(n: int) -> float:
    return sum(1 / i for i in range(1, n + 1))


@pytest.mark.parametrize("T", [100, 1000, 3000])
def test_wsd_is_below_the_papers_closed_form_bound(T):
    """Schaipp et al.'s theorem for WSD with a linear cooldown from T0 bounds Omega* above."""
    T0 = int(0.8 * T)
    s = np.concatenate([np.ones(T0), 1 - np.arange(0, T + 1 - T0) / (T - T0)])[:T]
    _, best = optimal_base(s)
    a = 4 * (2 / 3 + (T + 2 * T0) / (3 * (T + T0)) + harmonic(T + T0 - 2) - harmonic(T - T0 + 1)
             - ((T - T0) * (T0 - 1)) / (3 * (T - T0 + 2) * (T + T0)) + 1 / (T - T0) ** 2
             + harmonic(T - T0 - 1) / (T - T0 + 1)) / (T + T0)
    closed = math.sqrt(a)
    assert best <= closed
    assert best > 0.7 * closed  # and not vacuously far below


def test_trailing_zero_lrs_are_dropped_and_leading_zeros_are_harmless():
    s = np.array([0.0, 0.5, 1.0, 1.0, 0.5])
    assert convex_bound(np.concatenate([s, [0.0, 0.0]])) == pytest.approx(convex_bound(s))
    assert math.isfinite(convex_bound(s))


def test_transfer_does_not_depend_on_d_and_g():
    cos = "warmup(50, cosine(3e-3, 0, 950))"
    wsd = "wsd(3e-3, 1000, warmup=50)"
    ratio = [schedule_bound(wsd, D=D, G=G).optimal_peak / schedule_bound(cos, D=D, G=G).optimal_peak
             for D, G in ((1, 1), (5, 0.1), (0.2, 7))]
    assert ratio[0] == pytest.approx(ratio[1]) == pytest.approx(ratio[2])
    assert transfer_peak(4e-3, schedule_bound(cos), schedule_bound(wsd)) == pytest.approx(4e-3 * ratio[0])


def test_longer_horizon_lowers_the_best_peak_and_the_bound():
    short = schedule_bound("warmup(50, cosine(1, 0, 950))")
    long = schedule_bound("warmup(50, cosine(1, 0, 3950))")
    assert long.optimal_peak < short.optimal_peak and long.optimal_bound < short.optimal_bound


def test_bound_at_its_own_peak_uses_the_peak():
    r = schedule_bound("cosine(0.1, 0, 200)")
    shape = np.array([(1 + math.cos(math.pi * t / 200)) / 2 for t in range(200)])
    a, b = bound_coefficients(shape)
    assert r.bound == pytest.approx(a / 0.1 + b * 0.1)
    assert r.peak == 0.1 and r.steps == 200


@pytest.mark.parametrize("call,match", [
    (lambda: convex_bound([]), "non-empty"),
    (lambda: convex_bound([0.0, 0.0]), "every learning rate is 0"),
    (lambda: convex_bound([1.0, float("nan")]), "finite"),
    (lambda: convex_bound([1.0, 1.0], D=0), "D must be a positive number"),
    (lambda: schedule_bound("constant(1e-3)"), "steps is required"),
    (lambda: schedule_bound("cosine(1, 0, 10)", steps=0), "steps must be a positive integer"),
    (lambda: transfer_peak(-1, schedule_bound("cosine(1, 0, 10)"), schedule_bound("cosine(1, 0, 20)")),
     "tuned peak must be a positive number"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_cli_bound_json(capsys):
    specs = ["warmup(50, cosine(3e-3, 0, 950))", "wsd(3e-3, 1000, warmup=50)", "constant(3e-3)"]
    assert main(["bound", *specs, "--steps", "1000", "--tuned-peak", "4e-3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["steps"] for r in rows] == [1000, 1000, 1000]
    assert rows[0]["peak_ratio"] == 1.0 and rows[0]["transferred_peak"] == pytest.approx(4e-3)
    direct = schedule_bound(specs[1])
    assert rows[1]["optimal_peak"] == pytest.approx(direct.optimal_peak)
    assert rows[1]["transferred_peak"] == pytest.approx(4e-3 * rows[1]["peak_ratio"])
    for key in ("spec", "peak", "bound", "optimal_bound"):
        assert key in rows[2]


def test_cli_bound_table(capsys):
    assert main(["bound", "cosine(1, 0, 100)", "linear(1, 0, 100)"]) == 0
    out = capsys.readouterr().out
    assert "cosine(1.0, 0.0, 100)" in out and "best peak" in out
