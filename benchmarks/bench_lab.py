"""The lab's overhead over a plain training loop of the same runs, in process CPU time.

Both sides are fresh processes (Python start, imports included), measured with
``getrusage(RUSAGE_CHILDREN)`` (user + system CPU), alternating ``--repeats`` times so load
from other processes falls on both:

- **plain**: a loop calling ``task.run(parse(spec), seed=..., steps=...)`` for the runs of
  the experiment, keeping each history;
- **lab**: ``lrlab compare --executor inline`` of the same runs into a fresh ``--out``
  (planning, the store with its checksums, summaries, paired statistics, report.md,
  summary.json and the two figures), and the same with ``--no-figures``.

The ratio is lab CPU / plain CPU per repeat; the median is reported.

    python benchmarks/bench_lab.py              # circle, 6 schedules x 3 seeds x 4000 updates
    python benchmarks/bench_lab.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

PLAIN = """
import sys
from lrlab import parse
from lrlab.lab.experiment import plan_compare
from lrlab.lab.tasks import get_task
plan = plan_compare(sys.argv[1], None, steps=int(sys.argv[2]), seeds=int(sys.argv[3]))
task = get_task(plan.task)
histories = [task.run(parse(s.schedule), seed=s.seed, steps=s.steps).history for s in plan.specs]
print(len(histories))
"""


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process."""
    cpu, wall = _child_cpu(), time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return _child_cpu() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="circle")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    rows: dict[str, list[tuple[float, float]]] = {"plain": [], "lab": [], "lab --no-figures": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            rows["plain"].append(measure([python, "-c", PLAIN, args.task, str(args.steps), str(args.seeds)]))
            for name, extra in (("lab", []), ("lab --no-figures", ["--no-figures"])):
                out = os.path.join(tmp, f"{name.replace(' ', '')}-{i}")
                rows[name].append(measure([python, "-m", "lrlab.cli", "compare", "--task", args.task,
                                           "--steps", str(args.steps), "--seeds", str(args.seeds),
                                           "--executor", "inline", "--out", out, *extra]))
    load = os.getloadavg()[0]
    print(f"#### lab overhead: `{args.task}`, the six templates x {args.seeds} seeds x {args.steps} updates")
    print()
    print(f"- command: `python benchmarks/bench_lab.py --task {args.task} --steps {args.steps} "
          f"--seeds {args.seeds} --repeats {args.repeats}`")
    print(f"- {args.repeats} repeats, alternating; 1-min load average at the end {load:.2f} "
          f"on {os.cpu_count()} CPUs")
    print()
    print("| process | CPU s (median) | wall s (median) | CPU / plain (median of paired ratios) |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in rows.items():
        ratios = [cpu / plain[0] for (cpu, _), plain in zip(values, rows["plain"])]
        print(f"| {name} | {statistics.median(v[0] for v in values):.2f} | "
              f"{statistics.median(v[1] for v in values):.2f} | {statistics.median(ratios):.3f} |")


if __name__ == "__main__":
    main()
