"""The sharpness probe: the top Hessian eigenvalue against the edge of stability.

Gradient descent with step size ``lr`` on a quadratic is stable while every Hessian
eigenvalue stays below ``2 / lr``; full-batch training drives the top eigenvalue (the
*sharpness*) up to that line and hovers there (Cohen et al. 2021, "Gradient Descent on
Neural Networks Typically Occurs at the Edge of Stability"). With heavy-ball momentum
``beta`` the line is ``(2 + 2 beta) / lr``. For Adam the matrix that matters is the
*preconditioned* Hessian ``P^-1 H`` with ``P = (1 - beta1^t) diag(sqrt(v_hat) + eps)``,
whose line is ``(2 + 2 beta1) / ((1 - beta1) lr)``: ``38 / lr`` for ``beta1 = 0.9`` (Cohen
et al. 2022, "Adaptive Gradient Methods at the Edge of Stability"). Warmup keeps the
sharpness under the line while the LR grows (Kalra & Barkeshli 2024, "Why Warmup the
Learning Rate?"): the probe shows it.

The eigenvalue comes from power iteration with Hessian-vector products (Pearlmutter 1994:
``Hv = d(g . v)/dw``, double backward), on ``P^-1/2 H P^-1/2`` (same eigenvalues as
``P^-1 H``, symmetric). The cost is bounded: one forward and backward with graph, plus at
most ``max_hvps`` HVPs. Parameters, gradients, buffers (batch-norm statistics), modes and
RNG states are left exactly as they were.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ._state import TrainingState


@dataclass(frozen=True)
class Sharpness:
    """One measurement. ``eigenvalue`` is the Rayleigh quotient at the last iterate (of the
    preconditioned Hessian for Adam); ``threshold`` the stability line for ``lr``;
    ``ratio = eigenvalue / threshold`` (1 = at the edge of stability)."""

    eigenvalue: float
    lr: float
    threshold: float
    ratio: float
    kind: str
    hvps: int
    converged: bool
    step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def threshold(lr: float, kind: str = "gd", beta: float = 0.0) -> float:
    """The stability line: ``2 / lr`` (gd), ``(2 + 2 beta) / lr`` (heavy-ball momentum
    ``beta``), ``(2 + 2 beta1) / ((1 - beta1) lr)`` (adam, ``beta = beta1``: 38/lr at 0.9)."""
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr!r}")
    if kind == "gd":
        return (2.0 + 2.0 * beta) / lr
    if kind == "adam":
        return (2.0 + 2.0 * beta) / ((1.0 - beta) * lr)
    raise ValueError(f"kind must be 'gd' or 'adam'; got {kind!r}")


@contextlib.contextmanager
def _math_attention() -> Iterator[None]:
    """Double backward needs the math kernel of scaled_dot_product_attention."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:  # pragma: no cover - older torch
        yield
        return
    with sdpa_kernel([SDPBackend.MATH]):
        yield


def _optimizer_kind(optimizer: torch.optim.Optimizer | None) -> tuple[str, float]:
    """('adam', beta1) for Adam-like optimizers (they keep ``exp_avg_sq``), else ('gd', momentum)."""
    if optimizer is None:
        return "gd", 0.0
    group = optimizer.param_groups[0]
    if "betas" in group:
        return "adam", float(group["betas"][0])
    return "gd", float(group.get("momentum", 0.0) or 0.0)


def _preconditioner(
    optimizer: torch.optim.Optimizer, params: list[torch.Tensor], lr0: float, kind: str
) -> list[torch.Tensor]:
    """``sqrt(D)`` per parameter, ``D = (lr_g / lr0) / P``, applied on both sides of H.

    Adam: ``P = (1 - beta1^t) (sqrt(v / (1 - beta2^t)) + eps)``, ``t`` the optimizer's step
    count (Cohen et al. 2022); before Adam's first step (no ``v`` yet) ``P = 1``. SGD:
    ``P = 1``, so only a group's LR ratio to the first group enters."""
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    roots = []
    for p in params:
        group = group_of.get(id(p), optimizer.param_groups[0])
        d = torch.full(
            p.shape, float(group["lr"]) / lr0 if lr0 > 0 else 1.0, dtype=torch.float32, device=p.device
        )
        state = optimizer.state.get(p, {})
        if kind == "adam" and "exp_avg_sq" in state:
            beta1, beta2 = group["betas"]
            t = float(state["step"]) if "step" in state else 1.0
            v_hat = state["exp_avg_sq"].float() / (1 - beta2**t)
            d = d / ((1 - beta1**t) * (v_hat.sqrt() + group["eps"]))
        roots.append(d.sqrt())
    return roots


def sharpness(
    model: torch.nn.Module | None = None,
    loss_fn: Callable[..., Any] | None = None,
    batch: Any = None,
    *,
    closure: Callable[[], Any] | None = None,
    params: Sequence[torch.Tensor] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float | None = None,
    preconditioned: bool | None = None,
    max_hvps: int = 20,
    tol: float = 1e-2,
    seed: int = 0,
    step: int | None = None,
) -> Sharpness:
    """The top eigenvalue of the Hessian of the loss (preconditioned for Adam) by power iteration.

    Forms: ``sharpness(model, loss_fn, (inputs, targets), optimizer=opt)`` (loss =
    ``loss_fn(model(inputs), targets)``), or ``sharpness(closure=fn, params=[...],
    optimizer=opt)`` with ``fn()`` returning the loss (forward only; do not call backward).

    ``optimizer`` gives the LR (its first group's, unless ``lr``), the kind (Adam-like when
    its groups have ``betas``, else SGD with its momentum) and, for Adam, the preconditioner
    (``preconditioned`` defaults to True for Adam). Other groups' LRs enter as their ratio
    to the first's. Without an optimizer, pass ``lr`` (plain GD line ``2/lr``).

    At most ``max_hvps`` Hessian-vector products; stops earlier when the Rayleigh quotient
    ``lambda`` is an eigenvalue to within its residual: ``||A v - lambda v|| <= tol |lambda|``
    for the unit iterate ``v`` (``converged`` says whether that happened within the budget).
    Power iteration finds the eigenvalue of largest magnitude; when that one is negative
    (negative curvature, common early in training), the remaining budget iterates on
    ``A - lambda_neg I`` to find the largest positive one. The start vector is drawn from a private
    generator seeded by ``seed``; the global RNG is untouched.
    """
    if isinstance(max_hvps, bool) or not isinstance(max_hvps, numbers.Integral) or max_hvps < 1:
        raise ValueError(f"max_hvps must be an int >= 1; got {max_hvps!r}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
        raise ValueError(f"tol must be a number >= 0; got {tol!r}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer or None; got {type(optimizer).__name__}")
    if closure is None:
        if not isinstance(model, torch.nn.Module):
            raise ValueError(
                f"model must be a torch.nn.Module (or pass closure=fn); got {type(model).__name__}"
            )
        if not callable(loss_fn):
            raise ValueError(f"loss_fn must be callable as loss_fn(outputs, targets); got {loss_fn!r}")
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(f"batch must be an (inputs, targets) pair; got {type(batch).__name__}")
        inputs, targets = batch

        def closure() -> Any:
            return loss_fn(model(inputs), targets)
    elif not callable(closure):
        raise ValueError(f"closure must be callable as closure() -> loss; got {closure!r}")
    if params is None:
        if model is not None:
            params = [p for p in model.parameters() if p.requires_grad]
        elif optimizer is not None:
            params = [p for g in optimizer.param_groups for p in g["params"] if p.requires_grad]
        else:
            raise ValueError("params must be given (or model, or optimizer) to know what the Hessian is over")
    params = list(params)
    if not params:
        raise ValueError("params is empty: no parameter to differentiate")
    kind, beta = _optimizer_kind(optimizer)
    if lr is None:
        if optimizer is None:
            raise ValueError("lr must be given when there is no optimizer")
        lr = float(optimizer.param_groups[0]["lr"])
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0; got {lr!r}")
    lr = float(lr)
    if preconditioned is None:
        preconditioned = kind == "adam"
    if preconditioned and kind != "adam":
        raise ValueError("preconditioned=True needs an Adam-like optimizer (param groups with 'betas')")

    saved = TrainingState.capture(model, None, rng=True)
    if model is None:  # still restore the parameters' values and gradients
        saved.tensors = {
            id(p): (p, p.detach().clone(), None if p.grad is None else p.grad.detach().clone())
            for p in params
        }
    try:
        with _math_attention(), torch.enable_grad():
            loss = closure()
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(
                    "the loss must be a scalar tensor; got "
                    f"{type(loss).__name__}{'' if not isinstance(loss, torch.Tensor) else tuple(loss.shape)}"
                )
            grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
            pairs = [(p, g) for p, g in zip(params, grads) if g is not None]
            if not pairs:
                raise ValueError("the loss does not depend on params")
            ps = [p for p, _ in pairs]
            gs = [g for _, g in pairs]
            if optimizer is not None:
                root = _preconditioner(
                    optimizer, ps, float(optimizer.param_groups[0]["lr"]), kind if preconditioned else "gd"
                )
            else:
                root = [torch.ones_like(p, dtype=torch.float32) for p in ps]
            gen = torch.Generator(device=ps[0].device.type if ps[0].device.type != "mps" else "cpu")
            gen.manual_seed(seed)

            def apply(vec: list[torch.Tensor]) -> list[torch.Tensor]:
                u = [x * r.to(x.dtype) for x, r in zip(vec, root)]
                hu = torch.autograd.grad(gs, ps, grad_outputs=u, retain_graph=True, allow_unused=True)
                return [
                    torch.zeros_like(x) if h is None else h.detach() * r.to(h.dtype)
                    for h, x, r in zip(hu, vec, root)
                ]

            eig, converged, used = _power(apply, ps, gen, int(max_hvps), float(tol), 0.0)
            if math.isfinite(eig) and eig < 0 and used < max_hvps:
                # the largest |eigenvalue| is negative curvature: shift it to 0 and find the top
                top, converged, more = _power(apply, ps, gen, int(max_hvps) - used, float(tol), eig)
                used += more
                eig = top + eig
    finally:
        saved.restore()
    line = threshold(lr, "adam" if preconditioned else "gd", beta)
    return Sharpness(
        eig,
        lr,
        line,
        eig / line,
        "adam" if preconditioned else ("gd" if beta == 0 else "momentum"),
        used,
        converged,
        step,
    )


def _total(parts: Any) -> torch.Tensor:
    """The sum of scalar tensors, as a tensor."""
    return torch.stack(list(parts)).sum()


def _power(
    apply: Callable[[list[torch.Tensor]], list[torch.Tensor]],
    ps: list[torch.Tensor],
    gen: torch.Generator,
    budget: int,
    tol: float,
    shift: float,
) -> tuple[float, bool, int]:
    """Power iteration on ``A - shift I``: (Rayleigh quotient, converged, HVPs used)."""
    v = [torch.randn(p.shape, generator=gen, device=p.device, dtype=p.dtype) for p in ps]
    norm = torch.sqrt(_total((x.float() ** 2).sum() for x in v))
    v = [x / norm for x in v]
    eig, used = math.nan, 0
    for _ in range(budget):
        w = apply(v)
        if shift:
            w = [a - shift * b for a, b in zip(w, v)]
        used += 1
        eig = float(sum((a.float() * b.float()).sum() for a, b in zip(v, w)))
        residual = float(torch.sqrt(_total(((a - eig * b).float() ** 2).sum() for a, b in zip(w, v))))
        norm = torch.sqrt(_total((x.float() ** 2).sum() for x in w))
        if not math.isfinite(eig) or float(norm) == 0.0:
            return eig, False, used
        if residual <= tol * abs(eig + shift):  # the residual of A itself: same vector
            return eig, True, used
        v = [x / norm for x in w]
    return eig, False, used


@dataclass
class SharpnessProbe:
    """Measure the sharpness at chosen update ``steps`` (or every ``every`` updates) during a
    run; :attr:`results` keeps them. Call :meth:`maybe` once per update, before the step."""

    steps: Sequence[int] = ()
    every: int = 0
    max_hvps: int = 20
    tol: float = 1e-2
    seed: int = 0
    results: list[Sharpness] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 0:
            raise ValueError(f"every must be an int >= 0; got {self.every!r}")
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.steps):
            raise ValueError(f"steps must be ints >= 0; got {self.steps!r}")
        if not self.steps and not self.every:
            raise ValueError("give steps=[...] or every=N (> 0)")

    def due(self, step: int) -> bool:
        return step in self.steps or (self.every > 0 and step % self.every == 0)

    def maybe(self, step: int, **kwargs: Any) -> Sharpness | None:
        """``sharpness(**kwargs)`` at a due step (recorded), else None."""
        if not self.due(step):
            return None
        result = sharpness(max_hvps=self.max_hvps, tol=self.tol, seed=self.seed, step=step, **kwargs)
        self.results.append(result)
        return result
