"""Time units: a length is steps (a number) or a string with a unit, resolved by a Budget.

Accepted strings (case-insensitive, an optional K/M/B/G/T multiplier before the unit)::

    "1500" or "1500 steps"    optimizer updates
    "5%"                      of the budget's total steps
    "375M tokens"             tokens / tokens_per_step
    "2ep", "2 epochs"         epochs * steps_per_epoch
    "rest" (REST in the text form)   what remains of the total after the phases before it

Units resolve to exact step counts: ``"375M tokens"`` at 524288 tokens per step is
715.2557... steps, so a token-based warmup ends between two updates, as the token-based
recipes (GPT-3) define it. A result that is a whole number becomes an ``int``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from dataclasses import dataclass

Length = int | float | str

_MULTIPLIERS = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_UNITS = {
    "": "steps", "step": "steps", "steps": "steps",
    "%": "percent",
    "tok": "tokens", "token": "tokens", "tokens": "tokens",
    "ep": "epochs", "epoch": "epochs", "epochs": "epochs",
}
_LENGTH = re.compile(
    r"^\s*(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*(?P<rest>%|[a-zA-Z]*(?:\s+[a-zA-Z]+)?)\s*$"
)


def _split_unit(rest: str) -> tuple[str, str] | None:
    """(multiplier, unit) of the text after the number: a unit alone ('tokens'), or a
    multiplier and a unit ('M tokens', 'Mtok', 'k'). A unit wins over a multiplier, so
    '1000 tokens' is tokens, not tera-okens."""
    word = rest.replace(" ", "").lower()
    if word in _UNITS:
        return "", _UNITS[word]
    if word[:1] in _MULTIPLIERS and word[1:] in _UNITS:
        return word[:1], _UNITS[word[1:]]
    return None


@dataclass(frozen=True)
class Quantity:
    """A parsed length string: ``amount`` in ``unit`` (steps, percent, tokens or epochs)."""

    amount: float
    unit: str


def parse_length(text: str, name: str = "length") -> Quantity:
    """Parse a length string such as ``"5%"``, ``"375M tokens"``, ``"2ep"`` or ``"rest"``."""
    if text.strip().lower() == "rest":
        return Quantity(1.0, "rest")
    match = _LENGTH.match(text) if len(text) <= 64 else None
    split = _split_unit(match.group("rest")) if match else None
    if match is None or split is None:
        raise ValueError(
            f"{name} must be a number of steps or a string such as '5%', '375M tokens', "
            f"'2ep', '1500 steps' or 'rest'; got {text!r}"
        )
    multiplier, unit = split
    amount = float(match.group("number")) * _MULTIPLIERS[multiplier]
    if not math.isfinite(amount):
        raise ValueError(f"{name} must be finite; got {text!r}")
    return Quantity(amount, unit)


def check_length(value: object, name: str, *, allow_zero: bool = False) -> Length:
    """Validate a length (number of steps or unit string); returns it unchanged."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(
            f"{name} must be a number of steps or a string such as '5%'; got {value!r}"
        )
    if isinstance(value, str):
        parse_length(value, name)
        return value
    try:
        float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number of steps; got an integer beyond float64's range"
                         ) from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        need = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {need} finite number of steps; got {value!r}")
    return value


def _whole(x: float) -> int | float:
    nearest = round(x)
    return int(nearest) if abs(x - nearest) <= 1e-9 * max(1.0, abs(x)) else x


@dataclass(frozen=True)
class Budget:
    """What a run has: total steps, tokens per step and steps per epoch (each optional).

    ``total_steps`` may itself be given with a unit, e.g. ``Budget("260B tokens",
    tokens_per_step=524288)``.
    """

    total_steps: Length | None = None
    tokens_per_step: float | None = None
    steps_per_epoch: float | None = None

    def __post_init__(self) -> None:
        for name in ("tokens_per_step", "steps_per_epoch"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValueError(f"Budget.{name} must be a positive number; got {value!r}")
        if self.total_steps is not None:
            check_length(self.total_steps, "Budget.total_steps")
            if isinstance(self.total_steps, str) and parse_length(self.total_steps).unit == "percent":
                raise ValueError("Budget.total_steps cannot be a percentage of itself")

    @property
    def steps_total(self) -> int | float:
        """The total number of steps, resolved; a clear error if the budget has none."""
        if self.total_steps is None:
            raise ValueError("a '%' length needs Budget.total_steps; none was given")
        return self.steps(self.total_steps, "Budget.total_steps")

    def steps(self, length: Length, name: str = "length", *, offset: float = 0.0) -> int | float:
        """Number of steps in ``length`` (exact; a whole number is returned as int).

        ``offset`` is where the phase starts in the run: ``'rest'`` is the total minus it.
        """
        if not isinstance(length, str):
            steps = check_length(length, name, allow_zero=True)
            assert not isinstance(steps, str)
            return steps
        quantity = parse_length(length, name)
        if quantity.unit == "rest":
            if self.total_steps is None:
                raise ValueError(f"{name}='rest' is the rest of the run: give Budget(total_steps=...)")
            rest = self.steps_total - offset
            if rest <= 0:
                raise ValueError(f"{name}='rest' starts at step {offset:g}, at or past the end of the run "
                                 f"({self.steps_total} steps): nothing is left for it")
            return _whole(rest)
        if quantity.unit == "steps":
            return _whole(quantity.amount)
        if quantity.unit == "percent":
            if self.total_steps is None:
                raise ValueError(
                    f"{name}={length!r} is a percentage of the total: give Budget(total_steps=...)"
                )
            return _whole(quantity.amount / 100.0 * self.steps_total)
        if quantity.unit == "tokens":
            if self.tokens_per_step is None:
                raise ValueError(
                    f"{name}={length!r} is in tokens: give Budget(tokens_per_step=...)"
                )
            return _whole(quantity.amount / self.tokens_per_step)
        if self.steps_per_epoch is None:
            raise ValueError(f"{name}={length!r} is in epochs: give Budget(steps_per_epoch=...)")
        return _whole(quantity.amount * self.steps_per_epoch)

    def tokens(self, steps: float) -> float:
        """Tokens processed by ``steps`` updates."""
        if self.tokens_per_step is None:
            raise ValueError("converting steps to tokens needs Budget.tokens_per_step")
        return steps * self.tokens_per_step

    def epochs(self, steps: float) -> float:
        """Epochs covered by ``steps`` updates."""
        if self.steps_per_epoch is None:
            raise ValueError("converting steps to epochs needs Budget.steps_per_epoch")
        return steps / self.steps_per_epoch


def tokens_to_steps(tokens: float, tokens_per_step: float) -> int | float:
    """Steps needed to process ``tokens`` at ``tokens_per_step``."""
    return Budget(tokens_per_step=tokens_per_step).steps(f"{tokens!r} tokens", "tokens")


def steps_to_tokens(steps: float, tokens_per_step: float) -> float:
    """Tokens processed by ``steps`` updates at ``tokens_per_step``."""
    return Budget(tokens_per_step=tokens_per_step).tokens(steps)


# --- a batch that grows during the run ---------------------------------------------------------

#: most updates a ramp is followed through one by one (a linear ramp changes the batch at
#: every update; stages are skipped over in closed form)
MAX_RAMP_STEPS = 1_000_000


@dataclass(frozen=True)
class BatchRamp:
    """Tokens per step that change with the tokens already seen.

    ``points`` are ``(tokens_seen, tokens_per_step)`` pairs, ``tokens_seen`` ascending from 0.
    Update ``t`` processes ``b_t`` tokens, where ``seen_t = b_0 + ... + b_(t-1)`` and

    * ``linear=False`` (stages): ``b_t`` is the size of the last point with
      ``tokens_seen <= seen_t`` (Llama 3: 4M tokens, 8M from 252M tokens seen, 16M from
      2.87T: Llama Team 2024, Section 3.4.1);
    * ``linear=True``: ``b_t`` is interpolated linearly in ``seen_t`` between the points
      (GPT-3: "linearly from a small value (32k tokens) to the full value over the first
      4-12 billion tokens", Brown et al. 2020, Appendix B);

    rounded down to a whole number of ``multiple`` tokens (whole sequences) if given, and at
    least ``multiple``. Past the last point the batch stays at its last size.
    """

    points: tuple[tuple[float, float], ...]
    linear: bool = False
    multiple: float | None = None

    def __post_init__(self) -> None:
        try:
            points = tuple((float(a), float(b)) for a, b in self.points)
        except (TypeError, ValueError):
            raise ValueError(f"BatchRamp.points must be (tokens_seen, tokens_per_step) pairs; "
                             f"got {self.points!r}") from None
        if not points or points[0][0] != 0.0:
            raise ValueError(f"BatchRamp.points must start at 0 tokens seen; got {self.points!r}")
        for i, (seen, size) in enumerate(points):
            if not (math.isfinite(seen) and math.isfinite(size) and size > 0):
                raise ValueError(f"BatchRamp.points[{i}] must be finite, with a positive tokens_per_step; "
                                 f"got {(seen, size)!r}")
            if i and seen <= points[i - 1][0]:
                raise ValueError(f"BatchRamp.points must have strictly increasing tokens_seen; got "
                                 f"{points[i - 1][0]!r} then {seen!r}")
        if self.multiple is not None and not (
            isinstance(self.multiple, (int, float)) and not isinstance(self.multiple, bool)
            and math.isfinite(self.multiple) and self.multiple > 0
        ):
            raise ValueError(f"BatchRamp.multiple must be a positive number of tokens; got {self.multiple!r}")
        if self.linear:
            # at least (span of tokens) / (largest batch) updates per segment, each followed
            updates = sum((b[0] - a[0]) / max(a[1], b[1]) for a, b in itertools.pairwise(points))
            if updates > MAX_RAMP_STEPS:
                raise ValueError(f"BatchRamp.points: a linear ramp is followed update by update and "
                                 f"this one lasts at least {updates:,.0f} updates; expected at most "
                                 f"{MAX_RAMP_STEPS:,} (or use stages)")
        object.__setattr__(self, "points", points)

    @classmethod
    def stages(cls, *points: tuple[float, float], multiple: float | None = None) -> BatchRamp:
        """The batch changes at given token counts: ``BatchRamp.stages((0, 4 * 2**20),
        (252e6, 8 * 2**20), (2.87e12, 16 * 2**20))``."""
        return cls(points, linear=False, multiple=multiple)

    @classmethod
    def ramp(cls, start: float, end: float, over: float, multiple: float | None = None) -> BatchRamp:
        """From ``start`` to ``end`` tokens per step, linearly in the tokens seen, over the first
        ``over`` tokens: ``BatchRamp.ramp(32768, 3.2e6, 4e9, multiple=2048)`` (GPT-3)."""
        return cls(((0.0, start), (over, end)), linear=True, multiple=multiple)

    @property
    def final(self) -> float:
        """Tokens per step once the ramp is over."""
        return self._size(math.inf)

    def _size(self, seen: float) -> float:
        points = self.points
        index = bisect.bisect_right([p[0] for p in points], seen) - 1
        size = points[index][1]
        if self.linear and index + 1 < len(points):
            (a, size_a), (b, size_b) = points[index], points[index + 1]
            size = size_a + (size_b - size_a) * ((seen - a) / (b - a))
        if self.multiple is not None:
            size = max(math.floor(size / self.multiple) * self.multiple, self.multiple)
        return size

    @functools.cached_property
    def _table(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """Runs of equal batches: (first update, tokens seen before it, tokens per update);
        the last run lasts for ever."""
        steps, seen, sizes = [0.0], [0.0], [self._size(0.0)]
        step, total, end = 0.0, 0.0, self.points[-1][0]
        updates = 0
        while total < end:
            size = sizes[-1]
            if self.linear:
                count = 1.0  # the batch may change at every update
            else:  # the rest of this stage in one go
                following = next(p[0] for p in self.points if p[0] > total)
                count = float(max(math.ceil((following - total) / size), 1))
            step, total = step + count, total + count * size
            new = self._size(total)
            if new != size:
                steps.append(step)
                seen.append(total)
                sizes.append(new)
            updates += 1
            if updates > MAX_RAMP_STEPS:
                raise ValueError(f"BatchRamp: the ramp lasts more than {MAX_RAMP_STEPS:,} updates; "
                                 f"expected a shorter ramp; got {self!r}")
        return tuple(steps), tuple(seen), tuple(sizes)

    def steps_for(self, tokens: float) -> float:
        """Updates (fractional within the last one) until ``tokens`` tokens have been seen."""
        steps, seen, sizes = self._table
        i = bisect.bisect_right(seen, tokens) - 1
        return steps[i] + (tokens - seen[i]) / sizes[i]

    def tokens_after(self, steps: float) -> float:
        """Tokens seen after ``steps`` updates (fractional: part of the next update's batch)."""
        table_steps, seen, sizes = self._table
        i = bisect.bisect_right(table_steps, steps) - 1
        return seen[i] + (steps - table_steps[i]) * sizes[i]

    def tokens_per_step(self, step: int) -> float:
        """The batch of update ``step``."""
        table_steps, _, sizes = self._table
        return sizes[bisect.bisect_right(table_steps, step) - 1]


@dataclass(frozen=True)
class RampedBudget(Budget):
    """A :class:`Budget` whose tokens per step follow a :class:`BatchRamp`: lengths in tokens
    resolve to the update where that many tokens have been seen (fractional within it, as a
    constant batch gives ``tokens / tokens_per_step``). ``tokens_per_step`` is the batch after
    the ramp (set from the ramp when not given). Other units resolve as in :class:`Budget`.

    >>> b = RampedBudget(ramp=BatchRamp.stages((0, 4e6), (252e6, 8e6)))
    >>> b.steps("252M tokens"), b.steps("260M tokens")
    (63, 64)
    """

    ramp: BatchRamp | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.ramp, BatchRamp):
            raise ValueError(f"RampedBudget.ramp must be a BatchRamp; got {self.ramp!r}")
        if self.tokens_per_step is None:
            object.__setattr__(self, "tokens_per_step", self.ramp.final)
        super().__post_init__()

    def steps(self, length: Length, name: str = "length", *, offset: float = 0.0) -> int | float:
        """Number of steps in ``length``; a length in tokens follows the ramp."""
        if isinstance(length, str):
            quantity = parse_length(length, name)
            if quantity.unit == "tokens":
                return _whole(self.ramp.steps_for(quantity.amount))  # type: ignore[union-attr]
        return super().steps(length, name, offset=offset)

    def tokens(self, steps: float) -> float:
        """Tokens processed by ``steps`` updates, through the ramp."""
        return self.ramp.tokens_after(steps)  # type: ignore[union-attr]
