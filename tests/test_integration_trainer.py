"""lrlab.torch.Scheduler inside the Hugging Face ``Trainer`` (transformers 5, CPU, tiny).

The Trainer's order per update: ``optimizer.step()``, read ``get_last_lr()`` (logged as
``learning_rate`` at the new ``global_step``), ``lr_scheduler.step()``, ``global_step += 1``.
So update ``t`` (``state.global_step == t`` when it begins) must use ``s(t)``, and the log
entry at ``step == g`` carries ``s(g - 1)``.
"""

from __future__ import annotations

import os
import warnings

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from torch import nn  # noqa: E402
from transformers import Trainer, TrainerCallback, TrainingArguments  # noqa: E402

import lrlab  # noqa: E402
from lrlab.torch import Scheduler, make_adamw  # noqa: E402

MAX_STEPS = 30
SCHEDULE = lrlab.warmup(5, lrlab.cosine(1e-2, 1e-4, 20))  # ends at 25, holds 1e-4 after


class TinyRegressor(nn.Module):
    """``forward(x, labels) -> {"loss": mse}``: the smallest model the Trainer accepts."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x, labels=None):
        out = self.net(x).squeeze(-1)
        loss = None if labels is None else nn.functional.mse_loss(out, labels)
        return {"loss": loss, "logits": out}


class TinyData(torch.utils.data.Dataset):
    def __init__(self, n: int = 64, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(n, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "labels": self.y[i]}


class RecordLR(TrainerCallback):
    """The LR of every param group right before each ``optimizer.step()``, by update index.
    Given a Trainer instead of an optimizer, it reads the optimizer the Trainer built."""

    def __init__(self, optimizer) -> None:
        self.source = optimizer
        self.lrs: dict[int, list[float]] = {}
        self.begin: list[tuple[int, float]] = []

    @property
    def optimizer(self):
        return self.source.optimizer if isinstance(self.source, Trainer) else self.source

    def on_step_begin(self, args, state, control, **kwargs):
        self.begin.append((state.global_step, self.optimizer.param_groups[0]["lr"]))

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        assert state.global_step not in self.lrs, "two optimizer steps at one global_step"
        self.lrs[state.global_step] = [g["lr"] for g in self.optimizer.param_groups]


def _args(tmp_path, **overrides) -> TrainingArguments:
    kwargs = dict(
        output_dir=str(tmp_path), max_steps=MAX_STEPS, per_device_train_batch_size=8,
        logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True,
        seed=0, data_seed=0, dataloader_num_workers=0,
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def _run(tmp_path, schedule=SCHEDULE, *, resume=None, model=None, optimizer=None, **overrides):
    torch.manual_seed(0)
    model = model if model is not None else TinyRegressor()
    opt = optimizer if optimizer is not None else torch.optim.AdamW(model.parameters(), lr=123.0)
    logged: list[tuple[int, list[float]]] = []
    sched = Scheduler(opt, schedule, loggers=[lambda t, lrs: logged.append((t, list(lrs)))])
    record = RecordLR(opt)
    trainer = Trainer(model=model, args=_args(tmp_path, **overrides), train_dataset=TinyData(),
                      optimizers=(opt, sched), callbacks=[record])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train(resume_from_checkpoint=resume)
    return trainer, sched, record, logged, caught


def _assert_no_order_warning(caught) -> None:
    bad = [str(w.message) for w in caught if "lr_scheduler.step()" in str(w.message)]
    assert not bad, bad


def test_trainer_uses_s_t_at_every_update(tmp_path):
    trainer, sched, record, logged, caught = _run(tmp_path)

    # the LR in the optimizer right before update t is s(t), exactly
    assert sorted(record.lrs) == list(range(MAX_STEPS))
    assert [record.lrs[t][0] for t in range(MAX_STEPS)] == [SCHEDULE(t) for t in range(MAX_STEPS)]
    # on_step_begin sees the same (one micro-batch per update here)
    assert record.begin == [(t, SCHEDULE(t)) for t in range(MAX_STEPS)]
    # the Trainer logs get_last_lr() after update g-1, at step g
    logs = [(h["step"], h["learning_rate"]) for h in trainer.state.log_history if "learning_rate" in h]
    assert logs == [(g, SCHEDULE(g - 1)) for g in range(1, MAX_STEPS + 1)]
    # the scheduler's own loggers see each update with the LR it used
    assert logged == [(t, [SCHEDULE(t)]) for t in range(MAX_STEPS)]
    # stepped once per update; the optimizer is left at the next update's LR
    assert sched.last_epoch == MAX_STEPS
    assert sched.get_last_lr() == [SCHEDULE(MAX_STEPS)]
    assert trainer.state.global_step == MAX_STEPS
    # the schedule really reached its end (warmup 0 -> 1e-2 -> cosine -> 1e-4 held)
    assert record.lrs[0] == [0.0] and record.lrs[5] == [1e-2] and record.lrs[29] == [1e-4]
    _assert_no_order_warning(caught)


def test_trainer_gradient_accumulation_steps_once_per_update(tmp_path):
    # two micro-batches of 4 per update: the LR moves once per update, not per micro-batch
    trainer, sched, record, _, caught = _run(tmp_path, gradient_accumulation_steps=2,
                                             per_device_train_batch_size=4)
    assert [record.lrs[t][0] for t in range(MAX_STEPS)] == [SCHEDULE(t) for t in range(MAX_STEPS)]
    assert record.begin == [(t, SCHEDULE(t)) for t in range(MAX_STEPS)]  # once per update
    assert trainer.state.epoch == MAX_STEPS * 8 / len(TinyData())  # 8 samples per update
    assert sched.last_epoch == trainer.state.global_step == MAX_STEPS
    _assert_no_order_warning(caught)


def test_trainer_per_group_scales_on_a_config_built_gpt2(tmp_path):
    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=32)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg)
    opt = make_adamw(model, lr=1.0, weight_decay=0.1)
    assert [g["name"] for g in opt.param_groups] == ["decay", "no_decay"]

    class Tokens(torch.utils.data.Dataset):
        ids = torch.randint(0, 50, (32, 16), generator=torch.Generator().manual_seed(1))

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            return {"input_ids": self.ids[i], "labels": self.ids[i]}

    sched = Scheduler(opt, SCHEDULE, scales={"no_decay": 0.5})
    record = RecordLR(opt)
    trainer = Trainer(model=model, args=_args(tmp_path, max_steps=12), train_dataset=Tokens(),
                      optimizers=(opt, sched), callbacks=[record])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
    assert [record.lrs[t] for t in range(12)] == [[SCHEDULE(t), 0.5 * SCHEDULE(t)] for t in range(12)]
    assert sched.last_epoch == 12
    _assert_no_order_warning(caught)


def test_trainer_checkpoint_resume_continues_the_schedule(tmp_path):
    save_at = 12
    full_dir, part_dir = tmp_path / "full", tmp_path / "part"

    # the uninterrupted run, as the reference
    full, full_sched, full_rec, _, _ = _run(full_dir)
    full_lrs = [full_rec.lrs[t][0] for t in range(MAX_STEPS)]
    assert full_lrs == [SCHEDULE(t) for t in range(MAX_STEPS)]
    assert full_sched.last_epoch == MAX_STEPS

    # a run that checkpoints every 12 updates
    _, _, first_rec, _, caught = _run(part_dir, save_strategy="steps", save_steps=save_at)
    assert [first_rec.lrs[t][0] for t in range(MAX_STEPS)] == full_lrs  # saving changes nothing
    _assert_no_order_warning(caught)
    ckpt = part_dir / f"checkpoint-{save_at}"
    assert (ckpt / "scheduler.pt").is_file()

    # what the Trainer will load: plain data under torch.load(weights_only=True)
    state = torch.load(os.fspath(ckpt / "scheduler.pt"), weights_only=True)
    assert state["last_epoch"] == save_at
    assert state["schedules"] == {"lr": [str(SCHEDULE)]}

    # a fresh model, optimizer and scheduler resumed from the checkpoint
    trainer, sched, record, logged, caught = _run(part_dir, resume=os.fspath(ckpt))
    assert sorted(record.lrs) == list(range(save_at, MAX_STEPS))
    resumed = [record.lrs[t][0] for t in range(save_at, MAX_STEPS)]
    assert resumed == full_lrs[save_at:] == [SCHEDULE(t) for t in range(save_at, MAX_STEPS)]
    assert logged == [(t, [SCHEDULE(t)]) for t in range(save_at, MAX_STEPS)]
    assert sched.last_epoch == MAX_STEPS
    logs = [(h["step"], h["learning_rate"]) for h in trainer.state.log_history if "learning_rate" in h]
    assert logs[-(MAX_STEPS - save_at):] == [(g, SCHEDULE(g - 1)) for g in range(save_at + 1, MAX_STEPS + 1)]
    _assert_no_order_warning(caught)

    # the resumed weights equal the uninterrupted run's (same data order, same LRs)
    for (name, a), b in zip(full.model.named_parameters(), trainer.model.parameters()):
        assert torch.equal(a, b), name


def test_trainer_resume_with_another_schedule_is_refused(tmp_path):
    _run(tmp_path, save_strategy="steps", save_steps=10, max_steps=10)
    other = lrlab.warmup(5, lrlab.cosine(2e-2, 1e-4, 20))
    with pytest.raises(ValueError, match="change_schedule=True"):
        _run(tmp_path, other, resume=os.fspath(tmp_path / "checkpoint-10"))


# --- lengths from the Trainer: lrlab.torch.hf.ScheduleTrainer ------------------------------


def _run_schedule_trainer(tmp_path, schedule, *, resume=None, **overrides):
    from lrlab.torch.hf import ScheduleTrainer

    torch.manual_seed(0)
    model = TinyRegressor()
    trainer = ScheduleTrainer(model=model, args=_args(tmp_path, **overrides), train_dataset=TinyData(),
                              schedule=schedule)
    record = RecordLR(trainer)  # the Trainer builds the optimizer: read it through the trainer
    trainer.add_callback(record)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train(resume_from_checkpoint=resume)
    return trainer, record, caught


def test_schedule_trainer_resolves_percent_lengths_from_max_steps(tmp_path):
    schedule = lrlab.wsd(1e-2, "100%", warmup="10%", cooldown="20%")
    trainer, record, caught = _run_schedule_trainer(tmp_path, schedule)
    expected = lrlab.wsd(1e-2, 30, warmup=3, cooldown=6)  # written out by hand for 30 updates
    assert isinstance(trainer.lr_scheduler, Scheduler)
    assert trainer.lr_scheduler.schedule == expected
    assert [record.lrs[t][0] for t in range(MAX_STEPS)] == [expected(t) for t in range(MAX_STEPS)]
    # both of the Trainer's groups (decay / no decay) follow it; it logs the LR each update used
    assert all(len(set(record.lrs[t])) == 1 for t in range(MAX_STEPS))
    logs = [(h["step"], h["learning_rate"]) for h in trainer.state.log_history if "learning_rate" in h]
    assert logs == [(g, expected(g - 1)) for g in range(1, MAX_STEPS + 1)]
    assert not [w for w in caught if "schedule ends at step" in str(w.message)]
    _assert_no_order_warning(caught)


def test_schedule_trainer_counts_epochs_with_gradient_accumulation(tmp_path):
    # 64 samples in batches of 8: 8 batches an epoch; 3 batches per update: 3 updates an
    # epoch (the last one on 2 batches, as transformers counts it); 2 epochs: 6 updates
    schedule = lrlab.warmup("1ep", lrlab.cosine(1e-2, 1e-4, "1ep"))
    trainer, record, caught = _run_schedule_trainer(
        tmp_path, schedule, max_steps=-1, num_train_epochs=2, gradient_accumulation_steps=3)
    expected = lrlab.warmup(3, lrlab.cosine(1e-2, 1e-4, 3))
    assert trainer.state.max_steps == trainer.state.global_step == 6
    assert trainer.lr_scheduler.schedule == expected
    assert [record.lrs[t][0] for t in range(6)] == [expected(t) for t in range(6)]
    assert not [w for w in caught if "schedule ends at step" in str(w.message)]
    _assert_no_order_warning(caught)


def test_schedule_trainer_warns_when_the_schedule_does_not_fit_the_run(tmp_path):
    _, record, caught = _run_schedule_trainer(tmp_path, lrlab.cosine(1e-2, 0.0, 10))
    messages = [str(w.message) for w in caught if "schedule ends at step" in str(w.message)]
    assert messages == ["the 'lr' schedule ends at step 10 but the run has 30 updates: it holds its "
                        "final value 0.0 for the last 20 updates"]
    assert record.lrs[20] == [0.0, 0.0]


def test_schedule_trainer_resume_continues_and_refuses_another_schedule(tmp_path):
    schedule = lrlab.warmup("10%", lrlab.cosine(1e-2, 1e-4, "90%"))
    expected = lrlab.warmup(3, lrlab.cosine(1e-2, 1e-4, 27))
    full, _, _ = _run_schedule_trainer(tmp_path / "full", schedule)
    _run_schedule_trainer(tmp_path / "part", schedule, save_strategy="steps", save_steps=12)
    ckpt = os.fspath(tmp_path / "part" / "checkpoint-12")
    trainer, record, caught = _run_schedule_trainer(tmp_path / "part", schedule, resume=ckpt)
    assert sorted(record.lrs) == list(range(12, MAX_STEPS))
    assert [record.lrs[t][0] for t in range(12, MAX_STEPS)] == [expected(t) for t in range(12, MAX_STEPS)]
    for (name, a), b in zip(full.model.named_parameters(), trainer.model.parameters()):
        assert torch.equal(a, b), name
    _assert_no_order_warning(caught)
    with pytest.raises(ValueError, match="change_schedule=True"):
        _run_schedule_trainer(tmp_path / "part", lrlab.warmup("10%", lrlab.cosine(2e-2, 1e-4, "90%")),
                              resume=ckpt)


def test_schedule_trainer_with_momentum_and_group_options(tmp_path):
    from lrlab.torch.hf import ScheduleTrainer

    torch.manual_seed(0)
    model = TinyRegressor()
    opt = torch.optim.SGD([{"params": model.net[0].parameters(), "lr": 1e-3},
                           {"params": model.net[2].parameters(), "lr": 1e-2}], lr=1.0, momentum=0.9)
    with pytest.raises(ValueError, match="not both"):
        ScheduleTrainer(model=model, args=_args(tmp_path), train_dataset=TinyData(),
                        optimizers=(opt, Scheduler(opt, SCHEDULE, groups="same")), schedule=SCHEDULE)
    opt = torch.optim.SGD([{"params": model.net[0].parameters(), "lr": 1e-3},
                           {"params": model.net[2].parameters(), "lr": 1e-2}], lr=1.0, momentum=0.9)
    lr = lrlab.onecycle(1e-3, "100%")
    momentum = lrlab.torch.onecycle_momentum(MAX_STEPS)
    trainer = ScheduleTrainer(model=model, args=_args(tmp_path), train_dataset=TinyData(),
                              optimizers=(opt, None), schedule={"lr": lr, "momentum": momentum},
                              scheduler_options={"groups": "ratio"})
    seen = []

    class Record(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            seen.append([(g["lr"], g["momentum"]) for g in opt.param_groups])

    trainer.add_callback(Record())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.train()
    resolved = lrlab.onecycle(1e-3, MAX_STEPS)
    assert seen == [[(resolved(t), momentum(t)), ((1e-2 / 1e-3) * resolved(t), momentum(t))]
                    for t in range(MAX_STEPS)]


def test_schedule_trainer_takes_tokens_per_step_from_the_budget(tmp_path):
    from lrlab.torch.hf import ScheduleTrainer

    schedule = lrlab.warmup("1536 tokens", lrlab.cosine(1e-2, 0.0, "100%"))
    with pytest.raises(ValueError, match="give the budget as budget="):
        ScheduleTrainer(model=TinyRegressor(), args=_args(tmp_path), train_dataset=TinyData(),
                        schedule=schedule, scheduler_options={"budget": lrlab.Budget(30)})
    torch.manual_seed(0)
    trainer = ScheduleTrainer(model=TinyRegressor(), args=_args(tmp_path), train_dataset=TinyData(),
                              schedule=schedule, budget=lrlab.Budget(tokens_per_step=512))
    record = RecordLR(trainer)
    trainer.add_callback(record)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.train()
    expected = lrlab.warmup(3, lrlab.cosine(1e-2, 0.0, 30))  # 1536 / 512 = 3 warmup steps
    assert trainer.lr_scheduler.schedule == expected
    assert [record.lrs[t][0] for t in range(MAX_STEPS)] == [expected(t) for t in range(MAX_STEPS)]
