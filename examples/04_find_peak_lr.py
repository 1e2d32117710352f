"""Tutorial 4: what peak LR?

The LR range test (Smith 2017; the lesson's exercise 2): train a few hundred updates while the
LR climbs from 1e-7 to 10, read suggestions off the loss curve, then train warmup + cosine at
the recommended peak. How good is the suggestion? The script runs the same schedule over a
grid of peaks (a factor 2 apart, around the suggestion) and reports where the grid's best
peak lies, by training loss and by validation loss.

    python examples/04_find_peak_lr.py [--quick] [--out DIR]

Equivalent commands: ``lrlab find --task digits -o range_test.png``, then ``lrlab sweep
--task digits --template "warmup('5%', cosine({peak}, 0, '95%'))" --param peak=...``.
"""

from __future__ import annotations

import math

from _tutorial import Tutorial, main, table

TEMPLATE = "warmup('5%', cosine({peak}, 0, '95%'))"


def body(t: Tutorial) -> None:
    from lrlab.lab import plan_sweep
    from lrlab.torch import find_lr_task

    task, steps, seeds = "digits", t.pick(500, 250), t.pick(3, 2)
    with t.step(f"1. The range test on {task}: {t.pick(300, 150)} updates, LR 1e-7 -> 10"):
        result = find_lr_task(task, num_steps=t.pick(300, 150))
        print(f"{result.num_updates} updates; ended: {result.reason}\n")
        rows = [
            [
                ("* " if label == "warmup+cosine" else "  ") + label,
                "-" if s.lr is None else f"{s.lr:.3g}",
                s.reason,
            ]
            for label, s in result.suggestions.items()
        ]
        print(table(["suggestion", "lr", "why"], rows))
        peak = result.recommended.lr
        t.check(peak is not None, f"the range test gave no recommendation: {result.recommended.reason}")
        print(f"\nrecommended peak for warmup + cosine: {peak:.3g}")
        ax = result.plot()
        t.save(ax.figure, "range_test")

    # a grid a factor 2 apart, centred on the suggestion (rounded to 3 digits for readable labels)
    factors = t.pick([1 / 8, 1 / 4, 1 / 2, 1, 2, 4], [1 / 4, 1 / 2, 1, 2])
    grid = sorted({float(f"{peak * f:.3g}") for f in factors})
    suggested = float(f"{peak:.3g}")
    with t.step(
        f"2. Train at the suggestion and at a grid of peaks around it ({seeds} seeds, {steps} updates)"
    ):
        sweep = t.lab(plan_sweep(task, TEMPLATE, {"peak": grid}, steps=steps, seeds=seeds), "peak_grid")
        rows, by_peak = [], {}
        for arm in sorted(sweep.arms, key=lambda a: dict(a.params)["peak"]):
            p = dict(arm.params)["peak"]
            val, end = arm.metrics.get("val_loss"), arm.metrics.get("end")
            by_peak[p] = (val.mean if val else math.inf, end.mean if end else math.inf, arm.diverged)
            rows.append(
                [
                    ("* " if p == suggested else "  ") + f"{p:g}",
                    f"{end.mean:.4f}" if end else "-",
                    f"{val.mean:.4f}" if val else "-",
                    arm.vs_best.verdict if arm.vs_best else "best",
                    arm.status_counts,
                ]
            )
        print(
            "\n"
            + table(
                ["peak (* = suggested)", "final train loss", "final val loss", "vs best (val)", "status"],
                rows,
            )
        )
        usable = {p: v for p, v in by_peak.items() if not v[2]}
        t.check(bool(usable), "every peak of the grid diverged")
        best_val = min(usable, key=lambda p: usable[p][0])
        best_train = min(usable, key=lambda p: usable[p][1])
        at = by_peak[suggested]
        print(
            f"\ngrid-best peak by validation loss: {best_val:g}; "
            f"suggestion / best = {suggested / best_val:.2g}x, "
            f"its val loss / best = {at[0] / usable[best_val][0]:.3f}"
        )
        print(
            f"grid-best peak by training loss:   {best_train:g}; "
            f"suggestion / best = {suggested / best_train:.2g}x, "
            f"its train loss / best = {at[1] / usable[best_train][1]:.3f}"
        )
        for name, best in (("validation", best_val), ("training", best_train)):
            if best in (min(by_peak), max(by_peak)):
                print(
                    f"(the best peak by {name} loss is at the edge of the grid: "
                    "the optimum may lie beyond it)"
                )
        print(
            "\nUse the suggestion as the centre of a short grid (x0.5, x1, x2), not as the answer: "
            "the range\n"
            "test measures how fast the training loss falls, and cannot see overfitting."
        )


if __name__ == "__main__":
    main(__file__, body, __doc__ or "")
