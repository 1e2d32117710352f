"""What the built-in tasks share: option checking, the run arguments, the history with its
divergence rule, and the evaluation cadence.

Conventions every built-in task follows (see ``docs/tasks.md``):

- Row ``t`` is update ``t``: ``lr`` is the LR that update used (exactly ``schedule(t)``) and
  ``loss`` the training loss it computed, on the parameters *before* the update.
- Evaluation happens after every ``eval_every`` updates (rows ``t`` with
  ``(t + 1) % eval_every == 0``) and after the last update; its ``val_loss``/``accuracy``
  belong to the parameters *after* update ``t``.
- A run stops early, keeping the row that showed it, when the training loss is NaN or
  infinite, or exceeds :data:`EXPLODE_FACTOR` times the loss of update 0. The result's
  ``info["diverged"]`` is then True and ``info["stop_reason"]`` says why.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from lrlab.schedules import Schedule, check_schedule
from lrlab.units import Budget

from .base import Record, RunResult

#: a training loss above this many times the loss of update 0 counts as divergence (a
#: cross-entropy that high means confident wrong answers; 1e3 let runs at LR 10 on charlm,
#: stuck at 100-650x, burn their whole budget)
EXPLODE_FACTOR = 100.0


@dataclass(frozen=True)
class Option:
    """One tunable option of a task: its default and what values it accepts.

    ``kind`` is ``int``, ``float``, ``str`` or ``bool``; numbers must lie in
    ``[low, high]``; strings must be one of ``choices``.
    """

    default: Any
    kind: type
    help: str
    low: float | None = None
    high: float | None = None
    choices: Sequence[str] = ()

    def describe(self) -> str:
        if self.choices:
            return " | ".join(repr(c) for c in self.choices)
        if self.kind in (int, float):
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            return f"{self.kind.__name__} in [{lo}, {hi}]"
        return self.kind.__name__

    def check(self, task: str, name: str, value: Any) -> Any:
        def bad(why: str) -> ValueError:
            return ValueError(f"task {task!r}: option {name}={value!r} {why} "
                              f"(expected {self.describe()})")

        if self.kind is bool:
            if not isinstance(value, bool):
                raise bad("is not a bool")
            return value
        if self.kind is str:
            if not isinstance(value, str):
                raise bad("is not a string")
            if self.choices and value not in self.choices:
                raise bad("is not allowed")
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise bad("is not a number")
        if self.kind is int:
            if isinstance(value, numbers.Integral):
                value = int(value)
            elif float(value).is_integer():  # 64.0 from JSON is fine, 64.5 is not
                value = int(float(value))
            else:
                raise bad("is not a whole number")
        else:
            value = float(value)
            if not math.isfinite(value):
                raise bad("is not finite")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise bad("is out of range")
        return value


def check_options(task: str, specs: Mapping[str, Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults of ``specs`` updated with ``given``, each value checked."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise ValueError(f"task {task!r} has no option {', '.join(map(repr, unknown))}; "
                         f"its options are: {', '.join(specs)}")
    values = {name: spec.default for name, spec in specs.items()}
    for name, value in given.items():
        values[name] = specs[name].check(task, name, value)
    return values


def check_run(task: str, schedule: object, seed: object, steps: object) -> tuple[int, int]:
    check_schedule(schedule, "schedule")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"task {task!r}: seed must be an int >= 0; got {seed!r}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"task {task!r}: steps must be an int >= 1; got {steps!r}")
    return int(seed), int(steps)


def resolve(schedule: Schedule, steps: int, *, tokens_per_step: float | None = None,
            steps_per_epoch: float | None = None) -> Schedule:
    """``schedule`` with unit lengths ('5%', '2ep', '1M tokens') turned into this run's steps."""
    if schedule.resolved:
        return schedule
    return schedule.resolve(Budget(steps, tokens_per_step=tokens_per_step, steps_per_epoch=steps_per_epoch))


@contextlib.contextmanager
def torch_session(seed: int) -> Iterator[None]:
    """One thread and ``torch.manual_seed(seed)`` for the body, then the caller's thread count
    and global RNG state back (a run in the caller's own process leaves no trace)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)


def is_eval_step(t: int, steps: int, eval_every: int) -> bool:
    """Evaluate after update ``t``: every ``eval_every`` updates and after the last one."""
    return (t + 1) % eval_every == 0 or t == steps - 1


#: called with the update number while a run is under way (set by the lab for its progress
#: lines; None outside the lab)
_STEP_REPORTER: Callable[[int], None] | None = None


def report_step(step: int) -> None:
    """Tell the lab that update ``step`` is under way (cheap when nobody listens). Built-in
    tasks call it through :class:`History`; a user task may call it too."""
    if _STEP_REPORTER is not None:
        _STEP_REPORTER(step)


@contextlib.contextmanager
def step_reporter(callback: Callable[[int], None] | None) -> Iterator[None]:
    """Route :func:`report_step` to ``callback`` for the body."""
    global _STEP_REPORTER
    previous, _STEP_REPORTER = _STEP_REPORTER, callback
    try:
        yield
    finally:
        _STEP_REPORTER = previous


class History:
    """Collects one row per update and applies the divergence rule."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.initial: float | None = None
        self.stop_reason: str | None = None
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def add(self, step: int, lr: float, loss: float) -> bool:
        """Record update ``step``; True if the run must stop here (the loss diverged)."""
        loss = float(loss)
        self.rows.append({"step": step, "lr": float(lr), "loss": loss})
        if _STEP_REPORTER is not None:
            _STEP_REPORTER(step)
        if not math.isfinite(loss):
            self.stop_reason = f"training loss became {loss} at step {step}"
        elif self.initial is None:
            self.initial = loss
        elif loss > EXPLODE_FACTOR * max(self.initial, 1e-12):
            self.stop_reason = (f"training loss {loss:.4g} at step {step} exceeded {EXPLODE_FACTOR:g} "
                                f"times the initial loss {self.initial:.4g}")
        return self.stop_reason is not None

    def evaluated(self, val_loss: float, accuracy: float | None = None) -> None:
        """Attach evaluation results to the last recorded row."""
        self.rows[-1]["val_loss"] = float(val_loss)
        if accuracy is not None:
            self.rows[-1]["accuracy"] = float(accuracy)

    @property
    def wall_s(self) -> float:
        return time.perf_counter() - self.start

    def result(self, info: Mapping[str, Any]) -> RunResult:
        history = tuple(Record(**row) for row in self.rows)
        facts = dict(info)
        facts.update(steps_done=len(history), diverged=self.stop_reason is not None,
                     stop_reason=self.stop_reason, wall_s=round(self.wall_s, 4),
                     cpu_s=round(time.process_time() - self.cpu_start, 4))
        return RunResult(history, facts)


class BuiltinTask:
    """A task defined by a table of :class:`Option` and a ``_run`` method.

    ``run`` checks the arguments and the options, then calls
    ``self._run(schedule, seed=seed, steps=steps, options=values)``.
    """

    name: str = ""
    description: str = ""
    default_steps: int = 1000
    default_peak: float = 1e-3
    converged_loss: float = 0.0
    option_specs: ClassVar[Mapping[str, Option]] = {}

    @property
    def options(self) -> dict[str, Any]:
        """Option names with their defaults."""
        return {name: spec.default for name, spec in self.option_specs.items()}

    def option_help(self) -> dict[str, str]:
        """Option names with a line of help each (what it is and what values it accepts)."""
        return {name: f"{spec.help} (default {spec.default!r}; {spec.describe()})"
                for name, spec in self.option_specs.items()}

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return check_options(self.name, self.option_specs, options)

    def run(self, schedule: Schedule, *, seed: int, steps: int, **options: Any) -> RunResult:
        seed, steps = check_run(self.name, schedule, seed, steps)
        values = self.check_options(options)
        return self._run(schedule, seed=seed, steps=steps, options=values)

    def _run(self, schedule: Schedule, *, seed: int, steps: int, options: dict[str, Any]) -> RunResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<lrlab task {self.name!r}: {self.description}>"
