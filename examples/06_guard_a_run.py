"""Tutorial 6: guard a run.

Bad batches and LR spikes happen in long runs (PaLM restarted ~20 times from spikes). The guard
(`lrlab.torch.Guard`) watches each update's loss, gradient norm and update size with robust
running statistics, and clips, skips, rolls back or lowers the LR. This script trains the
``digits`` MLP (SGD momentum 0.9, warmup + cosine) on a batch stream with injected faults
(bursts of batches with random labels, then a few updates at 30 times the LR), without and with
the guard, against clean runs of the same seeds. Then the schedule surgeon (the lesson's
exercise 5, `lrlab.torch.Surgeon`) decides the warmup's end and the LR cuts from the loss, and is
compared with the hand-set schedule.

    python examples/06_guard_a_run.py [--quick] [--out DIR]
"""

from __future__ import annotations

from collections import Counter

from _tutorial import Tutorial, figure, main, table

PEAK, BATCH = 0.05, 32


def data():
    import torch

    from lrlab.lab.tasks.digits import split

    x, y, xv, yv = split(0.2, 0)
    x, xv = torch.tensor(x), torch.tensor(xv)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    return (x - mean) / std, torch.tensor(y), (xv - mean) / std, torch.tensor(yv)


def model_and_optimizer(seed: int):
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    return model, torch.optim.SGD(model.parameters(), lr=PEAK, momentum=0.9)


def stream(d, seed: int, steps: int, bad: set[int]):
    """(index, x, y) batches; the batches in ``bad`` are corrupted: random labels, and inputs
    20 times too large (a shard that missed the normalization)."""
    import torch

    gen = torch.Generator().manual_seed(1000 + seed)
    for i in range(steps):
        idx = torch.randint(0, len(d[0]), (BATCH,), generator=gen)
        x, y = d[0][idx], d[1][idx]
        if i in bad:
            x, y = 20 * x, torch.randint(0, 10, (BATCH,), generator=gen)
        yield i, x, y


def val_loss(model, d) -> float:
    import torch

    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(d[2]), d[3]))


def run(d, seed: int, steps: int, faults: bool, guarded: bool, t: Tutorial):
    """One run; returns (final val loss, per-update losses, guard events)."""
    import torch

    import lrlab
    from lrlab.torch import Guard, Scheduler

    burst_starts = [int(steps * f) for f in (0.25, 0.4, 0.55)]
    bad = {s + k for s in burst_starts for k in range(3)} if faults else set()
    spike = set(range(int(steps * 0.7), int(steps * 0.7) + 5)) if faults else set()
    model, opt = model_and_optimizer(seed)
    scheduler = Scheduler(
        opt, lrlab.warmup(round(0.05 * steps), lrlab.cosine(PEAK, 0.0, steps - round(0.05 * steps)))
    )
    guard = Guard(model, opt, scheduler=scheduler) if guarded else None
    batches = stream(d, seed, steps, bad)
    losses = []
    loss_fn = torch.nn.CrossEntropyLoss()
    for i, x, y in guard.batches(batches) if guard else batches:
        if i in spike:  # an LR 30 times the schedule's (a unit bug, a bad resume) for 5 updates
            for g in opt.param_groups:
                g["lr"] = 30 * g["lr"]
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        if guard:
            guard.step(loss)
        else:
            opt.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        if not torch.isfinite(loss):
            break
    return val_loss(model, d), losses, (guard.events if guard else []), bad | spike


def surgeon_run(d, seed: int, steps: int):
    import torch

    from lrlab.torch import Surgeon

    model, opt = model_and_optimizer(seed)
    surgeon = Surgeon(PEAK, steps)
    loss_fn = torch.nn.CrossEntropyLoss()
    lrs = []
    for i, x, y in stream(d, seed, steps, set()):
        lrs.append(surgeon.apply(opt, i))
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        surgeon.update(i, float(loss.detach()))
    return val_loss(model, d), surgeon, lrs


def body(t: Tutorial) -> None:
    import math

    import torch

    import lrlab
    from lrlab.lab.stats import paired_difference

    torch.set_num_threads(1)
    d = data()
    steps, seeds = t.pick(600, 300), list(range(t.pick(3, 2)))
    results: dict[str, list[float]] = {}
    curves = {}
    with t.step(f"1. Clean runs, faulty runs without and with the guard ({steps} updates, seeds {seeds})"):
        events_seen = []
        for label, faults, guarded in (
            ("clean", False, False),
            ("faults, unguarded", True, False),
            ("faults, Guard defaults", True, True),
        ):
            results[label] = []
            for seed in seeds:
                loss, losses, events, injected = run(d, seed, steps, faults, guarded, t)
                results[label].append(loss)
                if seed == 0:
                    curves[label] = losses
                if guarded:
                    events_seen.append((seed, events, injected))
        rows = []
        for label, values in results.items():
            pair = paired_difference(values, results["clean"])
            ci = (
                "-"
                if label == "clean" or pair.ci is None
                else f"{pair.mean_diff:+.3f} [{pair.ci[0]:+.3f}, {pair.ci[1]:+.3f}]"
            )
            rows.append(
                [label, ", ".join(f"{v:.3f}" for v in values), f"{sum(values) / len(values):.3f}", ci]
            )
        print(table(["run", "final val loss per seed", "mean", "vs clean (paired, 95% CI)"], rows))
        print()
        for seed, events, injected in events_seen:
            kinds = Counter(e.kind for e in events)
            skipped = {e.step for e in events if e.kind == "skip"}
            print(
                f"seed {seed}: guard events {dict(kinds)}; skipped {len(skipped & injected)} of the "
                f"{len(injected)} faulty updates, and {len(skipped - injected)} healthy ones "
                f"{sorted(skipped - injected)}"
            )
        t.check(
            all(math.isfinite(v) for v in results["faults, Guard defaults"]), "a guarded run ended non-finite"
        )

    with t.step("The loss of seed 0's runs"):
        fig, ax = figure(8, 3.8)
        for label, losses in curves.items():
            ax.plot(losses, lw=0.8, label=label)
        ax.set(
            yscale="log",
            xlabel="update",
            ylabel="minibatch loss",
            title="Injected faults, with and without the guard",
        )
        ax.legend()
        t.save(fig, "guard_losses")

    with t.step(
        f"2. The schedule surgeon against the hand-set warmup {round(0.05 * steps)} + cosine (clean data)"
    ):
        rows, surgeons = [], []
        for seed in seeds:
            loss, surgeon, lrs = surgeon_run(d, seed, steps)
            surgeons.append((surgeon, lrs))
            decisions = ", ".join(f"{e.step}:{e.kind}" for e in surgeon.events) or "none"
            rows.append([seed, f"{results['clean'][seed]:.3f}", f"{loss:.3f}", decisions])
        print(table(["seed", "hand-set", "surgeon", "surgeon's decisions"], rows))
        pair = paired_difference([float(r[2]) for r in rows], [float(r[1]) for r in rows])
        if pair.ci is not None:
            print(
                f"\nsurgeon - hand-set: {pair.mean_diff:+.3f}, 95% CI [{pair.ci[0]:+.3f}, {pair.ci[1]:+.3f}] "
                f"over {pair.n} seeds ({'not separated' if pair.ci[0] <= 0 <= pair.ci[1] else 'separated'})"
            )
        print(f"seed 0's decided schedule: {surgeons[0][0].schedule}")
        lrlab.parse(str(surgeons[0][0].schedule))  # its text form is an ordinary schedule
        fig, ax = figure(8, 3.5)
        hand = lrlab.warmup(round(0.05 * steps), lrlab.cosine(PEAK, 0.0, steps - round(0.05 * steps)))
        ax.plot(hand.values(steps), label="hand-set warmup + cosine")
        ax.plot(surgeons[0][1], label="surgeon (seed 0), with its plateau cuts")
        ax.set(xlabel="update", ylabel="LR", title="The surgeon's schedule")
        ax.legend()
        t.save(fig, "surgeon")


if __name__ == "__main__":
    main(__file__, body, __doc__ or "")
