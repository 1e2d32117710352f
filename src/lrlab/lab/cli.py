"""The lab's commands: ``lrlab compare``, ``lrlab sensitivity``, ``lrlab sweep`` and
``lrlab tasks``.

Registering them imports nothing heavy: the lab's machinery (tasks, store, executors,
numpy-heavy summaries, matplotlib) is imported inside the command that runs.

Exit statuses (:mod:`lrlab.cliutil`): 0 when every run finished, 2 for a bad command line
or an unusable ``--out``, 3 when some runs raised (their tracebacks are on stderr and in
report.md), 130 after Ctrl-C (the finished runs are kept: run the same command to resume).
"""

from __future__ import annotations

import argparse
import ast
import json
import shlex
import shutil
import sys
import tempfile
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lrlab.cliutil import EXIT_INTERRUPTED, EXIT_RUNS_FAILED, CLIError, int_arg, no_duplicates, warn

if TYPE_CHECKING:
    from .experiment import ArmTable, Plan

from .templates import TEMPLATES

TEMPLATE_NAMES = tuple(TEMPLATES)


_positive_int = int_arg(1)


def _value(text: str) -> Any:
    """A command-line value: a number, true/false, a list ``[100, 200]``, or else the text
    itself ('5%')."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text.strip()
    if isinstance(value, (int, float, str, bool)):
        return value
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value
    ):
        return list(value)
    raise argparse.ArgumentTypeError(f"expected a number, a string or a list of them; got {text!r}")


def _split(text: str) -> list[str]:
    """Split at the commas outside brackets and quotes: ``[1,2],[3,4]`` -> two items."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _option(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE; got {text!r}")
    return name.strip(), _value(value)


def _param(text: str) -> tuple[str, list[Any]]:
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=V1,V2,... (a list value as [100,200]); got {text!r}")
    items = _split(values)
    if any(not v.strip() for v in items):
        raise argparse.ArgumentTypeError(f"an empty value in {text!r}: expected NAME=V1,V2,...")
    return name.strip(), [_value(v) for v in items]


def _lrs(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected learning rates such as 1,0.1,0.01; got {text!r}") from None
    if any(not (v > 0 and v < float("inf")) for v in values):
        raise argparse.ArgumentTypeError(f"learning rates must be positive and finite; got {text!r}")
    return values


def _peak(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive learning rate such as 3e-3; got {text!r}")
    return value


def _common(parser: argparse.ArgumentParser, seeds: int) -> None:
    parser.add_argument("--task", required=True,
                        help="circle, circle-lesson, digits, charlm, or module:function for your own task "
                        "(`lrlab tasks` lists them)")
    parser.add_argument("--steps", type=_positive_int, help="updates per run (default: the task's)")
    parser.add_argument("--seeds", type=_positive_int, default=None,
                        help=f"seeds per arm (default: the task's, else {seeds}); runs of different arms "
                        "with the same seed share the initialisation and data order")
    parser.add_argument("--out", required=True, help="run directory (its SQLite store makes runs resumable)")
    parser.add_argument("--executor", default="local", choices=("local", "inline", "ray"),
                        help="local process pool (default), inline, or Ray")
    parser.add_argument("--workers", type=_positive_int, help="local executor: processes (default: cores)")
    parser.add_argument("--address", help="ray executor: cluster address (default: start a local Ray)")
    parser.add_argument("--option", type=_option, action="append", default=[], metavar="NAME=VALUE",
                        help="a task option, e.g. n_layer=2 (repeatable, each name once)")
    parser.add_argument("--no-figures", action="store_true", help="write report.md without figures")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def add_commands(commands: Any) -> None:
    """Register compare, sensitivity, tasks and sweep on the main parser's subcommands."""
    compare = commands.add_parser(
        "compare", help="train a task under several schedules, same peak and budget",
        description="Train TASK under each schedule (template names "
        f"{', '.join(TEMPLATE_NAMES)}; preset names, as `lrlab show` takes them; or text forms, "
        "which may use {peak}, {steps} and '%' lengths) with several seeds; print the table and "
        "write report.md to --out. A task may bring its own default schedules (circle-lesson: "
        "the lesson's five).")
    compare.add_argument("--schedule", action="append", default=[], metavar="SPEC",
                         help="a schedule (repeatable; default: the task's own, "
                         "else the six classic templates)")
    compare.add_argument("--peak", type=_peak, help="peak LR for templates and {peak} (default: the task's)")
    _common(compare, seeds=3)
    compare.set_defaults(handler=_compare, run=run_command)

    sensitivity = commands.add_parser(
        "sensitivity", help="constant LR over a log grid, with a status per run",
        description="Train TASK at constant learning rates (default: the task's own grid, else 9 "
        "values from 1.0 to 1e-4); each run gets DIVERGED, BARELY MOVED, LEARNING or CONVERGED, "
        "rows are sorted by LR and the best LR is named and marked in sensitivity.png.")
    sensitivity.add_argument("--lrs", type=_lrs, help="comma-separated learning rates")
    _common(sensitivity, seeds=1)
    sensitivity.set_defaults(handler=_sensitivity, run=run_command)

    tasks = commands.add_parser(
        "tasks", help="list the built-in tasks and their options",
        description="List the built-in training tasks: what they train, their default budget "
        "and peak LR, and the options --option NAME=VALUE accepts.")
    tasks.add_argument("--json", action="store_true", help="print JSON")
    tasks.set_defaults(run=_tasks)

    sweep = commands.add_parser(
        "sweep", help="a grid over schedule parameters",
        description="Fill the {name} placeholders of --schedule with every combination of the "
        "--param values, e.g. --schedule \"warmup({w}, cosine({peak}, 0, REST))\" "
        "--param w=0,'1%',100 --param peak=1e-3,3e-3. REST is the rest of the run after the "
        "phases before it, so every arm ends at the run's last step. A value may be a list: "
        "--param milestones=[100,200],[150,300].")
    sweep.add_argument("--schedule", required=True, metavar="TEMPLATE",
                       help="schedule text with {name} placeholders")
    sweep.add_argument("--param", type=_param, action="append", default=[], metavar="NAME=V1,V2",
                       help="values of a placeholder (repeatable, each name once)")
    sweep.add_argument("--peak", type=_peak, help="value of {peak} if not swept (default: the task's)")
    _common(sweep, seeds=2)
    sweep.set_defaults(handler=_sweep, run=run_command)


def _tasks(args: argparse.Namespace) -> int:
    from .tasks import TASKS

    records = [{"name": t.name, "description": t.description, "default_steps": t.default_steps,
                "default_peak": t.default_peak, "converged_loss": t.converged_loss,
                "options": t.option_help()} for t in TASKS.values()]  # type: ignore[attr-defined]
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    for r in records:
        print(f"{r['name']}: {r['description']}")
        print(f"  default: {r['default_steps']} updates at peak LR {r['default_peak']:g}; "
              f"CONVERGED below a training loss of {r['converged_loss']:g}")
        for name, text in r["options"].items():
            print(f"  --option {name}=...  {text}")
        print()
    print("Your own task: --task module:function (see docs/tasks.md).")
    return 0


def _seeds(args: argparse.Namespace, fallback: int) -> int:
    if args.seeds is not None:
        return int(args.seeds)
    from .tasks import get_task

    return int(getattr(get_task(args.task), "default_seeds", fallback))


def _compare(args: argparse.Namespace) -> Plan:
    from .experiment import plan_compare

    return plan_compare(args.task, args.schedule or None, peak=args.peak, steps=args.steps,
                        seeds=_seeds(args, 3), options=no_duplicates(args.option, "--option"))


def _sensitivity(args: argparse.Namespace) -> Plan:
    from .experiment import plan_sensitivity

    return plan_sensitivity(args.task, args.lrs, steps=args.steps, seeds=_seeds(args, 1),
                            options=no_duplicates(args.option, "--option"))


def _sweep(args: argparse.Namespace) -> Plan:
    from .experiment import plan_sweep

    return plan_sweep(args.task, args.schedule, no_duplicates(args.param, "--param"), peak=args.peak,
                      steps=args.steps, seeds=_seeds(args, 2), options=no_duplicates(args.option, "--option"))


def _check_args(args: argparse.Namespace) -> None:
    if not args.out or not str(args.out).strip():
        raise CLIError(f"--out must name a directory; got {args.out!r}")
    if args.address is not None and args.executor != "ray":
        raise CLIError(f"--address is for --executor ray; got --executor {args.executor} "
                       f"with --address {args.address!r}")


def run_command(args: argparse.Namespace) -> int:
    """Plan, run (resuming), summarize, report. Bad input raises CLIError/ValueError for
    the caller (exit 2); returns 3 when some runs raised."""
    _check_args(args)
    from .executors import LocalExecutor, make_executor
    from .experiment import run_plan
    from .progress import Progress
    from .report import write_report
    from .runs import read_step_progress
    from .store import Store, StoreError

    argv: Sequence[str] = getattr(args, "argv", [])
    plan = args.handler(args)
    executor = make_executor(args.executor, args.workers, args.address)
    workers = executor.workers if isinstance(executor, LocalExecutor) else 1
    bar = Progress(workers=workers)

    def started(todo: int, total: int) -> None:
        for message in plan.warnings:  # once the store is open: an unusable --out fails first
            warn(message)
        bar.start(todo, total, f"{plan.kind} {plan.task} ({len(plan.arms)} arms x {len(plan.seeds)} seeds, "
                               f"{plan.steps} updates each)")

    def progress(done: int, total: int, spec: Any, error: str | None) -> None:
        note = f"{spec.label} seed {spec.seed}" + (" FAILED" if error else "")
        bar.update(done, total, note)

    try:
        store = Store(args.out, plan.experiment)
    except KeyboardInterrupt:
        print("lrlab: interrupted before any run started; run the same command to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    names = {s.key: f"{s.label} seed {s.seed}" for s in plan.specs}
    folder = tempfile.mkdtemp(prefix="lrlab-progress-")
    stop = threading.Event()

    def watch() -> None:  # per-run step progress, for runs that take more than a second
        while not stop.wait(1.0 if bar.tty else 2.0):
            states = read_step_progress(folder)
            bar.running([(names.get(k, k), done, steps) for k, (done, steps) in sorted(states.items())])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        table = run_plan(plan, store, executor, progress, on_start=started, on_wall=bar.run_times.append,
                         progress_dir=folder)
        report = write_report(table, store, args.out, "lrlab " + shlex.join(argv),
                              figures=not getattr(args, "no_figures", False))
    except KeyboardInterrupt:
        store.close()
        try:
            with Store(args.out, plan.experiment) as store:
                done = len(store.done_keys() & {s.key for s in plan.specs})
            saved = f"{done} of {len(plan.specs)} runs are saved in {args.out}"
        except (StoreError, OSError, KeyboardInterrupt):
            saved = f"nothing finished is lost in {args.out}"
        print(f"lrlab: interrupted: {saved}; run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        stop.set()
        watcher.join()
        shutil.rmtree(folder, ignore_errors=True)
        store.close()
    _print(table, report, args.json)
    if table.failures:
        for _, label, error in table.failures:
            print(f"lrlab: run {label} failed:\n{error}", file=sys.stderr)
        print(f"lrlab: error: {len(table.failures)} run(s) raised an error (tracebacks above and in "
              f"{report}); the other runs are saved: fix the task and run the same command to retry",
              file=sys.stderr)
        return EXIT_RUNS_FAILED
    return 0


def _print(table: ArmTable, report: Any, as_json: bool) -> None:
    from .report import format_text_table, legend, ranking_note

    if as_json:
        print(json.dumps(table.to_dict(), indent=2, allow_nan=False))
        return
    print(format_text_table(table))
    print()
    note = ranking_note(table).replace("**", "")
    if sys.stdout.isatty():  # wrapped to the terminal; whole lines for logs and pipes
        import textwrap

        width = max(40, shutil.get_terminal_size((100, 24)).columns - 1)
        lines = legend(table).splitlines()
        print("\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in lines))
        print()
        print(textwrap.fill(note, width))
    else:
        print(legend(table))
        print()
        print(note)
    print(f"report: {report}")
