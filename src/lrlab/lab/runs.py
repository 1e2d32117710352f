"""Run specifications and the function that executes one run (in any process)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from lrlab.schedules import parse

from .tasks.base import Record


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one training run.

    ``schedule`` is the resolved text form (lengths in steps). ``label`` names the arm of
    the experiment it belongs to (e.g. ``"cosine"`` or ``"lr=0.01"``); ``params`` holds the
    swept values for that arm. The :attr:`key` depends only on what changes the result.
    """

    task: str
    schedule: str
    seed: int
    steps: int
    label: str
    options: tuple[tuple[str, Any], ...] = ()
    params: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    @property
    def config(self) -> dict[str, Any]:
        return {"task": self.task, "schedule": self.schedule, "seed": self.seed, "steps": self.steps,
                "options": dict(self.options)}

    @property
    def key(self) -> str:
        """The run's identity: a hash of its canonical config. Equivalent arguments give the
        same key: the schedule by its structure (``to_dict()``), and every number that is a
        whole value as an integer (``4000.0`` and ``4000``, ``hidden=8.0`` and ``8``)."""
        return run_key(self.task, self.schedule, self.seed, self.steps, dict(self.options))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(data["task"], data["schedule"], data["seed"], data["steps"], data["label"],
                   tuple(tuple(kv) for kv in data.get("options", ())),
                   tuple(tuple(kv) for kv in data.get("params", ())))


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return repr(value)


@functools.lru_cache(maxsize=4096)
def _canonical_text(text: str) -> str:
    try:
        return json.dumps(_canonical(parse(text).to_dict()), sort_keys=True)
    except ValueError:
        return json.dumps(text)  # the run will fail with the parser's message; its key is its text


def canonical_schedule(text: str) -> Any:
    """The structure of a schedule text with numbers made canonical (see :func:`run_key`)."""
    return json.loads(_canonical_text(text))


def run_key(task: str, schedule: str, seed: int, steps: int, options: Mapping[str, Any]) -> str:
    """SHA-256 (first 20 hex digits) of the canonical JSON of a run's config."""
    config = {"task": task, "schedule": canonical_schedule(schedule), "seed": int(seed),
              "steps": int(steps), "options": _canonical(dict(options))}
    text = json.dumps(config, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class RunOutcome:
    """What came back from one run: its history and info, or the error it raised."""

    spec: RunSpec
    history: tuple[Record, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    error: str | None = None


def execute_run(spec_data: dict[str, Any]) -> dict[str, Any]:
    """Run one spec (a dict, so any executor can ship it) and return a plain dict.

    Exceptions are caught and returned as ``error`` so one broken run does not stop an
    experiment; KeyboardInterrupt is not caught.
    """
    from .tasks import get_task
    from .tasks._common import step_reporter

    spec = RunSpec.from_dict(spec_data)
    start = time.perf_counter()
    folder = spec_data.get("progress_dir")
    reporter = _FileReporter(os.path.join(folder, spec.key), spec.steps) if folder else None
    try:
        task = get_task(spec.task)
        with step_reporter(reporter):
            result = task.run(parse(spec.schedule), seed=spec.seed, steps=spec.steps, **dict(spec.options))
        history = [[r.step, r.lr, r.loss, r.val_loss, r.accuracy] for r in result.history]
        return {"spec": spec_data, "history": history, "info": dict(result.info),
                "wall_s": time.perf_counter() - start, "error": None}
    except Exception:
        detail = traceback.format_exc().strip()  # the whole traceback: the report shows it
        return {"spec": spec_data, "history": [], "info": {}, "wall_s": time.perf_counter() - start,
                "error": detail}


class _FileReporter:
    """Writes ``step steps`` to a small file at most once a second (read by the lab's
    progress lines; any failure to write is ignored)."""

    def __init__(self, path: str, steps: int, every: float = 1.0) -> None:
        self.path, self.steps, self.every = path, steps, every
        self.last = time.monotonic()

    def __call__(self, step: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        try:
            with open(self.path, "w") as handle:
                handle.write(f"{step + 1} {self.steps}\n")
        except OSError:
            pass


def read_step_progress(folder: str) -> dict[str, tuple[int, int]]:
    """``{run key: (updates done, steps)}`` from the files of :class:`_FileReporter`."""
    found: dict[str, tuple[int, int]] = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return found
    for name in names:
        try:
            with open(os.path.join(folder, name)) as handle:
                done, steps = (int(v) for v in handle.read().split())
        except (OSError, ValueError):
            continue
        found[name] = (done, steps)
    return found


def outcome_from_dict(data: dict[str, Any]) -> RunOutcome:
    return RunOutcome(
        spec=RunSpec.from_dict(data["spec"]),
        history=tuple(Record(int(s), float(lr), float(loss), v, a) for s, lr, loss, v, a in data["history"]),
        info=data["info"],
        wall_s=float(data["wall_s"]),
        error=data["error"],
    )
