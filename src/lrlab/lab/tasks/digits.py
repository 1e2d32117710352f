"""``digits``: scikit-learn's bundled 8x8 handwritten digits with a small torch network.

1797 images ship inside scikit-learn (``sklearn.datasets.load_digits``: no download). A
seeded split (80/20 by default), pixels standardized with the training split's statistics,
an MLP 64 -> 128 -> 10 (ReLU) or, with ``model="cnn"``, a small convolutional network;
minibatch SGD with momentum 0.9 (or ``optimizer="adamw"``), cross-entropy.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from lrlab.schedules import Schedule

from ._common import BuiltinTask, History, Option, is_eval_step, resolve, torch_session
from .base import RunResult


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("the digits task needs scikit-learn: pip install scikit-learn "
                          "(or lrlab[lab])") from error
    data = load_digits()
    return data.data.astype(np.float32), data.target.astype(np.int64)


def split(val_fraction: float, data_seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardized ``x_train, y_train, x_val, y_val`` (a seeded random split)."""
    x, y = _load()
    order = np.random.default_rng([data_seed, 0xD161]).permutation(len(x))
    n_val = max(1, round(val_fraction * len(x)))
    val, train = order[:n_val], order[n_val:]
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std[std == 0] = 1.0  # pixels that are always blank stay 0
    x = (x - mean) / std
    return x[train], y[train], x[val], y[val]


def _model(kind: str, hidden: int):
    from torch import nn

    if kind == "mlp":
        return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    return nn.Sequential(  # cnn: 1x8x8 -> 16x8x8 -> 32x8x8 -> 32x4x4 -> hidden -> 10
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 4 * 4, hidden), nn.ReLU(), nn.Linear(hidden, 10),
    )


class DigitsTask(BuiltinTask):
    """sklearn digits, MLP (or CNN), minibatch SGD with momentum (or AdamW).

    What the history holds:

    - ``lr``: the LR update ``t`` used, read from the optimizer (``schedule(t)``).
    - ``loss``: the cross-entropy of update ``t``'s minibatch, before the update.
    - ``val_loss``/``accuracy``: on the whole validation split, after every
      ``eval_every`` updates and after the last one.

    Minibatches: each epoch is a fresh seeded permutation of the training split cut into
    ``batch_size`` pieces (the incomplete last piece is dropped). The split is fixed by
    ``data_seed``; ``seed`` sets the initialization and the batch order.

    ``default_peak`` (0.05) is for the default MLP with SGD and momentum 0.9, whose stability
    edge lies between 0.1 and 0.2; the CNN fails at 0.1 (use 0.03-0.05); with
    ``optimizer="adamw"`` use about 3e-3.
    """

    name = "digits"
    description = "sklearn 8x8 digits, MLP 64-128-10 (or CNN), SGD with momentum (torch)"
    default_steps = 500
    default_peak = 0.05
    converged_loss = 0.05
    option_specs: ClassVar[Mapping[str, Option]] = {
        "model": Option("mlp", str, "network", choices=("mlp", "cnn")),
        "optimizer": Option("sgd", str, "optimizer (sgd: momentum SGD)", choices=("sgd", "adamw")),
        "hidden": Option(128, int, "hidden units", low=1, high=65536),
        "batch_size": Option(32, int, "minibatch size (at most the training split)", low=1, high=1797),
        "momentum": Option(0.9, float, "SGD momentum", low=0.0, high=0.999),
        "weight_decay": Option(0.0, float, "weight decay (SGD: L2; AdamW: decoupled)", low=0.0, high=1.0),
        "eval_every": Option(50, int, "updates between evaluations", low=1),
        "val_fraction": Option(0.2, float, "share of the 1797 images held out", low=0.05, high=0.5),
        "data_seed": Option(0, int, "seed of the train/validation split", low=0),
    }

    def _run(self, schedule: Schedule, *, seed: int, steps: int, options: dict[str, Any]) -> RunResult:
        with torch_session(seed):
            return self._train(schedule, seed, steps, options)

    def _train(self, schedule: Schedule, seed: int, steps: int, options: dict[str, Any]) -> RunResult:
        import torch
        import torch.nn.functional as F

        from lrlab.torch import Scheduler

        rng = np.random.default_rng(seed)
        x_train, y_train, x_val, y_val = split(options["val_fraction"], options["data_seed"])
        batch_size = min(options["batch_size"], len(x_train))
        per_epoch = len(x_train) // batch_size
        schedule = resolve(schedule, steps, steps_per_epoch=per_epoch)

        x_train_t, y_train_t = torch.from_numpy(x_train), torch.from_numpy(y_train)
        x_val_t, y_val_t = torch.from_numpy(x_val), torch.from_numpy(y_val)
        model = _model(options["model"], options["hidden"])
        optimizer: torch.optim.Optimizer
        if options["optimizer"] == "sgd":
            optimizer = torch.optim.SGD(model.parameters(), lr=schedule(0), momentum=options["momentum"],
                                        weight_decay=options["weight_decay"])
        else:
            optimizer = torch.optim.AdamW(model.parameters(), lr=schedule(0),
                                          weight_decay=options["weight_decay"])
        scheduler = Scheduler(optimizer, schedule)

        history = History()
        order = np.empty(0, dtype=np.int64)
        for t in range(steps):
            slot = t % per_epoch
            if slot == 0:
                order = rng.permutation(len(x_train))
            index = torch.from_numpy(order[slot * batch_size:(slot + 1) * batch_size])
            model.train()
            loss = F.cross_entropy(model(x_train_t[index]), y_train_t[index])
            if history.add(t, optimizer.param_groups[0]["lr"], loss.item()):
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if is_eval_step(t, steps, options["eval_every"]):
                model.eval()
                with torch.no_grad():
                    logits = model(x_val_t)
                    history.evaluated(F.cross_entropy(logits, y_val_t).item(),
                                      (logits.argmax(dim=1) == y_val_t).float().mean().item())

        import sklearn

        info = {
            "task": self.name, "parameters": sum(p.numel() for p in model.parameters()),
            "n_train": len(x_train), "n_val": len(x_val), "steps_per_epoch": per_epoch,
            "epochs": len(history.rows) / per_epoch,
            "samples_per_s": round(len(history.rows) * batch_size / max(history.wall_s, 1e-9), 1),
            "torch": torch.__version__, "sklearn": sklearn.__version__, "options": options,
        }
        return history.result(info)


TASK = DigitsTask()
