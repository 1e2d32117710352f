"""Tutorial 5: WSD and cooldowns.

Warmup-stable-decay (Hu et al. 2024; Hagele et al. 2024) trains at a constant LR and decays only
when you decide to stop: from one stable run, a cooldown branched at step 0.8 T gives a finished
model at budget T, for every T you branch at. This script trains one stable run (digits MLP,
SGD momentum, the ``digits`` task's setup) with checkpoints, branches a ``1 - sqrt`` cooldown
over the last 20% of several horizons from those checkpoints (``lrlab.cooldown_from``, resumed
with ``Scheduler.load_state_dict(..., change_schedule=True)``), and compares each with warmup +
cosine runs of that exact length, paired by seed; both arms' peaks are tuned on the same grid
(one stable run per peak).

    python examples/05_wsd_cooldowns.py [--quick] [--out DIR]
"""

from __future__ import annotations

import copy
import math

from _tutorial import Tutorial, figure, main, table

PEAK, WARMUP, BATCH = 0.05, 20, 32


def data():
    import torch

    from lrlab.lab.tasks.digits import split

    x, y, xv, yv = split(0.2, 0)
    x, xv = torch.tensor(x), torch.tensor(xv)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    return (x - mean) / std, torch.tensor(y), (xv - mean) / std, torch.tensor(yv)


def fresh(seed: int):
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=PEAK, momentum=0.9)
    gen = torch.Generator().manual_seed(1000 + seed)
    return model, opt, gen


def train(model, opt, sched, gen, d, start: int, stop: int, on_step=None) -> None:
    import torch

    x, y = d[0], d[1]
    loss_fn = torch.nn.CrossEntropyLoss()
    for step in range(start, stop):
        idx = torch.randint(0, len(x), (BATCH,), generator=gen)
        opt.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
        sched.step()
        if on_step:
            on_step(step + 1, model)


def losses(model, d) -> tuple[float, float]:
    import torch

    with torch.no_grad():
        f = torch.nn.functional.cross_entropy
        return float(f(model(d[0]), d[1])), float(f(model(d[2]), d[3]))


def body(t: Tutorial) -> None:
    import torch

    import lrlab
    from lrlab.lab.stats import paired_difference
    from lrlab.torch import Scheduler

    torch.set_num_threads(1)
    d = data()
    horizons = t.pick([250, 500, 1000, 2000], [150, 300])
    seeds = list(range(t.pick(3, 2)))
    peaks = t.pick([PEAK / 2, PEAK, PEAK * 2, PEAK * 4], [PEAK, PEAK * 2])
    stables = {p: lrlab.warmup(WARMUP, lrlab.constant(p)) for p in peaks}
    branch_at = {h: int(0.8 * h) for h in horizons}
    wsd: dict[int, dict[float, dict[int, tuple[float, float]]]] = {
        h: {p: {} for p in peaks} for h in horizons
    }
    cos: dict[int, dict[float, dict[int, tuple[float, float]]]] = {
        h: {p: {} for p in peaks} for h in horizons
    }

    with t.step(
        f"1. One stable run of {max(branch_at.values())} updates per peak in {peaks}; "
        f"a checkpoint at 0.8 T for T in {horizons}"
    ):
        checkpoints: dict[tuple[float, int], dict[int, dict]] = {}
        for p, stable in stables.items():
            for seed in seeds:
                model, opt, gen = fresh(seed)
                sched = Scheduler(opt, stable)

                def keep(step, model, key=(p, seed), opt=opt, sched=sched, gen=gen):
                    if step in branch_at.values():
                        checkpoints.setdefault(key, {})[step] = {
                            "model": copy.deepcopy(model.state_dict()),
                            "optimizer": copy.deepcopy(opt.state_dict()),
                            "scheduler": sched.state_dict(),
                            "rng": gen.get_state(),
                        }

                train(model, opt, sched, gen, d, 0, max(branch_at.values()), keep)
            print(f"stable schedule: {stable}; checkpoints at updates {sorted(branch_at.values())}")

    with t.step("2. Branch a 1-sqrt cooldown over the last 20% from each checkpoint (change_schedule=True)"):
        for h, p in ((h, p) for h in horizons for p in peaks):
            branch = lrlab.cooldown_from(stables[p], at=branch_at[h], steps=h - branch_at[h])
            if p == PEAK:
                print(f"T={h}: {branch}")
            for seed in seeds:
                saved = checkpoints[(p, seed)][branch_at[h]]
                model, opt, gen = fresh(seed)
                model.load_state_dict(saved["model"])
                opt.load_state_dict(saved["optimizer"])
                gen.set_state(saved["rng"])
                sched = Scheduler(opt, branch)
                try:  # the guard against a silent change: resuming another schedule is refused ...
                    sched.load_state_dict(saved["scheduler"])
                    raise AssertionError(
                        "a checkpoint of another schedule was loaded without change_schedule=True"
                    )
                except ValueError:
                    pass
                sched.load_state_dict(saved["scheduler"], change_schedule=True)  # ... unless asked for
                t.check(
                    math.isclose(opt.param_groups[0]["lr"], branch(branch_at[h])),
                    f"after resuming, the LR is {opt.param_groups[0]['lr']}, "
                    f"not the branch's {branch(branch_at[h])}",
                )
                train(model, opt, sched, gen, d, branch_at[h], h)
                t.check(opt.param_groups[0]["lr"] == branch(h), "the cooldown did not end at its final value")
                wsd[h][p][seed] = losses(model, d)

    with t.step(f"3. Warmup + cosine runs of each length, peak tuned over {peaks}"):
        for h in horizons:
            for p in peaks:
                schedule = lrlab.warmup(WARMUP, lrlab.cosine(p, 0.0, h - WARMUP))
                for seed in seeds:
                    model, opt, gen = fresh(seed)
                    train(model, opt, Scheduler(opt, schedule), gen, d, 0, h)
                    cos[h][p][seed] = losses(model, d)

    def tuned(runs: dict[float, dict[int, tuple[float, float]]], which: int) -> float:
        """The peak with the lowest mean loss (a diverged run counts as infinitely bad)."""

        def mean(p: float) -> float:
            values = [runs[p][s][which] for s in seeds]
            return sum(values) / len(values) if all(math.isfinite(v) for v in values) else math.inf

        return min(peaks, key=mean)

    edge = False
    with t.step("4. Branched cooldowns against cosine, each at its own best peak, paired by seed"):
        rows = []
        for h in horizons:
            for which, name in ((0, "train"), (1, "val")):
                best, mine = tuned(cos[h], which), tuned(wsd[h], which)
                edge = edge or max(peaks) in (best, mine) or min(peaks) in (best, mine)
                pair = paired_difference(
                    [wsd[h][mine][s][which] for s in seeds], [cos[h][best][s][which] for s in seeds]
                )
                ci = "no test (1 seed)" if pair.ci is None else f"[{pair.ci[0]:+.2g}, {pair.ci[1]:+.2g}]"
                verdict = (
                    "-"
                    if pair.p is None
                    else (
                        "not separated"
                        if pair.ci[0] <= 0 <= pair.ci[1]
                        else ("WSD lower" if pair.ci[1] < 0 else "cosine lower")
                    )
                )
                rows.append(
                    [
                        h,
                        name,
                        f"{sum(wsd[h][mine][s][which] for s in seeds) / len(seeds):.3g}",
                        f"{mine:g}",
                        f"{sum(cos[h][best][s][which] for s in seeds) / len(seeds):.3g}",
                        f"{best:g}",
                        f"{pair.mean_diff:+.2g}",
                        ci,
                        verdict,
                    ]
                )
        print(
            table(
                [
                    "T",
                    "loss",
                    "WSD branch",
                    "its peak",
                    "cosine",
                    "its peak",
                    "WSD - cosine",
                    "95% CI (paired by seed)",
                    "verdict",
                ],
                rows,
            )
        )
        print(
            f"\n{len(seeds)} seeds, one interval per row (not corrected for the {2 * len(horizons)} rows). "
            "Each arm's\n"
            f"peak is the best of {peaks} for that T and that loss, "
            "chosen on the same seeds it is compared on."
        )
        if edge:
            print("Some best peaks lie at the edge of the grid: a wider grid could move those rows.")

    with t.step("The schedules: one stable run, its branches, and a cosine per horizon"):
        branches = [
            lrlab.cooldown_from(stables[PEAK], at=branch_at[h], steps=h - branch_at[h]) for h in horizons
        ]
        fig = lrlab.plot(*branches, labels=[f"WSD branch, T={h}" for h in horizons])
        t.save(fig, "branches")
        fig, ax = figure(7, 3.5)
        ax.plot(
            horizons,
            [min(sum(wsd[h][p][s][1] for s in seeds) / len(seeds) for p in peaks) for h in horizons],
            "o-",
            label="WSD branch (one stable run per peak), best peak per T",
        )
        ax.plot(
            horizons,
            [min(sum(cos[h][p][s][1] for s in seeds) / len(seeds) for p in peaks) for h in horizons],
            "s--",
            label="warmup + cosine, peak tuned per T",
        )
        ax.set(xscale="log", xlabel="horizon T (updates)", ylabel="final validation loss (mean over seeds)")
        ax.legend()
        t.save(fig, "wsd_vs_cosine")


if __name__ == "__main__":
    main(__file__, body, __doc__ or "")
