"""lrlab.fit: read the past and predict the future of a training run.

``identify(log)`` finds the schedule that produced a logged learning-rate series (or the
families consistent with a few observed points). Heavy dependencies (scipy, tensorboard,
matplotlib) are imported when a function needs them, so ``import lrlab.fit`` is cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["identify"]


def __getattr__(name: str) -> Any:
    if name == "identify":
        from .identify import identify

        return identify
    raise AttributeError(f"module 'lrlab.fit' has no attribute {name!r}")
