"""A schedule as a sequence of segments, read from its dict form, for the code generators.

``segments(schedule)`` walks ``schedule.to_dict()`` (family names, parameters, children)
and returns what each framework's generator translates: a list of :class:`Seg`, each one
piece of the schedule in its own local time (as ``join``: piece ``i`` starts where the
ones before it end), values absolute (``scale`` nodes multiplied in). A finite schedule
ends with an endless ``constant`` segment holding its final value, so every list runs
forever, as the schedule does.

Segment kinds and their parameters (``p``):

* ``constant``: ``value``
* ``phase``: ``shape, start, end, steps, power`` (``_shapes``: linear, cosine, ...)
* ``exponential``: ``lr, gamma, every, staircase, floor``
* ``multistep``: ``lr, milestones, levels`` (``levels[k]`` from milestone ``k``)
* ``inverse_sqrt``: ``lr, timescale``
* ``cyclic``: ``base, peak, up, down, mode, gamma``
* ``sgdr``: ``peak, period, mult, floor, decay, cycles, starts`` (cycle starts, if finite)
* ``onecycle``: every parameter of :func:`lrlab.onecycle`, plus ``ends`` (its phase ends)

``Seg.length`` is how long the segment runs before the next one starts (``None``: to the
end of time); it is shorter than the segment's own length where a ``limit`` cuts it.

A family the generators have no translation for (``product``, ``clamp``,
``untuned_warmup``, or one added later) raises :class:`Unsupported`; the generators then
fall back to an exact evaluation by lrlab itself.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from lrlab.schedules import FAMILIES, SHAPES, Schedule, from_dict

__all__ = ["MAX_SEGMENTS", "Seg", "Unsupported", "params", "segments"]

#: segments written out at most: beyond, a snippet would be thousands of lines (the
#: generators then fall back to lrlab's own evaluation, whose size is the text form's)
MAX_SEGMENTS = 256


class Unsupported(Exception):
    """A schedule (or a part of it) the generator cannot translate; the message says what."""


@dataclasses.dataclass(frozen=True)
class Seg:
    """One piece of a schedule: ``kind``, parameters ``p``, and how long it runs."""

    kind: str
    p: dict[str, Any]
    length: float | None

    def values_of(self) -> list[float]:
        """Every LR value this segment reaches at a phase end (for choosing a base LR)."""
        p = self.p
        if self.kind == "constant":
            return [p["value"]]
        if self.kind == "phase":
            return [p["start"], p["end"]]
        if self.kind == "exponential":
            return [p["lr"], p["floor"]]
        if self.kind == "multistep":
            return [p["lr"], *p["levels"]]
        if self.kind == "inverse_sqrt":
            return [p["lr"]]
        if self.kind == "cyclic":
            return [p["base"], p["peak"]]
        if self.kind == "sgdr":
            return [p["peak"], p["floor"]]
        if self.kind == "onecycle":
            return [p["peak"]]
        return []


def holds_final(previous: Seg | None, hold: Seg) -> bool:
    """Whether the segment before the final ``hold`` already ends on the held value (so a
    piece that keeps its last value needs no explicit hold after it)."""
    if previous is None or previous.p.get("cut"):
        return False
    p = previous.p
    end = {"constant": p.get("value"), "phase": p.get("end")}.get(previous.kind)
    if previous.kind == "multistep":
        end = p["levels"][-1]
    return end is not None and end == hold.p["value"]


def params(node: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of a dict-form node, defaults filled in from its constructor in
    :data:`lrlab.FAMILIES` (the dict form leaves defaults out)."""
    name = node["family"]
    rest = {k: v for k, v in node.items() if k != "family"}
    if name == "join":
        return rest
    maker = FAMILIES.get(name)
    if maker is None:
        raise Unsupported(f"the family {name!r}")
    try:
        bound = inspect.signature(maker).bind_partial(**rest)
    except (TypeError, ValueError) as error:  # a family whose dict form differs from its constructor
        raise Unsupported(f"the family {name!r} ({error})") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def _whole(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _scaled(seg: Seg, factor: float) -> Seg:
    keys = {
        "constant": ("value",), "phase": ("start", "end"), "exponential": ("lr", "floor"),
        "multistep": ("lr",), "inverse_sqrt": ("lr",), "cyclic": ("base", "peak"),
        "sgdr": ("peak", "floor"), "onecycle": ("peak",),
    }[seg.kind]
    p = dict(seg.p)
    for key in keys:
        p[key] = factor * p[key]
    if seg.kind == "multistep":
        p["levels"] = [factor * v for v in seg.p["levels"]]
    return Seg(seg.kind, p, seg.length)


def _total(segs: list[Seg]) -> float | None:
    total = 0.0
    for seg in segs:
        if seg.length is None:
            return None
        total += seg.length
    return total


def _walk(node: dict[str, Any]) -> list[Seg]:
    """Segments of one node (no final hold)."""
    name = node["family"]
    p = params(node)
    if name in SHAPES:
        return [Seg("phase", {"shape": name, "start": p["start"], "end": p["end"],
                              "steps": p["steps"], "power": p.get("power", 1.0)}, p["steps"])]
    if name == "constant":
        return [Seg("constant", {"value": p["lr"]}, p["steps"])]
    if name in ("exponential", "step"):
        staircase = True if name == "step" else p["staircase"]
        return [Seg("exponential", {"lr": p["lr"], "gamma": p["gamma"], "every": p["every"],
                                    "staircase": staircase, "floor": p["floor"]}, None)]
    if name == "multistep":
        marks = list(p["milestones"])
        if p["gamma"] is not None:
            levels = [p["lr"] * p["gamma"] ** (k + 1) for k in range(len(marks))]
        else:
            levels = [p["lr"] * f for f in p["factors"]]
        return [Seg("multistep", {"lr": p["lr"], "milestones": marks, "levels": levels,
                                  "gamma": p["gamma"]}, marks[-1])]
    if name == "inverse_sqrt":
        return [Seg("inverse_sqrt", {"lr": p["lr"], "timescale": p["timescale"]}, None)]
    if name == "cyclic":
        return [Seg("cyclic", dict(p), None)]
    if name == "sgdr":
        schedule = from_dict(node)
        finite = p["cycles"] is not None and p["cycles"] <= MAX_SEGMENTS  # bounded work
        starts = list(schedule.boundaries()) if finite else None
        return [Seg("sgdr", {**p, "starts": starts}, schedule.length)]
    if name == "onecycle":
        schedule = from_dict(node)
        return [Seg("onecycle", {**p, "ends": list(schedule.boundaries())[1:]}, schedule.length)]
    if name == "join":
        out: list[Seg] = []
        for part in p["parts"]:
            out += _walk(part)
        return out
    if name == "scale":
        return [_scaled(seg, p["factor"]) for seg in _walk(p["schedule"])]
    if name == "limit":
        return _cut(_walk(p["schedule"]), float(p["steps"]))
    if name == "product":
        return _warmup_factor(p["first"], p["second"])
    if name == "warmup":
        then = _walk(p["then"])
        if p["steps"] == 0:
            return then
        peak = from_dict(p["then"])(0)
        ramp = p["steps"] if p["ramp"] is None else p["ramp"]
        segs = [Seg("phase", {"shape": p["shape"], "start": p["start_factor"] * peak, "end": peak,
                              "steps": ramp, "power": 1.0}, ramp)]
        if ramp < p["steps"]:
            segs.append(Seg("constant", {"value": peak}, p["steps"] - ramp))
        return segs + then
    if name == "wsd":
        total, warm = p["steps"], p["warmup"]
        if p["cooldown"] is not None:
            cool = p["cooldown"]
        else:
            cool = total * (0.2 if p["cooldown_fraction"] is None else p["cooldown_fraction"])
        stable = total - warm - cool
        segs = []
        if warm > 0:
            segs.append(Seg("phase", {"shape": p["warmup_shape"], "start": p["start"], "end": p["peak"],
                                      "steps": warm, "power": 1.0}, warm))
        if stable > 0:
            segs.append(Seg("constant", {"value": p["peak"]}, stable))
        segs.append(Seg("phase", {"shape": p["shape"], "start": p["peak"], "end": p["floor"],
                                  "steps": cool, "power": p["power"]}, cool))
        return segs
    if name == "piecewise":
        marks, lrs = list(p["steps"]), list(p["lrs"])
        segs = []
        if marks[0] > 0:
            segs.append(Seg("constant", {"value": lrs[0]}, marks[0]))
        for a, b, la, lb in zip(marks, marks[1:], lrs, lrs[1:]):
            segs.append(Seg("phase", {"shape": "linear", "start": la, "end": lb, "steps": b - a,
                                      "power": 1.0}, b - a))
        if len(marks) == 1:
            segs.append(Seg("constant", {"value": lrs[0]}, None))
        return segs
    raise Unsupported(f"the family {name!r}")


def _warmup_factor(first: dict[str, Any], second: dict[str, Any]) -> list[Seg]:
    """``product(phase(a, 1, W), other)`` where ``other`` is constant over ``[0, W]``: a
    warmup factor (Goyal et al. 2017's gradual warmup, DeepSeek's), i.e. the phase from
    ``a * c`` to ``c`` (the same shape, scaled by ``c``) followed by ``other`` from ``W`` on."""
    for factor, other in ((first, second), (second, first)):
        head = _walk(factor)
        if len(head) != 1 or head[0].kind != "phase" or head[0].p["end"] != 1.0:
            continue
        warm = float(head[0].length)  # type: ignore[arg-type]
        rest = _walk(other)
        level = _level_over(rest, warm)
        if level is None:
            continue
        phase = head[0].p
        return [Seg("phase", {**phase, "start": phase["start"] * level, "end": level}, head[0].length),
                *_skip(rest, warm)]
    raise Unsupported("the family 'product' (other than a warmup factor times a schedule "
                      "that is constant during the warmup)")


def _level_over(segs: list[Seg], until: float) -> float | None:
    """The value ``segs`` hold throughout ``[0, until]``, or None if they change there."""
    if not segs:
        return None
    seg = segs[0]
    if seg.kind == "constant" and (seg.length is None or seg.length >= until):
        return seg.p["value"]
    if seg.kind == "multistep" and seg.p["milestones"][0] > until:
        return seg.p["lr"]
    return None


def _skip(segs: list[Seg], steps: float) -> list[Seg]:
    """``segs`` from local step ``steps`` on (the first segment, constant there, shortened)."""
    seg, rest = segs[0], segs[1:]
    if seg.kind == "constant":
        if seg.length is not None and seg.length == steps:
            return rest
        return [Seg("constant", seg.p, None if seg.length is None else _whole(seg.length - steps)), *rest]
    marks = [_whole(m - steps) for m in seg.p["milestones"]]
    return [Seg("multistep", {**seg.p, "milestones": marks}, marks[-1]), *rest]


def _cut(segs: list[Seg], at: float) -> list[Seg]:
    """The segments that run before step ``at``, the last one cut there."""
    out: list[Seg] = []
    start = 0.0
    for seg in segs:
        if start >= at:
            break
        if seg.length is None or start + seg.length > at:
            out.append(Seg(seg.kind, {**seg.p, "cut": True}, _whole(at - start)))
            return out
        out.append(seg)
        start += seg.length
    return out


def expand(seg: Seg) -> list[Seg]:
    """``seg`` as simpler segments (phases and constants) where it can be: a multistep as
    constants, a 1cycle as its phases, a finite SGDR as its cosine cycles. Others as is."""
    parts = _expand(seg)
    if len(parts) > MAX_SEGMENTS:
        raise Unsupported(f"more than {MAX_SEGMENTS} phases to write out")
    if parts != [seg] and seg.p.get("cut"):
        return _cut(parts, float(seg.length))  # type: ignore[arg-type]
    return parts


def _expand(seg: Seg) -> list[Seg]:
    p = seg.p
    if seg.kind == "multistep":
        marks = [0, *p["milestones"]]
        levels = [p["lr"], *p["levels"]]
        return [Seg("constant", {"value": v}, b - a) for a, b, v in zip(marks, marks[1:], levels)]
    if seg.kind == "onecycle":
        low = p["peak"] / p["div"]
        final = low / p["final_div"]
        levels = [low, p["peak"], *([low] if p["three_phase"] else []), final]
        shape = "cosine" if p["anneal"] == "cos" else "linear"
        begins = [0.0, *p["ends"][:-1]]
        return [Seg("phase", {"shape": shape, "start": levels[i], "end": levels[i + 1],
                              "steps": _whole(e - b), "power": 1.0}, _whole(e - b))
                for i, (b, e) in enumerate(zip(begins, p["ends"]))]
    if seg.kind == "sgdr" and p["starts"] is not None:
        out = []
        for k, (a, b) in enumerate(zip(p["starts"], p["starts"][1:])):
            peak = p["peak"] * p["decay"] ** k
            out.append(Seg("phase", {"shape": "cosine", "start": peak, "end": p["floor"],
                                     "steps": _whole(b - a), "power": 1.0}, _whole(b - a)))
        return out
    return [seg]


def segments(schedule: Schedule) -> list[Seg]:
    """The segments of a resolved ``schedule``; a finite one ends with a constant hold."""
    segs = _walk(schedule.to_dict())
    if len(segs) > MAX_SEGMENTS:
        raise Unsupported(f"more than {MAX_SEGMENTS} phases to write out")
    if _total(segs) is not None:
        segs.append(Seg("constant", {"value": schedule.final_value, "hold": True}, None))
    return segs
