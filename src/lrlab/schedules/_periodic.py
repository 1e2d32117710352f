"""Periodic families: cyclical learning rates (a triangle wave) and cosine annealing with
warm restarts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from lrlab.units import Length

from . import _params as param
from ._backend import SCALAR
from ._base import Schedule, schedule
from ._primitives import steps_of
from ._registry import constructor, family_class
from ._shapes import fall

_EPS = 2.0**-52


def cycle_start(k: Any, period: float, mult: float, whole: bool, xp: Any) -> Any:
    """Step where cycle ``k`` starts when cycle ``j`` lasts ``period * mult^j``:
    ``period * (mult^k - 1) / (mult - 1)`` (``k * period`` for ``mult = 1``).

    ``power`` (``exp(k log mult)``) is off by a few ulps (``3^2`` gives 9.000000000000002),
    enough to miss a restart that falls exactly on a step (torch restarts there). So a
    start within ``128 eps`` (relative) of a whole step is that step: far above the
    rounding of the formula (< 40 eps for any start below 2^53), far below a real offset.
    ``whole`` (a whole period and multiplier: every start is a whole step) rounds always.
    """
    if mult == 1.0 and whole:
        return k * period  # a whole number of whole periods: exact, nothing to round
    if mult == 1.0:
        start = k * period
    else:
        start = period * (xp.power(mult, k) - 1.0) / (mult - 1.0)
    nearest = xp.floor(start + 0.5)
    if whole:
        return nearest
    offset = start - nearest
    offset = xp.where(offset < 0.0, -offset, offset)
    return xp.where(offset <= 128 * _EPS * start, nearest, start)


def cycle_index(t: Any, period: float, mult: float, whole: bool, xp: Any) -> Any:
    """The cycle step ``t`` is in: a guess from the inverse of :func:`cycle_start`, then
    corrected by one either way against it, so restarts fall exactly where it puts them."""
    if mult == 1.0:
        guess = xp.floor(t / period)
    else:
        guess = xp.floor(xp.log(t * (mult - 1.0) / period + 1.0) / math.log(mult))
    k = xp.where(t < cycle_start(guess, period, mult, whole, xp), guess - 1.0, guess)
    return xp.where(t >= cycle_start(k + 1.0, period, mult, whole, xp), k + 1.0, k)


def log_cycle_index(t: Any, period: float, mult: float, xp: Any) -> Any:
    """The cycle index as timm and Keras compute it, ``floor(log(1 - t / period * (1 - mult))
    / log(mult))`` (``floor(t / period)`` for ``mult = 1``), uncorrected: where a restart
    falls exactly on a step, the rounding of ``log`` can put that step at the end of the
    previous cycle (timm with ``cycle_mul=3``: ``log(9) / log(3) = 1.9999999999999998``)."""
    if mult == 1.0:
        return xp.floor(t / period)
    return xp.floor(xp.log(1.0 - t / period * (1.0 - mult)) / math.log(mult))


@family_class()
@dataclass(frozen=True, repr=False)
class Cyclic(Schedule):
    """Cyclical learning rates (Smith 2017; torch ``CyclicLR``): a triangle wave between
    ``base`` and ``peak``, ``up`` steps rising and ``down`` (default ``up``) falling.

    With ``c = floor(1 + t / (up + down))`` and ``x = (t - (c - 1)(up + down)) / (up + down)``:
    ``s(t) = base + (peak - base) * h(x) * a``, ``h`` the triangle (``x / r`` up to
    ``r = up / (up + down)``, then ``(x - 1) / (r - 1)``) and ``a`` the amplitude: 1
    (``triangular``), ``1 / 2^(c - 1)`` (``triangular2``) or ``gamma^t`` (``exp_range``).
    """

    family: ClassVar[str] = "cyclic"
    base: float = param.lr()
    peak: float = param.lr()
    up: Length = param.length()
    down: Length | None = param.length(default=None, optional=True)
    mode: str = param.choice(("triangular", "triangular2", "exp_range"), default="triangular")
    gamma: float = param.number(default=1.0, low=0.0, high=1.0, low_open=True)
    _total: float = param.cached()
    _ratio: float = param.cached()

    def _validate(self) -> None:
        if self.peak < self.base:
            raise ValueError(f"cyclic.peak must be >= cyclic.base; got {self.peak!r} < {self.base!r}")
        if self.mode != "exp_range" and self.gamma != 1.0:
            raise ValueError(f"cyclic.gamma is only used with mode='exp_range'; got mode={self.mode!r}")

    def _prepare(self) -> None:
        up = steps_of(self.up)
        down = up if self.down is None else steps_of(self.down)
        ratio = up / (up + down)
        if not 0.0 < ratio < 1.0:
            side = "down" if ratio >= 1.0 else "up"
            raise ValueError(f"cyclic.{side} is too short beside the other ramp to be represented "
                             f"(up={self.up!r}, down={self.down!r}); expected ramps within a factor 1e15")
        self._set("_total", up + down)
        self._set("_ratio", ratio)

    def _eval(self, t: Any, xp: Any) -> Any:
        cycle = xp.floor(1.0 + t / self._total)
        x = (t - (cycle - 1.0) * self._total) / self._total  # exact numerator: no drift over cycles
        ratio = self._ratio
        height = (self.peak - self.base) * xp.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
        if self.mode == "triangular2":
            height = height * (1.0 / xp.power(2.0, cycle - 1.0))
        elif self.mode == "exp_range":
            height = height * xp.power(self.gamma, t)
        return self.base + height

    def upper_bound(self) -> float:
        return self.peak

    def describe(self, at_start: bool = True) -> list[str]:
        return [f"cyclic ({self.mode})"]


@constructor
def cyclic(base: float, peak: float, up: Length, down: Length | None = None,
           mode: str = "triangular", gamma: float = 1.0) -> Cyclic:
    """Cyclical LR (Smith 2017), see :class:`Cyclic`."""
    return Cyclic(base, peak, up, down, mode, gamma)


@family_class()
@dataclass(frozen=True, repr=False)
class SGDR(Schedule):
    """Cosine annealing with warm restarts (Loshchilov & Hutter 2017; torch
    ``CosineAnnealingWarmRestarts``; timm's ``cycle_decay``).

    Cycle ``k`` (from 0) lasts ``period * mult^k`` steps and anneals from
    ``peak * decay^k`` to ``floor``: ``floor + (peak_k - floor) * (1 + cos(pi x)) / 2``.
    Endless unless ``cycles`` is given; after the last cycle it holds ``floor``.
    """

    family: ClassVar[str] = "sgdr"
    peak: float = param.lr()
    period: Length = param.length()
    mult: float = param.number(default=1.0, low=1.0, high=1e6)
    floor: float = param.lr(default=0.0)
    decay: float = param.number(default=1.0, low=0.0, high=1.0, low_open=True)
    cycles: int | None = param.count(default=None, optional=True)
    _period: float = param.cached()
    _whole: bool = param.cached()

    def _validate(self) -> None:
        if self.peak < self.floor:
            raise ValueError(f"sgdr.peak must be >= sgdr.floor; got {self.peak!r} < {self.floor!r}")

    def _prepare(self) -> None:
        period = steps_of(self.period)
        if period < 1e-3:
            raise ValueError(f"sgdr.period must be at least 0.001 steps; got {self.period!r}")
        self._set("_period", period)
        # With a whole period and multiplier (torch's int T_0, T_mult) every cycle starts on
        # a whole step, so starts are rounded, in any precision.
        self._set("_whole", period.is_integer() and float(self.mult).is_integer())
        if self.cycles is not None and not math.isfinite(self._start(float(self.cycles), SCALAR)):
            raise ValueError(f"sgdr.cycles={self.cycles} with mult={self.mult!r} lasts beyond float64's "
                             "range; expected fewer cycles")

    def _start(self, k: Any, xp: Any) -> Any:
        """Step where cycle ``k`` starts (see :func:`cycle_start`)."""
        return cycle_start(k, self._period, self.mult, self._whole, xp)

    @property
    def length(self) -> float | None:
        if self.cycles is None:
            return None
        self.check_resolved()
        return float(self._start(float(self.cycles), SCALAR))

    def boundaries(self) -> tuple[float, ...]:
        self.check_resolved()
        count = self.cycles if self.cycles is not None else 1
        return tuple(float(self._start(float(k), SCALAR)) for k in range(count + 1))

    def _eval(self, t: Any, xp: Any) -> Any:
        k = cycle_index(t, self._period, self.mult, self._whole, xp)
        if self.cycles is not None:
            k = xp.minimum(k, self.cycles - 1.0)
        start = self._start(k, xp)
        span = self._start(k + 1.0, xp) - start
        peak = self.peak * xp.power(self.decay, k) if self.decay != 1.0 else self.peak
        return self.floor + (peak - self.floor) * fall("cosine", xp.minimum(t - start, span), span, 1.0, xp)

    def upper_bound(self) -> float:
        return self.peak

    def describe(self, at_start: bool = True) -> list[str]:
        restarts = "cosine with warm restarts"
        if self.mult != 1.0:
            restarts += f" (period x{self.mult:g})"
        return [restarts]


@constructor
def sgdr(peak: float, period: Length, mult: float = 1.0, floor: float = 0.0,
         decay: float = 1.0, cycles: int | None = None) -> SGDR:
    """Cosine with warm restarts (Loshchilov & Hutter 2017), see :class:`SGDR`."""
    return SGDR(peak, period, mult, floor, decay, cycles)


@family_class()
@dataclass(frozen=True, repr=False)
class Restarts(Schedule):
    """Any finite schedule restarted in cycles that grow and decay (timm's ``cycle_mul``,
    ``cycle_decay``, ``cycle_limit`` for its cosine, polynomial and tanh schedulers).

    Cycle ``k`` (from 0) starts at ``c_k = L (mult^k - 1) / (mult - 1)`` (``k L`` for
    ``mult = 1``), ``L`` the schedule's length, lasts ``L mult^k`` and runs the schedule
    stretched to that length, its swing above the final value ``b`` rescaled so that it
    starts from ``peak * decay^k`` instead of ``peak`` (default ``peak = schedule(0)``):

    ``s(t) = b + (schedule((t - c_k) / mult^k) - b) * (peak decay^k - b) / (peak - b)``

    ``restarts(cosine(P, m, L), mult, decay)`` is ``sgdr(P, L, mult, m, decay)``;
    ``peak`` is for a curve that does not start at its nominal peak (timm's tanh:
    ``restarts(tanh(P, m, L), decay=d, peak=P)``). Endless unless ``times`` is given;
    after the last cycle it holds ``b``. ``index='log'`` finds the cycle as timm and Keras
    do (:func:`log_cycle_index`), missing a restart where their rounding misses it.
    """

    family: ClassVar[str] = "restarts"
    schedule: Schedule = schedule()
    mult: float = param.number(default=1.0, low=1.0, high=1e6)
    decay: float = param.number(default=1.0, low=0.0, high=1.0, low_open=True)
    times: int | None = param.count(default=None, optional=True)
    peak: float | None = param.lr(default=None, optional=True)
    index: str = param.choice(("exact", "log"), default="exact")
    _period: float = param.cached()
    _whole: bool = param.cached()
    _top: float = param.cached()
    _bottom: float = param.cached()

    def _validate(self) -> None:
        if self.peak is not None and self.decay == 1.0:
            raise ValueError(f"restarts.peak is only used with a decay < 1 (it is the value the decay "
                             f"scales); got peak={self.peak!r} with decay=1.0")

    def _prepare(self) -> None:
        period = self.schedule.length
        if period is None or period < 1e-3:
            raise ValueError(f"restarts.schedule must end (a length of at least 0.001 steps) to be "
                             f"restarted; got {self.schedule}")
        self._set("_period", float(period))
        self._set("_whole", float(period).is_integer() and float(self.mult).is_integer())
        self._set("_top", self.schedule(0) if self.peak is None else self.peak)
        self._set("_bottom", self.schedule.final_value)
        if self.times is not None and not math.isfinite(self._start(float(self.times), SCALAR)):
            raise ValueError(f"restarts.times={self.times} with mult={self.mult!r} lasts beyond "
                             "float64's range; expected fewer cycles")
        if self.decay != 1.0 and self._top == self._bottom:
            raise ValueError(f"restarts.decay needs a schedule that moves (or a peak other than its "
                             f"final value {self._bottom!r}); got peak={self._top!r}")

    def _start(self, k: Any, xp: Any) -> Any:
        return cycle_start(k, self._period, self.mult, self._whole, xp)

    @property
    def length(self) -> float | None:
        if self.times is None:
            return None
        self.check_resolved()
        return float(self._start(float(self.times), SCALAR))

    def boundaries(self) -> tuple[float, ...]:
        self.check_resolved()
        count = self.times if self.times is not None else 2
        return tuple(float(self._start(float(k), SCALAR)) for k in range(count + 1))

    def _eval(self, t: Any, xp: Any) -> Any:
        if self.index == "log":
            k = log_cycle_index(t, self._period, self.mult, xp)
        else:
            k = cycle_index(t, self._period, self.mult, self._whole, xp)
        if self.times is not None:
            k = xp.minimum(k, self.times - 1.0)
        local = t - self._start(k, xp)
        if self.mult != 1.0:
            local = local / xp.power(self.mult, k)
        inner = self.schedule._eval(xp.minimum(local, self._period), xp)
        if self.decay == 1.0:
            return inner
        top, bottom = self._top, self._bottom
        ratio = (top * xp.power(self.decay, k) - bottom) / (top - bottom)
        return xp.maximum(bottom + (inner - bottom) * ratio, 0.0)

    def describe(self, at_start: bool = True) -> list[str]:
        words = "restarted" + ("" if self.mult == 1.0 else f" (period x{self.mult:g})")
        return [*self.schedule.describe(at_start), words]


@constructor
def restarts(schedule: Schedule, mult: float = 1.0, decay: float = 1.0, times: int | None = None,
             peak: float | None = None, index: str = "exact") -> Restarts:
    """``schedule`` restarted in cycles ``mult`` times longer and starting ``decay`` times
    lower each time (timm's cycles), see :class:`Restarts`."""
    return Restarts(schedule, mult, decay, times, peak, index)
