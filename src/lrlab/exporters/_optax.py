"""optax snippets: one optax schedule per segment, joined by ``optax.join_schedules``
(which, like lrlab's ``join``, gives each piece its own local time)."""

from __future__ import annotations

from lrlab.schedules import Schedule

from ._code import comment, header, imports, is_whole, num, statement, steps, text_literal
from ._ir import Seg, Unsupported, expand, holds_final, segments

STEPPING = "schedule(t) is the LR of update t (optax's count starts at 0)."


def _listed(lines: list[str]) -> list[str]:
    return [*lines[:-1], lines[-1] + ","]


def _piece(seg: Seg) -> tuple[str, bool]:
    """(optax call, whether it holds its last value after the segment's own length)."""
    p, k = seg.p, seg.kind
    if k == "constant":
        return f"optax.constant_schedule({num(p['value'])})", True
    if k == "phase":
        a, b, n, shape = p["start"], p["end"], steps(p["steps"]), p["shape"]
        if shape == "linear" or (shape == "polynomial" and p["power"] == 1.0):
            return f"optax.linear_schedule({num(a)}, {num(b)}, {n})", True
        if shape == "cosine" and a > 0:
            return f"optax.cosine_decay_schedule({num(a)}, {n}, alpha={num(b / a)})", True
        if shape == "polynomial" and a >= b:
            return f"optax.polynomial_schedule({num(a)}, {num(b)}, {num(p['power'])}, {n})", True
        if shape == "geometric":
            if a == 0.0:
                return "optax.constant_schedule(0.0)", True
            return f"optax.exponential_decay({num(a)}, {n}, {num(b / a)}, end_value={num(b)})", True
        if shape == "cosine":
            raise Unsupported("a cosine rising from 0 (optax's cosine_decay_schedule scales its start)")
        if shape == "polynomial":
            raise Unsupported("a rising polynomial phase (optax's polynomial_schedule falls)")
        raise Unsupported(f"a {shape} phase (optax has no schedule of that shape)")
    if k == "exponential":
        if p["gamma"] > 1.0 and p["floor"] > 0.0:
            raise Unsupported("a growing exponential with a floor (optax's end_value caps it)")
        end = f", end_value={num(p['floor'])}" if p["floor"] > 0.0 else ""
        stair = ", staircase=True" if p["staircase"] else ""
        return (f"optax.exponential_decay({num(p['lr'])}, {steps(p['every'])}, {num(p['gamma'])}"
                f"{stair}{end})", True)
    if k == "multistep":
        levels = [p["lr"], *p["levels"]]
        if not all(is_whole(m) for m in p["milestones"]) or any(v == 0.0 for v in levels[:-1]):
            raise Unsupported("a multistep schedule with fractional milestones or a level of 0")
        scales = ", ".join(f"{steps(m)}: {num(p['gamma'] if p['gamma'] is not None else b / a)}"
                           for m, a, b in zip(p["milestones"], levels, levels[1:]))
        return f"optax.piecewise_constant_schedule({num(p['lr'])}, {{{scales}}})", True
    if k == "onecycle" and p["convention"] == "optax":
        common = (f"{steps(p['steps'])}, {num(p['peak'])}, pct_start={num(p['pct_start'])}, "
                  f"div_factor={num(p['div'])}, final_div_factor={num(p['final_div'])}")
        if p["anneal"] == "cos" and not p["three_phase"]:
            return f"optax.cosine_onecycle_schedule({common})", True
        if p["anneal"] == "linear" and p["three_phase"]:
            final = p["pct_final"] if p["pct_final"] is not None else 2 * p["pct_start"]
            return f"optax.linear_onecycle_schedule({common}, pct_final={num(final)})", True
    if k == "inverse_sqrt":
        raise Unsupported("an inverse square root decay (optax has no such schedule)")
    if k == "cyclic":
        raise Unsupported("a cyclic (triangular) schedule (optax has no such schedule)")
    if k == "sgdr" and p["cycles"] is None:
        raise Unsupported("endless SGDR (optax's sgdr_schedule has a finite list of cycles)")
    raise Unsupported(f"a {k} segment")


def _pieces(segs: list[Seg]) -> list[tuple[str, float | None]]:
    out: list[tuple[str, float | None]] = []
    holds = False
    previous: Seg | None = None
    flat: list[Seg] = []
    for seg in segs:
        try:
            _piece(seg)
            flat.append(seg)
        except Unsupported:
            parts = expand(seg)
            if parts == [seg]:
                raise
            flat += parts
    i = 0
    while i < len(flat):
        seg = flat[i]
        if seg.p.get("hold") and holds and holds_final(previous, seg):
            break  # the piece before holds its final value by itself
        nxt = flat[i + 1] if i + 1 < len(flat) else None
        if (seg.kind == "phase" and seg.p["shape"] == "linear" and nxt is not None and nxt.kind == "phase"
                and nxt.p["shape"] == "cosine" and nxt.p["start"] == seg.p["end"] > 0
                and seg.p["start"] < seg.p["end"] and not seg.p.get("cut") and is_whole(seg.length)):
            # warmup then cosine: optax's own warmup_cosine_decay_schedule (decay_steps includes the warmup)
            w, d = float(seg.length), nxt.p["steps"]  # type: ignore[arg-type]
            code = (f"optax.warmup_cosine_decay_schedule({num(seg.p['start'])}, {num(nxt.p['start'])}, "
                    f"{steps(w)}, {steps(w + d)}, end_value={num(nxt.p['end'])})")  # type: ignore[operator]
            length = None if nxt.length is None else w + nxt.length  # type: ignore[operator]
            out.append((code, length))
            holds, previous = True, nxt
            i += 2
            continue
        code, holds = _piece(seg)
        out.append((code, seg.length))
        previous = seg
        i += 1
    return out


def generate(schedule: Schedule) -> str:
    """A snippet defining ``schedule`` with optax's own schedules; raises
    :class:`Unsupported` where they cannot express the schedule."""
    pieces = _pieces(segments(schedule))
    if len(pieces) == 1:
        body = statement(0, f"schedule = {pieces[0][0]}")
    else:
        marks, at = [], 0.0
        for _, length in pieces[:-1]:
            at += length  # type: ignore[operator]
            marks.append(steps(at))
        body = ["schedule = optax.join_schedules(", "    [",
                *(line for code, _ in pieces for line in _listed(statement(8, code))),
                "    ],", f"    [{', '.join(marks)}],", ")"]
    return "\n".join([header(schedule, "An optax schedule"), comment(STEPPING),
                      imports(modules=["optax"]), "", *body]) + "\n"


def fallback(schedule: Schedule, reason: str) -> str:
    return "\n".join([
        header(schedule, "An optax schedule"),
        comment(f"optax cannot express this schedule exactly with its own schedules: {reason}. "
                "The closest exact alternative: lrlab's optax-compatible schedule (jit- and "
                "vmap-safe, lrlab's formulas in jax.numpy)."),
        comment(STEPPING),
        imports(modules=["lrlab.jax"]),
        "",
        f"schedule = lrlab.jax.schedule(lrlab.parse({text_literal(str(schedule))}))",
    ]) + "\n"
