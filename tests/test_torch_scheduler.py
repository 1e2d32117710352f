"""lrlab.torch.Scheduler and the training-loop helpers, in plain torch loops."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import warnings
from typing import ClassVar

import pytest
import torch

import lrlab
from lrlab.torch import (
    CSVLogger,
    DeviceLR,
    Scheduler,
    TensorBoardLogger,
    clip_grad_norm,
    clipped_step,
    make_adamw,
    param_groups,
    use_tensor_lr,
)

FAMILIES = {
    "constant": lrlab.constant(0.01),
    "warmup_cosine": lrlab.warmup(7, lrlab.cosine(0.1, 0.001, 30)),
    "nanogpt": lrlab.warmup(5, lrlab.cosine(6e-4, 6e-5, 20), start_factor=1 / 6),
    "step": lrlab.step(0.1, 0.5, 7),
    "multistep": lrlab.multistep(0.1, [5, 9, 20], gamma=0.1),
    "multistep_factors": lrlab.multistep(0.1, [10, 15], factors=[0.316, 0.1]),
    "exponential": lrlab.exponential(0.1, 0.93),
    "half_life": lrlab.exponential(0.1, half_life=6, floor=0.01),
    "linear": lrlab.linear(0.1, 0.0, 25),
    "polynomial": lrlab.polynomial(0.1, 0.001, 25, power=2.0),
    "inverse_sqrt": lrlab.warmup(4, lrlab.inverse_sqrt(0.1, 4)),
    "onecycle": lrlab.onecycle(0.1, 30),
    "onecycle3": lrlab.onecycle(0.1, 30, three_phase=True, anneal="linear"),
    "cyclic": lrlab.cyclic(0.01, 0.1, 4, 6, mode="triangular2"),
    "exp_range": lrlab.cyclic(0.01, 0.1, 5, mode="exp_range", gamma=0.97),
    "sgdr": lrlab.sgdr(0.1, 5, mult=2.0, floor=0.001, decay=0.8),
    "wsd": lrlab.wsd(0.1, 30, warmup=4, cooldown=8),
    "wsd_geometric": lrlab.wsd(0.1, 30, warmup=3, cooldown_fraction=0.3, shape="geometric", floor=0.001),
    "piecewise": lrlab.piecewise([0, 5, 20], [0.0, 0.1, 0.02]),
    "untuned": lrlab.untuned_warmup(lrlab.constant(0.1), beta2=0.9),
    "composed": lrlab.clamp(0.5 * lrlab.join(lrlab.linear(0, 0.2, 5), lrlab.constant(0.2, 5),
                                             lrlab.one_minus_sqrt(0.2, 0.0, 10)), low=0.01),
    "product": lrlab.product(lrlab.cosine(0.1, 0.0, 30), lrlab.cyclic(0.5, 1.0, 3)),
    "limit": lrlab.limit(lrlab.inverse_sqrt(0.1, 3), 12),
}


def make_optimizer(lr: float = 1.0, groups: int = 1, **extra) -> torch.optim.Optimizer:
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3)) for _ in range(groups)]
    return torch.optim.SGD([{"params": [p], **extra} for p in params], lr=lr)


def run(opt: torch.optim.Optimizer, sched: Scheduler, steps: int) -> list[list[float]]:
    """The LRs each update used, read from the optimizer right before its step."""
    used = []
    for _ in range(steps):
        used.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return used


def test_first_update_uses_s0_and_step_moves_on():
    s = FAMILIES["warmup_cosine"]
    opt = make_optimizer()
    sched = Scheduler(opt, s)
    assert opt.param_groups[0]["lr"] == s(0) == 0.0
    assert sched.get_last_lr() == [s(0)]
    used = run(opt, sched, 40)
    assert [u[0] for u in used] == [s(t) for t in range(40)]
    assert sched.last_epoch == 40
    assert sched.get_last_lr() == [s(40)]


def test_is_a_real_torch_lr_scheduler():
    assert issubclass(Scheduler, torch.optim.lr_scheduler.LRScheduler)


def test_holds_the_final_value_where_torch_onecycle_raises():
    opt = make_optimizer()
    torch_sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="Tried to step"):
        for _ in range(12):
            opt.step()
            torch_sched.step()
    s = lrlab.onecycle(0.1, 10)
    opt = make_optimizer()
    used = run(opt, Scheduler(opt, s), 25)
    assert [u[0] for u in used[9:]] == [s.final_value] * 16
    assert s.final_value == pytest.approx(0.1 / 25 / 1e4, rel=1e-15)


def test_no_step_order_warning_when_a_grad_scaler_skips_the_update():
    """torch's own schedulers warn when scheduler.step() precedes optimizer.step() on the
    first iteration, which is what a GradScaler does when it skips an inf update."""

    def skipped_first_update(make_scheduler):
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = make_scheduler(opt)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loss = model(torch.tensor([[float("inf"), 1.0]])).sum()
            scaler.scale(loss).backward()
            scaler.step(opt)  # skipped: the gradient is not finite
            scaler.update()
            sched.step()
        return [str(w.message) for w in caught]

    torch_messages = skipped_first_update(lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda t: 1.0))
    assert any("lr_scheduler.step()" in m for m in torch_messages)
    ours = skipped_first_update(lambda o: Scheduler(o, lrlab.constant(0.1)))
    assert ours == []


def test_group_scales_from_group_key_mapping_and_list():
    s = FAMILIES["wsd"]
    opt = make_optimizer(groups=3)
    opt.param_groups[1]["lr_scale"] = 0.5
    used = run(opt, Scheduler(opt, s), 32)
    assert [u[1] for u in used] == [0.5 * s(t) for t in range(32)]
    assert [u[0] for u in used] == [s(t) for t in range(32)]

    opt = make_optimizer(groups=2)
    opt.param_groups[0]["name"], opt.param_groups[1]["name"] = "body", "head"
    used = run(opt, Scheduler(opt, s, scales={"head": 10.0}), 32)
    assert [u[1] for u in used] == [10.0 * s(t) for t in range(32)]

    opt = make_optimizer(groups=2)
    used = run(opt, Scheduler(opt, s, scales=[2.0, 0.25]), 32)
    assert [u for u in used] == [[2.0 * s(t), 0.25 * s(t)] for t in range(32)]


def test_a_schedule_per_group():
    a, b = FAMILIES["onecycle"], FAMILIES["sgdr"]
    opt = make_optimizer(groups=2)
    used = run(opt, Scheduler(opt, a, schedules=[None, b]), 35)
    assert used == [[a(t), b(t)] for t in range(35)]
    opt = make_optimizer(groups=2)
    opt.param_groups[1]["name"] = "bias"
    used = run(opt, Scheduler(opt, a, schedules={"bias": b}), 35)
    assert used == [[a(t), b(t)] for t in range(35)]


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("stop", [0, 1, 6, 17])
def test_resume_reproduces_an_uninterrupted_run(name, stop):
    s = FAMILIES[name]
    opt = make_optimizer(groups=2)
    reference = run(opt, Scheduler(opt, s, scales=[1.0, 0.3]), 45)

    opt = make_optimizer(groups=2)
    first = Scheduler(opt, s, scales=[1.0, 0.3])
    before = run(opt, first, stop)
    buffer = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": first.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)  # plain data: no pickled classes

    opt = make_optimizer(groups=2)
    resumed = Scheduler(opt, s, scales=[1.0, 0.3])
    opt.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    after = run(opt, resumed, 45 - stop)
    assert before + after == reference


def test_changed_schedule_is_refused_unless_asked_and_nothing_changes():
    stable = lrlab.wsd(0.1, 100, warmup=10, cooldown=20)
    opt = make_optimizer()
    sched = Scheduler(opt, stable)
    run(opt, sched, 50)
    state = sched.state_dict()

    longer = lrlab.wsd(0.1, 200, warmup=10, cooldown=20)  # the cooldown starts later
    opt2 = make_optimizer()
    sched2 = Scheduler(opt2, longer)
    before = [dict(g) for g in opt2.param_groups]
    with pytest.raises(ValueError, match="change_schedule=True"):
        sched2.load_state_dict(state)
    assert sched2.last_epoch == 0
    assert [g["lr"] for g in opt2.param_groups] == [b["lr"] for b in before]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the stable phase continues: no jump, no warning
        sched2.load_state_dict(state, change_schedule=True)
    used = run(opt2, sched2, 150)
    assert [u[0] for u in used] == [longer(t) for t in range(50, 200)]
    assert used[129][0] == 0.1  # step 179 is still stable in the extended run
    assert sched2.history == [{"step": 50, "from": {"lr": [str(stable)]}, "to": {"lr": [str(longer)]}}]
    assert sched2.state_dict()["history"] == sched2.history


def test_branching_a_cooldown_from_a_stable_checkpoint():
    base = lrlab.wsd(0.1, 1000, warmup=10, cooldown=1)
    branch = lrlab.cooldown_from(base, 300, 60, shape="one_minus_sqrt", floor=0.0)
    assert [branch(t) for t in range(301)] == [base(t) for t in range(301)]
    assert branch(330) == pytest.approx(0.1 * (1 - math.sqrt(30 / 60)), rel=1e-15)
    assert branch(360) == 0.0 and branch(5000) == 0.0
    opt = make_optimizer()
    sched = Scheduler(opt, base)
    run(opt, sched, 300)
    opt2 = make_optimizer()
    sched2 = Scheduler(opt2, branch)
    sched2.load_state_dict(sched.state_dict(), change_schedule=True)
    assert [u[0] for u in run(opt2, sched2, 61)] == [branch(t) for t in range(300, 361)]


def test_a_jump_in_the_lr_is_announced():
    opt = make_optimizer()
    sched = Scheduler(opt, lrlab.constant(0.1))
    run(opt, sched, 5)
    opt2 = make_optimizer()
    sched2 = Scheduler(opt2, lrlab.constant(0.2))
    with pytest.warns(UserWarning, match="jumps at step 5"):
        sched2.load_state_dict(sched.state_dict(), change_schedule=True)
    assert opt2.param_groups[0]["lr"] == 0.2


def test_tensor_lr_is_updated_in_place():
    s = FAMILIES["onecycle"]
    opt = use_tensor_lr(make_optimizer(groups=2))
    tensors = [g["lr"] for g in opt.param_groups]
    sched = Scheduler(opt, s, scales=[1.0, 0.5])
    for t in range(35):
        assert opt.param_groups[0]["lr"] is tensors[0] and opt.param_groups[1]["lr"] is tensors[1]
        assert tensors[0].item() == pytest.approx(s(t), rel=1e-6)  # float32 storage
        assert tensors[1].item() == pytest.approx(0.5 * s(t), rel=1e-6)
        opt.step()
        sched.step()


def test_device_lr_matches_the_schedule_in_eager_mode():
    s = FAMILIES["sgdr"]
    opt = use_tensor_lr(make_optimizer(), dtype=torch.float64)
    device_lr = DeviceLR(opt, s)
    for t in range(60):
        device_lr.apply()
        assert opt.param_groups[0]["lr"].item() == pytest.approx(s(t), rel=1e-14, abs=0)
        opt.step()
    assert int(device_lr.step) == 60


# --- bad input ---------------------------------------------------------------------------


def snapshot(opt):
    return [{k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in g.items() if k != "params"}
            for g in opt.param_groups]


def test_bad_optimizer_and_schedule_are_clear_errors():
    with pytest.raises(ValueError, match=r"optimizer must be a torch\.optim\.Optimizer"):
        Scheduler(object(), lrlab.constant(0.1))
    opt = make_optimizer()
    opt.param_groups.clear()
    with pytest.raises(ValueError, match="no param_groups"):
        Scheduler(opt, lrlab.constant(0.1))
    opt = make_optimizer()
    for bad in (lambda t: 0.1, 0.1, "cosine(1, 0, 10)"):
        with pytest.raises(ValueError, match="schedule must be an lrlab Schedule"):
            Scheduler(opt, bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scales": [1.0, 2.0]}, "scales has 2 entries for 1 param groups"),
        ({"scales": {"nope": 2.0}}, "scales names groups"),
        ({"scales": [float("nan")]}, "must be a finite number >= 0"),
        ({"schedules": ["x"]}, "schedules\\[0\\] must be an lrlab Schedule"),
    ],
)
def test_failed_construction_leaves_the_optimizer_untouched(kwargs, message):
    opt = make_optimizer(lr=0.7)
    before = snapshot(opt)
    with pytest.raises(ValueError, match=message):
        Scheduler(opt, lrlab.constant(0.1), **kwargs)
    assert snapshot(opt) == before
    assert "initial_lr" not in opt.param_groups[0]


@dataclasses.dataclass(frozen=True, repr=False)
class _Exploding(lrlab.Schedule):
    """A user's own family that breaks lrlab's rule (every value finite; lrlab's own families
    cannot be built to break it) from step 2: the scheduler is the last line of defence."""

    family: ClassVar[str] = "exploding"

    def upper_bound(self) -> float:
        return 1.0  # the lie that lets it be built

    def _eval(self, t, xp):
        return xp.where(t >= 2.0, math.inf, 1.0 + 0.0 * t)


def test_unresolved_schedule_is_refused():
    opt = make_optimizer()
    with pytest.raises(ValueError, match="resolve it first"):
        Scheduler(opt, lrlab.wsd(0.1, 100, warmup="5%"))


def test_non_finite_lr_is_refused_and_nothing_changes():
    explodes = _Exploding()  # inf from step 2
    opt = make_optimizer()
    sched = Scheduler(opt, explodes)
    opt.step()
    sched.step()
    lr_before = opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="schedule gives inf at step 2"):
        sched.step()
    assert opt.param_groups[0]["lr"] == lr_before


def test_mismatched_state_dicts_are_clear_errors_and_change_nothing():
    opt = make_optimizer(groups=2)
    sched = Scheduler(opt, lrlab.constant(0.1))
    before = snapshot(opt)
    other = Scheduler(make_optimizer(groups=1), lrlab.constant(0.1)).state_dict()
    with pytest.raises(ValueError, match="1 param groups; this optimizer has 2"):
        sched.load_state_dict(other)
    with pytest.raises(ValueError, match="not from an lrlab Scheduler"):
        sched.load_state_dict(torch.optim.lr_scheduler.StepLR(make_optimizer(), 3).state_dict())
    broken = sched.state_dict() | {"last_epoch": -4}
    with pytest.raises(ValueError, match=r"last_epoch must be an int in \[0, 2\*\*53\)"):
        sched.load_state_dict(broken)
    assert snapshot(opt) == before and sched.last_epoch == 0


def test_step_with_an_epoch_is_refused():
    opt = make_optimizer()
    sched = Scheduler(opt, lrlab.constant(0.1))
    with pytest.raises(TypeError, match="takes no epoch"):
        sched.step(3)


# --- logging -------------------------------------------------------------------------------


def test_csv_logger_records_the_lr_each_update_used(tmp_path):
    s = FAMILIES["wsd"]
    path = tmp_path / "lr.csv"
    opt = make_optimizer(groups=2)
    logger = CSVLogger(path)
    used = run(opt, Scheduler(opt, s, scales=[1.0, 0.5], loggers=[logger]), 12)
    logger.close()
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["step", "lr_0", "lr_1"]
    assert [(int(r[0]), float(r[1]), float(r[2])) for r in rows[1:]] == [
        (t, u[0], u[1]) for t, u in enumerate(used)
    ]
    # a resumed run appends to the same file without a second header
    logger = CSVLogger(path)
    logger(12, [0.5, 0.25])
    logger.close()
    rows = list(csv.reader(path.open()))
    assert rows[-1] == ["12", "0.5", "0.25"] and sum(r[0] == "step" for r in rows) == 1


def test_tensorboard_logger_writes_the_used_lr(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    s = FAMILIES["onecycle"]
    writer = SummaryWriter(log_dir=str(tmp_path))
    opt = make_optimizer()
    used = run(opt, Scheduler(opt, s, loggers=[TensorBoardLogger(writer)]), 20)
    writer.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    logged = [(e.step, e.value) for e in events.Scalars("lr")]
    assert [step for step, _ in logged] == list(range(20))
    assert [v for _, v in logged] == pytest.approx([u[0] for u in used], rel=1e-6)  # float32 events


# --- param groups and clipping -------------------------------------------------------------------


class TinyGPT(torch.nn.Module):
    def __init__(self, tie: bool = True):
        super().__init__()
        self.wte = torch.nn.Embedding(11, 8)
        self.ln = torch.nn.LayerNorm(8)
        self.attn = torch.nn.Linear(8, 24)
        self.head = torch.nn.Linear(8, 11, bias=False)
        if tie:
            self.head.weight = self.wte.weight


def test_param_groups_follow_the_nanogpt_rule():
    groups = param_groups(TinyGPT(), weight_decay=0.1)
    assert groups.names == [["wte.weight", "attn.weight"], ["ln.weight", "ln.bias", "attn.bias"]]
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert sum(p.numel() for g in groups for p in g["params"]) == 11 * 8 + 8 + 8 + 8 * 24 + 24
    summary = groups.summary()
    assert "decay: weight_decay=0.1, 2 tensors, 280 parameters" in summary
    assert "no_decay: weight_decay=0, 3 tensors, 40 parameters" in summary
    no_embed = param_groups(TinyGPT(), decay_embeddings=False, exclude=("attn",))
    assert no_embed.names == [[], ["wte.weight", "ln.weight", "ln.bias", "attn.weight", "attn.bias"]]


def test_make_adamw_is_ready_to_train_and_not_fused_on_cpu():
    opt = make_adamw(TinyGPT(tie=False), lr=6e-4)
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.defaults["betas"] == (0.9, 0.95) and not opt.defaults["fused"]
    assert [g["name"] for g in opt.param_groups] == ["decay", "no_decay"]
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        param_groups(TinyGPT(), weight_decay=-1)


def grads(*values):
    params = []
    for v in values:
        p = torch.nn.Parameter(torch.zeros(len(v)))
        p.grad = torch.tensor(v, dtype=torch.float32)
        params.append(p)
    return params


def test_clip_reports_the_pre_clip_norm_and_whether_it_clipped():
    params = grads([3.0, 0.0], [0.0, 4.0])  # total norm 5
    result = clip_grad_norm(params, max_norm=1.0)
    assert result.total_norm == pytest.approx(5.0) and result.clipped and result.finite
    clipped_norm = math.sqrt(sum(float((p.grad**2).sum()) for p in params))
    assert clipped_norm == pytest.approx(1.0, rel=1e-5)
    params = grads([0.3, 0.4])
    result = clip_grad_norm(params, max_norm=1.0)
    assert result.total_norm == pytest.approx(0.5) and not result.clipped
    assert params[0].grad.tolist() == pytest.approx([0.3, 0.4])
    with pytest.raises(ValueError, match="max_norm must be a positive finite number"):
        clip_grad_norm(params, 0.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_gradients_skip_the_update(bad):
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)
    before = [p.detach().clone() for p in model.parameters()]
    model(torch.tensor([[1.0, bad, 2.0]])).sum().backward()
    result = clipped_step(opt, max_norm=1.0)
    assert result.skip and not result.finite
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(float(p.grad.abs().sum()) == 0.0 for p in model.parameters())
    model(torch.tensor([[1.0, 1.0, 2.0]])).sum().backward()  # a good step still goes through
    assert not clipped_step(opt, max_norm=1.0).skip
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


# --- param groups with different LRs ---------------------------------------------------------


def two_lr_optimizer(body: float = 1e-4, head: float = 1e-3, cls=torch.optim.SGD, **extra):
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3)) for _ in range(2)]
    return cls([{"params": [params[0]], "lr": body, "name": "body"},
                {"params": [params[1]], "lr": head, "name": "head"}], **extra)


def full_state(opt, sched):
    """Everything a failing call could change: the scheduler's attributes (deep-copied) and
    every param group entry (tensors cloned)."""
    import copy

    def plain(v):
        if isinstance(v, torch.Tensor):
            return ("tensor", v.dtype, v.detach().clone().tolist())
        if isinstance(v, (list, tuple)):
            return type(v)(plain(x) for x in v)
        return v

    groups = [{k: plain(v) for k, v in g.items() if k != "params"} for g in opt.param_groups]
    attrs = {k: copy.deepcopy(v) for k, v in vars(sched).items()
             if k not in ("optimizer", "_plan", "loggers", "schedules", "schedule", "step")}
    plan = {key: (list(k.schedules), list(k.scales)) for key, k in sched._plan.keys.items()}
    plan["step"] = sched.step.__func__  # the step bound for the plan (written out or the class's)
    return groups, attrs, plan, sched.state_dict(), opt.state_dict()["state"].keys()


def test_different_group_lrs_without_a_mode_is_an_error_naming_the_options():
    opt = two_lr_optimizer()
    before = snapshot(opt)
    with pytest.raises(ValueError) as caught:
        Scheduler(opt, lrlab.cosine(1e-3, 0.0, 100))
    message = str(caught.value)
    for option in ("groups='ratio'", "groups='same'", "scales=", "schedules=", "'head'", "0.001", "0.0001"):
        assert option in message, option
    assert snapshot(opt) == before and "initial_lr" not in opt.param_groups[0]


def test_ratio_mode_keeps_the_groups_ratios_like_transformers():
    from transformers import get_cosine_schedule_with_warmup

    s = lrlab.warmup(10, lrlab.cosine(1e-4, 0.0, 90))  # drives the reference group (body)
    opt = two_lr_optimizer()
    used = run(opt, Scheduler(opt, s, groups="ratio"), 100)
    peer_opt = two_lr_optimizer()
    peer = get_cosine_schedule_with_warmup(peer_opt, 10, 100)
    theirs = run(peer_opt, peer, 100)
    assert [u[0] for u in used] == [t[0] for t in theirs] == [s(t) for t in range(100)]
    # the head follows at 10x: (1e-3 / 1e-4) * s(t), vs transformers' 1e-3 * f(t): an ulp apart
    assert [u[1] for u in used] == pytest.approx([t[1] for t in theirs], rel=3e-16, abs=0)
    assert [u[1] for u in used] == [(1e-3 / 1e-4) * s(t) for t in range(100)]


def test_ratio_mode_with_another_reference_group():
    s = lrlab.cosine(1e-3, 0.0, 50)  # written for the head
    opt = two_lr_optimizer()
    used = run(opt, Scheduler(opt, s, groups="ratio", reference="head"), 50)
    assert [u[1] for u in used] == [s(t) for t in range(50)]
    assert [u[0] for u in used] == [(1e-4 / 1e-3) * s(t) for t in range(50)]
    with pytest.raises(ValueError, match="reference names group 'nope'"):
        Scheduler(two_lr_optimizer(), s, groups="ratio", reference="nope")
    with pytest.raises(ValueError, match=r"reference must be a group index in \[0, 2\)"):
        Scheduler(two_lr_optimizer(), s, groups="ratio", reference=2)


def test_ratio_mode_uses_initial_lr_so_a_second_scheduler_keeps_the_ratios():
    s = lrlab.warmup(5, lrlab.constant(1e-4))  # s(0) == 0: the LRs the first one leaves are 0
    opt = two_lr_optimizer()
    Scheduler(opt, s, groups="ratio")
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]
    used = run(opt, Scheduler(opt, s, groups="ratio"), 8)
    assert used[7] == [1e-4, (1e-3 / 1e-4) * 1e-4]


def test_same_mode_overwrites_on_request_and_the_mode_is_validated():
    s = lrlab.constant(0.01)
    opt = two_lr_optimizer()
    assert run(opt, Scheduler(opt, s, groups="same"), 2) == [[0.01, 0.01]] * 2
    with pytest.raises(ValueError, match=r"groups must be 'ratio'.*or 'same'"):
        Scheduler(two_lr_optimizer(), s, groups="keep")
    with pytest.raises(ValueError, match="not both"):
        Scheduler(two_lr_optimizer(), s, groups="ratio", scales=[1.0, 2.0])


def test_ratio_mode_with_timm_lr_scale_multiplies():
    opt = two_lr_optimizer()
    opt.param_groups[1]["lr_scale"] = 0.5
    used = run(opt, Scheduler(opt, lrlab.constant(1e-4), groups="ratio"), 2)
    assert used[1] == [1e-4, (1e-3 / 1e-4) * 0.5 * 1e-4]


def test_a_group_added_later_follows_the_stated_rule():
    s = lrlab.linear(1e-4, 0.0, 40)
    opt = two_lr_optimizer()
    sched = Scheduler(opt, s, groups="ratio")
    run(opt, sched, 5)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 5e-4, "name": "new"})
    used = run(opt, sched, 10)
    # the new group's ratio comes from the LR it was added with; it is scheduled from the next step()
    assert used[0][2] == 5e-4
    assert [u[2] for u in used[1:]] == [(5e-4 / 1e-4) * s(t) for t in range(6, 15)]
    assert [u[0] for u in used] == [s(t) for t in range(5, 15)]
    assert opt.param_groups[2]["initial_lr"] == 5e-4
    assert len(sched.state_dict()["schedules"]["lr"]) == 3

    # same mode: the schedule's value times the group's lr_scale
    opt = make_optimizer(groups=1)
    sched = Scheduler(opt, s, groups="same")
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 7.0, "lr_scale": 0.5})
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == [s(1), 0.5 * s(1)]


def test_a_group_added_later_with_another_lr_and_no_mode_is_refused_at_step_and_nothing_changes():
    s = lrlab.linear(0.1, 0.0, 40)
    opt = make_optimizer(lr=0.5, groups=2)  # equal LRs: no mode needed
    sched = Scheduler(opt, s)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 0.05})
    before = full_state(opt, sched)
    with pytest.raises(ValueError, match=r"param_groups\[2\].*groups='ratio'"):
        sched.step()
    assert full_state(opt, sched) == before
    # a group added at the optimizer's own LR is scheduled like the others
    opt.param_groups.pop()
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2))]})  # defaults: lr 0.5
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == [s(1)] * 3


def test_removing_a_group_is_an_error_at_step():
    opt = make_optimizer(groups=2)
    sched = Scheduler(opt, lrlab.constant(0.1))
    opt.param_groups.pop()
    with pytest.raises(ValueError, match=r"had 2 param groups .* has 1 now"):
        sched.step()


# --- any hyperparameter ---------------------------------------------------------------------


def test_momentum_and_weight_decay_are_scheduled_every_update():
    lr, m, wd = lrlab.cosine(0.1, 0.0, 20), lrlab.linear(0.95, 0.85, 20), lrlab.linear(0.0, 0.1, 20)
    opt = make_optimizer(groups=2, momentum=0.9, weight_decay=0.01)
    sched = Scheduler(opt, {"lr": lr, "momentum": m, "weight_decay": wd})
    seen = []
    for _ in range(25):
        seen.append([(g["lr"], g["momentum"], g["weight_decay"]) for g in opt.param_groups])
        opt.step()
        sched.step()
    assert seen == [[(lr(t), m(t), wd(t))] * 2 for t in range(25)]
    assert sched.get_last_values() == {"lr": [lr(25)] * 2, "momentum": [m(25)] * 2,
                                       "weight_decay": [wd(25)] * 2}


def test_beta1_and_beta2_address_adams_betas():
    b1, b2 = lrlab.linear(0.95, 0.85, 10), lrlab.join(lrlab.constant(0.95, 6), lrlab.constant(0.99))
    torch.manual_seed(0)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.randn(3))], lr=1e-3, betas=(0.9, 0.95))
    sched = Scheduler(opt, {"lr": lrlab.constant(1e-3), "beta1": b1, "beta2": b2})
    seen = []
    for _ in range(12):
        seen.append(opt.param_groups[0]["betas"])
        opt.step()
        sched.step()
    assert seen == [(b1(t), b2(t)) for t in range(12)]
    assert all(type(b) is tuple for b in seen)


def test_only_other_keys_leave_the_lr_alone():
    opt = make_optimizer(lr=0.3, momentum=0.9)
    sched = Scheduler(opt, {"momentum": lrlab.linear(0.9, 0.5, 4)})
    used = run(opt, sched, 5)
    assert used == [[0.3]] * 5 and sched.get_last_lr() == [0.3]
    assert opt.param_groups[0]["momentum"] == 0.5


def test_weight_decay_ratio_keeps_the_no_decay_group_at_zero():
    # AdamC-style weight decay that follows the LR (Defazio 2025): wd(t) = 0.1 * lr(t) / peak
    peak = 6e-4
    lr = lrlab.warmup(5, lrlab.cosine(peak, 6e-5, 20))
    wd = lrlab.scale(lr, 0.1 / peak)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    opt = lrlab.torch.make_adamw(model, lr=peak, weight_decay=0.1)
    with pytest.raises(ValueError, match="different values of 'weight_decay'"):
        Scheduler(opt, {"lr": lr, "weight_decay": wd})
    sched = Scheduler(opt, {"lr": lr, "weight_decay": wd}, groups="ratio")
    for t in range(1, 26):
        opt.step()
        sched.step()
        assert [g["weight_decay"] for g in opt.param_groups] == [wd(t), 0.0]
        assert [g["lr"] for g in opt.param_groups] == [lr(t)] * 2


def test_tensor_hyperparameters_are_filled_in_place():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=torch.tensor(0.01),
                           betas=(torch.tensor(0.9), torch.tensor(0.99)))
    lr_t, b1_t = opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][0]
    b1 = lrlab.linear(0.9, 0.8, 10)
    sched = Scheduler(opt, {"lr": lrlab.constant(0.02), "beta1": b1})
    for t in range(1, 4):
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] is lr_t and opt.param_groups[0]["betas"][0] is b1_t
        assert b1_t.item() == pytest.approx(b1(t), rel=1e-7) and lr_t.item() == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"momentum": lrlab.linear(0.9, 1.2, 10)}, "'momentum' schedule reaches 1.2.*in \\[0, 1\\)"),
        ({"betas": lrlab.constant(0.9)}, "schedule 'beta1' and 'beta2' separately"),
        ({"params": lrlab.constant(0.9)}, "must name a param-group hyperparameter"),
        ({"beta1": lrlab.constant(0.9)}, "has no 'betas' pair"),
        ({"rho": lrlab.constant(0.9)}, "has no 'rho'.*momentum"),
        ({}, "empty mapping"),
        ({"momentum": "cosine(1, 0, 10)"}, "schedule\\['momentum'\\] must be an lrlab Schedule"),
    ],
)
def test_bad_hyperparameter_schedules_are_refused_before_anything_changes(schedule, message):
    opt = make_optimizer(lr=0.7, momentum=0.9)
    before = snapshot(opt)
    with pytest.raises(ValueError, match=message):
        Scheduler(opt, schedule)
    assert snapshot(opt) == before and "initial_lr" not in opt.param_groups[0]


def test_adam_momentum_points_to_beta1():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ValueError, match="Adam's momentum is 'beta1'"):
        Scheduler(opt, {"momentum": lrlab.constant(0.9)})
    with pytest.raises(ValueError, match=r"'beta2' schedule gives 1.0 at step 0 .*in \[0, 1\)"):
        Scheduler(opt, {"beta2": lrlab.constant(1.0)})
    assert opt.param_groups[0]["betas"] == (0.9, 0.999) and "initial_beta2" not in opt.param_groups[0]


def test_resume_is_exact_for_every_scheduled_key(tmp_path):
    plan = {"lr": lrlab.onecycle(0.1, 30), "momentum": lrlab.torch.onecycle_momentum(30),
            "weight_decay": lrlab.linear(0.0, 0.01, 30)}

    def fresh():
        opt = make_optimizer(groups=2, momentum=0.9)
        return opt, Scheduler(opt, plan)

    def values(opt):
        return [(g["lr"], g["momentum"], g["weight_decay"]) for g in opt.param_groups]

    opt, sched = fresh()
    reference = []
    for _ in range(30):
        reference.append(values(opt))
        opt.step()
        sched.step()
    opt, sched = fresh()
    got = []
    for _ in range(11):
        got.append(values(opt))
        opt.step()
        sched.step()
    torch.save({"o": opt.state_dict(), "s": sched.state_dict()}, tmp_path / "ckpt.pt")
    checkpoint = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    opt, sched = fresh()
    opt.load_state_dict(checkpoint["o"])
    sched.load_state_dict(checkpoint["s"])
    for _ in range(19):
        got.append(values(opt))
        opt.step()
        sched.step()
    assert got == reference
    assert set(checkpoint["s"]["schedules"]) == {"lr", "momentum", "weight_decay"}

    # a checkpoint without the momentum schedule is a changed schedule
    opt2 = make_optimizer(groups=2, momentum=0.9)
    other = Scheduler(opt2, {"lr": plan["lr"], "weight_decay": plan["weight_decay"]})
    with pytest.raises(ValueError, match=r"checkpoint schedules .*'momentum'.*change_schedule=True"):
        other.load_state_dict(checkpoint["s"])


def test_resume_compares_schedules_by_value_not_text():
    opt = make_optimizer()
    sched = Scheduler(opt, lrlab.cosine(1.0, 0.0, 100))
    run(opt, sched, 3)
    state = sched.state_dict()
    state["schedules"] = {"lr": ["cosine(1.0, 0.0, 100.0)"]}  # another text, the same schedule
    opt2 = make_optimizer()
    sched2 = Scheduler(opt2, lrlab.cosine(1.0, 0.0, 100))
    sched2.load_state_dict(state)
    assert sched2.last_epoch == 3 and opt2.param_groups[0]["lr"] == lrlab.cosine(1.0, 0.0, 100)(3)


def test_a_version_1_state_dict_still_loads():
    s = lrlab.cosine(1.0, 0.0, 100)
    opt = make_optimizer(groups=2)
    sched = Scheduler(opt, s, scales=[1.0, 0.5])
    old = {"lrlab_version": 1, "last_epoch": 7, "step_count": 8,
           "schedules": [str(s), str(lrlab.scale(s, 0.5))], "history": []}
    sched.load_state_dict(old)
    assert [g["lr"] for g in opt.param_groups] == [s(7), 0.5 * s(7)]


# --- loggers for every key ---------------------------------------------------------------


def test_loggers_get_every_key_when_they_take_three_arguments(tmp_path):
    lr, m = lrlab.cosine(0.1, 0.0, 10), lrlab.linear(0.9, 0.8, 10)
    two, three = [], []
    path = tmp_path / "values.csv"
    csv_logger = CSVLogger(path)
    opt = make_optimizer(groups=2, momentum=0.9)
    sched = Scheduler(opt, {"lr": lr, "momentum": m}, loggers=[
        lambda t, lrs: two.append((t, lrs)), lambda t, lrs, values: three.append((t, values)), csv_logger])
    run(opt, sched, 4)
    csv_logger.close()
    assert two == [(t, [lr(t)] * 2) for t in range(4)]
    assert three == [(t, {"lr": [lr(t)] * 2, "momentum": [m(t)] * 2}) for t in range(4)]
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["step", "lr_0", "lr_1", "momentum_0", "momentum_1"]
    assert [[float(x) for x in r] for r in rows[1:]] == [[t, lr(t), lr(t), m(t), m(t)] for t in range(4)]


def test_tensorboard_logger_writes_every_key(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    m = lrlab.linear(0.9, 0.8, 10)
    writer = SummaryWriter(log_dir=str(tmp_path))
    opt = make_optimizer(momentum=0.9)
    run(opt, Scheduler(opt, {"lr": lrlab.constant(0.1), "momentum": m},
                       loggers=[TensorBoardLogger(writer)]), 5)
    writer.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [e.value for e in events.Scalars("momentum")] == pytest.approx([m(t) for t in range(5)], rel=1e-6)
    assert [e.step for e in events.Scalars("lr")] == list(range(5))


# --- lengths from a budget ---------------------------------------------------------------------


def test_budget_resolves_unit_lengths_in_every_schedule():
    budget = lrlab.Budget(200, steps_per_epoch=50)
    s = lrlab.warmup("5%", lrlab.cosine(0.1, 0.0, "95%"))
    m = lrlab.linear(0.9, 0.8, "2ep")
    opt = make_optimizer(momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # 100 != 200: warns, so catch it below
        with pytest.warns(UserWarning, match="'momentum' schedule ends at step 100 but the run has 200"):
            sched = Scheduler(opt, {"lr": s, "momentum": m}, budget=budget)
    expected_lr = lrlab.warmup(10, lrlab.cosine(0.1, 0.0, 190))
    expected_m = lrlab.linear(0.9, 0.8, 100)
    seen = []
    for _ in range(200):
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        opt.step()
        sched.step()
    assert seen == [(expected_lr(t), expected_m(t)) for t in range(200)]


def test_budget_length_check_accepts_the_two_conventions_and_warns_otherwise():
    opt = make_optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Scheduler(opt, lrlab.cosine(0.1, 0.0, 100), budget=lrlab.Budget(100))  # transformers: ends at T
        Scheduler(opt, lrlab.onecycle(0.1, 100), budget=lrlab.Budget(100))  # torch: ends at T - 1
        Scheduler(opt, lrlab.inverse_sqrt(0.1, 10), budget=lrlab.Budget(100))  # endless
    with pytest.warns(UserWarning, match="ends at step 300 but the run has 100 updates: the run stops"):
        Scheduler(opt, lrlab.cosine(0.1, 0.0, 300), budget=lrlab.Budget(100))
    with pytest.raises(ValueError, match="is in epochs: give Budget"):
        Scheduler(opt, lrlab.cosine(0.1, 0.0, "2ep"), budget=lrlab.Budget(100))
    with pytest.raises(ValueError, match=r"budget must be an lrlab.Budget"):
        Scheduler(opt, lrlab.cosine(0.1, 0.0, "2ep"), budget=100)


# --- failures change nothing ---------------------------------------------------------------------


def test_failing_step_changes_nothing():
    explodes = _Exploding()  # inf from step 2
    for plan in (explodes, {"lr": explodes, "momentum": lrlab.constant(0.9)}):
        opt = make_optimizer(groups=2, momentum=0.9)
        sched = Scheduler(opt, plan)
        opt.step()
        sched.step()
        before = full_state(opt, sched)
        with pytest.raises(ValueError, match="schedule gives inf at step 2"):
            sched.step()
        assert full_state(opt, sched) == before
        assert sched.last_epoch == 1 and sched._step_count == 2


def test_momentum_out_of_range_mid_run_fails_the_step_and_changes_nothing():
    # a piecewise that the construction check's peak search sees as fine up to its horizon
    # cannot be written (piecewise holds its last value), so test the step check directly
    # through a hyperparameter without a range check at construction: dampening in [0, 1]
    opt = make_optimizer(momentum=0.9, dampening=0.0)
    with pytest.raises(ValueError, match=r"'dampening' schedule reaches 1.5"):
        Scheduler(opt, {"dampening": lrlab.linear(0.0, 1.5, 10)})
    assert opt.param_groups[0]["dampening"] == 0.0


def test_failing_load_state_dict_changes_nothing():
    opt = make_optimizer(groups=2, momentum=0.9)
    sched = Scheduler(opt, {"lr": lrlab.cosine(0.1, 0.0, 50), "momentum": lrlab.linear(0.9, 0.8, 50)})
    run(opt, sched, 3)
    good = sched.state_dict()
    bad_states = {
        "step_count": good | {"step_count": "x"},
        "huge last_epoch": good | {"last_epoch": 10**400},
        "negative": good | {"last_epoch": -4},
        "missing step_count": {k: v for k, v in good.items() if k != "step_count"},
        "missing schedules": {k: v for k, v in good.items() if k != "schedules"},
        "missing last_epoch": {k: v for k, v in good.items() if k != "last_epoch"},
        "bad text": good | {"schedules": {"lr": ["nope(", "nope("],
                                          "momentum": good["schedules"]["momentum"]}},
        "groups": good | {"schedules": {"lr": good["schedules"]["lr"][:1],
                                        "momentum": good["schedules"]["momentum"][:1]},
                          "scales": {"lr": [1.0], "momentum": [1.0]}},
        "history": good | {"history": "x"},
        "inf step": good | {"last_epoch": 2**60},
    }
    before = full_state(opt, sched)
    messages = {}
    for name, state in bad_states.items():
        with pytest.raises(ValueError) as caught:
            sched.load_state_dict(state)
        messages[name] = str(caught.value)
        assert full_state(opt, sched) == before, name
    assert "'step_count'" in messages["missing step_count"]
    assert "'schedules'" in messages["missing schedules"]
    assert "'last_epoch'" in messages["missing last_epoch"]
    assert "last_epoch must be an int in [0, 2**53)" in messages["huge last_epoch"]
    assert "an int of 401 digits" in messages["huge last_epoch"]
    assert "step_count must be an int" in messages["step_count"]
    assert "schedules['lr'][0] is not a schedule" in messages["bad text"]


def test_integer_and_bool_tensor_lrs_are_refused():
    for lr in (torch.tensor(1), torch.tensor(True), torch.tensor([0.1, 0.2])):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
        opt.param_groups[0]["lr"] = lr
        with pytest.raises(ValueError, match="must be a float or a one-element floating-point tensor"):
            Scheduler(opt, lrlab.cosine(1.0, 0.0, 10))
        assert opt.param_groups[0]["lr"] is lr and "initial_lr" not in opt.param_groups[0]
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    opt.param_groups[0]["lr"] = torch.tensor(1)
    with pytest.raises(ValueError, match="integer tensor truncates every LR"):
        use_tensor_lr(opt)


def test_lrs_turned_into_tensors_after_construction_are_filled_in_place():
    s = lrlab.cosine(1.0, 0.0, 10)
    opt = make_optimizer(groups=2)
    sched = Scheduler(opt, s)
    use_tensor_lr(opt, dtype=torch.float64)
    tensors = [g["lr"] for g in opt.param_groups]
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == tensors and [float(x) for x in tensors] == [s(1)] * 2


def test_ratio_mode_logs_each_group_and_fills_tensors_made_later():
    s = lrlab.cosine(1e-4, 0.0, 10)
    logged = []
    opt = two_lr_optimizer(momentum=0.9)
    sched = Scheduler(opt, {"lr": s, "momentum": lrlab.constant(0.9)}, groups="ratio",
                      loggers=[lambda t, lrs, values: logged.append((t, values))])
    opt.step()
    sched.step()
    use_tensor_lr(opt, dtype=torch.float64)
    tensors = [g["lr"] for g in opt.param_groups]
    opt.step()
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == tensors
    assert [float(x) for x in tensors] == [s(2), (1e-3 / 1e-4) * s(2)]
    assert logged == [(t, {"lr": [s(t), (1e-3 / 1e-4) * s(t)], "momentum": [0.9, 0.9]}) for t in range(2)]
    assert sched.get_last_lr() == [s(2), (1e-3 / 1e-4) * s(2)]


def test_get_lr_and_last_values_agree_with_the_groups():
    s, m = lrlab.linear(0.1, 0.0, 10), lrlab.linear(0.9, 0.5, 10)
    opt = make_optimizer(groups=3, momentum=0.9)
    sched = Scheduler(opt, {"lr": s, "momentum": m})
    run(opt, sched, 4)
    assert sched.get_lr() == sched.get_last_lr() == [g["lr"] for g in opt.param_groups] == [s(4)] * 3
    assert sched.get_last_values() == {"lr": [s(4)] * 3, "momentum": [m(4)] * 3}
    assert sched.group_schedules == [s] * 3


def test_loggers_must_be_callable():
    opt = make_optimizer()
    with pytest.raises(ValueError, match=r"loggers\[1\] must be callable"):
        Scheduler(opt, lrlab.constant(0.1), loggers=[print, "lr.csv"])


def test_a_scheduler_pickles_and_copies_with_every_key():
    import copy
    import pickle

    s, m = lrlab.linear(0.1, 0.0, 10), lrlab.linear(0.9, 0.5, 10)
    opt = make_optimizer(groups=2, momentum=0.9)
    sched = Scheduler(opt, {"lr": s, "momentum": m})
    run(opt, sched, 3)
    for clone in (pickle.loads(pickle.dumps(sched)), copy.deepcopy(sched)):
        clone.optimizer.step()
        clone.step()
        assert [(g["lr"], g["momentum"]) for g in clone.optimizer.param_groups] == [(s(4), m(4))] * 2
    assert [(g["lr"], g["momentum"]) for g in opt.param_groups] == [(s(3), m(3))] * 2


def test_every_path_of_step_refuses_an_epoch_and_adopts_new_groups():
    s, m = lrlab.linear(0.1, 0.0, 10), lrlab.linear(0.9, 0.5, 10)
    for plan in (s, {"lr": s, "momentum": m}, {"lr": s, "momentum": m, "weight_decay": lrlab.constant(0.0)}):
        opt = make_optimizer(groups=2, momentum=0.9)
        sched = Scheduler(opt, plan, scales=[1.0, 0.5] if plan is not s else None)
        with pytest.raises(TypeError, match="takes no epoch"):
            sched.step(3)
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2))], "momentum": 0.9,
                             "lr_scale": 0.25})
        opt.step()
        sched.step()
        assert [g["lr"] for g in opt.param_groups][2] == 0.25 * s(1)
        if plan is not s:
            assert [g["momentum"] for g in opt.param_groups] == [m(1)] * 3
        sched.step()
        assert sched.get_last_lr()[2] == 0.25 * s(2) and sched.last_epoch == 2


def test_step_with_several_keys_runs_eagerly_inside_a_compiled_function():
    from torch._dynamo.utils import counters

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    lr, m = lrlab.onecycle(0.1, 50), lrlab.torch.onecycle_momentum(50)
    sched = Scheduler(opt, {"lr": lr, "momentum": m})
    x = torch.randn(8, 4)

    @torch.compile
    def train_step():
        model(x).pow(2).mean().backward()
        sched.step()

    before = counters["stats"]["unique_graphs"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(10):
            train_step()
    assert sched.last_epoch == 10
    assert (opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]) == (lr(10), m(10))
    assert counters["stats"]["unique_graphs"] - before == 1  # the values are never baked in


def test_ratio_mode_refuses_a_reference_at_zero_and_bad_references():
    opt = two_lr_optimizer(body=0.0, head=1e-3)
    with pytest.raises(ValueError, match=r"reference group whose initial 'lr' is not 0.*reference="):
        Scheduler(opt, lrlab.constant(1e-3), groups="ratio")
    Scheduler(opt, lrlab.constant(1e-3), groups="ratio", reference="head")  # the head drives
    assert [g["lr"] for g in opt.param_groups] == [0.0, 1e-3]
    for bad in (True, -1, 1.0, None):
        with pytest.raises(ValueError, match="reference must be a group index"):
            Scheduler(two_lr_optimizer(), lrlab.constant(1e-3), groups="ratio", reference=bad)
