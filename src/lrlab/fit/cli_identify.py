"""``lrlab identify``: which schedule made this log (or these few observed points)?

    lrlab identify LOG [--step-column S] [--lr-column L] [--format F] [--total N]
                       [--family F ...] [--json] [-o FILE.png]
    lrlab identify --at STEP --lr LR [--at STEP --lr LR ...] --total N [--peak P]
                   [--warmup W] [--tolerance X] [--json] [-o FILE.png]

JSON output (stable keys). With a LOG: ``spec`` (a text form ``lrlab at`` accepts),
``family``, ``residual``, ``max_error``, ``confidence``, ``decided``, ``reason``,
``runner_up`` (a list of ``{spec, family, residual, max_error}``), ``end_step``,
``end_lr``, ``horizon``, ``horizon_interval``, ``truncated``, ``points``,
``fitted_points``, ``source``, ``notes``. With observed points: ``points``, ``peak``,
``total``, ``warmup``, ``decided``, ``reason``, ``end_lr_range``, ``next_step`` and
``candidates`` (``family, description, spec, end_lr, max_error, consistent, note``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from .identify import FAMILY_NAMES


def _number(what: str, positive: bool = False, whole: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
        if ok and whole and not value.is_integer():
            ok = False
        if not ok:
            need = "a whole number of steps" if whole else "a number"
            need += " > 0" if positive else " >= 0"
            raise argparse.ArgumentTypeError(f"{what} must be {need}; got {text!r}")
        return value

    return parse


def add_commands(commands: Any) -> None:
    """Register ``identify`` on the main parser's subcommands."""
    parser = commands.add_parser(
        "identify", help="find the schedule that produced a logged LR series",
        description="Find the schedule that produced a learning-rate log (CSV with step and lr\n"
        "columns, JSON lines, or TensorBoard event files): its text form, residual, confidence,\n"
        "the runner-up families and the LR at the end of training. Without a LOG, --at/--lr\n"
        "points (with --total and what else is known) list the schedules consistent with them\n"
        "and say when the data cannot decide. See docs/identify.md.",
        epilog="examples:\n"
        "  lrlab identify runs/lr.csv\n"
        "  lrlab identify train.jsonl --lr-column learning_rate --json\n"
        "  lrlab identify runs/tb/ --lr-column train/lr -o fit.png\n"
        "  lrlab identify --peak 0.47 --at 107319 --lr 0.30 --total 130000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("log", metavar="LOG", nargs="?",
                        help="a CSV, JSON-lines or JSON file, or a TensorBoard event file or directory")
    parser.add_argument("--step-column", default="step", metavar="S",
                        help="step column or key (default step)")
    parser.add_argument("--lr-column", default="lr", metavar="L",
                        help="learning-rate column, key or TensorBoard tag (default lr)")
    parser.add_argument("--format", choices=("csv", "jsonl", "tensorboard"),
                        help="the log's format (default: from the name)")
    parser.add_argument("--total", type=_number("--total", positive=True, whole=True), metavar="N",
                        help="total steps of the run, if known (the end of training)")
    parser.add_argument("--family", action="append", choices=FAMILY_NAMES, metavar="F",
                        help="only consider these families (repeatable): " + ", ".join(FAMILY_NAMES))
    parser.add_argument("--at", action="append", type=_number("--at", whole=True), metavar="STEP",
                        help="a step where the LR was observed (repeatable, each with an --lr)")
    parser.add_argument("--lr", action="append", type=_number("--lr"), metavar="LR",
                        help="the LR observed at the matching --at step")
    parser.add_argument("--peak", type=_number("--peak", positive=True), metavar="P",
                        help="the peak LR, if known (with --at/--lr)")
    parser.add_argument("--warmup", type=_number("--warmup", whole=True), metavar="W",
                        help="warmup steps, if known (with --at/--lr; default 0)")
    parser.add_argument("--tolerance", type=_number("--tolerance", positive=True), default=0.02,
                        metavar="X", help="relative tolerance of the observed LRs (default 0.02)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("-o", "--output", metavar="FILE.png", help="plot the data and the fit to FILE.png")
    parser.set_defaults(run=_identify)


class _Progress:
    """One redrawn line on stderr while families are fitted (only on a terminal)."""

    def __init__(self) -> None:
        self.enabled = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()

    def __call__(self, done: int, total: int, note: str) -> None:
        if not self.enabled:
            return
        end = "\r\033[K" if done >= total else ""
        sys.stderr.write(f"\r\033[Kfitting {note} ({done}/{total} families){end}")
        sys.stderr.flush()


def _identify(args: argparse.Namespace) -> int:
    from .identify import identify

    ats, lrs = args.at or [], args.lr or []
    if args.log is None:
        if not ats and not lrs:
            raise ValueError("identify needs a LOG, or observed points given as --at STEP --lr LR "
                             "(see `lrlab identify --help`)")
        if len(ats) != len(lrs):
            raise ValueError(f"each --at needs an --lr: got {len(ats)} --at and {len(lrs)} --lr")
        if args.total is None:
            raise ValueError("--at/--lr need --total (the run's length in steps)")
        partial = identify(points=list(zip(ats, lrs)), peak=args.peak, total=args.total,
                           warmup=args.warmup, tolerance=args.tolerance)
        if args.output:
            _plot_partial(partial, args.output)
        if args.json:
            print(json.dumps(partial.to_dict(), indent=2))
        else:
            _print_partial(partial)
        return 0
    for flag, value in (("--at", ats), ("--lr", lrs), ("--peak", args.peak), ("--warmup", args.warmup)):
        if value:
            raise ValueError(f"{flag} is for observed points without a LOG; with a LOG, leave it out")
    result = identify(args.log, step_column=args.step_column, lr_column=args.lr_column,
                      format=args.format, total=args.total, families=args.family, progress=_Progress())
    if args.output:
        _plot_log(result, args.output)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_log(result)
    return 0


def _g(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def _print_log(r: Any) -> None:
    print(f"log:        {r.source}, {r.points} points")
    print(f"schedule:   {r.spec}")
    print(f"family:     {r.family} (confidence {r.confidence:.2f})")
    print(f"residual:   {r.residual:.3g} rms relative, {r.max_error:.3g} worst")
    if r.end_lr is None:
        print("end:        the schedule never ends; give --total for the LR at the end of training")
    else:
        print(f"end:        LR {r.end_lr!r} at step {r.end_step:.0f}")
    if r.truncated and r.horizon is not None:
        span = "" if r.horizon_interval is None else (
            f" (about 95%: {r.horizon_interval[0]:.0f} to {r.horizon_interval[1]:.0f})")
        print(f"horizon:    {r.horizon:.0f}{span}; the log stops earlier")
    if not r.decided:
        print(f"cannot decide: {r.reason}")
    if r.runner_up:
        print("runner-up:")
        width = max(len(c.family) for c in r.runner_up)
        for c in r.runner_up:
            print(f"  {c.family:<{width}}  residual {c.residual:<9.3g}  {c.spec}")
    for note in r.notes:
        print(f"note: {note}")


def _print_partial(p: Any) -> None:
    points = ", ".join(f"{lr:g} at step {step:.0f}" for step, lr in p.points)
    known = f"peak {p.peak:g}, " if p.peak is not None else ""
    print(f"observed:   {points} ({known}{p.total:.0f} steps, warmup {p.warmup:.0f})")
    rows = [c for c in p.candidates if c.consistent] + [c for c in p.candidates if not c.consistent]
    print("consistent schedules (LR at the end of training):")
    shown = False
    for c in rows:
        if not c.consistent:
            continue
        shown = True
        extra = f"  [{c.note}]" if c.note else ""
        print(f"  end LR {_g(c.end_lr):>8}  {c.description}: {c.spec}{extra}")
    if not shown:
        print("  none")
    others = [c for c in rows if not c.consistent]
    if others:
        print("not consistent:")
        for c in others:
            why = c.note or f"worst error {_g(c.max_error, 2)}"
            print(f"  {c.description}: {why}")
    print(("decided: " if p.decided else "cannot decide: ") + p.reason)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("-o needs matplotlib (pip install 'lrlab[plot]')") from None
    return plt


def _plot_log(r: Any, path: str) -> None:
    import numpy as np

    plt = _pyplot()
    steps, lrs = (r.log.steps, r.log.lrs) if r.log is not None else (None, None)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    end = max(float(r.horizon or 0.0), float(r.end_step or 0.0))
    if steps is not None:
        ax.plot(steps, lrs, ".", ms=3, color="0.2", label="log", zorder=3)
        end = max(end, float(steps[-1]))
    grid = np.unique(np.linspace(0, max(end, 1.0), 2000).round())
    ax.plot(grid, r.schedule.values(grid), color="C0", lw=1.5, label=f"fit: {r.family}")
    if r.runner_up:
        other = r.runner_up[0]
        ax.plot(grid, other.schedule.values(grid), "--", color="C1", lw=1, label=f"runner-up: {other.family}")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(r.spec if len(r.spec) <= 90 else r.spec[:87] + "...", fontsize=8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_partial(p: Any, path: str) -> None:
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    grid = np.unique(np.linspace(0, p.total, 2000).round())
    for i, c in enumerate(x for x in p.candidates if x.consistent and x.schedule is not None):
        ax.plot(grid, c.schedule.values(grid), lw=1, color=f"C{i % 10}", label=c.description[:60])
    steps = [s for s, _ in p.points]
    values = [v for _, v in p.points]
    ax.plot(steps, values, "ko", ms=5, label="observed")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
