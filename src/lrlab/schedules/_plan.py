"""The scalar plan: a schedule's one formula, traced once into a plain Python function.

``schedule(step)`` must be fast (a scheduler calls it at every update) and equal to
``schedule.values(...)`` bit for bit. Both come from the same definition: each family's
``_eval(t, xp)``. Here ``xp`` is a tracing namespace whose values (:class:`Sym`) record
the operations instead of doing them; the record becomes the source of one small
function, compiled once per schedule and cached:

* arithmetic on constants is folded (the same IEEE operations, so the same bits);
* ``where`` becomes a conditional expression, ``minimum``/``maximum`` comparisons;
* ``search`` becomes comparisons (few edges) or ``bisect`` (many); ``take`` an index;
* ``switch`` becomes an ``if``/``elif`` over the few pieces of a join, each piece inlined,
  or (many pieces) a call into the selected piece's own plan;
* ``cos``, ``sqrt``, ``exp``, ``log``, ``power`` and ``floor`` call the scalar functions of
  :class:`~lrlab.schedules._backend.ScalarBackend`, which give numpy's bits.

The same trace with ``left=True`` gives the left limit ``lim s(u), u -> t-`` exactly:
every comparison of the step is taken from the left (``t >= c`` as ``t > c``), ``floor``
as ``ceil - 1`` and ``search`` as ``bisect_left``, so at a jump the value before it is
returned, and at a phase's end the phase's own formula there.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._backend import _EXP_MAX as EXP_MAX
from ._backend import SCALAR, batched, interp_formula, scalar_floor_left
from ._params import check_step

#: a switch over at most this many pieces is inlined as if/elif; more call each piece's plan
INLINE_PIECES = 6
#: a search over at most this many edges is written as comparisons; more use bisect
INLINE_EDGES = 4

Number = int | float


class Sym:
    """A traced value: the name of a local variable in the plan being written."""

    __slots__ = ("code", "tracer")

    def __init__(self, code: str, tracer: Tracer) -> None:
        self.code = code
        self.tracer = tracer

    def __add__(self, other: Any) -> Any:
        return self.tracer.binary(self, "+", other)

    def __radd__(self, other: Any) -> Any:
        return self.tracer.binary(other, "+", self)

    def __sub__(self, other: Any) -> Any:
        return self.tracer.binary(self, "-", other)

    def __rsub__(self, other: Any) -> Any:
        return self.tracer.binary(other, "-", self)

    def __mul__(self, other: Any) -> Any:
        return self.tracer.binary(self, "*", other)

    def __rmul__(self, other: Any) -> Any:
        return self.tracer.binary(other, "*", self)

    def __truediv__(self, other: Any) -> Any:
        return self.tracer.binary(self, "/", other)

    def __rtruediv__(self, other: Any) -> Any:
        return self.tracer.binary(other, "/", self)

    def __neg__(self) -> Any:
        return self.tracer.assign(f"-{self.code}")

    def __lt__(self, other: Any) -> Any:
        return self.tracer.compare(self, "<", other)

    def __le__(self, other: Any) -> Any:
        return self.tracer.compare(self, "<=", other)

    def __gt__(self, other: Any) -> Any:
        return self.tracer.compare(self, ">", other)

    def __ge__(self, other: Any) -> Any:
        return self.tracer.compare(self, ">=", other)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self.tracer.compare(self, "==", other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self.tracer.compare(self, "!=", other)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise TypeError("a schedule formula branched on the step with Python control flow; "
                        "use xp.where (the formula must be the same for every backend)")

    def __float__(self) -> float:
        raise TypeError("a schedule formula converted the step to a Python float")


class Index(Sym):
    """The result of ``search``: which of the pieces cut at ``edges`` the step ``t`` is in.
    Written out only when used as a number; a ``switch`` on it compares ``t`` directly."""

    __slots__ = ("_name", "edges", "t")

    def __init__(self, tracer: Tracer, edges: tuple[float, ...], t: Sym) -> None:
        super().__init__("", tracer)
        self.edges, self.t, self._name = edges, t, ""

    @property  # type: ignore[override]
    def code(self) -> str:
        if not self._name:
            tracer = self.tracer
            if len(self.edges) <= INLINE_EDGES:
                text = str(len(self.edges))
                for k in range(len(self.edges) - 1, -1, -1):
                    text = f"{k} if {tracer.below(self.t, self.edges[k])} else ({text})"
            else:
                text = f"_bisect({tracer.constant(self.edges)}, {self.t.code})"
            self._name = tracer.assign(text).code
        return self._name

    @code.setter
    def code(self, value: str) -> None:
        pass


_FROM_LEFT = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "==", "!=": "!="}


class Tracer:
    """Records one plan. Also the ``xp`` namespace the formulas see while being traced."""

    name = "trace"
    pi = math.pi

    def __init__(self, left: bool = False) -> None:
        self.left = left
        self.lines: list[str] = []
        self.indent = 1
        self.globals: dict[str, Any] = {
            "_cos": SCALAR.cos, "_sqrt": SCALAR.sqrt, "_npexp": np.exp, "_nplog": np.log, "_float": float,
            "_floor": scalar_floor_left if left else SCALAR.floor, "_mfloor": math.floor,
            "_mceil": math.ceil,
            "_bisect": bisect.bisect_left if left else bisect.bisect_right, "_inf": math.inf,
        }
        self.counter = itertools.count()
        self.finite = {"t"}

    # --- writing -------------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def fresh(self) -> str:
        return f"v{next(self.counter)}"

    def assign(self, expression: str) -> Sym:
        name = self.fresh()
        self.emit(f"{name} = {expression}")
        return Sym(name, self)

    def constant(self, value: Any) -> str:
        name = f"_c{next(self.counter)}"
        self.globals[name] = value
        return name

    def code(self, value: Any) -> str:
        if isinstance(value, Sym):
            return value.code
        if isinstance(value, bool):
            return repr(value)
        if isinstance(value, int):
            return f"({value})" if value < 0 else repr(value)
        value = float(value)
        if math.isnan(value):
            return "_nan_"  # never produced by a valid schedule: fails loudly if it is
        if math.isinf(value):
            return "_inf" if value > 0 else "(-_inf)"
        return f"({value!r})" if value < 0 or (value == 0 and math.copysign(1, value) < 0) else repr(value)

    # --- operations ----------------------------------------------------------------------
    def binary(self, a: Any, op: str, b: Any) -> Any:
        if not isinstance(a, Sym) and not isinstance(b, Sym):
            return _fold(a, op, b)
        ca = None if isinstance(a, Sym) else a  # the constant side, if any
        cb = None if isinstance(b, Sym) else b
        if op == "*" and ((ca == 0.0 and self._finite(b)) or (cb == 0.0 and self._finite(a))):
            return 0.0  # 0 * a finite step (the broadcast of a constant): 0
        # x - 0.0, x * 1.0, 1.0 * x and x / 1.0 are x, to the bit (x + 0.0 is not: -0.0 + 0.0 is 0.0)
        if type(cb) is float and ((cb == 0.0 and op == "-") or (cb == 1.0 and op in "*/")):
            return a
        if type(ca) is float and ca == 1.0 and op == "*":
            return b
        result = self.assign(f"{self.code(a)} {op} {self.code(b)}")
        if op in "+-" and (self._finite(a) or self._finite(b)) and all(
            self._finite(x) or (not isinstance(x, Sym) and math.isfinite(x)) for x in (a, b)
        ):
            self.finite.add(result.code)
        return result

    def _finite(self, x: Any) -> bool:
        """``x`` is the step, or the step moved by finite constants: finite."""
        return isinstance(x, Sym) and x.code in self.finite

    def compare(self, a: Any, op: str, b: Any) -> Any:
        if self.left:
            op = _FROM_LEFT[op]
        # not assigned: a comparison of two names is cheaper written where it is used
        return Sym(f"({self.code(a)} {op} {self.code(b)})", self)

    def _call(self, function: str, x: Any, fold: Callable[[Any], Any]) -> Any:
        if not isinstance(x, Sym):
            return fold(x)
        return self.assign(f"{function}({x.code})")

    def cos(self, x: Any) -> Any:
        return self._call("_cos", x, SCALAR.cos)

    def sqrt(self, x: Any) -> Any:
        return self._call("_sqrt", x, SCALAR.sqrt)

    def exp(self, x: Any) -> Any:
        if not isinstance(x, Sym):
            return SCALAR.exp(x)
        return self.assign(f"_float(_npexp({x.code}))")  # numpy's own exp: values()'s bits

    def log(self, x: Any) -> Any:
        if not isinstance(x, Sym):
            return SCALAR.log(x)
        return self.assign(f"_float(_nplog({x.code}))")

    def floor(self, x: Any) -> Any:
        """``math.floor`` inline (an int, which computes as its float does below 2^52; past
        it every float is whole); from the left, ``ceil - 1``."""
        if not isinstance(x, Sym):
            return self.globals["_floor"](x)
        whole = "_mceil({x}) - 1" if self.left else "_mfloor({x})"
        return self.assign(f"({whole.format(x=x.code)} if -4503599627370496.0 < {x.code} < "
                           f"4503599627370496.0 else {x.code})")

    def power(self, base: Any, exponent: Any) -> Any:
        """``exp(exponent * log(base))`` as the numpy namespace computes it (a constant base
        has its log taken once, here), ``inf`` past float64's range."""
        if not isinstance(base, Sym) and not isinstance(exponent, Sym):
            return SCALAR.power(base, exponent)
        y = (self.log(base) if isinstance(base, Sym) else SCALAR.log(base)) * exponent
        if not isinstance(y, Sym):
            return SCALAR.power(base, exponent)
        return self.assign(f"_inf if {y.code} > {EXP_MAX!r} else _float(_npexp({y.code}))")

    def where(self, condition: Any, if_true: Any, if_false: Any) -> Any:
        if not isinstance(condition, Sym):
            return if_true if condition else if_false
        return self.assign(f"{self.code(if_true)} if {condition.code} else {self.code(if_false)}")

    def minimum(self, a: Any, b: Any) -> Any:
        if not isinstance(a, Sym) and not isinstance(b, Sym):
            return min(a, b)
        x, y = self.code(a), self.code(b)
        return self.assign(f"{x} if {x} <= {y} else {y}")

    def maximum(self, a: Any, b: Any) -> Any:
        if not isinstance(a, Sym) and not isinstance(b, Sym):
            return max(a, b)
        x, y = self.code(a), self.code(b)
        return self.assign(f"{x} if {x} >= {y} else {y}")

    def search(self, edges: Sequence[float], t: Any) -> Any:
        edges = tuple(float(e) for e in edges)
        find = bisect.bisect_left if self.left else bisect.bisect_right
        if not isinstance(t, Sym):
            return find(edges, t)
        if not edges:
            return 0
        return Index(self, edges, t)

    def below(self, t: Sym, edge: float) -> str:
        """The condition ``t`` is before ``edge`` (from the left: not after it)."""
        return f"{t.code} {'<=' if self.left else '<'} {self.code(edge)}"

    def interp(self, t: Any, xs: Sequence[float], ys: Sequence[float]) -> Any:
        return interp_formula(t, xs, ys, self)

    def take(self, table: Sequence[float], index: Any) -> Any:
        if not isinstance(index, Sym):
            return table[index]
        if isinstance(index, Index) and len(index.edges) <= INLINE_EDGES:
            # a chain of comparisons: t falls in one of a few pieces
            text = self.code(table[len(index.edges)])
            for k in range(len(index.edges) - 1, -1, -1):
                text = f"{self.code(table[k])} if {self.below(index.t, index.edges[k])} else ({text})"
            return self.assign(text)
        return self.assign(f"{self.constant(tuple(table))}[{self.code(index)}]")

    def switch(self, index: Any, schedules: Sequence[Any], t: Any, offsets: Sequence[float]) -> Any:
        if not isinstance(index, Sym):
            return schedules[index]._eval(t - offsets[index], self)
        if len(schedules) == 1:
            return schedules[0]._eval(t - offsets[0], self)
        evaluator = batched(schedules)
        if evaluator is not None:  # many pieces of one kind: one formula, parameters by index
            return evaluator(index, t - self.take(offsets, index), self)
        out = self.fresh()
        if len(schedules) > INLINE_PIECES or not isinstance(index, Index):
            plans, starts = self.constant(tuple(schedules)), self.constant(tuple(offsets))
            attribute = "left_plan" if self.left else "plan"
            i = self.code(index)
            self.emit(f"{out} = {plans}[{i}].{attribute}({self.code(t)} - {starts}[{i}])")
            return Sym(out, self)
        for k, schedule in enumerate(schedules):
            if k == len(schedules) - 1:
                self.emit("else:")
            else:
                self.emit(f"{'if' if k == 0 else 'elif'} {self.below(index.t, index.edges[k])}:")
            self.indent += 1
            value = schedule._eval(t - offsets[k], self)
            self.emit(f"{out} = {self.code(value)}")
            self.indent -= 1
        return Sym(out, self)


_ASSIGNMENT = re.compile(r"^(\s*)(v\d+) = (.*)$")
_NAME = re.compile(r"\bv\d+\b")
#: plans up to this many lines have their single-use temporaries written in place
MAX_INLINE_LINES = 400


def _inline_single_uses(lines: list[str]) -> list[str]:
    """Write each temporary that is assigned once and used once into the expression that
    uses it: the same operations in the same order of evaluation within the expression,
    fewer loads and stores. (Moved into one arm of a conditional expression, it is then
    computed only when that arm is taken: the formulas are pure.)"""
    lines = list(lines)
    while True:
        assigned: dict[str, int] = {}
        uses: dict[str, list[int]] = {}
        for number, line in enumerate(lines):
            match = _ASSIGNMENT.match(line)
            rest = line
            if match:
                name = match.group(2)
                assigned[name] = -1 if name in assigned else number
                rest = match.group(3)
            for used in _NAME.findall(rest):
                uses.setdefault(used, []).append(number)
        changed = False
        for name, where in assigned.items():
            used_at = uses.get(name, [])
            if where >= 0 and not used_at:  # computed, never used: dropped (the formulas are pure)
                lines[where] = None  # type: ignore[call-overload]
                changed = True
                continue
            if where < 0 or len(used_at) != 1 or used_at[0] <= where:
                continue
            match = _ASSIGNMENT.match(lines[where])
            target = used_at[0]
            if match is None or lines[target] is None:  # type: ignore[comparison-overlap]
                continue
            indent = len(match.group(1))
            if len(lines[target]) - len(lines[target].lstrip()) < indent:
                continue  # used after the block it was computed in: keep it
            lines[target] = _substitute(lines[target], name, f"({match.group(3)})")
            lines[where] = None  # type: ignore[call-overload]
            changed = True
        lines = [line for line in lines if line is not None]
        if not changed:
            return lines


def _substitute(line: str, name: str, expression: str) -> str:
    """``line`` with the variable ``name`` replaced by ``expression``."""
    return _NAME.sub(lambda m: expression if m.group(0) == name else m.group(0), line)


def _fold(a: Number, op: str, b: Number) -> Number:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b if b != 0 else (math.inf if a > 0 else -math.inf if a < 0 else math.nan)


def _checked_step(step: Any) -> float:
    """A step that is not a plain int below 2^53: checked, then as a float."""
    step = check_step(step)
    try:
        return float(step)  # the vectorized path sees float64 steps: so does this one
    except OverflowError:
        digits = len(str(step))
        raise ValueError(f"step is too large to evaluate: beyond float64's range; got an int of {digits} "
                         "digits") from None


#: the first line of ``call``: an int below 2^53 computes as its float does; anything else is
#: checked (a TypeError or ValueError naming the step) and converted
_ENTRY = "    if t.__class__ is not int or t < 0 or t >= 9007199254740992:\n        t = _checked_step(t)\n"


def trace(schedule: Any, left: bool = False) -> tuple[str, dict[str, Any]]:
    """The body of the plan of ``schedule`` (its lines, indented, ending in ``return``) and
    the constants it refers to."""
    tracer = Tracer(left)
    result = schedule._eval(Sym("t", tracer), tracer)
    value = tracer.code(result)
    if not isinstance(result, Sym):
        value = repr(float(result)) if math.isfinite(float(result)) else value
    lines = [*tracer.lines, f"    return {value}"]
    if len(lines) <= MAX_INLINE_LINES:
        lines = _inline_single_uses(lines)
    return "\n".join(lines) + "\n", tracer.globals


def compile_plan(schedule: Any, left: bool = False) -> Callable[[float], float]:
    """``t -> schedule(t)`` as one Python function traced from ``schedule._eval`` (for a
    resolved schedule; ``t`` a float step). ``left=True``: the left limit at ``t``."""
    return compile_plans(schedule, left)[0]


def compile_plans(schedule: Any, left: bool = False
                  ) -> tuple[Callable[[float], float], Callable[[Any], float]]:
    """``(plan, call)``: the plan of :func:`compile_plan`, and the same body behind a check
    of the step, which is what ``schedule(step)`` runs (one Python call in all)."""
    body, constants = trace(schedule, left)
    source = f"def plan(t):\n{body}\n\ndef call(t):\n{_ENTRY}{body}"
    namespace = dict(constants, _checked_step=_checked_step)
    exec(compile(source, f"<lrlab plan: {schedule.family}>", "exec"), namespace)
    plan, call = namespace["plan"], namespace["call"]
    plan.__doc__ = call.__doc__ = "def plan(t):\n" + body
    return plan, call
