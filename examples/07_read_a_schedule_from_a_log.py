"""Tutorial 7: which schedule made this log?

The lesson's log question: a nanoGPT-style run with peak LR 0.47 shows LR 0.30-0.31 at step
107,319 of 130,000 (82.6% of training). The lesson's answer tried two formulas (cosine to 0.1
gives 0.13, linear decay gives 0.08), found neither, and guessed. ``lrlab identify`` answers the
question properly: with one point, every family with one unknown fits, so it lists them with
the LR each would end at and the step to look up next; with the whole log, it names the
schedule. Then ``lrlab predict``'s loss-curve law (Luo et al. 2025, the multi-power law) is fitted
to a few ``charlm`` runs and predicts the curve of a schedule it was not fitted on, checked
against a real run of it.

    python examples/07_read_a_schedule_from_a_log.py [--quick] [--out DIR]

Equivalent commands: ``lrlab identify --peak 0.47 --at 107319 --lr 0.30 --total 130000``,
``lrlab identify lr.csv``, ``lrlab predict --law multipower --fit a.csv b.csv c.csv --target d.csv``.
"""

from __future__ import annotations

import csv
import math

from _tutorial import Tutorial, figure, main, table

PEAK, AT, TOTAL = 0.47, 107_319, 130_000


def lesson_formulas() -> list[list[str]]:
    """The two schedules the lesson tried, at step 107,319 (its own formulas, no warmup)."""
    import lrlab

    progress = AT / TOTAL
    return [
        [
            "cosine to 0.1 (the lesson's get_lr)",
            f"{0.1 + 0.5 * (PEAK - 0.1) * (1 + math.cos(math.pi * progress)):.3f}",
            f"{lrlab.cosine(PEAK, 0.1, TOTAL)(AT):.3f}",
        ],
        ["linear decay to 0", f"{PEAK * (1 - progress):.3f}", f"{lrlab.linear(PEAK, 0.0, TOTAL)(AT):.3f}"],
    ]


def charlm_curve(schedule: str, steps: int, options: dict, seed: int = 0):
    """A charlm run's validation-loss curve, as the laws take it (the LR of every update)."""
    import lrlab
    from lrlab.fit.laws import Curve
    from lrlab.lab.tasks import get_task

    result = get_task("charlm").run(lrlab.parse(schedule), seed=seed, steps=steps, **options)
    rows = [r for r in result.history if r.val_loss is not None]
    return Curve.from_schedule(
        schedule, [r.step for r in rows], [r.val_loss for r in rows], name=schedule
    ), result


def body(t: Tutorial) -> None:
    import lrlab
    from lrlab.fit import identify

    with t.step("1. The lesson's two guesses at step 107,319 of 130,000 (observed: 0.30-0.31)"):
        print(table(["schedule", "lesson's formula", "lrlab"], lesson_formulas()))

    with t.step("2. One observed point: which schedules are consistent with it?"):
        partial = identify(points=[(AT, 0.30)], peak=PEAK, total=TOTAL)
        rows = [
            [f"{c.end_lr:.4g}" if c.end_lr is not None else "-", c.description, c.spec or "-"]
            for c in partial.consistent
        ]
        print(table(["end LR", "consistent family", "spec"], rows))
        print(f"\ndecided: {partial.decided}; {partial.reason}")
        if partial.next_step is not None:
            print(f"the LR at step {partial.next_step:,} would tell them apart best")
        t.check(
            not partial.decided and len(partial.consistent) > 1,
            "one point with a known peak should leave several schedules consistent",
        )
        ends = [c.end_lr for c in partial.consistent if c.end_lr is not None]
        print(
            f"\nThe answer to 'what LR will it end at' ranges from {min(ends):.3g} to {max(ends):.3g}: "
            "one point cannot say."
        )

    with t.step("3. A second point (the LR still at the peak at step 60,000) narrows it"):
        two = identify(points=[(60_000, 0.47), (AT, 0.30)], peak=PEAK, total=TOTAL)
        for c in two.consistent:
            print(f"  end LR {c.end_lr:.4g}  {c.description}: {c.spec}")
        print(f"decided: {two.decided}; {two.reason}")

    steps = 130_000
    truth = "wsd(0.47, 130000, warmup=2000, cooldown_fraction=0.2)"
    every = t.pick(100, 500)
    with t.step(f"4. The whole log (every {every} steps, float32 as TensorBoard keeps it), made by {truth}"):
        import numpy as np

        at = np.arange(0, steps, every)
        logged = np.asarray(lrlab.parse(truth).values(at), dtype=np.float32).astype(float)
        path = t.out / "lr_log.csv"
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["step", "lr"])
            writer.writerows(zip(at.tolist(), logged.tolist()))
        found = identify(str(path))
        print(
            f"identified: {found.spec}  (family {found.family}, confidence {found.confidence:.2f}, "
            f"max relative error {found.max_error:.1e})"
        )
        for c in found.runner_up[:3]:
            print(f"  runner-up: {c.spec} (residual {c.residual:.2g})")
        print(f"LR at step {AT:,}: {found.schedule(AT):.4g}; at the end: {found.end_lr:.4g}")
        t.check(found.family == "wsd", f"the log of a WSD run was identified as {found.family}")
        fig, ax = figure(8, 3.5)
        ax.plot(at, logged, ".", ms=2, label="logged LR")
        ax.plot(at, found.schedule.values(at), "-", lw=1, label=f"identified: {found.family}")
        ax.axvline(AT, color="grey", ls=":", label="step 107,319")
        ax.set(xlabel="step", ylabel="LR")
        ax.legend()
        t.save(fig, "identified")

    ch_steps = t.pick(1000, 200)
    options = t.pick(
        {"eval_every": 25},
        {
            "n_layer": 1,
            "n_embd": 32,
            "n_head": 2,
            "block_size": 32,
            "batch_size": 8,
            "eval_every": 10,
            "eval_batches": 2,
        },
    )
    warm, peak = ch_steps // 20, 3e-3
    fit_on = {
        "cosine": f"warmup({warm}, cosine({peak}, {peak / 10:g}, {ch_steps - warm}))",
        "constant": f"warmup({warm}, constant({peak}))",
        "two-stage": f"join(warmup({warm}, constant({peak}, steps={ch_steps // 2 - warm})), "
        f"constant({peak * 0.3:g}))",
    }
    target = f"wsd({peak}, {ch_steps}, warmup={warm})"
    with t.step(f"5. Fit the multi-power law to three charlm runs ({ch_steps} updates), predict a WSD run"):
        from lrlab.fit.laws import errors, fit_law

        curves = {}
        for label, spec in fit_on.items():
            curves[label], _ = charlm_curve(spec, ch_steps, options)
            print(f"ran {label}: {spec}")
        held_out, _ = charlm_curve(target, ch_steps, options)
        print(f"ran the held-out WSD run: {target}")
        start = ch_steps // 10  # the laws describe training after the first transient
        fit = fit_law("multipower", [c.after(start) for c in curves.values()])
        print("fitted: " + ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items()))
        predicted = fit.predict(held_out)
        keep = held_out.steps >= start
        score = errors(predicted[keep], held_out.loss[keep])
        print(
            f"\nheld-out WSD from step {start}: R^2 {score['r2']:.3f}, mean relative error "
            f"{score['mean_rel_error']:.2%}, worst {score['max_rel_error']:.2%}"
        )
        final_pred, final_obs = float(predicted[-1]), float(held_out.loss[-1])
        print(f"final validation loss: predicted {final_pred:.4f}, observed {final_obs:.4f}")
        t.check(math.isfinite(score["r2"]), "the prediction is not finite")
        fig, ax = figure(8, 3.8)
        for label, c in curves.items():
            ax.plot(c.steps, c.loss, lw=0.8, alpha=0.6, label=f"fit on: {label}")
        ax.plot(held_out.steps, held_out.loss, "k.", ms=3, label="WSD, observed (held out)")
        ax.plot(held_out.steps, predicted, "r-", label="WSD, predicted")
        ax.set(xlabel="update", ylabel="validation loss", yscale="log", title="Multi-power law on charlm")
        ax.legend(fontsize=8)
        t.save(fig, "predicted")


if __name__ == "__main__":
    main(__file__, body, __doc__ or "")
