"""identify() on logs made by the real peers: every logged LR reproduced.

Each log is generated here by the peer itself (torch.optim.lr_scheduler, transformers,
timm; nanoGPT's get_lr from tests/peers.py), the way a training loop would log it: the
LR each update used. identify() must return a spec whose values match every logged LR
to 1e-11 relative (the peers are float64 and exact; 1e-11 allows the rounding their own
formulas carry, see docs/conventions.md), and to 1% when the log is sparse, rounded or
noisy.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrlab
from lrlab.fit import identify
from peers import nanogpt_get_lr, torch_lrs

pytest.importorskip("scipy")
torch = pytest.importorskip("torch")

EXACT = 1e-11


def _worst(spec: str, steps: np.ndarray, logged: np.ndarray) -> float:
    ours = lrlab.parse(spec).values(steps)
    return float(np.max(np.abs(ours - logged) / np.maximum(np.abs(logged), 1e-300)))


def _check(logged: np.ndarray, family: str | tuple[str, ...], steps: np.ndarray | None = None,
           tol: float = EXACT) -> str:
    steps = np.arange(logged.size) if steps is None else steps
    result = identify((steps, logged))
    families = (family,) if isinstance(family, str) else family
    assert result.family in families, f"{result.family}: {result.spec}"
    worst = _worst(result.spec, steps, logged)
    assert worst <= tol, f"{result.spec}: worst relative error {worst:.3g}"
    return result.spec


# --- torch.optim.lr_scheduler ------------------------------------------------------------


def test_torch_onecycle():
    sched = torch.optim.lr_scheduler
    logged = torch_lrs(lambda o: sched.OneCycleLR(o, max_lr=0.01, total_steps=1000), 1000)
    assert _check(logged, "onecycle") == "onecycle(0.01, 1000)"


@pytest.mark.slow
def test_torch_onecycle_linear_anneal():
    sched = torch.optim.lr_scheduler
    logged = torch_lrs(lambda o: sched.OneCycleLR(o, max_lr=0.3, total_steps=800, pct_start=0.25,
                                                  anneal_strategy="linear", div_factor=10.0), 800)
    # with a linear anneal, 1cycle is a linear warmup then a linear decay: the same function
    # as warmup(199, linear(0.3, 3e-06, 600), start_factor=0.1), so either answer is right
    _check(logged, ("onecycle", "linear"))


def test_torch_cosine_warm_restarts():
    sched = torch.optim.lr_scheduler
    logged = torch_lrs(lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=50, T_mult=2, eta_min=1e-5),
                       700, lr=0.1)
    assert _check(logged, "sgdr") == "sgdr(0.1, 50, mult=2.0, floor=1e-05)"


def test_torch_multistep():
    sched = torch.optim.lr_scheduler
    logged = torch_lrs(lambda o: sched.MultiStepLR(o, milestones=[300, 650, 800], gamma=0.1), 1000, lr=0.1)
    assert _check(logged, "multistep") == "multistep(0.1, [300, 650, 800], gamma=0.1)"


def test_torch_multistep_sparse_and_rounded():
    sched = torch.optim.lr_scheduler
    logged = torch_lrs(lambda o: sched.MultiStepLR(o, milestones=[30, 80], gamma=0.2), 100, lr=0.05)
    steps = np.arange(0, 100, 5)
    rounded = np.array([float(f"{v:.3g}") for v in logged[steps]])
    _check(rounded, "multistep", steps, tol=0.01)


# --- transformers ------------------------------------------------------------------------


def _hf(name: str, *args, **kwargs):
    transformers = pytest.importorskip("transformers")
    return lambda opt: getattr(transformers, name)(opt, *args, **kwargs)


def test_transformers_cosine_with_warmup():
    logged = torch_lrs(_hf("get_cosine_schedule_with_warmup", 100, 2000), 2000, lr=3e-4)
    assert _check(logged, "cosine") == "warmup(100, cosine(0.0003, 0.0, 1900))"


@pytest.mark.slow
def test_transformers_cosine_sparse_noisy():
    logged = torch_lrs(_hf("get_cosine_schedule_with_warmup", 300, 6000), 6000, lr=1e-3)
    steps = np.arange(0, 6000, 20)
    rng = np.random.default_rng(0)
    # a logger printing 4 digits, with a tiny multiplicative jitter
    jitter = 1 + 1e-3 * rng.standard_normal(steps.size)
    noisy = np.array([float(f"{v:.4g}") for v in logged[steps] * jitter])
    spec = _check(noisy, "cosine", steps, tol=0.01)
    # and the identified schedule is within 1% of the true one at every step, logged or not
    every = np.arange(6000)
    assert _worst(spec, every[300:5900], logged[300:5900]) < 0.01


def test_transformers_wsd():
    logged = torch_lrs(_hf("get_wsd_schedule", 100, 400, num_training_steps=2000), 2000, lr=3e-4)
    assert _check(logged, "wsd") == "wsd(0.0003, 2000, warmup=100, cooldown=400, shape='cosine')"


@pytest.mark.slow
def test_transformers_wsd_one_minus_sqrt_with_min_lr():
    logged = torch_lrs(_hf("get_wsd_schedule", 100, 400, num_training_steps=2000, decay_type="1-sqrt",
                           min_lr_ratio=0.1), 2000, lr=3e-4)
    _check(logged, "wsd")


@pytest.mark.slow
def test_transformers_wsd_cosine_warmup():
    logged = torch_lrs(_hf("get_wsd_schedule", 100, 400, num_training_steps=2000, warmup_type="cosine"),
                       2000, lr=3e-4)
    spec = _check(logged, "wsd")
    assert "warmup_shape='cosine'" in spec


# --- nanoGPT ----------------------------------------------------------------------------------


def test_nanogpt_get_lr():
    steps = np.arange(2200)
    logged = np.array([nanogpt_get_lr(int(t), learning_rate=6e-4, min_lr=6e-5, warmup_iters=100,
                                      lr_decay_iters=2000) for t in steps])
    spec = _check(logged, "cosine")
    assert spec.startswith("warmup(100, cosine(0.0006, 6e-05, 1900)")


# --- timm -------------------------------------------------------------------------------------


def _timm_cosine_class():
    """timm's CosineLRScheduler, the real class (``tests/peers.py`` imports ``timm.scheduler``
    without timm's ``__init__``, which needs torchvision)."""
    from peers import timm_scheduler

    return timm_scheduler().CosineLRScheduler


def _timm_lrs(steps: int, lr: float, **kwargs) -> np.ndarray:
    """timm's LR per update: ``step_update(t)`` before update ``t`` (``t_in_epochs=False``)."""
    scheduler_class = _timm_cosine_class()
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=lr)
    scheduler = scheduler_class(optimizer, t_in_epochs=False, **kwargs)
    out = np.empty(steps)
    for t in range(steps):
        scheduler.step_update(t)
        out[t] = optimizer.param_groups[0]["lr"]
    return out


def test_timm_cosine_with_warmup_prefix():
    logged = _timm_lrs(1100, 1e-3, t_initial=1000, lr_min=1e-5, warmup_t=50, warmup_lr_init=1e-6,
                       warmup_prefix=True)
    assert _check(logged, "cosine") == "warmup(50, cosine(0.001, 1e-05, 1000), start_factor=0.001)"


def test_timm_cosine_cycles_with_decay():
    logged = _timm_lrs(800, 1e-3, t_initial=200, lr_min=1e-5, cycle_limit=3, cycle_decay=0.5)
    assert _check(logged, "sgdr") == "sgdr(0.001, 200, floor=1e-05, decay=0.5, cycles=3)"


def test_timm_cosine_with_overlaid_warmup_within_one_percent():
    # timm's default (no warmup_prefix): the warmup overrides the cosine's first steps,
    # which runs on the absolute step. lrlab has no time shift yet, so the best spec is a
    # factor on the cosine; exact after the warmup, within 1% during it.
    logged = _timm_lrs(1000, 1e-3, t_initial=1000, lr_min=1e-5, warmup_t=50, warmup_lr_init=1e-6)
    spec = _check(logged, "cosine", tol=0.01)
    steps = np.arange(50, 1000)
    assert _worst(spec, steps, logged[50:]) < 1e-9
