"""Tutorial 1: why a schedule at all?

The schedules lesson trains a 2-8-1 network on 200 points inside/outside a circle with five
schedules and reads the answer off one run each. This script runs that program (the lab task
``circle-lesson``, equal to the lesson's code to the printed decimals) at its own settings,
then asks the same question properly: paired by seed, across several initialisations, and
finally on a task where a schedule has something to do (``charlm``, a small GPT).

    python examples/01_why_a_schedule.py [--quick] [--out DIR]

Equivalent commands: ``lrlab compare --task circle-lesson``, ``lrlab compare --task
circle-lesson --seeds 5``, ``lrlab compare --task charlm --peak 1e-2 --schedule ...``.
"""

from __future__ import annotations

from _tutorial import Tutorial, main


def body(t: Tutorial) -> None:
    import lrlab
    from lrlab.lab import plan_compare
    from lrlab.viz.plot import lesson_figure

    with t.step("The five schedules the lesson compares (one peak, one budget)"):
        fig = lesson_figure()
        t.save(fig, "five_schedules")

    # the lesson's own run: 300 epochs of 200 samples, peak 0.05, one seed (seed 0 is its run)
    steps = t.pick(None, 40 * 200)
    with t.step("1. The lesson's program at its own settings: one run per schedule"):
        one = t.lab(plan_compare("circle-lesson", steps=steps, seeds=1), "lesson_one_seed")
        best = one.best
        t.check(best is not None, "no arm finished")
        if not t.quick:  # the lesson's program, reproduced: its printed table (docs/tasks.md)
            printed = {
                "constant": 0.005437,
                "onecycle": 0.008183,
                "warmup_cosine": 0.008381,
                "cosine": 0.008420,
                "step": 0.014512,
            }
            ends = {a.label: round(a.metrics["end"].mean, 6) for a in one.arms}
            t.check(ends == printed, f"the final losses {ends} are not the lesson program's {printed}")
        print(
            f"\nOne run each ranks {best.label!r} first. With one seed there is no test: "
            "the ranking could be the initialisation's."
        )

    seeds = t.pick(5, 3)
    with t.step(f"2. The same comparison over {seeds} initialisations, paired by seed"):
        many = t.lab(plan_compare("circle-lesson", steps=steps, seeds=seeds), "lesson_seeds")
        verdicts = {a.label: (a.vs_best.verdict if a.vs_best else "best") for a in many.arms}
        print("\nverdicts against the best arm:", ", ".join(f"{k}: {v}" for k, v in verdicts.items()))

    # charlm: a small GPT trained with AdamW, where warmup and decay matter at a high peak
    options = t.pick(
        {},
        {
            "n_layer": 1,
            "n_embd": 32,
            "n_head": 2,
            "block_size": 32,
            "batch_size": 8,
            "eval_every": 50,
            "eval_batches": 2,
        },
    )
    ch_steps = t.pick(600, 150)
    schedules = ["constant", "cosine", "warmup_cosine", "wsd"]  # the lab's templates (lrlab compare --help)
    with t.step("3. The same question on charlm (a small GPT, AdamW, peak 1e-2)"):
        charlm = t.lab(
            plan_compare("charlm", schedules, peak=1e-2, steps=ch_steps, seeds=t.pick(3, 2), options=options),
            "charlm",
        )
        t.check(all(a.runs for a in charlm.arms), "an arm has no finished run")

    with t.step("The schedules of step 3 as a picture"):
        fig = lrlab.plot(*[a.schedule for a in charlm.arms], labels=[a.label for a in charlm.arms])
        t.save(fig, "charlm_schedules")


if __name__ == "__main__":
    main(__file__, body, __doc__ or "")
