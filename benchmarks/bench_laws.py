"""Accuracy of the loss-curve laws (lrlab.fit.laws) on the published multi-power-law curves.

For each model size (25M, 100M, 400M; the curves of Luo et al., ICLR 2025, shipped in
``tests/data/multipowerlaw``), fit on ``cosine_24000``, ``constant_24000`` and
``wsdcon_9`` and predict the other six, as the paper does. Points at step 24000 of the
24000-step files are dropped (as the paper's repository does). Reported per size and law:
R^2, mean and worst relative error over the six held-out curves (R^2 and mean: the mean of
the per-curve values; worst: the worst point of any curve), the fitted parameters, and
the paper's numbers beside ours; also the errors of the paper's own parameters evaluated
by our implementation of the law (a check of the formula).

Two ways of giving the LR: ``schedule`` (the exact schedule of each run, written as an lrlab
spec from the data's README) and ``csv`` (only the CSV's ``lr`` column, logged every 128
steps: the LR is interpolated and the warmup assumed linear from 0, as ``lrlab predict``
does with CSV curves).

``--lab DIR``: the same for a directory of lab runs (``NAME_sSEED.csv``, ``step,lr,loss``),
fitting on the names given with ``--fit`` and predicting the rest. ``--train DIR --spec
NAME=SPEC ... [--seeds 0,1] [--steps 1000]`` makes such runs with the lab's ``charlm``
task (validation loss every 25 updates), for example::

    python benchmarks/bench_laws.py --train runs/laws --spec "cosine=warmup(50, cosine(3e-3, 3e-4, 950))" \
        --spec "constant=warmup(50, constant(3e-3, 950))" \
        --spec "twostage=piecewise([0, 50, 500, 501, 1000], [0, 3e-3, 3e-3, 9e-4, 9e-4])" \
        --spec "wsd=wsd(3e-3, 1000, warmup=50)" --spec "linear=warmup(50, linear(3e-3, 0, 950))" \
        --spec "wsdlin=piecewise([0, 50, 700, 1000], [0, 3e-3, 3e-3, 3e-5])"
    python benchmarks/bench_laws.py --lab runs/laws --fit cosine,constant,twostage --from-step 100

    python benchmarks/bench_laws.py [--sizes 25m,100m,400m] [--laws multipower,tissue]
                                    [--lr schedule,csv] [--lab DIR --fit a,b,c --from-step N]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from lrlab.fit.laws import PARAMS, Curve, evaluate, fit_law, law_loss, read_curve

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "multipowerlaw"
FIT = ("cosine_24000", "constant_24000", "wsdcon_9")
HELD_OUT = ("cosine_72000", "constant_72000", "wsdcon_3", "wsdcon_18", "wsd_20000_24000",
            "wsdld_20000_24000")
#: the paper repository's README: R^2, mean and worst relative error on the six held-out
#: curves, and the fitted L0, A, alpha, B, C, beta, gamma
PAPER = {
    "25m": ((0.9988, 0.00110, 0.00409), (3.040, 0.525, 0.508, 363.788, 2.066, 0.583, 0.641)),
    "100m": ((0.9983, 0.00142, 0.00583), (2.651, 0.601, 0.453, 437.946, 2.132, 0.598, 0.655)),
    "400m": ((0.9978, 0.00168, 0.00995), (2.375, 0.654, 0.429, 523.425, 2.025, 0.594, 0.635)),
}


def schedule_of(name: str) -> str:
    """The lrlab spec of a published run (README of the data): warmup over steps 0..2159
    (LR 3e-4 * i / 2159), then the schedule."""
    warm = "warmup(2159, {})"
    kind, _, rest = name.partition("_")
    if kind == "cosine":
        return warm.format(f"join(constant(3e-4, 1), cosine(3e-4, 3e-5, {int(rest) - 2160}))")
    if kind == "constant":
        return warm.format("constant(3e-4)")
    if kind == "wsdcon":
        return warm.format(f"join(constant(3e-4, 5841), constant({int(rest)}e-5))")
    if kind == "wsdld":
        return warm.format("join(constant(3e-4, 17841), linear(3e-4, 3e-5, 4000))")
    if kind == "wsd":
        return warm.format("join(constant(3e-4, 17841), geometric(3e-4, 3e-5, 4000))")
    raise ValueError(name)


def load(size: str, name: str, lr: str) -> Curve:
    rows = list(csv.DictReader((DATA / size / f"{name}.csv").open()))
    steps = np.array([int(r["step"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    keep = steps != 24000
    if lr == "schedule":
        return Curve.from_schedule(schedule_of(name), steps[keep], loss[keep], name)
    lrs = np.array([float(r["lr"]) for r in rows])
    return Curve.from_log(steps[keep], lrs[keep], loss[keep], name)


def pct(x: float) -> str:
    return f"{100 * x:.3f}%"


def published(sizes: list[str], laws: list[str], lrs: list[str]) -> None:
    print("| size | law | LR from | R^2 | mean rel. error | worst rel. error | fit time (s) | parameters |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
    for size in sizes:
        (r2, mean, worst), params = PAPER[size]
        print(f"| {size} | multipower | paper (their README) | {r2:.4f} | {pct(mean)} | {pct(worst)} | | "
              + ", ".join(f"{n}={v:g}" for n, v in zip(PARAMS["multipower"], params)) + " |")
        theirs = dict(zip(PARAMS["multipower"], params))
        held = [load(size, n, "schedule") for n in HELD_OUT]
        per = [law_loss("multipower", theirs, c) for c in held]
        from lrlab.fit.laws import errors
        e = [errors(p, c.loss) for p, c in zip(per, held)]
        print(f"| {size} | multipower | paper's parameters, our law | {np.mean([x['r2'] for x in e]):.4f} | "
              f"{pct(float(np.mean([x['mean_rel_error'] for x in e])))} | "
              f"{pct(max(x['max_rel_error'] for x in e))} | | (as above) |", flush=True)
        for law in laws:
            for lr in lrs:
                start = time.perf_counter()
                fit = fit_law(law, [load(size, n, lr) for n in FIT])
                took = time.perf_counter() - start
                ev = evaluate(fit, [load(size, n, lr) for n in HELD_OUT])
                shown = ", ".join(f"{n}={v:.4g}" for n, v in fit.params.items())
                print(f"| {size} | {law} | {lr} | {ev['r2']:.4f} | {pct(ev['mean_rel_error'])} | "
                      f"{pct(ev['max_rel_error'])} | {took:.0f} | {shown} |", flush=True)


def lab(directory: Path, fit_names: list[str], laws: list[str], from_step: int) -> None:
    files = sorted(p for p in directory.glob("*.csv") if "_train" not in p.stem)
    seeds = sorted({p.stem.rsplit("_s", 1)[1] for p in files})
    by_name: dict[str, list[Curve]] = {}
    for p in files:
        by_name.setdefault(p.stem.rsplit("_s", 1)[0], []).append(read_curve(p).after(from_step))
    noise = [float(np.mean(np.abs(a.loss - b.loss) / b.loss)) for a, b, *_ in by_name.values()
             if a.loss is not None and b.loss is not None and a.steps.tolist() == b.steps.tolist()]
    if noise:
        print(f"seed-to-seed mean relative difference of the same schedule's curves (from step "
              f"{from_step}): {pct(float(np.mean(noise)))} (mean over {len(noise)} schedules)\n")
    print("| seed | law | fit on | held out: R^2 | mean rel. error | worst rel. error "
          "| per curve (mean rel. error) |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- |")
    for seed in seeds:
        curves = {p.stem.rsplit("_s", 1)[0]: read_curve(p).after(from_step)
                  for p in files if p.stem.endswith(f"_s{seed}")}
        train = [curves[n] for n in fit_names]
        test = [c for n, c in curves.items() if n not in fit_names]
        for law in laws:
            fit = fit_law(law, train)
            ev = evaluate(fit, test)
            per = ", ".join(f"{n.rsplit('_s', 1)[0]} {pct(v['mean_rel_error'])}"
                            for n, v in ev["curves"].items())
            print(f"| {seed} | {law} | {', '.join(fit_names)} | {ev['r2']:.4f} | "
                  f"{pct(ev['mean_rel_error'])} | {pct(ev['max_rel_error'])} | {per} |", flush=True)


def _train_one(job: tuple[str, int, int, str, str]) -> str:
    """One ``charlm`` run; writes ``NAME_sSEED.csv``: the LR of every update and the
    validation loss after update ``t`` on row ``t`` (blank between evaluations)."""
    import lrlab
    from lrlab.lab.tasks import get_task

    name, seed, steps, spec, out = job
    path = Path(out) / f"{name}_s{seed}.csv"
    if path.exists():
        return f"{path} (kept)"
    result = get_task("charlm").run(lrlab.parse(spec), seed=seed, steps=steps, eval_every=25)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "lr", "loss"])
        for r in result.history:
            writer.writerow([r.step, repr(r.lr), "" if r.val_loss is None else repr(r.val_loss)])
    return str(path)


def train(out: Path, specs: list[str], seeds: list[int], steps: int, workers: int) -> None:
    """Train ``charlm`` under each ``NAME=SPEC`` for each seed (resumable: existing CSVs kept)."""
    from concurrent.futures import ProcessPoolExecutor

    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for item in specs:
        name, _, spec = item.partition("=")
        jobs += [(name, seed, steps, spec, str(out)) for seed in seeds]
    with ProcessPoolExecutor(workers) as pool:
        for done in pool.map(_train_one, jobs):
            print(done, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25m,100m,400m")
    parser.add_argument("--laws", default="multipower,tissue")
    parser.add_argument("--lr", default="schedule,csv")
    parser.add_argument("--lab", type=Path)
    parser.add_argument("--fit", default="cosine,constant,twostage")
    parser.add_argument("--from-step", type=int, default=0, help="lab: fit and score losses from this step")
    parser.add_argument("--train", type=Path, help="train charlm runs into this directory")
    parser.add_argument("--spec", action="append", default=[], metavar="NAME=SPEC")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    laws = args.laws.split(",")
    if args.train:
        train(args.train, args.spec, [int(s) for s in args.seeds.split(",")], args.steps, args.workers)
        return 0
    if args.lab:
        lab(args.lab, args.fit.split(","), laws, args.from_step)
    else:
        published(args.sizes.split(","), laws, args.lr.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
