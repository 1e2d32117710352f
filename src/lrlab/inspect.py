"""Describe a schedule in a few numbers and words: for tables, summaries and plots.

Small pure functions over a resolved :class:`~lrlab.schedules.Schedule` (numpy and the
standard library only):

* :func:`phase_table` -- ``(step, lr)`` at every phase boundary and at chosen steps;
* :func:`summary` -- peak, warmup, shape, final value and length;
* :func:`describe_shape` -- "linear warmup, cosine decay to 10%", read from the structure;
* :func:`horizon` -- the last step worth looking at (the end, or a window for endless ones).

Steps are optimizer updates, integers ``>= 0``. A boundary may fall between two updates
(a warmup of ``'375M tokens'`` at 524288 tokens per step ends at step 715.26); tables then
show the updates on each side of it, while :func:`summary` reports the peak the formula
reaches there.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from lrlab.schedules import NUMPY, Schedule

__all__ = [
    "Row",
    "Summary",
    "boundary_steps",
    "describe_shape",
    "format_steps",
    "horizon",
    "left_limit",
    "phase_table",
    "summary",
]

#: evaluations at most per search over a long schedule (beyond it: an even grid plus boundaries)
_DENSE_LIMIT = 200_001


class Row(NamedTuple):
    """One line of a :func:`phase_table`: the update ``step`` and its learning rate ``lr``."""

    step: int
    lr: float


@dataclasses.dataclass(frozen=True)
class Summary:
    """What :func:`summary` reports about a schedule.

    ``peak``: the largest LR; ``warmup_steps``: the step where it is first reached (0 if
    the schedule starts at its peak; a fraction when the peak sits on a boundary between
    two updates); ``shape``: a short description; ``final``: the LR held after the end
    (None for an endless schedule); ``length``: steps until the end (None if endless).
    """

    peak: float
    warmup_steps: float
    shape: str
    final: float | None
    length: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the keys ``peak, warmup_steps, shape, final, length``;
        whole step counts are ints."""
        return {
            "peak": self.peak,
            "warmup_steps": _whole(self.warmup_steps),
            "shape": self.shape,
            "final": self.final,
            "length": None if self.length is None else _whole(self.length),
        }


def _whole(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _require_resolved(schedule: Schedule) -> None:
    if not isinstance(schedule, Schedule):
        raise ValueError(f"expected an lrlab Schedule; got {type(schedule).__name__}")
    schedule.check_resolved()


def _evaluate(schedule: Schedule, steps: np.ndarray) -> np.ndarray:
    """The schedule at float ``steps`` (whole or not), with the numpy formulas."""
    t = np.asarray(steps, dtype=np.float64)
    with np.errstate(all="ignore"):
        out = schedule.evaluate(t, NUMPY)
    return np.array(np.broadcast_to(np.asarray(out, dtype=np.float64), t.shape))


def _check_steps(steps: Iterable[int]) -> list[int]:
    out = []
    for step in steps:
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"steps must be integers >= 0; got {step!r}")
        out.append(int(step))
    return out


def format_steps(steps: float) -> str:
    """A step count for people: ``19073`` for a whole number, else with the decimals that
    show it falls between two updates (``715.26``, ``100.001``)."""
    if float(steps).is_integer():
        return str(int(steps))
    for digits in (2, 4, 6, 9):
        text = f"{steps:.{digits}f}".rstrip("0")
        if not float(text).is_integer():
            return text
    return repr(float(steps))


def boundary_steps(schedule: Schedule) -> dict[int, str]:
    """The updates at each phase boundary, each with a note saying what it is.

    A boundary at a whole step ``b`` gives ``b`` (noted ``start``, ``end`` or ``phase``),
    and ``b - 1`` too ("before b") where the schedule jumps at ``b``; one between two
    updates, such as 715.26, gives ``715`` ("before 715.26") and ``716`` ("after 715.26").
    """
    _require_resolved(schedule)
    length = schedule.length
    notes: dict[int, list[str]] = {}
    for b in schedule.boundaries():
        if float(b).is_integer():
            step = int(b)
            if step > 0 and schedule.left_limit(b) != schedule(step):
                notes.setdefault(step - 1, []).append(f"before {step}")
            if step == 0:
                note = "start"
            elif length is not None and float(length) == b:
                note = "end"
            else:
                note = "phase"
            notes.setdefault(step, []).append(note)
        else:
            text = format_steps(b)
            end = " (end)" if length is not None and float(length) == b else ""
            notes.setdefault(math.floor(b), []).append(f"before {text}{end}")
            notes.setdefault(math.ceil(b), []).append(f"after {text}{end}")
    return {step: ", ".join(dict.fromkeys(n)) for step, n in sorted(notes.items())}


def phase_table(schedule: Schedule, extra_steps: Iterable[int] = ()) -> list[Row]:
    """``(step, lr)`` rows, ascending and without repeats, at every phase boundary of
    ``schedule`` and at ``extra_steps``.

    Boundaries come from ``schedule.boundaries()`` (see :func:`boundary_steps`): one that
    falls between two updates (715.26) contributes the updates on each side (715 and 716),
    since a schedule is evaluated at whole steps only; at a jump (a multistep drop) the
    update before it is listed too. ``lr`` is ``schedule(step)`` exactly.

    >>> from lrlab import parse
    >>> phase_table(parse("warmup(10, cosine(1.0, 0.0, 90))"), [55])
    [Row(step=0, lr=0.0), Row(step=10, lr=1.0), Row(step=55, lr=0.5), Row(step=100, lr=0.0)]
    """
    _require_resolved(schedule)
    steps = sorted(set(boundary_steps(schedule)) | set(_check_steps(extra_steps)))
    return [Row(step, schedule(step)) for step in steps]


# --- the window to look at ------------------------------------------------------------------


def horizon(schedule: Schedule) -> int:
    """The last step worth looking at: the end (rounded up) for a schedule that ends.

    An endless schedule (inverse square root, exponential, cyclic, SGDR without a cycle
    count) has no end; its window runs past its last boundary by the larger of that
    boundary and four times its longest time scale (timescale, period, ``every``, cycle,
untuned warmup),
    at least 1000 steps in all: two cycles of a cyclic schedule, a sixteenth of the LR for
    an exponential with a half-life.
    """
    _require_resolved(schedule)
    length = schedule.length
    if length is not None:
        return max(1, math.ceil(length))
    last = max(schedule.boundaries(), default=0.0)
    scales = schedule.time_scales()
    span = max(last, 4.0 * max(scales, default=0.0))
    return max(1000, math.ceil(last + span))


def _search_steps(schedule: Schedule, end: int) -> np.ndarray:
    """Float steps where the maximum of the schedule over ``[0, end]`` can be found: every
    whole step when there are few, else an even grid plus each boundary and its two
    neighbouring updates; fractional boundaries are included as they are."""
    marks = [b for b in schedule.boundaries() if b <= end]
    extra = [m for b in marks for m in (b, math.floor(b), math.ceil(b)) if m <= end]
    if end + 1 <= _DENSE_LIMIT:
        grid = np.arange(end + 1, dtype=np.float64)
    else:
        grid = np.round(np.linspace(0, end, _DENSE_LIMIT))
    merged = np.sort(np.concatenate([grid, np.asarray(extra, dtype=np.float64)]))
    return merged[np.concatenate(([True], merged[1:] != merged[:-1]))]


def left_limit(schedule: Schedule, step: float) -> float:
    """The value ``schedule`` approaches just before ``step``: ``lim s(t)`` for ``t -> step-``
    (:meth:`Schedule.left_limit`): at a multistep milestone, the level before the drop; where a
    warmup to 1e-4 meets a decay starting at 9.9e-5 (BERT's step 10000), 1e-4."""
    _require_resolved(schedule)
    return schedule.left_limit(step)


#: evaluations per round when narrowing down where a long gap first reaches the peak
_REFINE = 1024


def _peak(schedule: Schedule, end: int) -> tuple[float, float]:
    """(peak, first step that reaches it) over ``[0, end]``; the peak may be a value the
    schedule approaches at a boundary (its left limit there) without any update taking it.
    Bounded work: at most ``_DENSE_LIMIT`` evaluations for the grid and a few rounds of
    ``_REFINE`` to find the first step of the peak in a long gap."""
    t = _search_steps(schedule, end)
    v = _evaluate(schedule, t)
    marks = np.array([b for b in schedule.boundaries() if 0 < b <= end], dtype=np.float64)
    if marks.size:
        limits = np.array([schedule.left_limit(float(b)) for b in marks])
        order = np.argsort(np.concatenate([t, marks]), kind="stable")
        t = np.concatenate([t, marks])[order]
        v = np.concatenate([v, limits])[order]
    finite = np.isfinite(v)
    if not finite.any():
        raise ValueError(f"{schedule} has no finite value in steps 0..{end}")
    peak = float(np.max(v[finite]))
    first = int(np.argmax(v == peak))
    found = float(t[first])
    if first > 0:
        # the grid may be coarse: narrow down to the first whole step in the gap that
        # reaches the peak, a bounded grid at a time
        lo, hi = float(t[first - 1]), found
        while hi - lo > 1:
            between = np.unique(np.round(np.linspace(math.floor(lo) + 1, math.ceil(hi) - 1,
                                                     min(_REFINE, int(hi - lo)))))
            between = between[(between > lo) & (between < hi)]
            if not between.size:
                break
            hits = np.flatnonzero(_evaluate(schedule, between) == peak)
            if not hits.size:
                break
            k = int(hits[0])
            found = float(between[k])
            lo, hi = (float(between[k - 1]) if k > 0 else lo), found
    return peak, found


# --- shape in words ---------------------------------------------------------------------------


def describe_shape(schedule: Schedule) -> str:
    """A short description of the schedule's parts, read from its structure.

    Walks the composition (warmup, join, WSD, 1cycle, ...) and names each part by its
    family and shape, e.g. ``"linear warmup, cosine decay to 10%"`` or
    ``"linear warmup, stable, 1-sqrt cooldown to 0"``. Works on unresolved schedules too.
    """
    if not isinstance(schedule, Schedule):
        raise ValueError(f"expected an lrlab Schedule; got {type(schedule).__name__}")
    return schedule.description(True)


def summary(schedule: Schedule) -> Summary:
    """Peak LR, warmup steps, shape, final LR and length of a resolved schedule.

    The peak is the largest value over the schedule's :func:`horizon`, found at every
    update (or, past 200k updates, on an even grid plus every boundary), and at each
    boundary itself, from both sides (:func:`left_limit`): a warmup ending at step 715.26
    reports the peak it reaches there, and BERT's warmup to 1e-4, which meets a decay
    starting at 9.9e-5 at step 10000, reports 1e-4 at 10000 although no update takes
    exactly that LR. ``warmup_steps`` is the first step (or boundary) with that value
    (0 if the schedule starts at its peak). ``final`` is the value held after the end,
    None for an endless schedule.
    """
    _require_resolved(schedule)
    end = horizon(schedule)
    peak, first = _peak(schedule, end)
    length = schedule.length
    final = None if length is None else float(schedule.final_value)
    return Summary(
        peak=peak,
        warmup_steps=first,
        shape=describe_shape(schedule),
        final=final,
        length=None if length is None else float(length),
    )
