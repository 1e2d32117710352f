"""lrlab's schedule core: every family, composition, units and the text form.

Depends on the standard library and numpy only. Each constructor returns an immutable
:class:`Schedule`; ``s(t)`` is the LR of update ``t`` and ``s.values(steps)`` many at once.

Modules by kind: ``_primitives`` (constant, phases, exponential, inverse square root,
multistep, tanh, inverse time), ``_periodic`` (cyclic, SGDR, restarts of any schedule),
``_timemaps`` (warp, extend), ``_composition`` (join, scale, offset, clamp,
product, add, limit, shift, quantize, repeat), ``_recipes`` (warmup, untuned warmup, WSD,
1cycle, piecewise). Each registers its constructors in ``_registry``, which the text form
reads; ``_base`` holds the Schedule value, ``_params`` the parameter declarations,
``_shapes`` the phase shapes, ``_backend`` the array namespaces and ``_plan`` the scalar
plan traced from each formula.
"""

from __future__ import annotations

from lrlab.units import Budget

from ._backend import NUMPY, interp_formula, where_switch
from ._base import MAX_DEPTH, MAX_NESTING, Schedule, check_schedule
from ._composition import (
    Add,
    Clamp,
    Join,
    Limit,
    Offset,
    Product,
    Quantize,
    Repeat,
    Scale,
    Shift,
    add,
    clamp,
    join,
    limit,
    offset,
    product,
    quantize,
    repeat,
    scale,
    shift,
)
from ._params import check_choice, check_lr, check_number
from ._periodic import SGDR, Cyclic, Restarts, cyclic, restarts, sgdr
from ._primitives import (
    Constant,
    Exponential,
    InverseSqrt,
    InverseTime,
    MultiStep,
    Phase,
    Tanh,
    constant,
    cosine,
    exponential,
    geometric,
    inverse_sqrt,
    inverse_time,
    linear,
    multistep,
    one_minus_power,
    one_minus_sqrt,
    one_minus_square,
    polynomial,
    step,
    tanh,
)
from ._recipes import (
    WSD,
    OneCycle,
    Piecewise,
    UntunedWarmup,
    Warmup,
    cooldown_from,
    onecycle,
    piecewise,
    scale_batch,
    untuned_warmup,
    warmup,
    warmup_cosine,
    wsd,
)
from ._registry import CLASSES, FAMILIES
from ._shapes import SHAPES
from ._text import ParseError, from_dict, parse
from ._timemaps import Extend, Warp, extend, warp

__all__ = [
    "CLASSES", "FAMILIES", "MAX_DEPTH", "MAX_NESTING", "NUMPY", "SGDR", "SHAPES", "WSD", "Add",
    "Budget", "Clamp",
    "Constant", "Cyclic", "Exponential", "Extend", "InverseSqrt", "InverseTime", "Join", "Limit",
    "MultiStep", "Offset", "OneCycle", "ParseError", "Phase", "Piecewise", "Product", "Quantize",
    "Repeat", "Restarts", "Scale", "Schedule", "Shift", "Tanh", "UntunedWarmup", "Warmup", "Warp",
    "add",
    "check_choice", "check_lr", "check_number", "check_schedule", "clamp", "constant",
    "cooldown_from", "cosine", "cyclic", "exponential", "extend", "from_dict", "geometric",
    "interp_formula", "inverse_sqrt", "inverse_time", "join", "limit", "linear", "multistep", "offset",
    "one_minus_power", "one_minus_sqrt", "one_minus_square", "onecycle", "parse", "piecewise",
    "polynomial", "product", "quantize", "repeat", "restarts", "scale", "scale_batch", "sgdr", "shift",
    "step", "tanh", "untuned_warmup", "warmup", "warmup_cosine", "warp", "where_switch", "wsd",
]
