"""Changes of time some peers build into their schedulers, as composable values:

* :class:`Warp`: a finite schedule read at ``L (t / L)^k`` (k-decay, timm's ``k_decay``);
* :class:`Extend`: a finite schedule whose horizon moves to the next multiple of its
  length each time it is reached (Keras ``PolynomialDecay(cycle=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from . import _params as param
from ._base import Schedule, schedule
from ._registry import constructor, family_class

_TINY = 1e-300  # keeps power()'s log finite at 0 (the value there is selected away)


def _finite_length(node: str, inner: Schedule) -> float:
    length = inner.length
    if length is None or length <= 0:
        raise ValueError(f"{node}.schedule must have a positive length; got {inner} "
                         "(an endless schedule: give it an end with limit(schedule, steps))")
    return float(length)


@family_class()
@dataclass(frozen=True, repr=False)
class Warp(Schedule):
    """``s(t) = schedule(L (t / L)^k)`` for ``t < L`` (``L`` the schedule's length), then the
    schedule's final value: the k-decay of Zhang et al. 2020 ("k-decay: A New Method For
    Learning Rate Schedule", arXiv:2004.05909), timm's ``k_decay``.

    A phase with shape ``f`` becomes ``f(x^k)``: ``warp(cosine(P, m, L), 2)`` is timm's
    ``m + (P - m) (1 + cos(pi t^2 / L^2)) / 2``. ``k > 1`` holds the LR high for longer,
    ``k < 1`` drops it sooner; ``k = 1`` is the schedule itself.
    """

    family: ClassVar[str] = "warp"
    schedule: Schedule = schedule()
    k: float = param.number(low=1e-3, high=1e3)
    _length: float = param.cached()

    def _prepare(self) -> None:
        self._set("_length", _finite_length("warp", self.schedule))

    @property
    def length(self) -> float:
        return _finite_length("warp", self.schedule)

    def boundaries(self) -> tuple[float, ...]:
        """The schedule's own boundaries ``b``, moved to where the warp reaches them:
        ``L (b / L)^(1 / k)``."""
        self.check_resolved()
        length = self._length
        inner = [b for b in self.schedule.boundaries() if 0.0 < b < length]
        return (0.0, *sorted({length * (b / length) ** (1.0 / self.k) for b in inner}), length)

    def _eval(self, t: Any, xp: Any) -> Any:
        length = self._length
        x = xp.maximum(xp.minimum(t, length) / length, _TINY)
        return self.schedule._eval(xp.where(t > 0, length * xp.power(x, self.k), 0.0), xp)

    def describe(self, at_start: bool = True) -> list[str]:
        return [*self.schedule.describe(at_start), f"time warped (k={self.k:g})"]


@constructor
def warp(schedule: Schedule, k: float) -> Warp:
    """``schedule(L (t / L)^k)``: k-decay (timm ``k_decay``), see :class:`Warp`."""
    return Warp(schedule, k)


@family_class()
@dataclass(frozen=True, repr=False)
class Extend(Schedule):
    """``s(t) = schedule(t / c)`` with ``c = max(ceil(t / L), 1)``, ``L`` the schedule's
    length: the schedule stretched over the first multiple of ``L`` that is ``>= t``.

    Keras ``PolynomialDecay(cycle=True)``: "the horizon is multiplied by
    ``ceil(step / decay_steps)``", so at ``t = L, 2L, ...`` the schedule is at its end and
    the next step reads it at ``(cL + 1) / (c + 1)``, part-way up again: not a plain
    repetition (which is :func:`~lrlab.schedules.repeat`). Endless.
    """

    family: ClassVar[str] = "extend"
    schedule: Schedule = schedule()
    _length: float = param.cached()

    def _prepare(self) -> None:
        self._set("_length", _finite_length("extend", self.schedule))

    @property
    def length(self) -> None:
        return None

    def boundaries(self) -> tuple[float, ...]:
        self.check_resolved()
        return (0.0, self._length, 2.0 * self._length)

    def _eval(self, t: Any, xp: Any) -> Any:
        ratio = t / self._length
        whole = xp.floor(ratio)
        # ceil written with floor, so the left limit (floor from the left) stays right
        cycles = xp.maximum(whole + xp.where(ratio > whole, 1.0, 0.0), 1.0)
        return self.schedule._eval(t / cycles, xp)

    def describe(self, at_start: bool = True) -> list[str]:
        return [*self.schedule.describe(at_start), "horizon extended by its length when reached"]


@constructor
def extend(schedule: Schedule) -> Extend:
    """``schedule(t / max(ceil(t / L), 1))``: Keras ``PolynomialDecay(cycle=True)``, see
    :class:`Extend`."""
    return Extend(schedule)
