"""The Schedule value: an immutable map from optimizer step to learning rate."""

from __future__ import annotations

import dataclasses
import importlib
import math
import numbers
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lrlab.units import Budget

from . import _registry
from ._backend import NUMPY
from ._params import CHECK, KIND, check_sequence, field
from ._plan import compile_plan, compile_plans

#: deepest syntax nesting the text form reads (calls, lists, operators)
MAX_NESTING = 64
#: deepest nesting of schedules inside schedules: one level less, for a list in the innermost,
#: so that every schedule that can be built reads back from its text form
MAX_DEPTH = MAX_NESTING - 1
#: attributes holding the functions compiled from the formula (not part of the value)
_COMPILED = ("plan", "_call", "left_plan")
#: steps per piece of ``values()``: cache-sized, and no full-size copy of the steps
_CHUNK = 32_768


def check_schedule(value: object, name: str) -> Schedule:
    """``value`` if it is a Schedule, else a ValueError naming ``name``."""
    if not isinstance(value, Schedule):
        raise ValueError(f"{name} must be an lrlab Schedule; got {type(value).__name__}")
    return value


def schedule() -> Any:
    """Field declaration: a nested schedule."""
    return field(check_schedule, "schedule")


def schedules() -> Any:
    """Field declaration: a non-empty list of schedules."""
    def check(value: Any, name: str) -> tuple[Schedule, ...]:
        items = check_sequence(value, name)
        return tuple(check_schedule(v, f"{name}[{i}]") for i, v in enumerate(items))

    return field(check, "schedule")


def _step_chunks(steps: object) -> tuple[tuple[int, ...], Callable[[int, int], np.ndarray], int]:
    """(shape, chunk(lo, hi) -> float64 steps, size) without a full-size float copy."""
    if isinstance(steps, bool):
        raise TypeError(f"steps must be integers >= 0 (an int n or an array of ints); got {steps!r}")
    if isinstance(steps, numbers.Integral):
        n = int(steps)
        if n < 0:
            raise ValueError(f"steps must be >= 0; got {n}")
        return (n,), lambda lo, hi: np.arange(lo, hi, dtype=np.float64), n
    if isinstance(steps, range):
        r = steps
        if len(r) and min(r[0], r[-1]) < 0:
            raise ValueError(f"steps must be integers >= 0; got {min(r[0], r[-1])}")
        return (len(r),), lambda lo, hi: np.arange(r.start + lo * r.step, r.start + hi * r.step, r.step,
                                                  dtype=np.float64), len(r)
    try:
        array = np.asarray(steps)
    except (ValueError, OverflowError):
        raise TypeError("steps must be integers >= 0 in a flat list or array") from None
    if array.ndim == 0:
        raise TypeError("steps must be integers >= 0: values() takes an int n (for steps 0..n-1) "
                         f"or an array of steps; got {steps!r}")
    if array.dtype.kind == "f" and array.size:
        if not (np.all(np.isfinite(array)) and np.all(array == np.floor(array))):
            raise TypeError(f"steps must be integers >= 0; got an array of dtype {array.dtype} "
                             "with fractional or non-finite values")
    elif array.dtype.kind not in "iuf":
        raise TypeError(f"steps must be integers >= 0; got an array of dtype {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"steps must be integers >= 0; got {array.min()}")
    flat = array.reshape(-1)
    return array.shape, lambda lo, hi: flat[lo:hi].astype(np.float64), flat.size


class Schedule:
    """A learning-rate schedule: ``s(t)`` is the LR used by optimizer update ``t``.

    Defined for every int ``t >= 0``; past its last phase it holds its final value.
    Subclasses are frozen dataclasses whose fields are the family's parameters (declared
    with the helpers of ``_params``), so two schedules with equal parameters are equal,
    hashable and print the same text form.

    A family writes its formula once, ``_eval(t, xp)``, against an array namespace (see
    ``_backend``): ``values()`` runs it with numpy, ``s(t)`` runs the plain-Python function
    traced from it (``_plan``), ``evaluate(t, xp)`` with torch or jax.
    """

    __slots__ = ()

    family: ClassVar[str]
    #: set by ``__post_init__`` (cached attributes, not parameters)
    depth: int
    _ready: bool

    # --- construction ---------------------------------------------------------------
    def __post_init__(self) -> None:
        prefix = self._prefix()
        for f in self._parameters():
            check = f.metadata.get(CHECK)
            if check is not None:
                object.__setattr__(self, f.name, check(getattr(self, f.name), f"{prefix}.{f.name}"))
        depth = 1 + max((child.depth for child in self.children()), default=0)
        if depth > MAX_DEPTH:
            raise ValueError(f"{prefix}: schedules nested more than {MAX_DEPTH} levels deep cannot be "
                             f"written in the text form; got {depth} levels")
        object.__setattr__(self, "depth", depth)
        self._validate()
        bound = self.upper_bound()
        if not math.isfinite(bound):
            raise ValueError(f"{self._bound_parameter()}: the values of {prefix} reach {bound!r}, beyond "
                             "float64's range; expected parameters that keep every value finite")
        object.__setattr__(self, "_ready", not self.unresolved_lengths())
        if self._ready:
            self._prepare()

    def _prefix(self) -> str:
        """The name parameters are reported under (``cosine.steps``)."""
        return self.family

    def _validate(self) -> None:
        """Checks between parameters (after each parameter's own check)."""

    def _prepare(self) -> None:
        """Precompute evaluation constants (only for resolved schedules)."""

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    @classmethod
    def _parameters(cls) -> tuple[dataclasses.Field[Any], ...]:
        return tuple(f for f in dataclasses.fields(cls) if f.init)  # type: ignore[arg-type]

    # --- evaluation -----------------------------------------------------------------
    if TYPE_CHECKING:
        def __call__(self, step: int) -> float:
            """The learning rate of update ``step`` (an int >= 0) as a Python float."""
    else:
        # ``s(t)`` runs the schedule's compiled function directly (``_call``, made on first use
        # by ``__getattr__``): Python looks ``__call__`` up on the type, and this property hands
        # back the instance's own function without a Python frame of its own
        __call__ = property(operator.attrgetter("_call"),
                            doc="The learning rate of update ``step`` (an int >= 0) as a Python float.")

    def __getattr__(self, name: str) -> Any:
        if name in ("_call", "plan"):
            self.check_resolved()
            plan, call = compile_plans(self)
            object.__setattr__(self, "plan", plan)
            object.__setattr__(self, "_call", call)
            return call if name == "_call" else plan
        if name == "left_plan":
            self.check_resolved()
            plan = compile_plan(self, left=True)
            object.__setattr__(self, "left_plan", plan)
            return plan
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self) -> dict[str, Any]:
        # the compiled functions are made again on first use after unpickling
        return {k: v for k, v in self.__dict__.items() if k not in _COMPILED}

    if TYPE_CHECKING:
        #: ``s`` as a plain Python function of a float step, traced once from the formula
        plan: Callable[[float], float]
        #: the left limit ``lim s(u), u -> t-`` as a function of a float step
        left_plan: Callable[[float], float]

    def values(self, steps: Iterable[int] | np.ndarray | int) -> np.ndarray:
        """The learning rates of many steps at once (float64), equal to ``s(t)`` bit for bit.

        ``steps`` is an array-like of ints >= 0, or an int ``n`` for ``range(n)``. Evaluated
        in cache-sized pieces: memory is the output plus one piece.
        """
        shape, chunk, size = _step_chunks(steps)
        self.check_resolved()
        out = np.empty(size)
        with np.errstate(all="ignore"):  # unselected branches of where() may overflow
            for lo in range(0, size, _CHUNK):
                piece = chunk(lo, min(lo + _CHUNK, size))
                out[lo:lo + piece.size] = np.broadcast_to(self._eval(piece, NUMPY), piece.shape)
        return out.reshape(shape)

    def evaluate(self, t: Any, xp: Any) -> Any:
        """Evaluate on a float array ``t`` of steps with the array namespace ``xp``.

        This is the hook for the framework backends (``lrlab.torch``, ``lrlab.jax``): the
        same formulas as ``values``, computed with that framework's operations.
        """
        self.check_resolved()
        if xp is NUMPY:
            with np.errstate(all="ignore"):
                return self._eval(t, xp)
        return self._eval(t, xp)  # torch/jax: nothing numpy-specific here, so it compiles

    def left_limit(self, step: float) -> float:
        """The value approached just before ``step``: ``lim s(u)`` for ``u -> step-``.

        Where the schedule is continuous this is ``s(step)``. At a jump it is the value before
        it (at a multistep milestone, the level before the drop; where a warmup to 1e-4 meets
        a decay starting at 9.9e-5, 1e-4). ``s(0)`` for ``step <= 0``.
        """
        if isinstance(step, bool) or not isinstance(step, numbers.Real) or not math.isfinite(step):
            raise ValueError(f"step must be a finite number; got {step!r}")
        if step <= 0:
            return self(0)
        return float(self.left_plan(float(step)))

    def _eval(self, t: Any, xp: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def batch_key(self) -> Any:
        """Schedules with the same key (not None) evaluate together through :meth:`batch`:
        the same formula with per-element parameters (a long join of phases)."""
        return None

    @classmethod
    def batch(cls, schedules: Any) -> Callable[[Any, Any, Any], Any]:  # pragma: no cover - abstract
        """``(i, t, xp) -> schedules[i](t)`` elementwise, for schedules of one key: the family's
        formula with its parameters gathered by ``xp.take``."""
        raise NotImplementedError

    # --- structure ------------------------------------------------------------------
    @property
    def length(self) -> float | None:
        """Steps until the schedule reaches its final value, or None if it never ends."""
        return None

    @property
    def final_value(self) -> float:
        """The value held past :attr:`length` (for endless schedules: not defined)."""
        length = self.length
        if length is None:
            raise ValueError(f"{self.family} never ends, so it has no final value")
        return float(self.plan(float(length)))

    def children(self) -> tuple[Schedule, ...]:
        """Schedules nested in this one (for composition nodes), in order."""
        found: list[Schedule] = []
        for value in self._field_values():
            items = value if isinstance(value, tuple) else (value,)
            found += [v for v in items if isinstance(v, Schedule)]
        return tuple(found)

    def boundaries(self) -> tuple[float, ...]:
        """Steps where a phase starts or ends (for tables and plots), ascending."""
        return (0.0,) + ((float(self.length),) if self.length is not None else ())

    def describe(self, at_start: bool = True) -> list[str]:
        """The parts of the schedule in a few words each, first to last (``at_start``: the
        schedule begins the run, so a rise is a warmup)."""
        return [self.family]

    def description(self, at_start: bool = True) -> str:
        """:meth:`describe` joined, repeats in a row collapsed: "linear warmup, cosine decay
        to 10%"."""
        words: list[str] = []
        for word in self.describe(at_start):
            if not words or words[-1] != word:
                words.append(word)
        return ", ".join(words)

    def upper_bound(self) -> float:
        """A value no step exceeds (finite for every schedule that constructs): the largest of
        the nested schedules' bounds unless the family says otherwise."""
        children = self.children()
        if not children:  # pragma: no cover - each leaf family says its own
            raise NotImplementedError(f"{type(self).__name__} must define upper_bound()")
        return max(child.upper_bound() for child in children)

    def _bound_parameter(self) -> str:
        """The parameter named when the values would overflow."""
        return self._prefix()

    def time_scales(self) -> list[float]:
        """Every length (in steps) written in the parameters, nested ones included: the time
        scales a plot of an endless schedule should cover."""
        found: list[float] = []
        for f in self._parameters():
            value = getattr(self, f.name)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, Schedule):
                    found += item.time_scales()
                elif f.metadata.get(KIND) == "length" and isinstance(item, (int, float)):
                    found.append(float(item))
        return found

    def _field_values(self) -> list[Any]:
        return [getattr(self, f.name) for f in self._parameters()]

    # --- units ----------------------------------------------------------------------
    @property
    def resolved(self) -> bool:
        """True if every length is a number of steps (no '5%' or '375M tokens' left)."""
        return self._ready

    def unresolved_lengths(self) -> list[tuple[str, str]]:
        """(parameter, text) of each length that still needs a Budget."""
        found: list[tuple[str, str]] = []
        for f in self._parameters():
            value = getattr(self, f.name)
            items = value if isinstance(value, tuple) else (value,)
            if f.metadata.get(KIND) == "length":
                found += [(f"{self._prefix()}.{f.name}", v) for v in items if isinstance(v, str)]
            else:
                for item in items:
                    if isinstance(item, Schedule):
                        found += item.unresolved_lengths()
        return found

    def resolve(self, budget: Budget) -> Schedule:
        """A copy with every unit length ('5%', '375M tokens', '2ep', 'rest') turned into steps."""
        if not isinstance(budget, Budget):
            raise ValueError(f"budget must be an lrlab.Budget; got {type(budget).__name__}")
        return self.resolve_at(budget, 0.0)

    def resolve_at(self, budget: Budget, offset: float) -> Schedule:
        """:meth:`resolve` for a schedule that starts at step ``offset`` of the run (where a
        ``'rest'`` length is measured from). Nested schedules start where this one does,
        unless the family says otherwise (a join, a warmup)."""
        if self.resolved:
            return self
        changes: dict[str, Any] = {}
        for f in self._parameters():
            value = getattr(self, f.name)
            name = f"{self._prefix()}.{f.name}"
            if f.metadata.get(KIND) == "length" and value is not None:
                if isinstance(value, tuple):
                    changes[f.name] = tuple(budget.steps(v, name, offset=offset) for v in value)
                else:
                    changes[f.name] = budget.steps(value, name, offset=offset)
            elif isinstance(value, Schedule):
                changes[f.name] = value.resolve_at(budget, offset + self._child_offset(f.name, changes))
            elif isinstance(value, tuple) and any(isinstance(v, Schedule) for v in value):
                changes[f.name] = tuple(v.resolve_at(budget, offset) if isinstance(v, Schedule) else v
                                        for v in value)
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def _child_offset(self, name: str, resolved: dict[str, Any]) -> float:
        """Where the nested schedule ``name`` starts, relative to this one (``resolved``: the
        parameters resolved so far)."""
        return 0.0

    def check_resolved(self) -> None:
        """A clear ValueError if a length still needs a Budget ('5%', '375M tokens')."""
        if self._ready:
            return
        where, text = self.unresolved_lengths()[0]
        raise ValueError(
            f"{where}={text!r} is not in steps yet: call schedule.resolve(Budget(...)) "
            "with the total steps, tokens per step or steps per epoch it needs"
        )

    # --- text and dict forms ------------------------------------------------------------
    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        positional, keywords = self.arguments()
        args = [format_value(v) for v in positional] + [f"{k}={format_value(v)}" for k, v in keywords.items()]
        return f"{self.family}({', '.join(args)})"

    def arguments(self) -> tuple[list[Any], dict[str, Any]]:
        """The text form's arguments: required parameters in order, then the others that
        differ from their defaults, by name (``family(*positional, **keywords)`` rebuilds it)."""
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        for f in self._parameters():
            value = getattr(self, f.name)
            if f.default is dataclasses.MISSING:
                positional.append(value)
            elif value != f.default or type(value) is not type(f.default):
                keywords[f.name] = value
        return positional, keywords

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict ``{"family": name, parameter: value, ...}``, nested schedules
        as dicts; ``from_dict(s.to_dict()) == s``."""
        out: dict[str, Any] = {"family": self.family}
        for f in self._parameters():
            value = getattr(self, f.name)
            if f.default is dataclasses.MISSING or value != f.default or type(value) is not type(f.default):
                out[f.name] = _to_plain(value)
        return out

    def plot(self, *others: Schedule, **options: Any) -> Any:
        """This schedule (and ``others``) drawn with matplotlib: ``lrlab.plot(self, *others,
        **options)``, which returns the Figure (needs the ``plot`` extra)."""
        return importlib.import_module("lrlab.viz.plot").plot(self, *others, **options)

    def walk(self) -> Iterator[Schedule]:
        """This schedule and every schedule nested in it, depth first."""
        yield self
        for child in self.children():
            yield from child.walk()

    # --- composition sugar --------------------------------------------------------------
    def __mul__(self, other: object) -> Schedule:
        if isinstance(other, Schedule):
            return _registry.build("product", self, other)
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return _registry.build("scale", self, other)
        return NotImplemented

    __rmul__ = __mul__

    def __add__(self, other: object) -> Schedule:
        if isinstance(other, Schedule):
            return _registry.build("add", self, other)
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return _registry.build("offset", self, other)
        return NotImplemented

    __radd__ = __add__


def format_value(value: Any) -> str:
    """One argument in the text form."""
    if isinstance(value, Schedule):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a schedule parameter is not finite: {value!r}")
        return repr(value)
    if value == "rest":
        return "REST"
    if isinstance(value, (int, str)):
        return repr(value)
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {value!r} in the text form")


def _to_plain(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    return value
