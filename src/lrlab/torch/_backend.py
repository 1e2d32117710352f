"""Torch tensors as an array namespace for lrlab's formulas (the protocol: docs/core.md)."""

from __future__ import annotations

import math

import torch

from lrlab.schedules import Schedule, check_schedule, interp_formula, where_switch


def _power(base, exponent):
    """``base ** exponent``; a Python-float base has its log taken in float64 first (so a
    float32 step tensor keeps its relative precision in ``gamma ** t``)."""
    if isinstance(exponent, torch.Tensor) and isinstance(base, (int, float)) and base > 0:
        return torch.exp(exponent * math.log(base))
    if isinstance(base, torch.Tensor) or isinstance(exponent, torch.Tensor):
        return torch.pow(base, exponent)
    return base**exponent


def _where(condition, if_true, if_false):
    return torch.where(condition, if_true, if_false)


def _minimum(x, bound):
    return torch.clamp(x, max=bound)


def _maximum(x, bound):
    return torch.clamp(x, min=bound)


def _search(edges, t):
    """How many of the ascending ``edges`` are ``<= t`` (``bisect_right``), on t's device."""
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t, dtype=torch.float64)
    return torch.bucketize(t, torch.tensor(edges, dtype=t.dtype, device=t.device), right=True)


def _take(table, index):
    return torch.tensor(table, dtype=torch.float64, device=index.device)[index]


class TorchBackend:
    """torch operations with the members the schedule formulas use."""

    name = "torch"
    pi = math.pi
    cos = staticmethod(torch.cos)
    sqrt = staticmethod(torch.sqrt)
    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    floor = staticmethod(torch.floor)
    power = staticmethod(_power)
    where = staticmethod(_where)
    minimum = staticmethod(_minimum)
    maximum = staticmethod(_maximum)
    search = staticmethod(_search)
    take = staticmethod(_take)

    @staticmethod
    def interp(t, xs, ys):
        return interp_formula(t, xs, ys, TorchBackend)

    @staticmethod
    def switch(index, schedules, t, offsets):
        return where_switch(TorchBackend, index, schedules, t, offsets)


def lr_tensor(schedule: Schedule, step: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``schedule(step)`` computed with torch ops on ``step``'s device (no host sync).

    The same formulas as ``schedule(t)``, so it can run inside a CUDA graph or a compiled
    region where the step is a tensor that changes between replays. ``step`` is an int or
    float tensor of any shape; the result has ``dtype`` (float64 by default: equal to
    ``schedule(t)`` within a few ulps).
    """
    check_schedule(schedule, "schedule")
    if not isinstance(step, torch.Tensor):
        raise ValueError(f"step must be a torch.Tensor; got {type(step).__name__}")
    t = step.to(dtype)
    out = schedule.evaluate(t, TorchBackend)
    if not isinstance(out, torch.Tensor):
        out = torch.full_like(t, float(out))
    return out.to(dtype)
