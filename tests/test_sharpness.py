"""The sharpness probe: power iteration against exact Hessians, thresholds, no side effects."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrlab.torch import SharpnessProbe, sharpness  # noqa: E402
from lrlab.torch.sharpness import threshold  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_problem(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    x = torch.randn(32, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (32,))
    return model, (x, y), torch.nn.CrossEntropyLoss()


def exact_hessian(model, batch, loss_fn) -> np.ndarray:
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    flat = torch.cat([p.detach().reshape(-1) for p in params])

    def loss_of(vector):
        chunks, i = [], 0
        for s in shapes:
            n = int(np.prod(s))
            chunks.append(vector[i : i + n].reshape(s))
            i += n
        out = torch.func.functional_call(
            model, {name: c for (name, _), c in zip(model.named_parameters(), chunks)}, (batch[0],)
        )
        return loss_fn(out, batch[1])

    return torch.autograd.functional.hessian(loss_of, flat).numpy()


def test_quadratic_with_known_eigenvalues():
    eigs = torch.tensor([0.5, 3.0, 7.0, 1.0], dtype=torch.float64)
    w = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.1)
    result = sharpness(
        closure=lambda: 0.5 * (eigs * w * w).sum(), params=[w], optimizer=opt, max_hvps=100, tol=1e-10
    )
    assert result.eigenvalue == pytest.approx(7.0, rel=1e-6)
    assert result.threshold == pytest.approx(2 / 0.1) and result.ratio == pytest.approx(7.0 / 20)
    assert result.kind == "gd" and result.converged and result.hvps <= 100
    momentum = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    r = sharpness(closure=lambda: 0.5 * (eigs * w * w).sum(), params=[w], optimizer=momentum, max_hvps=50)
    assert r.threshold == pytest.approx((2 + 2 * 0.9) / 0.1) and r.kind == "momentum"


def test_matches_the_exact_hessian_of_a_network():
    model, batch, loss_fn = small_problem()
    h = exact_hessian(model, batch, loss_fn)
    top = np.linalg.eigvalsh(h).max()
    result = sharpness(model, loss_fn, batch, lr=0.1, max_hvps=500, tol=1e-12)
    assert result.eigenvalue == pytest.approx(top, rel=1e-4)


def test_negative_curvature_does_not_hide_the_top_eigenvalue():
    eigs = torch.tensor([-9.0, 3.0, 7.0, 1.0], dtype=torch.float64)  # largest magnitude is -9
    w = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
    result = sharpness(
        closure=lambda: 0.5 * (eigs * w * w).sum(), params=[w], lr=0.1, max_hvps=300, tol=1e-12
    )
    assert result.eigenvalue == pytest.approx(7.0, rel=1e-5) and result.hvps <= 300


def test_adam_preconditioned_hessian_matches_the_exact_one():
    model, batch, loss_fn = small_problem(1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    for _ in range(5):
        opt.zero_grad()
        loss_fn(model(batch[0]), batch[1]).backward()
        opt.step()
    h = exact_hessian(model, batch, loss_fn)
    t = 5
    v = torch.cat([opt.state[p]["exp_avg_sq"].reshape(-1) for p in model.parameters()]).numpy()
    p_diag = (1 - 0.9**t) * (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    d = 1 / np.sqrt(p_diag)
    top = np.linalg.eigvalsh(d[:, None] * h * d[None, :]).max()
    result = sharpness(model, loss_fn, batch, optimizer=opt, max_hvps=1000, tol=1e-12)
    assert result.kind == "adam"
    assert result.eigenvalue == pytest.approx(top, rel=1e-3)
    assert result.threshold == pytest.approx(38 / 1e-2)
    assert threshold(1e-2, "adam", 0.9) == pytest.approx(38 / 1e-2)


def test_restores_buffers_rng_and_grads():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.Dropout(0.3),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 2),
    )
    x, y = torch.randn(16, 5), torch.randint(0, 2, (16,))
    loss_fn = torch.nn.CrossEntropyLoss()
    loss_fn(model(x), y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    buffers = [b.clone() for b in model.buffers()]
    params = [p.detach().clone() for p in model.parameters()]
    rng, py = torch.get_rng_state(), random.getstate()
    result = sharpness(model, loss_fn, (x, y), lr=0.1, max_hvps=7, tol=0.0)
    assert result.hvps == 7  # the bound is the cost
    assert all(torch.equal(a, b.grad) for a, b in zip(grads, model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))
    assert all(torch.equal(a, b) for a, b in zip(params, model.parameters()))
    assert torch.equal(rng, torch.get_rng_state()) and py == random.getstate()


def test_probe_measures_at_chosen_steps():
    model, batch, loss_fn = small_problem()
    probe = SharpnessProbe(steps=[0, 3], every=0, max_hvps=5)
    for t in range(5):
        probe.maybe(t, model=model, loss_fn=loss_fn, batch=batch, lr=0.1)
    assert [r.step for r in probe.results] == [0, 3]
    with pytest.raises(ValueError, match="steps"):
        SharpnessProbe()


def test_full_batch_gd_trains_at_the_edge_of_stability():
    """Cohen et al. 2021: full-batch GD sharpens until the top eigenvalue reaches 2/lr and
    then hovers there; at a small LR it stays well below its (higher) line."""
    torch.manual_seed(0)
    x = torch.randn(256, 10)
    y = torch.sin(x[:, :1] * 2) + x[:, 1:2]

    def ratios(lr: float) -> list[float]:
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(10, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        probe = SharpnessProbe(every=20, max_hvps=30)
        for t in range(200):
            probe.maybe(t, model=model, loss_fn=torch.nn.functional.mse_loss, batch=(x, y), optimizer=opt)
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return [r.ratio for r in probe.results]

    at_edge = ratios(0.3)
    assert all(0.8 < r < 1.25 for r in at_edge[2:]), at_edge
    below = ratios(0.03)
    assert max(below) < 0.5, below


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"max_hvps": 0}, "max_hvps"),
        ({"tol": -1}, "tol"),
        ({"lr": 0.0}, "lr"),
        ({"lr": None}, "lr"),
        ({"optimizer": "sgd"}, "optimizer"),
    ],
)
def test_bad_arguments(kwargs, name):
    model, batch, loss_fn = small_problem()
    args = {"lr": 0.1, **kwargs}
    with pytest.raises(ValueError, match=name):
        sharpness(model, loss_fn, batch, **args)


def test_non_scalar_loss():
    model, batch, _ = small_problem()
    with pytest.raises(ValueError, match="scalar"):
        sharpness(model, lambda out, y: out, batch, lr=0.1)
    with pytest.raises(ValueError, match="preconditioned"):
        sharpness(
            model,
            torch.nn.CrossEntropyLoss(),
            batch,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            preconditioned=True,
        )
