"""Array namespaces the schedule formulas are written against.

Every formula in lrlab is written once, as a function of ``(t, xp)`` where ``xp`` is one of
these namespaces. The numpy namespace serves ``schedule.values(steps)``; the scalar path,
``schedule(step)``, runs the same formula through :mod:`._plan`, which traces it once into
plain Python; ``lrlab.torch`` and ``lrlab.jax`` provide namespaces with the same members,
so a torch tensor or a jax tracer runs the very same definition.

Members every namespace has:

* ``pi, cos, sqrt, exp, log, power, floor, where, minimum, maximum``: elementwise math.
  ``minimum``/``maximum`` take an array and a Python float; ``power(a, b)`` needs ``a > 0``.
* ``search(edges, t)``: how many of the ascending ``edges`` are ``<= t`` (``bisect_right``),
  an integer array; the index of the piece that ``t`` falls in.
* ``take(table, i)``: ``table[i]`` elementwise, for a tuple of Python floats.
* ``switch(i, schedules, t, offsets)``: ``schedules[i](t - offsets[i])`` elementwise: the
  piece a join selects. numpy evaluates each schedule only on its own elements; the scalar
  plan evaluates the one selected; torch and jax (whose shapes must not depend on the data)
  select with ``where``.
* ``interp(t, xs, ys)``: linear interpolation through the points, holding the end values
  outside, by numpy's ``interp`` arithmetic (:func:`interp_formula`): numpy runs
  ``np.interp`` itself, the other namespaces the formula.

numpy's own ``power`` rounds differently for a Python scalar, a short array and a long one
(its SIMD lanes and its scalar tail use different algorithms), so ``power`` here is
``exp(b * log(a))``, whose numpy loops give the same bits wherever a value sits: this is
what makes ``s.values(steps)[i] == s(steps[i])`` hold exactly. Its relative error,
``~|b log a|`` ulps, stays far inside the 1e-12 the peers are checked at.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

_EXP_MAX = float(np.log(np.finfo(np.float64).max))


def _numpy_power(base: Any, exponent: Any) -> Any:
    return np.exp(np.log(base) * exponent)


_ARRAYS: dict[int, tuple[Sequence[float], np.ndarray]] = {}


def _array(table: Sequence[float]) -> np.ndarray:
    """``table`` as a float64 array, converted once (tables are tuples held by schedules;
    the tuple is kept with its array, so its id cannot be reused while cached)."""
    hit = _ARRAYS.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1]
    array = np.asarray(table, dtype=np.float64)
    if len(_ARRAYS) >= 256:
        _ARRAYS.clear()
    _ARRAYS[id(table)] = (table, array)
    return array


def _numpy_search(edges: Sequence[float], t: Any) -> Any:
    edges_array = _array(edges)
    t = np.asarray(t)
    if t.ndim == 1 and t.size > 1 and edges_array.size > 8 and bool(np.all(t[1:] >= t[:-1])):
        # ascending steps (values(n)): place the edges among the steps instead, one pass
        first = np.searchsorted(t, edges_array, side="left")  # first step at or past each edge
        return np.cumsum(np.bincount(first, minlength=t.size + 1)[:t.size])
    return np.searchsorted(edges_array, t, side="right")


def _numpy_take(table: Sequence[float], index: Any) -> Any:
    return _array(table).take(index)


#: a switch over more pieces than this evaluates pieces of one kind together (Schedule.batch)
BATCH_PIECES = 16
_BATCHES: dict[int, tuple[Sequence[Any], Any]] = {}


def batched(schedules: Sequence[Any]) -> Any:
    """One evaluator ``(i, t, xp)`` for all ``schedules`` if there are many, all of one kind
    (``Schedule.batch_key``), else None; made once per tuple of schedules."""
    if len(schedules) <= BATCH_PIECES:
        return None
    hit = _BATCHES.get(id(schedules))
    if hit is not None and hit[0] is schedules:
        return hit[1]
    key = schedules[0].batch_key()
    same = key is not None and all(s.batch_key() == key for s in schedules)
    evaluator = type(schedules[0]).batch(schedules) if same else None
    if len(_BATCHES) >= 64:
        _BATCHES.clear()
    _BATCHES[id(schedules)] = (schedules, evaluator)
    return evaluator


def _numpy_switch(index: Any, schedules: Sequence[Any], t: Any, offsets: Sequence[float]) -> Any:
    """``schedules[i](t - offsets[i])``, each schedule evaluated on its own elements only
    (in contiguous runs when ``index`` is sorted); many pieces of one kind (a long join of
    phases) at once, with their parameters gathered per element."""
    if len(schedules) == 1:
        return schedules[0]._eval(t - offsets[0], NumpyBackend)
    evaluator = batched(schedules)
    if evaluator is not None:
        return evaluator(index, t - _array(offsets).take(index), NumpyBackend)
    index, t = np.broadcast_arrays(np.asarray(index), np.asarray(t, dtype=np.float64))
    out = np.empty(t.shape)
    flat_i, flat_t, flat_out = index.reshape(-1), t.reshape(-1), out.reshape(-1)
    if flat_i.size == 0:
        return out
    steps = np.diff(flat_i)
    if np.all(steps >= 0):  # sorted: one contiguous run per schedule present
        cuts = [0, *(np.flatnonzero(steps) + 1).tolist(), flat_i.size]
        for lo, hi in itertools.pairwise(cuts):
            k = int(flat_i[lo])
            piece = flat_t[lo:hi] - offsets[k]
            flat_out[lo:hi] = np.broadcast_to(schedules[k]._eval(piece, NumpyBackend), piece.shape)
    else:
        for k in np.unique(flat_i).tolist():
            mask = flat_i == k
            piece = flat_t[mask] - offsets[k]
            flat_out[mask] = np.broadcast_to(schedules[k]._eval(piece, NumpyBackend), piece.shape)
    return out


def interp_formula(t: Any, xs: Sequence[float], ys: Sequence[float], xp: Any) -> Any:
    """Linear interpolation through ``(xs[j], ys[j])`` (``xs`` ascending), ``ys[0]`` before the
    first point and ``ys[-1]`` from the last on: for ``xs[j] <= t < xs[j+1]``,
    ``ys[j]`` if ``t == xs[j]``, else ``slope_j * (t - xs[j]) + ys[j]`` with
    ``slope_j = (ys[j+1] - ys[j]) / (xs[j+1] - xs[j])``: the arithmetic of numpy's ``interp``
    (``arr_interp`` in numpy's ``compiled_base.c``), step for step, so every namespace gives
    its bits."""
    n = len(xs)
    if n == 1:
        return 0.0 * t + ys[0]
    i = xp.search(xs, t)  # points at or before t
    j = xp.minimum(xp.maximum(i - 1, 0), n - 2)  # the segment's first point (clipped)
    x0, x1, y0, y1 = xp.take(xs, j), xp.take(xs, j + 1), xp.take(ys, j), xp.take(ys, j + 1)
    inside = xp.where(t == x0, y0, (y1 - y0) / (x1 - x0) * (t - x0) + y0)
    return xp.where(i == 0, ys[0], xp.where(i >= n, ys[-1], inside))


def _numpy_interp(t: Any, xs: Sequence[float], ys: Sequence[float]) -> Any:
    return np.interp(t, _array(xs), _array(ys))


class NumpyBackend:
    """numpy float64: the reference implementation of every formula."""

    name = "numpy"
    pi = math.pi
    cos = staticmethod(np.cos)
    sqrt = staticmethod(np.sqrt)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    power = staticmethod(_numpy_power)
    floor = staticmethod(np.floor)
    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    search = staticmethod(_numpy_search)
    take = staticmethod(_numpy_take)
    switch = staticmethod(_numpy_switch)
    interp = staticmethod(_numpy_interp)


def where_switch(xp: Any, index: Any, schedules: Sequence[Any], t: Any, offsets: Sequence[float]) -> Any:
    """``switch`` for namespaces whose shapes cannot depend on the data (torch, jax): every
    schedule is evaluated (at a local time clipped to >= 0, so the pieces not selected stay
    finite) and ``where`` picks; used by ``lrlab.torch`` and ``lrlab.jax``."""
    evaluator = batched(schedules)
    if evaluator is not None:
        return evaluator(index, xp.maximum(t - xp.take(offsets, index), 0.0), xp)
    last = len(schedules) - 1
    out = schedules[last]._eval(xp.maximum(t - offsets[last], 0.0), xp)
    for k in range(last - 1, -1, -1):
        out = xp.where(index == k, schedules[k]._eval(xp.maximum(t - offsets[k], 0.0), xp), out)
    return out


def _same_as_numpy(scalar_fn: Any, numpy_fn: Any, sample: np.ndarray) -> bool:
    expected = numpy_fn(sample)
    return all(scalar_fn(v) == e for v, e in zip(sample.tolist(), expected.tolist()))


def scalar_exp(x: float) -> float:
    """numpy's ``exp`` of one float, as a Python float (numpy's bits, not libm's)."""
    return float(np.exp(x))


def scalar_log(x: float) -> float:
    """numpy's ``log`` of one float, as a Python float."""
    return float(np.log(x))


def scalar_power(base: float, exponent: float) -> float:
    """``_numpy_power`` for one value (the same bits), ``inf`` past float64's range without
    numpy's overflow warning."""
    y = float(np.log(base)) * exponent
    return math.inf if y > _EXP_MAX else float(np.exp(y))


_WHOLE = 2.0**52  # from here on every float64 is a whole number


def scalar_floor(x: float) -> float:
    """``floor`` as a float (a float beyond 2^52 is already whole, and is returned as is)."""
    return float(math.floor(x)) if -_WHOLE < x < _WHOLE else x


def scalar_floor_left(x: float) -> float:
    """``floor`` approached from the left: ``ceil(x) - 1`` (so ``n - 1`` at a whole ``n``)."""
    return float(math.ceil(x)) - 1.0 if -_WHOLE < x < _WHOLE else x


class ScalarBackend:
    """Python floats, bit-for-bit equal to :class:`NumpyBackend`: the functions the scalar
    plan (:mod:`._plan`) calls, and a direct namespace for values computed once (a cycle's
    start for ``boundaries()``).

    ``math.cos`` and ``math.sqrt`` are several times faster than numpy's scalar ufuncs; they
    are used only where they give the same bits as numpy on this platform (checked once, at
    import, on 4096 points of the range the schedules use). ``exp`` and ``log`` (and so
    ``power``) always go through numpy's ufuncs, whose SIMD loops round differently from
    libm.
    """

    name = "scalar"
    pi = math.pi
    exp = staticmethod(scalar_exp)
    log = staticmethod(scalar_log)
    power = staticmethod(scalar_power)
    floor = staticmethod(scalar_floor)
    sqrt = staticmethod(math.sqrt)  # IEEE 754 requires correctly rounded sqrt: always equal
    cos = staticmethod(math.cos)
    search = staticmethod(bisect.bisect_right)
    where = staticmethod(lambda condition, if_true, if_false: if_true if condition else if_false)
    minimum = staticmethod(min)
    maximum = staticmethod(max)
    take = staticmethod(lambda table, index: table[index])
    interp = staticmethod(lambda t, xs, ys: interp_formula(t, xs, ys, ScalarBackend))
    switch = staticmethod(lambda index, schedules, t, offsets: schedules[index]._eval(t - offsets[index],
                                                                                   ScalarBackend))


_probe = np.linspace(0.0, math.pi, 4096)
if not _same_as_numpy(math.cos, np.cos, _probe):  # pragma: no cover - platform dependent
    ScalarBackend.cos = staticmethod(lambda x: float(np.cos(float(x))))  # type: ignore[assignment]

NUMPY = NumpyBackend
SCALAR = ScalarBackend
