"""Shared helpers for the conformance suite (tests/test_conformance_*.py).

Each conformance test drives a real peer (torch, transformers, optax) or a faithful
re-implementation of a published ``get_lr`` (nanoGPT, build-nanogpt) step by step, and
compares every step with the lrlab schedule that reproduces it through its parameters.

The comparison is relative: ``|ours - theirs| <= rtol * max(|ours|, |theirs|)`` with
``rtol = 1e-12`` for float64 peers. Where a peer's own formula loses digits (catastrophic
cancellation near a phase end), a test may add an absolute tolerance derived from that
peer's rounding, ``atol = k * EPS * scale``, with a comment saying which operation loses
the digits; the tolerance is never loosened otherwise.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: float64 machine epsilon (2**-52)
EPS = float(np.finfo(np.float64).eps)
#: float32 machine epsilon (2**-23)
EPS32 = float(np.finfo(np.float32).eps)

#: the relative tolerance every float64 peer is held to
RTOL = 1e-12

#: worst relative error seen per label in this process (see :func:`report`)
WORST: dict[str, float] = {}


def relative_errors(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """``|ours - theirs| / max(|ours|, |theirs|)`` per step (0 where both are 0)."""
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    scale = np.maximum(np.abs(ours), np.abs(theirs))
    diff = np.abs(ours - theirs)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)


def assert_close_rel(ours: Sequence[float] | np.ndarray, theirs: Sequence[float] | np.ndarray,
                     rtol: float = RTOL, atol: float = 0.0, label: str = "") -> float:
    """Assert ``|ours - theirs| <= rtol * max(|ours|, |theirs|) + atol`` at every step.

    On failure the message names the worst step (by excess over the bound), both values
    and their relative difference. Returns the worst relative error, which is also kept in
    :data:`WORST` under ``label``.
    """
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, f"{label}: {ours.shape} steps vs {theirs.shape} steps"
    assert np.all(np.isfinite(ours)), f"{label}: lrlab produced a non-finite value"
    assert np.all(np.isfinite(theirs)), f"{label}: the peer produced a non-finite value"
    diff = np.abs(ours - theirs)
    scale = np.maximum(np.abs(ours), np.abs(theirs))
    bound = rtol * scale + atol
    rel = relative_errors(ours, theirs)
    worst_rel = float(rel.max()) if rel.size else 0.0
    if label:
        WORST[label] = max(WORST.get(label, 0.0), worst_rel)
    excess = diff - bound
    if excess.size and excess.max() > 0:
        t = int(np.argmax(excess))
        bad = int(np.count_nonzero(excess > 0))
        raise AssertionError(
            f"{label}: {bad} of {ours.size} steps differ beyond rtol={rtol:g}, atol={atol:g}; "
            f"worst at step {t}: lrlab {ours[t]!r} vs peer {theirs[t]!r} "
            f"(abs {diff[t]:.3g}, rel {rel[t]:.3g})"
        )
    return worst_rel


def torch_lrs(make_scheduler: Callable, steps: int, lr: float = 1.0,
              optimizer_kwargs: dict | None = None) -> np.ndarray:
    """The LR a real torch scheduler gives each of ``steps`` updates.

    An SGD optimizer on one dummy parameter (with a zero gradient, so ``step()`` runs its
    update) is driven in torch's documented order: for each update read
    ``optimizer.param_groups[0]['lr']`` (the LR this update uses), ``optimizer.step()``,
    then ``scheduler.step()``. ``make_scheduler(optimizer)`` builds the scheduler.
    """
    import torch

    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    param.grad = torch.zeros_like(param)
    optimizer = torch.optim.SGD([param], lr=lr, **(optimizer_kwargs or {}))
    scheduler = make_scheduler(optimizer)
    out = np.empty(steps, dtype=np.float64)
    group = optimizer.param_groups[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any "wrong order" warning from torch is a test bug
        for t in range(steps):
            out[t] = float(group["lr"])
            optimizer.step()
            scheduler.step()
    return out


def timm_scheduler() -> Any:
    """The real ``timm.scheduler`` subpackage, imported without running ``timm/__init__.py``.

    ``import timm`` imports ``timm.layers``, ``timm.models`` and so torchvision, which is
    not installed beside the CPU build of torch (a torchvision wheel from PyPI pulls its own
    CUDA torch). ``timm.scheduler`` itself needs only torch and numpy, so a bare package
    module named ``timm`` whose ``__path__`` is the installed timm directory is put into
    ``sys.modules`` (only if ``timm`` is not imported already) and the subpackage is then
    imported as usual: the same files, the same classes. Raises ``ImportError`` (for
    ``pytest.importorskip``-style skipping) when timm is not installed.
    """
    if "timm" not in sys.modules:
        spec = importlib.util.find_spec("timm")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("timm is not installed (make dev installs it with --no-deps)")
        package = types.ModuleType("timm")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = spec.origin
        package.__spec__ = spec  # so importlib.util.find_spec("timm") keeps working
        sys.modules["timm"] = package
    return importlib.import_module("timm.scheduler")


def timm_lrs(make_scheduler: Callable, steps: int, lr: float = 1.0,
             steps_per_epoch: int | None = None) -> np.ndarray:
    """The LR a real timm scheduler gives each of ``steps`` updates, driven as timm's
    ``train.py`` drives it: the optimizer's LR is read for update ``t`` (construction sets
    the first), ``optimizer.step()``, then ``scheduler.step_update(num_updates=t + 1)``;
    at the end of each epoch of ``steps_per_epoch`` updates ``scheduler.step(epoch + 1)``
    (a ``t_in_epochs=True`` scheduler moves only there).
    """
    import torch

    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    param.grad = torch.zeros_like(param)
    optimizer = torch.optim.SGD([param], lr=lr)
    scheduler = make_scheduler(optimizer)
    group = optimizer.param_groups[0]
    out = np.empty(steps, dtype=np.float64)
    for t in range(steps):
        out[t] = float(group["lr"])
        optimizer.step()
        if steps_per_epoch and (t + 1) % steps_per_epoch == 0:
            scheduler.step((t + 1) // steps_per_epoch)
        scheduler.step_update(num_updates=t + 1)
    return out


def report() -> str:
    """A table of the worst relative error per label seen so far in this process."""
    width = max((len(k) for k in WORST), default=5)
    lines = [f"{'peer':<{width}}  worst rel. error"]
    lines += [f"{k:<{width}}  {v:.3g}" for k, v in sorted(WORST.items())]
    return "\n".join(lines)


# --- reference get_lr functions of code that is not on PyPI -------------------------------


def nanogpt_get_lr(it: int, *, learning_rate: float, min_lr: float, warmup_iters: int,
                   lr_decay_iters: int) -> float:
    """nanoGPT ``train.py`` ``get_lr``, as of karpathy/nanoGPT commit e2221318
    (https://github.com/karpathy/nanoGPT/blob/e2221318e607eb5ee0669d6b7641af25a2111545/train.py):
    warmup ``learning_rate * (it + 1) / (warmup_iters + 1)`` for ``it < warmup_iters``;
    ``min_lr`` for ``it > lr_decay_iters``; in between a cosine from ``learning_rate`` to
    ``min_lr`` over ``decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)``.
    """
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    weight = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return min_lr + weight * (learning_rate - min_lr)


def build_nanogpt_get_lr(it: int, *, max_lr: float, min_lr: float, warmup_steps: int,
                         max_steps: int) -> float:
    """build-nanogpt ``train_gpt2.py`` ``get_lr``, as of karpathy/build-nanogpt commit 01be6b35
    (https://github.com/karpathy/build-nanogpt/blob/01be6b358941cb1c7561a56353423eba1cc7fe80/train_gpt2.py;
    the final script keeps the function, with warmup_steps=715, max_steps=19073):
    warmup ``max_lr * (it + 1) / warmup_steps`` for ``it < warmup_steps`` (the peak at
    ``it = warmup_steps - 1``); ``min_lr`` for ``it > max_steps``; in between a cosine from
    ``max_lr`` to ``min_lr`` over ``(it - warmup_steps) / (max_steps - warmup_steps)``.
    """
    if it < warmup_steps:
        return max_lr * (it + 1) / warmup_steps
    if it > max_steps:
        return min_lr
    ratio = (it - warmup_steps) / (max_steps - warmup_steps)
    weight = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return min_lr + weight * (max_lr - min_lr)


def fastai_one_cycle_lrs(n_epoch: int, n_iter: int, lr_max: float, div: float = 25.0,
                         div_final: float = 1e5, pct_start: float = 0.25) -> np.ndarray:
    """The LR of each update of fastai's ``Learner.fit_one_cycle(n_epoch, lr_max)`` with
    ``n_iter`` batches per epoch, written from fastai 2.8.12's source (fastai is not a test
    dependency: importing ``fastai.callback.schedule`` pulls pandas, matplotlib, requests,
    PyYAML and scipy through ``fastai.imports``):

    * ``fit_one_cycle``: ``combined_cos(pct_start, lr_max / div, lr_max, lr_max / div_final)``;
    * ``combined_cos``: ``combine_scheds([pct, 1 - pct], [SchedCos(start, middle),
      SchedCos(middle, end)])``;
    * ``combine_scheds``: ``pcts = torch.cumsum(tensor([0, pct, 1 - pct]))`` (float32),
      ``idx = min((pos >= pcts).nonzero().max(), 1)``, ``actual_pos = (pos - pcts[idx]) /
      (pcts[idx + 1] - pcts[idx])`` (a float32 tensor, then ``.item()``);
    * ``SchedCos(start, end)(pos) = start + (1 + cos(pi * (1 - pos))) * (end - start) / 2``;
    * ``TrainEvalCallback``: ``pct_train = epoch / n_epoch`` before each epoch, read by
      ``ParamScheduler.before_batch``, then ``pct_train += 1 / (n_iter * n_epoch)`` after
      each batch (a running float sum).

    numpy float32 stands in for torch's float32 tensors (the same IEEE operations).
    """
    f32 = np.float32
    pcts = np.cumsum(np.array([0.0, pct_start, 1.0 - pct_start], dtype=f32), dtype=f32)
    levels = [(lr_max / div, lr_max), (lr_max, lr_max / div_final)]
    out = []
    for epoch in range(n_epoch):
        pct_train = epoch / n_epoch
        for _ in range(n_iter):
            pos = f32(pct_train)
            idx = min(int(np.nonzero(pos >= pcts)[0].max()), len(pcts) - 2)
            actual = float(f32(f32(pos - pcts[idx]) / f32(pcts[idx + 1] - pcts[idx])))
            start, end = levels[idx]
            out.append(start + (1 + math.cos(math.pi * (1 - actual))) * (end - start) / 2)
            pct_train += 1.0 / (n_iter * n_epoch)
    return np.array(out)
