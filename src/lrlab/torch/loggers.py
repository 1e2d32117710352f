"""Loggers for :class:`lrlab.torch.Scheduler`: the values each update actually used."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any


def _columns(lrs: Sequence[float],
             values: Mapping[str, Sequence[float]] | None) -> dict[str, Sequence[float]]:
    """Every scheduled key's per-group values, the LR first."""
    columns: dict[str, Sequence[float]] = {"lr": lrs}
    for key, v in (values or {}).items():
        if key != "lr":
            columns[key] = v
    return columns


class CSVLogger:
    """Appends ``step,lr_0,lr_1,...`` rows to a CSV file (then ``momentum_0,...``,
    ``beta1_0,...`` for every other scheduled key), flushed row by row so an interrupted run
    keeps every update it logged. Rows already in the file stay."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._file: IO[str] | None = None
        self._writer: Any = None

    def __call__(self, step: int, lrs: Sequence[float],
                 values: Mapping[str, Sequence[float]] | None = None) -> None:
        columns = _columns(lrs, values)
        if self._file is None:
            exists = os.path.exists(self.path) and os.path.getsize(self.path) > 0
            self._file = file = open(self.path, "a", newline="")  # kept open across calls
            self._writer = csv.writer(file)
            if not exists:
                self._writer.writerow(["step", *(f"{key}_{i}" for key, v in columns.items()
                                                 for i in range(len(v)))])
        self._writer.writerow([step, *(repr(float(x)) for v in columns.values() for x in v)])
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TensorBoardLogger:
    """Writes each update's LR to a ``torch.utils.tensorboard.SummaryWriter`` at its step
    (``tag`` for one group, ``tag/i`` for several), and every other scheduled key under its
    own name (``momentum``, ``beta1``, ``weight_decay``, with ``/i`` for several groups)."""

    def __init__(self, writer: Any, tag: str = "lr") -> None:
        if not hasattr(writer, "add_scalar"):
            raise ValueError(f"writer must have add_scalar (a SummaryWriter); got {type(writer).__name__}")
        self.writer = writer
        self.tag = tag

    def __call__(self, step: int, lrs: Sequence[float],
                 values: Mapping[str, Sequence[float]] | None = None) -> None:
        for key, v in _columns(lrs, values).items():
            tag = self.tag if key == "lr" else key
            if len(v) == 1:
                self.writer.add_scalar(tag, v[0], step)
            else:
                for i, x in enumerate(v):
                    self.writer.add_scalar(f"{tag}/{i}", x, step)
