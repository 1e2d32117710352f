"""Run an exported snippet in its framework and record the LR of every update (for the
export tests)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "numpy")


def import_timm_scheduler():
    """``timm.scheduler``. timm's package __init__ imports torchvision, which may be missing
    or fail to load (a CUDA torchvision wheel beside a CPU torch); the scheduler subpackage
    needs only torch, so it is then loaded without running timm's __init__."""
    try:
        return importlib.import_module("timm.scheduler")
    except (RuntimeError, ImportError):
        for name in [n for n in sys.modules if n == "timm" or n.startswith("timm.")]:
            del sys.modules[name]
        spec = importlib.util.find_spec("timm")
        assert spec is not None and spec.submodule_search_locations
        package = importlib.util.module_from_spec(spec)  # the package, its __init__ not run
        sys.modules["timm"] = package
        return importlib.import_module("timm.scheduler")


def exec_snippet(code: str) -> dict:
    namespace: dict = {"__name__": "snippet"}
    exec(compile(code, "<snippet>", "exec"), namespace)
    return namespace


def _optimizer(lrs=(0.123, 4.5)):
    import torch

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0])


def torch_values(namespace: dict, n: int) -> np.ndarray:
    """torch and transformers: ``optimizer.step(); scheduler.step()``; the LR of each of
    the two groups (built with different LRs) at every update."""
    import warnings

    opt = _optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # SequentialLR's step(0) deprecation note
        scheduler = namespace["make_scheduler"](opt)
        out = np.empty((n, len(opt.param_groups)))
        for t in range(n):
            out[t] = [g["lr"] for g in opt.param_groups]
            opt.step()
            scheduler.step()
    return out


def timm_values(namespace: dict, n: int) -> np.ndarray:
    opt = _optimizer()
    scheduler = namespace["make_scheduler"](opt)
    out = np.empty((n, len(opt.param_groups)))
    for t in range(n):
        scheduler.step_update(t)
        out[t] = [g["lr"] for g in opt.param_groups]
        opt.step()
    return out


def optax_values(namespace: dict, n: int) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    counts = jnp.arange(n)
    values = jax.vmap(namespace["schedule"])(counts)  # eager: XLA may rewrite x / c as x * (1 / c) under jit
    return np.asarray(values, dtype=np.float64)


def keras_values(namespace: dict, n: int) -> np.ndarray:
    schedule = namespace["schedule"]
    return np.array([float(np.asarray(schedule(np.int64(t)))) for t in range(n)])


def lrlab_values(namespace: dict, n: int) -> np.ndarray:
    return namespace["schedule"].values(n)


RUNNERS = {
    "torch": torch_values, "transformers": torch_values, "timm": timm_values,
    "optax": optax_values, "keras": keras_values, "lrlab": lrlab_values,
}


def write_snippets(snippets: dict[str, str], folder: Path) -> list[Path]:
    paths = []
    for name, code in snippets.items():
        path = folder / f"{name}.py"
        path.write_text(code)
        paths.append(path)
    return paths
