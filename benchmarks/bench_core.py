"""The schedule core's speed targets, each a ratio measured side by side in one run.

1. ``s(t)`` costs at most 3x a hand-written plain-Python function of the same schedule,
   for every family in the table (the scalar plan traced from the one formula).
2. ``s.values(n)`` for warmup+cosine costs at most 1.3x a hand-written chunked numpy
   evaluation, and its peak memory for 1e7 steps is at most 1.2x the output.
3. A join of 10,000 phases and a piecewise of 10,001 points over 1e6 steps cost at most 2x
   ``np.interp`` over the same points.
4. ``lrlab at "cosine(1.0, 0.0, 100)" 50`` starts in at most 1.15x ``python -c "import numpy"``.

Method: each pair (lrlab, reference) is timed in alternation, round after round, in one
process (the CLI pair in alternating subprocesses), with the garbage collector off while
timing; the ratio reported is the median of the per-round ratios, so that noise from other
processes falls on both sides alike. Exit status 1 if a target is missed.

    python benchmarks/bench_core.py            # full run
    python benchmarks/bench_core.py --quick    # fewer rounds
"""

from __future__ import annotations

import argparse
import bisect
import datetime
import math
import os
import random
import statistics
import subprocess
import sys
import tracemalloc
from collections.abc import Callable

import numpy as np

import lrlab
from _common import machine, timed

SCALAR_RATIO, VALUES_RATIO, MEMORY_RATIO, INTERP_RATIO, STARTUP_RATIO = 3.0, 1.3, 1.2, 2.0, 1.15


# --- hand-written references -----------------------------------------------------------------


def _warmup_cosine(t: int) -> float:
    if t < 715:
        return 6e-4 * t / 715
    if t >= 19073:
        return 6e-5
    return 6e-5 + (6e-4 - 6e-5) * 0.5 * (1.0 + math.cos(math.pi * (t - 715) / 18358))


def _wsd(t: int) -> float:
    if t < 1000:
        return 3e-4 * t / 1000
    if t < 16000:
        return 3e-4
    if t >= 20000:
        return 0.0
    return 3e-4 * (1.0 - math.sqrt((t - 16000) / 4000))


def _onecycle(t: int) -> float:
    low, peak, final = 1e-3 / 25, 1e-3, 1e-3 / 25 / 1e4
    if t < 5999:
        return peak + (low - peak) / 2 * (1 + math.cos(math.pi * t / 5999))
    if t >= 19999:
        return final
    return final + (peak - final) / 2 * (1 + math.cos(math.pi * (t - 5999) / 14000))


def _sgdr(t: int) -> float:
    x = (t % 2000) / 2000
    return 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + math.cos(math.pi * x))


def _sgdr_mult(t: int) -> float:
    k = min(int(math.log2(t / 1000 + 1)), 3)
    start = 1000 * (2**k - 1)
    span = 1000 * 2**k
    peak = 1e-3 * 0.9**k
    return 1e-5 + (peak - 1e-5) * 0.5 * (1 + math.cos(math.pi * min(t - start, span) / span))


_MILESTONES, _LEVELS = (30_000, 60_000, 80_000), (0.1, 0.01, 0.001, 0.0001)


def _multistep(t: int) -> float:
    return _LEVELS[bisect.bisect_right(_MILESTONES, t)]


def _exponential(t: int) -> float:
    return 1e-3 * 0.9999**t


def _step(t: int) -> float:
    return 0.1 * 0.1 ** (t // 30_000)


_POINTS, _VALUES = (0, 1000, 10000, 20000), (0.0, 1e-3, 1e-4, 0.0)


def _piecewise(t: int) -> float:
    if t >= 20000:
        return 0.0
    i = bisect.bisect_right(_POINTS, t)
    x0, x1, y0, y1 = _POINTS[i - 1], _POINTS[i], _VALUES[i - 1], _VALUES[i]
    return y0 + (y1 - y0) * (t - x0) / (x1 - x0)


def _warmup_inverse_sqrt(t: int) -> float:
    if t < 4000:
        return 1e-3 * t / 4000
    return 1e-3 / math.sqrt(t / 4000)


def _wsd_geometric(t: int) -> float:
    if t < 500:
        return 1e-2 * t / 500
    if t < 16000:
        return 1e-2
    if t >= 20000:
        return 1e-3
    return 1e-2 * 0.1 ** ((t - 16000) / 4000)


def _cyclic(t: int) -> float:
    x = (t % 4000) / 4000
    return 1e-3 + (6e-3 - 1e-3) * (x / 0.5 if x <= 0.5 else (1 - x) / 0.5)


CASES: dict[str, tuple[lrlab.Schedule, Callable[[int], float], int]] = {
    "warmup+cosine": (lrlab.warmup(715, lrlab.cosine(6e-4, 6e-5, 18358)), _warmup_cosine, 21000),
    "wsd": (lrlab.wsd(3e-4, 20_000, warmup=1_000), _wsd, 22000),
    "onecycle": (lrlab.onecycle(1e-3, 20_000), _onecycle, 22000),
    "sgdr (mult=1)": (lrlab.sgdr(1e-3, 2_000, floor=1e-5), _sgdr, 22000),
    "sgdr (mult=2, decay=0.9)": (lrlab.sgdr(1e-3, 1_000, mult=2.0, floor=1e-5, decay=0.9, cycles=4),
                                 _sgdr_mult, 15000),
    "multistep": (lrlab.multistep(0.1, [30_000, 60_000, 80_000], gamma=0.1), _multistep, 90000),
    "exponential": (lrlab.exponential(1e-3, 0.9999), _exponential, 20000),
    "step": (lrlab.step(0.1, 0.1, 30_000), _step, 90000),
    "piecewise": (lrlab.piecewise([(0, 0.0), (1_000, 1e-3), (10_000, 1e-4), (20_000, 0.0)]), _piecewise,
                  22000),
    "warmup+inverse_sqrt": (lrlab.warmup(4_000, lrlab.inverse_sqrt(1e-3, 4_000)), _warmup_inverse_sqrt,
                            40000),
    "wsd + geometric cooldown": (lrlab.wsd(1e-2, 20_000, warmup=500, shape="geometric", floor=1e-3),
                                 _wsd_geometric, 22000),
    "cyclic": (lrlab.cyclic(1e-3, 6e-3, 2000), _cyclic, 20000),
}


# --- measuring ---------------------------------------------------------------------------------


def paired(a: Callable[[], object], b: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    """(median seconds of a, of b, median of the per-round ratios a / b), alternating."""
    a(), b()  # warm-up
    ta, tb, ratios = [], [], []
    for r in range(rounds):
        first, second = (a, b) if r % 2 == 0 else (b, a)
        x, y = timed(first), timed(second)
        sa, sb = (x, y) if r % 2 == 0 else (y, x)
        ta.append(sa)
        tb.append(sb)
        ratios.append(sa / sb)
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def loop(f: Callable[[int], float], steps: list[int]) -> Callable[[], None]:
    def run() -> None:
        for t in steps:
            f(t)

    return run


def check_equal(s: lrlab.Schedule, f: Callable[[int], float], steps: list[int]) -> float:
    """Largest relative difference between the schedule and its hand-written version."""
    worst = 0.0
    for t in steps:
        a, b = s(t), f(t)
        worst = max(worst, abs(a - b) / max(abs(b), 1e-300))
    return worst


def hand_values(n: int, chunk: int = 32_768) -> np.ndarray:
    """warmup+cosine over range(n), written by hand in numpy, in chunks."""
    out = np.empty(n)
    for lo in range(0, n, chunk):
        t = np.arange(lo, min(lo + chunk, n), dtype=np.float64)
        decay = 6e-5 + (6e-4 - 6e-5) * 0.5 * (1.0 + np.cos(np.pi * ((t - 715) / 18358)))
        out[lo:lo + t.size] = np.where(t < 715, 6e-4 * (t / 715), np.where(t >= 19073, 6e-5, decay))
    return out


def peak_memory(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def startup(command: list[str]) -> Callable[[], None]:
    """One run of ``command`` with Python's bytecode cache allowed (as installed packages
    have it: numpy's is written at install), so start-up is not dominated by compiling."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run() -> None:
        subprocess.run(command, check=True, capture_output=True, env=env)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args(argv)
    rounds = 7 if args.quick else 21
    calls = 20_000 if args.quick else 100_000
    info = machine(numpy=np.__version__)
    print("# lrlab schedule core: speed targets (issue 7)\n")
    print(f"- command: `{' '.join(['python', *sys.argv])}`")
    print(f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"- machine: {info['cpus']} CPUs, {info['cpu']}; Python {info['python']}, numpy {info['numpy']}, "
          f"lrlab {info['lrlab']} ({info['revision']})")
    print(f"- method: {rounds} alternating rounds per pair; ratio = median of per-round ratios\n")
    results: list[tuple[str, float, float, bool]] = []

    print(f"## 1. `s(t)` against a hand-written function ({calls:,} calls at random steps)\n")
    print("| schedule | lrlab µs/call | hand µs/call | ratio | max rel. diff |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (s, f, horizon) in CASES.items():
        rng = random.Random(0)
        steps = [rng.randrange(horizon) for _ in range(calls)]
        diff = check_equal(s, f, steps[:2000])
        a, b, ratio = paired(loop(s, steps), loop(f, steps), rounds)
        print(f"| {name} | {a / calls * 1e6:.3f} | {b / calls * 1e6:.3f} | {ratio:.2f} | {diff:.1e} |")
        results.append((f"`s(t)` {name} <= {SCALAR_RATIO:g}x hand-written", ratio, SCALAR_RATIO,
                        ratio <= SCALAR_RATIO))

    n = 10_000_000 if not args.quick else 2_000_000
    s = CASES["warmup+cosine"][0]
    assert np.allclose(s.values(100_000), hand_values(100_000), rtol=1e-12, atol=0)
    a, b, ratio = paired(lambda: s.values(n), lambda: hand_values(n), max(5, rounds // 3))
    print(f"\n## 2. `values({n:_})` for warmup+cosine\n")
    print(f"lrlab {a * 1e3:.1f} ms, hand-written chunked numpy {b * 1e3:.1f} ms: ratio {ratio:.2f}")
    results.append((f"`values()` <= {VALUES_RATIO:g}x hand-written numpy", ratio, VALUES_RATIO,
                    ratio <= VALUES_RATIO))
    memory = peak_memory(lambda: s.values(10_000_000)) / (10_000_000 * 8)
    print(f"peak memory of `values(10_000_000)`: {memory:.3f}x the output (tracemalloc)")
    results.append((f"`values(1e7)` peak memory <= {MEMORY_RATIO:g}x the output", memory, MEMORY_RATIO,
                    memory <= MEMORY_RATIO))

    rng_np = np.random.default_rng(0)
    points = np.arange(0, 10_001 * 100, 100, dtype=np.float64)
    levels = rng_np.random(points.size)
    piecewise = lrlab.piecewise(points.tolist(), levels.tolist())
    join = lrlab.join(*(lrlab.linear(float(levels[i]), float(levels[i + 1]), 100) for i in range(10_000)))
    steps = 1_000_000
    grid = np.arange(steps, dtype=np.float64)
    assert np.allclose(piecewise.values(steps), np.interp(grid, points, levels), rtol=0, atol=1e-15)
    assert np.allclose(join.values(steps), np.interp(grid, points, levels), rtol=0, atol=1e-15)
    print(f"\n## 3. 10,000 pieces over {steps:_} steps against `np.interp`\n")
    for name, schedule in (("piecewise (10,001 points)", piecewise), ("join (10,000 linear phases)", join)):
        a, b, ratio = paired(lambda sch=schedule: sch.values(steps),
                             lambda: np.interp(np.arange(steps, dtype=np.float64), points, levels),
                             max(5, rounds // 3))
        print(f"- {name}: lrlab {a * 1e3:.1f} ms, np.interp {b * 1e3:.1f} ms: ratio {ratio:.2f}")
        results.append((f"{name} <= {INTERP_RATIO:g}x np.interp", ratio, INTERP_RATIO, ratio <= INTERP_RATIO))

    lrlab_cli = [sys.executable, "-m", "lrlab.cli", "at", "cosine(1.0, 0.0, 100)", "50"]
    numpy_only = [sys.executable, "-c", "import numpy"]
    a, b, ratio = paired(startup(lrlab_cli), startup(numpy_only), max(7, rounds // 2))
    print("\n## 4. Start-up\n")
    print(f"`lrlab at \"cosine(1.0, 0.0, 100)\" 50` {a * 1e3:.0f} ms, `python -c \"import numpy\"` "
          f"{b * 1e3:.0f} ms: ratio {ratio:.2f}")
    results.append((f"`lrlab at` start-up <= {STARTUP_RATIO:g}x `import numpy`", ratio, STARTUP_RATIO,
                    ratio <= STARTUP_RATIO))

    print("\n## Targets\n")
    print("| target | measured | met |")
    print("| --- | ---: | --- |")
    for name, value, _, ok in results:
        print(f"| {name} | {value:.2f} | {'yes' if ok else 'NO'} |")
    return 0 if all(ok for *_, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
