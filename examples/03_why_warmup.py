"""Tutorial 3: why does warmup help?

Three measurements behind the lesson's two explanations:

1. **Adam's second moment at step 0.** After one update Adam's bias-corrected estimate of
   E[g^2] is the square of that one gradient, so the first update is ``lr * g / |g|``: every
   weight moves by the full LR whatever its gradient's size. We measure how far that
   estimate is from E[g^2] over many batches, and how the update's size per weight shrinks
   once the estimate averages over more batches.
2. **The warmup-length sweep** (the lesson's exercise 3): warmup of 0, 1, 5, 10 and 20% of the
   run, then cosine to 0, on ``charlm`` (a small GPT, AdamW) at a high peak (1e-2).
3. **The sharpness probe**: the top eigenvalue of Adam's preconditioned Hessian over its
   stability line ``38 / lr`` during the first updates, with and without warmup.

    python examples/03_why_warmup.py [--quick] [--out DIR]

Equivalent command for 2: ``lrlab sweep --task charlm --peak 1e-2 --template
"warmup({w}, cosine({peak}, 0, REST))" --param w=0,10,50,100,200``.
"""

from __future__ import annotations

from _tutorial import Tutorial, figure, main, table


def digits_data(t: Tutorial):
    import torch

    from lrlab.lab.tasks.digits import split

    x, y, xv, yv = split(0.2, 0)
    x, xv = torch.tensor(x), torch.tensor(xv)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    return (x - mean) / std, torch.tensor(y), (xv - mean) / std, torch.tensor(yv)


def mlp(seed: int, hidden: int = 128):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))


def second_moment(t: Tutorial) -> None:
    """v_hat after 1, 10, 100 updates against E[g^2] at the same weights."""
    import torch

    torch.set_num_threads(1)
    x, y, _, _ = digits_data(t)
    model = mlp(0)
    lr = 1e-3
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    rows = []
    checkpoints = {1, 10, 100, 1000} if not t.quick else {1, 10, 100}
    for step in range(1, max(checkpoints) + 1):
        idx = torch.randint(0, len(x), (32,), generator=gen)
        before = [p.detach().clone() for p in model.parameters()]
        opt.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
        if step not in checkpoints:
            continue
        moved = torch.cat([(p.detach() - b).abs().flatten() for p, b in zip(model.parameters(), before)]) / lr
        # E[g^2] at the current weights, over 50 fresh batches of 32
        sq = [torch.zeros_like(p) for p in model.parameters()]
        for _ in range(50):
            idx = torch.randint(0, len(x), (32,), generator=gen)
            model.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            for s, p in zip(sq, model.parameters()):
                s += p.grad.detach() ** 2 / 50
        v_hat = torch.cat(
            [(opt.state[p]["exp_avg_sq"] / (1 - 0.999**step)).flatten() for p in model.parameters()]
        )
        true = torch.cat([s.flatten() for s in sq])
        keep = true > 1e-12
        error = (v_hat[keep] / true[keep]).log10().abs()
        rows.append(
            [
                step,
                f"{moved.median():.3f}",
                f"{(moved > 0.5).float().mean():.0%}",
                f"{error.median():.2f}",
                f"{(error > 1).float().mean():.0%}",
            ]
        )
    print(
        table(
            [
                "after update",
                "median |dw|/lr",
                "weights moved > lr/2",
                "median |log10(v_hat / E[g^2])|",
                "off by > 10x",
            ],
            rows,
        )
    )
    first = float(rows[0][1])
    t.check(first > 0.9, f"the first Adam update should move the median weight by ~lr; got {first} lr")
    print(
        f"\nAfter one update {rows[0][2]} of the weights moved by more than half the LR, whatever their\n"
        "gradient (Adam's first step is sign descent: v_hat is one squared gradient), and v_hat is off\n"
        f"from E[g^2] by a factor 10^{rows[0][3]} (median). A large first LR is taken at full size in\n"
        "every direction, sharp or flat: warmup keeps those first steps small."
    )


def sharpness_probe(t: Tutorial, peak: float, steps: int, warm: int) -> dict[str, list]:
    """Preconditioned sharpness / (38 / lr) at a few updates, with and without warmup."""
    import torch

    import lrlab
    from lrlab.torch import Scheduler, SharpnessProbe

    torch.set_num_threads(1)
    x, y, xv, yv = digits_data(t)
    probe_batch = (x[:256], y[:256])
    loss_fn = torch.nn.CrossEntropyLoss()
    at = sorted({1, 2, 5, 10, warm // 2, warm, 2 * warm, 4 * warm, steps // 2})
    curves: dict[str, list] = {}
    finals: dict[str, float] = {}
    for label, spec in [
        ("no warmup", f"cosine({peak}, 0, {steps})"),
        (f"warmup {warm}", f"warmup({warm}, cosine({peak}, 0, {steps - warm}))"),
    ]:
        model = mlp(0)
        opt = torch.optim.Adam(model.parameters(), lr=peak, betas=(0.9, 0.999))
        sched = Scheduler(opt, lrlab.parse(spec))
        probe = SharpnessProbe(steps=at, max_hvps=t.pick(40, 20))
        gen = torch.Generator().manual_seed(0)
        for step in range(steps):
            idx = torch.randint(0, len(x), (32,), generator=gen)
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
            lr = opt.param_groups[0]["lr"]
            if lr > 0:
                probe.maybe(step, model=model, loss_fn=loss_fn, batch=probe_batch, optimizer=opt, lr=lr)
        curves[label] = [(r.step, r.lr, r.ratio, r.converged) for r in probe.results]
        with torch.no_grad():
            finals[label] = float(loss_fn(model(xv), yv))
    rows = []
    for step in at:
        cells: list = [step]
        for label in curves:
            hit = [c for c in curves[label] if c[0] == step]
            cells += (
                [f"{hit[0][1]:.2g}", f"{hit[0][2]:.3f}{'' if hit[0][3] else ' (lower bound)'}"]
                if hit
                else ["-", "-"]
            )
        rows.append(cells)
    names = list(curves)
    print(
        table(
            ["update", f"{names[0]}: lr", "sharpness / (38/lr)", f"{names[1]}: lr", "sharpness / (38/lr)"],
            rows,
        )
    )
    print("\nfinal validation loss (seed 0): " + ", ".join(f"{k} {v:.4f}" for k, v in finals.items()))
    return curves


def body(t: Tutorial) -> None:
    from lrlab.lab import plan_sweep

    with t.step("1. Adam's second moment in the first updates (digits MLP, Adam, batch 32)"):
        second_moment(t)

    steps = t.pick(600, 150)
    fractions = [0, 0.01, 0.05, 0.10, 0.20]
    grid = {"w": [round(f * steps) for f in fractions]}
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
    with t.step(f"2. Warmup length sweep on charlm: 0, 1, 5, 10, 20% of {steps} updates, peak 1e-2"):
        sweep = t.lab(
            plan_sweep(
                "charlm",
                "warmup({w}, cosine({peak}, 0, REST))",
                grid,
                peak=1e-2,
                steps=steps,
                seeds=t.pick(3, 2),
                options=options,
            ),
            "warmup_sweep",
        )
        rows = []
        for arm in sorted(sweep.arms, key=lambda a: dict(a.params)["w"]):
            w = dict(arm.params)["w"]
            val = arm.metrics.get("val_loss")
            rows.append(
                [
                    w,
                    f"{w / steps:.0%}",
                    "-" if val is None else f"{val.mean:.4f} ± {val.std:.4f}",
                    arm.vs_best.verdict if arm.vs_best else "best",
                    arm.status_counts,
                ]
            )
        print("\n" + table(["warmup", "of run", "final val loss", "vs best", "status"], rows))

    peak, probe_steps, warm = 3e-2, t.pick(200, 60), t.pick(40, 20)
    with t.step(
        f"3. The sharpness probe: digits MLP, Adam at peak {peak}, with and without a {warm}-update warmup"
    ):
        curves = sharpness_probe(t, peak, probe_steps, warm)
        fig, ax = figure(7, 3.5)
        for label, points in curves.items():
            good = [p for p in points if p[2] > 0 and p[3]]  # converged, positive: the log axis can show it
            line = ax.plot([p[0] for p in good], [p[2] for p in good], "o-", label=label)[0]
            rough = [p for p in points if p[2] > 0 and not p[3]]
            ax.plot([p[0] for p in rough], [p[2] for p in rough], "x", color=line.get_color())
        ax.plot([], [], "kx", label="not converged (a lower bound)")
        ax.axhline(1.0, color="grey", ls=":", label="edge of stability (ratio 1)")
        ax.set(
            xlabel="update",
            ylabel="sharpness / (38 / lr)",
            yscale="log",
            title="Adam's preconditioned sharpness against its stability line",
        )
        ax.legend()
        t.save(fig, "sharpness")


if __name__ == "__main__":
    main(__file__, body, __doc__ or "")
