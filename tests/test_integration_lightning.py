"""lrlab.torch.Scheduler inside ``lightning.Trainer`` (CPU, tiny).

Lightning's automatic optimization runs ``optimizer.step()`` and then, for a scheduler with
``"interval": "step"``, ``scheduler.step()`` once per update: update ``t`` must use ``s(t)``.
"""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning")

from torch import nn  # noqa: E402

import lrlab  # noqa: E402
from lrlab.torch import Scheduler, lightning_budget  # noqa: E402

MAX_STEPS = 30
SCHEDULE = lrlab.warmup(5, lrlab.cosine(1e-2, 1e-4, 20))


def _loader(n: int = 64, batch: int = 8):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch)


class Module(L.LightningModule):
    def __init__(self, schedule, *, groups: bool = False) -> None:
        super().__init__()
        self.schedule = schedule
        self.groups = groups
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        self.lrs: list[tuple[int, list[float]]] = []
        self.sched: Scheduler | None = None

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.net(x).squeeze(-1), y)

    def on_train_batch_start(self, batch, batch_idx):
        opt = self.optimizers().optimizer  # the torch optimizer behind Lightning's wrapper
        self.lrs.append((self.global_step, [g["lr"] for g in opt.param_groups]))

    def configure_optimizers(self):
        if self.groups:
            params = [{"params": self.net[0].parameters(), "name": "body"},
                      {"params": self.net[2].parameters(), "name": "head"}]
            opt = torch.optim.SGD(params, lr=1.0, momentum=0.9)
            self.sched = Scheduler(opt, self.schedule, scales={"head": 0.1})
        else:
            opt = torch.optim.AdamW(self.parameters(), lr=1.0)
            self.sched = Scheduler(opt, self.schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.sched, "interval": "step"}}


def _fit(module: Module, **overrides):
    kwargs = dict(max_steps=MAX_STEPS, accelerator="cpu", devices=1, logger=False,
                  enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    kwargs.update(overrides)
    trainer = L.Trainer(**kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(module, _loader())
    return trainer, caught


def _order_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught
            if "lr_scheduler.step()" in str(w.message) or "optimizer.step()" in str(w.message)]


def test_lightning_uses_s_t_at_every_update():
    L.seed_everything(0, verbose=False)
    module = Module(SCHEDULE)
    trainer, caught = _fit(module)
    assert module.lrs == [(t, [SCHEDULE(t)]) for t in range(MAX_STEPS)]
    assert trainer.global_step == MAX_STEPS
    assert module.sched.last_epoch == MAX_STEPS
    assert module.sched.get_last_lr() == [SCHEDULE(MAX_STEPS)]
    assert not _order_warnings(caught), _order_warnings(caught)


def test_lightning_per_group_scales():
    L.seed_everything(0, verbose=False)
    module = Module(SCHEDULE, groups=True)
    _, caught = _fit(module)
    assert module.lrs == [(t, [SCHEDULE(t), 0.1 * SCHEDULE(t)]) for t in range(MAX_STEPS)]
    assert module.sched.last_epoch == MAX_STEPS
    assert not _order_warnings(caught), _order_warnings(caught)


def test_lightning_gradient_accumulation_steps_once_per_update():
    # two batches per update: on_train_batch_start sees each LR twice, at the same global_step
    L.seed_everything(0, verbose=False)
    module = Module(SCHEDULE)
    _, caught = _fit(module, max_steps=12, accumulate_grad_batches=2)
    assert module.lrs == [(t, [SCHEDULE(t)]) for t in range(12) for _ in range(2)]
    assert module.sched.last_epoch == 12
    assert not _order_warnings(caught), _order_warnings(caught)


# --- lengths from the Trainer: lrlab.torch.lightning_budget -------------------------------


class BudgetModule(Module):
    """Builds its Scheduler from the run's budget, in configure_optimizers."""

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=1.0, momentum=0.9)
        self.budget = lightning_budget(self.trainer)
        self.sched = Scheduler(opt, self.schedule, budget=self.budget)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.sched, "interval": "step"}}


def test_lightning_budget_from_max_steps():
    L.seed_everything(0, verbose=False)
    module = BudgetModule({"lr": lrlab.wsd(1e-2, "100%", warmup="10%", cooldown="20%"),
                           "momentum": lrlab.linear(0.95, 0.85, "100%")})
    _, caught = _fit(module)
    lr, momentum = lrlab.wsd(1e-2, 30, warmup=3, cooldown=6), lrlab.linear(0.95, 0.85, 30)
    assert module.budget.total_steps == 30 and module.budget.steps_per_epoch == 8  # 64 / 8 per batch
    assert module.lrs == [(t, [lr(t)]) for t in range(MAX_STEPS)]
    assert module.sched.get_last_values()["momentum"] == [momentum(MAX_STEPS)]
    assert not [w for w in caught if "schedule ends at step" in str(w.message)]
    assert not _order_warnings(caught), _order_warnings(caught)


def test_lightning_budget_from_epochs_with_gradient_accumulation():
    # 8 batches an epoch, 3 per update: ceil(8 / 3) = 3 updates an epoch; 2 epochs: 6 updates
    L.seed_everything(0, verbose=False)
    module = BudgetModule(lrlab.warmup("1ep", lrlab.cosine(1e-2, 1e-4, "1ep")))
    trainer, caught = _fit(module, max_steps=-1, max_epochs=2, accumulate_grad_batches=3)
    expected = lrlab.warmup(3, lrlab.cosine(1e-2, 1e-4, 3))
    assert module.budget.total_steps == 6 and module.budget.steps_per_epoch == 3
    assert trainer.global_step == 6 and module.sched.last_epoch == 6
    # each update's LR, seen at the first of its batches (3, 3, 2 batches per update)
    firsts = {}
    for step, lrs in module.lrs:
        firsts.setdefault(step, lrs)
    assert firsts == {t: [expected(t)] for t in range(6)}
    assert not _order_warnings(caught), _order_warnings(caught)


def test_lightning_budget_refuses_an_endless_run_and_warns_on_a_mismatch():
    class Endless:
        estimated_stepping_batches = float("inf")

    with pytest.raises(ValueError, match="no finite length"):
        lightning_budget(Endless())
    with pytest.raises(ValueError, match="must be a Lightning Trainer"):
        lightning_budget(object())
    L.seed_everything(0, verbose=False)
    module = BudgetModule(lrlab.cosine(1e-2, 0.0, 12))
    _, caught = _fit(module)
    assert [str(w.message) for w in caught if "schedule ends at step" in str(w.message)] == [
        "the 'lr' schedule ends at step 12 but the run has 30 updates: it holds its final value 0.0 "
        "for the last 18 updates"]
