"""A schedule as a line plot made of text, for terminals (numpy only).

>>> from lrlab import parse
>>> print(plot(parse("linear(0.0, 1.0, 100)"), width=32, height=3))
1 ┤                   ⢀⣀⣀⡤⠤⠴⠒⠒⠊⠉
  │         ⣀⣀⡠⠤⠤⠖⠒⠒⠉⠉⠉
0 ┤⣀⡤⠤⠤⠒⠒⠊⠉⠉
  └┬─────────────┬─────────────┬
   0             50          100

Each character cell holds 2 x 4 braille dots (``charset='braille'``), or one ``*``
(``charset='ascii'``, for terminals without braille glyphs). Every whole step in the
window is drawn: a column of dots spans the lowest to the highest LR of the steps it
covers, and consecutive columns are joined, so step drops show as vertical lines. Past
200k steps the columns are sampled on an even grid plus the steps beside every phase
boundary.
"""

from __future__ import annotations

import math

import numpy as np

from lrlab.inspect import horizon
from lrlab.schedules import Schedule

__all__ = ["plot"]

_DENSE_LIMIT = 200_001
#: braille dot bits, indexed [column][row from the top] within a 2 x 4 cell
_BRAILLE = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_CHARSETS = {
    # dots across, dots down, axis: vertical, labelled tick, corner, horizontal, step tick
    "braille": (2, 4, "│", "┤", "└", "─", "┬"),
    "ascii": (1, 1, "|", "+", "+", "-", "+"),
}
#: on a log axis, values more than this many decades below the peak sit on the bottom row
LOG_DECADES = 5.0


def _label(value: float) -> str:
    return f"{value:.3g}"


def _round_value(value: float) -> float:
    """``value`` to one significant digit (two if the first is 1)."""
    if value <= 0.0 or not math.isfinite(value):
        return value
    digits = 1 - math.floor(math.log10(value))
    rounded = round(value, digits)
    if f"{rounded:.1e}".startswith("1"):
        rounded = round(value, digits + 1)
    return rounded


def _step_label(step: int) -> str:
    if step >= 1_000_000 and step % 100_000 == 0:
        return f"{step / 1e6:g}M"
    if step >= 1000 and step % 100 == 0:
        return f"{step / 1e3:g}k"
    return str(step)


def _tick_spacing(span: int, most: int) -> int:
    """The smallest 1-2-5 x 10^k step spacing giving at most ``most`` intervals."""
    most = max(1, most)
    spacing = 1
    while True:
        for factor in (1, 2, 5):
            if span / (spacing * factor) <= most:
                return spacing * factor
        spacing *= 10


def _sample_steps(schedule: Schedule, start: int, end: int) -> np.ndarray:
    count = end - start + 1
    if count <= _DENSE_LIMIT:
        return np.arange(start, end + 1, dtype=np.int64)
    grid = np.round(np.linspace(start, end, _DENSE_LIMIT)).astype(np.int64)
    inside = [b for b in schedule.boundaries() if start <= b <= end][:_DENSE_LIMIT]  # bounded
    marks = [m for b in inside for m in (math.floor(b), math.ceil(b)) if start <= m <= end]
    merged = np.sort(np.concatenate([grid, np.asarray(marks, dtype=np.int64)]))
    return merged[np.concatenate(([True], merged[1:] != merged[:-1]))]


def _amount_label(value: float) -> str:
    """An x tick in tokens or epochs: 0, 2.5, 750K, 1.5M, 260B, 2T."""
    size = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if size >= scale:
            return f"{value / scale:.4g}{suffix}"
    return f"{value:.4g}"


def _unit_spacing(span: float, most: int) -> float:
    """The smallest 1-2-5 x 10^k spacing (k may be negative) giving at most ``most`` intervals."""
    most = max(1, most)
    spacing = 10.0 ** math.floor(math.log10(span / most)) if span > 0 else 1.0
    while True:
        for factor in (1, 2, 5):
            if span / (spacing * factor) <= most + 1e-9:
                return spacing * factor
        spacing *= 10


def plot(schedule: Schedule, width: int = 72, height: int = 12, *, start: int = 0,
         end: int | None = None, log: bool = False, charset: str = "braille",
         x_scale: float = 1.0, x_unit: str = "") -> str:
    """Draw ``schedule`` over the steps ``start..end`` as lines of text.

    ``width`` is the width of each line in characters, LR labels included; ``height`` the
    number of rows of the plot itself (an x axis and a row of step ticks follow). ``end``
    defaults to :func:`lrlab.inspect.horizon` (the schedule's end, or a window for an endless
    one). The y axis runs from 0 to the peak; with ``log=True`` it is logarithmic, from the
    smallest positive value (at most :data:`LOG_DECADES` decades below the peak) to the peak,
    and values under that (zeros included) sit on the bottom row. With ``x_scale`` (units
    per step, e.g. tokens per step or 1 / steps per epoch) the ticks are labelled in that
    unit, named by ``x_unit`` at the end of the tick row when it fits. Returns a string
    without a trailing newline.
    """
    if isinstance(x_scale, bool) or not isinstance(x_scale, (int, float)) or not (
        math.isfinite(x_scale) and x_scale > 0
    ):
        raise ValueError(f"x_scale must be a positive finite number; got {x_scale!r}")
    if not isinstance(schedule, Schedule):
        raise ValueError(f"expected an lrlab Schedule; got {type(schedule).__name__}")
    if charset not in _CHARSETS:
        raise ValueError(f"charset must be one of {', '.join(map(repr, _CHARSETS))}; got {charset!r}")
    for name, value, low in (("width", width, 16), ("height", height, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}; got {value!r}")
    if end is None:
        end = max(horizon(schedule), start + 1)
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an int >= 0; got {value!r}")
    start, end = int(start), int(end)
    if end <= start:
        raise ValueError(f"end must be > start; got start={start}, end={end}")
    dots_x, dots_y, v_axis, v_tick, corner, h_axis, h_tick = _CHARSETS[charset]

    steps = _sample_steps(schedule, start, end)
    values = schedule.values(steps)
    finite = np.isfinite(values)

    # --- y scale ---------------------------------------------------------------------------
    top = float(values[finite].max()) if finite.any() else 1.0
    if log:
        positive = values[finite & (values > 0)]
        top = float(positive.max()) if positive.size else 1.0
        bottom = float(positive.min()) if positive.size else top / 10.0
        bottom = max(bottom, top * 10.0 ** -LOG_DECADES)
        if bottom == top:
            bottom, top = top / math.sqrt(10.0), top * math.sqrt(10.0)
        lo, hi = math.log10(bottom), math.log10(top)

        def to_axis(v: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log10(np.where(v > 0, v, bottom))

        def from_axis(a: float) -> float:
            return 10.0**a
    else:
        bottom = 0.0
        if top <= 0.0:
            top = 1.0
        lo, hi = bottom, top

        def to_axis(v: np.ndarray) -> np.ndarray:
            return v

        def from_axis(a: float) -> float:
            return a

    rows = height * dots_y
    y = np.rint((to_axis(values) - lo) / (hi - lo) * (rows - 1))
    y = np.clip(np.where(finite, y, -1), -1, rows - 1).astype(np.int64)

    # --- labels and layout ---------------------------------------------------------------
    labelled = {0: _label(top), height - 1: _label(bottom)}
    if height >= 5:
        # a round value near the middle, on the row whose dots span it
        middle = _round_value(from_axis((lo + hi) / 2.0))
        where = (float(to_axis(np.asarray(middle))) - lo) / (hi - lo)
        row = height - 1 - int(where * (rows - 1) + 0.5) // dots_y
        if 0 < row < height - 1:
            labelled[row] = _label(middle)
    margin = max(len(text) for text in labelled.values())
    cols = width - margin - 2
    if cols < 8:
        raise ValueError(f"width {width} leaves no room to plot beside the labels; give 20 or more")
    pixels = cols * dots_x
    count = end - start + 1

    # --- columns: [low, high] dot rows per pixel column ------------------------------------
    if count >= pixels:
        column = ((steps - start) * pixels) // count
    else:
        column = np.rint((steps - start) * (pixels - 1) / (end - start)).astype(np.int64)
    grid = np.zeros((rows, pixels), dtype=bool)
    previous = None
    for px in range(pixels):
        if count >= pixels:
            a, b = np.searchsorted(column, [px, px + 1])
            ys = y[a:b]
        else:
            ys = y[min(int(np.rint(px * (end - start) / (pixels - 1))), count - 1):][:1]
        ys = ys[ys >= 0]
        if ys.size == 0:
            previous = None
            continue
        low, high = int(ys.min()), int(ys.max())
        if previous is not None:
            low, high = min(low, previous + 1), max(high, previous - 1)
        grid[low:high + 1, px] = True
        previous = int(ys[-1])

    # --- characters ----------------------------------------------------------------------
    lines = []
    for r in range(height):
        cells = []
        for c in range(cols):
            if charset == "braille":
                code = 0
                for dx in range(2):
                    for dy in range(4):
                        if grid[(height - 1 - r) * 4 + (3 - dy), c * 2 + dx]:
                            code |= _BRAILLE[dx][dy]
                cells.append(chr(0x2800 + code) if code else " ")
            else:
                cells.append("*" if grid[height - 1 - r, c] else " ")
        label = labelled.get(r, "")
        axis = v_tick if r in labelled else v_axis
        lines.append(f"{label:>{margin}} {axis}{''.join(cells)}".rstrip())

    # --- x axis and step ticks -------------------------------------------------------------
    axis_row = [h_axis] * cols
    tick_row = [" "] * cols
    free = 0
    if x_scale == 1.0:
        spacing = _tick_spacing(end - start, max(1, cols // 9))
        first = -(-start // spacing) * spacing
        ticks = [(float(t), _step_label(t)) for t in range(first, end + 1, spacing)]
    else:
        unit_spacing = _unit_spacing((end - start) * x_scale, max(1, cols // 9))
        k = math.ceil(start * x_scale / unit_spacing - 1e-9)
        ticks = []
        while k * unit_spacing <= end * x_scale * (1 + 1e-12):
            ticks.append((k * unit_spacing / x_scale, _amount_label(k * unit_spacing)))
            k += 1
    for tick, text in ticks:
        if count >= pixels:
            px = int(((tick - start) * pixels) // count)
        else:
            px = round((tick - start) * (pixels - 1) / (end - start))
        c = min(cols - 1, px // dots_x)
        axis_row[c] = h_tick
        at = min(c, cols - len(text))
        if at >= free:
            tick_row[at:at + len(text)] = list(text)
            free = at + len(text) + 1
    tick_text = "".join(tick_row).rstrip()
    if x_unit and len(x_unit) + 1 <= cols:
        while tick_text and len(tick_text) + len(x_unit) + 1 > cols:
            tick_text = tick_text[: tick_text.rstrip().rfind(" ") + 1].rstrip()  # drop the last label
        tick_text = tick_text.ljust(cols - len(x_unit)) + x_unit
    lines.append(f"{'':>{margin}} {corner}{''.join(axis_row)}")
    lines.append(f"{'':>{margin}}  {tick_text}".rstrip())
    return "\n".join(lines)
