"""The training guard, the plateau multiplier and the schedule surgeon."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrlab  # noqa: E402
from lrlab.torch import Guard, Plateau, RobustStats, Scheduler, Surgeon  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: these models are tiny, and a shared machine makes more threads
    slower, not faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def regression(seed: int = 0, n: int = 512):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=gen)
    w = torch.randn(8, 1, generator=gen)
    y = x @ w + 0.1 * torch.randn(n, 1, generator=gen)
    return x, y


def model_and_opt(seed: int = 0, lr: float = 1e-2, wd: float = 0.0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 32), torch.nn.LayerNorm(32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
    )
    return model, torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)


def batches(x, y, steps: int, bad: dict[int, str] | None = None, seed: int = 1):
    """``steps`` minibatches of 32; at the steps in ``bad``: 'scale' (inputs x 1000), 'nan'."""
    gen = torch.Generator().manual_seed(seed)
    for t in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=gen)
        xb, yb = x[idx].clone(), y[idx].clone()
        kind = (bad or {}).get(t)
        if kind == "scale":
            yb = yb * 1000.0
        elif kind == "nan":
            xb[0, 0] = math.nan
        yield xb, yb


def run(guard_kwargs: dict | None, steps: int = 300, bad: dict[int, str] | None = None, lr: float = 1e-2):
    x, y = regression()
    model, optimizer = model_and_opt(lr=lr)
    guard = None if guard_kwargs is None else Guard(model, optimizer, **guard_kwargs)
    losses = []
    for xb, yb in batches(x, y, steps, bad):
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        if guard is None:
            optimizer.step()
        else:
            guard.step(loss)
        losses.append(loss.item())
    with torch.no_grad():
        final = torch.nn.functional.mse_loss(model(x), y).item()
    return model, guard, final


def test_robust_stats_match_numpy():
    values = [1.0, 2.0, 4.0, 3.0, 10.0, 2.5, 3.5]
    stats = RobustStats(alpha=0.9, window=4, recent=3)
    mean, var = values[0], 0.0
    for i, v in enumerate(values):
        stats.update(v)
        if i:
            d = v - mean
            mean += 0.1 * d
            var = 0.9 * var + 0.1 * d * d
    assert stats.mean == pytest.approx(mean) and stats.var == pytest.approx(var)
    window = np.array(values[-5:])  # window 4 differences need 5 values
    diffs = np.diff(window)
    noise = 1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2)
    last = np.array(values[-3:])
    level = np.median(last)  # 3 recent values: too few halves for a trend
    assert stats.robust_z(20.0) == pytest.approx((20.0 - level) / noise)
    logged = RobustStats(window=4, recent=3, log=True)
    for v in values:
        logged.update(v)
    lw = np.log(window)
    ld = np.diff(lw)
    lnoise = 1.4826 * np.median(np.abs(ld - np.median(ld))) / np.sqrt(2)
    llast = np.log(last)
    llevel = np.median(llast)
    assert logged.robust_z(20.0) == pytest.approx((np.log(20.0) - llevel) / lnoise)


def test_robust_z_ignores_a_slow_trend_and_sees_a_jump():
    rng = np.random.default_rng(0)
    stats = RobustStats(window=128, log=True)
    trend = np.exp(np.linspace(0, np.log(3), 400)) * np.exp(rng.normal(0, 0.05, 400))  # x3, 5% noise
    zs = []
    for v in trend:
        zs.append(stats.robust_z(v))
        stats.update(v)
    assert max(zs[20:]) < 5
    assert stats.robust_z(trend[-1] * 2) > 6  # a doubling in one update
    drift = RobustStats(window=8, recent=4)
    for v in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
        drift.update(v)
    # a noiseless line: the median of 3..6 moved on along the trend, by at most 2 noise units
    assert drift.level() == pytest.approx(4.5 + min(2.5, 2 * drift.noise()))


@pytest.mark.parametrize(
    "mode, threshold_mode, threshold, cooldown",
    [("min", "rel", 1e-2, 0), ("min", "abs", 0.05, 2), ("max", "rel", 1e-3, 1)],
)
def test_plateau_multiplier_matches_torch_reduce_lr_on_plateau(mode, threshold_mode, threshold, cooldown):
    rng = np.random.default_rng(0)
    metrics = list(np.abs(2.0 + np.cumsum(rng.normal(0, 0.05, 80)) * (1 if mode == "min" else -1)) + 0.5)
    base = 0.1
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    torch_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt,
        mode=mode,
        factor=0.5,
        patience=3,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_lr=base * 0.05,
    )
    ours = Plateau(
        patience=3,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        factor=0.5,
        floor=0.05,
        mode=mode,
    )
    reductions = 0
    for m in metrics:
        torch_sched.step(m)
        mult = ours.update(m)
        assert base * mult == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        reductions = len(ours.events)
    assert reductions >= 2  # the comparison exercised reductions


def test_plateau_composes_with_a_schedule():
    schedule = lrlab.warmup(10, lrlab.cosine(1.0, 0.0, 90))
    plateau = Plateau(patience=2, factor=0.1)
    lrs = []
    for t in range(40):
        mult = plateau.update(1.0 if t > 20 else 2.0 - t * 0.01)
        lrs.append(schedule(t) * mult)
    assert lrs[5] == pytest.approx(schedule(5))  # warmup untouched
    assert plateau.events and lrs[-1] == pytest.approx(schedule(39) * plateau.multiplier)
    assert plateau.multiplier < 1


def test_non_finite_never_reaches_the_weights():
    x, y = regression()
    model, optimizer = model_and_opt()
    guard = Guard(model, optimizer, actions=("log",))
    data = list(batches(x, y, 40, bad={30: "nan"}))
    for t, (xb, yb) in enumerate(data):
        if t == 30:
            before = copy.deepcopy(model.state_dict())
            opt_before = copy.deepcopy(optimizer.state_dict())
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        report = guard.step(loss)
        if t == 30:
            assert report.skipped and not math.isfinite(report.loss)
            for k, v in model.state_dict().items():
                assert torch.equal(v, before[k])
            for k, v in optimizer.state_dict()["state"].items():
                for name, value in v.items():
                    assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt_before["state"][k][name]))
    assert guard.counts["nonfinite"] == 1 and guard.events[0].kind == "nonfinite"
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_guarded_run_survives_bad_batches_unguarded_does_not():
    bad = {150: "scale", 151: "scale", 200: "scale", 250: "nan"}
    _, _, clean = run(None, bad=None)
    _, _, unguarded = run(None, bad=bad)
    _, guard, guarded = run({}, bad=bad)
    assert not math.isfinite(unguarded) or unguarded > 10 * clean
    assert guarded < 1.5 * clean + 0.01
    kinds = {e.kind for e in guard.events}
    assert "skip" in kinds and "nonfinite" in kinds
    skipped = sorted(e.step for e in guard.events if e.kind in ("skip", "nonfinite"))
    assert {150, 151, 200, 250} <= set(skipped)


def test_an_lr_spike_is_undone_by_the_update_to_weight_ratio():
    """A x30 LR for 3 updates (a schedule bug, a bad restart): the gradients look normal, so
    only the size of the update shows it; the guard undoes those updates."""
    x, y = regression()
    finals = {}
    for arm in ("clean", "unguarded", "guarded"):
        model, optimizer = model_and_opt(lr=1e-2)
        guard = Guard(model, optimizer) if arm == "guarded" else None
        for t, (xb, yb) in enumerate(batches(x, y, 300)):
            factor = 30.0 if arm != "clean" and 200 <= t < 203 else 1.0
            optimizer.param_groups[0]["lr"] = 1e-2 * factor
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            guard.step(loss) if guard else optimizer.step()
        with torch.no_grad():
            finals[arm] = torch.nn.functional.mse_loss(model(x), y).item()
        if guard is not None:
            undone = [e.step for e in guard.events if "update-to-weight" in e.reason]
    assert undone == [200, 201, 202]
    assert finals["guarded"] < 1.2 * finals["clean"] + 0.005
    assert finals["unguarded"] > 1.5 * finals["clean"]


def test_rollback_restores_the_last_good_state_and_skips_batches():
    x, y = regression()
    model, optimizer = model_and_opt()
    guard = Guard(
        model, optimizer, rollback_after=3, snapshot_every=20, rollback_skip_batches=7, ratio_every=0
    )
    assert guard.min_history == 64  # half the window before judging, as OLMo-core
    bad = {100: "scale", 101: "scale", 102: "scale"}
    data = list(batches(x, y, 130, bad))
    snapshot_params = None
    used = 0
    for xb, yb in guard.batches(data):
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        report = guard.step(loss)
        used += 1
        if report.rolled_back:
            snapshot_params = [p.detach().clone() for p in model.parameters()]
            assert guard.snapshot is not None
            for p, (name, saved) in zip(model.parameters(), guard.snapshot["model"].items()):
                assert torch.equal(p, saved), name
    rollbacks = [e for e in guard.events if e.kind == "rollback"]
    assert len(rollbacks) == 1 and rollbacks[0].step == 102
    assert snapshot_params is not None
    assert used == 130 - 7  # the 7 batches after the rollback were dropped
    assert not any(e.kind == "reduce_lr" for e in guard.events)  # one rollback sufficed


def test_spikes_again_after_a_rollback_reduce_the_lr_down_to_a_floor():
    x, y = regression()
    model, optimizer = model_and_opt()
    guard = Guard(
        model, optimizer, rollback_after=2, snapshot_every=10, rollback_skip_batches=0, min_multiplier=0.25
    )
    bad = {k: "scale" for k in (100, 101, 104, 105, 108, 109, 112, 113)}
    for xb, yb in guard.batches(list(batches(x, y, 140, bad))):
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        guard.step(loss)
    kinds = [e.kind for e in guard.events]
    assert kinds.count("rollback") == 4
    assert kinds.count("reduce_lr") == 2 and guard.lr_multiplier == 0.25  # 0.5, 0.25, then the floor


def test_lr_multiplier_is_applied_around_the_step_and_undone():
    x, y = regression()
    model, optimizer = model_and_opt(lr=0.01)
    plateau = Plateau(patience=0, factor=0.5)
    guard = Guard(model, optimizer, plateau=plateau)
    guard.observe(1.0)
    guard.observe(2.0)  # no improvement -> 0.5
    assert guard.lr_multiplier == 0.5
    ref_model, ref_opt = model_and_opt(lr=0.005)
    ref_model.load_state_dict(model.state_dict())
    xb, yb = next(batches(x, y, 1))
    for m, opt, g in ((model, optimizer, guard), (ref_model, ref_opt, None)):
        loss = torch.nn.functional.mse_loss(m(xb), yb)
        opt.zero_grad()
        loss.backward()
        g.step(loss) if g else opt.step()
    assert optimizer.param_groups[0]["lr"] == 0.01  # undone after the step
    for a, b in zip(model.parameters(), ref_model.parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-7)


def test_no_spike_flagged_for_adamw_grad_norm_rise_under_cooldown():
    """Defazio et al. 2025: with weight decay and normalized layers, AdamW's gradient norm
    rises as the LR decays to zero. The guard must not take that rise for spikes."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 16, generator=gen)
    y = (x[:, :4].sum(1) > 0).long()
    flip = torch.rand(4096, generator=gen) < 0.4  # label noise keeps the gradient noisy
    y[flip] = 1 - y[flip]
    torch.manual_seed(0)
    width = 64
    model = torch.nn.Sequential(  # scale-invariant hidden layers (no bias, LayerNorm after)
        torch.nn.Linear(16, width, bias=False),
        torch.nn.LayerNorm(width, elementwise_affine=False),
        torch.nn.ReLU(),
        torch.nn.Linear(width, width, bias=False),
        torch.nn.LayerNorm(width, elementwise_affine=False),
        torch.nn.ReLU(),
        torch.nn.Linear(width, 2),
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1.0)
    steps = 1000
    scheduler = Scheduler(optimizer, lrlab.warmup(30, lrlab.linear(3e-3, 0.0, steps - 30)))
    guard = Guard(model, optimizer, scheduler=scheduler, actions=("log", "skip", "rollback", "reduce_lr"))
    norms = []
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        report = guard.step(loss)
        norms.append(report.grad_norm)
        scheduler.step()
    middle = np.median(norms[200:300])
    end = np.median(norms[-30:])
    assert end > 1.8 * middle  # the rise happened
    assert not [e for e in guard.events if e.kind in ("skip", "spike", "rollback", "reduce_lr")]


def test_resumed_guard_makes_the_same_decisions():
    bad = {60: "scale", 90: "scale", 91: "scale", 92: "scale", 120: "nan"}
    x, y = regression()
    data = list(batches(x, y, 160, bad))

    def make():
        model, optimizer = model_and_opt()
        guard = Guard(
            model,
            optimizer,
            snapshot_every=20,
            rollback_skip_batches=3,
            rollback_after=3,
            plateau=Plateau(patience=2),
        )
        return model, optimizer, guard

    def train(model, optimizer, guard, start, stop):
        position = start
        while position < stop:
            if guard.skip_batches > 0:
                guard.skip_batches -= 1
                position += 1
                continue
            xb, yb = data[position]
            position += 1
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            guard.step(loss)
            if position % 25 == 0:
                guard.observe(loss.item())

    model, optimizer, guard = make()
    train(model, optimizer, guard, 0, 160)

    model2, optimizer2, guard2 = make()
    train(model2, optimizer2, guard2, 0, 75)
    checkpoint = copy.deepcopy(
        {"model": model2.state_dict(), "opt": optimizer2.state_dict(), "guard": guard2.state_dict()}
    )
    model3, optimizer3, guard3 = make()
    model3.load_state_dict(checkpoint["model"])
    optimizer3.load_state_dict(checkpoint["opt"])
    guard3.load_state_dict(checkpoint["guard"])
    train(model3, optimizer3, guard3, 75, 160)
    assert [e.to_dict() for e in guard3.events] == [e.to_dict() for e in guard.events]
    assert any(e.kind == "rollback" for e in guard.events)
    for a, b in zip(model.parameters(), model3.parameters()):
        assert torch.equal(a, b)


def test_device_skip_needs_no_host_sync(monkeypatch):
    x, y = regression()
    model, optimizer = model_and_opt()
    guard = Guard(model, optimizer, actions=("clip", "skip"), sync=False, min_history=10)
    data = list(batches(x, y, 60, bad={40: "scale", 50: "nan"}))
    before_bad = None

    inside_optimizer = [False]

    def forbidden(*args, **kwargs):  # torch's own AdamW reads its CPU step count with .item()
        if not inside_optimizer[0]:
            raise AssertionError("host sync inside Guard.step(sync=False)")
        return original_item(*args, **kwargs)

    original_item = torch.Tensor.item
    original_step = optimizer.step

    def step(*args, **kwargs):
        inside_optimizer[0] = True
        try:
            return original_step(*args, **kwargs)
        finally:
            inside_optimizer[0] = False

    optimizer.step = step

    for t, (xb, yb) in enumerate(data):
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        if t in (40, 50):
            before_bad = [p.detach().clone() for p in model.parameters()]
            state_before = copy.deepcopy(optimizer.state_dict()["state"])
        with monkeypatch.context() as m:
            m.setattr(torch.Tensor, "item", forbidden)
            for name in ("__bool__", "__float__", "__int__", "tolist"):
                m.setattr(
                    torch.Tensor,
                    name,
                    lambda *a, **k: (_ for _ in ()).throw(
                        AssertionError("host sync inside Guard.step(sync=False)")
                    ),
                )
            guard.step(loss)
        if t in (40, 50):
            for a, b in zip(before_bad, model.parameters()):
                assert torch.equal(a, b)
            for k, v in optimizer.state_dict()["state"].items():
                assert torch.equal(v["exp_avg"], state_before[k]["exp_avg"])
    assert int(guard._device_state["skipped"]) == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_surgeon_switches_when_the_loss_stabilises_and_cuts_on_plateau():
    surgeon = Surgeon(1.0, 1000, warmup_steps=200, window=20, patience=50, stable_tol=0.02)
    events = []
    for t in range(1000):
        loss = 1.0 + 4.0 * math.exp(-t / 40) if t < 600 else 1.0  # falls fast, then flat
        events += surgeon.update(t, loss)
    kinds = [e.kind for e in events]
    assert kinds[0] == "switch_to_decay"
    switch = events[0].step
    assert 80 < switch < 200  # after the steep fall, before the warmup's end
    assert surgeon.lr(switch - 1) == pytest.approx((switch - 1) / 200)
    assert surgeon.lr(switch) == pytest.approx(switch / 200)
    assert "reduce_lr" in kinds  # the flat loss triggers a plateau cut
    # the decided schedule is lrlab's: its text form parses back to the same values
    again = lrlab.parse(str(surgeon.schedule))
    steps = np.arange(0, 1000, 37)
    assert np.allclose(again.values(steps), surgeon.schedule.values(steps))
    assert surgeon.schedule(999) == pytest.approx(0.0, abs=1e-4)


def test_surgeon_resumes_with_the_same_decisions():
    losses = [1.0 + 4.0 * math.exp(-t / 30) + 0.01 * math.sin(t) for t in range(600)]
    a = Surgeon(0.5, 600, window=15, patience=30)
    for t, v in enumerate(losses):
        a.update(t, v)
    b = Surgeon(0.5, 600, window=15, patience=30)
    for t, v in enumerate(losses[:250]):
        b.update(t, v)
    c = Surgeon(0.5, 600, window=15, patience=30)
    c.load_state_dict(copy.deepcopy(b.state_dict()))
    for t, v in enumerate(losses[250:], start=250):
        c.update(t, v)
    assert [e.to_dict() for e in c.events] == [e.to_dict() for e in a.events]
    assert [c.lr(t) for t in range(600)] == [a.lr(t) for t in range(600)]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"patience": -1}, "patience"),
        ({"threshold": -0.1}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold_mode": "relative"}, "threshold_mode"),
        ({"factor": 1.0}, "factor"),
        ({"factor": 0.0}, "factor"),
        ({"floor": 2.0}, "floor"),
        ({"cooldown": 1.5}, "cooldown"),
        ({"mode": "down"}, "mode"),
    ],
)
def test_plateau_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Plateau(**kwargs)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"actions": ("log", "explode")}, "actions"),
        ({"actions": "skip"}, "actions"),
        ({"clip_z": 0}, "clip_z"),
        ({"skip_sigma": -1}, "skip_sigma"),
        ({"window": 1}, "window"),
        ({"lr_factor": 1.5}, "lr_factor"),
        ({"sync": False, "actions": ("rollback",)}, "sync"),
        ({"plateau": 3}, "plateau"),
        ({"min_history": 0}, "min_history"),
    ],
)
def test_guard_bad_arguments(kwargs, name):
    model, optimizer = model_and_opt()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=name):
        Guard(model, optimizer, **kwargs)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"peak": 0}, "peak"),
        ({"total_steps": 5}, "total_steps"),
        ({"stable_tol": 0}, "stable_tol"),
        ({"min_decay": 2000}, "min_decay"),
        ({"final_lr": 2.0}, "final_lr"),
        ({"factor": 0}, "factor"),
    ],
)
def test_surgeon_bad_arguments(kwargs, name):
    args = {"peak": 1.0, "total_steps": 1000, **kwargs}
    with pytest.raises(ValueError, match=name):
        Surgeon(args.pop("peak"), args.pop("total_steps"), **args)


def test_guard_with_a_grad_scaler_matches_the_plain_scaler_loop():
    """With a GradScaler the guard unscales, judges and steps through the scaler: without
    spikes the run is the plain ``scale/backward/step/update`` loop, bit for bit."""
    x, y = regression()
    data = list(batches(x, y, 40))
    results = []
    for guarded in (False, True):
        model, optimizer = model_and_opt()
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
        guard = Guard(model, optimizer, scaler=scaler) if guarded else None
        for xb, yb in data:
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            if guard is None:
                scaler.step(optimizer)
                scaler.update()
            else:
                guard.step(loss)
        results.append([p.detach().clone() for p in model.parameters()])
        if guard is not None:
            assert not guard.events
    assert all(torch.equal(a, b) for a, b in zip(*results))


@pytest.mark.parametrize("loss, match", [(torch.ones(3), "scalar"), ("1.0", "number"), (None, "number")])
def test_guard_step_refuses_a_bad_loss_and_touches_nothing(loss, match):
    model, optimizer = model_and_opt()
    before = copy.deepcopy(model.state_dict())
    guard = Guard(model, optimizer)
    with pytest.raises(ValueError, match=match):
        guard.step(loss)
    assert guard.t == 0 and not guard.events
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_lr_multiplier_on_tensor_lrs_keeps_the_tensors():
    from lrlab.torch import use_tensor_lr

    x, y = regression()
    model, optimizer = model_and_opt(lr=0.01)
    use_tensor_lr(optimizer)
    lr = optimizer.param_groups[0]["lr"]
    guard = Guard(model, optimizer, plateau=Plateau(patience=0, factor=0.5))
    guard.observe(1.0)
    guard.observe(2.0)
    xb, yb = next(batches(x, y, 1))
    loss = torch.nn.functional.mse_loss(model(xb), yb)
    optimizer.zero_grad()
    loss.backward()
    guard.step(loss)
    assert optimizer.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.01)
