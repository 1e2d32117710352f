"""Tutorial 8: move a published recipe.

GPT-3 125M was trained at peak LR 6e-4 with batches of 0.5M tokens for 300B tokens (Brown et al.
2020). You have batches of 64K tokens and a budget of 3B tokens. This script moves the recipe:

1. the recipe as published (``lrlab.preset("gpt3-125m")``, lengths in tokens);
2. rescaled to your batch size with ``lrlab.scale_batch``: the linear rule (Goyal et al. 2017,
   for SGD) or the square-root rule (Malladi et al. 2022, for Adam); lengths in tokens keep
   their tokens, so they take 8 times more steps;
3. fitted to your token budget, every length scaled with the budget (the recipe's shape);
4. checked with the advisor (``lrlab.recommend``), which reasons from the run itself;
5. exported to torch, transformers and optax (``lrlab.export``), and the torch snippet
   executed and compared with lrlab's values at every step.

    python examples/08_move_a_recipe.py [--quick] [--out DIR]

Equivalent commands: ``lrlab show gpt3-125m``, ``lrlab recommend --total-steps '3B tokens'
--tokens-per-step 65536 --params 125M --beta2 0.95 --peak ...``, ``lrlab export SPEC --to torch``.
"""

from __future__ import annotations

import math

from _tutorial import Tutorial, main, table

YOUR_TOKENS_PER_STEP = 65_536
YOUR_TOKENS = 3e9
OWN = "the framework's own schedulers"


def phases(schedule, steps: int) -> tuple[int, float, float]:
    """(step of the peak, the peak, the final value) of a schedule over ``steps``."""
    values = schedule.values(steps)
    top = max(range(steps), key=lambda i: values[i])
    return top, float(values[top]), float(values[-1])


def body(t: Tutorial) -> None:
    import lrlab
    from lrlab.presets import PRESETS
    from lrlab.units import Budget

    preset = PRESETS["gpt3-125m"]
    written = lrlab.parse(preset.spec)
    factor = YOUR_TOKENS_PER_STEP / preset.budget.tokens_per_step

    with t.step("1. The recipe as published"):
        published = preset.schedule
        steps = int(preset.budget.steps_total)
        top, peak, final = phases(published, steps)
        print(f"{preset.name}: {preset.spec}")
        print(
            f"budget: {preset.budget.total_steps} at {preset.budget.tokens_per_step:,} tokens per step "
            f"= {steps:,} steps; source: {preset.citation}"
        )
        print(f"peak {peak:g} reached at step {top:,}; final LR {final:g}")

    with t.step(f"2. Your batch: {YOUR_TOKENS_PER_STEP:,} tokens per step (factor {factor:g})"):
        rows, moved = [], {}
        for rule in ("linear", "sqrt"):
            schedule, budget = lrlab.scale_batch(written, factor, rule=rule, budget=preset.budget)
            resolved = schedule.resolve(budget)
            moved[rule] = (schedule, budget)
            _, peak_lr, _ = phases(resolved, int(budget.steps_total))
            rows.append(
                [
                    rule,
                    f"{peak_lr:.3g}",
                    f"{budget.tokens_per_step:,.0f}",
                    f"{budget.steps_total:,.0f}",
                    str(resolved)[:80],
                ]
            )
        print(table(["rule", "peak", "tokens/step", "steps", "schedule (in steps)"], rows))
        print(
            "\nAdamW: take the square-root rule (the linear rule is SGD's). "
            "Warmup and decay keep their tokens."
        )
        expected = 6e-4 * math.sqrt(factor)
        t.check(
            math.isclose(float(rows[1][1]), float(f"{expected:.3g}")),
            f"sqrt rule peak {rows[1][1]} != {expected:.3g}",
        )

    your_steps = int(YOUR_TOKENS / YOUR_TOKENS_PER_STEP)
    with t.step(
        f"3. Your budget: {YOUR_TOKENS:.3g} tokens = {your_steps:,} steps; every length scaled with it"
    ):
        schedule, budget = moved["sqrt"]
        shrink = YOUR_TOKENS / (preset.budget.steps_total * preset.budget.tokens_per_step)
        # a length of L tokens becomes shrink * L tokens: resolve against a step that "counts"
        # 1 / shrink times its tokens (what `lrlab compare` does with a preset written in tokens)
        yours = schedule.resolve(Budget(your_steps, tokens_per_step=YOUR_TOKENS_PER_STEP / shrink))
        top, peak, final = phases(yours, your_steps)
        print(f"your schedule: {yours}")
        print(
            f"warmup {top:,} steps ({top / your_steps:.2%} of the run, as published), peak {peak:.3g}, "
            f"final {final:.3g} from step {math.ceil(yours.length):,} on"
        )
        share, published_share = yours.length / your_steps, published.length / steps
        t.check(
            abs(share - published_share) < 1e-3,
            f"the rescaled schedule ends at {share:.2%} of the run; "
            f"the published one at {published_share:.2%}",
        )

    with t.step(
        "3b. The same schedule in whole steps (the fractional lengths come from the token arithmetic)"
    ):
        rounded = lrlab.warmup(top, lrlab.cosine(peak, final, round(yours.length) - top))
        values, exact = rounded.values(your_steps), yours.values(your_steps)
        gap = max(abs(a - b) / b for a, b in zip(values[1:], exact[1:]))
        print(
            f"rounded: {rounded}; largest relative difference from the exact one: {gap:.2%} (in the warmup)"
        )
        t.check(gap < 0.05, f"rounding to whole steps changed an LR by {gap:.1%}")
        yours_exact, yours = yours, rounded

    with t.step("4. What the advisor recommends for your run (AdamW, beta2 0.95, 125M parameters)"):
        advice = lrlab.recommend(
            total_steps=your_steps, tokens_per_step=YOUR_TOKENS_PER_STEP, params="125M", beta2=0.95, peak=peak
        )
        record = advice.to_dict()
        print(f"advisor:  {record['spec']}")
        print(f"recipe:   {yours}")
        del yours_exact
        for i, reason in enumerate(record["reasons"], 1):
            print(f"  {i}. {reason['choice']}: {reason['reason']} [{reason['citation']}]")
        a_top, a_peak, a_final = phases(lrlab.parse(record["spec"]), your_steps)
        print(
            "\n"
            + table(
                ["", "warmup steps", "peak", "final LR"],
                [
                    ["moved recipe", top, f"{peak:.3g}", f"{final:.3g}"],
                    ["advisor", a_top, f"{a_peak:.3g}", f"{a_final:.3g}"],
                ],
            )
        )
        print(
            "\nWhere they differ, the recipe's choice was made for 300B tokens and 0.5M-token batches;\n"
            "the advisor's reasons say what it derived from your run instead."
        )
        fig = lrlab.plot(yours, record["spec"], labels=["GPT-3 125M, moved", "advisor"])
        t.save(fig, "moved_vs_advisor")

    with t.step("5. Export to torch, transformers, optax; run the torch snippet against lrlab"):
        import torch

        for target in ("torch", "transformers", "optax"):
            code = lrlab.export(yours, to=target)
            path = t.out / f"schedule_{target}.py"
            path.write_text(code, encoding="utf-8")
            native = "cannot express" not in code
            print(f"{target}: {path} ({OWN if native else 'through lrlab'})")
            print("    " + "\n    ".join(line for line in code.splitlines()[:4] if line.startswith("#")))
        space: dict = {}
        exec(compile((t.out / "schedule_torch.py").read_text(), "schedule_torch.py", "exec"), space)
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = space["make_scheduler"](opt)
        check_steps = t.pick(your_steps + 100, 6000)
        worst = 0.0
        expected = yours.values(check_steps)
        for step in range(check_steps):
            got = opt.param_groups[0]["lr"]
            worst = max(worst, abs(got - expected[step]) / max(abs(expected[step]), 1e-12))
            opt.step()
            sched.step()
        print(f"torch snippet vs lrlab over {check_steps:,} steps: largest relative difference {worst:.1e}")
        t.check(worst < 1e-9, f"the exported torch scheduler differs from lrlab by {worst:.1e}")


if __name__ == "__main__":
    main(__file__, body, __doc__ or "")
