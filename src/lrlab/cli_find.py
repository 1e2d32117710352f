"""``lrlab find``: the LR range test on a lab task, from the command line.

Lives outside ``lrlab.torch`` on purpose: importing any module of that package imports
torch (seconds), and every ``lrlab`` command builds the parser. torch is imported only when
``lrlab find`` runs.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from typing import Any

from lrlab.cliutil import positive_number


class FindError(ValueError):
    """A bad argument of ``lrlab find``; the CLI prints it and exits 2."""


_positive_float = positive_number


def _value(text: str) -> Any:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text.strip()
    if isinstance(value, (int, float, str, bool)):
        return value
    raise argparse.ArgumentTypeError(f"expected a number or a string; got {text!r}")


def _option(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE; got {text!r}")
    return name.strip(), _value(value)


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}; got {text!r}")
        return value

    return parse


def add_commands(subparsers: Any) -> None:
    """Add ``find`` to the ``lrlab`` command line."""
    find = subparsers.add_parser(
        "find",
        help="the LR range test on a task: suggested learning rates",
        description="Run the LR range test (Smith 2017) on a built-in or user task: train while "
        "the LR climbs from --start-lr to --end-lr, stop at divergence, and print the suggested "
        "learning rates with the reason for each. The recommended one is the peak for warmup + "
        "cosine.",
        epilog="examples:\n  lrlab find --task digits\n  lrlab find --task charlm --num-steps 300 "
        "-o charlm.png\n  lrlab find --task circle --seeds 3 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    find.add_argument("--task", required=True, help="circle, digits, charlm, or module:function")
    find.add_argument(
        "--option",
        type=_option,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a task option (repeatable), e.g. --option n_layer=4",
    )
    find.add_argument("--start-lr", type=_positive_float, default=1e-7, metavar="LR", help="default 1e-7")
    find.add_argument("--end-lr", type=_positive_float, default=10.0, metavar="LR", help="default 10")
    find.add_argument(
        "--num-steps",
        type=_int_at_least(2),
        default=300,
        metavar="N",
        help="updates per sweep (default 300: the accuracy benchmark's setting)",
    )
    find.add_argument(
        "--seeds",
        type=_int_at_least(1),
        default=1,
        metavar="K",
        help="sweeps with seeds 0..K-1, combined, with an interval (default 1)",
    )
    find.add_argument("--linear", action="store_true", help="a linear ladder instead of the exponential one")
    find.add_argument("--json", action="store_true", help="print the whole result as JSON")
    find.add_argument(
        "-o", "--output", metavar="FILE.png", help="save the loss-vs-LR plot, suggestions marked"
    )
    find.set_defaults(run=run_find)


def run_find(args: argparse.Namespace) -> int:
    from lrlab.lab.progress import Progress

    if not args.start_lr < args.end_lr:
        raise FindError(f"--start-lr must be < --end-lr; got {args.start_lr:g} and {args.end_lr:g}")
    if args.output and not args.output.lower().endswith((".png", ".pdf", ".svg")):
        raise FindError(f"-o/--output must end in .png, .pdf or .svg; got {args.output!r}")
    options = dict(args.option)
    from lrlab.lab.tasks import check_task_options, get_task

    task = get_task(args.task)
    check_task_options(task, options)
    try:
        from lrlab.torch.finder import find_lr_task
    except ImportError as error:
        raise FindError(f"lrlab find needs torch (pip install 'lrlab[torch]'): {error}") from error

    bar = Progress("sweeps")
    plain = not bar.enabled and not args.json
    total = args.seeds

    def progress(done: int, _total: int, _lr: float, _loss: float) -> None:
        k = done // args.num_steps
        if bar.enabled:
            bar.update(k, total, f"task {task.name}")
        elif plain:
            sys.stderr.write(f"sweep {k}/{total} done\n")

    bar.update(0, total, f"task {task.name}: {args.num_steps} updates per sweep")
    if plain:
        sys.stderr.write(f"lrlab find: {total} sweep(s) of {args.num_steps} updates on {task.name}\n")
    result = find_lr_task(
        task,
        start_lr=args.start_lr,
        end_lr=args.end_lr,
        num_steps=args.num_steps,
        mode="linear" if args.linear else "exponential",
        seeds=list(range(args.seeds)),
        options=options,
        progress=progress,
    )
    if args.output:
        try:
            result.plot(path=args.output)
        except ImportError as error:
            raise FindError(f"-o needs matplotlib (pip install matplotlib): {error}") from error
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=1) + "\n")
        return 0
    out = [
        f"LR range test on {task.name}: {result.num_updates} updates, "
        f"lr {args.start_lr:g} -> {args.end_lr:g} ({'linear' if args.linear else 'exponential'})",
        f"ended: {result.reason}",
        "",
    ]
    width = max(len(label) for label in result.suggestions)
    for label, s in result.suggestions.items():
        mark = "*" if label == "warmup+cosine" else " "
        value = "none" if s.lr is None else f"{s.lr:.3g}"
        if label == "interval" and s.lr is not None:
            value = f"{s.low:.3g}..{s.high:.3g}"
        out.append(f"{mark} {label:<{width}}  {value:>12}  {s.reason}")
    rec = result.recommended
    out.append("")
    out.append(
        f"recommended peak for warmup + cosine: {rec.lr:.3g}"
        if rec.lr is not None
        else f"no recommendation: {rec.reason}"
    )
    if args.output:
        out.append(f"plot saved to {args.output}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0
