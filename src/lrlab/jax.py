"""JAX integration: an lrlab schedule as an optax schedule (``count -> learning rate``).

Needs the ``jax`` extra. The formulas are the same as ``schedule(t)``, written with
``jax.numpy``; the returned function is jit- and vmap-safe (no Python branching on the
step) and evaluates in JAX's default float type (float32 unless x64 is enabled).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax.numpy as jnp

from lrlab.schedules import Schedule, check_schedule, interp_formula, where_switch


def _power(base, exponent):
    """``base ** exponent``; a Python-float base has its log taken in float64 first, so
    ``gamma ** t`` keeps float32's relative precision even for gamma near 1 and large t."""
    if isinstance(base, (int, float)) and base > 0:
        return jnp.exp(exponent * math.log(base))
    return jnp.power(base, exponent)


def _search(edges, t):
    return jnp.searchsorted(jnp.asarray(edges, dtype=jnp.result_type(t)), t, side="right")


def _take(table, index):
    return jnp.asarray(table, dtype=jnp.result_type(float))[index]


class JaxBackend:
    """jax.numpy with the members the schedule formulas use."""

    name = "jax"
    pi = math.pi
    cos = staticmethod(jnp.cos)
    sqrt = staticmethod(jnp.sqrt)
    exp = staticmethod(jnp.exp)
    log = staticmethod(jnp.log)
    floor = staticmethod(jnp.floor)
    power = staticmethod(_power)
    where = staticmethod(jnp.where)
    minimum = staticmethod(jnp.minimum)
    maximum = staticmethod(jnp.maximum)
    search = staticmethod(_search)
    take = staticmethod(_take)

    @staticmethod
    def interp(t, xs, ys):
        return interp_formula(t, xs, ys, JaxBackend)

    @staticmethod
    def switch(index, schedules, t, offsets):
        return where_switch(JaxBackend, index, schedules, t, offsets)


def schedule(s: Schedule) -> Callable[[object], jnp.ndarray]:
    """An optax-compatible schedule equal to ``s``: pass it as ``learning_rate`` to
    ``optax.adamw`` (or any ``optax.inject_hyperparams`` optimizer)."""
    check_schedule(s, "schedule")
    s.check_resolved()

    def lr_at(count):
        t = jnp.asarray(count).astype(jnp.result_type(float))
        return jnp.asarray(s.evaluate(t, JaxBackend), dtype=t.dtype) + jnp.zeros_like(t)

    lr_at.__doc__ = f"lrlab schedule {s} as an optax schedule."
    return lr_at
