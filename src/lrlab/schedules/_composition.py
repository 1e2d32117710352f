"""Composition: schedules made of schedules.

* :class:`Join`: pieces in sequence, each in its own local time (optax ``join_schedules``);
* :class:`Scale`, :class:`Offset`, :class:`Clamp`: a change of value, not of timing;
* :class:`Product`, :class:`Add`: two schedules combined pointwise;
* :class:`Limit`, :class:`Shift`, :class:`Quantize`, :class:`Repeat`: a change of time
  (stop at a step, start part-way, hold for whole epochs, start over).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from lrlab.units import Length

from . import _params as param
from ._base import Schedule, schedule, schedules
from ._primitives import steps_of, whole
from ._registry import constructor, family_class

# --- join -------------------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class Join(Schedule):
    """Pieces in sequence, each in its own local time (optax ``join_schedules``).

    Piece ``i`` runs from ``b_i = sum of the lengths before it`` and sees ``t - b_i``:
    ``s(t) = parts[i](t - b_i)`` for ``b_i <= t < b_(i+1)``. Every piece but the last needs a
    length; the join ends when its last piece ends, and holds that piece's final value.
    """

    family: ClassVar[str] = "join"
    parts: tuple[Schedule, ...] = schedules()
    _starts: tuple[float, ...] = param.cached()
    _ends: tuple[float, ...] = param.cached()
    _hold: bool = param.cached()
    _length: float | None = param.cached()
    _final: float = param.cached()

    def arguments(self) -> tuple[list[Any], dict[str, Any]]:
        return list(self.parts), {}

    def resolve_at(self, budget: Any, offset: float) -> Schedule:
        if self.resolved:
            return self
        parts: list[Schedule] = []
        start = offset
        for i, part in enumerate(self.parts):
            resolved = part.resolve_at(budget, start)
            parts.append(resolved)
            if i < len(self.parts) - 1:
                if resolved.length is None:
                    raise ValueError(f"join.parts[{i}] ({resolved}) never ends, so nothing can follow it")
                start += resolved.length
        return Join(tuple(parts))

    def _prepare(self) -> None:
        starts = [0.0]
        for i, part in enumerate(self.parts[:-1]):
            if part.length is None:
                raise ValueError(
                    f"join.parts[{i}] ({part}) never ends, so nothing can follow it: give it a "
                    "length (e.g. constant(lr, steps=N) or limit(schedule, N))"
                )
            starts.append(starts[-1] + part.length)
        self._set("_starts", tuple(starts))
        self._set("_ends", tuple(starts[1:]))
        last = self.parts[-1]
        if last.length is not None:
            # from its end on, the join holds its last piece's final value exactly; the last
            # piece does that itself unless t - start can round just below its length, which
            # needs a start or length that is not a whole number (below 2^53)
            self._set("_length", starts[-1] + last.length)
            self._set("_final", last.final_value)
            exact = all(float(x).is_integer() and abs(x) < 2.0**53 for x in (*starts, last.length))
            self._set("_hold", not exact)

    @property
    def length(self) -> float | None:
        self.check_resolved()
        return self._length

    @property
    def final_value(self) -> float:
        if self.length is None:
            raise ValueError("this join never ends, so it has no final value")
        return self._final

    def boundaries(self) -> tuple[float, ...]:
        self.check_resolved()
        marks: list[float] = []
        for start, part in zip(self._starts, self.parts):
            marks += [start + b for b in part.boundaries()]
        return tuple(sorted(set(marks)))

    def _eval(self, t: Any, xp: Any) -> Any:
        out = xp.switch(xp.search(self._ends, t), self.parts, t, self._starts)
        if self._length is None or not self._hold:
            return out
        return xp.where(t >= self._length, self._final, out)

    def describe(self, at_start: bool = True) -> list[str]:
        out: list[str] = []
        for i, part in enumerate(self.parts):
            out += part.describe(at_start and i == 0)
        return out


@constructor
def join(*parts: Schedule) -> Join:
    """Schedules in sequence, each in its own local time."""
    if len(parts) == 1 and isinstance(parts[0], (list, tuple)):
        parts = tuple(parts[0])
    return Join(parts)


# --- value maps -------------------------------------------------------------------------------


class _ValueMap(Schedule):
    """A node that changes the values of ``self.schedule`` but not its timing: its length
    and phase boundaries are the inner schedule's."""

    __slots__ = ()
    schedule: Schedule

    @property
    def length(self) -> float | None:
        return self.schedule.length

    def boundaries(self) -> tuple[float, ...]:
        return self.schedule.boundaries()

    def describe(self, at_start: bool = True) -> list[str]:
        return self.schedule.describe(at_start)


@family_class()
@dataclass(frozen=True, repr=False)
class Scale(_ValueMap):
    """``s(t) = factor * schedule(t)`` (per-group multipliers, batch-size scaling)."""

    family: ClassVar[str] = "scale"
    schedule: Schedule = schedule()
    factor: float = param.lr()

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.factor * self.schedule._eval(t, xp)

    def upper_bound(self) -> float:
        return self.factor * self.schedule.upper_bound()

    def _bound_parameter(self) -> str:
        return "scale.factor"


@constructor
def scale(schedule: Schedule, factor: float) -> Scale:
    """``factor * schedule(t)``."""
    return Scale(schedule, factor)


@family_class()
@dataclass(frozen=True, repr=False)
class Offset(_ValueMap):
    """``s(t) = schedule(t) + value``: a floor added under a decaying amplitude (Keras
    ``CosineDecayRestarts`` with ``alpha > 0`` and ``m_mul < 1``, timm's ``lr_min`` under
    a decay with restarts, torch ``ChainedScheduler`` of ``LinearLR`` and a cosine with
    ``eta_min > 0``)."""

    family: ClassVar[str] = "offset"
    schedule: Schedule = schedule()
    value: float = param.lr()

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.schedule._eval(t, xp) + self.value

    def upper_bound(self) -> float:
        return self.schedule.upper_bound() + self.value

    def _bound_parameter(self) -> str:
        return "offset.value"

    def describe(self, at_start: bool = True) -> list[str]:
        return [*self.schedule.describe(at_start), f"plus {self.value:g}"]


@constructor
def offset(schedule: Schedule, value: float) -> Offset:
    """``schedule(t) + value``."""
    return Offset(schedule, value)


@family_class()
@dataclass(frozen=True, repr=False)
class Clamp(_ValueMap):
    """``s(t) = min(max(schedule(t), low), high)``: a floor and/or a ceiling."""

    family: ClassVar[str] = "clamp"
    schedule: Schedule = schedule()
    low: float = param.lr(default=0.0)
    high: float | None = param.lr(default=None, optional=True)

    def _validate(self) -> None:
        if self.high is not None and self.high < self.low:
            raise ValueError(f"clamp.high must be >= clamp.low; got {self.high!r} < {self.low!r}")

    def _eval(self, t: Any, xp: Any) -> Any:
        out = xp.maximum(self.schedule._eval(t, xp), self.low)
        return out if self.high is None else xp.minimum(out, self.high)

    def upper_bound(self) -> float:
        inner = max(self.schedule.upper_bound(), self.low)
        return inner if self.high is None else min(inner, self.high)

    def describe(self, at_start: bool = True) -> list[str]:
        return [*self.schedule.describe(at_start), "clamped"]


@constructor
def clamp(schedule: Schedule, low: float = 0.0, high: float | None = None) -> Clamp:
    """``min(max(schedule(t), low), high)``."""
    return Clamp(schedule, low, high)


# --- pointwise combinations -------------------------------------------------------------------


class _Pointwise(Schedule):
    """Two schedules combined at each step; it ends when both have ended."""

    __slots__ = ()
    first: Schedule
    second: Schedule

    @property
    def length(self) -> float | None:
        a, b = self.first.length, self.second.length
        return None if a is None or b is None else max(a, b)

    def boundaries(self) -> tuple[float, ...]:
        return tuple(sorted(set(self.first.boundaries()) | set(self.second.boundaries())))


@family_class()
@dataclass(frozen=True, repr=False)
class Product(_Pointwise):
    """``s(t) = first(t) * second(t)``: e.g. a controller's multiplier on a base schedule."""

    family: ClassVar[str] = "product"
    first: Schedule = schedule()
    second: Schedule = schedule()

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.first._eval(t, xp) * self.second._eval(t, xp)

    def upper_bound(self) -> float:
        return self.first.upper_bound() * self.second.upper_bound()

    def _bound_parameter(self) -> str:
        return "product.second"

    def describe(self, at_start: bool = True) -> list[str]:
        # a rising phase times a schedule is a warmup multiplier (Goyal et al. 2017)
        for ramp, other in ((self.first, self.second), (self.second, self.first)):
            words = ramp.describe(at_start)
            if at_start and len(words) == 1 and words[0].endswith(" warmup"):
                return [words[0], *other.describe(False)]
        first = self.first.description(at_start)
        second = self.second.description(at_start)
        return [f"({first}) times ({second})"]


@constructor
def product(first: Schedule, second: Schedule) -> Product:
    """``first(t) * second(t)``."""
    return Product(first, second)


@family_class()
@dataclass(frozen=True, repr=False)
class Add(_Pointwise):
    """``s(t) = first(t) + second(t)`` (``a + b`` in Python and in the text form)."""

    family: ClassVar[str] = "add"
    first: Schedule = schedule()
    second: Schedule = schedule()

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.first._eval(t, xp) + self.second._eval(t, xp)

    def upper_bound(self) -> float:
        return self.first.upper_bound() + self.second.upper_bound()

    def _bound_parameter(self) -> str:
        return "add.second"

    def describe(self, at_start: bool = True) -> list[str]:
        first = self.first.description(at_start)
        second = self.second.description(at_start)
        return [f"({first}) plus ({second})"]


@constructor
def add(first: Schedule, second: Schedule) -> Add:
    """``first(t) + second(t)``."""
    return Add(first, second)


# --- changes of time --------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class Limit(Schedule):
    """``s(t) = schedule(min(t, steps))``: ends an endless schedule after ``steps``."""

    family: ClassVar[str] = "limit"
    schedule: Schedule = schedule()
    steps: Length = param.length()
    _steps: float = param.cached()

    @property
    def length(self) -> float:
        return steps_of(self.steps)

    def boundaries(self) -> tuple[float, ...]:
        inner = [b for b in self.schedule.boundaries() if b < self.length]
        return (*inner, self.length)

    def _prepare(self) -> None:
        self._set("_steps", steps_of(self.steps))

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.schedule._eval(xp.minimum(t, self._steps), xp)

    def describe(self, at_start: bool = True) -> list[str]:
        return [*self.schedule.describe(at_start), "then held"]


@constructor
def limit(schedule: Schedule, steps: Length) -> Limit:
    """``schedule(min(t, steps))``: gives an endless schedule an end."""
    return Limit(schedule, steps)


@family_class()
@dataclass(frozen=True, repr=False)
class Shift(Schedule):
    """``s(t) = schedule(t + steps)``: the schedule entered ``steps`` into its course.

    timm's ``CosineLRScheduler(warmup_prefix=False)`` (its default) reads the cosine at the
    absolute step after the warmup, so the decay starts ``warmup_t`` into its swing:
    ``warmup(W, shift(cosine(peak, floor, T), W))``.
    """

    family: ClassVar[str] = "shift"
    schedule: Schedule = schedule()
    steps: Length = param.length(allow_zero=True)
    _steps: float = param.cached()

    def _prepare(self) -> None:
        self._set("_steps", steps_of(self.steps))

    @property
    def length(self) -> float | None:
        inner = self.schedule.length
        return None if inner is None else max(inner - steps_of(self.steps), 0.0)

    def boundaries(self) -> tuple[float, ...]:
        shifted = [b - self._steps for b in self.schedule.boundaries() if b > self._steps]
        return (0.0, *shifted)

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.schedule._eval(t + self._steps, xp)

    def describe(self, at_start: bool = True) -> list[str]:
        return self.schedule.describe(at_start)


@constructor
def shift(schedule: Schedule, steps: Length) -> Shift:
    """``schedule(t + steps)``: start ``steps`` into the schedule."""
    return Shift(schedule, steps)


@family_class()
@dataclass(frozen=True, repr=False)
class Quantize(Schedule):
    """``s(t) = schedule(every * floor(t / every))``: the value held for ``every`` updates,
    as a scheduler stepped once per epoch sets it (timm ``t_in_epochs=True``, torch
    schedulers stepped per epoch, Keras ``staircase=True``): ``quantize(s, '1ep')``."""

    family: ClassVar[str] = "quantize"
    schedule: Schedule = schedule()
    every: Length = param.length()
    _every: float = param.cached()

    def _prepare(self) -> None:
        self._set("_every", steps_of(self.every))

    @property
    def length(self) -> float | None:
        inner = self.schedule.length
        if inner is None:
            return None
        every = self._every
        ends = (inner // every) * every
        return ends if ends >= inner else ends + every

    def boundaries(self) -> tuple[float, ...]:
        return self.schedule.boundaries()

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.schedule._eval(self._every * xp.floor(t / self._every), xp)

    def describe(self, at_start: bool = True) -> list[str]:
        every = self.every if isinstance(self.every, str) else f"{whole(self.every)}"
        return [*self.schedule.describe(at_start), f"held for every {every} steps"]


@constructor
def quantize(schedule: Schedule, every: Length) -> Quantize:
    """``schedule(every * floor(t / every))``: one value per ``every`` updates (an epoch)."""
    return Quantize(schedule, every)


@family_class()
@dataclass(frozen=True, repr=False)
class Repeat(Schedule):
    """``s(t) = schedule(t mod L)``, ``L`` the schedule's length: a finite schedule started
    over and over (``times`` runs, or endlessly)."""

    family: ClassVar[str] = "repeat"
    schedule: Schedule = schedule()
    times: int | None = param.count(default=None, optional=True)
    _period: float = param.cached()

    def _prepare(self) -> None:
        period = self.schedule.length
        if period is None or period <= 0:
            raise ValueError(f"repeat.schedule must have a positive length to repeat; got {self.schedule}")
        self._set("_period", float(period))

    @property
    def length(self) -> float | None:
        return None if self.times is None else self.times * self._period

    def boundaries(self) -> tuple[float, ...]:
        inner = self.schedule.boundaries()
        runs = 2 if self.times is None else self.times
        return tuple(sorted({k * self._period + b for k in range(runs) for b in inner}))

    def _eval(self, t: Any, xp: Any) -> Any:
        run = xp.floor(t / self._period)
        if self.times is not None:
            run = xp.minimum(run, self.times - 1.0)
        return self.schedule._eval(t - run * self._period, xp)

    def describe(self, at_start: bool = True) -> list[str]:
        times = "endlessly" if self.times is None else f"{self.times} times"
        return [*self.schedule.describe(at_start), f"repeated {times}"]


@constructor
def repeat(schedule: Schedule, times: int | None = None) -> Repeat:
    """``schedule(t mod length)``: start the schedule over each time it ends."""
    return Repeat(schedule, times)

