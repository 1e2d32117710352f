"""``circle-lesson``: the "Learning Rate Schedules and Warmup" lesson's program, exactly.

The lesson (the seed this project grew from) trains a 2-8-1 network on a circle with plain
Python floats and prints a table of losses per schedule. This task is that program with
the learning rate taken from an lrlab schedule, written in pure Python so that every
floating-point operation happens in the lesson's order and its printed numbers come out
the same:

- data: ``random.seed(42)``, then 200 points, each ``x = uniform(-2, 2)``, ``y = uniform(-2,
  2)``, label 1.0 if ``x*x + y*y < 1.5`` else 0.0;
- network: 2 -> 8 ReLU -> 1 sigmoid (input clamped to [-500, 500]); initialised after
  ``random.seed(seed)`` (the lesson's seed 0) in its order: ``w1`` row by row with
  ``gauss(0, 1)`` (``std = sqrt(2 / 2)``), ``b1 = 0``, ``w2`` with ``gauss(0, 1)``, ``b2 = 0``;
- training: per-sample SGD over the data in its fixed order, the gradient of the squared
  error through the sigmoid as the lesson writes it (``d_out = (out - target) * out * (1 -
  out)``, no factor 2), ``w2[i]`` updated after ``d_h`` has used it;
- loss: per epoch, the mean of ``(out - target)^2`` over the epoch's samples, measured
  during training (each sample before its own update). ``start``/``middle``/``end``/``best``
  are the lesson's ``losses[0]``, ``losses[len // 2]``, ``losses[-1]`` and ``min(losses)``.

The lesson has no seeds; seed ``s`` here initialises with ``random.seed(s)``, so seed 0 is
the lesson's run. A run whose step count is not a whole number of epochs reports its last,
partial epoch as the mean over the samples it saw.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any, ClassVar

from lrlab.schedules import Schedule

from . import _common
from ._common import BuiltinTask, Option, resolve
from .base import Record, RunResult

#: the lesson's five schedules, as lrlab text forms of its own definitions; ``{peak}`` is
#: its ``lr`` and ``{steps}`` its ``total_steps``
LESSON_WARMUP = 3000
LESSON_STEP_SIZE = 15000


def lesson_schedules(peak: float, steps: int) -> dict[str, str]:
    """The lesson's schedules for ``lr = peak`` and ``total_steps = steps``, by label.

    - ``constant``: ``lr``;
    - ``step``: ``lr * 0.1 ** (t // 15000)``;
    - ``cosine``: ``1e-5 + (lr - 1e-5) (1 + cos(pi t / T)) / 2``, then 1e-5;
    - ``warmup_cosine``: ``lr t / 3000`` for ``t < 3000``, then cosine from ``lr`` to 1e-5
      over the remaining ``T - 3000`` steps (a run of at most 3000 steps is all warmup);
    - ``onecycle``: linear from ``lr / 25`` to ``lr`` over ``T // 2`` steps, then linear to
      ``lr / 10000`` over the rest.
    """
    half = max(steps // 2, 1)
    if steps <= LESSON_WARMUP:
        warm = f"linear(0.0, {peak!r}, {LESSON_WARMUP})"
    else:
        warm = f"warmup({LESSON_WARMUP}, cosine({peak!r}, 1e-05, {steps - LESSON_WARMUP}))"
    return {
        "constant": f"constant({peak!r})",
        "step": f"step({peak!r}, 0.1, {LESSON_STEP_SIZE})",
        "cosine": f"cosine({peak!r}, 1e-05, {steps})",
        "warmup_cosine": warm,
        "onecycle": f"join(linear({peak / 25!r}, {peak!r}, {half}), "
                    f"linear({peak!r}, {peak / 10000!r}, {max(steps - half, 1)}))",
    }


def lesson_status(start: float, end: float) -> str:
    """The lesson's status of one run from its first and last epoch loss: DIVERGED if
    ``end > start``, NaN or ``end > 1.0``; BARELY MOVED if ``end > 0.9 start``; CONVERGED
    if ``end < 0.15``; else LEARNING."""
    if math.isnan(end) or end > start or end > 1.0:
        return "DIVERGED"
    if end > start * 0.9:
        return "BARELY MOVED"
    if end < 0.15:
        return "CONVERGED"
    return "LEARNING"


def make_data(n: int = 200, seed: int = 42) -> list[tuple[tuple[float, float], float]]:
    """The lesson's circle data: ``n`` points from ``random.Random(seed)``."""
    rng = random.Random(seed)
    data = []
    for _ in range(n):
        x = rng.uniform(-2, 2)
        y = rng.uniform(-2, 2)
        data.append(((x, y), 1.0 if x * x + y * y < 1.5 else 0.0))
    return data


def _sigmoid(x: float) -> float:
    x = max(-500, min(500, x))
    return 1.0 / (1.0 + math.exp(-x))


class CircleLessonTask(BuiltinTask):
    """The lesson's program as a lab task (pure Python, bit for bit its arithmetic)."""

    name = "circle-lesson"
    description = ("the schedules lesson's own program: 2-8-1 net, 200 circle points, squared error "
                   "(pure Python)")
    default_steps = 300 * 200  # 300 epochs
    default_peak = 0.05
    converged_loss = 0.15
    default_seeds = 1
    digits = 6
    #: sensitivity at the lesson's settings: its grid, 100 epochs
    sensitivity_lrs = (1.0, 0.1, 0.01, 0.001, 0.0001)
    sensitivity_steps = 100 * 200
    status_rule = ("the lesson's rule on the epoch losses: DIVERGED if end > start, NaN or end > 1.0; "
                   "BARELY MOVED if end > 0.9 x start; CONVERGED if end < 0.15; else LEARNING")
    loss_meaning = "training loss (the mean of (out - target)^2 over an epoch, during training)"
    option_specs: ClassVar[Mapping[str, Option]] = {
        "n_points": Option(200, int, "data points (the lesson: 200)", low=1, high=1_000_000),
        "hidden": Option(8, int, "hidden ReLU units (the lesson: 8)", low=1, high=4096),
        "data_seed": Option(42, int, "seed of random for the data (the lesson: 42)", low=0),
    }

    def default_schedules(self, peak: float, steps: int) -> dict[str, str]:
        return lesson_schedules(peak, steps)

    def status(self, start: float, end: float) -> str:
        return lesson_status(start, end)

    def _run(self, schedule: Schedule, *, seed: int, steps: int, options: dict[str, Any]) -> RunResult:
        data = make_data(options["n_points"], options["data_seed"])
        n = len(data)
        hidden = options["hidden"]
        schedule = resolve(schedule, steps, steps_per_epoch=n)

        rng = random.Random(seed)
        std = math.sqrt(2.0 / 2)
        w1 = [[rng.gauss(0, std) for _ in range(2)] for _ in range(hidden)]
        b1 = [0.0] * hidden
        w2 = [rng.gauss(0, std) for _ in range(hidden)]
        b2 = 0.0
        rows: list[Record] = []
        epoch_losses: list[float] = []
        total_loss: float = 0
        seen = 0
        for step in range(steps):
            x, target = data[step % n]
            lr = schedule(step)
            z1 = []
            h = []
            for i in range(hidden):
                z = w1[i][0] * x[0] + w1[i][1] * x[1] + b1[i]
                z1.append(z)
                h.append(z if z > 0.0 else 0.0)
            z2 = sum(w2[i] * h[i] for i in range(hidden)) + b2
            out = _sigmoid(z2)
            error = out - target
            d_out = error * out * (1 - out)
            for i in range(hidden):
                d_h = d_out * w2[i] * (1.0 if z1[i] > 0 else 0.0)
                w2[i] -= lr * d_out * h[i]
                for j in range(2):
                    w1[i][j] -= lr * d_h * x[j]
                b1[i] -= lr * d_h
            b2 -= lr * d_out
            loss = (out - target) ** 2
            total_loss += loss
            seen += 1
            rows.append(Record(step, lr, loss))
            if _common._STEP_REPORTER is not None:
                _common._STEP_REPORTER(step)
            if seen == n or step == steps - 1:
                epoch_losses.append(total_loss / seen)
                total_loss, seen = 0, 0
        info = {
            "task": self.name, "parameters": 2 * hidden + hidden + hidden + 1, "n_points": n,
            "epochs": steps / n, "options": options, "loss_per_epoch": epoch_losses,
            "diverged": any(not math.isfinite(v) for v in epoch_losses),
        }
        return RunResult(tuple(rows), info)


TASK = CircleLessonTask()
