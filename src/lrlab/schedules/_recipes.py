"""Recipe families: a warmup prefix, the untuned warmup, warmup-stable-decay, 1cycle and
piecewise-linear. Each keeps its own parameters (for the text form) and, except the
untuned warmup (a factor), evaluates through :attr:`lowered`: a join of primitives built
once, so no formula is written twice.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from lrlab.units import BatchRamp, Budget, Length, RampedBudget

from . import _params as param
from ._base import Schedule, check_schedule, schedule
from ._composition import Join, Limit, Scale
from ._params import check_number
from ._primitives import Constant, Phase, cosine, steps_of
from ._registry import constructor, family_class
from ._shapes import POWER_SHAPES, SHAPE_ALIASES, SHAPES, shape_words

WARMUP_SHAPES = SHAPES
DECAY_SHAPES = SHAPES


class _Lowered(Schedule):
    """A family evaluated through :attr:`lowered`, built once by ``_lower()``."""

    __slots__ = ()
    _lowered: Schedule

    def _prepare(self) -> None:
        self._set("_lowered", self._lower())

    def _lower(self) -> Schedule:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def lowered(self) -> Schedule:
        """The primitive composition this family evaluates as."""
        self.check_resolved()
        return self._lowered

    @property
    def length(self) -> float | None:
        return self.lowered.length

    @property
    def final_value(self) -> float:
        return self.lowered.final_value

    def boundaries(self) -> tuple[float, ...]:
        return self.lowered.boundaries()

    def _eval(self, t: Any, xp: Any) -> Any:
        return self._lowered._eval(t, xp)


# --- warmup -----------------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class Warmup(_Lowered):
    """A warmup prefix of ``steps`` before ``then`` (which starts at step ``steps``;
    ``steps=0``: no warmup, as a peer with zero warmup steps).

    Rises from ``start_factor * peak`` at ``t = 0`` to ``peak = then(0)`` at ``t = ramp``
    (default ``steps``) and holds it until ``steps``:
    ``s(t) = peak * (f0 + (1 - f0) * t / ramp)`` for the linear shape. Conventions:

    * transformers, optax, torch ``LinearLR``: ``start_factor = 0`` (or torch's factor)
    * nanoGPT ``(it + 1) / (W + 1)``: ``start_factor = 1 / (W + 1)``
    * build-nanogpt ``(it + 1) / W``: ``start_factor = 1 / W, ramp = W - 1``
    * ``shape='geometric'``: exponential warmup (needs ``start_factor > 0``)
    """

    family: ClassVar[str] = "warmup"
    steps: Length = param.length(allow_zero=True)
    then: Schedule = schedule()
    start_factor: float = param.number(default=0.0, low=0.0, high=1.0)
    ramp: Length | None = param.length(default=None, optional=True)
    shape: str = param.choice(WARMUP_SHAPES, default="linear", aliases=SHAPE_ALIASES)

    def _child_offset(self, name: str, resolved: dict[str, Any]) -> float:
        return steps_of(resolved.get("steps", self.steps)) if name == "then" else 0.0

    def _validate(self) -> None:
        if self.shape == "geometric" and self.start_factor == 0.0:
            raise ValueError("warmup.start_factor must be > 0 for a geometric (exponential) warmup; got 0.0")

    def _lower(self) -> Schedule:
        steps = steps_of(self.steps)
        ramp = steps if self.ramp is None else steps_of(self.ramp)
        if ramp > steps:
            raise ValueError(f"warmup.ramp ({self.ramp}) must be <= warmup.steps ({self.steps})")
        if steps == 0:
            return Join((self.then,))
        peak = self.then(0)
        start = self.start_factor * peak
        shape = self.shape
        if shape == "geometric" and (start == 0.0) != (peak == 0.0):
            # start_factor * peak underflows to 0 (peak 5e-324): the ramp is linear from 0
            shape = "linear"
        elif shape == "geometric" and start > 0.0 and not peak / start < math.inf:
            raise ValueError(f"warmup.start_factor={self.start_factor!r} is too small for a geometric "
                             f"warmup to {peak!r}: the ratio overflows float64")
        parts: list[Schedule] = [Phase(start, peak, ramp, shape)]
        if ramp < steps:
            parts.append(Constant(peak, steps - ramp))
        return Join((*parts, self.then))

    def describe(self, at_start: bool = True) -> list[str]:
        return [f"{shape_words(self.shape)} warmup", *self.then.describe(False)]


@constructor
def warmup(steps: Length, then: Schedule, start_factor: float = 0.0, ramp: Length | None = None,
           shape: str = "linear") -> Warmup:
    """A warmup prefix of ``steps`` before ``then``, see :class:`Warmup`."""
    return Warmup(steps, then, start_factor, ramp, shape)


@constructor
def warmup_cosine(peak: float, total: Length, warmup_steps: Length, floor: float = 0.0,
                  start_factor: float = 0.0) -> Schedule:
    """Linear warmup to ``peak`` then cosine to ``floor``, the warmup inside ``total``
    (transformers ``get_cosine_schedule_with_warmup``, optax
    ``warmup_cosine_decay_schedule``): ``warmup(W, cosine(peak, floor, total - W))``.
    """
    total_steps = Budget().steps(total, "warmup_cosine.total") if not isinstance(total, str) else None
    warm = Budget().steps(warmup_steps, "warmup_cosine.warmup_steps") if not isinstance(
        warmup_steps, str) else None
    if total_steps is None or warm is None:
        raise ValueError("warmup_cosine takes steps; for unit lengths use warmup(W, cosine(...)); "
                         f"got total={total!r}, warmup_steps={warmup_steps!r}")
    if warm >= total_steps:
        raise ValueError(f"warmup_cosine.warmup_steps ({warmup_steps!r}) must be < total ({total!r})")
    decay = cosine(peak, floor, total_steps - warm)
    return warmup(warm, decay, start_factor) if warm > 0 else decay


# --- untuned warmup ---------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class UntunedWarmup(Schedule):
    """Ma & Yarats 2021's untuned warmup for Adam, a factor on ``then``:
    ``s(t) = w(t) * then(t)`` with ``w = min(1, (1 - beta2) / 2 * (t + 1))`` (linear, over
    ``2 / (1 - beta2)`` updates) or ``w = 1 - exp(-(1 - beta2) * (t + 1))`` (exponential).
    ``t + 1`` because the paper counts updates from 1.
    """

    family: ClassVar[str] = "untuned_warmup"
    then: Schedule = schedule()
    beta2: float = param.number(default=0.999, low=0.0, high=1.0, high_open=True)
    shape: str = param.choice(("linear", "exponential"), default="linear")

    @property
    def warmup_steps(self) -> float:
        """``2 / (1 - beta2)``: the rule-of-thumb warmup length."""
        return 2.0 / (1.0 - self.beta2)

    @property
    def length(self) -> float | None:
        inner = self.then.length
        if inner is None or self.shape == "exponential":
            return None
        return max(inner, math.ceil(self.warmup_steps - 1.0))

    def time_scales(self) -> list[float]:
        return [self.warmup_steps, *super().time_scales()]

    def _eval(self, t: Any, xp: Any) -> Any:
        rate = 1.0 - self.beta2
        if self.shape == "linear":
            factor = xp.minimum(0.5 * rate * (t + 1.0), 1.0)
        else:
            factor = 1.0 - xp.exp(-rate * (t + 1.0))
        return factor * self.then._eval(t, xp)

    def describe(self, at_start: bool = True) -> list[str]:
        return [f"untuned {self.shape} warmup (2/(1-beta2) steps)", *self.then.describe(False)]


@constructor
def untuned_warmup(then: Schedule, beta2: float = 0.999, shape: str = "linear") -> UntunedWarmup:
    """Ma & Yarats 2021's ``2 / (1 - beta2)`` warmup factor on ``then``."""
    return UntunedWarmup(then, beta2, shape)


# --- warmup-stable-decay ----------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class WSD(_Lowered):
    """Warmup-stable-decay (Hu et al. 2024, MiniCPM; Hagele et al. 2024): a warmup from
    ``start`` to ``peak`` over ``warmup`` steps, ``peak`` held, then a cooldown to ``floor``
    over the last ``cooldown`` steps (or ``cooldown_fraction`` of ``steps``, default 20%).
    ``steps`` is the whole run, warmup and cooldown included (as transformers'
    ``get_wsd_schedule`` with ``num_training_steps``).
    """

    family: ClassVar[str] = "wsd"
    peak: float = param.lr()
    steps: Length = param.length()
    warmup: Length = param.length(default=0, allow_zero=True)
    cooldown: Length | None = param.length(default=None, optional=True)
    cooldown_fraction: float | None = param.number(default=None, low=0.0, high=1.0, low_open=True,
                                                   optional=True)
    shape: str = param.choice(DECAY_SHAPES, default="one_minus_sqrt", aliases=SHAPE_ALIASES)
    floor: float = param.lr(default=0.0)
    start: float = param.lr(default=0.0)
    warmup_shape: str = param.choice(WARMUP_SHAPES, default="linear", aliases=SHAPE_ALIASES)
    power: float = param.number(default=1.0, low=0.0, low_open=True)

    def _validate(self) -> None:
        if self.cooldown is not None and self.cooldown_fraction is not None:
            raise ValueError("wsd takes cooldown (a length) or cooldown_fraction, not both; "
                             f"got cooldown={self.cooldown!r}, cooldown_fraction={self.cooldown_fraction!r}")
        if self.cooldown_fraction == 0.2:
            self._set("cooldown_fraction", None)  # the default written out is the default
        for name in ("floor", "start"):
            if getattr(self, name) > self.peak:
                raise ValueError(f"wsd.{name} must be <= wsd.peak ({self.peak!r}); "
                                 f"got {getattr(self, name)!r}")
        if self.shape not in POWER_SHAPES and self.power != 1.0:
            raise ValueError(f"wsd.power is only for shape='polynomial' or 'one_minus_power'; "
                             f"got shape={self.shape!r}")

    def _lower(self) -> Schedule:
        total = steps_of(self.steps)
        warmup = steps_of(self.warmup)
        if self.cooldown is not None:
            cooldown = steps_of(self.cooldown)
        else:
            cooldown = total * (0.2 if self.cooldown_fraction is None else self.cooldown_fraction)
        stable = total - warmup - cooldown
        if stable < 0:
            raise ValueError(
                f"wsd.warmup ({self.warmup}) + cooldown ({cooldown:g}) must fit in wsd.steps ({self.steps})"
            )
        parts: list[Schedule] = []
        if warmup > 0:
            parts.append(Phase(self.start, self.peak, warmup, self.warmup_shape))
        if stable > 0:
            parts.append(Constant(self.peak, stable))
        parts.append(Phase(self.peak, self.floor, cooldown, self.shape, self.power))
        return Join(tuple(parts))

    def upper_bound(self) -> float:
        return self.peak

    def describe(self, at_start: bool = True) -> list[str]:
        parts = [] if self.warmup == 0 else [f"{shape_words(self.warmup_shape)} warmup"]
        stable = True
        if self.resolved:
            stable = any(isinstance(p, Constant) for p in self.lowered.children())
        if stable:
            parts.append("stable")
        cooldown = shape_words(self.shape, self.power)
        ratio = " to 0" if self.floor == 0.0 else (
            f" to {100.0 * self.floor / self.peak:.3g}%" if self.peak > 0 else "")
        return [*parts, f"{cooldown} cooldown{ratio}"]


@constructor
def wsd(peak: float, steps: Length, warmup: Length = 0, cooldown: Length | None = None,
        cooldown_fraction: float | None = None, shape: str = "one_minus_sqrt",
        floor: float = 0.0, start: float = 0.0, warmup_shape: str = "linear",
        power: float = 1.0) -> WSD:
    """Warmup-stable-decay, see :class:`WSD` (default cooldown: the last 20%, 1-sqrt)."""
    return WSD(peak, steps, warmup, cooldown, cooldown_fraction, shape, floor, start,
               warmup_shape, power)


# --- 1cycle -----------------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class OneCycle(_Lowered):
    """The 1cycle policy (Smith & Topin 2019): from ``peak / div`` up to ``peak`` over
    ``pct_start`` of ``steps``, then down to ``peak / (div * final_div)``; with
    ``three_phase`` back to ``peak / div`` first (at ``pct_final``, default ``2 pct_start``).

    ``convention='torch'`` places the phase ends as torch ``OneCycleLR`` does
    (``pct_start * steps - 1``, ``steps - 1``: the final value is reached at the last
    update); ``'optax'`` as optax's onecycle schedules (``int(pct_start * steps)``,
    ``steps``); ``'fastai'`` as fastai's ``fit_one_cycle`` (``combined_cos``: at
    ``pct_start * steps``, fractional or not, and ``steps``). ``anneal`` is ``'cos'`` or
    ``'linear'``. fastai's ``div_final`` divides the peak, torch's ``final_div_factor`` the
    start: fastai's defaults (``div=25, div_final=1e5, pct_start=0.25``) are
    ``onecycle(peak, steps, pct_start=0.25, div=25, final_div=4000, convention='fastai')``.
    """

    family: ClassVar[str] = "onecycle"
    peak: float = param.lr(positive=True)
    steps: Length = param.length()
    pct_start: float = param.number(default=0.3, low=0.0, high=1.0, low_open=True, high_open=True)
    div: float = param.number(default=25.0, low=0.0, low_open=True)
    final_div: float = param.number(default=1e4, low=0.0, low_open=True)
    anneal: str = param.choice(("cos", "linear"), default="cos")
    three_phase: bool = param.flag()
    pct_final: float | None = param.number(default=None, low=0.0, high=1.0, low_open=True, high_open=True,
                                     optional=True)
    convention: str = param.choice(("torch", "optax", "fastai"), default="torch")

    def _validate(self) -> None:
        if self.pct_final is not None:
            if not self.three_phase:
                raise ValueError("onecycle.pct_final is only used with three_phase=True")
            check_number(self.pct_final, "onecycle.pct_final", low=self.pct_start, high=1.0,
                         low_open=True, high_open=True)
        low = self.peak / self.div
        for name, value in (("div", low), ("final_div", low / self.final_div)):
            if not math.isfinite(value) or (value == 0.0):
                raise ValueError(f"onecycle.{name}={getattr(self, name)!r} puts the LR at {value!r}; "
                                 "expected a divisor that keeps it a positive finite number")

    def _lower(self) -> Schedule:
        total = steps_of(self.steps)
        low = self.peak / self.div
        final = low / self.final_div
        shape = "cosine" if self.anneal == "cos" else "linear"
        if self.convention == "torch":
            ends = [self.pct_start * total - 1.0]
            if self.three_phase:
                ends.append((self.pct_final or 2 * self.pct_start) * total - 2.0)
            ends.append(total - 1.0)
        elif self.convention == "optax":
            ends = [float(int(self.pct_start * total))]
            if self.three_phase:
                ends.append(float(int((self.pct_final or 2 * self.pct_start) * total)))
            ends.append(total)
        else:  # fastai: the phases meet at pct_start * total, between two steps if need be
            ends = [self.pct_start * total]
            if self.three_phase:
                ends.append((self.pct_final or 2 * self.pct_start) * total)
            ends.append(total)
        levels = [low, self.peak] + ([low] if self.three_phase else []) + [final]
        parts = []
        begin = 0.0
        for i, end in enumerate(ends):
            if end <= begin:
                raise ValueError(
                    f"onecycle.steps ({self.steps}) is too short for pct_start={self.pct_start}: "
                    f"phase {i + 1} would have length {end - begin:g}"
                )
            parts.append(Phase(levels[i], levels[i + 1], end - begin, shape))
            begin = end
        return Join(tuple(parts))

    def upper_bound(self) -> float:
        return self.peak

    def describe(self, at_start: bool = True) -> list[str]:
        anneal = "cosine" if self.anneal == "cos" else "linear"
        kind = "three-phase 1cycle" if self.three_phase else "1cycle"
        return [f"{kind} ({anneal} up, {anneal} down)"]


@constructor
def onecycle(peak: float, steps: Length, pct_start: float = 0.3, div: float = 25.0,
             final_div: float = 1e4, anneal: str = "cos", three_phase: bool = False,
             pct_final: float | None = None, convention: str = "torch") -> OneCycle:
    """The 1cycle policy (Smith & Topin 2019), torch ``OneCycleLR``'s defaults."""
    return OneCycle(peak, steps, pct_start, div, final_div, anneal, three_phase, pct_final,
                    convention)


# --- piecewise linear -------------------------------------------------------------------------


@family_class()
@dataclass(frozen=True, repr=False)
class Piecewise(Schedule):
    """Linear interpolation through the points ``(steps[i], lrs[i])``; holds ``lrs[0]``
    before the first point and ``lrs[-1]`` after the last, as ``np.interp`` computes it
    (``interp`` in ``_backend``: ``lrs[j] + slope_j * (t - steps[j])``, exact at the points).
    """

    family: ClassVar[str] = "piecewise"
    steps: tuple[Length, ...] = param.lengths(allow_zero=True)
    lrs: tuple[float, ...] = param.lrs()
    _marks: tuple[float, ...] = param.cached()

    def _validate(self) -> None:
        if len(self.steps) != len(self.lrs):
            raise ValueError(
                f"piecewise.steps and piecewise.lrs must have the same length; got "
                f"{len(self.steps)} and {len(self.lrs)}"
            )

    def _prepare(self) -> None:
        marks = tuple(steps_of(s) for s in self.steps)
        if any(b <= a for a, b in itertools.pairwise(marks)):
            raise ValueError(f"piecewise.steps must be strictly increasing; got {list(self.steps)[:20]}")
        self._set("_marks", marks)

    @property
    def length(self) -> float | None:
        return None if len(self.steps) == 1 else steps_of(self.steps[-1])

    def boundaries(self) -> tuple[float, ...]:
        self.check_resolved()
        return tuple(sorted({0.0, *self._marks}))

    def _eval(self, t: Any, xp: Any) -> Any:
        return xp.interp(t, self._marks, self.lrs)

    def upper_bound(self) -> float:
        return max(self.lrs)

    def describe(self, at_start: bool = True) -> list[str]:
        return [f"piecewise linear through {len(self.steps)} points"]


@constructor
def piecewise(steps: Any, lrs: Any = None) -> Piecewise:
    """Linear through the points ``(steps[i], lrs[i])``, holding the first and last values
    outside. Also takes one list of ``(step, lr)`` pairs; both spellings work in the text
    form too, which prints ``piecewise([0, 100, 1000], [0.0, 0.001, 0.0001])``."""
    if lrs is not None:
        return Piecewise(steps, lrs)
    if isinstance(steps, (str, bytes)) or not hasattr(steps, "__iter__"):
        raise ValueError(f"piecewise.steps must be a list of steps (with lrs) or of (step, lr) pairs; "
                         f"got {steps!r}")
    points = list(steps)
    if not points or any(not isinstance(p, (tuple, list)) or len(p) != 2 for p in points):
        raise ValueError(f"piecewise points must be a non-empty list of (step, lr) pairs, or give "
                         f"steps and lrs as two lists; got {steps!r}"[:300])
    return Piecewise(tuple(p[0] for p in points), tuple(p[1] for p in points))


# --- helpers that build schedules (not families of their own) --------------------------------


def cooldown_from(schedule: Schedule, at: Length, steps: Length, shape: str = "one_minus_sqrt",
                  floor: float = 0.0) -> Join:
    """Branch a cooldown off ``schedule`` at step ``at``: ``schedule`` until ``at``, then a
    ``shape`` decay from ``schedule(at)`` to ``floor`` over ``steps``.

    The WSD practice of Hagele et al. 2024: one long stable run, cooldowns branched from its
    checkpoints. With :class:`lrlab.torch.Scheduler`, load the checkpoint's state with
    ``change_schedule=True`` to continue on the branch.
    """
    check_schedule(schedule, "schedule")
    if isinstance(at, str) or isinstance(steps, str):
        raise ValueError(f"cooldown_from takes steps for 'at' and 'steps'; resolve units first; "
                         f"got at={at!r}, steps={steps!r}")
    if isinstance(at, bool) or not isinstance(at, int) or at < 0:
        raise ValueError(f"cooldown_from.at must be an int step >= 0; got {at!r}")
    start = schedule(at)
    decay = Phase(start, floor, steps, shape)
    return Join((Limit(schedule, at), decay)) if at > 0 else Join((decay,))


def scale_batch(schedule: Schedule, factor: float, rule: str = "linear",
                budget: Budget | None = None) -> tuple[Schedule, Budget | None]:
    """Adapt a schedule to a batch ``factor`` times larger.

    The LR values are multiplied by ``factor`` (``rule='linear'``, Goyal et al. 2017) or by
    ``sqrt(factor)`` (``rule='sqrt'``, the square-root rule for Adam; Malladi et al. 2022).
    Lengths written in tokens keep their tokens, so they take ``factor`` times fewer steps:
    the returned budget has ``tokens_per_step * factor`` (and, for a budget in steps, the
    total divided by ``factor``). Lengths already in steps are left as they are.
    """
    check_schedule(schedule, "schedule")
    factor = check_number(factor, "scale_batch.factor", low=0.0, low_open=True)
    if rule not in ("linear", "sqrt"):
        raise ValueError(f"scale_batch.rule must be 'linear' or 'sqrt'; got {rule!r}")
    if budget is not None and not isinstance(budget, Budget):
        raise ValueError(f"scale_batch.budget must be an lrlab.Budget or None; got {type(budget).__name__}")
    lr_factor = factor if rule == "linear" else math.sqrt(factor)
    new_budget = None
    if budget is not None:
        total = budget.total_steps
        if isinstance(total, (int, float)) and not isinstance(total, bool):
            scaled = total / factor
            total = int(scaled) if scaled == int(scaled) else scaled
        new_budget = Budget(
            total,
            None if budget.tokens_per_step is None else budget.tokens_per_step * factor,
            None if budget.steps_per_epoch is None else budget.steps_per_epoch / factor,
        )
        if isinstance(budget, RampedBudget) and budget.ramp is not None:
            # a batch ramp grows with the batch: every stage `factor` times larger
            ramp = budget.ramp
            points = tuple((seen, size * factor) for seen, size in ramp.points)
            new_budget = RampedBudget(new_budget.total_steps, new_budget.tokens_per_step,
                                      new_budget.steps_per_epoch,
                                      ramp=BatchRamp(points, ramp.linear, ramp.multiple))
    return Scale(schedule, lr_factor), new_budget
