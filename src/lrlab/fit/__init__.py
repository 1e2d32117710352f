"""lrlab.fit: read the past and predict the future of a training run.

``identify(log)`` finds the schedule that produced a logged learning-rate series (or the
families consistent with a few observed points). ``lrlab.fit.laws`` fits the multi-power
law and Tissue et al.'s law and predicts loss curves; ``lrlab.fit.optimize`` optimizes a
schedule under a fitted law; ``lrlab.fit.bound`` is the training-free convex bound of
Schaipp et al. 2025. Heavy dependencies (scipy, tensorboard, matplotlib) are imported when a
function needs them (``pip install 'lrlab[fit]'``), so ``import lrlab.fit`` is cheap.
"""

from __future__ import annotations

# Imported here, not lazily: the module lrlab.fit.identify shares the function's name, and
# a lazy import would leave the package attribute bound to the module once anything
# imported it. The module itself needs only numpy and lrlab (scipy is imported on use).
from .identify import identify

__all__ = ["identify"]
