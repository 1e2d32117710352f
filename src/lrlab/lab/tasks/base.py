"""The task protocol: a training function the lab can run under any schedule.

A task trains a model for ``steps`` optimizer updates, using ``schedule(t)`` as the learning
rate of update ``t``, deterministically for a ``seed``, and returns its history. Built-in
tasks live beside this file; a user's task is any ``module:function`` with the signature of
:meth:`Task.run` (or a Task object).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from lrlab.schedules import Schedule

#: per-step metric names a history row may hold besides ``step`` and ``lr``
METRICS = ("loss", "val_loss", "accuracy")


@dataclass(frozen=True)
class Record:
    """One row of a run's history: the update ``step``, the LR it used, and metrics.

    ``loss`` is the training loss of that update; ``val_loss``/``accuracy`` are set on the
    rows where the task evaluated (None elsewhere).
    """

    step: int
    lr: float
    loss: float
    val_loss: float | None = None
    accuracy: float | None = None


@dataclass(frozen=True)
class RunResult:
    """What a task returns: its history and facts about the run (e.g. tokens/second)."""

    history: tuple[Record, ...]
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        """True if the training loss became NaN or infinite, or the task stopped the run for
        an exploding loss (``info["diverged"]``)."""
        return bool(self.info.get("diverged")) or any(not math.isfinite(r.loss) for r in self.history)


@runtime_checkable
class Task(Protocol):
    """A built-in or user task.

    ``name``: registry name. ``default_steps``/``default_peak``: the budget and peak LR the
    lab uses when none is given. ``converged_loss``: the training loss below which a run
    counts as CONVERGED in the sensitivity test. ``options``: the task's tunable sizes with
    their defaults (e.g. ``{"n_layer": 2}``); ``run`` accepts them as keyword arguments.
    """

    name: str
    description: str
    default_steps: int
    default_peak: float
    converged_loss: float

    @property
    def options(self) -> Mapping[str, Any]: ...

    def run(self, schedule: Schedule, *, seed: int, steps: int, **options: Any) -> RunResult: ...
