"""lrlab: learning-rate schedules defined once, exact against the peers.

>>> import lrlab
>>> s = lrlab.parse("warmup(715, cosine(6e-4, 6e-5, 18358))")
>>> s(0), s(715), s(19073)
(0.0, 0.0006, 6e-05)
"""

from typing import TYPE_CHECKING

from lrlab.schedules import *  # noqa: F403
from lrlab.schedules import __all__ as _schedule_names
from lrlab.units import Budget, steps_to_tokens, tokens_to_steps

if TYPE_CHECKING:  # imported on first use by __getattr__ below
    from lrlab.exporters import export
    from lrlab.viz.plot import plot

__version__ = "0.1.0"


def preset(name: str, budget: Budget | None = None):
    """The schedule of a published recipe, resolved against its own budget (or ``budget``)."""
    from lrlab.presets import get_preset

    return get_preset(name).schedule_for(budget)


def recommend(*args, **kwargs):
    """A schedule for a run with a cited reason per choice: :func:`lrlab.advisor.recommend`
    (imported when first called, so that ``import lrlab`` stays light)."""
    from lrlab.advisor import recommend as _recommend

    return _recommend(*args, **kwargs)


def __getattr__(name: str):
    """``lrlab.plot`` and ``lrlab.export``, imported on first use (so ``import lrlab`` does
    not import matplotlib)."""
    if name == "plot":
        from lrlab.viz.plot import plot

        return plot
    if name == "export":
        from lrlab.exporters import export

        return export
    raise AttributeError(f"module 'lrlab' has no attribute {name!r}")


__all__ = [*_schedule_names, "Budget", "export", "plot", "preset", "recommend", "steps_to_tokens",
           "tokens_to_steps"]
