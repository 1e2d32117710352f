"""Phase shapes: how a phase moves from its start value to its end value.

A phase of length ``L`` from ``a`` to ``b`` at local time ``t`` (``0 <= t <= L``), with
``x = t / L``:

* falling (``a > b``):  ``b + (a - b) * f(x)``
* rising  (``a < b``):  ``a + (b - a) * f(1 - x)``, the falling curve read backwards in time
  (so a "1-sqrt" warmup rises slowly, then steeply, as in transformers' ``get_wsd_schedule``).
  The cosine is its own time reversal, so it uses the falling expression both ways.

| shape            | f(x), f(0) = 1, f(1) = 0      | source                                       |
| ---------------- | ----------------------------- | -------------------------------------------- |
| linear           | 1 - x                         | BERT, transformers, torch ``LinearLR``       |
| cosine           | (1 + cos(pi x)) / 2           | Loshchilov & Hutter 2017 (SGDR)              |
| one_minus_sqrt   | 1 - sqrt(x)                   | Hagele et al. 2024, WSD cooldown             |
| one_minus_square | 1 - x^2                       | Hagele et al. 2024, WSD cooldown             |
| polynomial       | (1 - x)^p                     | torch ``PolynomialLR``, transformers         |
| one_minus_power  | 1 - x^p                       | timm ``WSDLRScheduler(decay_fn='power')``    |
| geometric        | ``a * (b / a)^x``             | exponential interpolation (MiniCPM cooldown) |

Each form is evaluated the way that is exact at the phase's ends: ``1 - x`` as ``(L - t) / L``
and ``x`` as ``t / L`` (so a warmup from 0 is ``peak * t / W`` to the last bit, as in
transformers), and the end value is returned as given once ``t >= L``.
"""

from __future__ import annotations

_TINY = 1e-300  # keeps power()'s log finite at 0; the value there is the phase's end anyway

SHAPES = ("linear", "cosine", "one_minus_sqrt", "one_minus_square", "polynomial", "one_minus_power",
          "geometric")
#: the shapes that take a ``power``: ``(1 - x)^p`` and ``1 - x^p``, the polynomial in both
#: directions of curvature (p = 2: ``(1 - x)^2`` is convex, ``1 - x^2`` concave)
POWER_SHAPES = ("polynomial", "one_minus_power")

#: other names the shapes go by (transformers' '1-sqrt', Hagele et al.'s 'square', the
#: issue tracker's 'exponential'); they are accepted and stored under the canonical name
SHAPE_ALIASES = {
    "1-sqrt": "one_minus_sqrt", "1_sqrt": "one_minus_sqrt", "sqrt": "one_minus_sqrt",
    "1-square": "one_minus_square", "square": "one_minus_square",
    "exponential": "geometric", "exp": "geometric", "cos": "cosine", "poly": "polynomial",
}


_WORDS = {
    "linear": "linear", "cosine": "cosine", "one_minus_sqrt": "1-sqrt",
    "one_minus_square": "1-square", "polynomial": "polynomial", "geometric": "exponential",
    "one_minus_power": "1-power",
}


def shape_words(shape: str, power: float = 1.0) -> str:
    """How people name a shape ("1-sqrt", "polynomial (power 2)")."""
    word = _WORDS.get(shape, shape)
    if shape in POWER_SHAPES and power != 1.0:
        word += f" (power {power:g})"
    return word


def canonical_shape(name: object) -> object:
    """The canonical name of a shape alias (other values are returned unchanged)."""
    return SHAPE_ALIASES.get(name, name) if isinstance(name, str) else name


def fall(shape: str, t, length: float, power: float, xp):
    """f(t / L) for a falling phase (1 at t = 0, 0 at t = L)."""
    if shape == "linear":
        return (length - t) / length
    if shape == "cosine":
        return 0.5 * (1.0 + xp.cos(xp.pi * (t / length)))
    if shape == "one_minus_sqrt":
        return 1.0 - xp.sqrt(t / length)
    if shape == "one_minus_square":
        x = t / length
        return 1.0 - x * x
    if shape == "polynomial":
        return xp.power(xp.maximum((length - t) / length, _TINY), power)
    if shape == "one_minus_power":
        return 1.0 - xp.where(t > 0, xp.power(xp.maximum(t / length, _TINY), power), 0.0)
    raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")


def _rise(shape: str, t, length: float, power: float, xp):
    """f(1 - t / L) for a rising phase (0 at t = 0, 1 at t = L)."""
    if shape == "linear":
        return t / length
    if shape == "one_minus_sqrt":
        return 1.0 - xp.sqrt((length - t) / length)
    if shape == "one_minus_square":
        r = (length - t) / length
        return 1.0 - r * r
    if shape == "polynomial":
        return xp.where(t > 0, xp.power(xp.maximum(t / length, _TINY), power), 0.0)
    if shape == "one_minus_power":
        return 1.0 - xp.power(xp.maximum((length - t) / length, _TINY), power)
    raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")


def interpolate(start: float, end: float, t, length: float, shape: str, power: float, xp):
    """Value of a phase from ``start`` to ``end`` over ``length`` at local time ``t >= 0``.

    From ``length`` on it holds ``end`` exactly. At ``t = 0`` a falling phase computes
    ``end + (start - end) * 1``, which can differ from ``start`` by one ulp: that is the
    peers' expression (torch's OneCycleLR), kept so their LRs are matched bit for bit.
    """
    value = inside(start, end, xp.minimum(t, length), length, shape, power, xp)
    return xp.where(t >= length, end, value)


def inside(start: float, end: float, t, length: float, shape: str, power: float, xp):
    """The phase's value for ``0 <= t <= length`` (the formula; ``interpolate`` adds the
    exact ends)."""
    if shape == "geometric":
        return start * xp.power(end / start, t / length)
    if shape == "cosine":
        # the cosine curve is its own time reversal: one expression serves both directions,
        # the one torch's OneCycleLR uses, so 1cycle LRs match torch's to the last bit
        return end + (start - end) * fall(shape, t, length, power, xp)
    falling = start >= end
    if isinstance(falling, bool):  # one phase: its direction is known
        if falling:
            return end + (start - end) * fall(shape, t, length, power, xp)
        return start + (end - start) * _rise(shape, t, length, power, xp)
    # many phases at once (piecewise: start, end and length are per element)
    return xp.where(falling, end + (start - end) * fall(shape, t, length, power, xp),
                    start + (end - start) * _rise(shape, t, length, power, xp))
