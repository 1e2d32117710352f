"""The LR range test (Smith 2017, "Cyclical Learning Rates for Training Neural Networks",
section 3.3), done so that it can be trusted.

Train for ``num_steps`` updates while the learning rate climbs a fixed ladder from
``start_lr`` to ``end_lr``, record the loss of every update, stop when the loss diverges,
and read suggestions off the curve. Everything the sweep touched (parameters, buffers,
optimizer state and param groups, GradScaler, scheduler, RNG states) is put back when it
ends, raises or is interrupted: a run after a sweep is bit for bit the run without one.

The ladder (update ``i = 0 .. n-1``, ``n = num_steps``)::

    exponential:  lr_i = start * (end / start) ** (i / (n - 1))
    linear:       lr_i = start + (end - start) * i / (n - 1)

so ``lr_0 = start`` and ``lr_{n-1} = end`` exactly; no step is twice as wide as another.

The smoothed loss is a bias-corrected exponential moving average (as fastai's
``LRFinder``): ``m_i = beta m_{i-1} + (1 - beta) loss_i``, ``smoothed_i = m_i / (1 - beta^(i+1))``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

#: the suggestion labels, in the order they are reported
LABELS = ("steepest", "valley", "min/10", "stable/2", "warmup+cosine", "1cycle")
#: the label :attr:`FinderResult.recommended` returns
RECOMMENDED = "warmup+cosine"


class Suggestion(NamedTuple):
    """A suggested learning rate (None when the curve does not support one) and why.

    ``low``/``high`` bound the interval for the ``interval`` label (several sweeps).
    """

    lr: float | None
    reason: str
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lr": self.lr, "reason": self.reason}
        if self.low is not None:
            out.update(low=self.low, high=self.high)
        return out


# --- pure functions over a curve ----------------------------------------------------------


def lr_ladder(start_lr: float, end_lr: float, num_steps: int, mode: str = "exponential") -> np.ndarray:
    """The LRs of a sweep: ``start * (end/start)^(i/(n-1))`` (or linear), ``i = 0..n-1``."""
    _check_ladder(start_lr, end_lr, num_steps, mode)
    i = np.arange(num_steps, dtype=np.float64)
    if mode == "exponential":
        lrs = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
    else:
        lrs = start_lr + (end_lr - start_lr) * (i / (num_steps - 1))
    lrs[0], lrs[-1] = start_lr, end_lr
    return lrs


def smooth(losses: Sequence[float], beta: float = 0.98) -> np.ndarray:
    """Bias-corrected EMA of ``losses`` (fastai): ``m_i / (1 - beta^(i+1))``; NaN from the
    first non-finite loss on."""
    out = np.empty(len(losses))
    avg = 0.0
    for i, loss in enumerate(losses):
        if not math.isfinite(loss):
            out[i:] = math.nan
            break
        avg = beta * avg + (1.0 - beta) * loss
        out[i] = avg / (1.0 - beta ** (i + 1))
    return out


def diverged(smoothed: float, best: float, first: float, factor: float) -> bool:
    """The divergence rule, valid for any sign of the loss.

    With a positive best clearly away from zero (above 1% of the first smoothed loss's
    magnitude): ``smoothed > factor * best`` (fastai and torch-lr-finder's rule). Otherwise
    (a best at or below zero, or near it) the rise above the best is measured against the
    larger of ``|best|`` and the descent so far: ``smoothed - best > (factor - 1) *
    max(|best|, first - best)``, which equals the first rule whenever both apply to a
    positive best that dominates the descent.
    """
    if not math.isfinite(smoothed):
        return True
    if best > 0.01 * abs(first) and best > 0:
        return smoothed > factor * best
    scale = max(abs(best), first - best)
    if scale <= 0:
        scale = max(abs(first), 1e-12)
    return smoothed - best > (factor - 1.0) * scale


def _longest_descent(values: np.ndarray) -> tuple[int, int]:
    """Start and end index of a longest strictly decreasing subsequence of ``values``, as in
    fastai's ``valley`` (patience sorting, O(n log n), so long sweeps stay cheap)."""
    import bisect

    negated = [-float(v) for v in values]
    tails: list[float] = []  # smallest tail (negated) of an increasing run of each length
    tail_index: list[int] = []
    previous = [-1] * len(negated)
    for i, v in enumerate(negated):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_index.append(i)
        else:
            tails[k] = v
            tail_index[k] = i
        previous[i] = tail_index[k - 1] if k > 0 else -1
    end = tail_index[-1]
    start = end
    while previous[start] != -1:
        start = previous[start]
    return start, end


def suggest(
    lrs: Sequence[float] | np.ndarray,
    smoothed: Sequence[float] | np.ndarray,
    *,
    stopped_for_divergence: bool,
    skip_start: int = 0,
    end_lr: float | None = None,
    min_drop: float = 0.01,
) -> dict[str, Suggestion]:
    """The labelled suggestions read off a (log-LR, smoothed-loss) curve.

    - ``steepest``: the LR of the most negative slope ``d smoothed / d ln lr`` (central
      differences), before the minimum.
    - ``valley``: the geometric middle of the longest descending stretch of the curve (the
      idea of fastai's ``valley``, by Kerem Turgutlu), counted from where the loss has made
      10% of its descent: a long, almost flat start at tiny LRs is no valley.
    - ``min/10``: a tenth of the LR at the smoothed minimum (fastai's ``minimum``).
    - ``stable/2``: half the largest LR before divergence: the LR where the final ascent of
      the smoothed loss began (walking back from the divergence, or from the first point
      above the starting loss, while the loss keeps falling); None if the loss neither
      diverged nor came back above its start.
    - ``warmup+cosine``: the recommended peak for warmup + cosine: the geometric mean of
      ``steepest`` and the LR of the minimum, capped by ``stable/2`` (a heuristic:
      its accuracy on the lab's tasks is measured in docs/finder.md).
    - ``1cycle``: the recommended ``max_lr`` of 1cycle: the LR of the minimum / 3 (its
      warmup of 30% and annealing tolerate LRs close to the edge; Smith & Topin 2019).

    A curve with no descending part, or whose smoothed loss falls by less than ``min_drop``
    (1%) of its starting value before it rises, gives None for every label, with the reason.
    """
    x = np.log(np.asarray(lrs, dtype=np.float64))
    y = np.asarray(smoothed, dtype=np.float64)
    finite = np.isfinite(y)
    n = len(y) if finite.all() else int(np.flatnonzero(~finite)[0])
    x, y = x[:n], y[:n]
    out: dict[str, Suggestion] = {}
    if n < 3:
        why = f"only {n} finite loss(es) recorded; need at least 3 (lower start_lr or raise num_steps)"
        return {label: Suggestion(None, why) for label in LABELS}
    lo = min(skip_start, max(0, n - 3))
    i_min = lo + int(np.argmin(y[lo:]))
    lr_min = float(math.exp(x[i_min]))
    drop = y[lo] - y[i_min]
    noise = float(np.median(np.abs(np.diff(y[lo:])))) if n - lo > 2 else 0.0
    if i_min == lo or drop <= max(noise, 1e-12 * max(1.0, abs(y[lo]))):
        why = (
            f"the smoothed loss never fell below its value at the start of the sweep "
            f"(lr={math.exp(x[lo]):.3g}); the curve has no descending part: lower start_lr"
        )
        return {label: Suggestion(None, why) for label in LABELS}
    if drop < min_drop * abs(y[lo]):
        why = (
            f"the smoothed loss fell only {100 * drop / abs(y[lo]):.2g}% (from {y[lo]:.4g} to "
            f"{y[i_min]:.4g}) before it rose: too little descent to read; raise num_steps "
            f"(or use larger batches)"
        )
        return {label: Suggestion(None, why) for label in LABELS}
    slope = np.gradient(y[lo : i_min + 1], x[lo : i_min + 1]) if i_min - lo >= 1 else np.zeros(1)
    i_steep = lo + int(np.argmin(slope))
    lr_steep = float(math.exp(x[i_steep]))
    out["steepest"] = Suggestion(
        lr_steep,
        f"steepest descent of the smoothed loss against log lr "
        f"(slope {float(slope.min()):.3g} per e-fold) at step {i_steep}",
    )
    a = lo + int(np.flatnonzero(y[lo : i_min + 1] <= y[lo] - 0.1 * drop)[0])
    sub = y[a : i_min + 1]
    first, last = _longest_descent(sub)
    a, b = a + first, a + last
    lr_valley = float(math.exp(0.5 * (x[a] + x[b])))
    out["valley"] = Suggestion(
        lr_valley,
        f"middle (in log lr) of the longest descending stretch after the "
        f"first 10% of the descent, steps {a}..{b} "
        f"(lr {math.exp(x[a]):.3g}..{math.exp(x[b]):.3g})",
    )
    out["min/10"] = Suggestion(
        lr_min / 10,
        f"a tenth of lr={lr_min:.3g}, where the smoothed loss is lowest ({y[i_min]:.4g}, step {i_min})",
    )
    above = np.flatnonzero(y[i_min:] > y[lo])
    stable: float | None = None
    edge: int | None = n - 1 if stopped_for_divergence else (i_min + int(above[0]) if above.size else None)
    if edge is not None:
        j = edge
        while j > lo and y[j - 1] < y[j]:  # back down the final ascent to where it began
            j -= 1
        stable = float(math.exp(x[j]))
        what = "divergence" if stopped_for_divergence else f"the loss rose above its start ({y[lo]:.4g})"
        out["stable/2"] = Suggestion(
            stable / 2,
            f"half of lr={stable:.3g}, where the final ascent of the "
            f"smoothed loss began (step {j}), before {what}",
        )
    else:
        top = f"{end_lr:.3g}" if end_lr is not None else "the end of the sweep"
        out["stable/2"] = Suggestion(
            None, f"the loss never came back above its start up to lr={top}; raise end_lr to find the edge"
        )
    peak = math.sqrt(lr_steep * lr_min)
    why = f"geometric mean of steepest ({lr_steep:.3g}) and the minimum's lr ({lr_min:.3g})"
    if stable is not None and peak > stable / 2:
        peak, why = stable / 2, why + f", capped at stable/2 ({stable / 2:.3g})"
    out["warmup+cosine"] = Suggestion(peak, why)
    out["1cycle"] = Suggestion(
        lr_min / 3,
        f"a third of lr={lr_min:.3g} at the minimum (1cycle's warmup "
        "and annealing tolerate a peak near the edge)",
    )
    return {label: out[label] for label in LABELS}


def _merged(runs: list[FinderResult], seeds: Sequence[Any], settings: Any) -> FinderResult:
    """One result for sweeps with several seeds: the first sweep's curve, the suggestions
    combined over every sweep (with an interval), each seed's stop reason."""
    first = runs[0]
    return FinderResult(
        first.lrs,
        first.losses,
        first.smoothed_losses,
        combine(runs),
        any(r.stopped_early for r in runs),
        "; ".join(f"seed {s}: {r.reason}" for s, r in zip(seeds, runs)),
        sum(r.num_updates for r in runs),
        runs,
        settings,
    )


def combine(sweeps: Sequence[FinderResult]) -> dict[str, Suggestion]:
    """Suggestions over several sweeps (different seeds): each label's geometric mean over
    the sweeps that gave one, plus ``interval``: the range of the recommended label."""
    out: dict[str, Suggestion] = {}
    for label in LABELS:
        values = [v for v in (s.suggestions[label].lr for s in sweeps) if v is not None]
        if not values:
            out[label] = Suggestion(None, f"no sweep gave one: {sweeps[0].suggestions[label].reason}")
            continue
        mean = float(math.exp(np.mean(np.log(values))))
        out[label] = Suggestion(
            mean,
            f"geometric mean over {len(values)} of {len(sweeps)} sweeps "
            f"(range {min(values):.3g}..{max(values):.3g})",
        )
    rec = [v for v in (s.suggestions[RECOMMENDED].lr for s in sweeps) if v is not None]
    if rec:
        out["interval"] = Suggestion(
            float(math.exp(np.mean(np.log(rec)))),
            f"range of {RECOMMENDED!r} over {len(rec)} sweeps",
            float(min(rec)),
            float(max(rec)),
        )
    else:
        out["interval"] = Suggestion(None, "no sweep gave a recommendation")
    return out


# --- the result ---------------------------------------------------------------------------


@dataclass
class FinderResult:
    """A sweep's record: the LR and loss of every update, its suggestions and why it ended.

    ``lrs[i]`` is the LR update ``i`` used (the first param group's; the others keep their
    ratio to it), ``losses[i]`` its raw loss (the mean over accumulated micro-batches),
    ``smoothed_losses[i]`` the bias-corrected EMA. With several seeds, these are the
    first sweep's and :attr:`sweeps` holds all of them; suggestions combine them.
    """

    lrs: list[float]
    losses: list[float]
    smoothed_losses: list[float]
    suggestions: dict[str, Suggestion]
    stopped_early: bool
    reason: str
    num_updates: int
    sweeps: list[FinderResult] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def smoothed(self) -> list[float]:
        """Alias of :attr:`smoothed_losses`."""
        return self.smoothed_losses

    @property
    def recommended(self) -> Suggestion:
        """The recommended peak LR (for warmup + cosine)."""
        return self.suggestions[RECOMMENDED]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite losses as None)."""

        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        out: dict[str, Any] = {
            "lrs": self.lrs,
            "losses": [num(v) for v in self.losses],
            "smoothed_losses": [num(v) for v in self.smoothed_losses],
            "suggestions": {k: v.to_dict() for k, v in self.suggestions.items()},
            "recommended": RECOMMENDED,
            "stopped_early": self.stopped_early,
            "reason": self.reason,
            "num_updates": self.num_updates,
            "settings": self.settings,
        }
        if self.sweeps:
            out["sweeps"] = [{k: v for k, v in s.to_dict().items() if k != "settings"} for s in self.sweeps]
        return out

    def plot(self, ax: Any = None, path: str | None = None, *, show_raw: bool = True) -> Any:
        """Loss against LR (log axis) with every suggestion marked; saved to ``path`` if given.
        Needs matplotlib. Returns the axes."""
        import matplotlib

        if ax is None and path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig = None
        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 4.2))
        sweeps = self.sweeps or [self]
        for k, sweep in enumerate(sweeps):
            if show_raw:
                ax.plot(sweep.lrs, sweep.losses, color="0.75", lw=0.8, label="raw loss" if k == 0 else None)
            ax.plot(
                sweep.lrs,
                sweep.smoothed_losses,
                color="C0",
                lw=1.6,
                label="smoothed loss" if k == 0 else None,
            )
        colors = {label: f"C{i + 1}" for i, label in enumerate(LABELS)}
        for label, s in self.suggestions.items():
            if s.lr is None:
                continue
            if label == "interval":
                ax.axvspan(s.low, s.high, color="C1", alpha=0.12, label=f"interval {s.low:.2g}..{s.high:.2g}")
                continue
            style = "-" if label == RECOMMENDED else "--"
            ax.axvline(s.lr, color=colors.get(label, "k"), ls=style, lw=1.2, label=f"{label}: {s.lr:.2g}")
        ax.set_xscale("log")
        finite = [v for v in self.smoothed_losses if math.isfinite(v)]
        if finite:
            lo, hi = min(finite), max(finite)
            pad = 0.1 * (hi - lo or abs(hi) or 1.0)
            ax.set_ylim(lo - pad, hi + 3 * pad)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title(
            "LR range test" + (f" (stopped: {self.reason})" if self.stopped_early else ""), fontsize=9
        )
        ax.legend(fontsize=7)
        if path is not None:
            (fig or ax.figure).savefig(path, dpi=120, bbox_inches="tight")
            if fig is not None:
                plt.close(fig)
        return ax


# --- argument checks ----------------------------------------------------------------------


def _number(
    name: str, value: Any, *, positive: bool = False, low: float | None = None, high: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    value = float(value)
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0; got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high}]; got {value!r}")
    return value


def _integer(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}")
    return int(value)


def _check_ladder(start_lr: Any, end_lr: Any, num_steps: Any, mode: Any) -> None:
    start = _number("start_lr", start_lr, positive=True)
    end = _number("end_lr", end_lr, positive=True)
    if not start < end:
        raise ValueError(f"start_lr must be < end_lr; got start_lr={start_lr!r}, end_lr={end_lr!r}")
    _integer("num_steps", num_steps, 2)
    if mode not in ("exponential", "linear"):
        raise ValueError(f"mode must be 'exponential' or 'linear'; got {mode!r}")


def auto_beta(num_steps: int) -> float:
    """The EMA factor whose lag, ``beta / (1 - beta)`` updates, is about 5% of the sweep:
    ``1 - 1 / max(5, num_steps / 20)`` (0.8 for 100 updates, 0.933 for 300).

    fastai's fixed 0.98 lags 49 updates: half of a 100-update sweep, 4 decades of LR on
    the 1e-7..10 ladder, which shifts every suggestion read off the smoothed curve to larger
    LRs than the ones that produced the loss."""
    return 1.0 - 1.0 / max(5.0, num_steps / 20.0)


def _beta(value: Any, num_steps: int) -> float:
    if value is None:
        return auto_beta(num_steps)
    return _number("smooth_beta", value, low=0.0, high=0.999)


def _check_seeds(seeds: Any) -> list[int] | None:
    if seeds is None:
        return None
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ValueError(f"seeds must be a sequence of ints >= 0; got {seeds!r}")
    values = list(seeds)
    if not values or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0 for s in values):
        raise ValueError(f"seeds must be a non-empty sequence of ints >= 0; got {seeds!r}")
    return [int(s) for s in values]


# --- the sweep ----------------------------------------------------------------------------


class _Batches:
    """Batches from ``data``, restarting a re-iterable (list, DataLoader) when it runs out;
    a one-shot iterator that runs out ends the sweep."""

    def __init__(self, data: Iterable[Any]) -> None:
        if not isinstance(data, Iterable):
            raise ValueError(f"data must be an iterable of batches; got {type(data).__name__}")
        self.data = data
        self.iterator: Iterator[Any] = iter(data)
        self.one_shot = self.iterator is data
        self.seen = 0

    def next(self) -> Any:
        try:
            batch = next(self.iterator)
        except StopIteration:
            if self.seen == 0:
                raise ValueError("data is empty: it yielded no batch") from None
            if self.one_shot:
                raise
            self.iterator = iter(self.data)
            try:
                batch = next(self.iterator)
            except StopIteration:
                raise ValueError("data yielded no batch on its second pass") from None
        self.seen += 1
        return batch


def _loss_value(loss: Any, where: str) -> tuple[Any, float]:
    import torch

    if not isinstance(loss, torch.Tensor):
        raise ValueError(f"{where} must return a scalar torch.Tensor loss; got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(f"{where} must return a scalar loss; got a tensor of shape {tuple(loss.shape)}")
    return loss, float(loss.detach().float().item())


def _set_lr(optimizer: Any, scales: list[float], lr: float) -> None:
    import torch

    for group, scale in zip(optimizer.param_groups, scales):
        value = lr * scale
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(value)
        else:
            group["lr"] = value


def _group_scales(optimizer: Any) -> list[float]:
    lrs = [float(g["lr"]) for g in optimizer.param_groups]
    if lrs[0] > 0 and all(math.isfinite(v) and v >= 0 for v in lrs):
        return [v / lrs[0] for v in lrs]
    return [1.0] * len(lrs)


def find_lr(
    model: Any = None,
    optimizer: Any = None,
    data: Iterable[Any] | None = None,
    loss_fn: Callable[..., Any] | None = None,
    *,
    step: Callable[..., Any] | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exponential",
    smooth_beta: float | None = None,
    diverge_factor: float = 4.0,
    accumulation_steps: int = 1,
    scaler: Any = None,
    amp_dtype: Any = None,
    scheduler: Any = None,
    seeds: Sequence[int] | None = None,
    skip_start: int | None = None,
    progress: Callable[[int, int, float, float], None] | None = None,
) -> FinderResult:
    """Run the LR range test and put everything back as it was.

    Two forms:

    - ``find_lr(model, optimizer, data, loss_fn)``: ``data`` yields ``(inputs, targets)``
      batches, the loss of a batch is ``loss_fn(model(inputs), targets)``;
    - ``find_lr(step=fn, optimizer=opt, data=..., model=...)``: ``fn(batch)`` runs the
      forward and the backward pass and returns the loss tensor, so any training loop
      works (called as ``fn()`` when ``data`` is None). ``model`` is optional there: give
      it so its buffers (batch-norm statistics) are restored too.

    Update ``i`` uses ``lr_i`` of the ladder (see the module docstring) in the first param
    group; other groups keep their ratio to it. Each update accumulates
    ``accumulation_steps`` micro-batches (``loss / accumulation_steps`` is backpropagated in
    the first form; a closure divides by itself) and reports their mean loss. With a
    ``scaler`` (``torch.amp.GradScaler``) the first form backpropagates
    ``scaler.scale(loss)`` under ``torch.autocast`` (``amp_dtype``, default float16 on CUDA
    and bfloat16 on CPU) and steps with ``scaler.step``; a closure scales its own loss.
    ``amp_dtype`` alone (e.g. ``torch.bfloat16``, no scaler) runs the forward pass under
    autocast without loss scaling.

    The sweep stops at the first non-finite loss or when the smoothed loss diverges
    (:func:`diverged`, ``diverge_factor`` 4 as fastai), or when a one-shot iterator runs out
    (a list or DataLoader is restarted instead). A one-shot iterator's consumed batches stay
    consumed: the sweep reads ``num_steps * accumulation_steps`` batches at most.

    ``seeds``: one sweep per seed (Python, numpy and torch seeded with it; the state is put
    back between sweeps), combined by :func:`combine` with an ``interval`` label.

    Afterwards (also after an exception or KeyboardInterrupt) the model's parameters,
    gradients, buffers and train/eval modes, the optimizer's state and param groups, the
    scaler, the ``scheduler`` and the RNG states of Python, numpy and torch (CPU and CUDA)
    are exactly what they were.
    """
    import torch
    from torch.optim import Optimizer

    from ._state import TrainingState

    _check_ladder(start_lr, end_lr, num_steps, mode)
    smooth_beta = _beta(smooth_beta, num_steps)
    diverge_factor = _number("diverge_factor", diverge_factor)
    if not diverge_factor > 1:
        raise ValueError(f"diverge_factor must be > 1; got {diverge_factor!r}")
    accumulation_steps = _integer("accumulation_steps", accumulation_steps, 1)
    seed_list = _check_seeds(seeds)
    if skip_start is not None:
        skip_start = _integer("skip_start", skip_start, 0)
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    if step is None:
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"model must be a torch.nn.Module (or pass step=fn); got {type(model).__name__}")
        if data is None:
            raise ValueError("data must be an iterable of (inputs, targets) batches; got None")
        if not callable(loss_fn):
            raise ValueError(f"loss_fn must be callable as loss_fn(outputs, targets); got {loss_fn!r}")
    else:
        if not callable(step):
            raise ValueError(f"step must be callable as step(batch) -> loss; got {step!r}")
        if loss_fn is not None:
            raise ValueError("pass either loss_fn (with model and data) or step=fn, not both")
        if model is not None and not isinstance(model, torch.nn.Module):
            raise ValueError(f"model must be a torch.nn.Module or None; got {type(model).__name__}")
    if data is not None and not isinstance(data, Iterable):
        raise ValueError(f"data must be an iterable of batches; got {type(data).__name__}")
    if scaler is not None and not (hasattr(scaler, "scale") and hasattr(scaler, "step")):
        raise ValueError(f"scaler must be a torch.amp.GradScaler; got {type(scaler).__name__}")

    lrs = lr_ladder(start_lr, end_lr, num_steps, mode)
    skip = skip_start if skip_start is not None else max(0, min(num_steps // 10, 10))
    settings = {
        "start_lr": float(start_lr),
        "end_lr": float(end_lr),
        "num_steps": num_steps,
        "mode": mode,
        "smooth_beta": smooth_beta,
        "diverge_factor": diverge_factor,
        "accumulation_steps": accumulation_steps,
        "skip_start": skip,
        "seeds": seed_list,
    }
    saved = TrainingState.capture(model, optimizer, scaler=scaler, scheduler=scheduler)
    batches = None if data is None else _Batches(data)
    try:
        runs = []
        for k, seed in enumerate(seed_list or [None]):
            if k:
                saved.restore()
            if seed is not None:
                _seed_all(seed)
            runs.append(
                _sweep(
                    model,
                    optimizer,
                    batches,
                    loss_fn,
                    step,
                    lrs,
                    smooth_beta,
                    diverge_factor,
                    accumulation_steps,
                    scaler,
                    amp_dtype,
                    skip,
                    progress,
                    k,
                    len(seed_list or [None]),
                    settings,
                )
            )
    finally:
        saved.restore()
    if seed_list is None:
        return runs[0]
    return _merged(runs, seed_list, settings)


def _seed_all(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _sweep(
    model: Any,
    optimizer: Any,
    batches: _Batches | None,
    loss_fn: Any,
    step: Any,
    lrs: np.ndarray,
    beta: float,
    factor: float,
    accumulation: int,
    scaler: Any,
    amp_dtype: Any,
    skip: int,
    progress: Any,
    sweep: int,
    sweeps: int,
    settings: dict[str, Any],
) -> FinderResult:
    import torch

    scales = _group_scales(optimizer)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    device_type = params[0].device.type if params else "cpu"
    dtype = amp_dtype or (torch.float16 if device_type == "cuda" else torch.bfloat16)
    use_amp = step is None and (scaler is not None or amp_dtype is not None)
    if model is not None:
        model.train()
    done_lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best, first = 0.0, math.inf, math.nan
    stopped, reason = False, f"reached end_lr={lrs[-1]:.3g} after {len(lrs)} updates"
    for i, lr in enumerate(lrs):
        _set_lr(optimizer, scales, float(lr))
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        try:
            for _ in range(accumulation):
                batch = batches.next() if batches is not None else None
                if step is not None:
                    _, value = _loss_value(step() if batches is None else step(batch), "step(batch)")
                else:
                    inputs, targets = _unpack(batch)
                    with torch.autocast(device_type, dtype=dtype, enabled=use_amp):
                        loss, value = _loss_value(
                            loss_fn(model(inputs), targets), "loss_fn(model(inputs), targets)"
                        )
                    scaled = loss / accumulation
                    (scaler.scale(scaled) if scaler is not None else scaled).backward()
                total += value
        except StopIteration:
            stopped, reason = (
                True,
                f"data ran out after {batches.seen if batches else 0} batches ({i} updates)",
            )
            break
        loss_i = total / accumulation
        done_lrs.append(float(lr))
        losses.append(loss_i)
        if not math.isfinite(loss_i):
            smoothed.append(math.nan)
            stopped, reason = True, f"non-finite loss {loss_i} at update {i} (lr={lr:.3g})"
            break
        avg = beta * avg + (1 - beta) * loss_i
        s = avg / (1 - beta ** (i + 1))
        smoothed.append(s)
        if i == 0:
            first = s
        if progress is not None:
            progress(sweep * len(lrs) + i + 1, sweeps * len(lrs), float(lr), loss_i)
        if i >= skip and diverged(s, best, first, factor):
            stopped = True
            reason = f"smoothed loss {s:.4g} diverged at update {i} (lr={lr:.3g}; best {best:.4g})"
            break
        best = min(best, s) if i >= skip else best
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
    divergent = stopped and not reason.startswith("data ran out")
    suggestions = suggest(
        done_lrs, smoothed, stopped_for_divergence=divergent, skip_start=skip, end_lr=float(lrs[-1])
    )
    return FinderResult(done_lrs, losses, smoothed, suggestions, stopped, reason, len(losses), [], settings)


def _unpack(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, Mapping) or not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(
            "data must yield (inputs, targets) pairs in the model/loss_fn form "
            f"(use step=fn for other batches); got {type(batch).__name__}"
        )
    return batch[0], batch[1]


# --- any lab task -------------------------------------------------------------------------


def find_lr_task(
    task: Any,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exponential",
    seeds: Sequence[int] = (0,),
    options: Mapping[str, Any] | None = None,
    smooth_beta: float | None = None,
    diverge_factor: float = 4.0,
    skip_start: int | None = None,
    progress: Callable[[int, int, float, float], None] | None = None,
) -> FinderResult:
    """The range test on a lab task (``circle``, ``digits``, ``charlm`` or ``module:fn``).

    A task trains under a schedule, so the sweep is the task run under the ladder as a
    schedule: ``geometric(start_lr, end_lr, num_steps - 1)`` (``linear`` for the linear
    mode), whose value at update ``i`` is ``lr_i``; its recorded ``(lr, loss)`` rows are the
    curve. The task's own divergence rule (100x the first loss or non-finite) may stop it;
    :func:`diverged` is then applied to the rows. A task runs in its own fresh state, so
    nothing of the caller's changes. ``progress`` is called once per seed.
    """
    import lrlab
    from lrlab.lab.tasks import check_task_options, get_task

    _check_ladder(start_lr, end_lr, num_steps, mode)
    smooth_beta = _beta(smooth_beta, num_steps)
    diverge_factor = _number("diverge_factor", diverge_factor)
    if not diverge_factor > 1:
        raise ValueError(f"diverge_factor must be > 1; got {diverge_factor!r}")
    seed_list = _check_seeds(seeds) or [0]
    task = get_task(task)
    opts = dict(options or {})
    check_task_options(task, opts)
    ramp = lrlab.geometric if mode == "exponential" else lrlab.linear
    schedule = ramp(float(start_lr), float(end_lr), num_steps - 1)
    skip = skip_start if skip_start is not None else max(0, min(num_steps // 10, 10))
    settings = {
        "task": task.name,
        "options": opts,
        "start_lr": float(start_lr),
        "end_lr": float(end_lr),
        "num_steps": num_steps,
        "mode": mode,
        "smooth_beta": smooth_beta,
        "diverge_factor": diverge_factor,
        "skip_start": skip,
        "seeds": seed_list,
        "schedule": str(schedule),
    }
    runs = []
    for k, seed in enumerate(seed_list):
        result = task.run(schedule, seed=seed, steps=num_steps, **opts)
        rows = result.history
        runs.append(
            analyse(
                [r.lr for r in rows],
                [r.loss for r in rows],
                smooth_beta=smooth_beta,
                diverge_factor=diverge_factor,
                skip_start=skip,
                end_lr=float(end_lr),
                settings=settings,
                task_stop=result.info.get("stop_reason"),
            )
        )
        if progress is not None:
            progress((k + 1) * num_steps, len(seed_list) * num_steps, float(end_lr), math.nan)
    if len(runs) == 1:
        return runs[0]
    return _merged(runs, seed_list, settings)


def analyse(
    lrs: Sequence[float],
    losses: Sequence[float],
    *,
    smooth_beta: float | None = None,
    diverge_factor: float = 4.0,
    skip_start: int = 0,
    end_lr: float | None = None,
    settings: Mapping[str, Any] | None = None,
    task_stop: str | None = None,
) -> FinderResult:
    """A :class:`FinderResult` from a recorded ``(lr, loss)`` sweep (e.g. from your own
    loop's log): smoothing, the divergence cut-off and the suggestions."""
    if len(lrs) != len(losses):
        raise ValueError(f"lrs and losses must have the same length; got {len(lrs)} and {len(losses)}")
    if not len(lrs):
        raise ValueError("lrs is empty: the sweep recorded no update")
    smooth_beta = _beta(smooth_beta, len(lrs))
    smoothed = smooth([float(v) for v in losses], smooth_beta)
    best, first = math.inf, float(smoothed[0])
    n, stopped, reason = len(lrs), False, f"reached lr={lrs[-1]:.3g} after {len(lrs)} updates"
    for i, s in enumerate(smoothed):
        if not math.isfinite(losses[i]):
            n, stopped, reason = i + 1, True, f"non-finite loss {losses[i]} at update {i} (lr={lrs[i]:.3g})"
            break
        if i >= skip_start and diverged(float(s), best, first, diverge_factor):
            n, stopped = i + 1, True
            reason = f"smoothed loss {s:.4g} diverged at update {i} (lr={lrs[i]:.3g}; best {best:.4g})"
            break
        if i >= skip_start:
            best = min(best, float(s))
    if not stopped and task_stop:
        stopped, reason = True, f"the task stopped the run: {task_stop}"
    lr_list, loss_list = [float(v) for v in lrs[:n]], [float(v) for v in losses[:n]]
    suggestions = suggest(
        lr_list, smoothed[:n], stopped_for_divergence=stopped, skip_start=skip_start, end_lr=end_lr
    )
    return FinderResult(
        lr_list,
        loss_list,
        [float(v) for v in smoothed[:n]],
        suggestions,
        stopped,
        reason,
        len(lrs),
        [],
        dict(settings or {}),
    )
