"""Schedules as matplotlib figures: ``lrlab.plot(*schedules)``.

One or more schedules on the same axes, each phase boundary marked with a dotted line, the
peak and the final value annotated, a linear or log LR axis, x in steps, tokens or epochs,
a legend with each schedule's text form (or a label) and a title. The figure is built
without pyplot (``matplotlib.figure.Figure``), so it needs no display and no GUI backend.

A long schedule is sampled, never evaluated at every step: an even grid of ``points``
steps plus the updates on each side of every phase boundary (so drops stay vertical and
peaks are drawn where they are). A 1e12-step schedule costs what a 1e4-step one does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lrlab.inspect import horizon
from lrlab.schedules import Schedule, parse
from lrlab.units import Budget

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["LESSON", "MAX_BOUNDARIES", "lesson_figure", "plot", "sample_steps"]

#: boundaries drawn per schedule at most (an endless SGDR has one per cycle)
MAX_BOUNDARIES = 64
X_UNITS = ("steps", "tokens", "epochs")

#: the five classic schedules of the lessons ("plot all five on the same axes"), one
#: budget of 10,000 steps and one peak LR, each a text form
LESSON = {
    "constant": "constant(0.001)",
    "step": "step(0.001, 0.1, 3000)",
    "cosine": "cosine(0.001, 0.0, 10000)",
    "warmup + cosine": "warmup(500, cosine(0.001, 0.0, 9500))",
    "WSD": "wsd(0.001, 10000, warmup=500)",
}


def sample_steps(schedule: Schedule, start: int, end: int, points: int = 2000) -> np.ndarray:
    """Whole steps in ``[start, end]`` to draw ``schedule`` at: every step when there are
    at most ``points``, else an even grid of ``points`` steps plus, for each phase boundary
    ``b`` in the window (at most :data:`MAX_BOUNDARIES` of them), the updates ``floor(b) - 1``,
    ``floor(b)`` and ``ceil(b)``. At most ``points + 3 * MAX_BOUNDARIES`` steps."""
    if end - start + 1 <= points:
        return np.arange(start, end + 1, dtype=np.float64)
    grid = np.unique(np.round(np.linspace(start, end, points)))
    marks = [b for b in schedule.boundaries()[: MAX_BOUNDARIES * 4] if start <= b <= end][:MAX_BOUNDARIES]
    extra = [m for b in marks for m in (math.floor(b) - 1, math.floor(b), math.ceil(b)) if start <= m <= end]
    return np.unique(np.concatenate([grid, np.asarray(extra, dtype=np.float64)]))


def _as_schedule(item: Any, budget: Budget | None, where: str) -> Schedule:
    if isinstance(item, str):
        item = parse(item)
    if not isinstance(item, Schedule):
        raise ValueError(f"{where} must be an lrlab Schedule or its text form; got {type(item).__name__}")
    if not item.resolved:
        if budget is None:
            name, text = item.unresolved_lengths()[0]
            raise ValueError(f"{where}: {name}={text!r} is not in steps: give budget=lrlab.Budget(...)")
        item = item.resolve(budget)
    return item


def _scale(x: str, budget: Budget | None) -> tuple[float, str]:
    """(x units per step, axis label)."""
    if x not in X_UNITS:
        raise ValueError(f"x must be one of {', '.join(X_UNITS)}; got {x!r}")
    if x == "steps":
        return 1.0, "step"
    field = "tokens_per_step" if x == "tokens" else "steps_per_epoch"
    value = None if budget is None else getattr(budget, field)
    if value is None:
        raise ValueError(f"x={x!r} needs a budget with {field}; got budget={budget!r}")
    return (float(value), "tokens") if x == "tokens" else (1.0 / float(value), "epoch")


def _amount(value: float, _pos: Any = None) -> str:
    """Tick labels: 1.5K, 20M, 260B, 1T."""
    size = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if size >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _short(text: str, most: int = 70) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def plot(*schedules: Schedule | str, labels: Sequence[str] | None = None, title: str | None = None,
         log: bool = False, x: str = "steps", budget: Budget | Sequence[Budget | None] | None = None,
         start: int = 0,
         end: int | None = None, points: int = 2000, boundaries: bool = True, annotate: bool = True,
         ax: Axes | None = None, figsize: tuple[float, float] = (9.0, 5.0)) -> Figure:
    """Draw ``schedules`` (lrlab schedules or text forms) on one axes and return the Figure.

    ``labels`` name them in the legend (default: each one's text form); ``log`` makes the LR
    axis logarithmic; ``x`` is ``'steps'``, ``'tokens'`` or ``'epochs'`` (the last two need a
    ``budget`` with ``tokens_per_step`` or ``steps_per_epoch``, which also resolves lengths
    such as ``'5%'``); ``budget`` is one Budget for all, or a list with one per schedule
    (presets with different batch sizes on one token axis). The window is ``start..end``
    in steps (default: each schedule's :func:`~lrlab.inspect.horizon`, or its budget's
    total); on a token or epoch axis it runs to the furthest schedule's end, the others
    holding their final value up to it. Phase boundaries are dotted
    lines (``boundaries=False``: none); ``annotate`` marks each schedule's peak and final
    value. ``ax``: draw into an existing axes instead of a new figure.
    Save with ``fig.savefig("schedule.png")`` (png, svg or pdf).
    """
    if not schedules:
        raise ValueError("plot needs at least one schedule")
    if labels is not None and len(labels) != len(schedules):
        raise ValueError(f"labels must have one label per schedule ({len(schedules)}); got {len(labels)}")
    if isinstance(points, bool) or not isinstance(points, int) or not 16 <= points <= 1_000_000:
        raise ValueError(f"points must be an int in [16, 1000000]; got {points!r}")
    if budget is None or isinstance(budget, Budget):
        budgets: list[Budget | None] = [budget] * len(schedules)
    elif isinstance(budget, (list, tuple)) and len(budget) == len(schedules):
        budgets = list(budget)
    else:
        raise ValueError(f"budget must be an lrlab.Budget or a list of one per schedule ({len(schedules)}); "
                         f"got {budget!r}")
    items = [_as_schedule(s, b, f"schedules[{i}]") for i, (s, b) in enumerate(zip(schedules, budgets))]
    scales = [_scale(x, b)[0] for b in budgets]
    x_label = _scale(x, budgets[0])[1]
    for name, value in (("start", start), ("end", end)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                  or value < 0):
            raise ValueError(f"{name} must be an int >= 0; got {value!r}")
    ends = []
    for schedule, b in zip(items, budgets):
        last = horizon(schedule) if end is None else int(end)
        if end is None and b is not None and b.total_steps is not None and not isinstance(b.total_steps, str):
            last = max(last, math.ceil(b.steps_total))
        ends.append(last)
    x_end = max(e * k for e, k in zip(ends, scales))
    ends = [max(e, math.ceil(x_end / k - 1e-9)) if end is None else e for e, k in zip(ends, scales)]
    if min(ends) <= start:
        raise ValueError(f"end must be > start; got start={start}, end={min(ends)}")

    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure  # type: ignore[assignment]
    colors = [f"C{i % 10}" for i in range(len(items))]
    for i, (schedule, per_step, last) in enumerate(zip(items, scales, ends)):
        steps = sample_steps(schedule, int(start), last, points)
        values = schedule.values(steps)
        label = labels[i] if labels is not None else _short(str(schedule))
        ax.plot(steps * per_step, values, color=colors[i], label=label, linewidth=1.8)
        if boundaries:
            inner = [mark for mark in schedule.boundaries()[:MAX_BOUNDARIES] if start < mark < last]
            for mark in inner:
                ax.axvline(mark * per_step, color=colors[i], linestyle=":", linewidth=0.8, alpha=0.6)
        if annotate:
            _annotate(ax, schedule, steps, values, per_step, colors[i], last)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0.0)
    ax.set_xlim(start * min(scales), max(e * k for e, k in zip(ends, scales)))
    ax.xaxis.set_major_formatter(FuncFormatter(_amount))
    ax.set_xlabel(x_label)
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    if title is None:
        title = labels[0] if labels is not None and len(items) == 1 else (
            "Learning-rate schedule" if len(items) == 1 else "Learning-rate schedules")
    ax.set_title(title)
    return fig


def _annotate(ax: Axes, schedule: Schedule, steps: np.ndarray, values: np.ndarray, per_step: float,
              color: str, end: int) -> None:
    """A dot and a label at the peak (the first drawn step with the largest LR: the
    samples include every step beside a phase boundary, where peaks are), and a square at
    the final value where the schedule ends inside the window."""
    finite = np.isfinite(values)
    if finite.any():
        i = int(np.argmax(np.where(finite, values, -np.inf)))
        at, peak = float(steps[i]), float(values[i])
        ax.plot([at * per_step], [peak], "o", color=color, markersize=4)
        ax.annotate(f"peak {peak:.3g}", (at * per_step, peak), textcoords="offset points", xytext=(4, 4),
                    fontsize="x-small", color=color)
    length = schedule.length
    if length is not None and length <= end:
        final = schedule.final_value
        ax.plot([length * per_step], [final], "s", color=color, markersize=4)
        ax.annotate(f"final {final:.3g}", (length * per_step, final), textcoords="offset points",
                    xytext=(-4, 6), ha="right", fontsize="x-small", color=color)


def lesson_figure(log: bool = False) -> Figure:
    """The lessons' figure: the five classic schedules of :data:`LESSON` on one axes."""
    return plot(*LESSON.values(), labels=list(LESSON), log=log,
                title="Five classic schedules, one budget (10k steps) and one peak LR")
