"""Run lengths from the trainers, and the 1cycle momentum recipe.

:func:`lightning_budget` reads a Lightning ``Trainer``; the Hugging Face ``Trainer`` is in
:mod:`lrlab.torch.hf` (it imports transformers). Both give a :class:`lrlab.units.Budget`
that :class:`lrlab.torch.Scheduler` resolves unit lengths ('5%', '2ep') with.
"""

from __future__ import annotations

import math
from typing import Any

import lrlab
from lrlab.schedules import Schedule
from lrlab.units import Budget


def lightning_budget(trainer: Any, *, tokens_per_step: float | None = None) -> Budget:
    """The run's budget from a Lightning ``Trainer`` (call it in ``configure_optimizers``).

    ``total_steps`` is ``trainer.estimated_stepping_batches`` (optimizer steps: ``max_steps``,
    or epochs times batches per epoch over ``accumulate_grad_batches``, as Lightning counts
    them) and ``steps_per_epoch`` is ``ceil(num_training_batches / accumulate_grad_batches)``
    (Lightning steps the optimizer on the last, partial accumulation of an epoch too).
    ``tokens_per_step`` is yours to give for lengths in tokens.
    """
    if not hasattr(trainer, "estimated_stepping_batches"):
        raise ValueError("trainer must be a Lightning Trainer (with estimated_stepping_batches); got "
                         f"{type(trainer).__name__}")
    total = trainer.estimated_stepping_batches
    if not isinstance(total, (int, float)) or not math.isfinite(total) or total < 1:
        raise ValueError(f"the Lightning trainer's run has no finite length (estimated_stepping_batches="
                         f"{total!r}: max_steps=-1 with max_epochs=-1, or an iterable dataset without "
                         "max_steps): give Budget(total_steps=...) instead")
    if getattr(trainer, "train_dataloader", 0) is None and hasattr(trainer, "fit_loop"):
        # with max_steps and no max_epochs Lightning answers without loading the data: load
        # it as estimated_stepping_batches itself does otherwise, for the batches per epoch
        trainer.fit_loop.setup_data()
    batches = getattr(trainer, "num_training_batches", math.inf)
    accumulate = getattr(trainer, "accumulate_grad_batches", 1)
    per_epoch = None
    if isinstance(batches, (int, float)) and math.isfinite(batches) and batches > 0:
        per_epoch = math.ceil(batches / accumulate)
    return Budget(int(total), tokens_per_step=tokens_per_step, steps_per_epoch=per_epoch)


def onecycle_momentum(steps: int | float, pct_start: float = 0.3, base: float = 0.85,
                      peak: float = 0.95, anneal: str = "cos", three_phase: bool = False) -> Schedule:
    """The momentum (or Adam's beta1) of torch ``OneCycleLR(cycle_momentum=True)``.

    The inverse of the 1cycle LR (Smith & Topin 2019): from ``peak`` down to ``base`` while
    the LR rises, back to ``peak`` while it falls, over torch's phase ends ``pct_start *
    steps - 1`` and ``steps - 1`` (three phases: ``2 * pct_start * steps - 2``, then
    ``peak`` held), with the same anneal. Use it beside ``lrlab.onecycle(max_lr, steps,
    pct_start)``: ``Scheduler(opt, {"lr": onecycle(...), "momentum": onecycle_momentum(...)})``
    (``"beta1"`` for Adam).
    """
    shape = {"cos": lrlab.cosine, "linear": lrlab.linear}.get(anneal)
    if shape is None:
        raise ValueError(f"anneal must be 'cos' or 'linear'; got {anneal!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, float)) or not steps > 1:
        raise ValueError(f"steps must be a number of steps > 1; got {steps!r}")
    if not 0 < pct_start < 1:
        raise ValueError(f"pct_start must be in (0, 1); got {pct_start!r}")
    first = pct_start * steps - 1.0
    if not first > 0:
        raise ValueError(f"pct_start * steps - 1 must be > 0 (torch's first phase end); got {first!r}")
    if not three_phase:
        return lrlab.join(shape(peak, base, first), shape(base, peak, steps - 1.0 - first))
    second = 2 * pct_start * steps - 2.0
    return lrlab.join(shape(peak, base, first), shape(base, peak, second - first), lrlab.constant(peak))
