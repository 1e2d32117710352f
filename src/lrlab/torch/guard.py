"""Watching a training run: spikes, non-finite steps, plateaus, and the schedule surgeon.

- :class:`RobustStats`: running statistics of one signal (loss, gradient norm): an EMA of
  the mean and variance (ZClip's, alpha 0.97) and the median and MAD over a window.
- :class:`Guard`: looks at every update's loss and gradient norm before the optimizer
  steps, and acts on a spike by a configurable ladder: ``log``; ``clip`` (ZClip, Kumar et
  al. 2025: clip the norm to ``mean + z * std`` of its EMA when its z-score passes 2.5);
  ``skip`` the update (OLMo-core's skip-step: a loss or norm above ``mean + 6 std`` of the
  last 128, as a 0/1 factor that needs no host sync); ``rollback`` to the last good state
  and skip the next batches (PaLM, Chowdhery et al. 2022, section 5.1); ``reduce_lr``.
  A non-finite loss or gradient never reaches the weights.
- :class:`Plateau`: ReduceLROnPlateau as a *multiplier* on any schedule (patience,
  relative or absolute threshold, cooldown, floor), so it composes with warmup and decay.
- :class:`Surgeon`: the schedule surgeon: linear warmup that switches to a cosine decay
  once the loss has stabilised, and reduces the LR when the loss plateaus too long; every
  decision an :class:`Event` with its step and reason.

All of them keep their whole state in ``state_dict()``: a run resumed from a checkpoint
makes the same decisions as the run that was never interrupted.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

import lrlab

ACTIONS = ("log", "clip", "skip", "rollback", "reduce_lr")
#: the median absolute deviation times this estimates the standard deviation (normal data)
MAD_TO_STD = 1.4826


@dataclass(frozen=True)
class Event:
    """A decision: the update ``step`` it was taken at, its ``kind`` and why."""

    step: int
    kind: str
    reason: str
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _real(
    name: str, value: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    value = float(value)
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}; got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value!r}")
    return value


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}")
    return int(value)


# --- robust statistics --------------------------------------------------------------------


class RobustStats:
    """Running statistics of one signal: an EMA of mean and variance, and a robust z-score.

    EMA (ZClip, Kumar et al. 2025): ``mean <- a mean + (1 - a) x``,
    ``var <- a var + (1 - a) (x - mean)^2`` (the first value sets the mean, var 0).

    Robust z-score of a new value ``x`` (:meth:`robust_z`), on ``f(x)`` with ``f = log``
    for a positive scale-like signal (``log=True``: the gradient norm, whose noise is
    proportional to its level) and ``f(x) = x`` otherwise (the loss)::

        level = median(last ``recent`` values of f) + (recent + 1) / 2 * drift
        drift = (median of their newer half - median of their older half) / (recent / 2)
        noise = 1.4826 * MAD(first differences of f over the last ``window``) / sqrt(2)
        z     = (f(x) - level) / noise

    Measuring the noise on step-to-step differences, not on the levels, keeps a slow
    trend from looking like spread, and the short ``recent`` median follows a trend with
    little lag: a gradient norm that doubles over hundreds of updates (AdamW under a
    decaying LR, Defazio et al. 2025) stays near z = 0, while a jump of one update stands
    out; the level is extrapolated along the recent trend, so a warmup's steadily growing
    update size is expected, not lagged. The noise is floored at 1e-3 (log) or 1e-3 of
    ``|level|``.
    """

    def __init__(self, alpha: float = 0.97, window: int = 128, recent: int = 16, log: bool = False) -> None:
        self.alpha = _real("alpha", alpha, low=0.0, high=1.0)
        self.window = _int("window", window, 2)
        self.recent = _int("recent", recent, 1)
        self.log = bool(log)
        self.mean = math.nan
        self.var = 0.0
        self.count = 0
        self.values: deque[float] = deque(maxlen=self.window + 1)

    def _f(self, x: float) -> float:
        return math.log(max(x, 1e-30)) if self.log else x

    def update(
        self,
        x: float,
        *,
        ema: float | None = None,
        window: bool = True,
        to_ema: bool = True,
        cap: float | None = None,
    ) -> None:
        """Add ``x`` to the window (unless ``window=False``) and ``ema`` (default ``x``) to the
        EMA (unless ``to_ema=False``). ``cap``: the window takes ``x`` limited to ``cap``
        noise units above the level (a skipped spike joins the window that way, so that a
        lasting shift of level is absorbed in a few updates while a burst of spikes cannot
        take over the median)."""
        if to_ema:
            value = x if ema is None else ema
            if self.count == 0:
                self.mean, self.var = value, 0.0
            else:
                delta = value - self.mean
                self.mean += (1 - self.alpha) * delta
                self.var = self.alpha * self.var + (1 - self.alpha) * delta * delta
            self.count += 1
        if window:
            value = self._f(x)
            if cap is not None and len(self.values) >= 3:
                value = min(value, self.level() + cap * self.noise())
            self.values.append(value)

    @property
    def std(self) -> float:
        return math.sqrt(max(self.var, 0.0))

    def ema_z(self, x: float) -> float:
        """``(x - mean) / std`` of the EMA (0 with no spread yet)."""
        if self.count < 2 or self.std <= 0:
            return 0.0
        return (x - self.mean) / self.std

    def level(self) -> float:
        """Where the next (transformed) value is expected: the median of the last ``recent``
        values, moved forward along their trend. The trend is the difference between the
        medians of the newer and the older half of them, per update; the median sits
        ``(recent + 1) / 2`` updates back, so a trend is extrapolated, not lagged. The shift
        is limited to 2 noise units: after a step change (a rollback, an LR cut) the
        "trend" is no trend."""
        recent = list(self.values)[-self.recent :]
        half = len(recent) // 2
        if half < 2:
            return _median(recent)
        drift = (_median(recent[-half:]) - _median(recent[:half])) / (len(recent) - half)
        shift = drift * (len(recent) + 1) / 2
        bound = 2.0 * self.noise() if len(self.values) >= 3 else abs(shift)
        return _median(recent) + max(-bound, min(bound, shift))

    def noise(self) -> float:
        """``1.4826 MAD(differences) / sqrt(2)``: the spread of one value around the trend."""
        values = list(self.values)
        diffs = [b - a for a, b in itertools.pairwise(values)]
        if not diffs:
            return math.nan
        med = _median(diffs)
        mad = _median([abs(d - med) for d in diffs])
        floor = 1e-3 if self.log else max(1e-3 * abs(_median(values[-self.recent :])), 1e-12)
        return max(MAD_TO_STD * mad / math.sqrt(2.0), floor)

    def robust_z(self, x: float) -> float:
        """How many noise units ``x`` lies above the recent level (0 with < 3 values)."""
        if len(self.values) < 3:
            return 0.0
        return (self._f(x) - self.level()) / self.noise()

    def state_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "window": self.window,
            "recent": self.recent,
            "log": self.log,
            "mean": self.mean,
            "var": self.var,
            "count": self.count,
            "values": list(self.values),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.alpha, self.window, self.recent, self.log = (
            state["alpha"],
            state["window"],
            state["recent"],
            state["log"],
        )
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]
        self.values = deque(state["values"], maxlen=self.window + 1)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return math.nan
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


# --- plateau control ----------------------------------------------------------------------


class Plateau:
    """ReduceLROnPlateau as a multiplier on any schedule: ``lr(t) = schedule(t) * multiplier``.

    After ``patience`` calls of :meth:`update` without an improvement, the multiplier is
    multiplied by ``factor`` (not below ``floor``), then ``cooldown`` calls pass before
    counting again. An improvement (mode ``min``): ``metric < best * (1 - threshold)``
    (``threshold_mode="rel"``; for a negative best, ``best - threshold * |best|``) or
    ``metric < best - threshold`` (``"abs"``), as torch's ``ReduceLROnPlateau``.
    """

    def __init__(
        self,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        factor: float = 0.5,
        floor: float = 0.0,
        mode: str = "min",
    ) -> None:
        self.patience = _int("patience", patience, 0)
        self.threshold = _real("threshold", threshold, low=0.0)
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs'; got {threshold_mode!r}")
        if threshold_mode == "rel" and self.threshold >= 1:
            raise ValueError(f"threshold must be < 1 with threshold_mode='rel'; got {threshold!r}")
        self.threshold_mode = threshold_mode
        self.cooldown = _int("cooldown", cooldown, 0)
        self.factor = _real("factor", factor, low=0.0, low_open=True)
        if self.factor >= 1:
            raise ValueError(f"factor must be < 1 (it reduces the LR); got {factor!r}")
        self.floor = _real("floor", floor, low=0.0, high=1.0)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max'; got {mode!r}")
        self.mode = mode
        self.multiplier = 1.0
        self.best = math.inf
        self.bad = 0
        self.cooling = 0
        self.calls = 0
        self.events: list[Event] = []

    def improved(self, metric: float) -> bool:
        value, best = (
            (metric, self.best)
            if self.mode == "min"
            else (-metric, -self.best if math.isfinite(self.best) else math.inf)
        )
        if not math.isfinite(best):
            return True
        if self.threshold_mode == "rel":
            return value < best - self.threshold * abs(best)
        return value < best - self.threshold

    def update(self, metric: float, step: int | None = None) -> float:
        """Feed one value of the watched metric; returns the multiplier to use from now on."""
        metric = float(metric)
        step = self.calls if step is None else step
        self.calls += 1
        if not math.isfinite(metric):
            self.bad += 1
        elif self.improved(metric):
            self.best, self.bad = metric, 0
        else:
            self.bad += 1
        if self.cooling > 0:
            self.cooling -= 1
            self.bad = 0
        elif self.bad > self.patience and self.multiplier > self.floor:
            new = max(self.multiplier * self.factor, self.floor)
            self.events.append(
                Event(
                    step,
                    "reduce_lr",
                    f"no improvement on best {self.best:.4g} for "
                    f"{self.bad} updates (patience {self.patience}): multiplier "
                    f"{self.multiplier:.4g} -> {new:.4g}",
                    new,
                )
            )
            self.multiplier, self.bad, self.cooling = new, 0, self.cooldown
        return self.multiplier

    def state_dict(self) -> dict[str, Any]:
        return {
            "multiplier": self.multiplier,
            "best": self.best,
            "bad": self.bad,
            "cooling": self.cooling,
            "calls": self.calls,
            "events": [e.to_dict() for e in self.events],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.multiplier, self.best, self.bad = state["multiplier"], state["best"], state["bad"]
        self.cooling, self.calls = state["cooling"], state["calls"]
        self.events = [Event(**e) for e in state["events"]]


# --- the guard ----------------------------------------------------------------------------


@dataclass
class StepReport:
    """What :meth:`Guard.step` saw and did at one update."""

    step: int
    loss: float
    grad_norm: float
    loss_z: float
    norm_z: float
    clipped_to: float | None
    skipped: bool
    rolled_back: bool
    lr_multiplier: float
    update_ratio: float | None
    action: str


def _grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norms = torch._foreach_norm(grads, 2.0)
    return torch.linalg.vector_norm(torch.stack([n.to(norms[0].device) for n in norms]), 2.0)


class Guard:
    """Watches each update and acts on spikes; call :meth:`step` instead of ``optimizer.step()``.

    ::

        guard = Guard(model, optimizer, scheduler=scheduler)
        for batch in guard.batches(loader):          # skips batches after a rollback
            loss = loss_fn(model(batch[0]), batch[1])
            optimizer.zero_grad(); loss.backward()
            guard.step(loss)                         # clip / skip / roll back, then optimizer.step()
            scheduler.step()

    Signals: the loss and the global gradient norm before the step, each tracked by
    :class:`RobustStats` (an EMA with ``clip_alpha`` for the clip, a trend-following robust
    z-score over ``window`` updates for the rest), and after the step, every ``ratio_every``
    updates (default every one; it costs a copy of the parameters), the update-to-weight
    ratio ``||w_new - w_old|| / ||w_old||``. Nothing is judged before ``min_history``
    updates (default half the window, as OLMo-core), non-finite values excepted. A skipped
    value joins the robust window capped at ``skip_sigma`` noise units above the level (a
    lasting change of level is absorbed; a burst of spikes cannot take over), never the EMA.

    The ladder (``actions``, any subset, in this order):

    - ``log``: every spike is an :class:`Event` in :attr:`events` (and passed to ``logger``).
    - ``clip``: ZClip: when the norm's EMA z-score passes ``clip_z`` (2.5), the gradients
      are scaled to the norm ``mean + clip_z * std``; the EMA then takes the clipped norm.
    - ``skip``: the update is skipped when the loss's or the norm's robust z-score passes
      ``skip_sigma`` (6), or either is non-finite; and an applied update is undone when its
      update-to-weight ratio's z-score passes ``skip_sigma`` and the ratio is over
      ``ratio_factor`` (3) times its level (an LR spike: the gradients look normal).
    - ``rollback``: after ``rollback_after`` (10) skipped updates in a row (damage that
      skipping does not cure), the model, optimizer, scaler and scheduler go back to the
      last good state (saved every ``snapshot_every`` updates with no spike in between), and
      the next ``rollback_skip_batches`` batches of :meth:`batches` are dropped.
    - ``reduce_lr``: a rollback within ``2 * snapshot_every`` calls of the previous one (the
      trouble came back), or ``rollback_after`` skips in a row with nothing to roll back
      to, multiplies the LR by ``lr_factor`` for the rest of the run, not below
      ``min_multiplier``.

    A non-finite loss or gradient is always skipped, whatever ``actions`` says.

    Under a decaying LR, AdamW's gradient norm rises steadily towards the end of training
    (Defazio et al. 2025): the z-score measures noise on step-to-step differences and
    follows the trend, so that rise is not a spike. ``plateau``: a :class:`Plateau` whose
    multiplier also scales the LR (feed it with :meth:`observe`). The multipliers are
    applied around ``optimizer.step()`` and undone after, so any scheduler keeps working on
    the unscaled values. With a ``scaler``, backpropagate ``scaler.scale(loss)``; the guard
    unscales, judges and steps through the scaler.

    ``sync=False``: ``clip`` and ``skip`` only, decided on the device with no host
    synchronization: the skip factor is a 0/1 tensor from the mean and standard deviation of
    the last ``window`` values (OLMo-core's rule), and the update is applied through
    ``torch.where`` on the parameters and optimizer state (costs one copy of both).
    """

    def __init__(
        self,
        model: torch.nn.Module | None,
        optimizer: torch.optim.Optimizer,
        *,
        actions: Sequence[str] = ACTIONS,
        clip_alpha: float = 0.97,
        clip_z: float = 2.5,
        skip_sigma: float = 6.0,
        window: int = 128,
        min_history: int | None = None,
        rollback_after: int = 10,
        rollback_skip_batches: int = 50,
        snapshot_every: int = 50,
        lr_factor: float = 0.5,
        min_multiplier: float = 0.125,
        ratio_every: int = 1,
        ratio_factor: float = 3.0,
        plateau: Plateau | None = None,
        scheduler: Any = None,
        scaler: Any = None,
        sync: bool = True,
        logger: Callable[[Event], None] | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
        if model is not None and not isinstance(model, torch.nn.Module):
            raise ValueError(f"model must be a torch.nn.Module or None; got {type(model).__name__}")
        if isinstance(actions, str) or not all(a in ACTIONS for a in actions):
            raise ValueError(f"actions must be a subset of {ACTIONS}; got {actions!r}")
        if not sync and set(actions) - {"log", "clip", "skip"}:
            raise ValueError(
                f"sync=False supports the actions 'clip' and 'skip' only; got {tuple(actions)!r}"
            )
        if plateau is not None and not isinstance(plateau, Plateau):
            raise ValueError(f"plateau must be a lrlab.torch.Plateau or None; got {type(plateau).__name__}")
        self.model, self.optimizer, self.scheduler, self.scaler = model, optimizer, scheduler, scaler
        self.actions = tuple(a for a in ACTIONS if a in actions)
        self.clip_z = _real("clip_z", clip_z, low=0.0, low_open=True)
        self.skip_sigma = _real("skip_sigma", skip_sigma, low=0.0, low_open=True)
        self.window = _int("window", window, 2)
        self.min_history = _int("min_history", self.window // 2 if min_history is None else min_history, 2)
        self.rollback_after = _int("rollback_after", rollback_after, 1)
        self.rollback_skip_batches = _int("rollback_skip_batches", rollback_skip_batches, 0)
        self.snapshot_every = _int("snapshot_every", snapshot_every, 1)
        self.lr_factor = _real("lr_factor", lr_factor, low=0.0, low_open=True, high=1.0)
        self.min_multiplier = _real("min_multiplier", min_multiplier, low=0.0, high=1.0)
        self.ratio_every = _int("ratio_every", ratio_every, 0)
        self.ratio_factor = _real("ratio_factor", ratio_factor, low=1.0)
        self.loss_stats = RobustStats(_real("clip_alpha", clip_alpha, low=0.0, high=1.0), self.window)
        self.norm_stats = RobustStats(clip_alpha, self.window, log=True)
        self.ratio_stats = RobustStats(clip_alpha, self.window, log=True)
        self.plateau = plateau
        self.sync = bool(sync)
        self.logger = logger
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self.t = 0
        self.calls = 0
        self.last_rollback: int | None = None
        self.multiplier = 1.0
        self.skips_in_row = 0
        self.since_spike = 0
        self.skip_batches = 0
        self.events: list[Event] = []
        self.counts = {"clip": 0, "skip": 0, "rollback": 0, "reduce_lr": 0, "nonfinite": 0}
        self.snapshot: dict[str, Any] | None = None
        self.last: StepReport | None = None
        if not self.sync:
            self._device_state: dict[str, torch.Tensor] = {}

    # -- what the loop calls --

    def batches(self, data: Iterable[Any]) -> Iterator[Any]:
        """Yield ``data``'s batches, dropping the ones a rollback asked to skip."""
        for batch in data:
            if self.skip_batches > 0:
                self.skip_batches -= 1
                continue
            yield batch

    def observe(self, metric: float) -> float:
        """Feed the plateau controller (e.g. a validation loss); returns its multiplier."""
        if self.plateau is None:
            raise ValueError("observe() needs a Guard built with plateau=Plateau(...)")
        before = len(self.plateau.events)
        multiplier = self.plateau.update(metric, self.t)
        for event in self.plateau.events[before:]:
            self._event(event)
        return multiplier

    @property
    def lr_multiplier(self) -> float:
        """The factor the guard applies to the optimizer's LRs: reductions times plateau's."""
        return self.multiplier * (self.plateau.multiplier if self.plateau is not None else 1.0)

    def step(self, loss: torch.Tensor | float) -> StepReport | None:
        """Judge this update (its loss and the gradients now in ``.grad``), act, and step the
        optimizer unless the update is skipped. Returns what happened (None with ``sync=False``)."""
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                raise ValueError(f"loss must be a scalar; got a tensor of shape {tuple(loss.shape)}")
        elif isinstance(loss, bool) or not isinstance(loss, numbers.Real):
            raise ValueError(f"loss must be a scalar tensor or a number; got {type(loss).__name__}")
        if not self.sync:
            self._device_step(loss)
            self.t += 1
            return None
        value = float(loss.detach().float().item() if isinstance(loss, torch.Tensor) else loss)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        norm = float(_grad_norm(self.params).item())
        self.calls += 1
        ready = len(self.loss_stats.values) >= self.min_history
        loss_z = self.loss_stats.robust_z(value) if ready and math.isfinite(value) else 0.0
        norm_z = self.norm_stats.robust_z(norm) if ready and math.isfinite(norm) else 0.0
        clipped_to = None
        skipped = rolled = False
        action = "none"
        step = self.t
        if not (math.isfinite(value) and math.isfinite(norm)):
            skipped, action = True, "skip"
            self.counts["nonfinite"] += 1
            self._event(
                Event(step, "nonfinite", f"non-finite loss {value} or gradient norm {norm}: update skipped")
            )
        elif ready and max(loss_z, norm_z) > self.skip_sigma:
            which = "loss" if loss_z >= norm_z else "gradient norm"
            shown = value if which == "loss" else norm
            reason = (
                f"{which} {shown:.4g} is {max(loss_z, norm_z):.1f} robust sigmas above its recent level "
                f"(noise from the last {len(self.loss_stats.values)} updates)"
            )
            if "skip" in self.actions:
                skipped, action = True, "skip"
                self.counts["skip"] += 1
                self._event(Event(step, "skip", reason + ": update skipped", shown))
            elif "log" in self.actions:
                action = "log"
                self._event(Event(step, "spike", reason, shown))
        if skipped:
            if math.isfinite(value) and math.isfinite(norm):  # a level shift must be absorbed
                self.loss_stats.update(value, to_ema=False, cap=self.skip_sigma)
                self.norm_stats.update(norm, to_ema=False, cap=self.skip_sigma)
            self.skips_in_row += 1
            self.since_spike = 0
            if self.skips_in_row >= self.rollback_after:
                rolled = self._escalate(step)
        else:
            self.skips_in_row = 0
            if "clip" in self.actions and ready:
                z = self.norm_stats.ema_z(norm)
                if z > self.clip_z:
                    target = self.norm_stats.mean + self.clip_z * self.norm_stats.std
                    with torch.no_grad():
                        torch._foreach_mul_(
                            [p.grad for p in self.params if p.grad is not None], target / norm
                        )
                    clipped_to, action = target, "clip"
                    self.counts["clip"] += 1
                    if "log" in self.actions:
                        self._event(
                            Event(
                                step,
                                "clip",
                                f"gradient norm {norm:.4g} has EMA z-score {z:.2f} > "
                                f"{self.clip_z:g}: clipped to {target:.4g}",
                                norm,
                            )
                        )
            ratio, before = self._apply_update(measure=self.ratio_every > 0 and step % self.ratio_every == 0)
            ratio_z = (
                self.ratio_stats.robust_z(ratio)
                if ratio is not None
                and len(self.ratio_stats.values) >= max(3, self.min_history // self.ratio_every)
                else 0.0
            )
            if (
                ratio is not None
                and ratio_z > self.skip_sigma
                and ratio > self.ratio_factor * math.exp(self.ratio_stats.level())
                and "skip" in self.actions
                and before is not None
            ):
                with torch.no_grad():  # an update far larger than usual (an LR spike): undo it
                    for p, b in zip(self.params, before):
                        p.copy_(b)
                self.ratio_stats.update(ratio, to_ema=False, cap=self.skip_sigma)
                self.counts["skip"] += 1
                self._event(
                    Event(
                        step,
                        "skip",
                        f"update-to-weight ratio {ratio:.3g} is {ratio_z:.1f} robust sigmas above its recent "
                        "level: the update was undone (the optimizer's moments keep this gradient)",
                        ratio,
                    )
                )
                self.loss_stats.update(value, to_ema=False, cap=self.skip_sigma)
                self.norm_stats.update(norm, to_ema=False, cap=self.skip_sigma)
                self.skips_in_row += 1
                self.since_spike = 0
                rolled = self.skips_in_row >= self.rollback_after and self._escalate(step)
                if not rolled:
                    self.t += 1
                self.last = StepReport(
                    step,
                    value,
                    norm,
                    loss_z,
                    norm_z,
                    clipped_to,
                    True,
                    rolled,
                    self.lr_multiplier,
                    ratio,
                    "rollback" if rolled else "skip",
                )
                return self.last
            self.loss_stats.update(value)
            self.norm_stats.update(norm, ema=clipped_to if clipped_to is not None else norm)
            if ratio is not None:
                self.ratio_stats.update(ratio)
            self.since_spike += 1
            if (
                self.since_spike >= self.snapshot_every
                and "rollback" in self.actions
                and (self.snapshot is None or step - self.snapshot["step"] >= self.snapshot_every)
            ):
                self._take_snapshot(step + 1)
            self.last = StepReport(
                step, value, norm, loss_z, norm_z, clipped_to, False, False, self.lr_multiplier, ratio, action
            )
            self.t += 1
            return self.last
        if skipped and self.scaler is not None:
            self.scaler.update()  # the scaler's inf checks are consumed; a skipped step leaves it as is
        if not rolled:
            self.t += 1
        self.last = StepReport(
            step,
            value,
            norm,
            loss_z,
            norm_z,
            None,
            True,
            rolled,
            self.lr_multiplier,
            None,
            "rollback" if rolled else action,
        )
        return self.last

    # -- internals --

    def _event(self, event: Event) -> None:
        self.events.append(event)
        if self.logger is not None:
            self.logger(event)

    def _scaled_lrs(self) -> list[Any]:
        saved = [g["lr"] for g in self.optimizer.param_groups]
        m = self.lr_multiplier
        if m != 1.0:
            for i, g in enumerate(self.optimizer.param_groups):
                if isinstance(g["lr"], torch.Tensor):
                    saved[i] = g["lr"].clone()  # the value; the tensor itself stays in the group
                    g["lr"].mul_(m)
                else:
                    g["lr"] = g["lr"] * m
        return saved

    def _restore_lrs(self, saved: list[Any]) -> None:
        for g, value in zip(self.optimizer.param_groups, saved):
            if isinstance(g["lr"], torch.Tensor) and isinstance(value, torch.Tensor):
                if value is not g["lr"]:
                    g["lr"].copy_(value)
            else:
                g["lr"] = value

    def _apply_update(self, measure: bool) -> tuple[float | None, list[torch.Tensor] | None]:
        before = [p.detach().clone() for p in self.params] if measure else None
        saved = self._scaled_lrs()
        try:
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
        finally:
            self._restore_lrs(saved)
        if before is None:
            return None, None
        with torch.no_grad():
            delta = torch.linalg.vector_norm(
                torch.stack([torch.linalg.vector_norm(p - b) for p, b in zip(self.params, before)])
            )
            weight = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(b) for b in before]))
        return (float(delta / weight) if float(weight) > 0 else None), before

    def _take_snapshot(self, step: int) -> None:
        from ._state import _clone

        self.snapshot = {
            "step": step,
            "model": None
            if self.model is None
            else {k: _clone(v) for k, v in self.model.state_dict().items()},
            "params": None if self.model is not None else [p.detach().clone() for p in self.params],
            "optimizer": _clone(self.optimizer.state_dict()),
            "scheduler": None if self.scheduler is None else _clone(self.scheduler.state_dict()),
            "scaler": None if self.scaler is None else _clone(self.scaler.state_dict()),
        }

    def _escalate(self, step: int) -> bool:
        rolled = False
        if "rollback" in self.actions and self.snapshot is not None:
            snap = self.snapshot
            if self.model is not None:
                self.model.load_state_dict(snap["model"])
            else:
                with torch.no_grad():
                    for p, saved in zip(self.params, snap["params"]):
                        p.copy_(saved)
            from ._state import _clone

            self.optimizer.load_state_dict(_clone(snap["optimizer"]))
            if self.scheduler is not None:
                self.scheduler.load_state_dict(_clone(snap["scheduler"]))
            if self.scaler is not None:
                self.scaler.load_state_dict(_clone(snap["scaler"]))
            self.skip_batches += self.rollback_skip_batches
            self.counts["rollback"] += 1
            self._event(
                Event(
                    step,
                    "rollback",
                    f"{self.skips_in_row} skipped updates in a row: back to the "
                    f"state before update {snap['step']}, skipping the next "
                    f"{self.rollback_skip_batches} batches",
                    float(snap["step"]),
                )
            )
            self.t = snap["step"]
            rolled = True
        repeated = (
            rolled
            and self.last_rollback is not None
            and (self.calls - self.last_rollback <= 2 * self.snapshot_every)
        )
        if rolled:
            self.last_rollback = self.calls
        if (
            "reduce_lr" in self.actions
            and (repeated or not rolled)
            and self.multiplier * self.lr_factor >= self.min_multiplier * (1 - 1e-12)
        ):
            new = self.multiplier * self.lr_factor
            self.counts["reduce_lr"] += 1
            self._event(
                Event(
                    step,
                    "reduce_lr",
                    (
                        "spikes again soon after a rollback"
                        if rolled
                        else f"{self.skips_in_row} skipped updates in a row and no state to roll back to"
                    )
                    + ": LR multiplier "
                    f"{self.multiplier:.4g} -> {new:.4g}",
                    new,
                )
            )
            self.multiplier = new
        self.skips_in_row = 0
        return rolled

    def _device_step(self, loss: torch.Tensor | float) -> None:
        """clip and skip with no host synchronization (see the class docstring)."""
        params = self.params
        device = params[0].device
        st = self._device_state
        if not st:
            st.update(
                loss_buf=torch.zeros(self.window, device=device),
                norm_buf=torch.zeros(self.window, device=device),
                count=torch.zeros((), device=device, dtype=torch.long),
                mean=torch.zeros((), device=device),
                var=torch.zeros((), device=device),
            )
        loss_t = (
            (
                loss.detach().float()
                if isinstance(loss, torch.Tensor)
                else torch.tensor(float(loss), device=device)
            )
            .to(device)
            .reshape(())
        )
        norm = _grad_norm(params).to(device)
        count = st["count"]
        filled = torch.clamp(count, max=self.window).float()
        ready = count >= self.min_history

        def limit(buf: torch.Tensor) -> torch.Tensor:
            mask = (torch.arange(self.window, device=device) < filled).float()
            n = torch.clamp(filled, min=1.0)
            mean = (buf * mask).sum() / n
            std = torch.sqrt(((buf - mean) ** 2 * mask).sum() / torch.clamp(n - 1, min=1.0))
            return mean + self.skip_sigma * std

        finite = torch.isfinite(loss_t) & torch.isfinite(norm)
        ok = finite
        if "skip" in self.actions:
            ok = ok & (~ready | ((loss_t <= limit(st["loss_buf"])) & (norm <= limit(st["norm_buf"]))))
        scale = torch.ones((), device=device)
        if "clip" in self.actions:
            std = torch.sqrt(st["var"])
            target = st["mean"] + self.clip_z * std
            clip = ready & (norm > target) & (std > 0)
            scale = torch.where(clip & finite, target / torch.clamp(norm, min=1e-30), scale)
            grads = [p.grad for p in params if p.grad is not None]
            if grads:
                torch._foreach_mul_(grads, scale)
        clipped = torch.where(finite, norm * scale, st["mean"])
        # masked step: the optimizer steps, then parameters and state keep the old values where ok is 0
        old_params = [p.detach().clone() for p in params]
        old_state = {
            p: {k: v.clone() for k, v in self.optimizer.state[p].items() if isinstance(v, torch.Tensor)}
            for p in params
            if p in self.optimizer.state
        }
        saved = self._scaled_lrs()
        try:
            self.optimizer.step()
        finally:
            self._restore_lrs(saved)
        with torch.no_grad():
            for p, old in zip(params, old_params):
                p.copy_(torch.where(ok, p, old))
            for p in params:
                state = self.optimizer.state.get(p, {})
                for k, v in list(state.items()):
                    if not isinstance(v, torch.Tensor):
                        continue
                    keep = ok.to(v.device)
                    if p in old_state and k in old_state[p]:
                        v.copy_(torch.where(keep, v, old_state[p][k]))
            # every finite value joins the windows (a level shift is absorbed, as OLMo-core does);
            # the EMA of the clip takes the good updates only
            slot = count % self.window
            okf = ok.float()
            st["loss_buf"][slot] = torch.where(finite, loss_t, st["loss_buf"][slot])
            st["norm_buf"][slot] = torch.where(finite, norm, st["norm_buf"][slot])
            first = count == 0
            a = self.norm_stats.alpha
            delta = clipped - st["mean"]
            new_mean = torch.where(first, clipped, st["mean"] + (1 - a) * delta)
            new_var = torch.where(first, torch.zeros_like(st["var"]), a * st["var"] + (1 - a) * delta * delta)
            st["mean"].copy_(torch.where(ok, new_mean, st["mean"]))
            st["var"].copy_(torch.where(ok, new_var, st["var"]))
            st["count"].add_(finite.long())
            st.setdefault("skipped", torch.zeros((), device=device, dtype=torch.long)).add_((1 - okf).long())
            st.setdefault("clipped", torch.zeros((), device=device, dtype=torch.long)).add_(
                (scale < 1).long()
            )

    # -- checkpointing --

    def state_dict(self) -> dict[str, Any]:
        """Everything the guard's future decisions depend on (including the rollback snapshot)."""
        from ._state import _clone

        state: dict[str, Any] = {
            "t": self.t,
            "calls": self.calls,
            "last_rollback": self.last_rollback,
            "multiplier": self.multiplier,
            "skips_in_row": self.skips_in_row,
            "since_spike": self.since_spike,
            "skip_batches": self.skip_batches,
            "events": [e.to_dict() for e in self.events],
            "counts": dict(self.counts),
            "loss_stats": self.loss_stats.state_dict(),
            "norm_stats": self.norm_stats.state_dict(),
            "ratio_stats": self.ratio_stats.state_dict(),
            "snapshot": _clone(self.snapshot),
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
        }
        if not self.sync:
            state["device_state"] = {k: v.clone() for k, v in self._device_state.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        from ._state import _clone

        self.t, self.multiplier = state["t"], state["multiplier"]
        self.calls, self.last_rollback = state["calls"], state["last_rollback"]
        self.skips_in_row, self.since_spike = state["skips_in_row"], state["since_spike"]
        self.skip_batches = state["skip_batches"]
        self.events = [Event(**e) for e in state["events"]]
        self.counts = dict(state["counts"])
        self.loss_stats.load_state_dict(state["loss_stats"])
        self.norm_stats.load_state_dict(state["norm_stats"])
        self.ratio_stats.load_state_dict(state["ratio_stats"])
        self.snapshot = _clone(state["snapshot"])
        if self.plateau is not None and state.get("plateau") is not None:
            self.plateau.load_state_dict(state["plateau"])
        if not self.sync and "device_state" in state:
            self._device_state = {k: v.clone() for k, v in state["device_state"].items()}


# --- the schedule surgeon -----------------------------------------------------------------


class Surgeon:
    """Warmup that ends when the loss has stabilised, then cosine decay; plateau cuts.

    The LR of update ``t`` (:meth:`lr`):

    - warmup: ``peak * t / warmup_steps`` (lrlab's linear warmup from 0), then ``peak``
      held, until the switch;
    - the switch to decay happens at the first update ``s >= min_warmup`` where the loss
      has stabilised: its EMA (``beta``) has fallen by at least ``stable_tol`` (relative)
      over some ``window`` of updates, and its fall over the last ``window`` is now under
      ``slowdown`` times the fastest such fall (the steep early descent is over); and at the latest at
      ``total_steps - min_decay``. From ``s`` on: ``cosine(lr(s), final_lr, total_steps - s)``;
    - during the decay, when the mean loss of the last ``patience`` updates (default 10%
      of the run) is lower than the mean of the ``patience`` before them by less than
      ``plateau_threshold`` (relative) or less than one standard error of that mean (a
      noisy minibatch loss does not fake a plateau), the LR is multiplied by ``factor``
      (not below ``floor`` of the schedule) from the next update on, then ``cooldown``
      updates pass.

    :attr:`schedule` is the lrlab schedule of what was decided so far (text form with
    ``str()``); :attr:`events` the decisions. Drive an optimizer with :meth:`apply` before
    each update and feed the update's loss to :meth:`update` after it.
    """

    def __init__(
        self,
        peak: float,
        total_steps: int,
        *,
        warmup_steps: int | None = None,
        min_warmup: int | None = None,
        min_decay: int | None = None,
        final_lr: float = 0.0,
        window: int | None = None,
        stable_tol: float = 0.02,
        slowdown: float = 0.25,
        beta: float = 0.9,
        patience: int | None = None,
        plateau_threshold: float = 1e-3,
        factor: float = 0.5,
        cooldown: int | None = None,
        floor: float = 0.1,
    ) -> None:
        self.peak = _real("peak", peak, low=0.0, low_open=True)
        self.total_steps = _int("total_steps", total_steps, 10)
        n = self.total_steps
        self.warmup_steps = _int(
            "warmup_steps", warmup_steps if warmup_steps is not None else max(1, n // 10), 1
        )
        self.min_warmup = _int("min_warmup", min_warmup if min_warmup is not None else max(1, n // 100), 0)
        self.min_decay = _int("min_decay", min_decay if min_decay is not None else max(1, n // 5), 1)
        if self.min_decay >= n:
            raise ValueError(f"min_decay must be < total_steps={n}; got {self.min_decay}")
        self.final_lr = _real("final_lr", final_lr, low=0.0)
        if self.final_lr >= self.peak:
            raise ValueError(f"final_lr must be < peak={peak}; got {final_lr!r}")
        self.window = _int("window", window if window is not None else max(5, n // 50), 2)
        self.stable_tol = _real("stable_tol", stable_tol, low=0.0, low_open=True, high=1.0)
        self.beta = _real("beta", beta, low=0.0, high=0.9999)
        self.slowdown = _real("slowdown", slowdown, low=0.0, low_open=True, high=1.0)
        self.patience = _int("patience", patience if patience is not None else max(10, n // 10), 1)
        self.plateau_threshold = _real("plateau_threshold", plateau_threshold, low=0.0, high=1.0)
        self.factor = _real("factor", factor, low=0.0, low_open=True, high=1.0)
        self.cooldown = _int("cooldown", cooldown if cooldown is not None else self.patience, 0)
        self.floor = _real("floor", floor, low=0.0, high=1.0)
        self.phase = "warmup"
        self.switch_step: int | None = None
        self.switch_lr: float | None = None
        self.multiplier = 1.0
        self.ema = math.nan
        self.updates = 0
        self.max_drop = 0.0
        self.recent: deque[float] = deque(maxlen=2 * self.patience)
        self.cuts: list[tuple[int, float]] = []
        self.history: deque[float] = deque(maxlen=self.window + 1)
        self.best = math.inf
        self.bad = 0
        self.cooling = 0
        self.events: list[Event] = []

    @property
    def schedule(self) -> lrlab.Schedule:
        """The schedule decided so far (warmup part, then the decay from the switch);
        plateau cuts are not part of it (they are :attr:`multiplier`)."""
        warm = lrlab.warmup(self.warmup_steps, lrlab.constant(self.peak))
        if self.switch_step is None:
            return warm
        assert self.switch_lr is not None
        decay = lrlab.cosine(self.switch_lr, self.final_lr, self.total_steps - self.switch_step)
        if self.switch_step == 0:
            return decay
        head = (
            lrlab.linear(0.0, self.switch_lr, self.switch_step)
            if self.switch_step <= self.warmup_steps
            else lrlab.warmup(
                self.warmup_steps, lrlab.constant(self.peak, self.switch_step - self.warmup_steps)
            )
        )
        return lrlab.join(head, decay)

    def lr(self, step: int) -> float:
        """The LR of update ``step`` given the decisions so far."""
        base = float(self.schedule(step))
        multiplier = 1.0
        for at, value in self.cuts:
            if at <= step:
                multiplier = value
        return max(base * multiplier, base * self.floor) if multiplier != 1.0 else base

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every param group's LR to :meth:`lr` (``step``); returns it."""
        value = self.lr(step)
        for g in optimizer.param_groups:
            if isinstance(g["lr"], torch.Tensor):
                g["lr"].fill_(value)
            else:
                g["lr"] = value
        return value

    def update(self, step: int, loss: float) -> list[Event]:
        """Feed the loss of update ``step``; returns the decisions it triggered."""
        loss = float(loss.detach().item() if isinstance(loss, torch.Tensor) else loss)
        new: list[Event] = []
        if not math.isfinite(loss):
            return new
        self.ema = loss if self.updates == 0 else self.beta * self.ema + (1 - self.beta) * loss
        self.updates += 1
        self.history.append(self.ema)
        nxt = step + 1
        if self.phase == "warmup":
            latest = self.total_steps - self.min_decay
            full = len(self.history) > self.window
            if full and nxt >= self.min_warmup:
                old = self.history[0]
                drop = (old - self.ema) / max(abs(old), 1e-12)
                self.max_drop = max(self.max_drop, drop)
                if self.max_drop >= self.stable_tol and drop < self.slowdown * self.max_drop:
                    new.append(
                        self._switch(
                            nxt,
                            f"loss EMA fell {100 * drop:.2f}% over the last {self.window} "
                            f"updates, under {self.slowdown:g} x its fastest fall "
                            f"({100 * self.max_drop:.2f}%): stabilised",
                        )
                    )
            if self.phase == "warmup" and nxt >= latest:
                new.append(self._switch(nxt, f"latest switch ({self.min_decay} updates left for the decay)"))
        elif self.phase == "decay":
            self.recent.append(loss)
            if self.cooling > 0:
                self.cooling -= 1
            elif len(self.recent) == 2 * self.patience and self.multiplier * self.factor >= self.floor:
                values = list(self.recent)
                before_mean = float(np.mean(values[: self.patience]))
                last_mean = float(np.mean(values[self.patience :]))
                gain = before_mean - last_mean
                error = float(np.std(values[self.patience :]) / math.sqrt(self.patience))
                if gain < max(self.plateau_threshold * abs(before_mean), error):
                    before = self.multiplier
                    self.multiplier *= self.factor
                    self.cuts.append((nxt, self.multiplier))
                    self.cooling = self.cooldown
                    self.recent.clear()
                    new.append(
                        Event(
                            nxt,
                            "reduce_lr",
                            f"mean loss of the last {self.patience} updates {last_mean:.4g} vs "
                            f"{before_mean:.4g} before: a gain of {gain:.3g}, under both "
                            f"{100 * self.plateau_threshold:g}% and one standard error ({error:.3g}): "
                            f"LR multiplier {before:.3g} -> {self.multiplier:.3g}",
                            self.multiplier,
                        )
                    )
        self.events.extend(new)
        return new

    def _switch(self, step: int, why: str) -> Event:
        value = float(lrlab.warmup(self.warmup_steps, lrlab.constant(self.peak))(step))
        self.phase, self.switch_step, self.switch_lr = "decay", step, max(value, self.final_lr)
        self.best, self.bad = self.ema, 0
        return Event(
            step,
            "switch_to_decay",
            f"{why}; cosine from lr={value:.4g} to {self.final_lr:g} over {self.total_steps - step} updates",
            value,
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "switch_step": self.switch_step,
            "switch_lr": self.switch_lr,
            "multiplier": self.multiplier,
            "ema": self.ema,
            "updates": self.updates,
            "max_drop": self.max_drop,
            "cuts": [list(c) for c in self.cuts],
            "recent": list(self.recent),
            "history": list(self.history),
            "best": self.best,
            "bad": self.bad,
            "cooling": self.cooling,
            "events": [e.to_dict() for e in self.events],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.phase, self.switch_step, self.switch_lr = (
            state["phase"],
            state["switch_step"],
            state["switch_lr"],
        )
        self.multiplier, self.ema, self.updates = state["multiplier"], state["ema"], state["updates"]
        self.max_drop = state["max_drop"]
        self.cuts = [(int(a), float(b)) for a, b in state["cuts"]]
        self.recent = deque(state["recent"], maxlen=2 * self.patience)
        self.history = deque(state["history"], maxlen=self.window + 1)
        self.best, self.bad, self.cooling = state["best"], state["bad"], state["cooling"]
        self.events = [Event(**e) for e in state["events"]]
