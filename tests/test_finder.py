"""The LR range test: the ladder, divergence, suggestions, and leaving no trace."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrlab  # noqa: E402
from lrlab.torch import Scheduler, find_lr, find_lr_task  # noqa: E402
from lrlab.torch.finder import analyse, diverged, lr_ladder, smooth  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: these models are tiny, and a shared machine makes more threads
    slower, not faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_setup(seed: int = 0):
    """A model with batch norm and dropout, AdamW, a shuffling DataLoader, an lrlab Scheduler."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16),
        torch.nn.BatchNorm1d(16),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(16, 3),
    )
    x = torch.randn(256, 8)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = Scheduler(optimizer, lrlab.warmup(5, lrlab.cosine(1e-2, 0.0, 50)))
    return model, optimizer, loader, scheduler


def train(model, optimizer, loader, scheduler, steps: int) -> None:
    loss_fn = torch.nn.CrossEntropyLoss()
    done = 0
    while done < steps:
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            done += 1
            if done == steps:
                return


def snapshot(model, optimizer):
    return (
        [p.detach().clone() for p in model.parameters()] + [b.clone() for b in model.buffers()],
        optimizer.state_dict(),
        random.getstate(),
        np.random.get_state()[1].copy(),
        torch.get_rng_state(),
    )


def assert_same(a, b):
    for x, y in zip(a[0], b[0]):
        assert torch.equal(x, y)
    assert a[2] == b[2]
    assert np.array_equal(a[3], b[3])
    assert torch.equal(a[4], b[4])


def test_ladder_is_exact_formula():
    lrs = lr_ladder(1e-7, 10.0, 100)
    i = np.arange(100)
    assert np.allclose(lrs, 1e-7 * (10.0 / 1e-7) ** (i / 99), rtol=1e-14, atol=0)
    assert lrs[0] == 1e-7 and lrs[-1] == 10.0
    ratios = lrs[1:] / lrs[:-1]
    assert np.allclose(ratios, ratios[0], rtol=1e-12)  # no step twice as wide as another (Lightning PR 21931)
    lin = lr_ladder(0.1, 1.0, 10, "linear")
    assert np.allclose(np.diff(lin), 0.1, rtol=1e-12)


def test_sweep_uses_the_ladder_in_the_optimizer():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD([{"params": [model.weight], "lr": 0.1}, {"params": [model.bias], "lr": 0.05}])
    seen = []

    def step(batch):
        seen.append([g["lr"] for g in optimizer.param_groups])
        loss = (model(batch) ** 2).mean()
        loss.backward()
        return loss

    data = [torch.randn(4, 2) for _ in range(3)]
    result = find_lr(
        step=step,
        optimizer=optimizer,
        data=data,
        model=model,
        start_lr=1e-4,
        end_lr=1e-2,
        num_steps=12,
        diverge_factor=1e9,
    )
    expected = 1e-4 * 100.0 ** (np.arange(12) / 11)
    assert len(result.lrs) == 12
    assert np.allclose(result.lrs, expected, rtol=1e-13)
    assert np.allclose([s[0] for s in seen], expected, rtol=1e-13)
    assert np.allclose([s[1] for s in seen], expected / 2, rtol=1e-13)  # group ratio kept
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.05]


def test_training_after_a_sweep_is_bitwise_the_training_without_one():
    model, optimizer, loader, scheduler = make_setup()
    train(model, optimizer, loader, scheduler, 7)  # some optimizer state and a mid-schedule LR
    random.random()
    np.random.rand()
    state = snapshot(model, optimizer)
    lr_before = [g["lr"] for g in optimizer.param_groups]
    sched_before = scheduler.state_dict()
    result = find_lr(model, optimizer, loader, torch.nn.CrossEntropyLoss(), num_steps=40)
    assert result.num_updates >= 3
    assert_same(snapshot(model, optimizer), state)
    assert [g["lr"] for g in optimizer.param_groups] == lr_before
    assert scheduler.state_dict() == sched_before
    assert all(m.training for m in model.modules())
    train(model, optimizer, loader, scheduler, 20)
    after_sweep = [p.detach().clone() for p in model.parameters()]

    model2, optimizer2, loader2, scheduler2 = make_setup()
    train(model2, optimizer2, loader2, scheduler2, 7)
    random.random()
    np.random.rand()
    train(model2, optimizer2, loader2, scheduler2, 20)
    for a, b in zip(after_sweep, model2.parameters()):
        assert torch.equal(a, b)


class Boom(Exception):
    pass


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_state_restored_when_the_sweep_raises(error):
    model, optimizer, loader, scheduler = make_setup()
    train(model, optimizer, loader, scheduler, 3)
    state = snapshot(model, optimizer)
    calls = []
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(batch):
        calls.append(1)
        if len(calls) == 6:
            raise error()
        loss = loss_fn(model(batch[0]), batch[1])
        loss.backward()
        return loss

    with pytest.raises(error):
        find_lr(step=step, optimizer=optimizer, data=loader, model=model, scheduler=scheduler, num_steps=20)
    assert_same(snapshot(model, optimizer), state)
    assert len(optimizer.state) == len(list(model.parameters()))


def test_fresh_optimizer_has_no_state_after_a_sweep():
    model, optimizer, loader, _ = make_setup()
    find_lr(model, optimizer, loader, torch.nn.CrossEntropyLoss(), num_steps=10)
    assert len(optimizer.state) == 0
    assert all(p.grad is None for p in model.parameters())


def test_amp_with_grad_scaler_and_accumulation():
    model, optimizer, loader, _ = make_setup()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    before = scaler.state_dict()
    batches = []

    class Counting:
        def __iter__(self):
            for batch in loader:
                batches.append(1)
                yield batch

    result = find_lr(
        model,
        optimizer,
        Counting(),
        torch.nn.CrossEntropyLoss(),
        num_steps=10,
        accumulation_steps=3,
        scaler=scaler,
        diverge_factor=1e6,
    )
    assert len(batches) == 30  # 10 updates x 3 micro-batches
    assert result.num_updates == 10
    assert scaler.state_dict() == before


def quadratic(h: float):
    """Loss 0.5 h w^2 (plus a constant): plain GD diverges for lr > 2/h."""
    w = torch.nn.Parameter(torch.ones(4))
    optimizer = torch.optim.SGD([w], lr=0.1)
    return w, optimizer


def test_divergence_on_a_quadratic_stops_past_2_over_h():
    h = 50.0
    w, optimizer = quadratic(h)
    gen = torch.Generator().manual_seed(0)
    targets = [0.1 * torch.randn(4, generator=gen) for _ in range(200)]  # a noisy quadratic

    def step(target):
        loss = 0.5 * h * ((w - target) ** 2).sum()
        loss.backward()
        return loss

    result = find_lr(
        step=step,
        optimizer=optimizer,
        data=targets,
        start_lr=1e-5,
        end_lr=10.0,
        num_steps=200,
        smooth_beta=0.5,
    )
    assert result.stopped_early and "diverged" in result.reason
    edge = 2 / h
    assert result.lrs[-1] > edge  # stops only after the edge
    assert result.lrs[-1] < 8 * edge  # and soon after it
    stable = result.suggestions["stable/2"].lr
    assert stable is not None and edge / 4 <= stable <= edge
    assert torch.equal(w.detach(), torch.ones(4))


def test_negative_and_shifted_losses_give_the_same_steepest():
    h = 20.0
    results = []
    for shift in (0.0, -100.0):
        w, optimizer = quadratic(h)

        def step(_=None, shift=shift, w=w):
            loss = 0.5 * h * (w**2).sum() + shift
            loss.backward()
            return loss

        results.append(
            find_lr(
                step=step, optimizer=optimizer, start_lr=1e-5, end_lr=10.0, num_steps=120, smooth_beta=0.5
            )
        )
    plain, shifted = results
    assert shifted.stopped_early and ("diverged" in shifted.reason or "non-finite" in shifted.reason)
    assert plain.suggestions["steepest"].lr == shifted.suggestions["steepest"].lr
    assert shifted.lrs[-1] < 10 * (2 / h)


def test_divergence_rule_for_any_sign():
    assert diverged(5.0, 1.0, 2.0, 4.0) and not diverged(3.9, 1.0, 2.0, 4.0)
    assert diverged(-1.0, -10.0, -5.0, 4.0) is False  # rose 9 above best, scale max(10, 5): 9 < 30
    assert diverged(25.0, -10.0, -5.0, 4.0)
    # a best near zero: the rise is measured against the descent (first - best = 2), not 4 * 1e-6
    assert not diverged(5.0, 1e-6, 2.0, 4.0)
    assert diverged(7.0, 1e-6, 2.0, 4.0)
    assert diverged(math.nan, 1.0, 2.0, 4.0)


def test_first_non_finite_loss_stops_and_never_reaches_weights():
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    calls = []

    def step(batch):
        calls.append(1)
        loss = (model(batch) ** 2).mean() * (math.inf if len(calls) == 15 else 1.0)
        loss.backward()
        return loss

    result = find_lr(
        step=step,
        optimizer=optimizer,
        data=[torch.ones(2, 3)] * 4,
        model=model,
        num_steps=50,
        diverge_factor=1e9,
    )
    assert result.stopped_early and "non-finite" in result.reason
    assert len(result.losses) == 15 and math.isinf(result.losses[-1])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_no_descending_part_gives_none_with_reason():
    lrs = list(lr_ladder(1e-3, 1.0, 50))
    rising = [1.0 + 0.01 * i for i in range(50)]
    result = analyse(lrs, rising)
    for s in result.suggestions.values():
        assert s.lr is None and "no descending part" in s.reason


def test_suggestions_on_a_synthetic_curve():
    lrs = lr_ladder(1e-6, 10.0, 200)
    x = np.log10(lrs)
    # flat, a descent centred at 1e-3 (steepest there), a minimum near 1e-1, then a rise
    loss = 2.0 - 1.0 / (1 + np.exp(-(x + 3) * 3)) + np.where(x > -1, 3 * (x + 1) ** 2, 0.0)
    result = analyse(list(lrs), list(loss), smooth_beta=0.0)
    s = result.suggestions
    assert 10**-3.2 < s["steepest"].lr < 10**-2.8
    assert 10**-1.3 < s["min/10"].lr * 10 < 10**-0.7
    assert s["valley"].lr is not None and s["stable/2"].lr is not None
    assert s["stable/2"].lr * 2 >= s["min/10"].lr * 10  # the edge is not before the minimum


def test_smooth_is_bias_corrected_ema():
    values = [3.0, 1.0, 2.0]
    beta = 0.9
    m1 = 0.1 * 3
    m2 = 0.9 * m1 + 0.1 * 1
    m3 = 0.9 * m2 + 0.1 * 2
    expected = [m1 / (1 - 0.9), m2 / (1 - 0.81), m3 / (1 - 0.729)]
    assert np.allclose(smooth(values, beta), expected)


def test_several_seeds_give_an_interval():
    model, optimizer, loader, _ = make_setup()
    result = find_lr(
        model, optimizer, loader, torch.nn.CrossEntropyLoss(), num_steps=30, start_lr=1e-5, seeds=[1, 2, 3]
    )
    assert len(result.sweeps) == 3
    interval = result.suggestions["interval"]
    if interval.lr is not None:
        assert interval.low <= interval.lr <= interval.high
    assert result.num_updates == sum(s.num_updates for s in result.sweeps)


def test_one_shot_iterator_that_runs_out():
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = iter([(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(5)])
    result = find_lr(model, optimizer, data, torch.nn.MSELoss(), num_steps=20)
    assert result.stopped_early and "ran out" in result.reason and result.num_updates == 5


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"start_lr": 1.0, "end_lr": 0.1}, "start_lr"),
        ({"start_lr": 1.0, "end_lr": 1.0}, "start_lr"),
        ({"start_lr": -1.0}, "start_lr"),
        ({"end_lr": math.nan}, "end_lr"),
        ({"num_steps": 1}, "num_steps"),
        ({"num_steps": 2.5}, "num_steps"),
        ({"mode": "log"}, "mode"),
        ({"diverge_factor": 1.0}, "diverge_factor"),
        ({"smooth_beta": 1.0}, "smooth_beta"),
        ({"accumulation_steps": 0}, "accumulation_steps"),
        ({"seeds": []}, "seeds"),
    ],
)
def test_bad_arguments_name_the_argument_and_touch_nothing(kwargs, name):
    model, optimizer, loader, _ = make_setup()
    state = snapshot(model, optimizer)
    with pytest.raises(ValueError, match=name):
        find_lr(model, optimizer, loader, torch.nn.CrossEntropyLoss(), **kwargs)
    assert_same(snapshot(model, optimizer), state)


@pytest.mark.parametrize(
    "returned, match", [(1.5, "torch.Tensor"), ("x", "torch.Tensor"), (torch.ones(3), "scalar")]
)
def test_bad_closure_result(returned, match):
    model, optimizer, loader, _ = make_setup()
    state = snapshot(model, optimizer)
    with pytest.raises(ValueError, match=match):
        find_lr(step=lambda batch: returned, optimizer=optimizer, data=loader, model=model)
    assert_same(snapshot(model, optimizer), state)


def test_empty_data():
    model, optimizer, _, _ = make_setup()
    state = snapshot(model, optimizer)
    with pytest.raises(ValueError, match="data is empty"):
        find_lr(model, optimizer, [], torch.nn.CrossEntropyLoss())
    assert_same(snapshot(model, optimizer), state)
    with pytest.raises(ValueError, match="optimizer"):
        find_lr(model, "adam", [], torch.nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="loss_fn"):
        find_lr(model, optimizer, [(1, 2)], None)


def test_plot_and_json(tmp_path):
    pytest.importorskip("matplotlib")
    model, optimizer, loader, _ = make_setup()
    result = find_lr(model, optimizer, loader, torch.nn.CrossEntropyLoss(), num_steps=30, start_lr=1e-5)
    path = tmp_path / "sweep.png"
    result.plot(path=str(path))
    assert path.stat().st_size > 1000
    import json

    text = json.dumps(result.to_dict())
    assert "suggestions" in text and "warmup+cosine" in text


def test_task_sweep_on_circle():
    result = find_lr_task("circle", num_steps=60, start_lr=1e-4, end_lr=100.0)
    assert len(result.lrs) <= 60
    expected = 1e-4 * 1e6 ** (np.arange(len(result.lrs)) / 59)
    assert np.allclose(result.lrs, expected, rtol=1e-12)
    assert result.settings["task"] == "circle"
    with pytest.raises(ValueError, match="circle"):
        find_lr_task("circle", options={"hidden": -3})


def test_tensor_lrs_are_restored_in_place():
    from lrlab.torch import use_tensor_lr

    model, optimizer, loader, _ = make_setup()
    use_tensor_lr(optimizer)
    lr_tensor = optimizer.param_groups[0]["lr"]
    before = lr_tensor.clone()
    find_lr(model, optimizer, loader, torch.nn.CrossEntropyLoss(), num_steps=10)
    assert optimizer.param_groups[0]["lr"] is lr_tensor  # the same tensor a compiled step holds
    assert torch.equal(lr_tensor, before)


def test_batch_norm_statistics_and_eval_mode_are_restored():
    model, optimizer, loader, _ = make_setup()
    model.eval()
    stats = [b.clone() for b in model.buffers()]
    find_lr(model, optimizer, loader, torch.nn.CrossEntropyLoss(), num_steps=10)
    assert not any(m.training for m in model.modules())
    assert all(torch.equal(a, b) for a, b in zip(stats, model.buffers()))


def test_bfloat16_autocast_without_a_scaler():
    model, optimizer, loader, _ = make_setup()
    seen = []
    loss_fn = torch.nn.CrossEntropyLoss()

    def recording(outputs, targets):
        seen.append(outputs.dtype)
        return loss_fn(outputs, targets)

    find_lr(model, optimizer, loader, recording, num_steps=5, amp_dtype=torch.bfloat16)
    assert seen and all(d == torch.bfloat16 for d in seen)
    assert all(p.dtype == torch.float32 for p in model.parameters())
