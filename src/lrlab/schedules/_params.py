"""Parameter declarations: each family's fields say what they accept, once.

A family is a frozen dataclass whose fields are declared with these helpers::

    peak: float = lr()
    steps: Length = length()
    shape: str = choice(SHAPES, default="cosine", aliases=SHAPE_ALIASES)

:meth:`Schedule.__post_init__` runs every field's check, in order, and stores the
canonical value: numbers of any kind (numpy scalars, ``Fraction``, ``Decimal``) become
``float``; a length that is a whole number becomes an ``int`` (so ``cosine(1.0, 0.0, 100)``
and ``cosine(1.0, 0.0, 100.0)`` are one value, with one text form); lists become tuples.
A rejected value raises ``ValueError`` naming ``family.parameter``, what was expected and
what was given.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lrlab.units import check_length

Check = Callable[[Any, str], Any]

#: metadata key of a field's check, and of its kind ("length", "lengths", "schedule", ...)
CHECK, KIND = "lrlab_check", "lrlab_kind"


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number; got {value!r} ({type(value).__name__})")
    try:
        return float(value)
    except (OverflowError, ValueError):
        raise ValueError(f"{name} must be a finite number; got {value!r}") from None


def check_lr(value: object, name: str, *, positive: bool = False) -> float:
    """A learning rate (or LR-like value): finite, >= 0 (> 0 if ``positive``)."""
    number = _number(value, name)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        need = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a {need} finite number; got {value!r}")
    return number


def check_number(value: object, name: str, *, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in the given range, else a ValueError naming ``name``."""
    number = _number(value, name)
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if not math.isfinite(number) or below or above:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be a finite number in {lo}{low:g}, {high:g}{hi}; got {value!r}")
    return number


def check_choice(value: object, name: str, choices: Iterable[str],
                 aliases: Mapping[str, str] | None = None) -> str:
    """One of ``choices`` (an alias is stored under its canonical name)."""
    choices = tuple(choices)
    if isinstance(value, str) and aliases:
        value = aliases.get(value, value)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def canonical_length(value: object, name: str, *, allow_zero: bool = False) -> int | float | str:
    """A length: steps (an ``int`` when whole) or a unit string such as ``'5%'``."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, int, float)):
        value = _number(value, name)  # numpy scalars, Fraction, Decimal
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, int)):
        value = int(value)
    length = check_length(value, name, allow_zero=allow_zero)
    if isinstance(length, float) and length.is_integer():
        return int(length)
    if isinstance(length, int) and length > 2**53:
        return float(length) if float(length).is_integer() else length
    return length


def check_sequence(value: object, name: str, *, allow_empty: bool = False) -> tuple[Any, ...]:
    """A list (any iterable but a string or a mapping) as a tuple; empty only if allowed."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise ValueError(f"{name} must be a list; got {value!r}")
    items = tuple(value)
    if not items and not allow_empty:
        raise ValueError(f"{name} must be a non-empty list; got {list(items)!r}")
    return items


def check_flag(value: object, name: str) -> bool:
    """True or false (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false; got {value!r}")
    return value


def check_count(value: object, name: str, *, low: int = 1) -> int:
    """A whole number >= ``low`` (a whole float such as ``3.0`` is accepted as 3)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    return int(value)


def check_step(step: object) -> int:
    """An update index: an int >= 0 (numpy integers accepted), else a clear error."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"step must be an int >= 0; got {step!r} ({type(step).__name__})")
    step = int(step)
    if step < 0:
        raise ValueError(f"step must be an int >= 0; got {step}")
    return step



# --- field declarations ------------------------------------------------------------------------


def field(check: Check, kind: str, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose value ``check(value, 'family.name')`` validates and
    normalizes when the schedule is built; ``kind`` says what it holds ("length" fields are
    resolved by a Budget, "schedule" fields are nested schedules)."""
    return dataclasses.field(default=default, metadata={CHECK: check, KIND: kind})


def _optional(check: Check) -> Check:
    return lambda value, name: None if value is None else check(value, name)


def lr(*, default: Any = dataclasses.MISSING, positive: bool = False, optional: bool = False) -> Any:
    """A learning rate (finite, >= 0; > 0 if ``positive``)."""
    def check(value: Any, name: str) -> float:
        return check_lr(value, name, positive=positive)

    return field(_optional(check) if optional else check, "number", default)


def number(*, default: Any = dataclasses.MISSING, low: float = -math.inf, high: float = math.inf,
           low_open: bool = False, high_open: bool = False, optional: bool = False) -> Any:
    """A finite number in a range."""
    def check(value: Any, name: str) -> float:
        return check_number(value, name, low=low, high=high, low_open=low_open, high_open=high_open)

    return field(_optional(check) if optional else check, "number", default)


def length(*, default: Any = dataclasses.MISSING, allow_zero: bool = False, optional: bool = False) -> Any:
    """A length: steps, or a unit string ('5%', '375M tokens', '2ep') resolved by a Budget."""
    def check(value: Any, name: str) -> int | float | str:
        return canonical_length(value, name, allow_zero=allow_zero)

    return field(_optional(check) if optional else check, "length", default)


def lengths(*, allow_zero: bool = False) -> Any:
    """A non-empty list of lengths."""
    def check(value: Any, name: str) -> tuple[int | float | str, ...]:
        return tuple(canonical_length(v, name, allow_zero=allow_zero) for v in check_sequence(value, name))

    return field(check, "length")


def lrs(*, optional: bool = False, default: Any = dataclasses.MISSING) -> Any:
    """A non-empty list of learning rates (or factors)."""
    def check(value: Any, name: str) -> tuple[float, ...]:
        return tuple(check_lr(v, name) for v in check_sequence(value, name))

    return field(_optional(check) if optional else check, "number", default)


def choice(choices: Iterable[str], *, default: Any = dataclasses.MISSING,
           aliases: Mapping[str, str] | None = None) -> Any:
    """One of a few names."""
    options = tuple(choices)

    def check(value: Any, name: str) -> str:
        return check_choice(value, name, options, aliases)

    return field(check, "choice", default)


def flag(*, default: bool = False) -> Any:
    """True or false."""
    return field(check_flag, "flag", default)


def count(*, default: Any = dataclasses.MISSING, low: int = 1, optional: bool = False) -> Any:
    """A whole number >= ``low``."""
    def check(value: Any, name: str) -> int:
        return check_count(value, name, low=low)

    return field(_optional(check) if optional else check, "count", default)


def cached() -> Any:
    """An attribute computed once from the parameters (not a parameter: not compared,
    printed or passed to the constructor)."""
    return dataclasses.field(init=False, repr=False, compare=False, default=None)
