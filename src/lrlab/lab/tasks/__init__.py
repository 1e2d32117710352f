"""The tasks the lab can train: built-ins by name, user tasks by ``module:function``.

Built-ins (see ``docs/tasks.md``): ``circle`` (numpy), ``circle-lesson`` (the schedules
lesson's own program, pure Python), ``digits`` (torch + scikit-learn's
bundled digits), ``charlm`` (torch, a character-level transformer on the Python standard
library's source). torch and scikit-learn are imported only when a task that needs them
runs, so the registry itself imports with numpy alone.

A user task is ``"module:name"``: ``name`` is a Task object (or a class of one, built with
no arguments), or a plain function ``fn(schedule, *, seed, steps, **options) -> RunResult``.
A function is wrapped in a :class:`FunctionTask`; it may carry ``default_steps``,
``default_peak``, ``converged_loss``, ``description`` and ``options`` attributes, and any
keyword parameter with a default (other than ``seed``/``steps``) is an option.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
import numbers
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from lrlab.schedules import Schedule

from ._common import BuiltinTask, Option, check_run, report_step
from .base import METRICS, Record, RunResult, Task
from .charlm import TASK as CHARLM
from .circle import TASK as CIRCLE
from .circle_lesson import TASK as CIRCLE_LESSON
from .digits import TASK as DIGITS

#: the built-in tasks by name
TASKS: dict[str, Task] = {task.name: task for task in (CIRCLE, CIRCLE_LESSON, DIGITS, CHARLM)}

__all__ = [
    "METRICS", "TASKS", "BuiltinTask", "FunctionTask", "Option", "Record", "RunResult", "Task",
    "check_task_options", "get_task", "report_step",
]

_RESERVED = ("schedule", "seed", "steps")


class FunctionTask:
    """A plain function ``fn(schedule, *, seed, steps, **options) -> RunResult`` as a Task.

    Defaults when the function does not say (as attributes of the same names):
    ``default_steps=1000``, ``default_peak=1e-3``, ``converged_loss=nan`` (unknown: no run
    counts as converged), ``description`` = the first line of its docstring. ``options`` =
    the function's keyword parameters that have defaults, unless it has an ``options``
    attribute. Unknown option names are refused unless the function takes ``**options``;
    a value whose type differs from its default's (int for a float is fine) is refused.
    """

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        if not callable(fn):
            raise ValueError(f"{name} is not callable")
        self.fn = fn
        self.name = name
        doc = inspect.getdoc(fn) or ""
        first_line = doc.splitlines()[0] if doc else f"user task {name}"
        self.description = str(getattr(fn, "description", first_line))
        self.default_steps = int(getattr(fn, "default_steps", 1000))
        self.default_peak = float(getattr(fn, "default_peak", 1e-3))
        self.converged_loss = float(getattr(fn, "converged_loss", math.nan))
        expected = "a task function fn(schedule, *, seed, steps, **options)"
        parameters: Mapping[str, inspect.Parameter]
        try:
            parameters = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # a C callable that does not say what it takes
            raise ValueError(f"--task {name}: expected {expected}; its signature cannot be read "
                             "(wrap it in a Python function)") from None
        kinds = [p.kind for p in parameters.values()]
        takes_schedule = any(k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                   inspect.Parameter.VAR_POSITIONAL) for k in kinds)
        self._open = inspect.Parameter.VAR_KEYWORD in kinds
        missing = [p for p in ("seed", "steps") if p not in parameters and not self._open]
        if not takes_schedule or missing:
            lacks = ", ".join((["the schedule (first positional argument)"] if not takes_schedule else [])
                              + [f"{p}=" for p in missing])
            raise ValueError(f"--task {name}: expected {expected}; it takes {inspect.signature(fn)}, "
                             f"which lacks {lacks}")
        declared = getattr(fn, "options", None)
        if declared is not None:
            self.options = dict(declared)
        else:
            self.options = {
                n: p.default for n, p in parameters.items()
                if n not in _RESERVED and p.default is not p.empty
                and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            }

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.options))
        if unknown and not self._open:
            raise ValueError(f"task {self.name!r} has no option {', '.join(map(repr, unknown))}; "
                             f"its options are: {', '.join(self.options) or 'none'}")
        for key, value in options.items():
            if key in self.options:
                _check_like(self.name, key, value, self.options[key])
        return {**self.options, **options}

    def run(self, schedule: Schedule, *, seed: int, steps: int, **options: Any) -> RunResult:
        seed, steps = check_run(self.name, schedule, seed, steps)
        self.check_options(options)
        result = self.fn(schedule, seed=seed, steps=steps, **options)
        if isinstance(result, RunResult):
            return result
        if isinstance(result, (list, tuple)) and all(isinstance(r, Record) for r in result):
            return RunResult(tuple(result))
        raise ValueError(f"task {self.name!r} returned {type(result).__name__}; "
                         "it must return an lrlab.lab.RunResult (or a list of Record)")

    def __repr__(self) -> str:
        return f"<lrlab user task {self.name!r}>"


def _check_like(task: str, key: str, value: Any, default: Any) -> None:
    """Refuse a value of another type than the option's default (None accepts anything)."""
    if default is None:
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, numbers.Integral):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif isinstance(default, numbers.Real):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(f"task {task!r}: option {key}={value!r} must be of type "
                         f"{type(default).__name__} like its default {default!r}")


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # console scripts do not put the working directory on sys.path: try it once
        cwd = os.getcwd()
        if error.name != module_name.split(".")[0] or cwd in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module_name)


def _load(spec: str) -> Task:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"a user task is 'module:name'; got {spec!r}")
    try:
        obj: Any = _import(module_name)
    except ImportError as error:
        raise ValueError(f"task {spec!r}: cannot import module {module_name!r}: {error}") from error
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"task {spec!r}: {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        try:
            obj = obj()
        except TypeError as error:
            raise ValueError(f"task {spec!r}: cannot build the class without arguments: {error}") from error
    if isinstance(obj, Task):
        return obj
    if callable(obj):
        return FunctionTask(obj, spec)
    raise ValueError(f"task {spec!r} is a {type(obj).__name__}, neither a Task nor a function")


def get_task(name: str | Task) -> Task:
    """The task called ``name``: a built-in (see :data:`TASKS`) or ``module:function``.

    A Task object is returned unchanged. Unknown names raise ValueError listing the
    built-ins and suggesting the closest.
    """
    if not isinstance(name, str):
        if isinstance(name, Task):
            return name
        raise ValueError(f"a task is a name or a Task; got {type(name).__name__}")
    if name in TASKS:
        return TASKS[name]
    if ":" in name:
        return _load(name)
    close = difflib.get_close_matches(name, TASKS, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown task {name!r}{hint}; known tasks: {', '.join(TASKS)}, "
                     "or 'module:function' for your own")


def check_task_options(task: str | Task, options: Mapping[str, Any]) -> dict[str, Any]:
    """All of ``task``'s options with ``options`` applied, checked (names, types, ranges)
    the way ``task.run`` will check them: call it before launching many runs."""
    task = get_task(task)
    checker = getattr(task, "check_options", None)
    if checker is not None:
        return checker(options)
    unknown = sorted(set(options) - set(task.options))
    if unknown:
        raise ValueError(f"task {task.name!r} has no option {', '.join(map(repr, unknown))}; "
                         f"its options are: {', '.join(task.options) or 'none'}")
    return {**task.options, **options}
