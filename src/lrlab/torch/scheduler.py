"""``Scheduler``: an lrlab schedule driving a torch optimizer, as a real ``LRScheduler``."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrlab.schedules import Scale, Schedule, check_schedule

STATE_VERSION = 1


class StepLogger(Protocol):
    """Receives the learning rates that update ``step`` used, one per param group."""

    def __call__(self, step: int, lrs: Sequence[float]) -> None: ...


def _group_label(index: int, group: Mapping[str, Any]) -> str:
    name = group.get("name")
    return f"param_groups[{index}]" + (f" ({name!r})" if name is not None else "")


def _check_optimizer(optimizer: object) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    if not optimizer.param_groups:
        raise ValueError("optimizer has no param_groups: give it parameters before scheduling it")
    for i, group in enumerate(optimizer.param_groups):
        if "lr" not in group:
            raise ValueError(f"optimizer {_group_label(i, group)} has no 'lr'")
    return optimizer


def _per_group(value: Sequence[Any] | Mapping[str, Any] | None, groups: list[dict[str, Any]],
               what: str) -> list[Any]:
    """Spread a per-group option (a list by index or a mapping by group 'name') over groups."""
    if value is None:
        return [None] * len(groups)
    if isinstance(value, Mapping):
        names = {g.get("name") for g in groups}
        unknown = sorted(str(k) for k in value if k not in names)
        if unknown:
            raise ValueError(f"{what} names groups {unknown} that the optimizer does not have "
                             f"(its groups are named {sorted(str(n) for n in names)})")
        return [value.get(g.get("name")) for g in groups]
    values = list(value)
    if len(values) != len(groups):
        raise ValueError(f"{what} has {len(values)} entries for {len(groups)} param groups")
    return values


def _outside_torch_compile(fn):
    """Run ``fn`` eagerly when a ``torch.compile``d function calls it, as torch's own
    schedulers are (Dynamo skips their file): its int step and float LRs must never become
    guarded constants of a graph. Marking the code object as skipped costs nothing per
    call; where that private hook is missing, ``torch.compiler.disable`` does the same at
    ~0.6 us per call."""
    try:
        from torch._C._dynamo.eval_frame import (
            _FrameAction,
            _FrameExecStrategy,
            set_code_exec_strategy,
        )
    except ImportError:  # pragma: no cover - other torch versions
        return torch.compiler.disable(fn)
    set_code_exec_strategy(fn.__code__, _FrameExecStrategy(_FrameAction.SKIP, _FrameAction.SKIP))
    fn._torchdynamo_disable = True  # a traced caller breaks its graph here and calls fn as is
    return fn


class Scheduler(LRScheduler):
    """Drives ``optimizer`` with an lrlab schedule: update ``t`` uses ``schedule(t)``.

    A real ``torch.optim.lr_scheduler.LRScheduler``: call ``scheduler.step()`` after
    ``optimizer.step()``, as with any torch scheduler; it works unchanged in the Hugging
    Face ``Trainer`` (``optimizers=(optimizer, scheduler)``) and in Lightning
    (``"interval": "step"``). Past the schedule's end it holds the final value.

    Per-group learning rates: each group's LR is its schedule times its scale. The scale
    comes from ``scales`` (a list by group index, or a mapping by the group's ``"name"``),
    else from the group's ``scale_key`` entry (timm's ``"lr_scale"``), else 1. ``schedules``
    gives a group its own schedule (a list, or a mapping by name; others use ``schedule``).

    If a group's ``lr`` is a tensor (see :func:`lrlab.torch.use_tensor_lr`), it is updated in
    place, so a compiled optimizer step never recompiles as the LR changes.

    ``loggers`` are called after each update with ``(t, lrs)``: the LRs update ``t`` used.
    """

    def __init__(self, optimizer: Optimizer, schedule: Schedule, *,
                 scales: Sequence[float] | Mapping[str, float] | None = None,
                 schedules: Sequence[Schedule | None] | Mapping[str, Schedule] | None = None,
                 scale_key: str = "lr_scale",
                 loggers: Iterable[StepLogger] = ()) -> None:
        optimizer = _check_optimizer(optimizer)
        group_schedules = self._plan(optimizer, schedule, scales, schedules, scale_key)
        first = [s(0) for s in group_schedules]  # fails here, before the optimizer is touched
        for i, lr in enumerate(first):
            if not math.isfinite(lr):
                raise ValueError(f"schedule gives {lr!r} for {_group_label(i, optimizer.param_groups[i])}")
        self.schedule = schedule
        self.group_schedules = group_schedules
        self.loggers = list(loggers)
        self.history: list[dict[str, Any]] = []
        self._index_plan(group_schedules)
        super().__init__(optimizer)

    # --- set-up ---------------------------------------------------------------------
    @staticmethod
    def _plan(optimizer: Optimizer, schedule: Schedule, scales: Any, schedules: Any,
              scale_key: str) -> list[Schedule]:
        check_schedule(schedule, "schedule")
        groups = optimizer.param_groups
        own = _per_group(schedules, groups, "schedules")
        factors = _per_group(scales, groups, "scales")
        planned = []
        for i, group in enumerate(groups):
            base = own[i] if own[i] is not None else schedule
            check_schedule(base, f"schedules[{i}]")
            if not base.resolved:
                where, text = base.unresolved_lengths()[0]
                raise ValueError(f"schedule for {_group_label(i, group)} has {where}={text!r}: "
                                 "resolve it first with schedule.resolve(Budget(...))")
            factor = factors[i] if factors[i] is not None else group.get(scale_key, 1.0)
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (
                math.isfinite(factor) and factor >= 0
            ):
                raise ValueError(f"scale for {_group_label(i, group)} must be a finite number >= 0; "
                                 f"got {factor!r}")
            planned.append(base if factor == 1.0 else Scale(base, float(factor)))
        return planned

    def _index_plan(self, group_schedules: list[Schedule]) -> None:
        """Evaluate each distinct base schedule once per step, then scale per group."""
        bases: list[Schedule] = []
        plan: list[tuple[int, float]] = []
        for s in group_schedules:
            base, factor = (s.schedule, s.factor) if isinstance(s, Scale) else (s, 1.0)
            if base not in bases:
                bases.append(base)
            plan.append((bases.index(base), factor))
        self._plan_items = plan
        self._evaluators = [base.plan for base in bases]  # resolved: checked in _plan
        shared = len(bases) == 1 and all(factor == 1.0 for _, factor in plan)
        self._shared = self._evaluators[0] if shared else None

    # --- the hot path -----------------------------------------------------------------
    def _lrs_at(self, t: int) -> list[float]:
        x = float(t)
        if self._shared is not None:  # one unscaled schedule for every group: evaluate once
            lr = float(self._shared(x))
            lrs = [lr] * len(self._plan_items)
            if lr - lr == 0.0:  # finite
                return lrs
        else:
            values = [float(at(x)) for at in self._evaluators]
            lrs = [values[i] if factor == 1.0 else factor * values[i] for i, factor in self._plan_items]
        for i, lr in enumerate(lrs):
            if not math.isfinite(lr):
                raise ValueError(f"schedule gives {lr!r} at step {t} for "
                                 f"{_group_label(i, self.optimizer.param_groups[i])}")
        return lrs

    def _apply(self, t: int) -> None:
        lrs = self._lrs_at(t)
        for group, lr in zip(self.optimizer.param_groups, lrs):
            current = group["lr"]
            if isinstance(current, torch.Tensor):
                current.fill_(lr)
            else:
                group["lr"] = lr
        self._last_lr = lrs

    @_outside_torch_compile
    def step(self, epoch: int | None = None) -> None:
        """Move to the next update: its LR is ``schedule(t + 1)``.

        Call after ``optimizer.step()``. Unlike torch's schedulers this never warns about
        the call order (a GradScaler that skipped an update is not an error) and never
        raises past the end of the schedule. Inside a ``torch.compile``d function it runs
        eagerly (as torch's own schedulers do), so the changing step and LR values are
        never baked into the graph.
        """
        if epoch is not None:
            raise TypeError("lrlab Scheduler.step() takes no epoch; to jump to a step, "
                            "load a state_dict with that step")
        used = self.last_epoch
        if used >= 0 and self.loggers:
            for log in self.loggers:
                log(used, list(self._last_lr))
        self._step_count += 1
        self.last_epoch = used + 1
        self._apply(self.last_epoch)

    def get_lr(self) -> list[float]:
        """The learning rates of the current update, one per param group."""
        return self._lrs_at(max(self.last_epoch, 0))

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()`` (floats, one per group)."""
        return list(self._last_lr)

    # --- checkpoints ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain data (loads with ``torch.load(weights_only=True)``): the step and, as text,
        the schedule of every group, so a resume with another schedule is caught."""
        return {
            "lrlab_version": STATE_VERSION,
            "last_epoch": self.last_epoch,
            "step_count": self._step_count,
            "schedules": [str(s) for s in self.group_schedules],
            "history": [dict(h) for h in self.history],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any], *, change_schedule: bool = False) -> None:
        """Resume at the saved step. The saved schedules must equal this scheduler's.

        ``change_schedule=True`` is the explicit way to continue with a different schedule
        from the saved step (extend a WSD run so its cooldown starts later, or branch a
        cooldown from a stable-phase checkpoint with :func:`lrlab.cooldown_from`). The change
        is recorded in :attr:`history` (and in later state dicts); a warning says if the LR
        jumps at the resumed step. Nothing is changed if the state dict does not fit.
        """
        if not isinstance(state_dict, Mapping) or state_dict.get("lrlab_version") != STATE_VERSION:
            raise ValueError("state_dict is not from an lrlab Scheduler (no lrlab_version "
                             f"{STATE_VERSION}); got keys {sorted(state_dict)[:8]}"
                             if isinstance(state_dict, Mapping) else
                             f"state_dict must be a mapping; got {type(state_dict).__name__}")
        saved = list(state_dict["schedules"])
        mine = [str(s) for s in self.group_schedules]
        if len(saved) != len(mine):
            raise ValueError(f"state_dict has {len(saved)} param groups; this optimizer has {len(mine)}")
        step = state_dict["last_epoch"]
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"state_dict last_epoch must be an int >= 0; got {step!r}")
        history = [dict(h) for h in state_dict.get("history", [])]
        if saved != mine:
            if not change_schedule:
                changed = next(i for i, (a, b) in enumerate(zip(saved, mine)) if a != b)
                raise ValueError(
                    f"the checkpoint's schedule for param_groups[{changed}] is {saved[changed]} "
                    f"but this scheduler has {mine[changed]}. To continue from step {step} with the "
                    "new schedule, call load_state_dict(state, change_schedule=True)"
                )
            from lrlab.schedules import parse

            old = [parse(text)(step) for text in saved]
            new = [s(step) for s in self.group_schedules]
            jumps = [(a, b) for a, b in zip(old, new) if abs(a - b) > 1e-12 * max(abs(a), abs(b))]
            if jumps:
                warnings.warn(f"the learning rate jumps at step {step} from {jumps[0][0]!r} to "
                              f"{jumps[0][1]!r} with the new schedule", UserWarning, stacklevel=2)
            history.append({"step": step, "from": saved, "to": mine})
        self._lrs_at(step)  # validates before anything changes
        self.last_epoch = step
        self._step_count = int(state_dict.get("step_count", step + 1))
        self.history = history
        self._apply(step)
