"""The designer's knobs: a schedule described by where its handles are.

A :class:`Design` is what the page lets a person drag and pick: the shape of the decay, the
peak, the LR at step 0 and at the end, and three steps (warmup end ``W``, decay start ``D``,
decay end ``E``)::

    LR  peak ┤      ●───────●            ● warmup end (W, peak), ● decay start (D, peak)
             │     /         ╲           ● decay end (E, final)
             │    /           ╲          the peak handle moves the level up and down
    start    ┤───/             ╲___● final
             └──W───────D───────E──▶ step

:func:`to_spec` writes the design as lrlab's text form, using the library's own families
(so every formula stays in :mod:`lrlab.schedules`); :func:`recognize` reads a schedule back
into a design when it has one of these forms (via its public dict form), and
:func:`approximate` starts a design from any schedule's summary. Nothing here evaluates a
learning rate.

What each shape writes (lengths in steps; a warmup prefix only when ``W > 0``, a stable
phase ``constant(peak, steps=D - W)`` only when ``D > W``):

| shape       | after the warmup and the stable phase                                    |
| ----------- | ------------------------------------------------------------------------ |
| constant    | ``constant(peak, steps=E - W)`` (no decay; ``D`` is ``W``)               |
| cosine      | ``cosine(peak, final, E - D)``                                           |
| linear      | ``linear(peak, final, E - D)``                                           |
| exponential | ``geometric(peak, final, E - D)`` (``final > 0``)                        |
| step        | ``multistep(peak, [D + i (E - D) / n for i = 1..n], gamma)``: ``n`` drops, |
|             | ``gamma = (final / peak)^(1 / n)``, milestones rounded to whole steps    |
|             | (the peak is held until the first drop: no stable phase is written)      |
| sgdr        | ``sgdr(peak, period, mult, floor=final, cycles=n)``, ``n`` cycles that   |
|             | fill ``E - D``: ``period = (E - D) / (1 + mult + ... + mult^(n-1))``     |
| wsd         | ``wsd(peak, E, warmup=W, cooldown=E - D, shape=cooldown, floor, start)`` |
| onecycle    | ``onecycle(peak, E, pct_start=(W + 1) / E, div=peak / start,``           |
|             | ``final_div=start / final)`` (torch's convention: the peak is reached at |
|             | update ``pct_start E - 1``, the final LR at ``E - 1``; ``D`` is ``W``)   |
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from lrlab.schedules import Schedule, parse

__all__ = [
    "COOLDOWNS",
    "DESIGN_SHAPES",
    "MAX_STEP",
    "Design",
    "approximate",
    "design_from_dict",
    "handles",
    "recognize",
    "to_spec",
]

#: the shapes of the picker, in its order
DESIGN_SHAPES = ("cosine", "linear", "wsd", "step", "exponential", "onecycle", "sgdr", "constant")
#: WSD cooldown shapes (Hagele et al. 2024 compare 1-sqrt, linear, cosine and 1-square;
#: MiniCPM's is exponential, lrlab's 'geometric')
COOLDOWNS = ("one_minus_sqrt", "linear", "cosine", "one_minus_square", "geometric")
#: the largest step a design may place a handle at: float64 represents every int up to 2^53
MAX_STEP = float(2**53)
MAX_DROPS = 50
MAX_CYCLES = 1000
MAX_MULT = 10.0

#: torch OneCycleLR's defaults, used when a 1cycle design has no positive start or final
_ONECYCLE_DIV = 25.0
_ONECYCLE_FINAL_DIV = 1e4
#: a geometric decay (exponential, step) cannot reach 0: a final of 0 becomes peak / 100
_GEOMETRIC_FINAL = 1e-2


@dataclasses.dataclass(frozen=True)
class Design:
    """The designer's knobs (see the module docstring for what each shape writes).

    ``peak``: the highest LR; ``final``: the LR at the end; ``start``: the LR at step 0;
    ``warmup``, ``decay_start``, ``decay_end``: the steps ``W <= D < E``; ``cooldown``: the
    WSD cooldown shape; ``drops``: step decay's number of drops; ``cycles`` and ``mult``:
    SGDR's number of cycles and cycle-length multiplier.
    """

    shape: str = "cosine"
    peak: float = 1e-3
    final: float = 1e-4
    start: float = 0.0
    warmup: float = 100.0
    decay_start: float = 100.0
    decay_end: float = 1000.0
    cooldown: str = "one_minus_sqrt"
    drops: int = 2
    cycles: int = 3
    mult: float = 1.0

    def __post_init__(self) -> None:
        _choice(self.shape, "design.shape", DESIGN_SHAPES)
        _choice(self.cooldown, "design.cooldown", COOLDOWNS)
        peak = _number(self.peak, "design.peak", low=0.0, low_open=True)
        for name in ("final", "start"):
            value = _number(getattr(self, name), f"design.{name}", low=0.0)
            if value > peak:
                raise ValueError(f"design.{name} must be <= design.peak ({peak!r}); got {value!r}")
        warmup = _number(self.warmup, "design.warmup", low=0.0, high=MAX_STEP)
        decay_start = _number(self.decay_start, "design.decay_start", low=0.0, high=MAX_STEP)
        if self.shape in ("constant", "onecycle"):  # no stable phase: the decay starts at the warmup's end
            decay_start = warmup
            object.__setattr__(self, "decay_start", warmup)
        decay_end = _number(self.decay_end, "design.decay_end", low=0.0, high=MAX_STEP)
        if decay_start < warmup:
            raise ValueError(f"design.decay_start must be >= design.warmup ({warmup:g}); got {decay_start:g}")
        if decay_end <= decay_start:
            raise ValueError(
                f"design.decay_end must be > design.decay_start ({decay_start:g}); got {decay_end:g}"
            )
        _integer(self.drops, "design.drops", 1, MAX_DROPS)
        _integer(self.cycles, "design.cycles", 1, MAX_CYCLES)
        _number(self.mult, "design.mult", low=1.0, high=MAX_MULT)
        for name in ("peak", "final", "start", "warmup", "decay_start", "decay_end", "mult"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """The knobs as a JSON-ready dict (whole step counts as ints)."""
        out = dataclasses.asdict(self)
        for name in ("warmup", "decay_start", "decay_end"):
            out[name] = _whole(out[name])
        return out


def design_from_dict(data: object) -> Design:
    """A :class:`Design` from a dict of knobs (missing ones take the defaults); a clear
    ValueError for unknown keys or bad values."""
    if not isinstance(data, dict):
        raise ValueError(f"design must be an object of knobs; got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(Design)}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ValueError(f"design has unknown knob {unknown[0]!r}; known: {', '.join(sorted(known))}")
    return normalize(Design(**data))


def normalize(design: Design) -> Design:
    """The design with what its shape fixes filled in: the steps a shape ignores follow the
    others (constant and 1cycle have ``D = W``), a geometric decay (exponential, step, WSD
    with an exponential cooldown) gets a positive final (``peak / 100`` for a final of 0),
    a 1cycle design a positive start (``peak / 25``) and
    final (``start / 1e4``) and its 1cycle warmup where torch's convention puts it."""
    changes: dict[str, Any] = {}
    shape, peak = design.shape, design.peak
    if shape in ("constant", "onecycle"):
        changes["decay_start"] = design.warmup
    if shape == "constant":
        changes["final"] = peak
    geometric = shape in ("exponential", "step") or (shape == "wsd" and design.cooldown == "geometric")
    if geometric and design.final == 0.0:
        changes["final"] = peak * _GEOMETRIC_FINAL
    if shape == "onecycle":
        start = design.start if design.start > 0 else peak / _ONECYCLE_DIV
        final = design.final if 0 < design.final <= start else start / _ONECYCLE_FINAL_DIV
        pct = _onecycle_pct(design.warmup, design.decay_end)
        changes.update(start=start, final=final, warmup=pct * design.decay_end - 1.0)
        changes["decay_start"] = changes["warmup"]
    return dataclasses.replace(design, **changes) if changes else design


def _onecycle_pct(warmup: float, total: float) -> float:
    """``pct_start`` putting the 1cycle peak at update ``warmup`` (torch: ``pct E - 1``),
    rounded to 6 digits and kept inside (0, 1) with at least one update per phase."""
    if total < 4:
        raise ValueError(f"a 1cycle design needs design.decay_end >= 4 steps; got {total:g}")
    pct = round((warmup + 1.0) / total, 6)
    low, high = 2.0 / total, 1.0 - 2.0 / total
    return min(max(pct, math.ceil(low * 1e6) / 1e6), math.floor(high * 1e6) / 1e6)


# --- design -> text form ----------------------------------------------------------------------


def to_spec(design: Design) -> str:
    """The design in lrlab's text form (see the table in the module docstring)."""
    d = normalize(design)
    W, D, E = d.warmup, d.decay_start, d.decay_end
    peak, final = d.peak, d.final
    if d.shape == "wsd":
        args = [repr(peak), _num(E)]
        if W > 0:
            args.append(f"warmup={_num(W)}")
        args += [f"cooldown={_num(E - D)}", f"shape={d.cooldown!r}"]
        if final > 0:
            args.append(f"floor={final!r}")
        if d.start > 0 and W > 0:
            args.append(f"start={d.start!r}")
        return f"wsd({', '.join(args)})"
    if d.shape == "onecycle":
        pct = _onecycle_pct(W, E)
        return (
            f"onecycle({peak!r}, {_num(E)}, pct_start={pct!r}, div={peak / d.start!r}, "
            f"final_div={d.start / final!r})"
        )
    if d.shape == "constant":
        body = f"constant({peak!r}, steps={_num(E - W)})"
    else:
        body = _decay(d, E - D)
        if D > W and d.shape != "step":  # multistep holds the peak until its first drop
            body = f"join(constant({peak!r}, steps={_num(D - W)}), {body})"
    if W > 0:
        extra = f", start_factor={d.start / peak!r}" if d.start > 0 else ""
        return f"warmup({_num(W)}, {body}{extra})"
    return body


def _decay(d: Design, length: float) -> str:
    """The decay part, from ``peak`` at its local time 0 to ``final`` at ``length``."""
    peak, final = d.peak, d.final
    if d.shape in ("cosine", "linear"):
        return f"{d.shape}({peak!r}, {final!r}, {_num(length)})"
    if d.shape == "exponential":
        return f"geometric({peak!r}, {final!r}, {_num(length)})"
    if d.shape == "step":
        offset = d.decay_start - d.warmup
        marks = [round(offset + i * length / d.drops) for i in range(1, d.drops + 1)]
        if len(set(marks)) != len(marks) or marks[0] <= 0:
            raise ValueError(
                f"design.drops ({d.drops}) do not fit in a decay of {length:g} steps: "
                "each drop needs its own step"
            )
        gamma = (final / peak) ** (1.0 / d.drops)
        return f"multistep({peak!r}, [{', '.join(map(str, marks))}], gamma={gamma!r})"
    if d.shape == "sgdr":
        period = length / sum(d.mult**k for k in range(d.cycles))
        mult = f", mult={d.mult!r}" if d.mult != 1.0 else ""
        floor = f", floor={final!r}" if final > 0 else ""
        return f"sgdr({peak!r}, {_num(period)}{mult}{floor}, cycles={d.cycles})"
    raise ValueError(f"design.shape {d.shape!r} has no decay")  # pragma: no cover


# --- handles ----------------------------------------------------------------------------------


def handles(design: Design) -> dict[str, dict[str, Any]]:
    """Where each handle is: ``{name: {"step", "lr", "moves"}}``, ``moves`` being ``"x"``,
    ``"y"`` or ``"xy"`` (the warmup end moves the warmup's length and the peak; the decay end
    the run's end and the final LR). The page draws the peak handle on the LR axis and the
    decay start on the step axis, so no two handles ever sit on one spot. Names:
    ``warmup_end``, ``peak``, ``decay_start``,
    ``decay_end``; a handle a shape does not use is left out (constant and 1cycle have no
    decay start: their decay starts where the warmup ends)."""
    d = normalize(design)
    W, D, E = d.warmup, d.decay_start, d.decay_end
    out: dict[str, dict[str, Any]] = {
        "warmup_end": {"step": _whole(W), "lr": d.peak, "moves": "xy"},
        "peak": {"step": _whole((W + D) / 2 if D > W else W), "lr": d.peak, "moves": "y"},
    }
    if d.shape not in ("constant", "onecycle"):
        out["decay_start"] = {"step": _whole(D), "lr": d.peak, "moves": "x"}
    end = E - 1.0 if d.shape == "onecycle" else E
    out["decay_end"] = {"step": _whole(end), "lr": d.final, "moves": "x" if d.shape == "constant" else "xy"}
    return out


# --- schedule -> design -----------------------------------------------------------------------


def recognize(schedule: Schedule) -> Design | None:
    """The design whose :func:`to_spec` is ``schedule`` (read from its public dict form), or
    None when the schedule is not one of the designer's forms. Reads what :func:`to_spec`
    writes and the same families written by hand (``warmup(W, cosine(...))``, ``wsd(...)``,
    ``onecycle(...)``, ...)."""
    try:
        design = _recognize(schedule.to_dict())
    except (ValueError, TypeError, KeyError, ArithmeticError):
        return None
    if design is None:
        return None
    try:
        return normalize(design)
    except ValueError:
        return None


def _recognize(d: dict[str, Any]) -> Design | None:
    family = d.get("family")
    if family == "wsd":
        return _recognize_wsd(d)
    if family == "onecycle":
        return _recognize_onecycle(d)
    warmup, start_factor = 0.0, 0.0
    if family == "warmup":
        if not set(d) <= {"family", "steps", "then", "start_factor"}:
            return None
        warmup, start_factor, d = float(d["steps"]), float(d.get("start_factor", 0.0)), d["then"]
    stable, level = 0.0, None
    if d.get("family") == "join":
        parts = d["parts"]
        if len(parts) == 1:
            d = parts[0]
        elif len(parts) == 2 and _is_level(parts[0]):
            stable, level, d = float(parts[0]["steps"]), parts[0]["lr"], parts[1]
        else:
            return None
    body = _recognize_decay(d)
    if body is None:
        return None
    shape, peak, final, begin, end, extra = body
    if level is not None and (shape == "constant" or level != peak):
        return None
    start = _solve(start_factor * peak, lambda x: x / peak, start_factor) if start_factor else 0.0
    return Design(
        shape=shape,
        peak=peak,
        final=final,
        start=start,
        warmup=warmup,
        decay_start=warmup + stable + begin,
        decay_end=warmup + stable + end,
        **extra,
    )


def _is_level(d: dict[str, Any]) -> bool:
    return (
        d.get("family") == "constant" and d.get("steps") is not None and set(d) == {"family", "lr", "steps"}
    )


def _recognize_decay(d: dict[str, Any]) -> tuple[str, float, float, float, float, dict[str, Any]] | None:
    """(shape, peak, final, decay start, decay end, extra knobs) of a decay body, the steps
    in its local time."""
    family = d.get("family")
    keys = set(d) - {"family"}
    if family in ("cosine", "linear", "geometric") and keys == {"start", "end", "steps"}:
        if d["end"] > d["start"]:
            return None
        shape = "exponential" if family == "geometric" else family
        return shape, d["start"], d["end"], 0.0, float(d["steps"]), {}
    if family == "constant" and keys == {"lr", "steps"}:
        return "constant", d["lr"], d["lr"], 0.0, float(d["steps"]), {}
    if family == "multistep" and keys == {"lr", "milestones", "gamma"}:
        marks = [float(m) for m in d["milestones"]]
        gamma, drops = float(d["gamma"]), len(marks)
        if gamma > 1.0 or drops > MAX_DROPS:
            return None
        spacing = (marks[-1] - marks[0]) / (drops - 1) if drops > 1 else marks[0]
        begin = max(0.0, marks[-1] - drops * spacing)
        for candidate in sorted(
            range(max(0, math.floor(begin) - drops - 1), math.ceil(begin) + drops + 2),
            key=lambda c: abs(c - begin),
        ):
            length = marks[-1] - candidate
            if [round(candidate + i * length / drops) for i in range(1, drops + 1)] == marks:
                begin = float(candidate)  # the whole step to_spec's rounding started from
                break
        final = _solve(d["lr"] * gamma**drops, lambda f: (f / d["lr"]) ** (1.0 / drops), gamma)
        return "step", d["lr"], final, begin, marks[-1], {"drops": drops}
    if family == "sgdr" and keys <= {"peak", "period", "mult", "floor", "cycles"} and "cycles" in d:
        mult, cycles = float(d.get("mult", 1.0)), int(d["cycles"])
        if cycles > MAX_CYCLES or mult > MAX_MULT:
            return None
        total = sum(mult**k for k in range(cycles))
        period = float(d["period"])
        length = _solve(period * total, lambda x: x / total, period)
        return "sgdr", d["peak"], float(d.get("floor", 0.0)), 0.0, length, {"cycles": cycles, "mult": mult}
    return None


def _recognize_wsd(d: dict[str, Any]) -> Design | None:
    allowed = {
        "family",
        "peak",
        "steps",
        "warmup",
        "cooldown",
        "cooldown_fraction",
        "shape",
        "floor",
        "start",
    }
    shape = d.get("shape", "one_minus_sqrt")
    if not set(d) <= allowed or shape not in COOLDOWNS:
        return None
    total = float(d["steps"])
    if "cooldown" in d:
        cooldown = float(d["cooldown"])
    else:
        cooldown = total * float(d.get("cooldown_fraction", 0.2))
    warmup = float(d.get("warmup", 0.0))
    return Design(
        shape="wsd",
        peak=d["peak"],
        final=d.get("floor", 0.0),
        start=d.get("start", 0.0),
        warmup=warmup,
        decay_start=total - cooldown,
        decay_end=total,
        cooldown=shape,
    )


def _recognize_onecycle(d: dict[str, Any]) -> Design | None:
    if not set(d) <= {"family", "peak", "steps", "pct_start", "div", "final_div"}:
        return None
    total, pct = float(d["steps"]), float(d.get("pct_start", 0.3))
    div, final_div = float(d.get("div", _ONECYCLE_DIV)), float(d.get("final_div", _ONECYCLE_FINAL_DIV))
    start = _solve(d["peak"] / div, lambda x: d["peak"] / x, div)
    final = _solve(start / final_div, lambda x: start / x, final_div)
    warmup = pct * total - 1.0
    return Design(
        shape="onecycle",
        peak=d["peak"],
        final=final,
        start=start,
        warmup=warmup,
        decay_start=warmup,
        decay_end=total,
    )


def approximate(summary: dict[str, Any], end: float) -> Design:
    """A cosine design with a schedule's peak, warmup, final LR and length (its
    :func:`lrlab.inspect.summary` as a dict; ``end`` stands in for an endless schedule's
    length): a start for editing a schedule that is not one of the designer's forms."""
    peak = float(summary["peak"]) if summary["peak"] > 0 else 1e-3
    length = float(summary["length"]) if summary.get("length") else float(end)
    length = min(max(length, 2.0), MAX_STEP)
    warmup = min(float(summary["warmup_steps"]), length - 1.0)
    final = summary.get("final")
    final = min(float(final), peak) if final is not None and final >= 0 else 0.0
    return Design(
        shape="cosine",
        peak=peak,
        final=final,
        warmup=round(warmup),
        decay_start=round(warmup),
        decay_end=max(round(length), round(warmup) + 1),
    )


# --- helpers ----------------------------------------------------------------------------------


def _choice(value: object, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _number(
    value: object, name: str, *, low: float = -math.inf, high: float = math.inf, low_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number; got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number; got an integer beyond float64's range") from None
    if not math.isfinite(number) or number < low or (low_open and number == low) or number > high:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        if high < math.inf:
            bound += f" and <= {high:g}"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return number


def _integer(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}; got {value!r}")
    return value


def _solve(guess: float, forward: Any, target: float) -> float:
    """The float nearest ``guess`` (within 16 ulps) that ``forward`` maps exactly to
    ``target``, so a design read back writes the same text; else ``guess``."""
    below = above = float(guess)
    for _ in range(16):
        for candidate in (below, above):
            try:
                if forward(candidate) == target:
                    return candidate
            except (ArithmeticError, ValueError):
                pass
        below, above = math.nextafter(below, -math.inf), math.nextafter(above, math.inf)
    return float(guess)


def _whole(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _num(x: float) -> str:
    """A length in the text form: ``1000`` for a whole number, else its repr."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def check_spec(design: Design) -> Schedule:
    """The schedule of a design (parsed from :func:`to_spec`, so a design that does not
    build fails here with the core's own message)."""
    return parse(to_spec(design))
