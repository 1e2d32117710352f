"""The primitive families, which hold the formulas: a constant, a phase (one move from a
start value to an end value with a shape), exponential decay, inverse square root and
multistep levels."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from lrlab.units import Length

from . import _params as param
from ._base import Schedule
from ._registry import constructor, family_class
from ._shapes import POWER_SHAPES, SHAPE_ALIASES, SHAPES, interpolate, shape_words


def steps_of(value: Length) -> float:
    """A resolved length as a float; a unit length (``'5%'``) is a clear error."""
    if isinstance(value, str):
        raise ValueError(f"the length {value!r} is not in steps yet: call schedule.resolve(Budget(...)) "
                         "first")
    return float(value)


def whole(x: float) -> int | float:
    """``x`` as an int when it is a whole number (for messages and words)."""
    return int(x) if float(x).is_integer() else float(x)


def ratio_words(end: float, start: float) -> str:
    """" to 10%" (the end as a share of the start), " to 0", or nothing."""
    if end == 0.0:
        return " to 0"
    if start <= 0.0:
        return ""
    return f" to {100.0 * end / start:.3g}%"


# --- constant ---------------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class Constant(Schedule):
    """``s(t) = lr``. With ``steps`` it has a length, for use as a stable phase in a join."""

    family: ClassVar[str] = "constant"
    lr: float = param.lr()
    steps: Length | None = param.length(default=None, optional=True)

    @property
    def length(self) -> float | None:
        return None if self.steps is None else steps_of(self.steps)

    def _eval(self, t: Any, xp: Any) -> Any:
        return 0.0 * t + self.lr

    def upper_bound(self) -> float:
        return self.lr

    def describe(self, at_start: bool = True) -> list[str]:
        return ["constant"]


@constructor
def constant(lr: float, steps: Length | None = None) -> Constant:
    """``s(t) = lr`` (optionally with a length, as a stable phase)."""
    return Constant(lr, steps)


# --- phase ------------------------------------------------------------------------------------


@family_class(*SHAPES)
@dataclass(frozen=True, repr=False)
class Phase(Schedule):
    """One phase from ``start`` to ``end`` over ``steps`` with a shape; holds ``end`` after.

    ``s(t) = end + (start - end) * f(t / steps)`` falling, the time-reversed curve rising
    (``_shapes`` has each ``f`` and its source). In the text form the family name is the
    shape: ``linear(0, 6e-4, 715)``, ``cosine(6e-4, 6e-5, 18358)``,
    ``one_minus_sqrt(3e-4, 0, 4800)``, ``polynomial(1e-3, 0, 1000, power=2)``,
    ``geometric(3e-4, 3e-5, 4000)``.
    """

    start: float = param.lr()
    end: float = param.lr()
    steps: Length = param.length()
    shape: str = param.choice(SHAPES, default="linear", aliases=SHAPE_ALIASES)
    power: float = param.number(default=1.0, low=0.0, low_open=True)
    _length: float = param.cached()
    _shape: str = param.cached()

    @property
    def family(self) -> str:  # type: ignore[override]
        return self.shape

    def _prefix(self) -> str:
        shape = SHAPE_ALIASES.get(self.shape, self.shape) if isinstance(self.shape, str) else None
        return shape if shape in SHAPES else "phase"

    def arguments(self) -> tuple[list[Any], dict[str, Any]]:
        positional, keywords = super().arguments()
        keywords.pop("shape", None)  # the family name is the shape
        return positional, keywords

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.pop("shape", None)
        return out

    def _validate(self) -> None:
        name = self.shape
        if name not in POWER_SHAPES and self.power != 1.0:
            raise ValueError(f"{name}.power is only for the polynomial and one_minus_power shapes; "
                             f"got {self.power!r}")
        if name == "geometric" and (self.start == 0.0) != (self.end == 0.0):
            raise ValueError(
                f"geometric.start and geometric.end must both be positive (geometric "
                f"interpolation cannot reach or leave 0); got {self.start!r}, {self.end!r}"
            )
        if name == "geometric" and self.start > 0.0 and not 0.0 < self.end / self.start < math.inf:
            raise ValueError(f"geometric.end / geometric.start must be a ratio within float64's range; "
                             f"got {self.end!r} / {self.start!r}")

    @property
    def length(self) -> float:
        return steps_of(self.steps)

    def _prepare(self) -> None:
        self._set("_length", steps_of(self.steps))
        geometric_zero = self.shape == "geometric" and self.start == 0.0
        self._set("_shape", "linear" if geometric_zero else self.shape)

    def _eval(self, t: Any, xp: Any) -> Any:
        return interpolate(self.start, self.end, t, self._length, self._shape, self.power, xp)

    def upper_bound(self) -> float:
        return max(self.start, self.end)

    def batch_key(self) -> Any:
        return ("phase", self._shape, self.power) if self._ready else None

    @classmethod
    def batch(cls, schedules: Any) -> Any:
        """The phase formula with each element's own start, end and length (``take``)."""
        first = schedules[0]
        start, end, span = (tuple(getattr(p, name) for p in schedules)
                            for name in ("start", "end", "_length"))

        def evaluate(index: Any, t: Any, xp: Any) -> Any:
            return interpolate(xp.take(start, index), xp.take(end, index), t, xp.take(span, index),
                               first._shape, first.power, xp)

        return evaluate

    def describe(self, at_start: bool = True) -> list[str]:
        word = shape_words(self.shape, self.power)
        if self.start == self.end:
            return ["constant"]
        if self.start < self.end:
            return [f"{word} warmup" if at_start else f"{word} rise"]
        return [f"{word} decay{ratio_words(self.end, self.start)}"]


@constructor
def linear(start: float, end: float, steps: Length) -> Phase:
    """Linear from ``start`` to ``end`` over ``steps``: ``start + (end - start) * t / steps``."""
    return Phase(start, end, steps, "linear")


@constructor
def cosine(start: float, end: float, steps: Length) -> Phase:
    """Cosine from ``start`` to ``end`` over ``steps`` (Loshchilov & Hutter 2017):
    ``end + (start - end) * (1 + cos(pi t / steps)) / 2``; holds ``end`` after."""
    return Phase(start, end, steps, "cosine")


@constructor
def one_minus_sqrt(start: float, end: float, steps: Length) -> Phase:
    """``end + (start - end) * (1 - sqrt(t / steps))``: the WSD cooldown of Hagele et al. 2024."""
    return Phase(start, end, steps, "one_minus_sqrt")


@constructor
def one_minus_square(start: float, end: float, steps: Length) -> Phase:
    """``end + (start - end) * (1 - (t / steps)^2)`` (Hagele et al. 2024)."""
    return Phase(start, end, steps, "one_minus_square")


@constructor
def polynomial(start: float, end: float, steps: Length, power: float = 1.0) -> Phase:
    """``end + (start - end) * (1 - t / steps)^power`` falling, ``start + (end - start) *
    (t / steps)^power`` rising (torch ``PolynomialLR``, transformers
    ``get_polynomial_decay_schedule_with_warmup``)."""
    return Phase(start, end, steps, "polynomial", power)


@constructor
def one_minus_power(start: float, end: float, steps: Length, power: float = 1.0) -> Phase:
    """``end + (start - end) * (1 - (t / steps)^power)`` falling, ``start + (end - start) *
    (1 - (1 - t / steps)^power)`` rising: the polynomial bent the other way (``power=2`` is
    ``one_minus_square``, ``0.5`` is ``one_minus_sqrt``); timm ``WSDLRScheduler(decay_fn='power',
    decay_power=p)``."""
    return Phase(start, end, steps, "one_minus_power", power)


@constructor
def geometric(start: float, end: float, steps: Length) -> Phase:
    """Exponential interpolation ``start * (end / start)^(t / steps)`` (MiniCPM cooldown)."""
    return Phase(start, end, steps, "geometric")


# --- exponential ------------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class Exponential(Schedule):
    """``s(t) = min(max(lr * gamma^(t / every), floor), cap)``; with ``staircase`` the
    exponent is ``floor(t / every)`` (torch ``StepLR``; ``every=1``: torch ``ExponentialLR``;
    optax ``exponential_decay``, whose ``end_value`` is ``floor`` for a decay and ``cap`` for
    a growth, ``gamma > 1``, which needs a cap). Build it with :func:`exponential` (rate or
    half-life) or :func:`step`.
    """

    family: ClassVar[str] = "exponential"
    lr: float = param.lr()
    gamma: float = param.number(low=0.0, low_open=True)
    every: Length = param.length(default=1)
    staircase: bool = param.flag()
    floor: float = param.lr(default=0.0)
    cap: float | None = param.lr(default=None, optional=True)
    _every: float = param.cached()

    def _validate(self) -> None:
        if self.gamma > 1.0 and self.cap is None:
            raise ValueError(f"exponential.gamma > 1 grows without bound: give exponential.cap (the "
                             f"largest LR, optax's end_value) or a gamma in (0, 1]; got {self.gamma!r}")
        if self.cap is not None and self.cap < self.floor:
            raise ValueError(f"exponential.cap must be >= exponential.floor ({self.floor!r}); "
                             f"got {self.cap!r}")

    def _prepare(self) -> None:
        self._set("_every", steps_of(self.every))

    def upper_bound(self) -> float:
        return self.cap if self.cap is not None else max(self.lr, self.floor)

    def _eval(self, t: Any, xp: Any) -> Any:
        exponent = t / self._every
        if self.staircase:
            exponent = xp.floor(exponent)
        out = xp.maximum(self.lr * xp.power(self.gamma, exponent), self.floor)
        return out if self.cap is None else xp.minimum(out, self.cap)

    def describe(self, at_start: bool = True) -> list[str]:
        if self.staircase:
            every = self.every if isinstance(self.every, str) else f"{whole(self.every)}"
            return [f"step {'growth' if self.gamma > 1 else 'decay'} (x{self.gamma:g} every {every})"]
        return [f"exponential {'growth' if self.gamma > 1 else 'decay'}"]


@constructor
def exponential(lr: float, gamma: float | None = None, *, every: Length = 1,
                half_life: Length | None = None, staircase: bool = False,
                floor: float = 0.0, cap: float | None = None) -> Exponential:
    """``max(lr * gamma^(t / every), floor)``; ``half_life=H`` means ``gamma=0.5, every=H``.

    torch ``ExponentialLR`` is ``exponential(lr, gamma)``; optax ``exponential_decay`` is
    ``exponential(init, decay_rate, every=transition_steps, staircase=..., floor=end_value)``.
    """
    if (gamma is None) == (half_life is None):
        raise ValueError("exponential needs exactly one of gamma (a rate per `every` steps) or half_life; "
                         f"got gamma={gamma!r}, half_life={half_life!r}")
    if half_life is not None:
        if every != 1:
            raise ValueError(f"exponential: give half_life or every, not both; got every={every!r}")
        return Exponential(lr, 0.5, half_life, staircase, floor, cap)
    return Exponential(lr, gamma, every, staircase, floor, cap)  # type: ignore[arg-type]


@constructor
def step(lr: float, gamma: float, every: Length, floor: float = 0.0) -> Exponential:
    """``lr * gamma^floor(t / every)``: torch ``StepLR(step_size=every, gamma=gamma)``."""
    return Exponential(lr, gamma, every, staircase=True, floor=floor)


# --- inverse square root ----------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class InverseSqrt(Schedule):
    """``s(t) = lr / sqrt((t + timescale) / timescale)``: ``lr`` at ``t = 0``, then ~ 1/sqrt(t).

    After a warmup of ``W`` steps with ``timescale = W`` this is the Transformer's
    ``d^-0.5 * min(t^-0.5, t * W^-1.5)`` (Vaswani et al. 2017) and transformers'
    ``get_inverse_sqrt_schedule``.
    """

    family: ClassVar[str] = "inverse_sqrt"
    lr: float = param.lr()
    timescale: Length = param.length(default=10_000)
    _timescale: float = param.cached()

    def _prepare(self) -> None:
        self._set("_timescale", steps_of(self.timescale))

    def upper_bound(self) -> float:
        return self.lr

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.lr / xp.sqrt((t + self._timescale) / self._timescale)

    def describe(self, at_start: bool = True) -> list[str]:
        return ["inverse square root decay"]


@constructor
def inverse_sqrt(lr: float, timescale: Length = 10_000) -> InverseSqrt:
    """``lr / sqrt((t + timescale) / timescale)`` (Vaswani et al. 2017), see :class:`InverseSqrt`."""
    return InverseSqrt(lr, timescale)


# --- multistep --------------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class MultiStep(Schedule):
    """Piecewise constant: ``lr`` until the first milestone, then ``lr * gamma^k`` after the
    k-th (torch ``MultiStepLR``; Goyal et al. 2017: /10 at epochs 30, 60, 80) or
    ``lr * factors[k-1]`` (DeepSeek LLM 2024: 0.316 at 80%, 0.1 at 90% of the tokens).
    """

    family: ClassVar[str] = "multistep"
    lr: float = param.lr()
    milestones: tuple[Length, ...] = param.lengths()
    gamma: float | None = param.number(default=None, low=0.0, low_open=True, optional=True)
    factors: tuple[float, ...] | None = param.lrs(default=None, optional=True)
    _marks: tuple[float, ...] = param.cached()
    _levels: tuple[float, ...] = param.cached()

    def _validate(self) -> None:
        if (self.gamma is None) == (self.factors is None):
            raise ValueError("multistep needs exactly one of gamma (repeated) or factors (one per "
                             "milestone); "
                             f"got gamma={self.gamma!r}, factors={self.factors!r}")
        if self.factors is not None and len(self.factors) != len(self.milestones):
            raise ValueError(
                f"multistep.factors must have one factor per milestone ({len(self.milestones)}); "
                f"got {len(self.factors)}"
            )

    def _levels_after(self) -> tuple[float, ...]:
        """The level after each milestone: ``lr * gamma^k`` or ``lr * factors[k-1]``."""
        if self.gamma is None:
            return tuple(self.lr * f for f in self.factors)  # type: ignore[union-attr]
        try:
            levels = tuple(self.lr * self.gamma ** (k + 1) for k in range(len(self.milestones)))
        except OverflowError:
            levels = (math.inf,)
        if not all(math.isfinite(v) for v in levels):
            raise ValueError(f"multistep.gamma={self.gamma!r} makes the LR overflow after "
                             f"{len(self.milestones)} milestones; expected levels within float64's range")
        return levels

    def upper_bound(self) -> float:
        return max(self.lr, *self._levels_after())

    def _prepare(self) -> None:
        marks = tuple(steps_of(m) for m in self.milestones)
        if any(b <= a for a, b in itertools.pairwise(marks)):
            raise ValueError(f"multistep.milestones must be strictly increasing; got {list(self.milestones)}")
        self._set("_marks", marks)
        self._set("_levels", (self.lr, *self._levels_after()))

    @property
    def length(self) -> float:
        return steps_of(self.milestones[-1])

    def boundaries(self) -> tuple[float, ...]:
        return (0.0, *tuple(steps_of(m) for m in self.milestones))

    def _eval(self, t: Any, xp: Any) -> Any:
        return 0.0 * t + xp.take(self._levels, xp.search(self._marks, t))

    def describe(self, at_start: bool = True) -> list[str]:
        count = len(self.milestones)
        return [f"step drops at {count} milestone{'s' if count != 1 else ''}"]


@constructor
def multistep(lr: float, milestones: Any, gamma: float | None = None,
              factors: Any = None) -> MultiStep:
    """``lr`` until the first milestone, then ``lr * gamma^k`` (or ``lr * factors[k-1]``)
    after the k-th: torch ``MultiStepLR``."""
    return MultiStep(lr, milestones, gamma, factors)


# --- tanh -------------------------------------------------------------------------------------

#: ``exp`` of more than this overflows float64; the tanh factor there is below 1e-304 anyway
_EXP_ARG = 700.0


@family_class()
@dataclass(frozen=True, repr=False)
class Tanh(Schedule):
    """A hyperbolic-tangent phase (Hsueh et al. 2019; timm ``TanhLRScheduler``): with
    ``x = t / steps`` and ``z = lb (1 - x) + ub x``,

    ``s(t) = end + (start - end) * (1 - tanh(z)) / 2`` for ``t < steps``, then ``end``.

    As in timm the curve is not rescaled: at ``t = 0`` it is ``(1 - tanh(lb)) / 2`` of the
    way (0.9999983 for ``lb = -7``) and just before ``steps`` ``(1 - tanh(ub)) / 2``
    (0.0025 for ``ub = 3``), so it drops to ``end`` when the phase ends. ``(1 - tanh(z)) / 2``
    is computed as ``1 / (1 + exp(2 z))``, the same number without ``1 - tanh``'s
    cancellation.
    """

    family: ClassVar[str] = "tanh"
    start: float = param.lr()
    end: float = param.lr()
    steps: Length = param.length()
    lb: float = param.number(default=-7.0)
    ub: float = param.number(default=3.0)
    _length: float = param.cached()

    def _validate(self) -> None:
        if not self.lb < self.ub:
            raise ValueError(f"tanh.ub must be > tanh.lb ({self.lb!r}); got {self.ub!r}")

    @property
    def length(self) -> float:
        return steps_of(self.steps)

    def _prepare(self) -> None:
        self._set("_length", steps_of(self.steps))

    def _eval(self, t: Any, xp: Any) -> Any:
        length = self._length
        x = xp.minimum(t, length) / length
        z = self.lb * (1.0 - x) + self.ub * x
        factor = 1.0 / (1.0 + xp.exp(xp.minimum(2.0 * z, _EXP_ARG)))
        return xp.where(t >= length, self.end, self.end + (self.start - self.end) * factor)

    def upper_bound(self) -> float:
        return max(self.start, self.end)

    def describe(self, at_start: bool = True) -> list[str]:
        if self.start == self.end:
            return ["constant"]
        if self.start < self.end:
            return ["tanh warmup" if at_start else "tanh rise"]
        return [f"tanh decay{ratio_words(self.end, self.start)}"]


@constructor
def tanh(start: float, end: float, steps: Length, lb: float = -7.0, ub: float = 3.0) -> Tanh:
    """``end + (start - end) * (1 - tanh(lb (1 - x) + ub x)) / 2``, ``x = t / steps``: timm's
    ``TanhLRScheduler`` curve, see :class:`Tanh`."""
    return Tanh(start, end, steps, lb, ub)


# --- inverse time -----------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class InverseTime(Schedule):
    """``s(t) = lr / (1 + rate * t / every)``; with ``staircase`` the ``t / every`` is
    ``floor(t / every)`` (Keras ``InverseTimeDecay(lr, decay_steps=every, decay_rate=rate,
    staircase=...)``; the ``1 / t`` decay of stochastic approximation, Robbins & Monro 1951).
    Endless.
    """

    family: ClassVar[str] = "inverse_time"
    lr: float = param.lr()
    rate: float = param.number(low=0.0)
    every: Length = param.length(default=1)
    staircase: bool = param.flag()
    _every: float = param.cached()

    def _prepare(self) -> None:
        self._set("_every", steps_of(self.every))

    def _eval(self, t: Any, xp: Any) -> Any:
        p = t / self._every
        if self.staircase:
            p = xp.floor(p)
        return self.lr / (1.0 + self.rate * p)

    def upper_bound(self) -> float:
        return self.lr

    def describe(self, at_start: bool = True) -> list[str]:
        return ["inverse time decay" + (" (staircase)" if self.staircase else "")]


@constructor
def inverse_time(lr: float, rate: float, every: Length = 1, staircase: bool = False) -> InverseTime:
    """``lr / (1 + rate * t / every)`` (``floor(t / every)`` with ``staircase``): Keras
    ``InverseTimeDecay``, see :class:`InverseTime`."""
    return InverseTime(lr, rate, every, staircase)
