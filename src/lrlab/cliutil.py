"""What every ``lrlab`` command shares: the parser, the error path, the exit statuses, and
reading positions with units ('50%', '375M tokens', '2ep').

Standard library only (plus lrlab.units), so that importing it costs nothing.

Exit statuses: 0 success; :data:`EXIT_USAGE` (2) for a bad command line or unusable input
(printed as ``lrlab: error: <what was expected, what was given>``); :data:`EXIT_RUNS_FAILED`
(3) when a command ran but some of its training runs raised; 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from lrlab.units import Budget, parse_length

EXIT_USAGE = 2
EXIT_RUNS_FAILED = 3
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A mistake in the command line; ``main()`` prints it and exits with status 2."""


class Parser(argparse.ArgumentParser):
    """argparse with lrlab's error path: a parse error raises :class:`CLIError`."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see `{self.prog} --help`)")


def int_arg(low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low`` (and <= ``high``), else a message saying so."""
    if high is not None:
        expected = f"an integer from {low} to {high}"
    else:
        expected = "a positive integer" if low == 1 else f"an integer >= {low}"

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}")
        return value

    return check


def positive_number(text: str) -> float:
    """An argparse type: a positive finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}")
    return value


def fail(message: str, status: int = EXIT_USAGE) -> int:
    """Print ``lrlab: error: message`` on stderr; return ``status``."""
    sys.stderr.write(f"lrlab: error: {message}\n")
    return status


def warn(message: str) -> None:
    """Print ``lrlab: warning: message`` on stderr."""
    sys.stderr.write(f"lrlab: warning: {message}\n")


def no_duplicates(pairs: list[tuple[str, Any]], flag: str) -> dict[str, Any]:
    """``NAME=VALUE`` pairs as a dict; a name given twice is an error, not "last wins"."""
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise CLIError(f"{flag} {name}=... is given twice ({seen[name]!r} and {value!r}): "
                           "give each name once")
        seen[name] = value
    return seen


#: unit of a length -> (Budget field, command-line flag, what it means)
NEEDS = {
    "percent": ("total_steps", "--total-steps", "a percentage of the total steps"),
    "tokens": ("tokens_per_step", "--tokens-per-step", "in tokens"),
    "epochs": ("steps_per_epoch", "--steps-per-epoch", "in epochs"),
}

POSITION_RULE = ("a position with a unit ('50%', '375M tokens', '2ep') is rounded down to a whole "
                 "update: the update under way at that point ('50%' of 101 steps is step 50); "
                 "within 1e-9 of a whole number it is that number")


def to_step(text: str, budget: Budget | None, name: str = "step") -> int:
    """A step from the command line: an integer >= 0, or a position with a unit that the
    budget turns into steps, rounded by :data:`POSITION_RULE`."""
    expected = "an integer >= 0 or a position such as '50%', '375M tokens' or '2ep'"
    word = text.strip()
    try:
        number = float(word.replace("_", ""))
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number) or number < 0 or not number.is_integer():
            raise CLIError(f"{name} must be {expected}; got {text!r}")
        return int(word.replace("_", "")) if word.replace("_", "").lstrip("+").isdigit() else int(number)
    try:
        quantity = parse_length(word, name)
    except ValueError:
        raise CLIError(f"{name} must be {expected}; got {text!r}") from None
    if quantity.unit in NEEDS:
        field, flag, meaning = NEEDS[quantity.unit]
        if budget is None or getattr(budget, field) is None:
            raise CLIError(f"{name} {text!r} is {meaning}: give {flag}")
    try:
        steps = float((budget or Budget()).steps(word, name))
    except ValueError as error:
        raise CLIError(str(error)) from None
    if not math.isfinite(steps) or steps < 0:
        raise CLIError(f"{name} {text!r} is {steps!r} steps: expected a position >= 0")
    nearest = round(steps)
    if abs(steps - nearest) <= 1e-9 * max(1.0, abs(steps)):
        return int(nearest)
    return math.floor(steps)
