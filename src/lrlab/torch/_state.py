"""A snapshot of everything a training step can change, restored bit for bit.

Used by the LR finder, the sharpness probe and the guard's rollback: model parameters,
their gradients and buffers (batch-norm statistics), the modules' train/eval modes, the
optimizer's per-parameter state and param-group values, a GradScaler, a scheduler, and the
RNG states of Python, numpy and torch (CPU and every initialized CUDA device).

Restoration is in place where it can be (``copy_`` into the same tensors), so references
that other objects hold (a tensor LR, a compiled optimizer's state) stay valid.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim import Optimizer


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return copy.deepcopy(value)


def _put(current: Any, saved: Any) -> Any:
    """``saved`` written into ``current`` in place when both are tensors of one shape/dtype."""
    if (
        isinstance(current, torch.Tensor)
        and isinstance(saved, torch.Tensor)
        and current.shape == saved.shape
        and current.dtype == saved.dtype
        and current.device == saved.device
    ):
        with torch.no_grad():
            current.copy_(saved)
        return current
    return _clone(saved)


@dataclass
class RNGState:
    """The global RNG states of Python, numpy and torch (CPU and initialized CUDA devices)."""

    python: Any
    numpy: Any
    torch_cpu: torch.Tensor
    cuda: list[torch.Tensor] | None

    @classmethod
    def capture(cls) -> RNGState:
        cuda = None
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            cuda = torch.cuda.get_rng_state_all()
        return cls(random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda)

    def restore(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.set_rng_state(self.torch_cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


@dataclass
class TrainingState:
    """What :meth:`capture` saw; :meth:`restore` puts all of it back."""

    model: nn.Module | None
    optimizer: Optimizer | None
    scaler: Any
    scheduler: Any
    tensors: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = field(
        default_factory=dict
    )
    buffers: list[tuple[nn.Module, str, torch.Tensor | None]] = field(default_factory=list)
    modes: list[tuple[nn.Module, bool]] = field(default_factory=list)
    opt_state: dict[torch.Tensor, dict[str, Any]] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)
    scaler_state: Any = None
    scaler_extra: Any = None
    scheduler_state: Any = None
    rng: RNGState | None = None

    @classmethod
    def capture(
        cls,
        model: nn.Module | None = None,
        optimizer: Optimizer | None = None,
        *,
        scaler: Any = None,
        scheduler: Any = None,
        rng: bool = True,
    ) -> TrainingState:
        """Copy the state of everything given (and of the optimizer's parameters)."""
        state = cls(model, optimizer, scaler, scheduler)
        params: list[torch.Tensor] = []
        if model is not None:
            params.extend(model.parameters())
            for module in model.modules():
                state.modes.append((module, module.training))
                for name, buffer in module._buffers.items():
                    state.buffers.append((module, name, None if buffer is None else buffer.detach().clone()))
        if optimizer is not None:
            for group in optimizer.param_groups:
                params.extend(group["params"])
                state.groups.append({k: _clone(v) for k, v in group.items() if k != "params"})
            for p, values in optimizer.state.items():
                state.opt_state[p] = {k: _clone(v) for k, v in values.items()}
        for p in params:
            if id(p) not in state.tensors:
                grad = None if p.grad is None else p.grad.detach().clone()
                state.tensors[id(p)] = (p, p.detach().clone(), grad)
        if scaler is not None:
            state.scaler_state = copy.deepcopy(scaler.state_dict())
            state.scaler_extra = {k: _clone(v) for k, v in vars(scaler).items()}
        if scheduler is not None:
            state.scheduler_state = copy.deepcopy(scheduler.state_dict())
        if rng:
            state.rng = RNGState.capture()
        return state

    def restore(self) -> None:
        """Write every saved value back (in place where possible)."""
        with torch.no_grad():
            for p, data, grad in self.tensors.values():
                p.copy_(data)
                if grad is None:
                    p.grad = None
                elif p.grad is not None and p.grad.shape == grad.shape:
                    p.grad.copy_(grad)
                else:
                    p.grad = grad.clone()
        for module, name, buffer in self.buffers:
            current = module._buffers.get(name)
            module._buffers[name] = None if buffer is None else _put(current, buffer)
        for module, mode in self.modes:
            module.training = mode
        if self.optimizer is not None:
            self._restore_optimizer(self.optimizer)
        if self.scaler is not None:
            for key, value in self.scaler_extra.items():
                setattr(self.scaler, key, _put(getattr(self.scaler, key, None), value))
            self.scaler.load_state_dict(copy.deepcopy(self.scaler_state))
        if self.scheduler is not None:
            self.scheduler.load_state_dict(copy.deepcopy(self.scheduler_state))
        if self.rng is not None:
            self.rng.restore()

    def _restore_optimizer(self, optimizer: Optimizer) -> None:
        for group, saved in zip(optimizer.param_groups, self.groups):
            for key in [k for k in group if k != "params" and k not in saved]:
                del group[key]
            for key, value in saved.items():
                group[key] = _put(group.get(key), value)
        for p in [p for p in optimizer.state if p not in self.opt_state]:
            del optimizer.state[p]
        for p, saved_values in self.opt_state.items():
            current = optimizer.state[p]
            for key in [k for k in current if k not in saved_values]:
                del current[key]
            for key, value in saved_values.items():
                current[key] = _put(current.get(key), value)
