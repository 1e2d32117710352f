"""The ``lrlab`` command line: look at schedules and presets from a shell.

    lrlab show SPEC_OR_PRESET [--steps N ...] [--log] [--json]
    lrlab at SPEC_OR_PRESET STEP [STEP ...] [--json]
    lrlab presets [--json]

``SPEC_OR_PRESET`` is a preset name (``lrlab presets`` lists them) or a schedule in the text
form, e.g. ``"warmup(715, cosine(6e-4, 6e-5, 18358))"``. Lengths with units ('5%',
'375M tokens', '2ep') are resolved with ``--total-steps``, ``--tokens-per-step`` and
``--steps-per-epoch`` (a preset brings its own budget; the flags override it).

Quiet by default, ``--json`` for machines. Errors go to stderr as ``lrlab: error: ...``
with exit status 2. Only the standard library and numpy are used.

JSON output (stable keys):

* ``at --json``: a list of floats, one per STEP.
* ``show --json``: ``input`` (the argument), ``preset`` (null or ``name, citation, url,
  note``), ``spec`` (text form as written, units kept), ``resolved`` (text form in steps),
  ``structure`` (``Schedule.to_dict()``), ``budget`` (null or ``total_steps,
  tokens_per_step, steps_per_epoch``), ``summary`` (``peak, warmup_steps, shape, final,
  length``; ``final`` and ``length`` null if endless) and ``table`` (``step, lr, at``).
* ``presets --json``: a list of ``name, spec, peak, warmup_steps, shape, final, length,
  budget, citation, url, note``.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import json
import math
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

import lrlab
from lrlab.cliutil import (
    EXIT_INTERRUPTED,
    NEEDS,
    POSITION_RULE,
    CLIError,
    Parser,
    fail,
    int_arg,
    to_step,
)
from lrlab.inspect import boundary_steps, format_steps, horizon, summary
from lrlab.presets import PRESETS, Preset
from lrlab.schedules import FAMILIES, Schedule, parse
from lrlab.units import Budget, parse_length

EXAMPLE_SPEC = "cosine(6e-4, 6e-5, 19073)"


_Parser = Parser  # one parser class for every command (lrlab.cliutil)

# --- reading arguments ---------------------------------------------------------------------

_NEEDS = NEEDS


def _length_arg(text: str) -> int | float | str:
    """--total-steps: a number of steps, or a length in tokens or epochs."""
    try:
        quantity = parse_length(text, "--total-steps")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of steps or a length such as '260B tokens' or '90ep'; got {text!r}"
        ) from None
    if quantity.unit == "percent":
        raise argparse.ArgumentTypeError("the total cannot be a percentage of itself")
    if quantity.unit == "steps":
        if quantity.amount <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number of steps; got {text!r}")
        return int(quantity.amount) if quantity.amount.is_integer() else quantity.amount
    return text


def _positive_arg(text: str) -> float:
    """A positive number, optionally with a K/M/B multiplier ('0.5M')."""
    try:
        quantity = parse_length(text)
    except ValueError:
        quantity = None
    if quantity is None or quantity.unit != "steps" or quantity.amount <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number such as 524288 or 0.5M; got {text!r}")
    return int(quantity.amount) if quantity.amount.is_integer() else quantity.amount


def _budget_flags(args: argparse.Namespace) -> dict[str, Any]:
    flags = {
        "total_steps": args.total_steps,
        "tokens_per_step": args.tokens_per_step,
        "steps_per_epoch": args.steps_per_epoch,
    }
    return {k: v for k, v in flags.items() if v is not None}


def _find_preset(name: str) -> Preset:
    if name in PRESETS:
        return PRESETS[name]
    folded = {key.lower(): key for key in PRESETS}
    if name.lower() in folded:
        return PRESETS[folded[name.lower()]]
    if name in FAMILIES:
        raise CLIError(
            f"{name!r} is a schedule family, not a preset: give its arguments, e.g. "
            f"{name}(...) (`lrlab presets` lists the presets)"
        )
    close = difflib.get_close_matches(name.lower(), list(folded), n=1, cutoff=0.5)
    family = difflib.get_close_matches(name, list(FAMILIES), n=1, cutoff=0.75)
    if close:
        hint = f" (did you mean {folded[close[0]]!r}?)"
    elif family:
        hint = f" (did you mean the family {family[0]!r}? give its arguments: {family[0]}(...))"
    else:
        hint = ""
    raise CLIError(
        f"unknown preset {name!r}{hint}: expected a preset name (`lrlab presets` lists them) "
        f"or a schedule such as {EXAMPLE_SPEC!r}"
    )


def _check_budget(schedule: Schedule, budget: Budget | None) -> None:
    """A clear error naming the flag that a unit length ('5%', '1B tokens') needs."""
    lengths = list(schedule.unresolved_lengths())
    if budget is not None and isinstance(budget.total_steps, str):
        lengths.append(("--total-steps", budget.total_steps))
    for where, text in lengths:
        unit = parse_length(text, where).unit
        if unit not in _NEEDS:
            continue
        field, flag, meaning = _NEEDS[unit]
        if budget is None or getattr(budget, field) is None:
            raise CLIError(f"{where}={text!r} is {meaning}: give {flag}")


def _load(text: str, args: argparse.Namespace) -> tuple[Schedule, Schedule, Preset | None, Budget | None]:
    """(schedule as written, resolved schedule, preset or None, budget or None)."""
    flags = _budget_flags(args)
    budget: Budget | None
    if "(" not in text:
        preset = _find_preset(text.strip())
        budget = dataclasses.replace(preset.budget, **flags) if flags else preset.budget
        written = parse(preset.spec)
    else:
        preset = None
        budget = Budget(**flags) if flags else None
        written = parse(text)
    _check_budget(written, budget)
    resolved = written if budget is None else written.resolve(budget)
    return written, resolved, preset, budget


def _to_step(text: str, budget: Budget | None, schedule: Schedule | None = None) -> int:
    """A step from the command line (see :func:`lrlab.cliutil.to_step` for the rounding).
    Without ``--total-steps``, a percentage is of the schedule's own length."""
    no_total = budget is None or budget.total_steps is None
    if schedule is not None and schedule.length is not None and no_total:
        own = Budget(total_steps=schedule.length)
        budget = own if budget is None else dataclasses.replace(budget, total_steps=schedule.length)
    return to_step(text, budget, "step")


# --- formatting ------------------------------------------------------------------------------


def _steps_text(steps: float) -> str:
    return format_steps(steps)


def _amount_text(amount: float) -> str:
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if amount >= size:
            return f"{amount / size:.4g}{suffix}"
    return f"{amount:.4g}"


def _with_units(steps: float, budget: Budget | None) -> str:
    text = f"{_steps_text(steps)} steps"
    extras = []
    if budget is not None and budget.tokens_per_step is not None:
        extras.append(f"{_amount_text(budget.tokens(steps))} tokens")
    if budget is not None and budget.steps_per_epoch is not None:
        extras.append(f"{budget.epochs(steps):.4g} epochs")
    return f"{text} ({', '.join(extras)})" if extras else text


def _budget_text(budget: Budget) -> str:
    parts = []
    if budget.total_steps is not None:
        total = budget.total_steps
        parts.append(f"{total} total" if isinstance(total, str) else f"{_steps_text(total)} steps")
    if budget.tokens_per_step is not None:
        parts.append(f"{_steps_text(budget.tokens_per_step)} tokens/step")
    if budget.steps_per_epoch is not None:
        parts.append(f"{_steps_text(budget.steps_per_epoch)} steps/epoch")
    return ", ".join(parts) or "none"


def _budget_dict(budget: Budget | None) -> dict[str, Any] | None:
    if budget is None:
        return None
    return {
        "total_steps": budget.total_steps,
        "tokens_per_step": budget.tokens_per_step,
        "steps_per_epoch": budget.steps_per_epoch,
    }


def _peak_text(schedule: Schedule, peak: float, at: float) -> str:
    text = f"{peak!r} at step {_steps_text(at)}"
    if not float(at).is_integer() or schedule(int(at)) != peak:
        text += " (approached there: no update takes exactly this LR)"
    return text


def _lr_text(lr: float | None) -> str:
    return "endless" if lr is None else f"{lr:.3g}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def _unicode_ok() -> bool:
    """Whether stdout can take the plot's braille and box-drawing characters."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "⣿┤└─┬│…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _charset(args: argparse.Namespace) -> str:
    return "ascii" if args.ascii or not _unicode_ok() else "braille"


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


# --- commands -------------------------------------------------------------------------------


#: rows of the boundary table `show` prints (the first and the last half of them)
_TABLE_ROWS = 40


def _show(args: argparse.Namespace) -> int:
    written, schedule, preset, budget = _load(args.schedule, args)
    chosen = [_to_step(s, budget, schedule) for s in args.steps or ()]
    info = summary(schedule)
    notes = boundary_steps(schedule)
    rows = []
    for step in sorted(set(notes) | set(chosen)):
        note = ", ".join(n for n in (notes.get(step), "chosen" if step in chosen else None) if n)
        rows.append((step, schedule(step), note))

    if args.json:
        data = {
            "input": args.schedule,
            "preset": None if preset is None else {
                "name": preset.name, "citation": preset.citation, "url": preset.url, "note": preset.note,
            },
            "spec": str(written),
            "resolved": str(schedule),
            "structure": schedule.to_dict(),
            "budget": _budget_dict(budget),
            "summary": info.to_dict(),
            "table": [{"step": s, "lr": lr, "at": note} for s, lr, note in rows],
        }
        _out(json.dumps(data, indent=2))
        return 0

    width = args.width or min(100, shutil.get_terminal_size((80, 24)).columns)
    if preset is not None:
        _out(f"{preset.name}: {preset.citation}")
        _out(f"  {preset.url}")
        if preset.note:
            _out(textwrap.fill(preset.note, width=max(40, width), initial_indent="  note: ",
                               subsequent_indent="        "))
        _out()
    fields = []
    if str(written) != str(schedule):
        fields.append(("spec", str(written)))
    fields.append(("schedule", str(schedule)))
    if budget is not None:
        fields.append(("budget", _budget_text(budget)))
    fields += [
        ("shape", info.shape),
        ("peak", _peak_text(schedule, info.peak, info.warmup_steps)),
        ("warmup", _with_units(info.warmup_steps, budget)),
        ("final", "endless (no final value)" if info.final is None
         else f"{info.final!r} from step {_steps_text(info.length)}"),  # type: ignore[arg-type]
        ("length", "endless" if info.length is None else _with_units(info.length, budget)),
    ]
    for key, value in fields:
        _out(f"{key:<9} {value}")
    _out()
    cells = [(str(s), repr(lr), note) for s, lr, note in rows]
    if len(cells) > _TABLE_ROWS:  # thousands of boundaries: the first and last, and a count
        half = _TABLE_ROWS // 2
        hidden = f"{len(cells) - 2 * half} rows not shown (--json lists all)"
        cells = [*cells[:half], ("...", "", hidden), *cells[-half:]]
    _out(_table(["step", "lr", "at"], cells, [True, False, False]))
    if not args.no_plot:
        end = max(horizon(schedule), *chosen, 1)
        if budget is not None and budget.total_steps is not None:
            end = max(end, math.ceil(budget.steps_total))
        x_scale, x_unit = 1.0, ""
        if args.x != "steps":
            field, flag = (("tokens_per_step", "--tokens-per-step") if args.x == "tokens"
                           else ("steps_per_epoch", "--steps-per-epoch"))
            rate = None if budget is None else getattr(budget, field)
            if rate is None:
                raise CLIError(f"--x {args.x} needs {flag} (or a preset, which brings its budget)")
            x_scale, x_unit = (float(rate), "tokens") if args.x == "tokens" else (1.0 / rate, "epochs")
        _out()
        from lrlab.viz.terminal import plot

        _out(plot(schedule, width=max(20, width), height=args.height, end=end, log=args.log,
                  charset=_charset(args), x_scale=x_scale, x_unit=x_unit))
    return 0


def _at(args: argparse.Namespace) -> int:
    _, schedule, _, budget = _load(args.schedule, args)
    steps = [_to_step(s, budget, schedule) for s in args.step]
    values = [schedule(step) for step in steps]
    if args.json:
        _out(json.dumps(values))
    else:
        _out("\n".join(repr(v) for v in values))
    return 0


def _preset_record(preset: Preset) -> dict[str, Any]:
    try:
        info = summary(preset.schedule)
    except ValueError as error:
        raise CLIError(f"preset {preset.name!r} does not build: {error}") from None
    return {
        "name": preset.name,
        "spec": preset.spec,
        **info.to_dict(),
        "budget": _budget_dict(preset.budget),
        "citation": preset.citation,
        "url": preset.url,
        "note": preset.note,
    }


def _source(citation: str, most: int = 60) -> str:
    """The citation's authors and year ("Brown et al. 2020, 'Language ...'" -> "Brown et al.
    2020"), else its text before the first colon, at most ``most`` characters."""
    cuts = [i for i in (citation.find(", '"), citation.find(', "'), citation.find(":")) if i > 0]
    head = citation[: min(cuts)].strip() if cuts else citation.strip()
    return head if len(head) <= most else head[: most - 1] + "…"


def _presets(args: argparse.Namespace) -> int:
    records = [_preset_record(p) for p in PRESETS.values()]
    if args.json:
        _out(json.dumps(records, indent=2))
        return 0
    rows = [
        (r["name"], _lr_text(r["peak"]), _steps_text(r["warmup_steps"]), r["shape"],
         _lr_text(r["final"]), _source(r["citation"]))
        for r in records
    ]
    _out(_table(["name", "peak", "warmup", "shape", "final", "source"], rows,
                [False, True, True, False, True, False]))
    return 0


# --- the parser -------------------------------------------------------------------------------


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser: every command (``only`` None), or the built-in ones and
    ``only`` in full, the others by name (a faster start)."""
    parser = _Parser(
        prog="lrlab",
        description="Learning-rate schedules: show one, evaluate it at steps, list the presets, "
        "and compare schedules on real training runs.",
        epilog=(
            "examples:\n"
            "  lrlab show build-nanogpt-124m\n"
            "  lrlab show \"warmup('5%', cosine(6e-4, 6e-5, 19073))\" --total-steps 19073\n"
            "  lrlab at \"cosine(1.0, 0.0, 100)\" 0 50 100\n"
            "  lrlab presets --json\n"
            "  lrlab compare --task circle --seeds 3 --out runs/circle"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lrlab {lrlab.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    budget = _Parser(add_help=False)
    group = budget.add_argument_group("budget (for lengths with units: '5%', '375M tokens', '2ep')")
    group.add_argument("--total-steps", type=_length_arg, metavar="X",
                       help="total steps of the run (or e.g. '260B tokens')")
    group.add_argument("--tokens-per-step", type=_positive_arg, metavar="Y",
                       help="tokens per optimizer step (e.g. 524288 or 0.5M)")
    group.add_argument("--steps-per-epoch", type=_positive_arg, metavar="Z", help="steps per epoch")
    target = "a preset name or a schedule text form, e.g. " + repr(EXAMPLE_SPEC)

    show = commands.add_parser(
        "show", parents=[budget], help="describe a schedule: summary, table, plot",
        description="Describe a schedule: its text form, a summary, its values at the phase "
        "boundaries and a plot.",
    )
    show.add_argument("schedule", metavar="SPEC_OR_PRESET", help=target)
    show.add_argument("--steps", nargs="+", metavar="N",
                      help="also tabulate these steps (integers, or positions such as '50%%' or '2ep', "
                      "rounded down to a whole update)")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.add_argument("--log", action="store_true", help="log-scale LR axis in the plot")
    show.add_argument("--width", type=int_arg(20, 1000), metavar="W", help="plot width in characters")
    show.add_argument("--height", type=int_arg(2, 200), default=12, metavar="H",
                      help="plot height in rows (default 12)")
    show.add_argument("--ascii", action="store_true", help="plot with ASCII characters only")
    show.add_argument("--no-plot", action="store_true", help="leave out the plot")
    show.add_argument("--x", choices=("steps", "tokens", "epochs"), default="steps",
                      help="x axis of the plot (tokens and epochs need the budget's rate)")
    show.set_defaults(run=_show)

    at = commands.add_parser(
        "at", parents=[budget], help="the learning rate at steps, one per line",
        description="Print the learning rate at each STEP, one per line, at full precision. "
        f"STEP is a whole update; {POSITION_RULE}. A percentage is of --total-steps, else of "
        "the schedule's own length.",
    )
    at.add_argument("schedule", metavar="SPEC_OR_PRESET", help=target)
    at.add_argument("step", nargs="+", metavar="STEP",
                    help="an integer >= 0, or a position such as '50%%', '375M tokens' or '2ep' "
                    "(rounded down to a whole update)")
    at.add_argument("--json", action="store_true", help="print a JSON list")
    at.set_defaults(run=_at)

    presets = commands.add_parser(
        "presets", help="list the presets of published recipes",
        description="List the presets: name, peak LR, warmup, shape, final LR and source.",
    )
    presets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    presets.set_defaults(run=_presets)

    _add_elsewhere(commands, only)
    return parser


#: commands defined in other modules: name -> (module with ``add_commands``, one-line help).
#: ``lrlab COMMAND`` imports only COMMAND's module (so ``lrlab at`` starts without the lab, the
#: web server or matplotlib); the others are listed by name and help, for --help and errors.
ELSEWHERE: dict[str, tuple[str, str]] = {
    "tasks": ("lrlab.lab.cli", "list the built-in tasks and their options"),
    "compare": ("lrlab.lab.cli", "train with each schedule and compare (paired over seeds)"),
    "sensitivity": ("lrlab.lab.cli", "train at a grid of constant LRs: the loss against the LR"),
    "sweep": ("lrlab.lab.cli", "train a schedule template over a grid of its parameters"),
    "plot": ("lrlab.viz.cli_viz", "draw schedules to PNG, SVG or PDF"),
    "export": ("lrlab.viz.cli_viz", "print a runnable snippet for torch, transformers, optax, keras or timm"),
    "designer": ("lrlab.web.cli_web", "the interactive designer page, served locally"),
    "recommend": ("lrlab.cli_recommend", "a schedule for your run, each choice with its reason"),
    "find": ("lrlab.cli_find", "the LR range test on a task: suggested peaks"),
    "identify": ("lrlab.fit.cli_identify", "find the schedule that produced a logged LR series"),
    "predict": ("lrlab.fit.cli_laws", "fit a loss-curve law to curves and predict another schedule's curve"),
    "optimize": ("lrlab.fit.cli_laws", "the schedule a fitted law predicts to end lowest"),
    "bound": ("lrlab.fit.cli_laws", "the convex bound of schedules, its best peak LR, and peak transfer"),
}


def _add_elsewhere(commands: Any, only: str | None) -> None:
    """Register the commands of :data:`ELSEWHERE`: all of them (``only`` None), or only the
    module that defines ``only``, the others as names with their help."""
    modules = list(dict.fromkeys(module for module, _ in ELSEWHERE.values()))
    if only is not None:
        modules = [ELSEWHERE[only][0]] if only in ELSEWHERE else []
    for module in modules:
        importlib.import_module(module).add_commands(commands)
    for name, (_, help_text) in ELSEWHERE.items():
        if name not in commands.choices:
            commands.add_parser(name, help=help_text, add_help=False)


_fail = fail


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    """The names of the parser's subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in words if not w.startswith("-")), None)
    parser = _parser(command if command in ELSEWHERE else "")
    if not _unicode_ok() and hasattr(sys.stdout, "reconfigure"):
        # a citation with a non-ASCII name must not crash an ASCII terminal
        sys.stdout.reconfigure(errors="replace")
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            names = ", ".join(sorted(name for name in _commands(parser)))
            raise CLIError(f"expected a command: {names} (see `lrlab --help`)")
        args.argv = list(sys.argv[1:] if argv is None else argv)
        return args.run(args)
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    except CLIError as error:
        return fail(str(error))
    except ValueError as error:  # the library's bad-input errors (StoreError is one); not bugs
        return fail(str(error))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`lrlab presets | head`): leave quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1


if __name__ == "__main__":
    sys.exit(main())
