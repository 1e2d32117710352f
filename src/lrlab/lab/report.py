"""Experiment reports: the summary table (aligned text for terminals, Markdown for
``report.md``, JSON), its legend, and the figures (matplotlib, imported only when figures
are written)."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .experiment import ArmSummary, ArmTable
from .stats import Spread
from .store import Store, StoreError


def _cell(s: Spread, digits: int = 4) -> str:
    if s.n == 0 or math.isnan(s.mean):
        return "-"
    if s.n == 1:
        return f"{s.mean:.{digits}f}"
    return f"{s.mean:.{digits}f} ± {s.std:.{digits}f}"


def _vs_cell(arm: ArmSummary, digits: int) -> str:
    vs = arm.vs_best
    if vs is None:
        return "-"
    if vs.verdict == "best":
        return "best"
    if vs.diverged:
        return f"worse: {vs.diverged}"
    if vs.mean_diff is None:
        return vs.verdict
    if vs.ci is None:
        return f"{vs.mean_diff:+.3g} (1 seed)"
    p = "" if vs.p_holm is None else f" p={vs.p_holm:.2g}"
    tag = "worse" if vs.verdict == "worse" else "n.s."
    return f"{vs.mean_diff:+.3g} [{vs.ci[0]:+.3g}, {vs.ci[1]:+.3g}]{p} {tag}"


def _sensitivity_order(table: ArmTable) -> list[ArmSummary]:
    """Sensitivity rows sorted by LR, highest first; other experiments by rank."""
    if table.plan.kind != "sensitivity":
        return list(table.arms)
    return sorted(table.arms, key=lambda a: -float(dict(a.params).get("lr", 0.0)))


def table_rows(table: ArmTable) -> tuple[list[str], list[list[str]], list[bool]]:
    """Headers, cells and right-alignment of the summary table."""
    digits = table.digits
    has_val = any(a.metrics["val_loss"].n for a in table.arms)
    has_acc = any(a.metrics["accuracy"].n for a in table.arms)
    head = ["rank", "schedule" if table.plan.kind != "sensitivity" else "LR", "runs",
            "start", "middle", "end", "best"]
    right = [True, False, True, True, True, True, True]
    if has_val:
        head += ["val loss", "best val"]
        right += [True, True]
    if has_acc:
        head += ["accuracy"]
        right += [True]
    head += [f"vs best ({'val loss' if table.score == 'val_loss' else 'end'})", "status"]
    right += [False, False]
    rows = []
    for arm in _sensitivity_order(table):
        label = arm.label
        if table.plan.kind == "sensitivity" and label.startswith("lr="):
            label = label[3:]
        row = [str(arm.rank), label, str(arm.runs)]
        row += [_cell(arm.metrics[k], digits) for k in ("start", "middle", "end", "best")]
        if has_val:
            row += [_cell(arm.metrics["val_loss"], digits), _cell(arm.metrics["best_val_loss"], digits)]
        if has_acc:
            row += [_cell(arm.metrics["accuracy"], 3)]
        row += [_vs_cell(arm, min(digits, 4)), arm.status_counts]
        rows.append(row)
    return head, rows, right


def format_table(table: ArmTable) -> str:
    """The Markdown table (report.md): mean ± standard deviation over seeds of each loss,
    the paired comparison with the best arm, and the run statuses."""
    head, rows, _ = table_rows(table)
    lines = ["| " + " | ".join(head) + " |", "|" + "".join("---|" for _ in head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def format_text_table(table: ArmTable, width: int | None = None) -> str:
    """The table for a terminal: aligned columns fitted to ``width`` (default: the
    terminal's). Too wide, the schedule column is shortened; still too wide, each arm is
    printed as a block of ``name: value`` lines."""
    if width is None:
        import sys

        tty = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
        width = shutil.get_terminal_size((100, 24)).columns if tty or "COLUMNS" in os.environ else 10**6
    head, rows, right = table_rows(table)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    total = sum(widths) + 2 * (len(widths) - 1)
    if total > width and rows:
        excess = total - width
        widths[1] = max(12, widths[1] - excess)
        total = sum(widths) + 2 * (len(widths) - 1)
    if total > width:
        blocks = []
        for row in rows:
            fields = [f"   {h}: {c}" for h, c in zip(head[2:], row[2:])]
            blocks.append("\n".join([f"{row[0]}. {row[1]}", *fields]))
        return "\n".join(blocks)

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, (c, w, r) in enumerate(zip(cells, widths, right)):
            c = _clip(c, w) if i == 1 else c
            out.append(c.rjust(w) if r else c.ljust(w))
        return "  ".join(out).rstrip()

    return "\n".join([line(head), *(line(r) for r in rows)])


def legend(table: ArmTable) -> str:
    """What the columns mean: the loss, the spread, the score, vs best, the status rule."""
    n = len(table.plan.seeds)
    score = "final validation loss" if table.score == "val_loss" else "final training loss (end)"
    spread = "mean ± sample standard deviation over seeds" if n > 1 else "one seed per arm"
    lines = [
        f"start, middle, end, best: the {table.loss_meaning}: its first, middle and last value in "
        f"the run, and its lowest; {spread}.",
        f"score: {score}, lower is better; rank orders arms by mean score (arms with a diverged run last).",
        "vs best: the mean difference of the score to the best arm, paired by seed (same "
        "initialisation and data order), its 95% t-interval (per comparison, unadjusted) and the "
        "p-value Holm-corrected across arms; 'worse' when that p < 0.05, else 'n.s.' (not "
        "separated, which is not the same as equal).",
        f"status: per run; {table.status_rule}.",
    ]
    return "\n".join(lines)


def ranking_note(table: ArmTable) -> str:
    """One paragraph: the best arm, what is worse and what is not separated from it."""
    best = table.best
    failed = len(table.failures)
    if best is None:
        note = "No arm finished without diverging"
        if failed:
            note += f" ({failed} run(s) raised an error: see above and report.md)"
        return note + "."
    score = "final validation loss" if table.score == "val_loss" else "final training loss"
    note = f"Best by mean {score}: **{best.label}**."
    n = len(table.plan.seeds)
    if n < 2:
        return note + " With one seed per arm there is no test: one seed cannot separate arms."
    ties = [a for a in table.arms if a.vs_best is not None and a.vs_best.verdict == "not separated"]
    for arm in ties:
        note += f" {arm.label}: {arm.vs_best.text()}." if arm.vs_best else ""
    worse = [a.label for a in table.arms if a.vs_best is not None and a.vs_best.verdict == "worse"
             and not a.vs_best.diverged]
    if worse:
        note += f" Worse than the best (paired, Holm-corrected, 5%): {', '.join(worse)}."
    broke = [f"{a.label} ({a.vs_best.diverged})" for a in table.arms
             if a.vs_best is not None and a.vs_best.diverged]
    if broke:
        note += f" Worse because runs diverged: {', '.join(broke)}."
    return note


def _curves(table: ArmTable, store: Store) -> dict[str, dict[str, Any]]:
    """Per arm: steps, LR and mean training loss over seeds, at most ~2000 points."""
    import numpy as np

    by_arm: dict[str, dict[str, Any]] = {}
    for arm in table.arms:
        keys = [s.key for s in table.plan.specs if s.label == arm.label]
        sizes = {k: store.steps_done(k) for k in keys}
        keys = [k for k in keys if sizes[k]]
        if not keys:
            continue
        length = min(sizes[k] for k in keys)
        stride = max(1, length // 2000)  # a figure needs ~2000 points, not 60,000
        curves = [store.curve(k, stride) for k in keys]
        count = min(len(c[0]) for c in curves)
        loss = np.array([c[2][:count] for c in curves], dtype=float)
        finite = np.where(np.isfinite(loss), loss, np.nan)
        with np.errstate(all="ignore"):
            mean = np.nanmean(finite, axis=0) if np.isfinite(loss).any() else loss[0]
        by_arm[arm.label] = {"step": np.array(curves[0][0][:count]), "lr": np.array(curves[0][1][:count]),
                             "loss": mean}
    return by_arm


def _matplotlib() -> Any:
    """matplotlib's Figure and Agg canvas (no pyplot: no GUI backend, a lighter import)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure, FigureCanvasAgg


def _save(fig: Any, canvas_type: Any, path: Path) -> None:
    canvas_type(fig)
    try:
        fig.savefig(path)
    except OSError as error:
        raise StoreError(f"cannot write the figure {path}: {error.strerror or error}") from None


def write_figures(table: ArmTable, store: Store, out: Path) -> list[Path]:
    """``lr.png`` and ``loss.png`` (mean over seeds, smoothed by a moving average of 1% of
    the run), and for a sensitivity test ``sensitivity.png``; none when matplotlib is not
    installed."""
    import numpy as np

    mpl = _matplotlib()
    if mpl is None:
        return []
    figure_type, canvas_type = mpl
    curves = _curves(table, store)
    paths = []
    for name, ylabel in (("lr", "learning rate"), ("loss", f"{table.loss_meaning} (mean over seeds)")):
        fig = figure_type(figsize=(7, 4), dpi=110)
        ax = fig.add_subplot()
        for label, c in curves.items():
            y = c[name]
            if name == "loss":
                window = max(1, len(y) // 100)
                y = np.convolve(y, np.ones(window) / window, mode="valid")
                ax.plot(c["step"][: len(y)] + window // 2, y, label=label, lw=1.2)
            else:
                ax.plot(c["step"], y, label=label, lw=1.2)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        if name == "loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if curves:
            ax.legend(fontsize=7)
        ax.set_title(f"{table.plan.task}: {ylabel}")
        fig.tight_layout()
        path = out / f"{name}.png"
        _save(fig, canvas_type, path)
        paths.append(path)
    if table.plan.kind == "sensitivity":
        paths.append(_sensitivity_figure(table, store, out, figure_type, canvas_type))
    return paths


def _sensitivity_figure(table: ArmTable, store: Store, out: Path, figure_type: Any, canvas_type: Any) -> Path:
    """Final and best loss (and validation loss when the task has it) against LR on a log
    axis: each run's point, the mean per LR as a line, the best LR marked."""
    specs = {s.key: s for s in table.plan.specs}
    stored = store.runs(specs)
    series = [("end", "final loss", "o"), ("best", "best loss", "v")]
    if any(r.summary.get("val_loss") is not None for r in stored):
        series.append(("val_loss", "final val loss", "s"))
    fig = figure_type(figsize=(7, 4), dpi=110)
    ax = fig.add_subplot()
    for key, name, marker in series:
        points: dict[float, list[float]] = {}
        for run in stored:
            lr = float(dict(specs[run.key].params).get("lr", math.nan))
            value = run.summary.get(key)
            if value is not None and math.isfinite(value) and value > 0:
                points.setdefault(lr, []).append(value)
        if not points:
            continue
        lrs = sorted(points)
        ax.scatter([lr for lr in lrs for _ in points[lr]], [v for lr in lrs for v in points[lr]],
                   marker=marker, s=14, alpha=0.5)
        ax.plot(lrs, [sum(points[lr]) / len(points[lr]) for lr in lrs], marker=marker, label=f"{name} (mean)")
    best = table.best
    if best is not None:
        lr = float(dict(best.params).get("lr", math.nan))
        ax.axvline(lr, color="k", ls="--", lw=0.8, label=f"best LR {lr:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate (constant)")
    ax.set_ylabel(table.loss_meaning)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(f"{table.plan.task}: LR sensitivity, {table.plan.steps} updates")
    fig.tight_layout()
    path = out / "sensitivity.png"
    _save(fig, canvas_type, path)
    return path


def _lr_range(text: str, steps: int) -> str:
    """``LR 0 to 0.2, last 1.2e-05`` over updates ``0 .. steps - 1`` of a schedule text."""
    from lrlab.schedules import parse

    try:
        values = parse(text).values(steps)
    except ValueError:
        return "cannot be evaluated"
    return f"LR {float(values.min()):.3g} to {float(values.max()):.3g}, last {float(values[-1]):.3g}"


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file (a failure leaves the old file)."""
    temp = path.with_name(f".{path.name}.new-{os.getpid()}")
    try:
        temp.write_text(text)
        os.replace(temp, path)
    except OSError as error:
        try:
            temp.unlink()
        except OSError:
            pass
        raise StoreError(f"cannot write {path}: {error.strerror or error}") from None


def write_report(table: ArmTable, store: Store, out: str | Path, command: str = "",
                 figures: bool = True) -> Path:
    """Write ``report.md`` (table, legend, ranking, failures with their tracebacks,
    schedules, figures) and ``summary.json`` into ``out``."""
    out = Path(out)
    paths = write_figures(table, store, out) if figures else []
    plan = table.plan
    lines = [
        f"# lrlab {plan.kind}: {plan.task}",
        "",
        f"{plan.steps} updates per run, {len(plan.seeds)} seed(s) per arm"
        + (f", peak LR {plan.extra['peak']:g} for the templates" if "peak" in plan.extra else "") + ".",
        "",
    ]
    if command:
        lines += ["```", command, "```", ""]
    if plan.warnings:
        lines += ["Warnings:", ""] + [f"- {w}" for w in plan.warnings] + [""]
    lines += [format_table(table), "", legend(table), "", ranking_note(table), ""]
    if table.missing:
        lines += [f"{table.missing} run(s) have not finished: run the same command to complete them.", ""]
    if table.failures:
        lines += ["Runs that raised an error (retried on the next run of the command):", ""]
        for _, label, error in table.failures:
            lines += [f"- {label}:", "", "```", error, "```", ""]
    lines += ["Schedules (as run; the LR range is over the run's updates):", ""]
    lines += [f"- {a.label}: `{a.schedule}` ({_lr_range(a.schedule, plan.steps)})" for a in table.arms] + [""]
    lines += [f"![{p.stem}]({p.name})" for p in paths]
    path = out / "report.md"
    _write(path, "\n".join(lines) + "\n")
    _write(out / "summary.json", json.dumps(table.to_dict(), indent=2, allow_nan=False) + "\n")
    return path
