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
            return check_length(length, name, allow_zero=True)
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
