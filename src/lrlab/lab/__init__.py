"""The training lab: built-in tasks, schedule comparisons, LR sensitivity and sweeps,
a resumable SQLite store, and local or Ray executors.

The names below are imported on first use (PEP 562), so ``import lrlab.lab`` (which the
``lrlab`` command does to register its subcommands) loads none of the lab's machinery.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "InlineExecutor": "executors", "LocalExecutor": "executors", "RayExecutor": "executors",
    "make_executor": "executors",
    "TEMPLATES": "experiment", "ArmSummary": "experiment", "ArmTable": "experiment", "Plan": "experiment",
    "plan_compare": "experiment", "plan_sensitivity": "experiment", "plan_sweep": "experiment",
    "run_plan": "experiment", "summarize": "experiment",
    "Store": "store", "StoreError": "store",
    "Record": "tasks.base", "RunResult": "tasks.base", "Task": "tasks.base",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'lrlab.lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
