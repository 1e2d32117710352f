"""lrlab schedules in the Hugging Face ``Trainer``, with lengths from the run.

``ScheduleTrainer(..., schedule=s)`` is a ``transformers.Trainer`` whose ``create_scheduler``
(the override point transformers documents) builds a :class:`lrlab.torch.Scheduler` on the
Trainer's optimizer, with unit lengths in ``s`` ('5%', '1ep') resolved from the run the
Trainer computed: its total optimizer steps (``max_steps``, or ``num_train_epochs`` times
the update steps per epoch, gradient accumulation counted) and its update steps per epoch.
For another Trainer class (TRL's ``SFTTrainer``...), put :class:`ScheduleMixin` first:
``class MyTrainer(ScheduleMixin, SFTTrainer): pass``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transformers import Trainer
from transformers.trainer_utils import has_length

from lrlab.schedules import Schedule, check_schedule
from lrlab.units import Budget

from .scheduler import Scheduler


class ScheduleMixin:
    """Adds ``schedule=`` (a Schedule or a mapping ``{"lr": s, "momentum": m}``),
    ``scheduler_options=`` (keyword arguments of :class:`Scheduler`, e.g. ``{"groups":
    "ratio"}``) and ``budget=`` (a :class:`Budget` for what the Trainer cannot know, e.g.
    ``tokens_per_step``) to a ``transformers.Trainer`` class."""

    lr_scheduler: Any
    optimizer: Any

    def __init__(self, *args: Any, schedule: Schedule | Mapping[str, Schedule],
                 scheduler_options: Mapping[str, Any] | None = None,
                 budget: Budget | None = None, **kwargs: Any) -> None:
        if isinstance(schedule, Mapping):
            for key, s in schedule.items():
                check_schedule(s, f"schedule[{key!r}]")
        else:
            check_schedule(schedule, "schedule")
        options = dict(scheduler_options or {})
        if "budget" in options:
            raise ValueError("give the budget as budget=..., not in scheduler_options")
        if budget is not None and not isinstance(budget, Budget):
            raise ValueError(f"budget must be an lrlab.Budget; got {type(budget).__name__}")
        super().__init__(*args, **kwargs)
        if self.lr_scheduler is not None:
            raise ValueError("give either schedule=... or optimizers=(optimizer, scheduler) with a "
                             "scheduler, not both")
        self.lrlab_schedule = schedule
        self.lrlab_options = options
        self.lrlab_budget = budget
        self.lrlab_steps_per_epoch: float | None = None

    def set_initial_training_values(self, args: Any, dataloader: Any, *rest: Any, **kw: Any) -> Any:
        """transformers' own computation, with its update steps per epoch kept for '1ep'."""
        values = super().set_initial_training_values(args, dataloader, *rest, **kw)  # type: ignore[misc]
        self.lrlab_steps_per_epoch = values[1] if has_length(dataloader) else None
        return values

    def run_budget(self, num_training_steps: int) -> Budget:
        """The budget the schedule is resolved with: the Trainer's total optimizer steps and
        update steps per epoch, and the ``tokens_per_step`` of ``budget=`` (if given)."""
        given = self.lrlab_budget
        per_epoch = self.lrlab_steps_per_epoch
        if per_epoch is None and given is not None:
            per_epoch = given.steps_per_epoch
        return Budget(int(num_training_steps), None if given is None else given.tokens_per_step,
                      per_epoch)

    def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Scheduler:
        """The lrlab :class:`Scheduler`, built once the Trainer knows the run's length."""
        if self.lr_scheduler is None:
            optimizer = optimizer if optimizer is not None else self.optimizer
            self.lr_scheduler = Scheduler(optimizer, self.lrlab_schedule,
                                          budget=self.run_budget(num_training_steps), **self.lrlab_options)
            self._created_lr_scheduler = True  # transformers rebuilds it on the next train()
        return self.lr_scheduler


class ScheduleTrainer(ScheduleMixin, Trainer):
    """``transformers.Trainer`` driven by an lrlab schedule: ``ScheduleTrainer(model=...,
    args=..., train_dataset=..., schedule=lrlab.parse("warmup('5%', cosine(3e-4, 3e-5, '95%'))"))``.
    The Trainer's ``lr_scheduler_type``, ``warmup_steps`` and ``warmup_ratio`` are not used."""
