"""How good are the LR finder's suggestions? Each against the grid-best warmup + cosine peak.

For each lab task (``circle``, ``digits``, ``charlm``; any ``--task``):

1. A grid of full warmup + cosine runs: ``warmup(W, cosine(peak, 0, steps - W))`` with
   ``W = 5%`` of ``steps``, peaks spaced by a factor ``sqrt(2)``, ``--grid-seeds`` seeds
   each. A run's final loss is its last ``val_loss`` (digits, charlm) or its last training
   loss (circle, whose loss is the whole training set); a diverged run counts as infinite.
   The grid-best peak minimizes the mean final loss over seeds. Every run is stored in a
   JSON file under ``--out`` as it finishes, so an interrupted benchmark resumes.
2. The range test on the same task: ``find_lr_task`` with ``--sweep-steps`` updates per
   seed and ``--sweep-seeds`` seeds (default 100 x 3 = 300 updates), ladder 1e-7 -> 10.
3. For every label: ratio = suggested LR / grid-best peak, and the final loss at the
   suggestion relative to the grid best. That loss is interpolated on the grid (linear in
   log LR between the two nearest grid peaks; a suggestion outside the grid takes the
   end's value and is marked); for the recommended label (``warmup+cosine``) it is also
   measured by full runs at the suggested peak, same seeds.

Goal (issue 10): the recommended suggestion within a factor 2 of the grid-best peak on every
built-in task, with at most 300 sweep updates.

    PYTHONPATH=src python benchmarks/bench_finder.py --out bench-out/finder
    PYTHONPATH=src python benchmarks/bench_finder.py --task charlm --steps 500 --grid-seeds 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lrlab  # noqa: E402
from _common import machine  # noqa: E402
from lrlab.lab.tasks import get_task  # noqa: E402

#: per task: (grid peaks low, high, steps of a full run, task options)
DEFAULTS: dict[str, tuple[float, float, int, dict[str, Any]]] = {
    "circle": (0.05, 3.2, 4000, {}),
    "digits": (0.0125, 0.8, 500, {}),
    "charlm": (1e-3, 6.4e-2, 500, {}),
}


def grid_peaks(low: float, high: float) -> list[float]:
    """Peaks ``low * sqrt(2)^k`` up to ``high`` (inclusive, to rounding)."""
    count = int(math.floor(2 * math.log2(high / low) + 1e-9)) + 1
    return [float(f"{low * math.sqrt(2) ** k:.4g}") for k in range(count)]


def final_losses(result: Any) -> dict[str, float]:
    """``train``: the mean training loss of the last 5% of updates (``circle``'s training
    loss is the whole training set's); ``val``: the last validation loss. Both infinite for
    a diverged run."""
    if result.diverged:
        return {"train": math.inf, "val": math.inf}
    rows = result.history
    tail = rows[-max(1, len(rows) // 20):]
    last_val = rows[-1].val_loss
    return {"train": float(np.mean([r.loss for r in tail])),
            "val": float(last_val) if last_val is not None else math.inf}


def schedule_for(peak: float, steps: int) -> lrlab.Schedule:
    warm = max(1, round(0.05 * steps))
    return lrlab.warmup(warm, lrlab.cosine(peak, 0.0, steps - warm))


class Store:
    """Runs as JSON lines: key -> final losses (resumable)."""

    def __init__(self, path: str, metric: str = "train") -> None:
        self.path = path
        self.metric = metric
        self.values: dict[str, dict[str, float]] = {}
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    row = json.loads(line)
                    self.values[row["key"]] = {k: math.inf if v is None else v for k, v in row["losses"].items()}

    def get(self, task: str, options: dict[str, Any], peak: float, seed: int, steps: int) -> float:
        key = json.dumps([task, options, f"{peak:.6g}", seed, steps], sort_keys=True)
        if key not in self.values:
            result = get_task(task).run(schedule_for(peak, steps), seed=seed, steps=steps, **options)
            losses = final_losses(result)
            self.values[key] = losses
            with open(self.path, "a") as f:
                f.write(json.dumps({"key": key, "losses": {k: v if math.isfinite(v) else None
                                                           for k, v in losses.items()}}) + "\n")
        return self.values[key][self.metric]


def interpolate(peaks: list[float], losses: list[float], lr: float) -> tuple[float, bool]:
    """Final loss at ``lr``, linear in log LR between grid points; (value, inside grid)."""
    x = np.log(peaks)
    if lr <= peaks[0]:
        return losses[0], lr >= peaks[0] * 0.999
    if lr >= peaks[-1]:
        return losses[-1], lr <= peaks[-1] * 1.001
    j = int(np.searchsorted(x, math.log(lr)))
    a, b = losses[j - 1], losses[j]
    if not (math.isfinite(a) and math.isfinite(b)):
        return (a if math.log(lr) - x[j - 1] < x[j] - math.log(lr) else b), True
    w = (math.log(lr) - x[j - 1]) / (x[j] - x[j - 1])
    return float(a + w * (b - a)), True


def bench_task(task: str, args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from lrlab.torch.finder import RECOMMENDED, find_lr_task

    low, high, steps, options = DEFAULTS.get(task, (1e-4, 1.0, get_task(task).default_steps, {}))
    steps = args.steps or steps
    peaks = grid_peaks(low, high)
    seeds = list(range(args.grid_seeds))
    started = time.perf_counter()
    table = []
    for peak in peaks:
        losses = [store.get(task, options, peak, s, steps) for s in seeds]
        table.append(float(np.mean(losses)) if all(math.isfinite(v) for v in losses) else math.inf)
        print(f"  {task} grid peak {peak:.4g}: {['%.4f' % v for v in losses]}", file=sys.stderr, flush=True)
    grid_s = time.perf_counter() - started
    best_i = int(np.argmin(table))
    best_peak, best_loss = peaks[best_i], table[best_i]

    started = time.perf_counter()
    sweep_seeds = [100 + s for s in range(args.sweep_seeds)]
    found = find_lr_task(task, num_steps=args.sweep_steps, seeds=sweep_seeds, options=options)
    sweep_s = time.perf_counter() - started
    rows = {}
    for label, s in found.suggestions.items():
        if s.lr is None:
            rows[label] = {"lr": None, "reason": s.reason}
            continue
        loss, inside = interpolate(peaks, table, s.lr)
        rows[label] = {"lr": s.lr, "ratio": s.lr / best_peak, "loss_ratio_interp": loss / best_loss,
                       "inside_grid": inside}
        if label == "interval":
            rows[label].update(low=s.low, high=s.high, low_ratio=s.low / best_peak, high_ratio=s.high / best_peak)
    rec = found.suggestions[RECOMMENDED].lr
    if rec is not None:
        measured = [store.get(task, options, rec, s, steps) for s in seeds]
        mean = float(np.mean(measured)) if all(math.isfinite(v) for v in measured) else math.inf
        rows[RECOMMENDED]["loss_ratio_measured"] = mean / best_loss
    return {
        "task": task, "steps": steps, "options": options, "grid_seeds": seeds, "grid": dict(zip(peaks, table)),
        "best_peak": best_peak, "best_loss": best_loss, "sweep_updates": found.num_updates,
        "sweep_steps": args.sweep_steps, "sweep_seeds": sweep_seeds, "suggestions": rows,
        "within_2x": rec is not None and 0.5 <= rec / best_peak <= 2.0,
        "grid_s": round(grid_s, 1), "sweep_s": round(sweep_s, 1),
    }


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| task | grid-best peak (loss) | label | suggestion | ratio to best | loss ratio |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for r in results:
        for label, row in r["suggestions"].items():
            if row.get("lr") is None:
                lines.append(f"| {r['task']} | {r['best_peak']:.3g} ({r['best_loss']:.4f}) | {label} | none | | |")
                continue
            ratio = f"{row['ratio']:.2f}"
            if label == "interval":
                ratio += f" ({row['low_ratio']:.2f}..{row['high_ratio']:.2f})"
            loss = f"{row['loss_ratio_interp']:.3f}" + ("" if row["inside_grid"] else " (edge)")
            if "loss_ratio_measured" in row:
                loss += f" / measured {row['loss_ratio_measured']:.3f}"
            lines.append(f"| {r['task']} | {r['best_peak']:.3g} ({r['best_loss']:.4f}) | {label} | "
                         f"{row['lr']:.3g} | {ratio} | {loss} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", action="append", help="task(s) (default: circle, digits, charlm)")
    parser.add_argument("--steps", type=int, help="updates per grid run (default: per task)")
    parser.add_argument("--grid-seeds", type=int, default=3)
    parser.add_argument("--sweep-steps", type=int, default=100)
    parser.add_argument("--sweep-seeds", type=int, default=3)
    parser.add_argument("--out", default="bench-out/finder")
    parser.add_argument("--metric", default="train", choices=("train", "val"),
                        help="final loss: mean training loss of the last 5%% (default) or last val_loss")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    store = Store(os.path.join(args.out, "runs.jsonl"), args.metric)
    import torch

    torch.set_num_threads(1)
    results = [bench_task(task, args, store) for task in (args.task or list(DEFAULTS))]
    report = {"machine": machine(torch=torch.__version__), "results": results}
    with open(os.path.join(args.out, "finder.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)
    print(markdown(results))
    for r in results:
        print(f"{r['task']}: recommended within 2x of grid best: {r['within_2x']} "
              f"({r['sweep_updates']} sweep updates, sweep {r['sweep_s']} s, grid {r['grid_s']} s)")


if __name__ == "__main__":
    main()
