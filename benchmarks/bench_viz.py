"""Plots and code export cost the same whatever the schedule's length (they sample, and
write phases, never steps).

Measured side by side in one process, interleaved round by round: ``lrlab.plot`` (figure
built, PNG rendered to memory) and ``lrlab.export(..., to='torch'|'optax')`` for a
warmup+cosine of 1e4, 1e8 and 1e12 steps. The ratio of the 1e12 case to the 1e4 case is
the number that matters (target: below 2x); the exit status is 1 if it is missed.

    python benchmarks/bench_viz.py            # 5 rounds
    python benchmarks/bench_viz.py --quick    # 2 rounds
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys

import matplotlib

import lrlab
from _common import machine, timed

LENGTHS = {"1e4": 10**4, "1e8": 10**8, "1e12": 10**12}


def _schedule(total: int) -> lrlab.Schedule:
    warm = total // 20
    return lrlab.warmup(warm, lrlab.cosine(6e-4, 6e-5, total - warm))


def _plot(schedule: lrlab.Schedule) -> None:
    lrlab.plot(schedule).savefig(io.BytesIO(), format="png", dpi=80)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 2 if args.quick else 5
    schedules = {name: _schedule(n) for name, n in LENGTHS.items()}
    tasks = {
        "plot": _plot,
        "export torch": lambda s: lrlab.export(s, to="torch"),
        "export optax": lambda s: lrlab.export(s, to="optax"),
    }
    for task in tasks.values():  # warm-up: imports, font cache
        task(schedules["1e4"])
    times: dict[tuple[str, str], list[float]] = {(t, n): [] for t in tasks for n in schedules}
    for _ in range(rounds):
        for task_name, task in tasks.items():
            for name, schedule in schedules.items():
                times[(task_name, name)].append(timed(lambda task=task, s=schedule: task(s)))
    info = machine(matplotlib=matplotlib.__version__)
    print(f"machine: {info}")
    print(f"{'task':<14} {'1e4 steps':>12} {'1e8 steps':>12} {'1e12 steps':>12} {'1e12/1e4':>9}")
    ok = True
    for task_name in tasks:
        medians = [statistics.median(times[(task_name, n)]) for n in schedules]
        ratio = medians[-1] / medians[0]
        ok &= ratio < 2.0
        cells = " ".join(f"{m * 1e3:>9.2f} ms" for m in medians)
        print(f"{task_name:<14} {cells} {ratio:>8.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
