"""Identify a schedule from a logged learning-rate series, or from a few observed points.

``identify(log)`` answers "which schedule made this log?": it reads the log (CSV, JSON
lines, TensorBoard; see :mod:`lrlab.fit.logs`), finds its structure (warmup, the peak, a
plateau, jumps down = step milestones, jumps up = restarts, a flat end = the horizon
reached), fits every family that structure allows with ``scipy.optimize.least_squares``
from starts read off the data, rounds lengths to whole steps and parameters to the
shortest decimals that fit as well, and ranks the families by the Bayesian information
criterion. The answer is an lrlab schedule (its text form is a spec ``lrlab at`` accepts)
with its residual, a confidence, the runner-up families and the LR at the end of training;
when the log stops before the schedule ends, the horizon comes with an interval.

``identify(points=[(step, lr), ...], peak=..., total=...)`` answers the lesson's question
("0.30 at step 107,319 of 130,000 from a peak of 0.47: which schedule?"): every family
with as many unknowns as the observations pin down, solved, each with its LR at the end
of training, and whether the data can decide between them.

Errors are measured relative to the logged LR, with a floor of ``1e-3 * peak`` so that
an LR of 0 (a warmup from 0, a decay to 0) does not divide by zero:
``e_i = (fit_i - lr_i) / max(|lr_i|, 1e-3 * peak)``. ``residual`` is the root mean square
of ``e_i``, ``max_error`` the largest ``|e_i|``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import lrlab
from lrlab.schedules import Schedule

from .logs import LRLog, from_arrays, read_log

#: errors are relative to max(|lr|, FLOOR * peak)
FLOOR = 1e-3
#: the noise level below which a fit counts as exact (float64 rounding in the peers' formulas)
EXACT = 1e-9
#: at most this many points are fitted (the rest are used to measure the residual)
MAX_FIT_POINTS = 3000
#: points used to search every family; the best REFINED families are refitted on all
SEARCH_POINTS = 500
REFINED = 5
#: at most this many points measure the residual of the final candidates
MAX_CHECK_POINTS = 400_000
#: a confidence below this says the data cannot decide between the top families
DECIDE = 0.75
#: decay shapes tried for warmup + decay and WSD
DECAY_SHAPES = ("linear", "cosine", "one_minus_sqrt", "one_minus_square", "polynomial", "geometric")
#: every family identify can answer
FAMILY_NAMES = ("constant", *DECAY_SHAPES, "wsd", "onecycle", "multistep", "step", "sgdr",
                "exponential", "inverse_sqrt")


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One family fitted to the log: its schedule, text form and errors."""

    family: str
    spec: str
    schedule: Schedule
    residual: float
    max_error: float
    n_params: int
    bic: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "family": self.family, "residual": self.residual,
                "max_error": self.max_error}


@dataclass(frozen=True)
class Identification:
    """What :func:`identify` found in a log.

    ``spec`` is the text form of ``schedule`` (``lrlab.parse(spec)`` rebuilds it);
    ``residual`` and ``max_error`` compare it with every logged point (see the module
    docstring); ``confidence`` is the Bayesian-information-criterion weight of ``family``
    among the families fitted; ``decided`` is False, with ``reason``, when the data cannot
    decide (a constant LR, no decay yet, families that fit equally well). ``end_step`` is
    the end of training (``total`` if given, else the schedule's own end; None if it never
    ends) and ``end_lr`` the LR there. ``horizon`` is the step where the schedule reaches
    its final value, with ``horizon_interval`` (about 95%) when the log stops before it.
    """

    spec: str
    family: str
    schedule: Schedule
    residual: float
    max_error: float
    confidence: float
    decided: bool
    reason: str | None
    runner_up: tuple[Candidate, ...]
    end_step: float | None
    end_lr: float | None
    horizon: float | None
    horizon_interval: tuple[float, float] | None
    truncated: bool
    points: int
    fitted_points: int
    source: str
    notes: tuple[str, ...] = field(default=())
    log: LRLog | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``spec``, ``family``, ``residual``, ``runner_up`` (a list of
        ``{spec, family, residual, max_error}``) and the rest of the fields."""
        return {
            "spec": self.spec, "family": self.family, "residual": self.residual,
            "max_error": self.max_error, "confidence": self.confidence, "decided": self.decided,
            "reason": self.reason, "runner_up": [c.to_dict() for c in self.runner_up],
            "end_step": self.end_step, "end_lr": self.end_lr, "horizon": self.horizon,
            "horizon_interval": None if self.horizon_interval is None else list(self.horizon_interval),
            "truncated": self.truncated, "points": self.points, "fitted_points": self.fitted_points,
            "source": self.source, "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Explanation:
    """One family consistent (or not) with observed points: see :func:`explain`."""

    family: str
    description: str
    spec: str | None
    schedule: Schedule | None
    end_lr: float | None
    max_error: float | None
    consistent: bool
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "description": self.description, "spec": self.spec,
                "end_lr": self.end_lr, "max_error": self.max_error, "consistent": self.consistent,
                "note": self.note}


@dataclass(frozen=True)
class PartialIdentification:
    """What :func:`explain` found: the families consistent with the observations.

    ``decided`` is True only when a single family is consistent; ``reason`` says why the
    data cannot decide otherwise. ``end_lr_range`` spans the consistent families' LRs at
    the end of training, and ``next_step`` is the step where they disagree most (the most
    useful point to look at next in the log).
    """

    points: tuple[tuple[float, float], ...]
    peak: float | None
    total: float
    warmup: float
    candidates: tuple[Explanation, ...]
    decided: bool
    reason: str
    end_lr_range: tuple[float, float] | None
    next_step: int | None

    @property
    def consistent(self) -> tuple[Explanation, ...]:
        return tuple(c for c in self.candidates if c.consistent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": [list(p) for p in self.points], "peak": self.peak, "total": self.total,
            "warmup": self.warmup, "decided": self.decided, "reason": self.reason,
            "end_lr_range": None if self.end_lr_range is None else list(self.end_lr_range),
            "next_step": self.next_step,
            "candidates": [c.to_dict() for c in self.candidates],
        }


# ------------------------------------------------------------------------------------------
# the data and its structure
# ------------------------------------------------------------------------------------------


@dataclass
class _Data:
    t: np.ndarray          # fitted steps
    y: np.ndarray          # fitted LRs
    w: np.ndarray          # 1 / max(|y|, FLOOR * peak)
    t_check: np.ndarray    # steps the residual is measured on
    y_check: np.ndarray
    peak: float
    noise: float           # robust relative noise level of the log
    tol: float             # relative tolerance for "equal" (noise + rounding)
    warmup: bool           # the LR rises to its peak
    ramp_end: float        # first step at the peak
    plateau_end: float     # last step at the peak
    plateau_points: int
    start_factor: float    # extrapolated LR at step 0 / peak
    jumps_down: list[float]
    jumps_up: list[float]
    ends_flat: bool        # the last points hold one value below the peak
    decays: bool           # the LR falls below the peak after it
    first: float
    last: float
    spacing: float         # median step between logged points
    total: float | None
    late: bool = False     # the log starts well after step 0 with no warmup in sight
    near_end: float = 0.0  # last step within the noise of the peak


def _weights(y: np.ndarray, peak: float) -> np.ndarray:
    return 1.0 / np.maximum(np.abs(y), FLOOR * peak)


def _noise(y: np.ndarray) -> float:
    """Robust relative noise level: the MAD of second differences of relative steps
    (a smooth curve's steps change slowly; noise makes them alternate)."""
    if y.size < 5:
        return 0.0
    scale = np.maximum(np.maximum(np.abs(y[:-1]), np.abs(y[1:])), 1e-300)
    d = (y[1:] - y[:-1]) / scale
    dd = np.diff(d)
    return float(1.4826 * np.median(np.abs(dd - np.median(dd))) / math.sqrt(6.0))


def _jumps(t: np.ndarray, y: np.ndarray, peak: float, noise: float) -> tuple[list[float], list[float]]:
    """Steps where the LR jumps (the first step of the new level), down and up.

    A jump is a change between neighbouring points at least 4 times larger than the
    changes beside it and well above the noise, relative either to the local LR or to
    the peak (a restart from a floor of 0 is large only relative to the peak).
    """
    if y.size < 3:
        return [], []
    down: list[float] = []
    up: list[float] = []
    sizes: dict[float, float] = {}
    diff = y[1:] - y[:-1]
    for scale, sigma in (
        (np.maximum(np.maximum(np.abs(y[:-1]), np.abs(y[1:])), 1e-300), noise),
        (np.full(diff.shape, peak), noise),
    ):
        d = diff / scale
        a = np.abs(d)
        left = np.concatenate([[0.0], a[:-1]])
        right = np.concatenate([a[1:], [0.0]])
        hit = (a > 4.0 * np.maximum(left, right)) & (a > 10.0 * sigma) & (a > 1e-6)
        for i in np.flatnonzero(hit):
            target = up if d[i] > 0 else down
            step = float(t[i + 1])
            sizes[step] = max(sizes.get(step, 0.0), float(a[i]))
            if step not in target:
                target.append(step)
    if len(sizes) > 20:
        # many small "jumps" are a log printed with few digits (a staircase), not
        # milestones: keep the ones far above the typical one (and above 5%; many restarts
        # of an SGDR, all large, stay)
        cut = max(0.05, min(10.0 * float(np.median(list(sizes.values()))), 0.5))
        down = [s for s in down if sizes[s] >= cut]
        up = [s for s in up if sizes[s] >= cut]
    return sorted(down), sorted(up)


def _subsample(t: np.ndarray, y: np.ndarray, keep_steps: Iterable[float], limit: int) -> np.ndarray:
    """Indices of at most about ``limit`` points: evenly spread, plus the two points on
    each side of every jump (so milestones and restarts stay exact)."""
    n = t.size
    if n <= limit:
        return np.arange(n)
    index = set(np.linspace(0, n - 1, limit).round().astype(int).tolist())
    positions = np.searchsorted(t, list(keep_steps))
    for p in positions:
        for q in range(int(p) - 2, int(p) + 2):
            if 0 <= q < n:
                index.add(q)
    return np.array(sorted(index))


def _spikes(y: np.ndarray) -> np.ndarray:
    """Indices of isolated spikes: a point at least 50% away from both neighbours, which
    agree with each other to 5% (a logging glitch, not a milestone or a restart, which
    move the level for good)."""
    if y.size < 5:
        return np.zeros(0, dtype=int)
    left, mid, right = y[:-2], y[1:-1], y[2:]
    base = np.maximum(np.maximum(left, right), 1e-300)
    agree = np.abs(left - right) <= 0.05 * base
    away = (np.abs(mid - left) > 0.5 * base) & (np.abs(mid - right) > 0.5 * base)
    return np.flatnonzero(agree & away) + 1


def _ends_flat(t: np.ndarray, y: np.ndarray) -> bool:
    """Whether the log ends on a level (the schedule's final value reached): no trend over
    its last points (a straight-line fit whose change over them is within 3 standard
    errors, or within 1e-9 relative for an exact log)."""
    m = max(4, min(20, y.size // 20))
    if y.size < 4:
        return False
    s, v = t[-m:], y[-m:]
    if np.ptp(v) <= 1e-9 * max(float(np.abs(v).max()), 1e-300):
        return True
    centred = s - s.mean()
    spread = float(np.dot(centred, centred))
    slope = float(np.dot(centred, v - v.mean())) / spread
    resid = v - v.mean() - slope * centred
    se = math.sqrt(float(np.dot(resid, resid)) / max(m - 2, 1) / spread)
    return abs(slope) <= 3.0 * se


def _analyse(log: LRLog, total: float | None) -> tuple[_Data, list[str]]:
    t_all, y_all = log.steps, log.lrs
    notes: list[str] = []
    spikes = _spikes(y_all)
    if spikes.size and spikes.size <= max(1, y_all.size // 100):
        shown = ", ".join(f"{t_all[i]:.0f}" for i in spikes[:5]) + (", ..." if spikes.size > 5 else "")
        notes.append(f"ignored {spikes.size} isolated spike{'s' if spikes.size > 1 else ''} (step {shown})")
        keep_mask = np.ones(y_all.size, dtype=bool)
        keep_mask[spikes] = False
        t_all, y_all = t_all[keep_mask], y_all[keep_mask]
    peak = float(y_all.max())
    noise = _noise(y_all)
    tol = max(EXACT, 4.0 * noise)
    down, up = _jumps(t_all, y_all, peak, noise)
    near = np.flatnonzero(y_all >= peak * (1.0 - max(tol, 1e-12)))
    i_first = int(near[0])
    i_last = int(near[-1])  # with noise the plateau may break early: its likely end
    # contiguous plateau from the first peak point
    plateau = i_first
    while plateau + 1 < y_all.size and y_all[plateau + 1] >= peak * (1.0 - max(tol, 1e-12)):
        plateau += 1
    warm = i_first > 0 and y_all[0] < peak * (1.0 - 10.0 * tol)
    late = bool(not warm and t_all[0] > 0 and t_all[0] >= 0.02 * t_all[-1])
    start_factor = 0.0
    ramp_end = float(t_all[i_first])
    if warm:
        t0, t1, y0, y1 = t_all[0], t_all[1], y_all[0], y_all[1]
        slope = (y1 - y0) / (t1 - t0) if t1 > t0 else 0.0
        intercept = y0 - slope * t0
        start_factor = float(min(max(intercept / peak, 0.0), 1.0))
        if slope > 0:
            ramp_end = float(min(max((peak - intercept) / slope, t_all[i_first - 1] + 1e-9), t_all[i_first]))
    ends_flat = _ends_flat(t_all, y_all) and bool(y_all[-1] < peak * (1 - tol))
    decays = bool(y_all[i_first:].min() < peak * (1.0 - 10.0 * tol)) or bool(down) or bool(up)
    marks = [*down, *up, float(t_all[i_first]), float(t_all[plateau])]
    keep = _subsample(t_all, y_all, marks, MAX_FIT_POINTS)
    if keep.size < t_all.size:
        notes.append(f"fitted on {keep.size} of {t_all.size} points (evenly spread, plus the points "
                     "around every jump); the residual is measured on "
                     + ("all points" if t_all.size <= MAX_CHECK_POINTS else f"{MAX_CHECK_POINTS} points"))
    check = _subsample(t_all, y_all, [*down, *up], MAX_CHECK_POINTS)
    t, y = t_all[keep], y_all[keep]
    spacing = float(np.median(np.diff(t_all))) if t_all.size > 1 else 1.0
    data = _Data(
        t=t, y=y, w=_weights(y, peak), t_check=t_all[check], y_check=y_all[check], peak=peak,
        noise=noise, tol=tol, warmup=bool(warm), ramp_end=ramp_end, plateau_end=float(t_all[plateau]),
        plateau_points=plateau - i_first + 1, start_factor=start_factor, jumps_down=down,
        jumps_up=[u for u in up if u > t_all[i_first]], ends_flat=ends_flat, decays=decays,
        first=float(t_all[0]), last=float(t_all[-1]), spacing=spacing, total=total, late=late,
        near_end=float(t_all[i_last]),
    )
    return data, notes


# ------------------------------------------------------------------------------------------
# families as fittable models
# ------------------------------------------------------------------------------------------

_Values = dict[str, float]


@dataclass
class _Model:
    """A family with named parameters: ``build`` turns values into an lrlab schedule.

    ``kinds`` says how each parameter is snapped: ``length`` (whole steps), ``lr``,
    ``factor``/``rate``/``power`` (short decimals). ``bounds`` and ``starts`` are read off
    the data. ``structural`` counts parameters fixed from the structure (milestones,
    restarts) for the information criterion.
    """

    family: str
    kinds: dict[str, str]
    bounds: dict[str, tuple[float, float]]
    starts: list[_Values]
    build: Callable[[_Values], Schedule]
    label: Callable[[_Values], str] | None = None
    horizon_param: str | None = None
    structural: int = 0
    conventions: Callable[[_Values], dict[str, list[float]]] | None = None
    shape: str | None = None  # the decay shape of a warmup + decay or WSD model

    def name(self, v: _Values) -> str:
        return self.label(v) if self.label else self.family


def _phase(shape: str, start: float, end: float, steps: float, power: float = 1.0) -> Schedule:
    if shape == "polynomial":
        if power == 1.0:  # (1 - x)^1 is the linear shape: say so
            return lrlab.linear(start, end, steps)
        return lrlab.polynomial(start, end, steps, power=power)
    return getattr(lrlab, shape)(start, end, steps)


def _tidy(x: float) -> float:
    """``x`` to 12 significant digits: a product such as ``0.1 * 3e-4`` printed as ``3e-05``
    (a relative change below 1e-12, float64 rounding in the peers' own formulas)."""
    return float(f"{x:.12g}")


def _whole(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _with_warmup(core: Schedule, v: _Values, shape: str = "linear") -> Schedule:
    ramp = v.get("ramp", 0.0)
    hold = v.get("hold", 0.0)
    if ramp <= 1e-9 and hold <= 1e-9:
        return core
    if ramp <= 1e-9:
        return lrlab.join(lrlab.constant(core(0), _whole(hold)), core)
    if hold > 1e-9:
        return lrlab.warmup(_whole(ramp + hold), core, start_factor=v.get("start_factor", 0.0),
                            ramp=_whole(ramp), shape=shape)
    return lrlab.warmup(_whole(ramp), core, start_factor=v.get("start_factor", 0.0), shape=shape)


def _warmup_params(d: _Data, kinds: dict[str, str], bounds: dict[str, tuple[float, float]],
                   start: _Values) -> None:
    if not d.warmup:
        return
    kinds.update(ramp="length", start_factor="factor")
    bounds["ramp"] = (max(d.first, 1e-6), max(d.plateau_end, d.first + 1.0))
    bounds["start_factor"] = (0.0, 1.0)
    start.update(ramp=d.ramp_end, start_factor=d.start_factor)


def _warmup_conventions(v: _Values) -> dict[str, list[float]]:
    """transformers (0), build-nanogpt (1/W with ramp W-1), nanoGPT (1/(W+1))."""
    ramp = round(v.get("ramp", 0.0))
    out = [0.0]
    if ramp >= 1:
        out += [1.0 / (ramp + 1), 1.0 / ramp, 1.0 / (ramp + v.get("hold", 0.0) or 1.0)]
    return {"start_factor": out}


def _phase_model(d: _Data, shape: str, hold: bool, warmup_shape: str = "linear") -> _Model:
    """Warmup (optional; ``warmup_shape``), a hold at the peak (WSD's stable phase;
    build-nanogpt's one step), then one decay phase of ``shape`` to a floor, held after."""
    P = d.peak
    kinds = {"peak": "lr", "floor": "lr", "decay": "length"}
    low_floor = 1e-12 * P if shape == "geometric" else 0.0
    span = max(d.last - d.first, 1.0)
    bounds: dict[str, tuple[float, float]] = {
        "peak": (0.5 * P, 1.5 * P), "floor": (low_floor, P), "decay": (1e-3 * span, 1e3 * span),
    }
    base: _Values = {"peak": P}
    _warmup_params(d, kinds, bounds, base)
    decay_start = d.ramp_end if d.warmup else d.first
    peaks = [P]
    if d.late and not d.plateau_points >= 2:
        # the log starts mid-decay: the peak (and where the decay began) came before it
        bounds["peak"] = (0.5 * P, 50.0 * P)
        peaks = [P, 1.5 * P, 3.0 * P]
        decay_start = 0.0
        span = max(d.last, 1.0)
        bounds["decay"] = (1e-3 * span, 1e3 * span)
    if hold:
        kinds["hold"] = "length"
        bounds["hold"] = (0.0, 2.0 * span)
        base["hold"] = max(d.plateau_end - (d.ramp_end if d.warmup else 0.0), 0.0)
        decay_start = d.plateau_end
        if d.late and d.plateau_points < 2:
            base["hold"] = 0.01 * d.first
            bounds["hold"] = (0.0, d.first)
    if shape == "polynomial":
        kinds["power"] = "power"
        bounds["power"] = (0.05, 20.0)
        base["power"] = 2.0
    seen = max(d.last - decay_start, 1.0)
    y_end = float(d.y[-1])
    floors = [min(y_end, 0.999 * P), max(low_floor, 0.0)] if not d.ends_flat else [y_end]
    if d.ends_flat:
        reach = d.t[np.flatnonzero(np.abs(d.y - y_end) <= d.tol * max(y_end, 1e-300) + 1e-300)[0]]
        lengths = [max(reach - decay_start, 1.0)]
    elif d.total is not None and d.total > decay_start:
        lengths = [d.total - decay_start, seen * 1.2]
    else:
        lengths = [seen * 1.05, seen * 1.5, seen * 3.0]
    starts = [{**base, "peak": p, "floor": max(f, low_floor), "decay": L}
              for p in peaks for f in floors for L in lengths]
    if hold and d.near_end > d.plateau_end and not d.late:
        # a noisy stable phase: also start from its last point near the peak
        held = d.near_end - (d.ramp_end if d.warmup else 0.0)
        seen_after = max(d.last - d.near_end, 1.0)
        starts += [{**base, "hold": held, "floor": max(f, low_floor), "decay": L * seen_after}
                   for f in floors for L in (1.05, 1.5)]

    def build(v: _Values) -> Schedule:
        power = v.get("power", 1.0)
        if hold and v.get("hold", 0.0) >= _wsd_hold(v) and shape != "polynomial":
            warm = v.get("ramp", 0.0)
            return lrlab.wsd(v["peak"], _whole(warm + v["hold"] + v["decay"]), warmup=_whole(warm),
                             cooldown=_whole(v["decay"]), shape=shape, floor=v["floor"],
                             start=_tidy(v.get("start_factor", 0.0) * v["peak"]), warmup_shape=warmup_shape)
        return _with_warmup(_phase(shape, v["peak"], v["floor"], _whole(v["decay"]), power), v, warmup_shape)

    def label(v: _Values) -> str:
        if hold and v.get("hold", 0.0) >= _wsd_hold(v):
            return "wsd"
        return "linear" if shape == "polynomial" and v.get("power") == 1.0 else shape

    return _Model(shape if not hold else "wsd", kinds, bounds, starts, build, label, "decay",
                  conventions=_warmup_conventions, shape=shape)


def _wsd_hold(v: _Values) -> float:
    """A hold of at least 2 steps and 5% of the run makes a WSD (else a peak held a step
    or two, as build-nanogpt's warmup does)."""
    return max(2.0, 0.05 * (v.get("ramp", 0.0) + v.get("hold", 0.0) + v.get("decay", 0.0)))


def _overlaid_warmup_model(d: _Data) -> _Model:
    """A cosine over the whole run whose first ``W`` steps a linear warmup overrides
    (timm's ``CosineLRScheduler`` without ``warmup_prefix``, its default: the cosine runs
    on the absolute step). lrlab has no time shift yet, so the warmup is written as a
    factor on the cosine, linear from ``start_factor`` to ``end_factor`` over ``W`` steps:
    exact after the warmup, within ``(pi W / 2T)^2`` relative during it."""
    P = d.peak
    span = max(d.last, 1.0)
    kinds = {"peak": "lr", "floor": "lr", "decay": "length", "ramp": "length", "start_factor": "factor",
             "end_factor": "factor"}
    bounds = {"peak": (0.5 * P, 1.5 * P), "floor": (0.0, P),
              "decay": (max(d.ramp_end + 1.0, 2.0), 1e3 * span),
              "ramp": (max(d.first, 1e-6), max(d.plateau_end, d.first + 1.0)), "start_factor": (0.0, 1.0),
              "end_factor": (0.0, 1.5)}
    y_end = float(d.y[-1])
    lengths = [d.last + 1.0] if d.total is None else [d.total]
    if not d.ends_flat and d.total is None:
        lengths += [1.5 * (d.last + 1.0)]
    starts = [{"peak": P, "floor": f, "decay": L, "ramp": d.ramp_end, "start_factor": d.start_factor,
               "end_factor": 1.0} for f in {min(y_end, 0.999 * P), 0.0} for L in lengths]

    def build(v: _Values) -> Schedule:
        ramp, decay = _whole(v["ramp"]), _whole(v["decay"])
        factor = lrlab.join(lrlab.linear(v["start_factor"], v["end_factor"], ramp),
                            lrlab.constant(1.0, _whole(max(v["decay"] - v["ramp"], 1.0))))
        return lrlab.product(lrlab.cosine(v["peak"], v["floor"], decay), factor)

    return _Model("cosine", kinds, bounds, starts, build, None, "decay")


def _onecycle_model(d: _Data, anneal: str) -> _Model:
    P = d.peak
    y0 = max(float(d.y[0]), 1e-12 * P)
    div0 = P / y0
    y_min = max(float(d.y[-1]), 1e-300)
    n = d.last + 1.0
    Ts = [n] if d.total is None else [d.total]
    if d.total is None and not d.ends_flat:
        Ts += [1.3 * n, 2.0 * n]
    fd0 = min(max((P / div0) / y_min, 1.0), 1e8)
    starts = [{"peak": P, "steps": T, "pct_start": min(max((d.ramp_end + 1.0) / T, 0.01), 0.98),
               "div": div0, "final_div": f} for T in Ts for f in {fd0, 1e4}]
    bounds = {"peak": (0.5 * P, 1.5 * P), "steps": (max(d.ramp_end + 2.0, 3.0), 1e3 * n),
              "pct_start": (1e-3, 0.999), "div": (1.0 + 1e-9, 1e7), "final_div": (1.0 + 1e-9, 1e9)}
    kinds = {"peak": "lr", "steps": "length", "pct_start": "factor", "div": "rate", "final_div": "rate"}

    def build(v: _Values) -> Schedule:
        return lrlab.onecycle(v["peak"], _whole(v["steps"]), pct_start=v["pct_start"], div=v["div"],
                              final_div=v["final_div"], anneal=anneal)

    return _Model("onecycle", kinds, bounds, starts, build, None, "steps")


def _levels(d: _Data, marks: Sequence[float]) -> list[float]:
    edges = [d.ramp_end if d.warmup else d.first, *marks, math.inf]
    out = []
    for a, b in itertools.pairwise(edges):
        part = d.y[(d.t >= a) & (d.t < b)]
        out.append(float(np.median(part)) if part.size else math.nan)
    return out


def _regular(marks: Sequence[float]) -> bool:
    """Milestones at every k steps from 0 (torch ``StepLR``): at least two of them."""
    return len(marks) >= 2 and all(m == (k + 1) * marks[0] for k, m in enumerate(marks))


def _multistep_model(d: _Data, free_levels: bool, regular: bool = False) -> _Model:
    """Levels after the jumps down: ``multistep`` (milestones as found, a common ratio or
    free factors) or, with ``regular``, ``step`` (one every ``marks[0]`` steps, going on
    after the log)."""
    P = d.peak
    marks = list(d.jumps_down)
    levels = _levels(d, marks)
    ratios = [b / a for a, b in itertools.pairwise(levels) if a > 0 and b > 0 and math.isfinite(a * b)]
    gamma0 = float(np.exp(np.mean(np.log(ratios)))) if ratios else 0.1
    kinds: dict[str, str] = {"peak": "lr"}
    bounds: dict[str, tuple[float, float]] = {"peak": (0.5 * P, 1.5 * P)}
    start: _Values = {"peak": P}
    if free_levels:
        for k, level in enumerate(levels[1:]):
            kinds[f"factor{k}"] = "factor"
            bounds[f"factor{k}"] = (1e-12, 2.0)
            guess = level / P if math.isfinite(level) else gamma0 ** (k + 1)
            start[f"factor{k}"] = min(max(guess, 1e-9), 1.5)
    else:
        kinds["gamma"] = "factor"
        bounds["gamma"] = (1e-9, 1.0)
        start["gamma"] = min(max(gamma0, 1e-6), 0.999999)
    _warmup_params(d, kinds, bounds, start)

    def build(v: _Values) -> Schedule:
        origin = round(v.get("ramp", 0.0)) if d.warmup else 0
        local = [_whole(m - origin) for m in marks]
        if free_levels:
            core: Schedule = lrlab.multistep(v["peak"], local,
                                             factors=[v[f"factor{k}"] for k in range(len(marks))])
        elif regular:
            core = lrlab.step(v["peak"], v["gamma"], _whole(marks[0]))
        else:
            core = lrlab.multistep(v["peak"], local, gamma=v["gamma"])
        if d.warmup:
            return lrlab.warmup(origin, core, start_factor=v.get("start_factor", 0.0))
        return core

    family = "step" if regular else "multistep"
    return _Model(family, kinds, bounds, [start], build, None, None,
                  structural=1 if regular else len(marks), conventions=_warmup_conventions)


def _sgdr_model(d: _Data, decay: bool, cycles: bool) -> _Model:
    P = d.peak
    origin = d.ramp_end if d.warmup else 0.0
    restarts = d.jumps_up
    period, mult = _period(restarts, origin, d.spacing)
    tops = [float(d.y[np.searchsorted(d.t, r)]) for r in restarts if np.searchsorted(d.t, r) < d.y.size]
    decay0 = min(max(tops[0] / P, 1e-3), 1.0) if tops and decay else 1.0
    kinds = {"peak": "lr", "floor": "lr", "period": "length", "mult": "rate"}
    bounds = {"peak": (0.5 * P, 1.5 * P), "floor": (0.0, P), "period": (period, period),
              "mult": (mult, mult)}
    start: _Values = {"peak": P, "floor": float(d.y.min()), "period": period, "mult": mult}
    if decay:
        kinds["decay"] = "factor"
        bounds["decay"] = (1e-6, 1.0)
        start["decay"] = decay0
    _warmup_params(d, kinds, bounds, start)
    # complete cycles seen: restarts + 1 if the log goes on past the next cycle's end
    count = len(restarts) + 1

    def build(v: _Values) -> Schedule:
        core = lrlab.sgdr(v["peak"], _whole(v["period"]), mult=v["mult"], floor=v["floor"],
                          decay=v.get("decay", 1.0), cycles=count if cycles else None)
        return _with_warmup(core, v)

    return _Model("sgdr", kinds, bounds, [start], build, None, None, structural=2 + int(cycles),
                  conventions=_warmup_conventions)


def _period(restarts: Sequence[float], origin: float, spacing: float) -> tuple[float, float]:
    """SGDR's first period and multiplier from the restarts seen.

    A restart at step ``r_k`` (the first logged step of cycle ``k``) happened in
    ``(r_k - spacing, r_k]``, and cycle ``k`` starts at ``origin + T (m^k - 1) / (m - 1)``
    (``origin + k T`` for ``m = 1``). For each multiplier tried (1, 2, 3, 1.5, and the one
    the first two restarts suggest), every restart bounds ``T`` from both sides; the
    multiplier whose bounds agree wins, ``T`` the largest whole step they allow.
    """
    first = restarts[0] - origin
    guesses = [1.0, 2.0, 3.0, 1.5]
    if len(restarts) >= 2:
        guesses.append(max(1.0, (restarts[1] - restarts[0]) / first))
    fallback: tuple[float, float, float] | None = None  # (slack, period, mult)
    for mult in guesses:
        lows, highs = [], []
        for k, r in enumerate(restarts, start=1):
            cycles = float(k) if mult == 1.0 else (mult**k - 1.0) / (mult - 1.0)
            highs.append((r - origin) / cycles)
            lows.append((r - origin - spacing) / cycles)
        lo, hi = max(lows), min(highs)
        period = float(math.floor(hi)) if math.floor(hi) > lo else hi
        if hi >= lo:
            return period, mult  # the first multiplier (in the order above) that fits
        if fallback is None or hi - lo > fallback[0]:
            fallback = (hi - lo, period, mult)
    assert fallback is not None
    return fallback[1], fallback[2]


def _exponential_model(d: _Data) -> _Model:
    P = d.peak
    after = (d.t >= d.plateau_end) & (d.y > 0)
    gamma0 = 0.999
    if np.count_nonzero(after) >= 2:
        slope = np.polyfit(d.t[after], np.log(d.y[after]), 1)[0]
        gamma0 = float(min(max(math.exp(slope), 1e-6), 1.0 - 1e-12))
    kinds = {"peak": "lr", "gamma": "rate"}
    bounds = {"peak": (0.5 * P, 1.5 * P), "gamma": (1e-6, 1.0)}
    start: _Values = {"peak": P, "gamma": gamma0}
    _warmup_params(d, kinds, bounds, start)

    def build(v: _Values) -> Schedule:
        return _with_warmup(lrlab.exponential(v["peak"], v["gamma"]), v)

    return _Model("exponential", kinds, bounds, [start], build, None, None,
                  conventions=_warmup_conventions)


def _inverse_sqrt_model(d: _Data) -> _Model:
    P = d.peak
    origin = d.ramp_end if d.warmup else 0.0
    mid = d.y.size // 2 + d.y.size // 4
    tau, ratio = d.t[mid] - origin, P / max(float(d.y[mid]), 1e-300)
    s0 = tau / (ratio**2 - 1.0) if ratio > 1.0 + 1e-9 and tau > 0 else max(origin, 1000.0)
    span = max(d.last, 1.0)
    kinds = {"peak": "lr", "timescale": "length"}
    bounds = {"peak": (0.5 * P, 1.5 * P), "timescale": (1e-3, 1e4 * span)}
    starts = [{"peak": P, "timescale": s} for s in {min(max(s0, 1e-2), 1e3 * span), max(origin, 1.0)}]
    for s in starts:
        _warmup_params(d, kinds, bounds, s)

    def build(v: _Values) -> Schedule:
        return _with_warmup(lrlab.inverse_sqrt(v["peak"], _whole(v["timescale"])), v)

    return _Model("inverse_sqrt", kinds, bounds, starts, build, None, None,
                  conventions=_warmup_conventions)


def _constant_model(d: _Data) -> _Model:
    P = d.peak
    kinds = {"peak": "lr"}
    bounds = {"peak": (0.0, 1.5 * P)}
    start: _Values = {"peak": float(np.median(d.y))}
    _warmup_params(d, kinds, bounds, start)

    def build(v: _Values) -> Schedule:
        return _with_warmup(lrlab.constant(v["peak"]), v)

    return _Model("constant", kinds, bounds, [start], build, None, None, conventions=_warmup_conventions)


def _models(d: _Data, families: Sequence[str] | None) -> list[_Model]:
    out = [_constant_model(d)]
    if d.decays:
        smooth = not d.jumps_down and not d.jumps_up
        if smooth or not d.jumps_up:
            out += [_phase_model(d, shape, hold=False) for shape in DECAY_SHAPES]
            if d.plateau_points >= 2 or d.near_end > d.plateau_end or d.late:
                out += [_phase_model(d, shape, hold=True) for shape in DECAY_SHAPES
                        if shape != "polynomial"]
            out += [_exponential_model(d), _inverse_sqrt_model(d)]
            if d.warmup and d.y[0] > 0:
                out += [_onecycle_model(d, "cos"), _onecycle_model(d, "linear")]
            if d.warmup:
                out += [_overlaid_warmup_model(d)]
        if d.jumps_down and not d.jumps_up:
            out += [_multistep_model(d, False)]
            if len(d.jumps_down) >= 2:
                out += [_multistep_model(d, True)]
            if not d.warmup and _regular(d.jumps_down):
                out += [_multistep_model(d, False, regular=True)]
        if d.jumps_up:
            out += [_sgdr_model(d, decay, cycles) for decay in (False, True) for cycles in (False, True)]
    if families:
        wanted = set(families)
        out = [m for m in out if m.family in wanted or m.family == "constant"]
    return out


# ------------------------------------------------------------------------------------------
# fitting
# ------------------------------------------------------------------------------------------


@dataclass
class _Fit:
    model: _Model
    values: _Values
    schedule: Schedule
    rss: float  # weighted relative squared errors on the fitted points


def _errors(schedule: Schedule, t: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return (schedule.values(t) - y) * w


_BAD = 1e3


def _residual_fn(model: _Model, d: _Data, free: list[str],
                 fixed: _Values) -> Callable[[np.ndarray], np.ndarray]:
    def fn(x: np.ndarray) -> np.ndarray:
        v = dict(fixed)
        v.update(zip(free, (float(a) for a in x)))
        try:
            r = _errors(model.build(v), d.t, d.y, d.w)
        except (ValueError, TypeError, ZeroDivisionError, OverflowError):
            return np.full(d.t.shape, _BAD)
        return np.where(np.isfinite(r), r, _BAD)

    return fn


def _rss(model: _Model, d: _Data, v: _Values) -> tuple[float, Schedule | None]:
    try:
        s = model.build(v)
        r = _errors(s, d.t, d.y, d.w)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        return math.inf, None
    if not np.all(np.isfinite(r)):
        return math.inf, None
    return float(np.dot(r, r)), s


def _optimize(model: _Model, d: _Data, start: _Values, names: list[str], budget: int = 60) -> _Values:
    from scipy.optimize import least_squares

    free = [n for n in names if model.bounds[n][1] > model.bounds[n][0]]
    fixed = {k: v for k, v in start.items() if k not in free}
    if not free:
        return dict(start)
    lo = np.array([model.bounds[n][0] for n in free])
    hi = np.array([model.bounds[n][1] for n in free])
    x0 = np.clip(np.array([start[n] for n in free], dtype=float), lo, hi)
    # strictly inside the bounds, as least_squares requires
    inner = lo + 1e-12 * (hi - lo)
    outer = hi - 1e-12 * (hi - lo)
    x0 = np.minimum(np.maximum(x0, inner), outer)
    scale = np.array([max(abs(x), 1e-12 * d.peak if model.kinds[n] == "lr" else 1e-6)
                      for n, x in zip(free, x0)])
    fn = _residual_fn(model, d, free, fixed)
    try:
        result = least_squares(fn, x0, bounds=(lo, hi), x_scale=scale, method="trf",
                               ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=budget * (len(free) + 1))
        x = result.x
    except (ValueError, np.linalg.LinAlgError):
        x = x0
    out = dict(fixed)
    out.update(zip(free, (float(a) for a in x)))
    return out


def _nice(value: float, kind: str) -> list[float]:
    """Shorter spellings of ``value``, shortest first: 1 to 12 significant digits."""
    if value == 0 or not math.isfinite(value):
        return []
    out = []
    for digits in range(1, 13):
        rounded = float(f"{value:.{digits - 1}e}")
        if rounded not in out:
            out.append(rounded)
    return out


#: a relative error below this is float64 rounding in a peer's formula: equal for snapping
ROUNDING = 1e-12


def _accept(new: float, current: float, slack: float, n: int = 1) -> bool:
    """A snapped value fits as well: within ``slack`` of the current RSS, or exact."""
    return new <= current * (1.0 + slack) + n * ROUNDING * ROUNDING


def _refit_floats(model: _Model, d: _Data, v: _Values, budget: int = 30) -> tuple[_Values, float]:
    others = [k for k, kind in model.kinds.items() if kind != "length"]
    refit = _optimize(model, d, v, others, budget=budget) if others else dict(v)
    r_refit, _ = _rss(model, d, refit)
    r_v, _ = _rss(model, d, v)
    return (refit, r_refit) if r_refit <= r_v else (dict(v), r_v)


def _snap_lengths(model: _Model, d: _Data, v: _Values, rss: float,
                  deep: bool = True) -> tuple[_Values, float]:
    """Whole steps for every length: each in turn tries the nearest whole numbers (and
    one more either side), the other parameters refitted; kept if it fits as well."""
    n = max(d.t.size, 1)
    lengths = [k for k, kind in model.kinds.items() if kind == "length"
               and model.bounds[k][1] > model.bounds[k][0]]
    if not lengths:
        return v, rss
    trial = dict(v)
    for k in lengths:
        trial[k] = float(round(trial[k]))
    best_v, best_r = _refit_floats(model, d, trial)
    if not deep or _accept(best_r, max(rss, n * EXACT * EXACT), 0.01):
        return (best_v, best_r) if _accept(best_r, rss, 0.05 + 3.0 / n, n) else (v, rss)
    for k in lengths:
        base = round(v[k])
        for cand in (base - 1, base + 1, math.floor(v[k]), math.ceil(v[k])):
            if cand == best_v[k] or not model.bounds[k][0] <= cand <= model.bounds[k][1]:
                continue
            cand_v, cand_r = _refit_floats(model, d, {**best_v, k: float(cand)})
            if cand_r < best_r:
                best_v, best_r = cand_v, cand_r
    if _accept(best_r, rss, 0.05 + 3.0 / n, n):
        return best_v, best_r
    return v, rss


def _snap(model: _Model, d: _Data, v: _Values, integer_steps: bool,
          deep: bool = True) -> tuple[_Values, float]:
    """Whole steps for lengths, then the shortest decimals (and known conventions) for
    the other parameters that fit as well (an exact log stays exact)."""
    rss, _ = _rss(model, d, v)
    v = dict(v)
    if integer_steps:
        v, rss = _snap_lengths(model, d, v, rss, deep)
    floor = v.get("floor", 0.0)
    if deep and "floor" in model.kinds and floor > 0.0:
        # a decay whose last steps are not logged fits as well with its end a step or two
        # earlier at a slightly higher floor (a 1-sqrt cooldown above all): try the round
        # floors (1 to 3 digits, the warmup's start, 0), the rest refitted
        lo, hi = model.bounds["floor"]
        options = [*_nice(floor, "lr")[:3], v.get("start_factor", 0.0) * v["peak"], 0.0]
        for option in dict.fromkeys(o for o in options if lo <= o <= hi and o != floor):
            pinned = dataclasses.replace(model, bounds={**model.bounds, "floor": (option, option)})
            trial = _optimize(pinned, d, {**v, "floor": option}, list(model.kinds), 40)
            trial_rss, _ = _rss(pinned, d, trial)
            if integer_steps:
                trial, trial_rss = _snap_lengths(pinned, d, trial, trial_rss)
                if any(float(trial[k]) != round(trial[k]) for k, kind in model.kinds.items()
                       if kind == "length"):
                    continue
            if _accept(trial_rss, rss, 0.01, d.t.size):
                v, rss = trial, trial_rss
                break
    conventions = model.conventions(v) if model.conventions else {}
    for k, kind in model.kinds.items():
        if kind == "length" or model.bounds[k][1] <= model.bounds[k][0]:
            continue
        candidates = [*conventions.get(k, []), *_nice(v[k], kind)]
        if k == "peak" and abs(v[k] - d.peak) <= 1e-6 * d.peak:
            candidates.append(d.peak)
        if kind in ("lr", "factor") and v[k] < 1e-6 * max(d.peak, 1e-300):
            candidates.insert(0, 0.0)
        for cand in candidates:
            lo, hi = model.bounds[k]
            if not lo <= cand <= hi and not (cand == 0.0 and lo <= 1e-12 * max(d.peak, 1.0)):
                continue
            r, _ = _rss(model, d, {**v, k: cand})
            if _accept(r, rss, 0.01, d.t.size):
                v[k] = cand
                rss = min(rss, r)
                break
    return v, rss


def _search(model: _Model, d: _Data) -> tuple[float, _Values] | None:
    """The best of the model's starts after a short least-squares run (the two starts
    that fit best as they are)."""
    names = list(model.kinds)
    ranked = sorted(model.starts, key=lambda s: _rss(model, d, s)[0])[:2]
    best: tuple[float, _Values] | None = None
    for start in ranked:
        v = _optimize(model, d, {**start}, names, budget=25)
        rss, _ = _rss(model, d, v)
        if best is None or rss < best[0]:
            best = (rss, v)
    if best is None or not math.isfinite(best[0]):
        return None
    return best


def _refine(model: _Model, d: _Data, v: _Values, integer_steps: bool, effort: int) -> _Fit | None:
    """Refit on all fitted points and snap: ``effort`` 2 (the leaders), 1 (runners-up
    shown to the user), 0 (only counted in the confidence)."""
    if effort:
        v = _optimize(model, d, v, list(model.kinds), budget=100 if effort == 2 else 25)
        v, _ = _snap(model, d, v, integer_steps, deep=effort == 2)
    rss, schedule = _rss(model, d, v)
    if schedule is None:
        return None
    return _Fit(model, v, schedule, rss)


def _thin(d: _Data, limit: int) -> _Data:
    """The same data with at most about ``limit`` fitted points (jumps kept)."""
    keep = _subsample(d.t, d.y, [*d.jumps_down, *d.jumps_up, d.ramp_end, d.plateau_end], limit)
    if keep.size >= d.t.size:
        return d
    return dataclasses.replace(d, t=d.t[keep], y=d.y[keep], w=d.w[keep])


def _bic(rss: float, n: int, k: int) -> float:
    sigma2 = max(rss / max(n, 1), EXACT * EXACT)
    return n * math.log(sigma2) + k * math.log(max(n, 2))


def _count(model: _Model) -> int:
    """Parameters for the information criterion: the fitted ones and the structural ones."""
    return sum(1 for k in model.kinds if model.bounds[k][1] > model.bounds[k][0]) + model.structural


def _n_params(fit: _Fit) -> int:
    return _count(fit.model)


# ------------------------------------------------------------------------------------------
# horizon
# ------------------------------------------------------------------------------------------


def _horizon_interval(fit: _Fit, d: _Data, integer_steps: bool) -> tuple[float, float] | None:
    """About 95% interval of the schedule's end when the log stops before it: the
    horizon values whose best refit keeps ``n log(RSS)`` within 3.84 of the best
    (a profile likelihood, Gaussian relative errors)."""
    name = fit.model.horizon_param
    if name is None:
        return None
    n = d.t.size
    best_rss = max(fit.rss, n * EXACT * EXACT)
    h0 = fit.values[name]
    others = [k for k in fit.model.kinds if k != name]

    def length_of(v: _Values) -> float | None:
        try:
            return fit.model.build(v).length
        except ValueError:
            return None

    def cost(h: float) -> float:
        v = _optimize(fit.model, d, {**fit.values, name: h}, others, budget=25)
        rss, _ = _rss(fit.model, d, v)
        return n * math.log(max(rss, n * EXACT * EXACT) / best_rss)

    lo_bound, hi_bound = fit.model.bounds[name]
    edges = []
    for direction in (-1.0, 1.0):
        inside, step = h0, max(0.02 * h0, 1.0)
        edge = None
        for _ in range(24):
            trial = h0 + direction * step
            if not lo_bound <= trial <= hi_bound:
                edge = lo_bound if direction < 0 else hi_bound
                break
            if cost(trial) > 3.84:
                outside = trial
                for _ in range(8):  # bisect the crossing
                    mid = 0.5 * (inside + outside)
                    if cost(mid) > 3.84:
                        outside = mid
                    else:
                        inside = mid
                edge = inside
                break
            inside = trial
            step *= 2.0
        edges.append(inside if edge is None else edge)
    ends = []
    for h in edges:
        length = length_of({**fit.values, name: float(round(h)) if integer_steps else h})
        ends.append(length if length is not None else math.nan)
    if any(not math.isfinite(e) for e in ends):
        return None
    lo, hi = min(ends), max(ends)
    return (float(lo), float(hi))


# ------------------------------------------------------------------------------------------
# identify
# ------------------------------------------------------------------------------------------


def _as_log(log: Any, step_column: str, lr_column: str, format: str | None) -> LRLog:
    if isinstance(log, LRLog):
        return log
    if isinstance(log, (str,)) or hasattr(log, "__fspath__"):
        return read_log(log, step_column=step_column, lr_column=lr_column, format=format)
    if isinstance(log, Mapping):
        return from_arrays(list(log.keys()), list(log.values()), "<mapping>")
    if isinstance(log, tuple) and len(log) == 2:
        return from_arrays(log[0], log[1], "<arrays>")
    raise ValueError(
        "log must be a path (CSV, JSON lines or TensorBoard), an LRLog, a {step: lr} mapping or a "
        f"(steps, lrs) pair; got {type(log).__name__}"
    )


def _check_total(total: Any) -> float | None:
    if total is None:
        return None
    if isinstance(total, bool) or not isinstance(total, (int, float)) or not math.isfinite(total) \
            or total <= 0:
        raise ValueError(f"total must be a positive number of steps; got {total!r}")
    return float(total)


def _summary(fit: _Fit, d: _Data) -> Candidate:
    r = _errors(fit.schedule, d.t_check, d.y_check, _weights(d.y_check, d.peak))
    residual = float(np.sqrt(np.mean(r * r)))
    worst = float(np.max(np.abs(r)))
    k = _n_params(fit)
    spec = str(fit.schedule)
    score = _bic(fit.rss, d.t.size, k) + DIGIT_COST * _excess_digits(spec)
    return Candidate(fit.model.name(fit.values), spec, fit.schedule, residual, worst, k, score)


#: cost, in BIC units, of each significant digit beyond 4 in a spec's numbers (2 ln 10:
#: a description length, so that of two specs that fit equally the shorter one wins)
DIGIT_COST = 2.0 * math.log(10.0)
_NUMBER = re.compile(r"(?<![A-Za-z_])\d*\.?\d+(?:[eE][-+]?\d+)?")


def _excess_digits(spec: str) -> int:
    """Significant digits beyond 4, summed over the numbers written in ``spec``.

    A rate just below 1 is counted by its complement: ``0.999676`` is ``1 - 3.24e-4``,
    three digits of information (how a decay rate per step is chosen)."""
    total = 0
    for match in _NUMBER.finditer(spec):
        text = match.group()
        value = float(text)
        if 0.9 < value < 1.0:
            text = f"{1.0 - value:.12g}"
        mantissa = re.split("[eE]", text)[0].replace(".", "").strip("0")
        total += max(len(mantissa) - 4, 0)
    return total


def identify(log: Any = None, *, points: Sequence[tuple[float, float]] | None = None,
             peak: float | None = None, total: float | None = None, warmup: float | None = None,
             step_column: str = "step", lr_column: str = "lr", format: str | None = None,
             families: Sequence[str] | None = None, tolerance: float = 0.02,
             progress: Callable[[int, int, str], None] | None = None,
             ) -> Identification | PartialIdentification:
    """Identify the schedule that produced a learning-rate log.

    ``log`` is a path (CSV with ``step_column``/``lr_column``, JSON lines, a TensorBoard
    event file or directory; ``format`` forces one), an :class:`LRLog`, a ``{step: lr}``
    mapping or a ``(steps, lrs)`` pair. ``total`` (the run's length in steps, if known)
    fixes the end of training. ``families`` restricts the search (names as in
    ``Identification.family``). Returns an :class:`Identification`.

    Without a log, ``points`` (``[(step, lr), ...]``), with ``peak``, ``total`` and
    ``warmup`` if known, lists the families consistent with them: see :func:`explain`
    (``tolerance`` is its relative tolerance); returns a :class:`PartialIdentification`.

    ``progress(done, total, family)`` is called as each family is fitted.

    Method: structure read off the log (warmup, peak, plateau, jumps, flat end), each
    allowed family fitted by ``scipy.optimize.least_squares`` on the relative errors,
    lengths rounded to whole steps and parameters to the shortest decimals that fit as
    well, families ranked by BIC ``n log(RSS/n) + k log n`` (``RSS/n`` floored at
    ``EXACT^2``) plus ``2 ln 10`` per significant digit beyond 4 in the spec's numbers (a
    description length: of two equal fits the shorter spec wins), the confidence being
    the winner's weight ``exp(-score/2)`` normalised over the best fit of each family.
    See docs/identify.md.
    """
    if log is None:
        if not points:
            raise ValueError("identify needs a log, or observed points (step, lr) with what is known "
                             "(peak, total, warmup)")
        if total is None:
            raise ValueError("identify with observed points needs total (the run's length in steps)")
        return explain(points, peak=peak, total=total, warmup=warmup, tolerance=tolerance)
    if points:
        raise ValueError("give either a log or observed points, not both")
    total_steps = _check_total(total)
    if families is not None:
        unknown = sorted(set(families) - set(FAMILY_NAMES))
        if unknown:
            raise ValueError(f"families must be among {', '.join(FAMILY_NAMES)}; got {', '.join(unknown)}")
    data = _as_log(log, step_column, lr_column, format)
    n = len(data)
    if total_steps is not None and total_steps < data.steps[-1]:
        raise ValueError(f"total ({total_steps:.0f}) is before the last logged step ({data.steps[-1]:.0f}): "
                         "total is the run's length in steps")
    if n < 3:
        raise ValueError(f"{data.source}: {n} point{'s' if n != 1 else ''}; identify needs at least 3 "
                         "(and more to tell families apart): cannot decide")
    if data.lrs.max() <= 0:
        raise ValueError(f"{data.source}: every logged learning rate is 0; nothing to identify")
    d, notes = _analyse(data, total_steps)
    notes = [*data.notes, *notes]
    with _one_thread():
        return _identify(data, d, notes, total_steps, families, progress)


def _other_warmups(fits: list[_Fit], d: _Data, integer_steps: bool) -> list[_Fit]:
    """The best warmup + decay (or WSD) fit again with a cosine and a 1-sqrt warmup
    (transformers' WSD ``warmup_type``), when the warmup spans at least 4 logged points and
    the linear one is not exact."""
    if not d.warmup or int(np.count_nonzero(d.t < d.ramp_end)) < 4:
        return []
    phase = [f for f in fits if f.model.shape is not None and "ramp" in f.model.kinds]
    if not phase:
        return []
    best = min(phase, key=lambda f: _bic(f.rss, d.t.size, _count(f.model)))
    if best.rss <= d.t.size * ROUNDING * ROUNDING:
        return []
    hold = "hold" in best.model.kinds
    decay = best.model.shape
    assert decay is not None
    out = []
    for warm in ("cosine", "one_minus_sqrt"):
        model = _phase_model(d, decay, hold, warmup_shape=warm)
        found = _search(model, _thin(d, SEARCH_POINTS))
        if found is None:
            continue
        fit = _refine(model, d, found[1], integer_steps, 2)
        if fit is not None:
            out.append(fit)
    return out


def _one_thread() -> Any:
    """BLAS on one thread while fitting: the matrices are small (points x parameters), and
    a multi-threaded SVD on a busy machine is 100 times slower than a single-threaded one."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with the fit extra
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _identify(data: LRLog, d: _Data, notes: list[str], total_steps: float | None,
              families: Sequence[str] | None,
              progress: Callable[[int, int, str], None] | None) -> Identification:
    n = len(data)
    integer_steps = True
    small = _thin(d, SEARCH_POINTS)
    found: list[tuple[float, _Model, _Values]] = []
    models = _models(d, families)
    for i, model in enumerate(models):
        if progress is not None:
            progress(i, len(models), model.family)
        if _count(model) >= d.t.size:
            continue
        result = _search(model, small)
        if result is not None:
            rss, v = result
            found.append((_bic(rss, small.t.size, _count(model)), model, v))
    found.sort(key=lambda item: item[0])
    fits = []
    labels: dict[str, int] = {}
    for rank, (_, model, v) in enumerate(found):
        label = model.name(v)
        seen = labels.get(label, 0)
        if rank < 3:
            effort = 2
        elif seen < 2 and (label in labels or len(labels) < REFINED):
            effort = 1
        else:
            effort = 0
        labels[label] = seen + 1
        fit = _refine(model, d, v, integer_steps, effort)
        if fit is not None:
            fits.append(fit)
    if progress is not None:
        progress(len(models), len(models), "done")
    if not fits:
        raise ValueError(f"{data.source}: no family could be fitted to {n} points: cannot decide")
    fits += _other_warmups(fits, d, integer_steps)
    candidates = sorted((_summary(f, d) for f in fits), key=lambda c: (c.bic, c.n_params))
    by_family: dict[str, tuple[Candidate, _Fit]] = {}
    for cand in candidates:
        fit = next(f for f in fits if str(f.schedule) == cand.spec)
        if cand.family not in by_family:
            by_family[cand.family] = (cand, fit)
    ranked = list(by_family.values())
    best, best_fit = ranked[0]
    weights = np.array([math.exp(-0.5 * min(c.bic - best.bic, 1400.0)) for c, _ in ranked])
    confidence = float(weights[0] / weights.sum())
    runner_up = tuple(c for c, _ in ranked[1:5])

    schedule = best.schedule
    horizon = schedule.length
    truncated = bool(horizon is not None and horizon > d.last + d.spacing)
    if horizon is None and total_steps is None:
        end_step, end_lr = None, None
    else:
        end_step = total_steps if total_steps is not None else float(horizon)  # type: ignore[arg-type]
        end_lr = schedule(round(end_step))
    interval = None
    # the end is uncertain when the log stops while the LR still falls (a linear decay cut
    # short fits as well ending at the last point at a higher floor as going on)
    open_end = truncated or (horizon is not None and not d.ends_flat and horizon >= d.last - d.spacing)
    if open_end and best.family != "constant":
        interval = _horizon_interval(best_fit, d, integer_steps)

    decided, reason = True, None
    if best.family == "constant":
        decided = False
        if d.warmup and d.plateau_points < 2 and d.plateau_end >= d.last:
            reason = (f"the LR is still rising at the end of the log (step {d.last:.0f}, LR {d.peak:.6g}): "
                      "the warmup has not ended, so the peak and everything after it cannot be decided")
        elif d.warmup:
            reason = (f"after its warmup the LR stays at {d.peak:.6g} until the end of the log (step "
                      f"{d.last:.0f}): no decay has begun, so its shape, floor and horizon cannot be "
                      "decided from this log")
        else:
            reason = (f"the LR is constant ({best.schedule(0):.6g}) over the whole log: no warmup or "
                      "decay is visible, so the schedule's shape and horizon cannot be decided")
    elif interval is not None and horizon is not None and interval[1] - interval[0] > 0.1 * horizon:
        decided = False
        reason = (f"the log stops at step {d.last:.0f} with the LR still falling: the schedule's end is only "
                  f"known to lie between steps {interval[0]:.0f} and {interval[1]:.0f} (about 95%), and the "
                  "LR at the end of training with it")
    elif confidence < DECIDE and runner_up:
        other = runner_up[0]
        decided = False
        reason = (f"{best.family} and {other.family} fit about equally well (residual {best.residual:.3g} "
                  f"vs {other.residual:.3g}); more of the log would decide")
        if truncated:
            reason += f" (the log stops at step {d.last:.0f}; the schedule goes on to about {horizon:.0f})"
    if d.spacing > 1:
        notes.append(f"logged every {d.spacing:.0f} steps: lengths and milestones are known to within that")
    return Identification(
        spec=best.spec, family=best.family, schedule=schedule, residual=best.residual,
        max_error=best.max_error, confidence=confidence, decided=decided, reason=reason,
        runner_up=runner_up, end_step=end_step, end_lr=end_lr,
        horizon=None if horizon is None else float(horizon), horizon_interval=interval,
        truncated=truncated, points=n, fitted_points=int(d.t.size), source=data.source,
        notes=tuple(notes), log=data,
    )


# ------------------------------------------------------------------------------------------
# partial information
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    family: str
    description: str
    unknown: str                         # the parameter solved for
    bounds: tuple[float, float]          # in units of the template (fraction, steps, LR)
    build: Callable[[float, float, bool], Schedule]   # (unknown, peak, pretty) -> schedule


def _templates(total: float, warmup: float) -> list[_Template]:
    """Families with one unknown each (besides the peak), the rest at the usual values.

    Each ``build(x, peak, pretty)`` makes the schedule; ``pretty`` rounds lengths to
    whole steps and LRs to 4 significant digits (for the answer, not while solving).
    """
    W = warmup
    T = total
    D = T - W

    def warm(core: Schedule) -> Schedule:
        return lrlab.warmup(_whole(W), core) if W > 0 else core

    def lr(v: float, pretty: bool) -> float:
        return float(f"{v:.4g}") if pretty else v

    def steps(v: float, pretty: bool) -> float | int:
        return max(round(v), 1) if pretty else v

    out = [
        _Template("cosine", "cosine to a floor over the run", "floor", (0.0, 1.0),
                  lambda x, p, q: warm(lrlab.cosine(p, lr(x * p, q), _whole(D)))),
        _Template("cosine", "cosine to 0 over a horizon other than the run's", "horizon", (1.0, 1e3),
                  lambda x, p, q: warm(lrlab.cosine(p, 0.0, steps(x * D, q)))),
        _Template("cosine", "cosine to 10% of the peak (nanoGPT's min_lr) over a horizon", "horizon",
                  (1.0, 1e3), lambda x, p, q: warm(lrlab.cosine(p, lr(0.1 * p, q), steps(x * D, q)))),
        _Template("linear", "linear to a floor over the run", "floor", (0.0, 1.0),
                  lambda x, p, q: warm(lrlab.linear(p, lr(x * p, q), _whole(D)))),
        _Template("linear", "linear to 0 over a horizon other than the run's", "horizon", (1.0, 1e3),
                  lambda x, p, q: warm(lrlab.linear(p, 0.0, steps(x * D, q)))),
        _Template("polynomial", "polynomial decay to 0 over the run", "power", (1e-3, 50.0),
                  lambda x, p, q: warm(lrlab.polynomial(p, 0.0, _whole(D), power=lr(x, q)))),
        _Template("geometric", "exponential interpolation to a floor over the run", "floor", (1e-9, 1.0),
                  lambda x, p, q: warm(lrlab.geometric(p, lr(x * p, q), _whole(D)))),
        _Template("wsd", "WSD, 1-sqrt cooldown to 0", "cooldown", (1e-4, 1.0),
                  lambda x, p, q: lrlab.wsd(p, _whole(T), warmup=_whole(W), cooldown=steps(x * T, q),
                                            shape="one_minus_sqrt")),
        _Template("wsd", "WSD, linear cooldown to 0", "cooldown", (1e-4, 1.0),
                  lambda x, p, q: lrlab.wsd(p, _whole(T), warmup=_whole(W), cooldown=steps(x * T, q),
                                            shape="linear")),
        _Template("wsd", "WSD, cosine cooldown to 0", "cooldown", (1e-4, 1.0),
                  lambda x, p, q: lrlab.wsd(p, _whole(T), warmup=_whole(W), cooldown=steps(x * T, q),
                                            shape="cosine")),
        _Template("inverse_sqrt", "inverse square root", "timescale", (1e-6, 1e3),
                  lambda x, p, q: warm(lrlab.inverse_sqrt(p, steps(x * T, q)))),
        _Template("exponential", "exponential decay", "half-life", (1e-6, 1e6),
                  lambda x, p, q: warm(lrlab.exponential(p, half_life=steps(x * T, q)))),
    ]
    return out


def _point(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number; got {value!r}")
    return float(value)


def explain(points: Sequence[tuple[float, float]], *, peak: float | None = None, total: float,
            warmup: float | None = None, tolerance: float = 0.02) -> PartialIdentification:
    """The families consistent with a few observed ``(step, lr)`` points.

    Each family has one unknown (the floor, the decay horizon, the cooldown fraction, the
    power, the timescale; the rest at the usual values: a floor of 0, the run's horizon),
    plus the peak when ``peak`` is not given; it is solved by least squares on the
    relative errors (``scipy.optimize.least_squares``, several starts). A family is
    consistent when every point is reproduced within ``tolerance`` (relative; a log read
    as "0.30-0.31" is about 2%). With fewer points than unknowns a family is
    undetermined. The data decides only when exactly one family is consistent.
    """
    from scipy.optimize import least_squares

    total_f = _point(total, "total")
    if total_f <= 0:
        raise ValueError(f"total must be a positive number of steps; got {total!r}")
    warm = 0.0 if warmup is None else _point(warmup, "warmup")
    if not 0 <= warm < total_f:
        raise ValueError(f"warmup must be >= 0 and < total ({total_f:g}); got {warmup!r}")
    tol = _point(tolerance, "tolerance")
    if not tol > 0:
        raise ValueError(f"tolerance must be > 0; got {tolerance!r}")
    obs: list[tuple[float, float]] = []
    for i, pair in enumerate(points or []):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"points[{i}] must be a (step, lr) pair; got {pair!r}")
        step, lr = _point(pair[0], f"points[{i}] step"), _point(pair[1], f"points[{i}] lr")
        if step < 0 or step != math.floor(step):
            raise ValueError(f"points[{i}]: the step must be a whole number >= 0; got {pair[0]!r}")
        if lr < 0:
            raise ValueError(f"points[{i}]: the learning rate must be >= 0; got {pair[1]!r}")
        obs.append((step, lr))
    if not obs:
        raise ValueError("explain needs at least one observed (step, lr) point")
    if peak is not None:
        peak = _point(peak, "peak")
        if peak <= 0:
            raise ValueError(f"peak must be > 0; got {peak!r}")
        if any(lr > peak * (1 + tol) for _, lr in obs):
            raise ValueError(f"an observed LR is above the peak {peak:g}: check --peak and --lr")
    obs.sort()
    steps = np.array([s for s, _ in obs])
    lrs = np.array([v for _, v in obs])
    after = [s for s in steps if s >= warm]
    if not after:
        raise ValueError("every observed point is inside the warmup: nothing about the decay can be decided")
    unknowns_extra = 0 if peak is not None else 1
    scale_lr = peak if peak is not None else float(lrs.max())
    out: list[Explanation] = []
    for tpl in _templates(total_f, warm):
        unknowns = 1 + unknowns_extra
        if len(obs) < unknowns:
            out.append(Explanation(tpl.family, tpl.description, None, None, None, None, False,
                                   f"{unknowns} unknowns ({tpl.unknown} and the peak) from {len(obs)} point: "
                                   "undetermined (give --peak or another point)"))
            continue
        lo, hi = tpl.bounds

        def residual(x: np.ndarray, tpl: _Template = tpl) -> np.ndarray:
            p = peak if peak is not None else float(x[1])
            try:
                values = tpl.build(float(x[0]), p, False).values(steps)
            except ValueError:
                return np.full(steps.shape, 1e3)
            return (values - lrs) / np.maximum(lrs, FLOOR * scale_lr)

        best = None
        wide = hi / max(lo, 1e-6) > 50
        for x0 in (np.geomspace(max(lo, 1e-6), hi, 7) if wide else np.linspace(lo, hi, 7))[1:-1]:
            start = [x0] if peak is not None else [x0, scale_lr * 1.2]
            blo = [lo] if peak is not None else [lo, float(lrs.max())]
            bhi = [hi] if peak is not None else [hi, 100.0 * float(lrs.max())]
            try:
                r = least_squares(residual, np.array(start), bounds=(blo, bhi), method="trf",
                                  ftol=1e-14, xtol=1e-14, gtol=1e-14, max_nfev=400)
            except ValueError:
                continue
            if best is None or r.cost < best.cost:
                best = r
        if best is None:
            continue
        x = float(best.x[0])
        p = peak if peak is not None else float(best.x[1])
        if peak is None:
            p = float(f"{p:.4g}")
        try:
            schedule = tpl.build(x, p, True)
        except ValueError:
            continue
        with np.errstate(all="ignore"):
            worst = float(np.max(np.abs(schedule.values(steps) - lrs) / np.maximum(lrs, FLOOR * scale_lr)))
        end_lr = schedule(round(total_f))
        boundary = min(abs(x - lo), abs(x - hi)) <= 1e-6 * max(abs(hi), 1.0)
        note = None
        if boundary:
            note = f"{tpl.unknown} at the edge of its range ({x:.4g}): the family can only come close"
        ok = worst <= tol and not boundary
        described = f"{tpl.description} ({tpl.unknown} {_describe(tpl.unknown, x, total_f)})"
        out.append(Explanation(tpl.family, described, str(schedule), schedule, end_lr, worst, ok, note))
    consistent = [c for c in out if c.consistent]
    ends = [c.end_lr for c in consistent if c.end_lr is not None]
    end_range = (min(ends), max(ends)) if ends else None
    next_step = _most_informative(consistent, warm, float(steps.max()), total_f)
    families = sorted({c.family for c in consistent})
    if not consistent:
        decided, reason = False, (f"no family reproduces every point within {tol:.0%}: check the points, or "
                                  "give a wider --tolerance")
    elif len(consistent) == 1:
        decided, reason = True, f"only {consistent[0].description} is consistent"
    elif len(families) == 1:
        decided = False
        reason = (f"the family is {families[0]}, but {len(consistent)} of its variants reproduce the "
                  "observations and the data cannot decide between them"
                  + ("" if next_step is None else f"; the LR at step {next_step} would tell them apart best"))
    else:
        spread = "" if end_range is None else (
            f"; their LRs at step {total_f:.0f} range from {end_range[0]:.4g} to {end_range[1]:.4g}")
        hint = "" if next_step is None else f"; the LR at step {next_step} would tell them apart best"
        exactly = (" (each solves as many unknowns as there are points, so each fits exactly)"
                   if len(obs) == 1 + unknowns_extra else "")
        decided = False
        reason = (f"the data cannot decide: {len(consistent)} schedules of {len(families)} families "
                  f"({', '.join(families)}) reproduce the observations{exactly}{spread}{hint}")
    return PartialIdentification(tuple(obs), peak, total_f, warm, tuple(out), decided, reason, end_range,
                                 next_step)


def _describe(unknown: str, x: float, total: float) -> str:
    if unknown in ("floor",):
        return f"{x:.4g} of the peak"
    if unknown == "horizon":
        return f"{x:.4g} x the run"
    if unknown == "cooldown":
        return f"{x:.1%} of the run"
    if unknown in ("timescale", "half-life"):
        return f"{x * total:.4g} steps"
    return f"{x:.4g}"


def _most_informative(consistent: Sequence[Explanation], start: float, seen: float,
                      total: float) -> int | None:
    """The step where the consistent schedules disagree most, relative to the largest LR
    among them: first among the steps up to the last observation (already in the log, to
    be looked up), else after it."""
    schedules = [c.schedule for c in consistent if c.schedule is not None]
    if len(schedules) < 2:
        return None
    for lo, hi in ((start, seen), (seen, total)):
        if hi - lo < 2:
            continue
        grid = np.unique(np.linspace(lo, hi, 401).round())
        values = np.array([s.values(grid) for s in schedules])
        spread = (values.max(axis=0) - values.min(axis=0)) / np.maximum(values.max(axis=0), 1e-300)
        if spread.max() > 0.02:
            return int(grid[int(np.argmax(spread))])
    return None
