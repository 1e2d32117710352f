"""``lrlab plot`` and ``lrlab export``: a schedule as a picture file or as another
framework's code.

    lrlab plot SPEC_OR_PRESET [SPEC ...] -o FILE.png|svg|pdf [--log] [--x steps|tokens|epochs]
    lrlab plot --lesson -o lesson.png
    lrlab export SPEC_OR_PRESET --to torch|transformers|optax|keras|timm|lrlab [-o FILE]

JSON output (``--json``, stable keys): ``plot``: ``output`` (the file), ``schedules`` (the
text forms drawn, resolved), ``x``; ``export``: ``target``, ``schedule`` (text form),
``native`` (true when the framework's own schedulers express it exactly), ``reason`` (why
not, else null) and ``code``.

Mistakes raise ValueError, which ``lrlab.cli.main`` prints as ``lrlab: error: ...`` with
exit status 2 (the same class whether the CLI runs as ``lrlab`` or ``python -m lrlab.cli``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from lrlab.exporters import TARGETS

FORMATS = ("png", "svg", "pdf")
MAX_STEP = 2**53  # float64 counts every step exactly up to here


def _budget_flags(parser: argparse.ArgumentParser) -> None:
    from lrlab.cli import _length_arg, _positive_arg

    group = parser.add_argument_group("budget (for lengths with units and --x tokens|epochs)")
    group.add_argument("--total-steps", type=_length_arg, metavar="X",
                       help="total steps of the run (or e.g. '260B tokens')")
    group.add_argument("--tokens-per-step", type=_positive_arg, metavar="Y",
                       help="tokens per optimizer step (e.g. 524288 or 0.5M)")
    group.add_argument("--steps-per-epoch", type=_positive_arg, metavar="Z", help="steps per epoch")


def _step_arg(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_STEP:
        raise argparse.ArgumentTypeError(f"expected an integer step in [1, 2**53]; got {text!r}")
    return value


def add_commands(commands: Any) -> None:
    """Register ``plot`` and ``export`` on the main parser's subcommands."""
    target = "a preset name or a schedule text form, e.g. 'cosine(6e-4, 6e-5, 19073)'"
    plot = commands.add_parser(
        "plot", help="draw schedules to a PNG, SVG or PDF file",
        description="Draw one or more schedules on one axes (matplotlib): phase boundaries dotted, "
        "peak and final value marked, a legend of text forms. Long schedules are sampled.")
    plot.add_argument("schedules", nargs="*", metavar="SPEC_OR_PRESET", help=target)
    plot.add_argument("-o", "--output", required=True, metavar="FILE",
                      help="the image to write: .png, .svg or .pdf")
    plot.add_argument("--lesson", action="store_true",
                      help="the five classic schedules (constant, step, cosine, warmup + cosine, WSD)")
    plot.add_argument("--log", action="store_true", help="log-scale LR axis")
    plot.add_argument("--x", choices=("steps", "tokens", "epochs"), default="steps",
                      help="x axis unit (tokens and epochs need a budget: a preset's or the flags)")
    plot.add_argument("--label", action="append", metavar="TEXT",
                      help="legend label, one per schedule, in order (default: preset names and "
                      "text forms)")
    plot.add_argument("--title", help="the figure's title")
    plot.add_argument("--end", type=_step_arg, metavar="STEP", help="last step drawn (default: the end)")
    plot.add_argument("--dpi", type=int, default=150, help="resolution of a PNG (default 150)")
    plot.add_argument("--json", action="store_true", help="print what was written as JSON")
    _budget_flags(plot)
    plot.set_defaults(run=_plot)

    export = commands.add_parser(
        "export", help="print a schedule as code for another framework",
        description="Print a runnable snippet that builds the schedule with the framework's own "
        "schedulers where they express it exactly; otherwise the snippet says why and uses the "
        "closest exact alternative. Targets: " + "; ".join(f"{k}: {v}" for k, v in TARGETS.items()))
    export.add_argument("schedule", metavar="SPEC_OR_PRESET", help=target)
    export.add_argument("--to", choices=tuple(TARGETS), default="lrlab", metavar="TARGET",
                        help=f"one of {', '.join(TARGETS)} (default lrlab)")
    export.add_argument("-o", "--output", metavar="FILE", help="write the snippet to FILE")
    export.add_argument("--json", action="store_true", help="print JSON instead of the snippet")
    _budget_flags(export)
    export.set_defaults(run=_export)


def _check_output(path_text: str, formats: tuple[str, ...] | None) -> Path:
    """The output path, after checking its suffix and that its folder can be written."""
    path = Path(path_text).expanduser()
    if formats is not None:
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in formats:
            raise ValueError(f"--output must end in .{', .'.join(formats)}; got {path_text!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"--output {path_text!r}: the folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"--output {path_text!r} is a folder: expected a file name")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"--output {path_text!r} cannot be written (permission denied)")
    return path


def _load_all(texts: list[str], args: argparse.Namespace) -> list[Any]:
    """``lrlab.cli._load`` for each text; its CLIError as a ValueError (under ``python -m
    lrlab.cli`` the CLI module is ``__main__``, whose CLIError is another class)."""
    from lrlab.cli import _load

    out = []
    for text in texts:
        try:
            out.append(_load(text, args))
        except Exception as error:
            if type(error).__name__ == "CLIError":
                raise ValueError(str(error)) from None
            raise
    return out


def _plot(args: argparse.Namespace) -> int:
    from lrlab.cli import _out

    from .plot import LESSON, plot

    if args.lesson and args.schedules:
        raise ValueError("--lesson draws the five classic schedules: give no SPEC_OR_PRESET with it")
    if not args.lesson and not args.schedules:
        raise ValueError("expected at least one SPEC_OR_PRESET (or --lesson)")
    texts = list(LESSON.values()) if args.lesson else args.schedules
    labels = list(LESSON) if args.lesson else args.label
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"--label: expected one per schedule ({len(texts)}); got {len(labels)}")
    if not 10 <= args.dpi <= 1200:
        raise ValueError(f"--dpi must be in [10, 1200]; got {args.dpi}")
    path = _check_output(args.output, FORMATS)
    loaded = _load_all(texts, args)
    schedules = [resolved for _, resolved, _, _ in loaded]
    if labels is None and len(loaded) > 1:
        # a preset by its name, a spec as written (units kept: '375M tokens', not 715.26)
        labels = [preset.name if preset is not None else str(written) for written, _, preset, _ in loaded]
    budgets = [b for _, _, _, b in loaded]  # each schedule on the axis with its own budget
    if args.x != "steps":
        field, flag = (("tokens_per_step", "--tokens-per-step") if args.x == "tokens"
                       else ("steps_per_epoch", "--steps-per-epoch"))
        for text, b in zip(texts, budgets):
            if b is None or getattr(b, field) is None:
                raise ValueError(f"--x {args.x} needs {flag} for {text!r} (or a preset, which brings "
                                 "its budget)")
    title = args.title
    if title is None and args.lesson:
        title = "Five classic schedules, one budget (10k steps) and one peak LR"
    if title is None and len(loaded) == 1 and loaded[0][2] is not None:
        title = f"{loaded[0][2].name}: {loaded[0][2].citation}"[:90]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError("lrlab plot needs matplotlib: pip install 'lrlab[plot]'") from None
    fig = plot(*schedules, labels=labels, title=title, log=args.log, x=args.x, budget=budgets,
               end=args.end)
    try:
        fig.savefig(path, dpi=args.dpi)
    except OSError as error:
        raise ValueError(f"--output {args.output!r} cannot be written: {error.strerror or error}") from None
    if args.json:
        _out(json.dumps({"output": str(path), "schedules": [str(s) for s in schedules], "x": args.x},
                        indent=2))
    else:
        _out(str(path))
    return 0


def _export(args: argparse.Namespace) -> int:
    from lrlab.cli import _out
    from lrlab.exporters import export_info

    path = _check_output(args.output, None) if args.output else None
    _, schedule, _, _ = _load_all([args.schedule], args)[0]
    code, native, reason = export_info(schedule, args.to)
    if path is not None:
        try:
            path.write_text(code)
        except OSError as error:
            why = error.strerror or error
            raise ValueError(f"--output {args.output!r} cannot be written: {why}") from None
    if args.json:
        _out(json.dumps({"target": args.to, "schedule": str(schedule), "native": native,
                         "reason": reason, "code": code}, indent=2))
    elif path is None:
        sys.stdout.write(code)
    else:
        _out(str(path))
    return 0
