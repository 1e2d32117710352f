"""A schedule as code for another framework: ``lrlab.export(schedule, to="torch")``.

Each target gets a self-contained, runnable snippet that uses the framework's own
schedulers where they express the schedule exactly, and says so plainly where they cannot,
giving the closest exact alternative instead (``LambdaLR`` over lrlab's values, an optax
schedule evaluated by lrlab, a join of the framework's pieces).

The contract every snippet keeps:

* ``torch``, ``transformers``, ``timm``: ``make_scheduler(optimizer)`` returns the
  scheduler and sets the LR it needs on every parameter group, so the LRs it produces are
  the schedule's absolute values whatever LR the optimizer was built with.
* ``optax``, ``keras``: ``schedule`` is the framework's schedule object (a function of the
  step count for optax, a ``LearningRateSchedule`` for Keras).
* ``lrlab``: ``schedule`` is the lrlab schedule.

How each is stepped (docs/export.md): torch and transformers in torch's order
(``optimizer.step(); scheduler.step()``); timm with ``scheduler.step_update(t)`` before
update ``t``; optax and Keras call ``schedule(t)`` with the update count ``t``.
"""

from __future__ import annotations

from lrlab.schedules import Schedule, parse

from ._ir import Unsupported

__all__ = ["TARGETS", "export", "export_info"]

#: target name -> what it is
TARGETS = {
    "torch": "torch.optim.lr_scheduler (make_scheduler(optimizer))",
    "transformers": "transformers' get_*_schedule functions (make_scheduler(optimizer))",
    "optax": "an optax schedule (schedule)",
    "keras": "a keras.optimizers.schedules.LearningRateSchedule (schedule)",
    "timm": "a timm.scheduler scheduler (make_scheduler(optimizer), step_update(t))",
    "lrlab": "the lrlab schedule itself (schedule)",
}


def _lrlab(schedule: Schedule) -> str:
    from ._code import header, text_literal

    return "\n".join([
        header(schedule, "An lrlab schedule"),
        "# PyTorch: lrlab.torch.Scheduler(optimizer, schedule); JAX: lrlab.jax.schedule(schedule)",
        "import lrlab",
        "",
        f"schedule = lrlab.parse({text_literal(str(schedule))})",
    ]) + "\n"


def _generators():
    from . import _keras, _optax, _timm, _torch, _transformers

    return {
        "torch": (_torch.generate, _torch.fallback),
        "transformers": (_transformers.generate, _transformers.fallback),
        "optax": (_optax.generate, _optax.fallback),
        "keras": (_keras.generate, _keras.fallback),
        "timm": (_timm.generate, _timm.fallback),
    }


def export(schedule: Schedule | str, to: str = "lrlab") -> str:
    """The source of a runnable snippet that builds ``schedule`` in the framework ``to``
    (one of :data:`TARGETS`). ``schedule`` is a resolved :class:`~lrlab.Schedule` or its
    text form; lengths with units ('5%', '2ep') must be resolved with a Budget first.

    Where the framework's own schedulers cannot express the schedule exactly, the snippet
    says why in a comment and uses the closest exact alternative.
    """
    return export_info(schedule, to)[0]


def export_info(schedule: Schedule | str, to: str = "lrlab") -> tuple[str, bool, str | None]:
    """``(code, native, reason)``: the snippet of :func:`export`, whether it uses the
    framework's own schedulers, and why not (None when it does)."""
    if isinstance(schedule, str):
        schedule = parse(schedule)
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be an lrlab Schedule or its text form; got "
                         f"{type(schedule).__name__}")
    if not isinstance(to, str) or to not in TARGETS:
        raise ValueError(f"to must be one of {', '.join(TARGETS)}; got {to!r}")
    missing = schedule.unresolved_lengths()
    if missing:
        where, text = missing[0]
        raise ValueError(f"{where}={text!r} is not in steps: resolve the schedule with a Budget "
                         "(schedule.resolve(lrlab.Budget(...))) before exporting it")
    if to == "lrlab":
        return _lrlab(schedule), True, None
    generate, fallback = _generators()[to]
    try:
        return generate(schedule), True, None
    except Unsupported as why:
        return fallback(schedule, str(why)), False, str(why)
    except (TypeError, ValueError, KeyError, ArithmeticError) as error:
        # a structure the generator does not know (a core feature newer than it): the
        # exact alternative is always right
        reason = f"lrlab has no translation for this structure yet ({type(error).__name__}: {error})"
        return fallback(schedule, reason), False, reason
