"""``Scheduler``: lrlab schedules driving a torch optimizer's hyperparameters, as a real
``LRScheduler``."""

from __future__ import annotations

import inspect
import math
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MethodType
from typing import Any, Protocol, cast

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrlab.schedules import Schedule, check_schedule
from lrlab.units import Budget

STATE_VERSION = 2
_MAX = sys.float_info.max
_BELOW_ONE = math.nextafter(1.0, 0.0)
_MAX_STEP = 2**53  # steps are exact in float64 below this

#: inclusive (low, high) bounds of the values of a scheduled key, and how to say them
_BOUNDS: dict[str, tuple[float, float, str]] = {
    "lr": (0.0, _MAX, "a finite number >= 0"),
    "momentum": (0.0, _BELOW_ONE, "in [0, 1)"),
    "beta1": (0.0, _BELOW_ONE, "in [0, 1)"),
    "beta2": (0.0, _BELOW_ONE, "in [0, 1)"),
    "weight_decay": (0.0, _MAX, "a finite number >= 0"),
    "dampening": (0.0, 1.0, "in [0, 1]"),
}
_ANY = (-_MAX, _MAX, "a finite number")
_BETAS = {"beta1": 0, "beta2": 1}
_MODES = ("ratio", "same")


class StepLogger(Protocol):
    """Receives the values update ``step`` used, one per param group: the learning rates,
    and (if it takes a third argument) every scheduled key, ``{"lr": [...], "momentum": [...]}``."""

    def __call__(self, step: int, lrs: Sequence[float], /) -> None: ...


# --- small helpers ----------------------------------------------------------------------


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


def _per_group(value: Sequence[Any] | Mapping[str, Any] | None, groups: Sequence[Mapping[str, Any]],
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
        return [value.get(g.get("name")) for g in groups]  # type: ignore[arg-type]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{what} must be a list (one entry per param group) or a mapping by "
                         f"group name; got {type(value).__name__}")
    values = list(value)
    if len(values) != len(groups):
        raise ValueError(f"{what} has {len(values)} entries for {len(groups)} param groups")
    return values


def _raw(group: Mapping[str, Any], key: str) -> Any:
    """The group's current value of ``key`` (``beta1``/``beta2``: an entry of ``betas``)."""
    if key in _BETAS:
        return group["betas"][_BETAS[key]]
    return group[key]


def _check_key(group: Mapping[str, Any], index: int, key: str) -> None:
    """``key`` can be scheduled in this group: it holds a real number or a floating tensor."""
    label = _group_label(index, group)
    if key in _BETAS:
        betas = group.get("betas")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{key!r} schedules an entry of Adam's 'betas', but optimizer {label} "
                             f"has no 'betas' pair (got {betas!r})")
        value = betas[_BETAS[key]]
    elif key not in group:
        known = sorted(k for k, v in group.items() if k != "params" and _is_number(v))
        hint = " (Adam's momentum is 'beta1')" if key == "momentum" and "betas" in group else ""
        raise ValueError(f"optimizer {label} has no {key!r}{hint}; it has {', '.join(known)}"
                         + (", and 'beta1'/'beta2' for its betas" if "betas" in group else ""))
    else:
        value = group[key]
    if isinstance(value, torch.Tensor):
        if not value.dtype.is_floating_point or value.numel() != 1:
            raise ValueError(
                f"optimizer {label} {key!r} is a {value.dtype} tensor of shape {tuple(value.shape)}: "
                "a scheduled value must be a float or a one-element floating-point tensor (an "
                "integer tensor would truncate every value, e.g. 0.0005 to 0); use "
                "lrlab.torch.use_tensor_lr(optimizer) or torch.tensor(value, dtype=torch.float32)")
    elif not _is_number(value):
        raise ValueError(f"optimizer {label} {key!r} must be a number to be scheduled; got {value!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _initial(group: Mapping[str, Any], key: str) -> float:
    """The value ``key`` had when it was first scheduled (``initial_lr``, as torch keeps it;
    ``initial_<key>`` for the others), else its current value."""
    saved = group.get(f"initial_{key}")
    return float(saved if saved is not None else _raw(group, key))


def _wants_values(log: Callable[..., Any]) -> bool:
    """True if ``log`` takes a third positional argument (the values of every key)."""
    try:
        params = list(inspect.signature(log).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                   inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3


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


# --- the plan: which schedule and scale drives each key of each group --------------------


class _KeyPlan:
    """One scheduled key: group ``i`` gets ``scales[i] * schedules[i](t)``.

    Immutable once built; adding groups builds a new one. Each distinct schedule is
    evaluated once per step (through its public ``s(t)``), then scaled per group.
    """

    def __init__(self, key: str, schedules: list[Schedule], scales: list[float],
                 groups: Sequence[Mapping[str, Any]]) -> None:
        self.key = key
        self.schedules = schedules
        self.scales = scales
        self.n = len(schedules)
        self.low, self.high, self.expected = _BOUNDS.get(key, _ANY)
        bases: list[Schedule] = []
        index: list[int] = []
        for s in schedules:
            if s not in bases:
                bases.append(s)
            index.append(bases.index(s))
        self.calls = [b.__call__ for b in bases]
        self.pairs = list(zip(index, scales))
        one = len(bases) == 1 and all(f == 1.0 for f in scales)
        self.shared: Callable[[int], float] | None = self.calls[0] if one else None
        self.beta = _BETAS.get(key)
        self.tensor = [isinstance(_raw(g, key), torch.Tensor) for g in groups]
        self.any_tensor = any(self.tensor)

    def __getstate__(self) -> dict[str, Any]:
        # ``calls`` and ``shared`` are the schedules' compiled functions: made again on load
        state = dict(self.__dict__)
        state.pop("calls", None)
        state.pop("shared", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        bases: list[Schedule] = []
        for s in self.schedules:
            if s not in bases:
                bases.append(s)
        self.calls = [b.__call__ for b in bases]
        one = len(bases) == 1 and all(f == 1.0 for f in self.scales)
        self.shared = self.calls[0] if one else None

    def values(self, t: int, groups: Sequence[Mapping[str, Any]]) -> list[float]:
        """Every group's value at update ``t``, validated (nothing is written here)."""
        low, high = self.low, self.high
        if self.shared is not None:
            v = self.shared(t)
            if low <= v <= high:
                return [v] * self.n
            raise self.bad(t, 0, v, groups)
        base = [c(t) for c in self.calls]
        out = [base[i] * f for i, f in self.pairs]  # x * 1.0 is x: the reference keeps s(t)'s bits
        for i, v in enumerate(out):
            if not low <= v <= high:
                raise self.bad(t, i, v, groups)
        return out

    def bad(self, t: int, i: int, v: float, groups: Sequence[Mapping[str, Any]]) -> ValueError:
        return ValueError(f"the {self.key!r} schedule gives {v!r} at step {t} for "
                          f"{_group_label(i, groups[i])}; {self.key} must be {self.expected}")

    def write(self, groups: Sequence[dict[str, Any]], values: list[float]) -> None:
        """Set every group's value: floats replaced, tensors filled in place."""
        key = self.key
        if self.beta is None:
            if not self.any_tensor:
                for g, v in zip(groups, values):
                    g[key] = v
            else:
                for g, v, is_tensor in zip(groups, values, self.tensor):
                    if is_tensor:
                        g[key].fill_(v)
                    else:
                        g[key] = v
            return
        j = self.beta
        for g, v in zip(groups, values):
            betas = g["betas"]
            if isinstance(betas[j], torch.Tensor):
                betas[j].fill_(v)
            else:
                g["betas"] = (v, betas[1]) if j == 0 else (betas[0], v)


class _Plan:
    """Every scheduled key's plan, for a given number of param groups."""

    def __init__(self, keys: dict[str, _KeyPlan], n_groups: int) -> None:
        self.keys = keys
        self.items = list(keys.values())
        self.n_groups = n_groups
        lr = keys.get("lr")
        # the hot path: the LR alone, one schedule unscaled for every group, and every
        # group's LR a float (or every one a tensor)
        self.fast: Callable[[int], float] | None = None
        self.fast_tensor = False
        if lr is not None and len(keys) == 1 and lr.shared is not None and (
            all(lr.tensor) or not lr.any_tensor
        ):
            self.fast = lr.shared
            self.fast_tensor = lr.any_tensor
        self.lr_index = list(keys).index("lr") if "lr" in keys else None
        # several keys, each one schedule unscaled for every group, no tensors: one call per
        # key and plain assignments (the cost of a hand-written loop per key)
        self.shared: Callable[..., None] | None = None
        if self.fast is None and all(k.shared is not None and not k.any_tensor for k in self.items):
            self.shared = _shared_step(self)

    def values(self, t: int, groups: Sequence[Mapping[str, Any]]) -> list[list[float]]:
        return [k.values(t, groups) for k in self.items]

    def __getstate__(self) -> dict[str, Any]:
        return {"keys": self.keys, "n_groups": self.n_groups}  # the generated step is rebuilt

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["keys"], state["n_groups"])  # type: ignore[misc]

    def write(self, groups: Sequence[dict[str, Any]], values: list[list[float]]) -> None:
        for k, v in zip(self.items, values):
            k.write(groups, v)


def _shared_step(plan: _Plan) -> Callable[..., None]:
    """``Scheduler.step`` for a plan whose keys each have one unscaled schedule and float
    values, written out for these keys (as ``dataclasses`` writes ``__init__``): each extra
    key costs its ``s(t)`` and one assignment per group, like a hand-written loop. The
    scheduler binds it as its ``step``; when the groups changed since (added, or LRs turned
    into tensors), or on a call with an epoch, it hands over to ``Scheduler._step_general``.
    The source holds no user text: keys and schedules are bound from ``space``."""
    space: dict[str, Any] = {}
    body, sets, betas = [], [], {}
    for i, k in enumerate(plan.items):
        space.update({f"c{i}": k.shared, f"k{i}": k.key})
        body += [f"    v{i} = c{i}(t)",
                 f"    if not {k.low!r} <= v{i} <= {k.high!r}:",  # floats: repr() is exact
                 f"        raise _bad({i}, t, v{i}, groups)"]
        if k.beta is None:
            sets.append(f"        g[k{i}] = v{i}")
        else:
            betas[k.beta] = f"v{i}"
    if betas:
        first = betas.get(0, 'g["betas"][0]')
        second = betas.get(1, 'g["betas"][1]')
        sets.append(f'        g["betas"] = ({first}, {second})')
    defaults = ", ".join(f"{name}={name}" for name in space)  # bound as defaults: fast locals
    space.update(_bad=lambda i, t, v, groups: plan.items[i].bad(t, 0, v, groups),
                 _general=Scheduler._step_general)
    lines = [f"def step(sched, epoch=None, {defaults}, _bad=_bad, _general=_general):",
             "    groups = sched.optimizer.param_groups",
             f"    if epoch is not None or len(groups) != {plan.n_groups:d}"
             + (' or type(groups[0]["lr"]) is not float' if plan.lr_index is not None else "") + ":",
             "        return _general(sched, epoch)",
             "    t = sched.last_epoch + 1",
             *body,
             "    if sched.loggers and t > 0:",
             "        sched._log(t - 1)",
             "    sched._step_count += 1",
             "    sched.last_epoch = t",
             "    for g in groups:", *sets,
             f"    sched._last = ({''.join(f'v{i}, ' for i in range(len(plan.items)))})"]
    exec("\n".join(lines), space)  # our own source: no user text in it
    step = space["step"]
    step.__doc__ = Scheduler.step.__doc__
    return cast(Callable[..., None], _outside_torch_compile(step))


class Scheduler(LRScheduler):
    """Drives ``optimizer`` with lrlab schedules: update ``t`` uses ``schedule(t)``.

    A real ``torch.optim.lr_scheduler.LRScheduler``: call ``scheduler.step()`` after
    ``optimizer.step()``, as with any torch scheduler; it works unchanged in the Hugging
    Face ``Trainer`` (``optimizers=(optimizer, scheduler)``, or
    :class:`lrlab.torch.hf.ScheduleTrainer` for lengths from the run) and in Lightning
    (``"interval": "step"``). Past the schedule's end it holds the final value.

    ``schedule`` is a Schedule (the learning rate) or a mapping from param-group keys to
    schedules, ``{"lr": s, "momentum": m}``: ``"beta1"`` and ``"beta2"`` address the entries
    of Adam's ``betas``; ``"weight_decay"`` and any other numeric key of the groups work
    alike. Values are checked before anything changes: lr and weight decay finite and
    >= 0, momentum and betas in [0, 1), other keys finite.

    Param groups (see docs/torch.md):

    - ``groups="ratio"`` keeps the ratios of the groups' initial values (``initial_lr``, as
      torch keeps it, else the current ``lr``; ``initial_<key>`` or the current value for
      the other keys): the schedule drives the ``reference`` group (an index or a group
      ``"name"``; default 0) and group ``i`` gets ``value_i / value_ref * schedule(t)``,
      torch's and transformers' behaviour for a backbone and a head at different LRs.
    - ``groups="same"``: every group gets the schedule's value (times its LR scale).
    - not given: if the groups' initial values of a key differ, construction fails with an
      error that names these options (lrlab's values are absolute, so which group the
      schedule means is the user's choice); where they are equal, both modes agree.

    LR scales (``"same"``): ``scales`` (a list by group index, or a mapping by group name),
    else the group's ``scale_key`` entry (timm's ``"lr_scale"``), else 1; in ``"ratio"``
    mode the ``scale_key`` entry multiplies the ratio. ``schedules`` gives a group its own
    LR schedule (a list, or a mapping by name). Scales apply to the LR only.

    A group added with ``optimizer.add_param_group`` after construction is scheduled from
    the next ``step()`` by the same rule: in ``"ratio"`` mode by the ratio of the value it
    was added with, in ``"same"`` mode with the schedule's value times its ``scale_key``
    entry; with no mode given, it must start at the reference group's initial values, or
    that ``step()`` raises naming the options. Removing groups raises at the next step.

    ``budget`` resolves unit lengths ('5%', '2ep', '375M tokens') of every schedule; with
    ``budget.total_steps`` a schedule that ends far from the run's end warns. See
    :func:`lrlab.torch.lightning_budget` and :class:`lrlab.torch.hf.ScheduleTrainer`.

    If a group's value is a tensor (see :func:`lrlab.torch.use_tensor_lr`), it is updated in
    place, so a compiled optimizer step never recompiles as it changes; integer and bool
    tensors are refused.

    ``loggers`` are called after each update with ``(t, lrs)``, or ``(t, lrs, values)`` if
    they take three arguments: what update ``t`` used.

    Failures change nothing: a construction, ``step()`` or ``load_state_dict()`` that raises
    leaves the scheduler and the optimizer as they were.
    """

    def __init__(self, optimizer: Optimizer, schedule: Schedule | Mapping[str, Schedule], *,
                 groups: str | None = None,
                 reference: int | str = 0,
                 scales: Sequence[float] | Mapping[str, float] | None = None,
                 schedules: Sequence[Schedule | None] | Mapping[str, Schedule] | None = None,
                 scale_key: str = "lr_scale",
                 budget: Budget | None = None,
                 loggers: Iterable[StepLogger] = ()) -> None:
        optimizer = _check_optimizer(optimizer)
        param_groups = optimizer.param_groups
        if groups is not None and groups not in _MODES:
            raise ValueError(f"groups must be 'ratio' (keep the ratios of the groups' initial "
                             f"values) or 'same' (every group gets the schedule's value); got {groups!r}")
        if groups == "ratio" and scales is not None:
            raise ValueError("give either groups='ratio' (scales from the groups' initial LRs) or "
                             "scales=..., not both")
        if budget is not None and not isinstance(budget, Budget):
            raise ValueError(f"budget must be an lrlab.Budget; got {type(budget).__name__}")
        callbacks: list[Callable[..., Any]] = list(loggers)
        for i, log in enumerate(callbacks):
            if not callable(log):
                raise ValueError(f"loggers[{i}] must be callable as log(step, lrs) or "
                                 f"log(step, lrs, values); got {type(log).__name__}")
        mapping = self._mapping(schedule)
        for key in mapping:
            for i, group in enumerate(param_groups):
                _check_key(group, i, key)
        self._reference = self._reference_index(reference, param_groups)
        own = _per_group(schedules, param_groups, "schedules")
        if "lr" not in mapping and any(s is not None for s in own):
            raise ValueError("schedules= gives groups their own LR schedule, but no 'lr' is scheduled")
        resolved = {key: self._resolve(s, key, budget) for key, s in mapping.items()}
        own = [None if s is None else self._resolve(s, f"schedules[{i}]", budget, f"schedules[{i}]")
               for i, s in enumerate(own)]
        self._mode = groups
        self._scale_key = scale_key
        self._explicit_lr = scales is not None or any(s is not None for s in own) or any(
            scale_key in g for g in param_groups)
        self._ref_initial = {key: _initial(param_groups[self._reference], key) for key in resolved}
        factors = _per_group(scales, param_groups, "scales")
        keys = {}
        for key, s in resolved.items():
            group_schedules = [own[i] if key == "lr" and own[i] is not None else s
                               for i in range(len(param_groups))]
            group_scales = [self._scale(key, i, g, factors[i],
                                        own_schedule=key == "lr" and own[i] is not None)
                            for i, g in enumerate(param_groups)]
            keys[key] = _KeyPlan(key, group_schedules, group_scales, param_groups)
        plan = _Plan(keys, len(param_groups))
        plan.values(0, param_groups)  # fails here, before the optimizer is touched
        self._check_ranges(plan, param_groups)
        if budget is not None and budget.total_steps is not None:
            self._warn_length(resolved, own, budget)
        self.schedule = resolved.get("lr")
        self.schedules = resolved
        self.loggers = callbacks
        self._log_values = [_wants_values(log) for log in self.loggers]
        self.history: list[dict[str, Any]] = []
        self._use(plan)
        # what the last step set: a float (the LR of every group, fast path), a tuple (one
        # value per key for every group, shared path) or a list (the LR of each group, with
        # every key's values in _last_values)
        self._last: float | tuple[float, ...] | list[float] = []
        self._last_values: list[list[float]] | None = None
        for key in resolved:
            if key != "lr":
                for g in param_groups:
                    value = _raw(g, key)
                    value = value.clone() if isinstance(value, torch.Tensor) else value
                    g.setdefault(f"initial_{key}", value)
        super().__init__(optimizer)  # sets initial_lr and calls step(): update 0 gets s(0)

    # --- set-up ---------------------------------------------------------------------
    @staticmethod
    def _mapping(schedule: object) -> dict[str, Schedule]:
        if isinstance(schedule, Mapping):
            if not schedule:
                raise ValueError("schedule is an empty mapping: give {'lr': schedule, ...}")
            out = {}
            for key, s in schedule.items():
                if not isinstance(key, str) or key in ("params", "betas") or key.startswith("initial_"):
                    hint = " (schedule 'beta1' and 'beta2' separately)" if key == "betas" else ""
                    raise ValueError(f"schedule keys must name a param-group hyperparameter such as "
                                     f"'lr', 'momentum', 'beta1', 'beta2', 'weight_decay'; got {key!r}{hint}")
                out[key] = check_schedule(s, f"schedule[{key!r}]")
            return out
        return {"lr": check_schedule(schedule, "schedule")}

    @staticmethod
    def _reference_index(reference: object, param_groups: Sequence[Mapping[str, Any]]) -> int:
        if isinstance(reference, str):
            names = [g.get("name") for g in param_groups]
            if reference not in names:
                raise ValueError(f"reference names group {reference!r}, which the optimizer does not "
                                 f"have (its groups are named {[str(n) for n in names]})")
            return names.index(reference)
        if isinstance(reference, bool) or not isinstance(reference, int) or not (
            0 <= reference < len(param_groups)
        ):
            raise ValueError(f"reference must be a group index in [0, {len(param_groups)}) or a group "
                             f"name; got {reference!r}")
        return reference

    @staticmethod
    def _resolve(schedule: Schedule, key: str, budget: Budget | None, what: str | None = None) -> Schedule:
        check_schedule(schedule, what or f"schedule[{key!r}]")
        if schedule.resolved:
            return schedule
        if budget is None:
            where, text = schedule.unresolved_lengths()[0]
            raise ValueError(
                f"the {key!r} schedule has {where}={text!r}: pass budget=Budget(...) (in Lightning "
                "lrlab.torch.lightning_budget(trainer); in the Hugging Face Trainer use "
                "lrlab.torch.hf.ScheduleTrainer), or resolve it first with schedule.resolve(Budget(...))")
        try:
            return schedule.resolve(budget)
        except ValueError as error:
            raise ValueError(f"the {key!r} schedule cannot be resolved with {budget}: {error}") from None

    def _scale(self, key: str, index: int, group: Mapping[str, Any], given: object, *,
               own_schedule: bool = False) -> float:
        """The factor on the schedule's value for ``key`` in this group (see the class doc)."""
        label = _group_label(index, group)
        lr_scale: object = 1.0
        if key == "lr":
            lr_scale = given if given is not None else group.get(self._scale_key, 1.0)
            if isinstance(lr_scale, bool) or not isinstance(lr_scale, (int, float)) or not (
                math.isfinite(lr_scale) and lr_scale >= 0
            ):
                raise ValueError(f"scale for {label} must be a finite number >= 0; got {lr_scale!r}")
        lr_scale = float(lr_scale)  # type: ignore[arg-type]
        mode = self._mode
        if mode == "same" or own_schedule:
            return lr_scale
        ref_value = self._ref_initial[key]
        value = _initial(group, key)
        if mode is None:
            if key == "lr" and self._explicit_lr:
                return lr_scale
            if value != ref_value:
                ref = self._reference
                what = "LR" if key == "lr" else repr(key)
                raise ValueError(
                    f"the param groups start with different values of {key!r} ({label}: {value!r}, "
                    f"param_groups[{ref}]: {ref_value!r}) and the scheduler would overwrite them. Say "
                    f"which you mean: groups='ratio' keeps their ratios (the schedule drives "
                    f"param_groups[{ref}], choose another with reference=...), groups='same' gives "
                    "every group the schedule's value"
                    + (", scales=[...] or schedules=[...] set each group's LR explicitly" if key == "lr"
                       else "") + f" (this group's {what} is {value!r})")
            return lr_scale
        # ratio
        if ref_value == 0.0:
            if value == 0.0:
                return lr_scale
            raise ValueError(f"groups='ratio' needs a reference group whose initial {key!r} is not 0; "
                             f"param_groups[{self._reference}] has 0 and {label} has {value!r}: pass "
                             "reference=<index or name> of another group")
        ratio = value / ref_value
        if not math.isfinite(ratio) or ratio < 0:
            raise ValueError(f"the {key!r} ratio of {label} to param_groups[{self._reference}] is "
                             f"{ratio!r}: it must be a finite number >= 0")
        return ratio * lr_scale

    def _check_ranges(self, plan: _Plan, param_groups: Sequence[Mapping[str, Any]]) -> None:
        """Bounded keys (momentum, betas) must stay in range over the whole schedule: checked
        on its largest value now, rather than failing part-way through the run."""
        from lrlab.inspect import summary

        for k in plan.items:
            if k.high >= _MAX:
                continue
            for s, i in {id(s): (s, i) for i, s in enumerate(k.schedules)}.values():
                try:
                    peak = summary(s).peak * max(k.scales)
                except ValueError:  # no peak to report (the per-step check still guards)
                    continue
                if not peak <= k.high:
                    raise ValueError(f"the {k.key!r} schedule reaches {peak!r} for "
                                     f"{_group_label(i, param_groups[i])}; {k.key} must be {k.expected}")

    @staticmethod
    def _warn_length(resolved: dict[str, Schedule], own: list[Schedule | None], budget: Budget) -> None:
        """Warn when a schedule ends far from the run: it reaches its final value before the
        last update but one, or after the end (``T - 1 <= length <= T`` fits: torch's
        OneCycleLR ends at ``T - 1``, transformers' schedules at ``T``)."""
        total = budget.steps_total
        named = [(key, s) for key, s in resolved.items()] + [
            (f"schedules[{i}]", s) for i, s in enumerate(own) if s is not None]
        for key, s in named:
            length = s.length
            if length is None or total - 1 <= length <= total:
                continue
            if length < total - 1:
                more = (f"it holds its final value {s.final_value!r} for the last "
                        f"{total - length:g} updates")
            else:
                more = f"the run stops before its end, at {s(math.ceil(total) - 1)!r}"
            warnings.warn(f"the {key!r} schedule ends at step {length:g} but the run has {total:g} "
                          f"updates: {more}", UserWarning, stacklevel=3)

    # --- groups added after construction ----------------------------------------------
    def _grown(self, param_groups: Sequence[dict[str, Any]]) -> _Plan:
        """The plan for the optimizer's groups now: the existing groups as they were, new
        ones by the rule in the class docstring. Pure: nothing is changed here."""
        plan = self._plan
        old = plan.n_groups
        if len(param_groups) < old:
            raise ValueError(f"the optimizer had {old} param groups when this Scheduler was built "
                             f"and has {len(param_groups)} now: groups cannot be removed from a "
                             "scheduled optimizer; build a new Scheduler")
        new = list(enumerate(param_groups))[old:]
        keys = {}
        for key, k in plan.keys.items():
            schedule = self.schedules[key]
            for i, g in new:
                _check_key(g, i, key)
            scales = [self._scale(key, i, g, None) for i, g in new]
            keys[key] = _KeyPlan(key, k.schedules + [schedule] * len(new), k.scales + scales, param_groups)
        return _Plan(keys, len(param_groups))

    def _adopt(self, param_groups: Sequence[dict[str, Any]], plan: _Plan) -> None:
        for g in param_groups[self._plan.n_groups:]:
            for key in plan.keys:
                value = _raw(g, key)
                g.setdefault("initial_lr" if key == "lr" else f"initial_{key}",
                             value.clone() if isinstance(value, torch.Tensor) else value)
        self._use(plan)

    def _use(self, plan: _Plan) -> None:
        """Make ``plan`` the scheduler's; a plan with a written-out step binds it as ``step``."""
        self._plan = plan
        # (never through self.__dict__: touching it makes every attribute access slower)
        if plan.shared is not None:
            self.step = MethodType(plan.shared, self)  # type: ignore[method-assign]
            self._bound_step = True
        elif getattr(self, "_bound_step", False):
            del self.step
            self._bound_step = False

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("step", None)  # a bound written-out step: made again from the plan
        state.pop("_bound_step", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._use(self._plan)

    # --- the hot path -----------------------------------------------------------------
    @_outside_torch_compile
    def step(self, epoch: int | None = None) -> None:
        """Move to the next update: its values are ``schedule(t + 1)``.

        Call after ``optimizer.step()``. Unlike torch's schedulers this never warns about
        the call order (a GradScaler that skipped an update is not an error) and never
        raises past the end of the schedule. Inside a ``torch.compile``d function it runs
        eagerly (as torch's own schedulers do), so the changing step and values are never
        baked into the graph. If it raises (a value out of range), nothing has changed.
        """
        if epoch is not None:
            raise TypeError("lrlab Scheduler.step() takes no epoch; to jump to a step, "
                            "load a state_dict with that step")
        plan = self._plan
        groups = self.optimizer.param_groups
        fast = plan.fast
        if fast is not None and len(groups) == plan.n_groups and (
            (type(groups[0]["lr"]) is float) is not plan.fast_tensor  # kinds as planned
        ):
            t = self.last_epoch + 1
            lr = fast(t)
            if not 0.0 <= lr <= _MAX:
                raise plan.items[0].bad(t, 0, lr, groups)
            if self.loggers and t > 0:
                self._log(t - 1)
            self._step_count += 1
            self.last_epoch = t
            if plan.fast_tensor:
                for g in groups:
                    g["lr"].fill_(lr)
            else:
                for g in groups:
                    g["lr"] = lr
            self._last = lr  # _last_lr: [lr] * groups, built when asked for
            return
        self._step_general(None)

    def _step_general(self, epoch: int | None) -> None:
        """``step()`` for every plan and every change of the groups (the fast paths hand
        over to it when the groups changed since their plan was made)."""
        if epoch is not None:
            raise TypeError("lrlab Scheduler.step() takes no epoch; to jump to a step, "
                            "load a state_dict with that step")
        plan = self._plan
        groups = self.optimizer.param_groups
        t = self.last_epoch + 1
        lr_plan = plan.keys.get("lr")
        if len(groups) != plan.n_groups or plan.fast is not None or plan.shared is not None or (
            lr_plan is not None and (type(groups[0]["lr"]) is float) is lr_plan.tensor[0]
        ):
            plan = self._grown(groups)  # groups added, or LRs turned into tensors, since
        values = plan.values(t, groups)  # validates: raises before anything changes
        if self.loggers and t > 0:
            self._log(t - 1)
        if plan is not self._plan:
            self._adopt(groups, plan)
        self._step_count += 1
        self.last_epoch = t
        plan.write(groups, values)
        self._remember(groups, values)

    @property  # type: ignore[override]
    def _last_lr(self) -> list[float]:
        """The LRs set by the last step (the fast path keeps one float: built here)."""
        last = self._last
        if isinstance(last, float):
            return [last] * self._plan.n_groups
        if isinstance(last, tuple):
            i = self._plan.lr_index
            if i is None:
                return [float(g["lr"]) for g in self.optimizer.param_groups]
            return [last[i]] * self._plan.n_groups
        return list(last)

    @_last_lr.setter
    def _last_lr(self, value: list[float]) -> None:
        self._last = value

    def _remember(self, groups: Sequence[Mapping[str, Any]], values: list[list[float]]) -> None:
        i = self._plan.lr_index
        self._last_lr = [float(g["lr"]) for g in groups] if i is None else list(values[i])
        self._last_values = values

    def _log(self, used: int) -> None:
        lrs = list(cast(list[float], self._last_lr))
        values = None
        if len(self._log_values) != len(self.loggers):  # loggers appended since
            self._log_values = [_wants_values(log) for log in self.loggers]
        for log, with_values in zip(self.loggers, self._log_values):
            if with_values:
                if values is None:
                    values = self._values_used()
                log(used, lrs, values)
            else:
                log(used, lrs)

    def _values_used(self) -> dict[str, list[float]]:
        keys = list(self._plan.keys)
        if keys == ["lr"]:
            return {"lr": list(cast(list[float], self._last_lr))}
        last = self._last
        if isinstance(last, tuple):  # the shared path keeps one value per key
            n = self._plan.n_groups
            return {key: [v] * n for key, v in zip(keys, last)}
        return {key: list(v) for key, v in zip(keys, self._last_values or [])}

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The learning rates of the current update, one per param group."""
        if "lr" not in self._plan.keys:
            return [float(g["lr"]) for g in self.optimizer.param_groups]
        return self._plan.keys["lr"].values(max(self.last_epoch, 0), self.optimizer.param_groups)

    def get_last_lr(self) -> list[float]:  # type: ignore[override]
        """The learning rates set by the last ``step()`` (floats, one per group)."""
        return list(cast(list[float], self._last_lr))

    def get_last_values(self) -> dict[str, list[float]]:
        """Every scheduled key's values set by the last ``step()``, one per group."""
        return self._values_used()

    @property
    def group_schedules(self) -> list[Schedule]:
        """The LR schedule of each group, its scale included (``scale * schedule``)."""
        k = self._plan.keys.get("lr")
        if k is None:
            return []
        return [s if f == 1.0 else s * f for s, f in zip(k.schedules, k.scales)]

    # --- checkpoints ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain data (loads with ``torch.load(weights_only=True)``): the step, and for every
        scheduled key each group's schedule (text form) and scale, so that a resume with
        another schedule is caught."""
        keys = self._plan.keys
        return {
            "lrlab_version": STATE_VERSION,
            "last_epoch": self.last_epoch,
            "step_count": self._step_count,
            "schedules": {key: [str(s) for s in k.schedules] for key, k in keys.items()},
            "scales": {key: list(k.scales) for key, k in keys.items()},
            "history": [dict(h) for h in self.history],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any], *, change_schedule: bool = False) -> None:
        """Resume at the saved step. The saved schedules must equal this scheduler's (by value).

        ``change_schedule=True`` is the explicit way to continue with different schedules
        from the saved step (extend a WSD run so its cooldown starts later, or branch a
        cooldown from a stable-phase checkpoint with :func:`lrlab.cooldown_from`). The change
        is recorded in :attr:`history` (and in later state dicts); a warning says if a value
        jumps at the resumed step. If the state dict does not fit, a ValueError names what
        and nothing changes, in the scheduler or the optimizer.
        """
        if not isinstance(state_dict, Mapping):
            raise ValueError(f"state_dict must be a mapping; got {type(state_dict).__name__}")
        version = state_dict.get("lrlab_version")
        if version not in (1, STATE_VERSION):
            raise ValueError(f"state_dict is not from an lrlab Scheduler (lrlab_version 1 or "
                             f"{STATE_VERSION}); got lrlab_version={version!r} and keys "
                             f"{sorted(map(str, state_dict))[:8]}")
        for name in ("last_epoch", "step_count", "schedules"):
            if name not in state_dict:
                raise ValueError(f"state_dict has no {name!r} (an lrlab Scheduler state has "
                                 "last_epoch, step_count, schedules and history)")
        step = state_dict["last_epoch"]
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < _MAX_STEP:
            raise ValueError(f"state_dict last_epoch must be an int in [0, 2**53); got {_short(step)}")
        count = state_dict["step_count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < _MAX_STEP:
            raise ValueError(f"state_dict step_count must be an int in [0, 2**53); got {_short(count)}")
        history = state_dict.get("history", [])
        if not isinstance(history, (list, tuple)) or not all(isinstance(h, Mapping) for h in history):
            raise ValueError(f"state_dict history must be a list of dicts; got {_short(history)}")
        history = [dict(h) for h in history]

        groups = self.optimizer.param_groups
        plan = self._grown(groups) if len(groups) != self._plan.n_groups else self._plan
        saved = _saved_schedules(state_dict, version)
        mine = {key: [s if f == 1.0 else s * f for s, f in zip(k.schedules, k.scales)]
                for key, k in plan.keys.items()}
        for key, schedules in saved.items():
            if len(schedules) != plan.n_groups:
                raise ValueError(f"state_dict has {len(schedules)} param groups; this optimizer has "
                                 f"{plan.n_groups} (in the {key!r} schedules)")
        if saved != mine:
            if not change_schedule:
                raise ValueError(_difference(saved, mine, step))
            jumps = [(key, i, a(step), b(step)) for key in saved.keys() & mine.keys()
                     for i, (a, b) in enumerate(zip(saved[key], mine[key]))]
            jumps = [j for j in jumps if abs(j[2] - j[3]) > 1e-12 * max(abs(j[2]), abs(j[3]))]
            if jumps:
                key, i, a, b = jumps[0]
                warnings.warn(f"the {key!r} value jumps at step {step} from {a!r} to {b!r} with the "
                              f"new schedule (param_groups[{i}])", UserWarning, stacklevel=2)
            history.append({"step": step, "from": {k: [str(s) for s in v] for k, v in saved.items()},
                            "to": {k: [str(s) for s in v] for k, v in mine.items()}})
        values = plan.values(step, groups)  # validates before anything changes
        if plan is not self._plan:
            self._adopt(groups, plan)
        self.last_epoch = step
        self._step_count = count
        self.history = history
        plan.write(groups, values)
        self._remember(groups, values)


def _short(value: object) -> str:
    if isinstance(value, int) and abs(value) >= 10**30:
        return f"an int of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _saved_schedules(state: Mapping[str, Any], version: int) -> dict[str, list[Schedule]]:
    """Each key's per-group schedules (their scales included) from a state dict."""
    from lrlab.schedules import parse

    raw = state["schedules"]
    if version == 1:  # one list: the LR schedule of each group, scale included
        raw, scales = {"lr": raw}, {}
    else:
        scales = state.get("scales", {})
        if not isinstance(raw, Mapping) or not isinstance(scales, Mapping):
            raise ValueError("state_dict schedules and scales must be mappings from keys to lists; got "
                             f"{type(raw).__name__} and {type(scales).__name__}")
    out: dict[str, list[Schedule]] = {}
    for key, texts in raw.items():
        if isinstance(texts, (str, bytes)) or not isinstance(texts, (list, tuple)):
            raise ValueError(f"state_dict schedules[{key!r}] must be a list of schedule texts; "
                             f"got {_short(texts)}")
        factors = scales.get(key, [1.0] * len(texts))
        if not isinstance(factors, (list, tuple)) or len(factors) != len(texts) or not all(
            _is_number(f) and math.isfinite(f) and f >= 0 for f in factors
        ):
            raise ValueError(f"state_dict scales[{key!r}] must be {len(texts)} finite numbers >= 0; "
                             f"got {_short(factors)}")
        parsed = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValueError(f"state_dict schedules[{key!r}][{i}] must be a schedule text; "
                                 f"got {_short(text)}")
            try:
                s = parse(text)
            except ValueError as error:
                raise ValueError(f"state_dict schedules[{key!r}][{i}] is not a schedule: {error}") from None
            parsed.append(s if factors[i] == 1.0 else s * float(factors[i]))
        out[key] = parsed
    return out


def _difference(saved: dict[str, list[Schedule]], mine: dict[str, list[Schedule]], step: int) -> str:
    hint = (f"To continue from step {step} with this scheduler's schedules, call "
            "load_state_dict(state, change_schedule=True)")
    if saved.keys() != mine.keys():
        return (f"the checkpoint schedules {sorted(saved)} but this scheduler schedules "
                f"{sorted(mine)}. {hint}")
    for key in saved:
        for i, (a, b) in enumerate(zip(saved[key], mine[key])):
            if a != b:
                return (f"the checkpoint's {key!r} schedule for param_groups[{i}] is {a} but this "
                        f"scheduler has {b}. {hint}")
    return hint  # pragma: no cover - saved != mine implies one of the above
