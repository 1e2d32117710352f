"""Accuracy of ``lrlab.fit.identify``: recovery of the family and parameters from logs.

For every family, schedules with random parameters are logged under five conditions:

* ``exact``: every step, full precision
* ``sparse``: every k-th step (k = 10 or 50)
* ``rounded``: every step, printed with 3 significant digits
* ``noisy``: every 5th step, multiplied by (1 + 1% gaussian noise)
* ``truncated``: every 5th step with 0.3% noise, the log stopping at 60-85% of the schedule

and identified. Reported per family and condition (errors are medians over the trials):
the family recovery rate (an equivalent spelling counts as recovered: 1cycle with a
linear anneal is a warmup and a linear decay), the curve recovery rate (the identified
schedule within 1% of the truth at every step up to the horizon, logged or not; relative
to max(lr, 1e-3 peak)) and that worst error, and the errors of the peak, the warmup
length, the horizon (the step where the schedule ends) and the LR at the end of training
(relative to the peak); how often identify says it cannot decide (a truncated WSD log
that stops before its cooldown, say). For truncated logs, how often the reported horizon
interval contains the true horizon.

    python benchmarks/bench_identify.py              # 6 trials per family and condition
    python benchmarks/bench_identify.py --trials 2   # a quick look

Prints a Markdown report (the section in BENCHMARKS.md is its output).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lrlab
from _common import machine
from lrlab.fit import identify
from lrlab.inspect import summary

Maker = Callable[[np.random.Generator], lrlab.Schedule]


def _lr(rng: np.random.Generator) -> float:
    return float(f"{10 ** rng.uniform(-4.5, -0.5):.2g}")


def _steps(rng: np.random.Generator, lo: int = 800, hi: int = 8000) -> int:
    return int(rng.integers(lo, hi))


def _warm(rng: np.random.Generator, total: int) -> int:
    return int(rng.integers(0, max(2, total // 10))) if rng.random() < 0.8 else 0


def _floor(rng: np.random.Generator, peak: float) -> float:
    return float(rng.choice([0.0, 0.1 * peak, float(f"{peak * rng.uniform(0.01, 0.3):.2g}")]))


def _decay(shape: str) -> Maker:
    def make(rng: np.random.Generator) -> lrlab.Schedule:
        total, peak = _steps(rng), _lr(rng)
        w = _warm(rng, total)
        floor = _floor(rng, peak)
        if shape == "polynomial":
            core = lrlab.polynomial(peak, floor, total - w, power=round(float(rng.uniform(1.5, 3.0)), 1))
        else:
            core = getattr(lrlab, shape)(peak, floor, total - w)
        return lrlab.warmup(w, core) if w else core

    return make


def _wsd(rng: np.random.Generator) -> lrlab.Schedule:
    total, peak = _steps(rng, 2000, 10000), _lr(rng)
    shape = str(rng.choice(["linear", "cosine", "one_minus_sqrt"]))
    cooldown = int(total * rng.uniform(0.1, 0.3))
    return lrlab.wsd(peak, total, warmup=_warm(rng, total), cooldown=cooldown, shape=shape,
                     floor=float(rng.choice([0.0, 0.1 * peak])))


def _onecycle(rng: np.random.Generator) -> lrlab.Schedule:
    return lrlab.onecycle(_lr(rng), _steps(rng), pct_start=round(float(rng.uniform(0.1, 0.45)), 2),
                          div=float(rng.choice([10.0, 25.0])), anneal=str(rng.choice(["cos", "linear"])))


def _multistep(rng: np.random.Generator) -> lrlab.Schedule:
    total = _steps(rng)
    marks = sorted({int(m) for m in rng.uniform(0.2, 0.95, size=int(rng.integers(1, 4))) * total})
    return lrlab.multistep(_lr(rng), marks, gamma=float(rng.choice([0.1, 0.2, 0.5])))


def _sgdr(rng: np.random.Generator) -> lrlab.Schedule:
    return lrlab.sgdr(_lr(rng), int(rng.integers(100, 800)), mult=float(rng.choice([1.0, 2.0])),
                      floor=float(rng.choice([0.0, 1e-6])))


def _exponential(rng: np.random.Generator) -> lrlab.Schedule:
    return lrlab.exponential(_lr(rng), round(float(1 - 10 ** rng.uniform(-4, -2.5)), 6))


def _inverse_sqrt(rng: np.random.Generator) -> lrlab.Schedule:
    w = int(rng.integers(100, 1000))
    return lrlab.warmup(w, lrlab.inverse_sqrt(_lr(rng), w))


FAMILIES: dict[str, tuple[Maker, tuple[str, ...]]] = {
    # family -> (maker, identified families that count as recovered)
    "cosine": (_decay("cosine"), ("cosine",)),
    "linear": (_decay("linear"), ("linear",)),
    "polynomial": (_decay("polynomial"), ("polynomial",)),
    "wsd": (_wsd, ("wsd",)),
    "onecycle": (_onecycle, ("onecycle", "linear")),
    "multistep": (_multistep, ("multistep", "step")),
    "sgdr": (_sgdr, ("sgdr",)),
    "exponential": (_exponential, ("exponential",)),
    "inverse_sqrt": (_inverse_sqrt, ("inverse_sqrt",)),
}

CONDITIONS = ("exact", "sparse", "rounded", "noisy", "truncated")


def _horizon_of(schedule: lrlab.Schedule) -> int:
    """Steps logged: the schedule's length (a multistep's last milestone: 25% more)."""
    length = schedule.length
    if length is None:
        return 6000
    return math.ceil(length * (1.25 if schedule.family == "multistep" else 1.0))


def _log(schedule: lrlab.Schedule, condition: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    end = _horizon_of(schedule)
    if condition == "exact":
        t = np.arange(end)
        return t, schedule.values(t)
    if condition == "sparse":
        t = np.arange(0, end, int(rng.choice([10, 50])))
        return t, schedule.values(t)
    if condition == "rounded":
        t = np.arange(end)
        return t, np.array([float(f"{v:.3g}") for v in schedule.values(t)])
    if condition == "noisy":
        t = np.arange(0, end, 5)
        return t, schedule.values(t) * (1 + 0.01 * rng.standard_normal(t.size))
    t = np.arange(0, int(end * rng.uniform(0.6, 0.85)), 5)
    return t, schedule.values(t) * (1 + 0.003 * rng.standard_normal(t.size))


@dataclass
class Trial:
    family_ok: bool
    curve_ok: bool
    undecided: bool
    worst: float
    peak: float
    warmup: float
    horizon: float | None
    end: float | None
    covered: bool | None
    seconds: float


def _trial(truth: lrlab.Schedule, accepted: tuple[str, ...], condition: str,
           rng: np.random.Generator) -> Trial:
    t, y = _log(truth, condition, rng)
    start = time.perf_counter()
    result = identify((t, y))
    seconds = time.perf_counter() - start
    end = _horizon_of(truth)
    every = np.arange(end + 1)
    ref = truth.values(every)
    peak = float(ref.max())
    err = np.abs(result.schedule.values(every) - ref) / np.maximum(np.abs(ref), 1e-3 * peak)
    true_sum, found_sum = summary(truth), summary(result.schedule)
    horizon_err = None
    if true_sum.length is not None and found_sum.length is not None:
        horizon_err = abs(found_sum.length - true_sum.length) / true_sum.length
    end_err = None
    if true_sum.final is not None and found_sum.final is not None:
        end_err = abs(found_sum.final - true_sum.final) / true_sum.peak
    covered = None
    if condition == "truncated" and result.horizon_interval is not None and true_sum.length is not None:
        lo, hi = result.horizon_interval
        covered = lo <= true_sum.length <= hi
    return Trial(result.family in accepted, bool(err.max() <= 0.01), not result.decided, float(err.max()),
                 abs(found_sum.peak - true_sum.peak) / true_sum.peak,
                 abs(found_sum.warmup_steps - true_sum.warmup_steps), horizon_err, end_err, covered, seconds)


def _median(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return "n/a" if not known else f"{np.median(known):.2g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=6, help="trials per family and condition (default 6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--family", action="append", choices=list(FAMILIES), help="only these families")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    info = machine(numpy=np.__version__)
    started = time.time()
    print("## Schedule identification (`lrlab identify`)\n")
    print(f"Command: `python benchmarks/bench_identify.py --trials {args.trials} --seed {args.seed}` "
          f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
          f"{os.getloadavg()[0]:.2f}; {info['cpus']} CPUs, {info['cpu']}; commit {info['revision']}; "
          f"Python {info['python']}, numpy {info['numpy']})\n")
    print("| family | condition | family recovered | says cannot decide | curve within 1% | worst curve err "
          "| peak err | warmup err (steps) | horizon err | end LR err (/peak) | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    totals = {c: [0, 0, 0] for c in CONDITIONS}
    coverage: list[bool] = []
    for name in args.family or list(FAMILIES):
        maker, accepted = FAMILIES[name]
        for condition in CONDITIONS:
            trials = []
            for _ in range(args.trials):
                truth = maker(rng)
                trials.append(_trial(truth, accepted, condition, rng))
            fam = sum(t.family_ok for t in trials)
            curve = sum(t.curve_ok for t in trials)
            totals[condition][0] += fam
            totals[condition][1] += curve
            totals[condition][2] += len(trials)
            coverage += [t.covered for t in trials if t.covered is not None]
            undecided = sum(t.undecided for t in trials)
            print(f"| {name} | {condition} | {fam}/{len(trials)} | {undecided}/{len(trials)} | "
                  f"{curve}/{len(trials)} | "
                  f"{_median([t.worst for t in trials])} | "
                  f"{_median([t.peak for t in trials])} | {_median([t.warmup for t in trials])} | "
                  f"{_median([t.horizon for t in trials])} | {_median([t.end for t in trials])} | "
                  f"{np.median([t.seconds for t in trials]):.1f} |", flush=True)
    print("\n| condition | family recovered | curve within 1% |")
    print("| --- | --- | --- |")
    for condition, (fam, curve, n) in totals.items():
        print(f"| {condition} | {fam}/{n} ({fam / max(n, 1):.0%}) | {curve}/{n} ({curve / max(n, 1):.0%}) |")
    if coverage:
        print(f"\nTruncated logs: the reported horizon interval contains the true horizon in "
              f"{sum(coverage)}/{len(coverage)} cases.")
    print(f"\nTotal time {time.time() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
