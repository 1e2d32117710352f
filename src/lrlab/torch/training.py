"""Training-loop helpers: AdamW parameter groups, tensor LRs, device-side LRs, clipping."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.optim import Optimizer

from lrlab.schedules import Schedule, check_schedule

from ._backend import lr_tensor
from .scheduler import _check_optimizer

_EMBEDDINGS = (nn.Embedding, nn.EmbeddingBag)


class ParamGroups(list):
    """AdamW param groups (a list of dicts, ready for the optimizer) with the parameter
    names of each group kept in :attr:`names` for :meth:`summary`."""

    def __init__(self, groups: list[dict], names: list[list[str]]) -> None:
        super().__init__(groups)
        self.names = names

    def summary(self) -> str:
        """One line per group: name, weight decay, tensors, parameters, first names."""
        lines = []
        for group, names in zip(self, self.names):
            count = sum(p.numel() for p in group["params"])
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            lines.append(f"{group['name']:>8}: weight_decay={group['weight_decay']:g}, "
                         f"{len(group['params'])} tensors, {count:,} parameters ({shown})")
        return "\n".join(lines)


def param_groups(model: nn.Module, weight_decay: float = 0.1, *, decay_embeddings: bool = True,
                 exclude: Sequence[str] = ()) -> ParamGroups:
    """Split ``model``'s trainable parameters into a decayed and a non-decayed group.

    The nanoGPT rule (Karpathy, ``configure_optimizers``): tensors with ``dim >= 2`` (the
    matrices of linear and attention layers, and embeddings) decay; biases and norm weights
    (``dim < 2``) do not. ``decay_embeddings=False`` moves ``nn.Embedding`` weights to the
    non-decayed group; ``exclude`` lists substrings of parameter names that never decay.
    Tied parameters appear once.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not (
        math.isfinite(weight_decay) and weight_decay >= 0
    ):
        raise ValueError(f"weight_decay must be a finite number >= 0; got {weight_decay!r}")
    embedding_params = {
        id(p) for m in model.modules() if isinstance(m, _EMBEDDINGS) for p in m.parameters(recurse=False)
    }
    decay: list[tuple[str, nn.Parameter]] = []
    keep: list[tuple[str, nn.Parameter]] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_decay = (
            p.dim() < 2
            or (not decay_embeddings and id(p) in embedding_params)
            or any(pattern in name for pattern in exclude)
        )
        (keep if no_decay else decay).append((name, p))
    if not decay and not keep:
        raise ValueError("model has no trainable parameters")
    groups = [
        {"params": [p for _, p in decay], "weight_decay": float(weight_decay), "name": "decay"},
        {"params": [p for _, p in keep], "weight_decay": 0.0, "name": "no_decay"},
    ]
    names = [[n for n, _ in decay], [n for n, _ in keep]]
    return ParamGroups(groups, names)


def make_adamw(model: nn.Module, lr: float, weight_decay: float = 0.1,
               betas: tuple[float, float] = (0.9, 0.95), eps: float = 1e-8, *,
               fused: bool | None = None, decay_embeddings: bool = True) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`, fused when every parameter is on CUDA (nanoGPT's
    choice), unless ``fused`` says otherwise."""
    groups = param_groups(model, weight_decay, decay_embeddings=decay_embeddings)
    if fused is None:
        params = [p for g in groups for p in g["params"]]
        fused = "fused" in inspect.signature(torch.optim.AdamW).parameters and all(
            p.is_cuda for p in params
        )
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, fused=fused)


def use_tensor_lr(optimizer: Optimizer, dtype: torch.dtype = torch.float32) -> Optimizer:
    """Make every group's ``lr`` a 0-dim tensor (on the device of the group's parameters).

    An LR that is a Python float is a constant to ``torch.compile``: each new value
    recompiles the optimizer step. A tensor LR, updated in place by :class:`Scheduler`, is
    an input instead, so the compiled step is reused.
    """
    optimizer = _check_optimizer(optimizer)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch.dtype; got {dtype!r}")
    for group in optimizer.param_groups:
        lr = group["lr"]
        device = group["params"][0].device if group["params"] else torch.device("cpu")
        if isinstance(lr, torch.Tensor):
            if not lr.dtype.is_floating_point:
                raise ValueError(f"param group {group.get('name', '')!r} has an lr tensor of dtype "
                                 f"{lr.dtype}: an integer tensor truncates every LR (0.0005 to 0); "
                                 "give a float LR or a floating-point tensor")
            continue
        group["lr"] = torch.tensor(float(lr), dtype=dtype, device=device)
    return optimizer


class DeviceLR:
    """The learning rate computed on the device from a step tensor, for CUDA graphs.

    ``apply()`` writes ``scale * schedule(step)`` into every group's tensor LR with torch
    ops only (no host synchronisation), then advances the step tensor: capture it in the
    graph with the optimizer step, and each replay uses the next LR. Call it *before*
    ``optimizer.step()``.
    """

    def __init__(self, optimizer: Optimizer, schedule: Schedule, *, step: int = 0,
                 scales: Sequence[float] | None = None) -> None:
        optimizer = _check_optimizer(optimizer)
        check_schedule(schedule, "schedule")
        groups = optimizer.param_groups
        if any(not isinstance(g["lr"], torch.Tensor) for g in groups):
            raise ValueError("DeviceLR needs tensor learning rates: call use_tensor_lr(optimizer) first")
        scales = [1.0] * len(groups) if scales is None else list(scales)
        if len(scales) != len(groups):
            raise ValueError(f"scales has {len(scales)} entries for {len(groups)} param groups")
        self.optimizer = optimizer
        self.schedule = schedule
        self.scales = scales
        device = groups[0]["lr"].device
        self.step = torch.tensor(int(step), dtype=torch.int64, device=device)

    def apply(self) -> torch.Tensor:
        """Set the LR of the current update and advance; returns the unscaled LR tensor."""
        lr = lr_tensor(self.schedule, self.step)
        for group, scale in zip(self.optimizer.param_groups, self.scales):
            group["lr"].copy_(lr * scale)
        self.step.add_(1)
        return lr


@dataclass(frozen=True)
class ClipResult:
    """What :func:`clip_grad_norm` saw: the total norm before clipping, whether it clipped,
    and whether the norm was finite (if not, the gradients were zeroed)."""

    total_norm: float
    max_norm: float
    clipped: bool
    finite: bool

    @property
    def skip(self) -> bool:
        """True when the update must be skipped (the gradient norm was NaN or inf)."""
        return not self.finite


def clip_grad_norm(parameters: Iterable[torch.Tensor], max_norm: float,
                   norm_type: float = 2.0) -> ClipResult:
    """Clip gradients to ``max_norm`` and report the pre-clip norm.

    ``g <- g * min(1, max_norm / (||g|| + 1e-6))`` (torch ``clip_grad_norm_``). A NaN or
    infinite norm zeroes every gradient instead of poisoning the update; the result says
    so (``skip``), and :func:`clipped_step` then skips the optimizer step.
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not (
        math.isfinite(max_norm) and max_norm > 0
    ):
        raise ValueError(f"max_norm must be a positive finite number; got {max_norm!r}")
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return ClipResult(0.0, float(max_norm), False, True)
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type, error_if_nonfinite=False)
    total = float(norm)
    if not math.isfinite(total):
        for p in params:
            p.grad.zero_()  # type: ignore[union-attr]  # kept: grad is not None
        return ClipResult(total, float(max_norm), False, False)
    return ClipResult(total, float(max_norm), total > max_norm, True)


def clipped_step(optimizer: Optimizer, max_norm: float, *, scaler: torch.amp.GradScaler | None = None,
                 norm_type: float = 2.0) -> ClipResult:
    """Unscale (with a GradScaler), clip, and take the optimizer step unless the gradient
    norm is not finite, in which case no parameter changes."""
    optimizer = _check_optimizer(optimizer)
    if scaler is not None:
        scaler.unscale_(optimizer)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    result = clip_grad_norm(params, max_norm, norm_type)
    if scaler is not None:
        if result.finite:
            scaler.step(optimizer)
        scaler.update()
    elif result.finite:
        optimizer.step()
    return result
