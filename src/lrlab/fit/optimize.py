"""A schedule optimized under a fitted loss-curve law (Luo et al., ICLR 2025, section 5).

Find the LR schedule that minimizes the law's predicted loss at the last step ``T``,
among schedules that warm up linearly from ``warmup_start`` to ``peak`` over ``warmup``
steps and then never increase, ending no lower than ``floor``. The decay is described by
``knots`` points, denser towards the end where the optimum of the multi-power law puts
its decay (the paper finds WSD-like shapes); between knots the LR is linear. Writing the
LR at knot ``j`` as ``peak * prod_{i<=j} r_i`` with ``r_i`` in ``[0, 1]`` makes
"non-increasing" a box constraint, so L-BFGS-B solves it directly (gradient by finite
differences over the knots; each evaluation predicts one point of the law).

The result is an lrlab ``piecewise`` schedule, whose text form ``lrlab show`` and
``lrlab at`` accept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .laws import Curve, LawFit, predict, single_thread_blas


@dataclass(frozen=True)
class OptimizedSchedule:
    """The optimized schedule (``schedule``, an lrlab Schedule; ``spec`` its text form)
    and the loss the law predicts at the last step for it (``loss``) and for the
    baselines of the same peak, warmup and horizon (``baselines``: spec -> loss)."""

    schedule: Any
    spec: str
    loss: float
    baselines: dict[str, float]
    steps: int

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "steps": self.steps, "predicted_final_loss": self.loss,
                "baselines": [{"spec": k, "predicted_final_loss": v} for k, v in self.baselines.items()]}


def _knot_positions(start: int, end: int, knots: int) -> np.ndarray:
    """Knot steps from ``start`` to ``end``: half spread evenly, half packed into the last
    quarter (quadratic spacing), unique integers."""
    u = np.linspace(0.0, 1.0, knots)
    pos = start + (end - start) * (1.0 - (1.0 - u) ** 2)
    return np.unique(np.round(pos).astype(np.int64))


def baselines(peak: float, steps: int, warmup: int, floor: float,
              warmup_start: float = 0.0) -> dict[str, Any]:
    """Cosine and WSD (20% 1-sqrt cooldown, Hägele et al. 2024) with the same peak, warmup,
    horizon and floor, as lrlab schedules keyed by name."""
    import lrlab

    rest = steps - warmup
    cos = lrlab.cosine(peak, floor, rest)
    start_factor = warmup_start / peak
    wsd = lrlab.wsd(peak, steps, warmup=warmup, floor=floor, start=warmup_start)
    return {"cosine": lrlab.warmup(warmup, cos, start_factor) if warmup else cos, "wsd": wsd}


def optimize_schedule(fit: LawFit, *, steps: int, peak: float, warmup: int = 0, floor: float = 0.0,
                      warmup_start: float = 0.0, knots: int = 24, maxiter: int = 200) -> OptimizedSchedule:
    """Minimize the fitted law's loss at step ``steps - 1`` over non-increasing decays (see
    the module docstring). Raises ValueError on bad input."""
    with single_thread_blas():
        return _optimize(fit, steps=steps, peak=peak, warmup=warmup, floor=floor,
                         warmup_start=warmup_start, knots=knots, maxiter=maxiter)


def _optimize(fit: LawFit, *, steps: int, peak: float, warmup: int, floor: float, warmup_start: float,
              knots: int, maxiter: int) -> OptimizedSchedule:
    from scipy.optimize import minimize

    import lrlab

    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 4:
        raise ValueError(f"steps must be an integer >= 4; got {steps!r}")
    if not (math.isfinite(peak) and peak > 0):
        raise ValueError(f"peak must be a positive number; got {peak!r}")
    if not isinstance(warmup, (int, np.integer)) or isinstance(warmup, bool) or not 0 <= warmup < steps - 2:
        raise ValueError(f"warmup must be an integer in [0, steps - 3]; got {warmup!r}")
    if not (math.isfinite(floor) and 0 <= floor < peak):
        raise ValueError(f"floor must be in [0, peak); got {floor!r}")
    if not (math.isfinite(warmup_start) and 0 <= warmup_start <= peak):
        raise ValueError(f"warmup_start must be in [0, peak]; got {warmup_start!r}")
    if not isinstance(knots, int) or knots < 2:
        raise ValueError(f"knots must be an integer >= 2; got {knots!r}")
    last = steps - 1
    at = _knot_positions(warmup, last, knots)
    n = at.size - 1  # the first knot is the peak
    grid = np.arange(steps)
    head = np.linspace(warmup_start, peak, warmup + 1)[:-1] if warmup else np.zeros(0)

    def lrs_of(r: np.ndarray) -> np.ndarray:
        values = floor + (peak - floor) * np.concatenate([[1.0], np.cumprod(r)])
        tail = np.interp(grid[warmup:], at, values)
        return np.concatenate([head, tail])

    def final_loss(lrs: np.ndarray) -> float:
        return float(predict(fit, Curve(lrs, np.array([last]), None, "optimize"))[0])

    def objective(r: np.ndarray) -> float:
        value = final_loss(lrs_of(np.clip(r, 0.0, 1.0)))
        return value if math.isfinite(value) else 1e30

    # start from the best of a few WSD-like shapes: flat, then a decay over the last fraction
    starts = []
    for frac in (0.1, 0.2, 0.4, 1.0):
        begin = last - frac * (last - warmup)
        target = np.clip((last - at) / max(last - begin, 1.0), 0.0, 1.0)  # 1 until begin, then to 0
        values = np.maximum(target, 1e-3)
        starts.append(np.clip(values[1:] / values[:-1], 0.0, 1.0))
    x0 = min(starts, key=objective)
    res = minimize(objective, x0, method="L-BFGS-B", bounds=[(0.0, 1.0)] * n,
                   options={"maxiter": maxiter, "eps": 1e-4})
    r = np.clip(res.x, 0.0, 1.0)
    values = floor + (peak - floor) * np.concatenate([[1.0], np.cumprod(r)])
    points_s = ([0] if warmup else []) + [int(s) for s in at]
    points_v = ([warmup_start] if warmup else []) + [float(f"{v:.6g}") for v in values]
    schedule = lrlab.piecewise(points_s, points_v)
    got = final_loss(np.asarray(schedule.values(grid), dtype=np.float64))
    if not math.isfinite(got):
        raise ValueError("the fitted law predicts a non-finite loss for the optimized schedule")
    base = {str(s): final_loss(np.asarray(s.values(grid), dtype=np.float64))
            for s in baselines(peak, steps, warmup, floor, warmup_start).values()}
    return OptimizedSchedule(schedule, str(schedule), got, base, int(steps))
