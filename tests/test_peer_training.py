"""The peer check: the same training run twice, once with the peer's scheduler and once
with :class:`lrlab.torch.Scheduler` driving the matching lrlab schedule.

Both runs start from the same weights, see the same batches in the same order and use the
same optimizer, so if every learning rate is the same float the final weights are the same
bits. Both are asserted exactly: the LR sequences with ``==`` at every update, the weights
with ``torch.equal``. A failure names the first update whose LR differs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from torch import nn  # noqa: E402
from torch.optim.lr_scheduler import OneCycleLR  # noqa: E402
from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup  # noqa: E402

import lrlab  # noqa: E402
from lrlab.torch import Scheduler, onecycle_momentum  # noqa: E402

BATCH = 32


def _data(n: int = 256, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = torch.sin(x @ torch.randn(8, generator=g)) + 0.1 * torch.randn(n, generator=g)
    return x, y


def _model() -> nn.Module:
    with torch.random.fork_rng(devices=[]):  # leave the session's global RNG alone
        torch.manual_seed(1234)
        return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))


MODEL0 = _model()
DATA = _data()


def _train(make_optimizer: Callable[[nn.Module], torch.optim.Optimizer],
           make_scheduler: Callable[[torch.optim.Optimizer], object], steps: int,
           before_step: Callable[[torch.optim.Optimizer, int], None] | None = None):
    """``steps`` updates of a fixed MLP on fixed mini-batches, the scheduler stepped after
    each ``optimizer.step()``. Returns the model, the per-update LRs of every group and the
    per-update SGD momentum of group 0 (None for optimizers without one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: threads only add overhead (and contention)
    try:
        return _train_loop(make_optimizer, make_scheduler, steps, before_step)
    finally:
        torch.set_num_threads(threads)


def _train_loop(make_optimizer, make_scheduler, steps, before_step):
    model = copy.deepcopy(MODEL0)
    opt = make_optimizer(model)
    sched = make_scheduler(opt)
    x, y = DATA
    lrs, momenta = [], []
    for t in range(steps):
        if before_step is not None:
            before_step(opt, t)
        lrs.append([g["lr"] for g in opt.param_groups])
        momenta.append(opt.param_groups[0].get("momentum"))
        i = (t * BATCH) % len(x)
        loss = nn.functional.mse_loss(model(x[i:i + BATCH]).squeeze(-1), y[i:i + BATCH])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return model, lrs, momenta


def _first_difference(ours: list, theirs: list) -> str:
    for t, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return f"first differing update t={t}: lrlab {a!r} vs peer {b!r}"
    return f"lengths differ: {len(ours)} vs {len(theirs)}"


def _assert_same_run(ours, theirs) -> None:
    model_a, lrs_a, mom_a = ours
    model_b, lrs_b, mom_b = theirs
    assert lrs_a == lrs_b, _first_difference(lrs_a, lrs_b)
    assert mom_a == mom_b, _first_difference(mom_a, mom_b)
    for (name, a), b in zip(model_a.named_parameters(), model_b.parameters()):
        assert torch.equal(a, b), f"{name} differs: max |diff| {(a - b).abs().max().item():.3g}"
    # and the run did train: the weights moved away from the start
    assert any(not torch.equal(a, b) for a, b in zip(model_a.parameters(), MODEL0.parameters()))


def _adamw(lr: float) -> Callable[[nn.Module], torch.optim.Optimizer]:
    return lambda m: torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.01)


def _sgd(lr: float) -> Callable[[nn.Module], torch.optim.Optimizer]:
    return lambda m: torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9)


# --- (a) transformers get_cosine_schedule_with_warmup ------------------------------------

@pytest.mark.parametrize(("peak", "warmup", "total"), [(3e-3, 30, 300), (1e-3, 7, 200)])
def test_hf_cosine_with_warmup_same_run(peak, warmup, total):
    ours = _train(_adamw(999.0), lambda opt: Scheduler(
        opt, lrlab.warmup(warmup, lrlab.cosine(peak, 0.0, total - warmup))), total)
    theirs = _train(_adamw(peak), lambda opt: get_cosine_schedule_with_warmup(opt, warmup, total), total)
    assert ours[1][0] == [0.0] and ours[1][warmup] == [peak]
    _assert_same_run(ours, theirs)
    # warmup_cosine is the same schedule under its own name
    assert lrlab.warmup_cosine(peak, total, warmup) == lrlab.warmup(
        warmup, lrlab.cosine(peak, 0.0, total - warmup))


def test_hf_cosine_with_warmup_per_group_schedules_same_run():
    # transformers scales every group's own base LR by one lambda; lrlab reproduces that to
    # the bit with one schedule per group (``schedules=``). (``scales=`` multiplies the
    # schedule's value instead, ``0.1 * (peak * f)`` vs HF's ``(0.1 * peak) * f``: equal
    # within an ulp, not bit for bit; see test_hf_per_group_scales_within_an_ulp.)
    peak, warmup, total = 3e-3, 30, 300

    def groups(lr_body, lr_head):
        return lambda m: torch.optim.AdamW([
            {"params": m[:4].parameters(), "lr": lr_body, "name": "body"},
            {"params": m[4].parameters(), "lr": lr_head, "name": "head"},
        ])

    def sched(p):
        return lrlab.warmup(warmup, lrlab.cosine(p, 0.0, total - warmup))

    ours = _train(groups(1.0, 1.0), lambda opt: Scheduler(
        opt, sched(peak), schedules={"head": sched(0.1 * peak)}), total)
    theirs = _train(groups(peak, 0.1 * peak),
                    lambda opt: get_cosine_schedule_with_warmup(opt, warmup, total), total)
    _assert_same_run(ours, theirs)


def test_hf_per_group_scales_within_an_ulp():
    peak, warmup, total = 3e-3, 30, 300
    s = lrlab.warmup(warmup, lrlab.cosine(peak, 0.0, total - warmup))
    p = [nn.Parameter(torch.zeros(1)) for _ in range(2)]
    opt = torch.optim.SGD([{"params": [p[0]], "lr": peak}, {"params": [p[1]], "lr": 0.1 * peak}])
    peer = get_cosine_schedule_with_warmup(opt, warmup, total)
    ours = Scheduler(torch.optim.SGD([{"params": [p[0]]}, {"params": [p[1]]}], lr=1.0), s,
                     scales=[1.0, 0.1])
    for _ in range(total):
        theirs = [g["lr"] for g in opt.param_groups]
        mine = [g["lr"] for g in ours.optimizer.param_groups]
        assert mine[0] == theirs[0]
        assert mine[1] == pytest.approx(theirs[1], rel=2.3e-16, abs=0.0)
        opt.step()
        peer.step()
        ours.step()


# --- (b) torch OneCycleLR --------------------------------------------------------------

@pytest.mark.parametrize(("max_lr", "total"), [(0.1, 300), (0.05, 257)])
def test_torch_onecycle_same_run_lr_only(max_lr, total):
    # OneCycleLR also cycles SGD's momentum by default (0.95 -> 0.85 -> 0.95), which an LR
    # schedule does not do: cycle_momentum=False compares the learning rates alone, with
    # momentum fixed at 0.9 in both runs (the momentum is reproduced in the next test).
    ours = _train(_sgd(999.0), lambda opt: Scheduler(opt, lrlab.onecycle(max_lr, total)), total)
    theirs = _train(_sgd(max_lr), lambda opt: OneCycleLR(opt, max_lr, total_steps=total,
                                                         cycle_momentum=False), total)
    if (0.3 * total - 1.0).is_integer():  # the peak falls on an update
        assert max(lr for (lr,) in ours[1]) == max_lr
    _assert_same_run(ours, theirs)


@pytest.mark.parametrize(("total", "three_phase"), [(300, False), (257, False), (300, True)])
def test_torch_onecycle_same_run_with_cycled_momentum(total, three_phase):
    # OneCycleLR's defaults, momentum cycling included: the Scheduler drives the LR and the
    # momentum from one mapping; both equal torch's at every update, and so do the weights.
    max_lr = 0.1

    def onecycle(opt):
        return Scheduler(opt, {"lr": lrlab.onecycle(max_lr, total, three_phase=three_phase),
                               "momentum": onecycle_momentum(total, three_phase=three_phase)})

    ours = _train(_sgd(999.0), onecycle, total)
    theirs = _train(_sgd(max_lr), lambda opt: OneCycleLR(opt, max_lr, total_steps=total,
                                                         three_phase=three_phase), total)
    assert ours[2][0] == 0.95 and min(ours[2]) == pytest.approx(0.85, abs=1e-4)
    _assert_same_run(ours, theirs)


@pytest.mark.parametrize("total", [300, 257])
def test_torch_onecycle_same_run_on_adam_through_beta1(total):
    # on Adam, OneCycleLR cycles beta1 (betas[0]) and keeps beta2: the same with "beta1"
    max_lr = 3e-3

    def adam(lr):
        return lambda m: torch.optim.Adam(m.parameters(), lr=lr, betas=(0.9, 0.99))

    def record_betas(opt, t):
        betas.append(opt.param_groups[0]["betas"])

    betas: list = []
    ours = _train(adam(999.0), lambda opt: Scheduler(opt, {
        "lr": lrlab.onecycle(max_lr, total), "beta1": onecycle_momentum(total)}), total,
        before_step=record_betas)
    ours_betas, betas = betas, []
    theirs = _train(adam(max_lr), lambda opt: OneCycleLR(opt, max_lr, total_steps=total), total,
                    before_step=record_betas)
    assert ours_betas == betas, _first_difference(ours_betas, betas)
    assert ours_betas[0] == (0.95, 0.99) and ours_betas[-1][1] == 0.99
    _assert_same_run(ours, theirs)


def test_torch_onecycle_linear_anneal_momentum_within_an_ulp():
    # anneal_strategy="linear": torch writes (end - start) * pct + start, lrlab's linear
    # start + (end - start) * t / steps: the same line, a few ulps apart at some steps
    total = 200
    torch_opt = _sgd(0.1)(copy.deepcopy(MODEL0))
    torch_sched = OneCycleLR(torch_opt, 0.1, total_steps=total, anneal_strategy="linear")
    m = onecycle_momentum(total, anneal="linear")
    for t in range(total):
        assert m(t) == pytest.approx(torch_opt.param_groups[0]["momentum"], rel=4e-16, abs=0)
        torch_opt.step()
        torch_sched.step()


# --- (c) transformers get_linear_schedule_with_warmup -----------------------------------

@pytest.mark.parametrize(("peak", "warmup", "total"), [(5e-2, 20, 300), (1e-2, 0, 150)])
def test_hf_linear_with_warmup_same_run(peak, warmup, total):
    decay = lrlab.linear(peak, 0.0, total - warmup)
    schedule = lrlab.warmup(warmup, decay) if warmup else decay
    ours = _train(_sgd(999.0), lambda opt: Scheduler(opt, schedule), total)
    theirs = _train(_sgd(peak), lambda opt: get_linear_schedule_with_warmup(opt, warmup, total), total)
    _assert_same_run(ours, theirs)
