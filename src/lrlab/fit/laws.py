"""Loss-curve laws: predict the loss curve of a schedule from curves of other schedules.

Two published laws, each a function of the learning rates used so far (``eta_i``, the LR of
update ``i``, ``i = 0, 1, ...``) evaluated at a step ``t`` (the loss logged at step ``t``):

**Multi-power law** (Luo et al., "A Multi-Power Law for Loss Curve Prediction Across
Learning Rate Schedules", ICLR 2025, eq. 4)::

    L(t) = L0 + A * (S1(t) + S_W)^(-alpha) - LD(t)
    LD(t) = B * sum_{k=1}^{t} (eta_{k-1} - eta_k) * G(eta_k^(-gamma) * S_k(t))
    G(x) = 1 - (C * x + 1)^(-beta),    S_k(t) = sum_{tau=k}^{t} eta_tau

``S1(t) + S_W`` is the area under the whole schedule up to ``t`` (warmup included:
``sum_{i=0}^{t} eta_i``). As in the authors' code, the loss-drop sum runs over every
step ``k >= 1`` including the warmup, where the LR rises and the term adds to the loss
(the paper writes ``t`` from the end of warmup; the published parameters were fitted with
the warmup in the sum, and reproduce the published errors only with it). Seven parameters
``L0, A, alpha, B, C, beta, gamma``.

**Tissue et al.** ("Scaling Law with Learning Rate Annealing", 2024, eq. 1)::

    L(t) = L0 + A * S1(t)^(-alpha) - C * S2(t)
    S1(t) = sum_{i=0}^{t} eta_i,    S2(t) = sum_{i=1}^{t} m_i,
    m_i = lam * m_{i-1} + (eta_{i-1} - eta_i)

with the decay ``lam = 0.999`` (the paper's default) and ``m`` starting at 0 at the end of
warmup. Four parameters ``L0, A, alpha, C``.

**Fitting** follows the papers: minimize the sum over logged points of the Huber loss
(``delta = 1e-3``) of ``log L_observed - log L_predicted`` with L-BFGS-B (scipy), from a
grid of starting points. For the multi-power law, as in its authors' code, a first grid
fits ``L0, A, alpha, B`` of the law with ``G = 1`` (starts around a log-log regression
of the loss on ``S1``), then the full law is fitted from a grid over ``C, beta, gamma``
(the authors' code finishes with AdamW; we use L-BFGS-B with exact gradients for every
stage). Parameters are kept positive by bounds.

A law that does not fit (no finite optimum, a prediction that is not positive) raises
:class:`LawFitError`: NaN parameters are never returned as a fit.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: names of the laws, as ``lrlab predict --law`` spells them
LAWS = ("multipower", "tissue")

#: parameter names of each law, in order
PARAMS: dict[str, tuple[str, ...]] = {
    "multipower": ("L0", "A", "alpha", "B", "C", "beta", "gamma"),
    "tissue": ("L0", "A", "alpha", "C"),
}

HUBER_DELTA = 1e-3
TISSUE_DECAY = 0.999


class LawFitError(ValueError):
    """The law could not be fitted (or predicts a non-positive loss): the reason is the text."""


# --- curves ----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Curve:
    """A training run as the laws see it: the LR of every update and the logged losses.

    ``lrs[i]`` is the LR of update ``i`` for ``i = 0 .. len(lrs) - 1``; ``steps`` are the
    steps at which ``loss`` was logged (strictly increasing, ``< len(lrs)``). ``loss`` is
    None for a curve to predict.
    """

    lrs: np.ndarray
    steps: np.ndarray
    loss: np.ndarray | None = None
    name: str = "curve"

    def __post_init__(self) -> None:
        lrs = np.asarray(self.lrs, dtype=np.float64)
        steps = np.asarray(self.steps)
        where = f"curve {self.name!r}"
        if lrs.ndim != 1 or lrs.size < 2:
            raise ValueError(f"{where}: lrs must be a 1-d array of at least 2 learning rates; "
                             f"got shape {lrs.shape}")
        if not np.all(np.isfinite(lrs)) or np.any(lrs < 0):
            raise ValueError(f"{where}: learning rates must be finite and >= 0; got "
                             f"min {np.nanmin(lrs)!r}, {int(np.sum(~np.isfinite(lrs)))} non-finite")
        if not np.any(lrs > 0):
            raise ValueError(f"{where}: every learning rate is 0: the laws need a positive LR")
        if steps.ndim != 1 or steps.size == 0:
            raise ValueError(f"{where}: steps must be a non-empty 1-d array; got shape {steps.shape}")
        if not np.all(np.isfinite(steps)) or np.any(steps != np.round(steps)):
            raise ValueError(f"{where}: steps must be whole numbers")
        steps = steps.astype(np.int64)
        if np.any(np.diff(steps) <= 0):
            bad = int(np.argmax(np.diff(steps) <= 0))
            raise ValueError(f"{where}: steps must be strictly increasing; got {steps[bad]} then "
                             f"{steps[bad + 1]}")
        if steps[0] < 0 or steps[-1] >= lrs.size:
            raise ValueError(f"{where}: steps must lie in [0, {lrs.size - 1}] (the LRs known); got "
                             f"{steps[0]}..{steps[-1]}")
        if self.loss is not None:
            loss = np.asarray(self.loss, dtype=np.float64)
            if loss.shape != steps.shape:
                raise ValueError(f"{where}: loss must have one value per step ({steps.size}); "
                                 f"got {loss.size}")
            if not np.all(np.isfinite(loss)) or np.any(loss <= 0):
                raise ValueError(f"{where}: losses must be finite and > 0 (the laws fit log loss)")
            object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "lrs", lrs)
        object.__setattr__(self, "steps", steps)

    @classmethod
    def from_schedule(cls, schedule: Any, steps: Iterable[int] | int, loss: Sequence[float] | None = None,
                      name: str | None = None) -> Curve:
        """The curve of a schedule (an lrlab Schedule, or its text form) at ``steps``.

        ``steps`` is the logged steps, or an int ``T`` for every step ``0 .. T - 1``.
        """
        import lrlab

        sched = lrlab.parse(schedule) if isinstance(schedule, str) else schedule
        at = np.arange(int(steps)) if isinstance(steps, (int, np.integer)) else np.asarray(list(steps))
        if at.size == 0:
            raise ValueError("steps must not be empty")
        last = int(np.max(at))
        lrs = np.asarray(sched.values(np.arange(last + 1)), dtype=np.float64)
        return cls(lrs, at, None if loss is None else np.asarray(loss, dtype=np.float64),
                   name or str(sched))

    @classmethod
    def from_log(cls, steps: Sequence[float], lrs: Sequence[float], loss: Sequence[float | None] | None,
                 name: str = "log") -> Curve:
        """A curve from a log of ``(step, lr, loss)`` rows, possibly sparse.

        The LR of every update is rebuilt by linear interpolation between logged LRs (exact
        for a log of every step). A log that starts after step 0 is taken to have warmed up
        linearly from 0 at step 0 to its first logged LR, the common convention; when the
        schedule is known, :meth:`from_schedule` is exact. Rows whose loss is None or NaN
        give the LR only.
        """
        s = np.asarray(steps, dtype=np.float64)
        lr = np.asarray(lrs, dtype=np.float64)
        if s.ndim != 1 or s.size != lr.size:
            raise ValueError(f"log {name!r}: steps and lrs must be 1-d of the same length; got "
                             f"{s.size} and {lr.size}")
        if s.size < 2:
            raise ValueError(f"log {name!r}: need at least 2 rows; got {s.size}")
        if np.any(np.diff(s) <= 0):
            bad = int(np.argmax(np.diff(s) <= 0))
            kind = "duplicate" if s[bad] == s[bad + 1] else "decreasing"
            raise ValueError(f"log {name!r}: steps must be strictly increasing; {kind} step "
                             f"{s[bad + 1]:g} after {s[bad]:g} (row {bad + 2})")
        if s[0] < 0 or np.any(s != np.round(s)):
            raise ValueError(f"log {name!r}: steps must be whole numbers >= 0")
        if not np.all(np.isfinite(lr)) or np.any(lr < 0):
            raise ValueError(f"log {name!r}: learning rates must be finite and >= 0")
        first, last = int(s[0]), int(s[-1])
        grid = np.arange(last + 1, dtype=np.float64)
        xs, ys = (s, lr) if first == 0 else (np.concatenate([[0.0], s]), np.concatenate([[0.0], lr]))
        per_step = np.interp(grid, xs, ys)
        if loss is None:
            return cls(per_step, s.astype(np.int64), None, name)
        values = np.array([np.nan if v is None else float(v) for v in loss], dtype=np.float64)
        if values.size != s.size:
            raise ValueError(f"log {name!r}: loss must have one value per row; got {values.size}")
        keep = ~np.isnan(values)
        if not np.any(keep):
            raise ValueError(f"log {name!r}: no loss values")
        return cls(per_step, s[keep].astype(np.int64), values[keep], name)

    def after(self, step: int) -> Curve:
        """The same run with the losses logged before ``step`` dropped (the LRs kept)."""
        keep = self.steps >= step
        if not np.any(keep):
            raise ValueError(f"curve {self.name!r}: no logged loss at or after step {step} "
                             f"(the last is at {int(self.steps[-1])})")
        return Curve(self.lrs, self.steps[keep], None if self.loss is None else self.loss[keep], self.name)

    @property
    def warmup_end(self) -> int:
        """The first step at which the LR reaches its maximum (0 with no warmup)."""
        return int(np.argmax(self.lrs))


def read_curve(path: str | Path, need_loss: bool = True) -> Curve:
    """Read a CSV with ``step``, ``lr`` and ``loss`` columns (``loss`` may be blank on rows
    that log only the LR) into a :class:`Curve` (see :meth:`Curve.from_log`). With
    ``need_loss=False`` a CSV without losses (or without a ``loss`` column) is a curve to
    predict, at every row."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ValueError(f"cannot read curve {str(path)!r}: {error.strerror or error}") from None
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"curve {str(path)!r} is empty; expected a CSV with columns step,lr,loss")
    header = [c.strip().lstrip("\ufeff").strip().lower() for c in rows[0]]
    if not need_loss and "loss" not in header:
        header.append("loss")
    missing = [c for c in ("step", "lr", "loss") if c not in header]
    if missing:
        raise ValueError(f"curve {str(path)!r}: missing column(s) {', '.join(missing)}; expected a "
                         f"header with step,lr,loss; got {','.join(rows[0])}")
    i_step, i_lr, i_loss = (header.index(c) for c in ("step", "lr", "loss"))
    steps, lrs, losses = [], [], []
    for n, row in enumerate(rows[1:], start=2):
        def num(i: int, col: str, blank_ok: bool = False, n: int = n, row: list[str] = row) -> float | None:
            text = row[i].strip() if i < len(row) else ""
            if not text and blank_ok:
                return None
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"curve {str(path)!r} line {n}: {col} must be a number; "
                                 f"got {text!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"curve {str(path)!r} line {n}: {col} must be finite; got {text!r}")
            return value
        steps.append(num(i_step, "step"))
        lrs.append(num(i_lr, "lr"))
        losses.append(num(i_loss, "loss", blank_ok=True))
    if len(steps) < 2:
        raise ValueError(f"curve {str(path)!r}: need at least 2 rows of data; got {len(steps)}")
    if not need_loss and all(v is None for v in losses):
        return Curve.from_log(steps, lrs, None, name=path.stem)  # type: ignore[arg-type]
    return Curve.from_log(steps, lrs, losses, name=path.stem)  # type: ignore[arg-type]


# --- the laws --------------------------------------------------------------------------------

#: the loss-drop sum is exact over the last NEAR steps before each logged step; earlier
#: steps are summed in blocks of BLOCK steps (see :func:`_loss_drop`)
NEAR = 1024
BLOCK = 64
WIDE = 1.25
#: logged points per chunk when predicting; at most this many per curve when fitting
_ROWS = 256
MAX_FIT_POINTS = 1000


@dataclass(frozen=True)
class _Prepared:
    """What a law needs of one curve, computed once per fit."""

    s1: np.ndarray          # area sum_{i<=t} eta_i at each logged t
    at: np.ndarray          # logged steps t
    s2: np.ndarray          # Tissue's annealing area at each logged t
    # the multi-power loss-drop terms with a nonzero gap, flattened over (logged t, k):
    row: np.ndarray         # index of the logged t
    gap: np.ndarray         # eta_{k-1} - eta_k (summed over a far block)
    log_eta: np.ndarray     # log eta_k (0 where eta_k = 0, see zero)
    S: np.ndarray           # S_k(t) = sum_{i=k}^{t} eta_i
    zero: np.ndarray        # eta_k = 0: G = 1 there


def _prepare(curve: Curve, decay: float = TISSUE_DECAY, exact: bool = False, terms: bool = True) -> _Prepared:
    """Precompute the areas and the loss-drop terms of a curve.

    The multi-power loss drop ``sum_{k=1}^{t} gap_k G(eta_k^-gamma S_k(t))`` is split at
    ``t - NEAR``: the last steps are summed exactly; the steps before are grouped in blocks
    of ``BLOCK`` steps, each block one term with its summed gap, at the ``|gap|``-weighted
    mean of ``sum_{i<k} eta_i`` and of ``log eta_k`` (exact for a block holding a single
    change; for a smooth decay the error is second order in ``BLOCK / NEAR``: below 1e-6
    of the loss on the published curves). A block whose LRs span more than a factor
    ``WIDE`` (the first steps of a warmup from 0, the last of a decay to 0) is summed
    exactly. ``exact=True`` sums every step (memory grows with steps x logged points: for
    short curves and tests).
    """
    lrs = curve.lrs[: int(curve.steps[-1]) + 1]
    cum = np.cumsum(lrs)
    cum_before = np.concatenate([[0.0], cum[:-1]])
    at = curve.steps
    n = at.size
    w = int(np.argmax(lrs))
    gap = np.zeros_like(lrs)
    gap[1:] = lrs[:-1] - lrs[1:]
    with np.errstate(divide="ignore"):
        log_eta = np.log(lrs)
    # Tissue's momentum of LR decreases after warmup: m_w = 0, m_i = decay m_{i-1} + gap_i
    g = gap.copy()
    g[: w + 1] = 0.0
    if decay > 0:
        from scipy.signal import lfilter

        m = lfilter([1.0], [1.0, -decay], g)
    else:
        m = g
    s2 = np.cumsum(m)[at]
    # long runs: coarser blocks (and a near window of 16 blocks), so that at most ~4096
    # blocks lie before any logged point and memory stays bounded
    block = max(BLOCK, int(at[-1]) // 4096)
    near, block = (int(at[-1]) + 1, 1) if exact else (max(NEAR, 16 * block), block)
    # far blocks [j * block, (j + 1) * block) lie wholly before first_k(t)
    first_k = np.maximum((at - near + 1) // block * block, 1)
    parts: list[tuple[np.ndarray, ...]] = []
    n_blocks = 0 if exact or not terms else int(first_k.max()) // block
    if n_blocks:
        idx = np.arange(n_blocks * block).reshape(n_blocks, block)
        bg = gap[idx]
        weight = np.abs(bg)
        total = weight.sum(axis=1)
        keep = total > 0
        safe = np.where(keep, total, 1.0)
        le = log_eta[idx]
        zero_b = (weight * ~np.isfinite(le)).sum(axis=1) > 0
        b_log = (weight * np.where(np.isfinite(le), le, 0.0)).sum(axis=1) / safe
        b_cum = (weight * cum_before[idx]).sum(axis=1) / safe
        b_gap = bg.sum(axis=1)
        # a block whose LRs span more than a factor WIDE (the start of a warmup from 0, the
        # end of a decay to 0) has no good single representative: its steps stay exact
        changing = bg != 0
        with np.errstate(invalid="ignore"):
            hi = np.where(changing, le, -np.inf).max(axis=1)
            lo = np.where(changing, le, np.inf).min(axis=1)
        wide = keep & (zero_b | (hi - lo > math.log(WIDE)))
        far = np.arange(n_blocks)[None, :] < (first_k // block)[:, None]
        r, j = np.nonzero(far & (keep & ~wide)[None, :])
        parts.append((r, b_gap[j], np.where(zero_b[j], 0.0, b_log[j]), cum[at][r] - b_cum[j], zero_b[j]))
        if np.any(wide):
            steps_w = idx[wide][changing[wide]]                 # the steps of the wide blocks
            r, c = np.nonzero(far[:, wide].repeat(changing[wide].sum(axis=1), axis=1))
            k = steps_w[c]
            zk = ~np.isfinite(log_eta[k])
            parts.append((r, gap[k], np.where(zk, 0.0, log_eta[k]), cum[at][r] - cum_before[k], zk))
    for i in range(n if terms else 0):
        k = np.arange(int(first_k[i]), int(at[i]) + 1)
        k = k[gap[k] != 0]
        if k.size:
            le = log_eta[k]
            zero = ~np.isfinite(le)
            parts.append((np.full(k.size, i), gap[k], np.where(zero, 0.0, le), cum[at[i]] - cum_before[k],
                          zero))
    if parts:
        row, gp, le, S, zero = (np.concatenate(c) for c in zip(*parts))
    else:
        row, gp, le, S, zero = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0),
                                np.zeros(0, dtype=bool))
    return _Prepared(cum[at], at, s2, row.astype(np.int64), gp, le, S, zero.astype(bool))


def _loss_drop(p: _Prepared, C: float, beta: float, gamma: float,
               grad: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """``sum_k gap_k G(eta_k^-gamma S_k(t))`` at each logged t (without B), and optionally
    its derivatives with respect to ``C, beta, gamma`` (shape ``(3, n)``)."""
    n = p.at.size
    if p.row.size == 0:
        return np.zeros(n), (np.zeros((3, n)) if grad else None)
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.exp(-gamma * p.log_eta) * p.S
    x = np.where(p.zero | ~np.isfinite(x), 0.0, x)
    z = 1.0 + C * x
    lz = np.log(z)
    pz = np.exp(-beta * lz)                          # (1 + C x)^-beta
    G = np.where(p.zero, 1.0, 1.0 - pz)              # eta_k = 0: G = 1
    out = np.bincount(p.row, p.gap * G, minlength=n)
    if not grad:
        return out, None
    q = np.where(p.zero, 0.0, beta * pz / z * x)     # dG/dC
    dbeta = np.where(p.zero, 0.0, pz * lz)
    dgamma = -q * C * p.log_eta
    d = np.stack([np.bincount(p.row, p.gap * v, minlength=n) for v in (q, dbeta, dgamma)])
    return out, d


def _predict_prepared(law: str, theta: np.ndarray, p: _Prepared,
                      grad: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Prediction at the logged steps and (optionally) its Jacobian ``(n_params, n)``."""
    with np.errstate(divide="ignore"):
        log_s1 = np.log(p.s1)
    if law == "multipower":
        L0, A, alpha, B, C, beta, gamma = theta
        power = np.exp(-alpha * log_s1)
        ld, dld = _loss_drop(p, C, beta, gamma, grad)
        pred = L0 + A * power - B * ld
        if not grad:
            return pred, None
        assert dld is not None
        jac = np.stack([np.ones_like(pred), power, -A * power * log_s1, -ld,
                        -B * dld[0], -B * dld[1], -B * dld[2]])
        return pred, jac
    L0, A, alpha, C = theta
    power = np.exp(-alpha * log_s1)
    pred = L0 + A * power - C * p.s2
    if not grad:
        return pred, None
    return pred, np.stack([np.ones_like(pred), power, -A * power * log_s1, -p.s2])


def _huber(r: np.ndarray, delta: float = HUBER_DELTA) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss of residuals and its derivative: ``r^2/2`` inside ``|r| <= delta``, else
    ``delta (|r| - delta/2)``."""
    a = np.abs(r)
    value = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
    return value, np.clip(r, -delta, delta)


def _objective(law: str, prepared: Sequence[_Prepared], targets: Sequence[np.ndarray],
               ) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """Sum of Huber(log L - log pred) over every logged point of every curve, with gradient."""
    def fn(theta: np.ndarray) -> tuple[float, np.ndarray]:
        total, g = 0.0, np.zeros_like(theta)
        for p, y in zip(prepared, targets):
            pred, jac = _predict_prepared(law, theta, p, grad=True)
            assert jac is not None
            ok = np.isfinite(pred) & (pred > 1e-12)
            safe = np.where(ok, pred, 1e-12)
            r = np.log(y) - np.log(safe)
            value, dr = _huber(r)
            total += float(value.sum())
            # d value / d theta = huber'(r) * (-1/pred) * d pred / d theta (0 where clipped)
            w = np.where(ok, -dr / safe, 0.0)
            g += np.where(np.isfinite(jac), jac, 0.0) @ w
        if not math.isfinite(total):
            return 1e30, np.zeros_like(theta)
        return total, g
    return fn


# --- fitting ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LawFit:
    """A fitted law: ``params`` by name, the Huber objective, the optimizer's report, and
    the fit's error on the curves it was fitted to (``r2``, ``mean_rel_error``,
    ``max_rel_error``, fractions)."""

    law: str
    params: dict[str, float]
    objective: float
    converged: bool
    message: str
    starts: int
    fit_errors: dict[str, float] = field(default_factory=dict)
    decay: float = TISSUE_DECAY

    def predict(self, curve: Curve | Any, steps: Iterable[int] | int | None = None) -> np.ndarray:
        """The predicted loss at ``curve.steps`` (or of a schedule at ``steps``)."""
        if not isinstance(curve, Curve):
            if steps is None:
                raise ValueError("steps is required to predict a schedule's loss curve")
            curve = Curve.from_schedule(curve, steps)
        return predict(self, curve)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"law": self.law, "params": dict(self.params),
                               "objective": self.objective, "converged": self.converged,
                               "message": self.message, "starts": self.starts,
                               "fit_errors": dict(self.fit_errors)}
        if self.law == "tissue":
            out["decay"] = self.decay
        return out


def predict(fit: LawFit, curve: Curve) -> np.ndarray:
    """The loss the fitted law predicts at each of ``curve.steps``."""
    theta = np.array([fit.params[n] for n in PARAMS[fit.law]], dtype=np.float64)
    if np.cumsum(curve.lrs)[curve.steps[0]] <= 0:
        raise ValueError(f"curve {curve.name!r}: the laws are undefined at step {int(curve.steps[0])}, "
                         f"before any LR has been applied (S1 = 0); predict from the first step "
                         f"with a positive LR")
    out = np.empty(curve.steps.size)
    for lo in range(0, curve.steps.size, _ROWS):   # bounded memory on long logs
        part = Curve(curve.lrs, curve.steps[lo:lo + _ROWS], None, curve.name)
        prepared = _prepare(part, fit.decay, terms=fit.law == "multipower")
        out[lo:lo + _ROWS], _ = _predict_prepared(fit.law, theta, prepared)
    return out


def errors(predicted: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """``r2`` (1 - SS_res / SS_tot of the loss), ``mean_rel_error`` and ``max_rel_error``
    (of ``|pred - obs| / obs``, fractions: 0.0017 is 0.17%)."""
    pred = np.asarray(predicted, dtype=np.float64)
    obs = np.asarray(observed, dtype=np.float64)
    rel = np.abs(pred - obs) / obs
    ss_tot = float(np.sum((obs - obs.mean()) ** 2))
    ss_res = float(np.sum((obs - pred) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return {"r2": r2, "mean_rel_error": float(rel.mean()), "max_rel_error": float(rel.max())}


def evaluate(fit: LawFit, curves: Sequence[Curve]) -> dict[str, Any]:
    """Errors of a fitted law on held-out curves: per curve, and over all of them (``r2``
    and ``mean_rel_error`` the mean of the per-curve values, ``max_rel_error`` the worst)."""
    per = {}
    for c in curves:
        if c.loss is None:
            raise ValueError(f"curve {c.name!r} has no losses to compare with")
        per[c.name] = errors(predict(fit, c), c.loss)
    if not per:
        raise ValueError("no curves to evaluate")
    return {"r2": float(np.mean([v["r2"] for v in per.values()])),
            "mean_rel_error": float(np.mean([v["mean_rel_error"] for v in per.values()])),
            "max_rel_error": float(max(v["max_rel_error"] for v in per.values())),
            "curves": per}


def _check_curves(curves: Sequence[Curve], law: str) -> None:
    if law not in LAWS:
        raise ValueError(f"law must be one of {', '.join(LAWS)}; got {law!r}")
    if not curves:
        raise ValueError("need at least one curve to fit; got none")
    for c in curves:
        if not isinstance(c, Curve):
            raise ValueError(f"curves must be Curve objects; got {type(c).__name__}")
        if c.loss is None:
            raise ValueError(f"curve {c.name!r} has no losses to fit")
    def anneals(c: Curve) -> bool:
        after = c.lrs[c.warmup_end: int(c.steps[-1]) + 1]
        return bool(np.ptp(after) > 1e-12 * float(after.max()))
    if not any(anneals(c) for c in curves):
        raise ValueError(f"cannot fit the {law} law: the LR never changes after warmup in any curve "
                         f"fitted, so the annealing term is not identified; include a curve whose LR "
                         f"decays (e.g. cosine or a step down)")
    points = sum(c.steps.size for c in curves)
    need = len(PARAMS[law]) + 1
    if points < need:
        raise ValueError(f"the {law} law has {len(PARAMS[law])} parameters: need at least {need} "
                         f"logged losses to fit; got {points}")


def _minimize(fn: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray,
              scale: np.ndarray, bounds: Sequence[tuple[float, float]], maxiter: int) -> Any:
    """L-BFGS-B in scaled coordinates (``x = scale * y``) so that every parameter is O(1)."""
    from scipy.optimize import minimize

    def scaled(y: np.ndarray) -> tuple[float, np.ndarray]:
        value, g = fn(y * scale)
        return value, g * scale

    b = [(lo / s, None if hi is None or math.isinf(hi) else hi / s) for (lo, hi), s in zip(bounds, scale)]
    res = minimize(scaled, x0 / scale, jac=True, method="L-BFGS-B", bounds=b,
                   options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-9, "maxls": 50})
    res.x = res.x * scale
    return res


def _power_law_starts(curves: Sequence[Curve], prepared: Sequence[_Prepared]
                      ) -> tuple[float, float, float]:
    """``min loss, A, alpha`` of a log-log regression of ``loss - min + 0.01`` on ``S1``
    (the authors' starting point)."""
    y = np.concatenate([c.loss for c in curves if c.loss is not None])
    s1 = np.concatenate([p.s1 for p in prepared])
    low = float(y.min())
    ly, lx = np.log(y - low + 0.01), np.log(s1)
    if np.ptp(lx) > 0:
        slope, intercept = np.polyfit(lx, ly, 1)
    else:
        slope, intercept = -0.5, math.log(max(float(np.ptp(y)), 1e-3))
    return low, float(math.exp(intercept)), float(max(-slope, 0.05))


def single_thread_blas() -> Any:
    """A context in which BLAS runs on one thread (threadpoolctl, when installed).

    L-BFGS-B makes thousands of tiny BLAS calls; a multi-threaded OpenBLAS spends far more
    time waking its threads than computing (30x slower on a busy 2-core machine).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def fit_law(law: str, curves: Sequence[Curve], *, decay: float = TISSUE_DECAY, maxiter: int = 2000,
            full_starts: int = 3, max_points: int = MAX_FIT_POINTS,
            progress: Callable[[str], None] | None = None) -> LawFit:
    """Fit ``law`` (``"multipower"`` or ``"tissue"``) to one or more curves.

    Minimizes ``sum Huber_{1e-3}(log L_obs - log L_pred)`` over every logged point with
    L-BFGS-B from a grid of starts (see the module docstring). ``full_starts`` is how many
    of the best grid points of the multi-power law's second stage are refined fully. A curve
    with more than ``max_points`` logged losses is thinned evenly to that many (a loss
    logged at every step adds cost, not information, to a smooth law). Raises
    :class:`LawFitError` when no start gives a finite fit with positive predictions,
    ValueError on bad input.
    """
    _check_curves(curves, law)
    if not isinstance(max_points, int) or max_points < 10:
        raise ValueError(f"max_points must be an integer >= 10; got {max_points!r}")
    curves = [_thin(_applied(c), max_points) for c in curves]
    with single_thread_blas():
        return _fit_law(law, curves, decay=decay, maxiter=maxiter, full_starts=full_starts,
                        progress=progress)


def _applied(curve: Curve) -> Curve:
    """Drop logged losses before any LR has been applied (S1 = 0: the laws say nothing)."""
    area = np.cumsum(curve.lrs)[curve.steps]
    return curve if area[0] > 0 else curve.after(int(curve.steps[np.argmax(area > 0)]))


def _thin(curve: Curve, most: int) -> Curve:
    """At most ``most`` logged points, evenly spread over the log, the last one kept."""
    n = curve.steps.size
    if n <= most:
        return curve
    keep = np.unique(np.round(np.linspace(0, n - 1, most)).astype(np.int64))
    assert curve.loss is not None
    return Curve(curve.lrs, curve.steps[keep], curve.loss[keep], curve.name)


def _fit_law(law: str, curves: Sequence[Curve], *, decay: float, maxiter: int, full_starts: int,
             progress: Callable[[str], None] | None) -> LawFit:
    _check_curves(curves, law)
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must be in [0, 1); got {decay!r}")
    say = progress or (lambda _msg: None)
    prepared = [_prepare(c, decay, terms=law == "multipower") for c in curves]
    targets = [c.loss for c in curves]
    assert all(t is not None for t in targets)
    ys: list[np.ndarray] = [t for t in targets if t is not None]
    low, a0, alpha0 = _power_law_starts(curves, prepared)
    peak = max(float(c.lrs.max()) for c in curves)
    results: list[tuple[float, np.ndarray, Any]] = []
    starts = 0
    if law == "tissue":
        span = max(float(np.max(np.abs(p.s2))) for p in prepared) or 1.0
        fn = _objective("tissue", prepared, ys)
        grid = itertools.product(
            [low - 0.2 * abs(low), low - 0.05 * abs(low), low],
            [a0 * 0.5, a0, a0 * 2],
            [max(alpha0 - 0.2, 0.05), alpha0, alpha0 + 0.2],
            [0.02 * low / span, 0.1 * low / span])
        scale = np.array([max(abs(low), 1e-3), max(a0, 1e-6), 1.0, max(0.1 * low / span, 1e-12)])
        bounds = [(0.0, math.inf)] * 4
        for x0 in grid:
            starts += 1
            res = _minimize(fn, np.maximum(np.array(x0, dtype=np.float64), 0.0), scale, bounds, maxiter)
            results.append((float(res.fun), res.x, res))
        say(f"tissue: {starts} starts")
    else:
        # stage 1: L0, A, alpha, B with G = 1, i.e. LD = B * (peak - eta_t) after warmup
        drops = [np.maximum(float(c.lrs.max()) - c.lrs[c.steps], 0.0) for c in curves]

        def stage1(theta: np.ndarray) -> tuple[float, np.ndarray]:
            total, g = 0.0, np.zeros(4)
            for p, y, drop in zip(prepared, ys, drops):
                L0, A, alpha, B = theta
                power = np.exp(-alpha * np.log(p.s1))
                pred = L0 + A * power - B * drop
                ok = pred > 1e-12
                safe = np.where(ok, pred, 1e-12)
                value, dr = _huber(np.log(y) - np.log(safe))
                total += float(value.sum())
                w = np.where(ok, -dr / safe, 0.0)
                jac = np.stack([np.ones_like(pred), power, -A * power * np.log(p.s1), -drop])
                g += jac @ w
            return (total, g) if math.isfinite(total) else (1e30, np.zeros(4))

        b_unit = 1.0 / peak
        grid1 = list(itertools.product(np.linspace(low - 0.2, low + 0.2, 5) if low > 0.4
                                       else np.linspace(0.5 * low, 1.5 * low, 5),
                                       [max(a0 - 0.1, 0.5 * a0), a0, a0 + 0.1],
                                       [max(alpha0 - 0.1, 0.05), alpha0, alpha0 + 0.1],
                                       [0.03 * b_unit, 0.15 * b_unit, 0.3 * b_unit]))
        scale1 = np.array([max(abs(low), 1e-3), max(a0, 1e-6), 1.0, 0.1 * b_unit])
        best1: tuple[float, np.ndarray] | None = None
        for x0 in grid1:
            starts += 1
            res = _minimize(stage1, np.maximum(np.array(x0, dtype=np.float64), 0.0), scale1,
                            [(0.0, math.inf)] * 4, 500)
            finite = np.all(np.isfinite(res.x)) and math.isfinite(res.fun)
            if finite and (best1 is None or res.fun < best1[0]):
                best1 = (float(res.fun), res.x)
        if best1 is None:
            raise LawFitError("multipower law did not fit: no start of the first stage (L0, A, alpha, "
                              "B) reached a finite objective")
        say(f"multipower: stage 1 ({len(grid1)} starts) objective {best1[0]:.4g}")
        L0, A, alpha, B = best1[1]
        fn = _objective("multipower", prepared, ys)
        grid2 = [np.array([L0, A, alpha, B, C, beta, gamma]) for C, beta, gamma in
                 itertools.product([0.5, 2.0, 8.0], [0.3, 0.6], [0.3, 0.6])]
        scored = sorted(((fn(x0)[0], i) for i, x0 in enumerate(grid2)))
        scale = np.array([max(abs(L0), 1e-3), max(A, 1e-6), 1.0, max(B, 0.1 * b_unit), 1.0, 1.0, 1.0])
        for _, i in scored[:max(1, full_starts)]:
            starts += 1
            res = _minimize(fn, grid2[i], scale, [(0.0, math.inf)] * 7, maxiter)
            results.append((float(res.fun), res.x, res))
            say(f"multipower: start {len(results)}/{max(1, full_starts)} objective {res.fun:.4g}")
    good = [r for r in results if math.isfinite(r[0]) and r[0] < 1e29 and np.all(np.isfinite(r[1]))]
    if not good:
        raise LawFitError(f"{law} law did not fit: no start reached a finite objective with finite "
                          f"parameters ({starts} starts)")
    value, theta, res = min(good, key=lambda r: r[0])
    names = PARAMS[law]
    fit = LawFit(law, {n: float(v) for n, v in zip(names, theta)}, value, bool(res.success),
                 str(res.message), starts, decay=decay)
    preds = [predict(fit, c) for c in curves]
    if not all(np.all(np.isfinite(p)) and np.all(p > 0) for p in preds):
        raise LawFitError(f"{law} law did not fit: the best parameters predict a non-positive or "
                          f"non-finite loss on the curves fitted ({fit.params})")
    fitted = errors(np.concatenate(preds), np.concatenate(ys))
    return LawFit(law, fit.params, value, fit.converged, fit.message, starts, fitted, decay)


def law_loss(law: str, params: Mapping[str, float], curve: Curve, decay: float = TISSUE_DECAY) -> np.ndarray:
    """Evaluate a law with given parameters at ``curve.steps`` (e.g. the published ones)."""
    if law not in LAWS:
        raise ValueError(f"law must be one of {', '.join(LAWS)}; got {law!r}")
    missing = [n for n in PARAMS[law] if n not in params]
    if missing:
        raise ValueError(f"params for the {law} law lack {', '.join(missing)}")
    fit = LawFit(law, {n: float(params[n]) for n in PARAMS[law]}, float("nan"), True, "given", 0,
                 decay=decay)
    return predict(fit, curve)
