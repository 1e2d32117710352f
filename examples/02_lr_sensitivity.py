"""Tutorial 2: too high, too low, just right.

Constant learning rates over a decade grid, each run given a status: DIVERGED (the loss went up
or blew up), BARELY MOVED (it fell by less than 10%), LEARNING, CONVERGED (below the task's
converged loss). First the lesson's own sensitivity test (``circle-lesson``: 1.0 down to 1e-4
at 100 epochs), then the same grid over several seeds, then the balanced ``circle`` task,
where a decade above its useful range the run fails.

    python examples/02_lr_sensitivity.py [--quick] [--out DIR]

Equivalent commands: ``lrlab sensitivity --task circle-lesson [--seeds 5]``,
``lrlab sensitivity --task circle --lrs 10,1,0.1,0.01,0.001,0.0001 --seeds 3``.
"""

from __future__ import annotations

from _tutorial import Tutorial, main, table


def statuses(result) -> str:
    rows = []
    for arm in sorted(result.arms, key=lambda a: -dict(a.params)["lr"]):
        end = arm.metrics.get("end")
        rows.append(
            [
                f"{dict(arm.params)['lr']:g}",
                "-" if end is None else f"{end.mean:.4f}",
                arm.status,
                arm.status_counts,
            ]
        )
    return table(["LR", "end (mean)", "status", "runs"], rows)


def body(t: Tutorial) -> None:
    from lrlab.lab import plan_sensitivity

    steps = t.pick(None, 20 * 200)  # the lesson's 100 epochs, or 20
    with t.step("1. The lesson's sensitivity test, one run per LR (its own program and grid)"):
        one = t.lab(plan_sensitivity("circle-lesson", steps=steps, seeds=1), "lesson_one_seed")
        print("\n" + statuses(one))

    seeds = t.pick(5, 3)
    with t.step(f"2. The same grid at {seeds} seeds: which LRs are separated from the best?"):
        many = t.lab(plan_sensitivity("circle-lesson", steps=steps, seeds=seeds), "lesson_seeds")
        print("\n" + statuses(many))

    grid = [10.0, 1.0, 0.1, 0.01, 0.001, 0.0001]
    with t.step("3. circle (balanced classes, cross-entropy, 10 epochs): a decade grid from 10 to 1e-4"):
        circle = t.lab(
            plan_sensitivity("circle", grid, steps=t.pick(4000, 2000), seeds=t.pick(3, 2)), "circle"
        )
        print("\n" + statuses(circle))
        by_lr = {dict(a.params)["lr"]: a for a in circle.arms}
        t.check(by_lr[10.0].status == "DIVERGED", f"LR 10 on circle should diverge; got {by_lr[10.0].status}")
        t.check(
            by_lr[0.0001].status in ("BARELY MOVED", "LEARNING"),
            f"LR 1e-4 on circle should barely move; got {by_lr[0.0001].status}",
        )


if __name__ == "__main__":
    main(__file__, body, __doc__ or "")
