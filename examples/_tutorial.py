"""What every tutorial in examples/ shares: the two flags (``--quick``, ``--out DIR``), steps
that stop the script with a non-zero exit status when they fail, lab experiments printed as
``lrlab compare`` prints them, and figures saved as PNG into ``--out``.

Not a public module of lrlab: the scripts import it from their own folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files; no display is needed


class StepFailed(RuntimeError):
    """A step's check did not hold: the script exits with status 1."""


class Tutorial:
    """The state of one tutorial run: its size (``quick``), its output folder, its steps."""

    def __init__(self, name: str, quick: bool, out: Path) -> None:
        self.name, self.quick, self.out = name, quick, out
        self.out.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self.figures: list[Path] = []

    def pick(self, full: Any, quick: Any) -> Any:
        """``quick`` with --quick, else ``full``."""
        return quick if self.quick else full

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """A titled step; any exception in it ends the script with status 1 and says which step."""
        print(f"\n== {title} ==\n", flush=True)
        try:
            yield
        except StepFailed as error:
            print(f"\n{self.name}: step failed: {title}: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        except Exception:
            traceback.print_exc()
            print(f"\n{self.name}: step failed: {title}", file=sys.stderr)
            raise SystemExit(1) from None

    def check(self, condition: bool, message: str) -> None:
        """Fail the current step with ``message`` unless ``condition``."""
        if not condition:
            raise StepFailed(message)

    def save(self, fig: Any, name: str, dpi: int = 80) -> Path:
        """Save a matplotlib figure as ``--out/name.png`` (small: these go into the docs)."""
        path = self.out / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        self.figures.append(path)
        print(f"figure: {path}")
        return path

    def lab(self, plan: Any, name: str, figures: bool = True) -> Any:
        """Run a lab plan into ``--out/name`` (resuming), print its table and ranking note as
        ``lrlab compare`` does, write report.md and the figures; fail on a run that raised."""
        from lrlab.lab import InlineExecutor, run_plan
        from lrlab.lab.executors import LocalExecutor
        from lrlab.lab.report import format_text_table, legend, ranking_note, write_report

        for warning in plan.warnings:
            print(f"warning: {warning}")
        runs = len(plan.arms) * len(plan.seeds)
        print(
            f"{plan.kind} {plan.task}: {len(plan.arms)} arms x {len(plan.seeds)} seeds, "
            f"{plan.steps} updates each",
            flush=True,
        )
        # one process for small experiments (no worker start-up); two workers otherwise
        executor = InlineExecutor() if self.quick or runs < 4 else LocalExecutor(2)
        folder = self.out / name
        table = run_plan(plan, str(folder), executor)
        from lrlab.lab import Store

        with Store(str(folder), plan.experiment) as store:
            write_report(table, store, folder, figures=figures)
        print(format_text_table(table, width=150))
        print()
        print(legend(table))
        print()
        print(ranking_note(table).replace("**", ""))
        if figures:
            for png in sorted(folder.glob("*.png")):
                self.figures.append(png)
                print(f"figure: {png}")
        self.check(not table.failures, f"{len(table.failures)} run(s) raised; see {folder / 'report.md'}")
        self.check(not table.missing, f"{table.missing} run(s) did not finish")
        return table

    def done(self) -> None:
        print(
            f"\n{self.name}: done in {time.monotonic() - self.started:.0f} s; "
            f"{len(self.figures)} figure(s) in {self.out}"
        )


def main(name: str, body: Callable[[Tutorial], None], description: str = "") -> None:
    """Parse ``--quick`` and ``--out``, run ``body``, exit 0 (or 1 from a failed step)."""
    parser = argparse.ArgumentParser(prog=Path(name).name, description=description)
    parser.add_argument(
        "--quick", action="store_true", help="reduced size (well under a minute); CI runs this"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/examples") / Path(name).stem,
        help="folder for the tables, stores and figures (default: runs/examples/<name>)",
    )
    args = parser.parse_args()
    try:
        tutorial = Tutorial(Path(name).stem, args.quick, args.out)
    except OSError as error:
        parser.error(
            f"--out {str(args.out)!r} cannot be used as the output folder: {error.strerror or error}"
        )
    print(f"{tutorial.name}{' (--quick: reduced size)' if args.quick else ''}; output in {args.out}")
    body(tutorial)
    tutorial.done()


def figure(width: float = 8.0, height: float = 4.0, ncols: int = 1) -> tuple[Any, Any]:
    """A matplotlib figure without pyplot (no display), with ``ncols`` axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """An aligned plain-text table (numbers right-aligned)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        out = []
        for v, w in zip(values, widths):
            numeric = (
                v.replace(".", "", 1).replace("-", "", 1).replace("+", "", 1).replace("e", "", 1).isdigit()
            )
            out.append(v.rjust(w) if numeric else v.ljust(w))
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in cells])
