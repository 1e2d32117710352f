"""A training-free bound for comparing schedules and transferring a tuned peak LR.

Schaipp, Hägele, Taylor, Simsekli & Bach, "The Surprising Agreement Between Convex
Optimization Theory and Learning-Rate Scheduling for Large Model Training" (ICML 2025),
Theorem 1 (after Defazio, Cutkosky, Mehta & Mishchenko 2023, "Optimal linear decay
learning rate schedules and further refinements", Theorem 10): for SGD on a convex,
G-Lipschitz objective with ``D = ||x_1 - x*||``, the last iterate after T steps with
step sizes ``eta_1 .. eta_T`` satisfies ``E f(x_T) - f* <= Omega_T`` with::

    Omega_T = D^2 / (2 S_1) + G^2 Q_1 / (2 S_1)
              + G^2 / 2 * sum_{k=1}^{T-1} eta_k / S_{k+1} * Q_k / S_k
    S_k = sum_{t=k}^{T} eta_t,    Q_k = sum_{t=k}^{T} eta_t^2

With ``eta_t = gamma * s_t`` (a base LR ``gamma`` times the schedule's shape ``s``, here
the schedule divided by its peak, so ``gamma`` is the peak LR) the bound is
``a / gamma + b * gamma`` with ``a = D^2 / (2 S_1(s))`` and
``b = G^2 / 2 * (Q_1(s) / S_1(s) + sum_k s_k / S_{k+1}(s) * Q_k(s) / S_k(s))``, so the
optimal peak is ``gamma* = sqrt(a / b)`` and the optimal bound ``2 sqrt(a b)``.

``D`` and ``G`` are unknown for a real network: absolute values of ``gamma*`` mean little,
but ratios between schedules (or horizons) do not depend on them: the paper uses them to
transfer a peak LR tuned for one schedule to another, which is :func:`transfer_peak`.

Step ``t`` of an lrlab schedule is update ``t + 1`` here: a run of T updates uses
``s(0) .. s(T-1)``. Trailing updates with LR 0 do not move the iterate and are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def _as_lrs(lrs: Any) -> np.ndarray:
    eta = np.asarray(lrs, dtype=np.float64)
    if eta.ndim != 1 or eta.size == 0:
        raise ValueError(f"lrs must be a non-empty 1-d sequence of learning rates; got shape {eta.shape}")
    if not np.all(np.isfinite(eta)) or np.any(eta < 0):
        raise ValueError("learning rates must be finite and >= 0")
    nonzero = np.nonzero(eta)[0]
    if nonzero.size == 0:
        raise ValueError("every learning rate is 0: the bound needs a positive LR")
    return eta[: nonzero[-1] + 1]


def _check_dg(D: float, G: float) -> None:
    for name, value in (("D", D), ("G", G)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number; got {value!r}")


def bound_coefficients(lrs: Any, D: float = 1.0, G: float = 1.0) -> tuple[float, float]:
    """``(a, b)`` such that the bound of ``gamma * lrs`` is ``a / gamma + b * gamma``."""
    _check_dg(D, G)
    s = _as_lrs(lrs)
    S = np.cumsum(s[::-1])[::-1]          # S_k = sum_{t>=k} s_t
    Q = np.cumsum((s * s)[::-1])[::-1]    # Q_k = sum_{t>=k} s_t^2
    total = float(S[0])
    k = np.nonzero(s[:-1] > 0)[0]          # terms with s_k = 0 vanish
    tail = float(np.sum(s[k] / S[k + 1] * Q[k] / S[k])) if k.size else 0.0
    a = D * D / (2.0 * total)
    b = G * G / 2.0 * (float(Q[0]) / total + tail)
    return a, b


def convex_bound(lrs: Any, D: float = 1.0, G: float = 1.0) -> float:
    """``Omega_T`` of the step sizes ``lrs`` (see the module docstring)."""
    a, b = bound_coefficients(lrs, D, G)
    return a + b  # gamma = 1: the LRs as given


def optimal_base(lrs: Any, D: float = 1.0, G: float = 1.0) -> tuple[float, float]:
    """``(gamma*, Omega*)``: the factor on ``lrs`` that minimizes the bound, and the bound there."""
    a, b = bound_coefficients(lrs, D, G)
    return math.sqrt(a / b), 2.0 * math.sqrt(a * b)


@dataclass(frozen=True)
class ScheduleBound:
    """The bound of one schedule over ``steps`` updates: at its own peak (``bound``), and
    at the best peak (``optimal_peak``, ``optimal_bound``), for the given ``D`` and ``G``."""

    spec: str
    steps: int
    peak: float
    bound: float
    optimal_peak: float
    optimal_bound: float

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "steps": self.steps, "peak": self.peak, "bound": self.bound,
                "optimal_peak": self.optimal_peak, "optimal_bound": self.optimal_bound}


def schedule_bound(schedule: Any, steps: int | None = None, D: float = 1.0, G: float = 1.0) -> ScheduleBound:
    """The bound of an lrlab schedule (or its text form) run for ``steps`` updates (default:
    its own length; required for an endless schedule)."""
    import lrlab

    sched = lrlab.parse(schedule) if isinstance(schedule, str) else schedule
    if steps is None:
        length = sched.length
        if length is None:
            raise ValueError(f"steps is required: {sched} has no end")
        steps = math.ceil(length)
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    eta = np.asarray(sched.values(np.arange(int(steps))), dtype=np.float64)
    peak = float(eta.max()) if eta.size else 0.0
    if not peak > 0:
        raise ValueError(f"{sched} is 0 over its {steps} steps: the bound needs a positive LR")
    shape = eta / peak
    gamma, best = optimal_base(shape, D, G)
    a, b = bound_coefficients(shape, D, G)
    return ScheduleBound(str(sched), int(steps), peak, a / peak + b * peak, gamma, best)


def transfer_peak(tuned_peak: float, source: ScheduleBound, target: ScheduleBound) -> float:
    """The peak LR for ``target`` predicted from a peak tuned on ``source``:
    ``tuned_peak * optimal_peak(target) / optimal_peak(source)`` (independent of D and G)."""
    if not (isinstance(tuned_peak, (int, float)) and math.isfinite(tuned_peak) and tuned_peak > 0):
        raise ValueError(f"tuned peak must be a positive number; got {tuned_peak!r}")
    return float(tuned_peak) * target.optimal_peak / source.optimal_peak
