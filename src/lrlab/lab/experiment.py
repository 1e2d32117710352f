"""Experiments: compare schedules, test LR sensitivity, sweep a schedule parameter.

An experiment is a :class:`Plan` (arms x seeds of one task at one budget), executed into
a :class:`~lrlab.lab.store.Store` (finished runs are skipped on resume) and summarized per
arm. Runs of different arms with the same seed share the initialisation and the data
order, so arms are compared with **paired** differences per seed: each arm's ``vs_best``
is the mean difference of its score to the best arm's, seed by seed, with a 95% t
confidence interval and a p-value Holm-corrected across the arms, and a verdict ``best``,
``worse`` or ``not separated``. The score is the final validation loss (the final training
loss for tasks without validation).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lrlab.schedules import Schedule, parse
from lrlab.units import Budget

from .executors import Executor, InlineExecutor
from .runs import RunSpec, outcome_from_dict
from .stats import Paired, Spread, holm, paired_difference, spread
from .store import Store
from .tasks import check_task_options, get_task
from .templates import TEMPLATES

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: the most seeds per arm, and runs per experiment, the lab accepts (checked before
#: anything is allocated)
MAX_SEEDS = 10_000
MAX_RUNS = 1_000_000

#: the generic DIVERGED rule: non-finite, or an end loss above the start by more than this
#: fraction of the start (a flat run that ends 0.0001 above its start is not diverged)
DIVERGED_TOLERANCE = 0.02

GENERIC_STATUS_RULE = (
    f"DIVERGED if a loss went non-finite (or the task stopped an exploding run) or end > "
    f"start x {1 + DIVERGED_TOLERANCE:g}; BARELY MOVED if end > 0.9 x start; CONVERGED if end < "
    "the task's converged_loss ({converged:g}); else LEARNING"
)


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Put ``values`` into the ``{name}`` placeholders of a schedule text (a list value is
    written as a list: ``{milestones}`` with ``[100, 200]``)."""
    missing = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if missing:
        raise ValueError(f"schedule {template!r} has placeholders {missing} with no value: "
                         "give them with --param NAME=V1,V2")
    return _PLACEHOLDER.sub(lambda m: _literal(values[m.group(1)]), template)


def _scaled_preset(name: str, steps: int) -> tuple[Schedule, str | None]:
    """A preset at this run's budget: rescaled when every length is relative to its budget
    (tokens, epochs, '%'), else as published, with a warning when its length differs."""
    from lrlab.presets import PRESETS

    preset = PRESETS[name]
    written = parse(preset.spec)
    budget = preset.budget
    own = preset.schedule
    length = own.length
    if length is None or length == steps:
        return own, None
    if budget.total_steps is not None:
        total = budget.steps_total
        factor = total / steps
        tokens, epoch = budget.tokens_per_step, budget.steps_per_epoch
        scaled = Budget(steps, tokens_per_step=None if tokens is None else tokens * factor,
                        steps_per_epoch=None if epoch is None else epoch / factor)
        try:
            candidate = written.resolve(scaled)
            double = written.resolve(Budget(2 * steps,
                                            tokens_per_step=None if scaled.tokens_per_step is None
                                            else scaled.tokens_per_step / 2,
                                            steps_per_epoch=None if scaled.steps_per_epoch is None
                                            else scaled.steps_per_epoch * 2))
        except ValueError:
            return own, (f"preset {name!r} is {_steps(length)} steps long as published and cannot be "
                         f"rescaled; the run has {steps} steps")
        if (candidate.length is not None
                and double.length is not None and not written.resolved
                and math.isclose(double.length, 2 * candidate.length, rel_tol=1e-9)):
            return candidate, (f"preset {name!r} ({_steps(length)} steps as published) is rescaled to "
                               f"the run's {steps} steps: every length of it is relative to its budget")
    return own, (f"preset {name!r} is {_steps(length)} steps long as published and cannot be "
                 f"rescaled (it has lengths in plain steps); the run has {steps} steps")


def _steps(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:.4g}"


def schedule_for(spec: str, *, peak: float, steps: int, values: Mapping[str, Any] | None = None
                 ) -> tuple[str, Schedule]:
    """(label, resolved schedule) for a template name, a preset name or a text form.

    A text form may use ``{peak}`` and other placeholders, and lengths relative to the run
    (``'5%'``); a preset whose lengths are all relative to its budget is rescaled to the
    run (see :func:`budget_warnings` for the others).
    """
    label, schedule, _ = _schedule_and_note(spec, peak=peak, steps=steps, values=values)
    return label, schedule


def _schedule_and_note(spec: str, *, peak: float, steps: int, values: Mapping[str, Any] | None = None,
                       templates: Mapping[str, str] | None = None) -> tuple[str, Schedule, str | None]:
    from lrlab.presets import PRESETS

    values = {"peak": peak, "steps": steps, **(values or {})}
    templates = TEMPLATES if templates is None else templates
    if spec in templates:
        return spec, parse(fill(templates[spec], values)).resolve(Budget(total_steps=steps)), None
    folded = {name.lower(): name for name in PRESETS}
    if spec.strip().lower() in folded:  # preset names as `lrlab show` takes them
        name = folded[spec.strip().lower()]
        schedule, note = _scaled_preset(name, steps)
        return spec, schedule, note
    if "(" not in spec and "{" not in spec:
        _unknown_schedule(spec, templates)
    return spec, parse(fill(spec, values)).resolve(Budget(total_steps=steps)), None


def _unknown_schedule(name: str, templates: Mapping[str, str]) -> None:
    """A bare word that is neither a template nor a preset: say so, with a close match."""
    import difflib

    from lrlab.presets import PRESETS
    from lrlab.schedules import FAMILIES

    names = list(templates) + list(PRESETS)
    folded = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.strip().lower(), list(folded), n=1, cutoff=0.5)
    if name in FAMILIES:
        raise ValueError(f"--schedule {name!r} is a schedule family: give its arguments, e.g. "
                         f"{name}(...), or a template or preset name")
    hint = f" (did you mean {folded[close[0]]!r}?)" if close else ""
    raise ValueError(f"--schedule {name!r} is not a template, a preset or a schedule{hint}: expected "
                     f"one of the templates {', '.join(templates)}, a preset name (`lrlab presets`), "
                     "or a text form such as \"cosine({peak}, 0.0, '100%')\"")


def budget_warnings(label: str, schedule: Schedule, steps: int) -> list[str]:
    """Warnings when ``schedule``'s length differs from the run's ``steps``: shorter, it
    holds its final value for the rest of the run; longer, its decay never completes."""
    length = schedule.length
    if length is None or math.isclose(length, steps, rel_tol=0.0, abs_tol=1e-9):
        return []
    if length < steps:
        share = 100.0 * (steps - length) / steps
        return [f"schedule {label!r} is {_steps(length)} steps long and the run has {steps}: it holds "
                f"its final LR {schedule.final_value:.4g} for the last {share:.3g}% of the run"]
    end_lr = schedule(steps - 1)
    return [f"schedule {label!r} is {_steps(length)} steps long and the run has {steps}: it is cut "
            f"at {100.0 * steps / length:.3g}% of its length (LR {end_lr:.4g} at the last update, "
            f"not its final {schedule.final_value:.4g})"]


@dataclass(frozen=True)
class Arm:
    """One arm of an experiment: a label, the resolved schedule text, the swept values."""

    label: str
    schedule: str
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Plan:
    """What an experiment runs: ``arms`` x ``seeds`` of ``task`` for ``steps`` updates.

    ``warnings`` says where an arm's schedule does not match the run's budget.
    """

    kind: str
    task: str
    steps: int
    seeds: tuple[int, ...]
    arms: tuple[Arm, ...]
    options: tuple[tuple[str, Any], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def experiment(self) -> dict[str, Any]:
        """What identifies the experiment in its store: its kind and task."""
        return {"kind": self.kind, "task": self.task}

    @property
    def specs(self) -> list[RunSpec]:
        return [RunSpec(self.task, arm.schedule, seed, self.steps, arm.label, self.options, arm.params)
                for arm in self.arms for seed in self.seeds]


def _check_common(task: str, steps: int | None, seeds: int | None, options: Mapping[str, Any] | None,
                  default_steps: int | None = None, default_seeds: int = 1):
    task_obj = get_task(task)
    if steps is None:
        steps = default_steps if default_steps is not None else task_obj.default_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"--steps must be a positive int; got {steps!r}")
    if seeds is None:
        seeds = int(getattr(task_obj, "default_seeds", default_seeds))
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"--seeds must be an int from 1 to {MAX_SEEDS}; got {seeds!r}")
    opts = dict(options or {})
    full = check_task_options(task_obj, opts)  # names, types and ranges, before any run starts
    # canonical: a value equal to the option's default is the same run as leaving it out
    defaults = dict(getattr(task_obj, "options", {}) or {})
    canonical = {k: full.get(k, v) for k, v in opts.items()}
    canonical = {k: v for k, v in canonical.items() if not (k in defaults and _same(v, defaults[k]))}
    return task_obj, steps, tuple(range(seeds)), tuple(sorted(canonical.items()))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b and type(a) in (type(b), int, float) and type(b) in (type(a), int, float)


def _check_runs(arms: int, seeds: int) -> None:
    if arms * seeds > MAX_RUNS:
        raise ValueError(f"the experiment would have {arms} arms x {seeds} seeds = {arms * seeds} runs; "
                         f"the lab runs at most {MAX_RUNS:,} per experiment")


def plan_compare(task: str, schedules: Sequence[str] | None = None, *, peak: float | None = None,
                 steps: int | None = None, seeds: int | None = 3, options: Mapping[str, Any] | None = None
                 ) -> Plan:
    """Schedules side by side at the same peak LR and budget (default: the task's own
    schedules if it has some, e.g. ``circle-lesson``'s five, else the six classics)."""
    task_obj, steps, seed_list, opts = _check_common(task, steps, seeds, options, default_seeds=3)
    peak = task_obj.default_peak if peak is None else _check_lr(peak, "--peak")
    own = getattr(task_obj, "default_schedules", None)
    mine = dict(own(peak, steps)) if own is not None else {}
    templates = {**TEMPLATES, **mine}  # the task's own definitions win (circle-lesson's cosine)
    if schedules is None:
        schedules = list(mine or TEMPLATES)
    if not schedules:
        raise ValueError("compare needs at least one --schedule")
    _check_runs(len(schedules), len(seed_list))
    arms, warnings = [], []
    for spec in schedules:
        label, schedule, note = _schedule_and_note(spec, peak=peak, steps=steps, templates=templates)
        if note:
            warnings.append(note)
        if spec not in TEMPLATES or spec in mine:  # the six are designed for the run (step holds its end)
            warnings += budget_warnings(label, schedule, steps)
        arms.append(Arm(label, str(schedule)))
    return Plan("compare", task_obj.name, steps, seed_list, _unique(arms), opts, {"peak": peak},
                tuple(warnings))


def log_grid(high: float, low: float, count: int) -> list[float]:
    """``count`` learning rates from ``high`` down to ``low``, evenly spaced in log."""
    if count < 2:
        return [high]
    ratio = math.log(low / high) / (count - 1)
    return [float(f"{high * math.exp(ratio * i):.6g}") for i in range(count)]


def plan_sensitivity(task: str, lrs: Sequence[float] | None = None, *, steps: int | None = None,
                     seeds: int | None = 1, options: Mapping[str, Any] | None = None) -> Plan:
    """Constant LR over a grid: the task's own (``sensitivity_lrs``, at its
    ``sensitivity_steps``) if it has one, else 9 values from 1.0 down to 1e-4."""
    task_obj = get_task(task)
    task_obj, steps, seed_list, opts = _check_common(task, steps, seeds, options,
                                                     getattr(task_obj, "sensitivity_steps", None))
    grid = list(lrs) if lrs else list(getattr(task_obj, "sensitivity_lrs", None) or log_grid(1.0, 1e-4, 9))
    _check_runs(len(grid), len(seed_list))
    arms = [Arm(f"lr={_check_lr(lr, '--lrs')!r}", str(parse(f"constant({lr!r})")), (("lr", lr),))
            for lr in grid]
    return Plan("sensitivity", task_obj.name, steps, seed_list, _unique(arms), opts)


def plan_sweep(task: str, template: str, grid: Mapping[str, Sequence[Any]], *, peak: float | None = None,
               steps: int | None = None, seeds: int | None = 2, options: Mapping[str, Any] | None = None
               ) -> Plan:
    """A grid over any schedule parameter: ``template`` has ``{name}`` placeholders filled
    with every combination of ``grid`` (``{peak}`` defaults to the task's peak, ``{steps}``
    is the run's length). A value may be a list (``milestones=[100, 200]``)."""
    task_obj, steps, seed_list, opts = _check_common(task, steps, seeds, options, default_seeds=2)
    if not grid:
        raise ValueError("sweep needs at least one --param NAME=V1,V2,...")
    names = list(grid)
    count = math.prod(len(grid[n]) for n in names)
    _check_runs(count, len(seed_list))
    arms, warnings = [], []
    for combo in itertools.product(*(grid[n] for n in names)):
        values = dict(zip(names, combo))
        base_peak = values.get("peak", task_obj.default_peak if peak is None else peak)
        label = ", ".join(f"{n}={_literal(v)}" for n, v in values.items())
        _, schedule, note = _schedule_and_note(template, peak=base_peak, steps=steps, values=values,
                                               templates={})
        if note:
            warnings.append(note)
        warnings += budget_warnings(label, schedule, steps)
        arms.append(Arm(label, str(schedule), tuple(values.items())))
    return Plan("sweep", task_obj.name, steps, seed_list, _unique(arms), opts, {"template": template},
                tuple(warnings))


def _check_lr(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{name} must be a positive finite learning rate; got {value!r}")
    return float(value)


def _unique(arms: Iterable[Arm]) -> tuple[Arm, ...]:
    seen: dict[str, Arm] = {}
    for arm in arms:
        seen.setdefault(arm.label, arm)
    return tuple(seen.values())


# --- running -------------------------------------------------------------------------------


def run_plan(plan: Plan, out: str | Store, executor: Executor | None = None,
             on_result: Callable[[int, int, RunSpec, str | None], None] | None = None,
             on_start: Callable[[int, int], None] | None = None,
             on_wall: Callable[[float], None] | None = None,
             progress_dir: str | None = None) -> ArmTable:
    """Execute the plan's unfinished runs into the store in ``out``; summarize every arm.

    ``out`` is the run directory, or a :class:`Store` already open on it (then it stays
    open). Each run is committed as soon as it ends. ``on_start(todo, total)`` is called once
    before the first run starts; ``on_result(done, todo, spec, error)`` after each (for
    progress lines). With ``progress_dir``, each run writes its current update to a file
    named by its key there, about once a second (see :func:`lrlab.lab.runs.read_step_progress`).
    """
    executor = executor or InlineExecutor()
    if isinstance(out, Store):
        return _run_into(plan, out, executor, on_result, on_start, on_wall, progress_dir)
    with Store(out, plan.experiment) as store:
        return _run_into(plan, store, executor, on_result, on_start, on_wall, progress_dir)


def _run_into(plan: Plan, store: Store, executor: Executor,
              on_result: Callable[[int, int, RunSpec, str | None], None] | None,
              on_start: Callable[[int, int], None] | None,
              on_wall: Callable[[float], None] | None, progress_dir: str | None = None) -> ArmTable:
    finished = store.done_keys()
    todo: dict[str, RunSpec] = {}
    for spec in plan.specs:
        if spec.key not in finished:
            todo.setdefault(spec.key, spec)
    total = len(todo)
    if on_start is not None:
        on_start(total, len(plan.specs))
    extra = {"progress_dir": progress_dir} if progress_dir else {}
    for count, data in enumerate(executor.run([{**s.to_dict(), **extra} for s in todo.values()]), start=1):
        outcome = outcome_from_dict(data)
        spec = outcome.spec
        if progress_dir:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(progress_dir, spec.key))
        if outcome.error is not None:
            store.record_failure(spec.key, spec.label, outcome.error)
        else:
            store.save(spec.key, spec.label, {**spec.config, "params": dict(spec.params)},
                       outcome.history, outcome.info, outcome.wall_s)
        if on_wall is not None:
            on_wall(outcome.wall_s)
        if on_result is not None:
            on_result(count, total, spec, outcome.error)
    return summarize(plan, store)


# --- summaries -----------------------------------------------------------------------------

METRIC_KEYS = ("start", "middle", "end", "best", "val_loss", "best_val_loss", "accuracy")
STATUSES = ("DIVERGED", "BARELY MOVED", "LEARNING", "CONVERGED")


@dataclass(frozen=True)
class VsBest:
    """An arm against the best arm, paired by seed: mean difference of the score (arm
    minus best), its 95% CI, the Holm-corrected p-value, and the verdict."""

    mean_diff: float | None
    ci: tuple[float, float] | None
    p_holm: float | None
    verdict: str
    n: int = 0
    diverged: str = ""  # e.g. "2/3 runs DIVERGED": why an arm is worse without a test

    def to_dict(self) -> dict[str, Any]:
        return {"mean_diff": self.mean_diff, "ci": None if self.ci is None else list(self.ci),
                "p_holm": self.p_holm, "verdict": self.verdict}

    def text(self) -> str:
        """``best``, ``worse by +0.041 (CI [+0.020, +0.062], p_holm=0.003, 3 seeds)``, or ``not
        separated at 3 seeds (difference CI [-0.010, +0.030])``."""
        if self.verdict == "best":
            return "best"
        if self.diverged:
            return f"worse: {self.diverged}"
        if self.n == 0 or self.mean_diff is None:
            return self.verdict + (" (no finite pairs)" if self.verdict == "worse" else " (no paired seeds)")
        if self.ci is None:
            return f"not separated: 1 seed cannot separate arms (difference {self.mean_diff:+.4g})"
        ci = f"[{self.ci[0]:+.3g}, {self.ci[1]:+.3g}]"
        if self.verdict == "worse":
            return f"worse by {self.mean_diff:+.3g} (CI {ci}, p_holm={self.p_holm:.2g}, {self.n} seeds)"
        if self.p_holm is not None and self.ci[0] > 0:  # the unadjusted interval excludes 0
            return (f"not separated at {self.n} seeds after Holm's correction (p_holm={self.p_holm:.2g}; "
                    f"unadjusted difference CI {ci})")
        return f"not separated at {self.n} seeds (difference CI {ci})"


@dataclass(frozen=True)
class ArmSummary:
    """One arm over its seeds: a Spread per metric, run statuses, the arm's status, rank
    and its paired comparison with the best arm."""

    label: str
    schedule: str
    params: tuple[tuple[str, Any], ...]
    runs: int
    diverged: int
    metrics: Mapping[str, Spread]
    status: str = ""
    rank: int = 0
    statuses: Mapping[str, int] = field(default_factory=dict)
    vs_best: VsBest | None = None
    scores: Mapping[int, float] = field(default_factory=dict)

    @property
    def status_counts(self) -> str:
        """``3/5 CONVERGED, 2/5 LEARNING`` (most frequent first)."""
        if not self.statuses:
            return self.status
        ordered = sorted(self.statuses.items(), key=lambda kv: (-kv[1], STATUSES.index(kv[0])
                                                                if kv[0] in STATUSES else 9))
        return ", ".join(f"{count}/{self.runs} {name}" for name, count in ordered)

    def to_dict(self) -> dict[str, Any]:
        def number(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "label": self.label, "schedule": self.schedule, "params": dict(self.params),
            "runs": self.runs, "diverged": self.diverged, "status": self.status,
            "statuses": dict(self.statuses), "rank": self.rank,
            "vs_best": None if self.vs_best is None else self.vs_best.to_dict(),
            **{k: {"mean": number(s.mean), "std": number(s.std), "n": s.n} for k, s in self.metrics.items()},
        }


@dataclass(frozen=True)
class ArmTable:
    """The result of an experiment: one summary per arm, best first, and its store keys."""

    plan: Plan
    arms: tuple[ArmSummary, ...]
    missing: int
    failures: tuple[tuple[str, str, str], ...]
    score: str
    status_rule: str = ""
    loss_meaning: str = "training loss"
    digits: int = 4

    @property
    def best(self) -> ArmSummary | None:
        found = [a for a in self.arms if a.vs_best is not None and a.vs_best.verdict == "best"]
        return found[0] if found else None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.plan.kind, "task": self.plan.task, "steps": self.plan.steps,
                "seeds": len(self.plan.seeds), "score": self.score, "missing_runs": self.missing,
                "failures": [{"label": label, "error": error} for _, label, error in self.failures],
                "warnings": list(self.plan.warnings), "status_rule": self.status_rule,
                "best": self.best.label if self.best else None,
                "arms": [a.to_dict() for a in self.arms]}


def run_status(start: float | None, end: float | None, diverged: bool, converged_loss: float) -> str:
    """The status of one run, by the generic rule (see :data:`GENERIC_STATUS_RULE`)."""
    if diverged or start is None or end is None or not math.isfinite(end) or not math.isfinite(start):
        return "DIVERGED"
    if end > start * (1.0 + DIVERGED_TOLERANCE):
        return "DIVERGED"
    if end > 0.9 * start:
        return "BARELY MOVED"
    if end < converged_loss:
        return "CONVERGED"
    return "LEARNING"


def status_of(metrics: Mapping[str, Spread], diverged: int, converged_loss: float) -> str:
    """The generic status applied to an arm's mean start and end loss (kept for callers of
    the earlier API; the lab itself gives each run its own status)."""
    return run_status(metrics["start"].mean, metrics["end"].mean, bool(diverged), converged_loss)


def _arm_status(statuses: Counter[str]) -> str:
    """The most frequent run status; a tie goes to the worse one (DIVERGED first)."""
    if not statuses:
        return "MISSING"
    return sorted(statuses.items(), key=lambda kv: (-kv[1], STATUSES.index(kv[0])))[0][0]


def summarize(plan: Plan, store: Store) -> ArmTable:
    """Per-arm means and spreads over seeds, per-run statuses, and the paired comparison of
    every arm with the best (lowest mean score among the arms with no DIVERGED run; an arm
    with one is ``worse``)."""
    task = get_task(plan.task)
    specs = plan.specs
    stored = {run.key: run for run in store.runs(s.key for s in specs)}
    has_val = any(run.summary.get("val_loss") is not None for run in stored.values())
    score = "val_loss" if has_val else "end"
    own_status = getattr(task, "status", None)
    rule = getattr(task, "status_rule", None) or GENERIC_STATUS_RULE.format(converged=task.converged_loss)

    def status(summary: Mapping[str, Any]) -> str:
        start, end = summary.get("start"), summary.get("end")
        if own_status is not None and start is not None and end is not None and not summary.get("diverged"):
            return str(own_status(start, end))
        return run_status(start, end, bool(summary.get("diverged")), task.converged_loss)

    drafts: list[ArmSummary] = []
    for arm in plan.arms:
        runs = [(s.seed, stored[s.key]) for s in specs if s.label == arm.label and s.key in stored]
        metrics = {k: spread([r.summary.get(k) for _, r in runs]) for k in METRIC_KEYS}
        diverged = sum(bool(r.summary.get("diverged")) for _, r in runs)
        counts = Counter(status(r.summary) for _, r in runs)
        scores = {seed: _number(r.summary.get(score)) for seed, r in runs}
        drafts.append(ArmSummary(arm.label, arm.schedule, arm.params, len(runs), diverged, metrics,
                                 _arm_status(counts), 0, dict(counts), None, scores))

    def usable(a: ArmSummary) -> bool:
        return (a.runs > 0 and a.diverged == 0 and not a.statuses.get("DIVERGED")
                and not math.isnan(a.metrics[score].mean))

    candidates = sorted((a for a in drafts if usable(a)), key=lambda a: a.metrics[score].mean)
    best = candidates[0] if candidates else None
    paired: dict[str, Paired] = {}
    if best is not None:
        for other in drafts:
            if other is best:
                continue
            seeds = sorted(set(other.scores) & set(best.scores))
            paired[other.label] = paired_difference([other.scores[s] for s in seeds],
                                                    [best.scores[s] for s in seeds])
    labels = list(paired)
    adjusted = dict(zip(labels, holm([paired[k].p for k in labels])))

    def verdict(arm: ArmSummary) -> VsBest:
        if best is None:
            return VsBest(None, None, None, "not separated")
        if arm is best:
            return VsBest(0.0, None, None, "best", best.metrics[score].n)
        p = paired[arm.label]
        if arm.diverged or arm.statuses.get("DIVERGED"):
            count = max(arm.statuses.get("DIVERGED", 0), arm.diverged)
            return VsBest(p.mean_diff, p.ci, adjusted[arm.label], "worse", p.n,
                          f"{count}/{arm.runs} runs DIVERGED")
        p_holm = adjusted[arm.label]
        worse = p_holm is not None and p_holm < 0.05 and p.mean_diff is not None and p.mean_diff > 0
        return VsBest(p.mean_diff, p.ci, p_holm, "worse" if worse else "not separated", p.n)

    def order(a: ArmSummary) -> tuple[int, float]:
        value = a.metrics[score].mean
        return (0 if usable(a) else 1 if a.runs else 2, value if not math.isnan(value) else math.inf)

    final = []
    for i, draft in enumerate(sorted(drafts, key=order), start=1):
        final.append(ArmSummary(draft.label, draft.schedule, draft.params, draft.runs, draft.diverged,
                                draft.metrics, draft.status, i, draft.statuses, verdict(draft), draft.scores))
    missing = len(specs) - sum(1 for s in specs if s.key in stored)
    planned = {s.key for s in specs}
    open_failures: dict[str, tuple[str, str, str]] = {}
    for key, label, error in store.failures():  # the latest error of each run still missing
        if key in planned and key not in stored:
            open_failures[key] = (key, label, error)
    meaning = getattr(task, "loss_meaning", None) or "training loss"
    return ArmTable(plan, tuple(final), missing, tuple(open_failures.values()), score, rule, meaning,
                    int(getattr(task, "digits", 4)))


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)
