"""The laws' commands: ``lrlab predict``, ``lrlab optimize`` and ``lrlab bound``.

    lrlab predict --law multipower|tissue --fit CURVE [CURVE ...] --target CURVE_OR_SPEC
                  [--from-step N] [--steps N] [--json] [-o FILE.png]
    lrlab optimize --law multipower|tissue --fit CURVE [CURVE ...] [--from-step N] [--steps N]
                   [--peak LR] [--warmup W] [--floor LR] [--json] [-o FILE.png]
    lrlab bound SPEC [SPEC ...] [--steps N] [--tuned-peak LR] [--json]

A CURVE is a CSV with ``step,lr,loss`` columns (see ``docs/laws.md``); a target CSV
may have no losses (then it is predicted, not scored). Progress goes to stderr. Errors
(bad files, a law that does not fit) exit with status 2. JSON keys:

* ``predict``: ``law``, ``params`` (name -> value), ``fit`` (``r2``, ``mean_rel_error``,
  ``max_rel_error`` on the curves fitted, ``objective``, ``converged``), ``target``,
  ``r2``, ``mean_rel_error``, ``max_rel_error`` (fractions: 0.0017 is 0.17%; null for a
  schedule target) and ``prediction`` (``step``, ``loss``: lists).
* ``optimize``: ``law``, ``params``, ``spec`` (the optimized schedule), ``steps``,
  ``predicted_final_loss``, ``baselines`` (``spec``, ``predicted_final_loss``).
* ``bound``: a list of ``spec``, ``steps``, ``peak``, ``bound``, ``optimal_peak``,
  ``optimal_bound``, ``peak_ratio`` (optimal peak over the first schedule's) and
  ``transferred_peak`` (``--tuned-peak`` times ``peak_ratio``, null without it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from lrlab.cliutil import int_arg, positive_number

LAW_CHOICES = ("multipower", "tissue")


_positive_int, _nonneg_int, _positive_float = int_arg(1), int_arg(0), positive_number


def _nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0; got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0; got {text!r}")
    return value


def add_commands(commands: Any) -> None:
    """Register predict, optimize and bound on the main parser's subcommands."""
    predict = commands.add_parser(
        "predict", help="fit a loss-curve law to curves and predict another schedule's curve",
        description="Fit the multi-power law (Luo et al. 2025) or Tissue et al.'s law (2024) to one "
        "or more loss curves (CSV: step,lr,loss) and predict the target: a CSV curve (with its "
        "errors) or a schedule in the text form (its predicted curve). Needs scipy.")
    _law_args(predict)
    predict.add_argument("--target", required=True, metavar="CURVE",
                         help="a CSV curve to predict and score, or a schedule spec to predict")
    predict.add_argument("--steps", type=_positive_int,
                         help="a schedule target: updates to predict (default: the schedule's length)")
    predict.add_argument("-o", "--output", metavar="FILE.png", help="plot data and prediction (matplotlib)")
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.set_defaults(run=_predict)

    optimize = commands.add_parser(
        "optimize", help="the schedule a fitted law predicts to end lowest",
        description="Fit a law to loss curves, then find the non-increasing schedule after warmup "
        "(fixed peak and horizon) with the lowest predicted final loss; print it as an lrlab "
        "piecewise schedule, beside cosine and WSD of the same peak. Needs scipy.")
    _law_args(optimize)
    optimize.add_argument("--steps", type=_positive_int, help="horizon (default: the longest fit curve)")
    optimize.add_argument("--peak", type=_positive_float,
                          help="peak LR (default: the fit curves' largest LR)")
    optimize.add_argument("--warmup", type=_nonneg_int,
                          help="linear warmup steps from 0 (default: the first fit curve's, to its peak)")
    optimize.add_argument("--floor", type=_nonneg_float, default=0.0, help="lowest LR allowed (default 0)")
    optimize.add_argument("-o", "--output", metavar="FILE.png",
                          help="plot the schedules and their predicted loss (matplotlib)")
    optimize.add_argument("--json", action="store_true", help="print JSON")
    optimize.set_defaults(run=_optimize)

    bound = commands.add_parser(
        "bound", help="the convex bound of schedules, its best peak LR, and peak transfer",
        description="For each schedule, the last-iterate bound of Schaipp et al. (ICML 2025, "
        "after Defazio et al. 2023, Thm 10) at its own peak and at its optimal peak (D = G = 1), "
        "and the ratio of optimal peaks to the first schedule's: the factor that transfers a "
        "peak tuned on the first schedule to the others.")
    bound.add_argument("specs", nargs="+", metavar="SPEC", help="schedules (text form or preset)")
    bound.add_argument("--steps", type=_positive_int,
                       help="updates for a schedule with no end (one with an end runs its length)")
    bound.add_argument("--tuned-peak", type=_positive_float, metavar="LR",
                       help="a peak LR tuned for the first SPEC: print its transfer to the others")
    bound.add_argument("--json", action="store_true", help="print JSON")
    bound.set_defaults(run=_bound)


def _law_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--law", required=True, choices=LAW_CHOICES, help="which law to fit")
    parser.add_argument("--fit", required=True, nargs="+", metavar="CURVE",
                        help="CSV files with step,lr,loss columns to fit the law to")
    parser.add_argument("--from-step", type=_nonneg_int, default=0, metavar="N",
                        help="fit only the losses logged at step N or later (the laws describe "
                        "training past its first transient; default 0)")


def _need_scipy() -> None:
    try:
        import scipy  # noqa: F401
    except ImportError:
        raise ValueError("fitting a law needs scipy: pip install 'lrlab[fit]'") from None


def _progress(message: str) -> None:
    print(f"lrlab: {message}", file=sys.stderr, flush=True)


def _fit(args: argparse.Namespace) -> Any:
    from .laws import fit_law, read_curve

    _need_scipy()
    curves = [read_curve(path).after(args.from_step) for path in args.fit]
    _progress(f"fitting the {args.law} law to {len(curves)} curve(s), "
              f"{sum(c.steps.size for c in curves)} points")
    return fit_law(args.law, curves, progress=_progress)


def _schedule(text: str) -> Any:
    import lrlab
    from lrlab.presets import PRESETS

    try:
        return lrlab.preset(text) if text in PRESETS else lrlab.parse(text)
    except ValueError as error:
        raise ValueError(f"--target: {text!r} is neither a CSV file nor a schedule: {error}") from None


def _fmt_params(params: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.6g}" for k, v in params.items())


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from .laws import Curve, errors, predict, read_curve

    is_file = os.path.exists(args.target) or args.target.lower().endswith(".csv")
    if is_file:
        target = read_curve(args.target, need_loss=False)
        if args.steps is not None:
            raise ValueError("--steps is for a schedule target; a CSV target brings its own steps")
    else:
        sched = _schedule(args.target)
        steps = args.steps
        if steps is None:
            if sched.length is None:
                raise ValueError(f"--steps is required: the target {sched} has no end")
            steps = math.ceil(sched.length)
        if steps < 2:
            raise ValueError(f"--steps must be at least 2; got {steps}")
        every = max(1, steps // 200)
        at = np.unique(np.concatenate([np.arange(every, steps, every), [steps - 1]]))
        target = Curve.from_schedule(sched, at, None, str(sched))
    if target.loss is None:  # the laws are undefined before any LR has been applied (S1 = 0)
        area = np.cumsum(target.lrs)[target.steps]
        if not np.any(area > 0):
            raise ValueError(f"--target: the LR is 0 over every step of {args.target!r}")
        target = Curve(target.lrs, target.steps[area > 0], None, target.name)
    fit = _fit(args)
    pred = predict(fit, target)
    if not np.all(np.isfinite(pred)):
        raise ValueError(f"the fitted {args.law} law predicts a non-finite loss for the target")
    scores = errors(pred, target.loss) if target.loss is not None else None
    out = {"law": fit.law, "params": fit.params,
           "fit": {**fit.fit_errors, "objective": fit.objective, "converged": fit.converged},
           "target": args.target,
           "r2": None if scores is None else scores["r2"],
           "mean_rel_error": None if scores is None else scores["mean_rel_error"],
           "max_rel_error": None if scores is None else scores["max_rel_error"],
           "prediction": {"step": [int(s) for s in target.steps], "loss": [float(v) for v in pred]}}
    if args.output:
        _plot_predict(args.output, target, pred, fit.law)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{fit.law} law fitted to {len(args.fit)} curve(s): {_fmt_params(fit.params)}")
    fe = fit.fit_errors
    print(f"  on the fitted curves: R^2 {fe['r2']:.4f}, mean error {100 * fe['mean_rel_error']:.3f}%, "
          f"worst {100 * fe['max_rel_error']:.3f}%"
          + ("" if fit.converged else f" (optimizer: {fit.message})"))
    if scores is not None:
        print(f"target {args.target}: R^2 {scores['r2']:.4f}, mean error "
              f"{100 * scores['mean_rel_error']:.3f}%, worst {100 * scores['max_rel_error']:.3f}%")
    else:
        shown = sorted(set(np.linspace(0, len(pred) - 1, 6).round().astype(int)))
        print(f"target {out['target']}: predicted loss")
        for i in shown:
            print(f"  step {int(target.steps[i]):>8}  {pred[i]:.4f}")
    if args.output:
        print(f"wrote {args.output}")
    return 0


def _plot_predict(path: str, target: Any, pred: Any, law: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("-o needs matplotlib: pip install 'lrlab[plot]'") from None
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=(3, 1))
    if target.loss is not None:
        ax.plot(target.steps, target.loss, ".", ms=3, color="0.3", label="data")
    ax.plot(target.steps, pred, "-", color="C1", label=f"{law} law")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title(target.name)
    ax2.plot(range(target.lrs.size), target.lrs, color="C0")
    ax2.set_ylabel("LR")
    ax2.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _optimize(args: argparse.Namespace) -> int:
    import numpy as np

    from .laws import Curve, predict, read_curve
    from .optimize import baselines, optimize_schedule

    curves = [read_curve(path) for path in args.fit]
    steps = args.steps or max(c.lrs.size for c in curves)
    peak = args.peak or max(float(c.lrs.max()) for c in curves)
    warmup = args.warmup if args.warmup is not None else curves[0].warmup_end
    if warmup >= steps - 2:
        raise ValueError(f"--warmup must be less than --steps - 2 ({steps - 2}); got {warmup}")
    if args.floor >= peak:
        raise ValueError(f"--floor must be below the peak ({peak:g}); got {args.floor:g}")
    fit = _fit(args)
    _progress(f"optimizing a schedule of {steps} steps, peak {peak:g}, warmup {warmup}")
    result = optimize_schedule(fit, steps=steps, peak=peak, warmup=warmup, floor=args.floor)
    if args.output:
        grid = np.arange(steps)
        scheds = {"optimized": result.schedule, **baselines(peak, steps, warmup, args.floor)}
        every = max(1, steps // 300)
        at = np.unique(np.concatenate([np.arange(every, steps, every), [steps - 1]]))
        curves_out = {}
        for name, s in scheds.items():
            lrs = np.asarray(s.values(grid), dtype=np.float64)
            curves_out[name] = (lrs, predict(fit, Curve(lrs, at, None, name)))
        _plot_optimize(args.output, at, curves_out)
    if args.json:
        print(json.dumps({"law": fit.law, "params": fit.params, **result.to_dict()}, indent=2))
        return 0
    print(f"{fit.law} law fitted to {len(args.fit)} curve(s): {_fmt_params(fit.params)}")
    print(f"optimized schedule ({steps} steps): {result.spec}")
    print(f"  predicted final loss {result.loss:.4f}")
    for spec, value in result.baselines.items():
        print(f"  {spec}: {value:.4f}")
    if args.output:
        print(f"wrote {args.output}")
    return 0


def _plot_optimize(path: str, at: Any, curves: dict[str, tuple[Any, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("-o needs matplotlib: pip install 'lrlab[plot]'") from None
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (lrs, loss) in curves.items():
        ax.plot(range(lrs.size), lrs, label=name)
        ax2.plot(at, loss, label=f"{name}: {loss[-1]:.4f}")
    ax.set_xlabel("step")
    ax.set_ylabel("LR")
    ax.legend()
    ax2.set_xlabel("step")
    ax2.set_ylabel("predicted loss")
    lows = [loss[-1] for _, loss in curves.values()]
    span = max(lows) - min(lows)
    ax2.set_ylim(min(lows) - 2 * span - 1e-3, max(loss[len(loss) // 3] for _, loss in curves.values()))
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _bound(args: argparse.Namespace) -> int:
    import lrlab
    from lrlab.presets import PRESETS

    from .bound import schedule_bound, transfer_peak

    results = []
    for text in args.specs:
        try:
            sched = lrlab.preset(text) if text in PRESETS else lrlab.parse(text)
        except ValueError as error:
            raise ValueError(f"SPEC {text!r}: {error}") from None
        if sched.length is None and args.steps is None:
            raise ValueError(f"--steps is required: {text!r} has no end")
        results.append(schedule_bound(sched, args.steps if sched.length is None else None))
    first = results[0]
    rows = []
    for r in results:
        ratio = r.optimal_peak / first.optimal_peak
        rows.append({**r.to_dict(), "peak_ratio": ratio,
                     "transferred_peak": None if args.tuned_peak is None
                     else transfer_peak(args.tuned_peak, first, r)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("convex last-iterate bound (Schaipp et al. 2025; D = G = 1)")
    head = f"{'bound':>9} {'best peak':>10} {'best bound':>10} {'ratio':>7}"
    if args.tuned_peak is not None:
        head += f" {'transfer':>10}"
    print(f"{head}  schedule")
    for row in rows:
        line = (f"{row['bound']:>9.4g} {row['optimal_peak']:>10.4g} {row['optimal_bound']:>10.4g} "
                f"{row['peak_ratio']:>7.3f}")
        if args.tuned_peak is not None:
            line += f" {row['transferred_peak']:>10.4g}"
        print(f"{line}  {row['spec']} ({row['steps']} steps)")
    print("bound: at the schedule's own peak; ratio: best peak over the first schedule's"
          + ("; transfer: --tuned-peak times ratio" if args.tuned_peak is not None else ""))
    return 0
