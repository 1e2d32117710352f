"""PyTorch (``torch.optim.lr_scheduler``) snippets.

Each segment becomes one of torch's schedulers, all relative to one base LR set on every
group (``lr`` and ``initial_lr``), and ``SequentialLR`` switches between them at the segment
boundaries; a ``ConstantLR`` holds the final value where torch's scheduler would not
(``CosineAnnealingLR`` oscillates past ``T_max``, ``OneCycleLR`` raises).
"""

from __future__ import annotations

from dataclasses import dataclass

from lrlab.schedules import Schedule

from ._code import FOREVER, comment, header, imports, is_whole, num, statement, steps, text_literal
from ._ir import Seg, Unsupported, expand, holds_final, segments

MODULE = "torch.optim.lr_scheduler"
STEPPING = ("Call scheduler.step() after each optimizer.step(): update t uses the LR of step t "
            "(the first update uses step 0).")


@dataclass
class Piece:
    code: str
    cls: str
    length: float | None
    holds: bool  # keeps its last value after its length (no explicit hold needed)
    sets_base: bool = False  # sets the groups' LR itself (OneCycleLR, CyclicLR)


def _listed(lines: list[str]) -> list[str]:
    return [*lines[:-1], lines[-1] + ","]


def _factor(value: float, base: float) -> str:
    return num(value / base) if value != base else "1.0"


def _piece(seg: Seg, base: float, sole: bool) -> Piece:
    p, k = seg.p, seg.kind
    if k == "constant":
        return Piece(f"ConstantLR(optimizer, factor={_factor(p['value'], base)}, total_iters={FOREVER})",
                     "ConstantLR", seg.length, True)
    if k == "phase":
        a, b, shape, n = p["start"], p["end"], p["shape"], p["steps"]
        if not is_whole(n):
            raise Unsupported(f"a phase of {n} steps (torch's schedulers count whole steps)")
        if shape == "linear" or (shape == "polynomial" and p["power"] == 1.0):
            if a > 0:
                return Piece(f"LinearLR(optimizer, start_factor={_factor(a, base)}, "
                             f"end_factor={_factor(b, base)}, total_iters={steps(n)})",
                             "LinearLR", seg.length, True)
            scale = "" if b == base else f"{_factor(b, base)} * "
            return Piece(f"LambdaLR(optimizer, lambda t: {scale}min(t, {steps(n)}) / {steps(n)})",
                         "LambdaLR", seg.length, True)
        if shape == "cosine" and a == base and b <= a:
            return Piece(f"CosineAnnealingLR(optimizer, T_max={steps(n)}, eta_min={num(b)})",
                         "CosineAnnealingLR", seg.length, False)
        if shape == "polynomial" and a == base and b == 0.0:
            return Piece(f"PolynomialLR(optimizer, total_iters={steps(n)}, power={num(p['power'])})",
                         "PolynomialLR", seg.length, True)
        if shape == "cosine":
            raise Unsupported("a cosine phase that does not start at the peak LR "
                              "(CosineAnnealingLR starts at the base LR)")
        if shape == "polynomial":
            raise Unsupported("a polynomial phase that does not fall from the peak to 0 (PolynomialLR)")
        raise Unsupported(f"a {shape} phase (torch has no scheduler of that shape)")
    if k == "exponential":
        if p["lr"] != base or p["floor"] != 0.0:
            raise Unsupported("an exponential decay with a floor, or not from the peak")
        if not p["staircase"] and p["every"] == 1:
            return Piece(f"ExponentialLR(optimizer, gamma={num(p['gamma'])})", "ExponentialLR",
                         seg.length, True)
        if p["staircase"] and is_whole(p["every"]):
            return Piece(f"StepLR(optimizer, step_size={steps(p['every'])}, gamma={num(p['gamma'])})",
                         "StepLR", seg.length, True)
        raise Unsupported("an exponential decay over a period other than one step (ExponentialLR)")
    if k == "multistep" and p["gamma"] is not None and p["lr"] == base and all(
        is_whole(m) for m in p["milestones"]
    ):
        marks = ", ".join(steps(m) for m in p["milestones"])
        return Piece(f"MultiStepLR(optimizer, milestones=[{marks}], gamma={num(p['gamma'])})",
                     "MultiStepLR", seg.length, True)
    if k == "sgdr" and p["cycles"] is None:
        if (p["peak"] == base and p["decay"] == 1.0 and is_whole(p["period"])
                and float(p["mult"]).is_integer()):
            return Piece(f"CosineAnnealingWarmRestarts(optimizer, T_0={steps(p['period'])}, "
                         f"T_mult={int(p['mult'])}, eta_min={num(p['floor'])})",
                         "CosineAnnealingWarmRestarts", seg.length, True)
        raise Unsupported("SGDR with a per-cycle decay, a fractional period or multiplier "
                          "(CosineAnnealingWarmRestarts)")
    if k == "cyclic":
        if not sole:
            raise Unsupported("a cyclic schedule after other phases (CyclicLR sets the LR itself)")
        down = "None" if p["down"] is None else steps(p["down"])
        return Piece(f"CyclicLR(optimizer, base_lr={num(p['base'])}, max_lr={num(p['peak'])}, "
                     f"step_size_up={steps(p['up'])}, step_size_down={down}, mode={p['mode']!r}, "
                     f"gamma={num(p['gamma'])}, cycle_momentum=False)", "CyclicLR", None, True, True)
    if k == "onecycle" and sole and p["convention"] == "torch" and p["pct_final"] is None and is_whole(
        p["steps"]
    ):
        anneal = "'cos'" if p["anneal"] == "cos" else "'linear'"
        return Piece(f"OneCycleLR(optimizer, max_lr={num(p['peak'])}, total_steps={steps(p['steps'])}, "
                     f"pct_start={num(p['pct_start'])}, anneal_strategy={anneal}, "
                     f"div_factor={num(p['div'])}, final_div_factor={num(p['final_div'])}, "
                     f"three_phase={p['three_phase']}, cycle_momentum=False)",
                     "OneCycleLR", seg.length, False, True)
    if k == "inverse_sqrt":
        raise Unsupported("an inverse square root decay (torch has no such scheduler)")
    raise Unsupported(f"a {k} segment in this position")


def _pieces(segs: list[Seg]) -> tuple[list[Piece], float]:
    """torch pieces for the segments (each expanded to phases where it must be), and the
    base LR they are relative to."""
    real = [s for s in segs if not s.p.get("hold")]
    values = [v for s in segs for v in s.values_of()]
    base = max(values, default=1.0) or 1.0
    first_base = base
    flat: list[tuple[Seg, bool]] = []
    for seg in segs:
        sole = len(real) == 1 and seg is real[0]
        try:
            _piece(seg, base, sole)
            flat.append((seg, sole))
        except Unsupported:
            parts = expand(seg)
            if parts == [seg]:
                raise
            flat += [(part, False) for part in parts]
    out: list[Piece] = []
    previous: Seg | None = None
    for seg, sole in flat:
        if seg.p.get("hold") and out and out[-1].holds and holds_final(previous, seg):
            continue  # the piece before keeps its final value by itself
        piece = _piece(seg, base, sole)
        if piece.cls == "OneCycleLR":
            base = seg.p["peak"] / seg.p["div"]  # OneCycleLR sets initial_lr to max_lr / div
        out.append(piece)
        previous = seg
    if any(p.sets_base for p in out[1:]):
        raise Unsupported("OneCycleLR or CyclicLR after other phases")
    return out, first_base


def generate(schedule: Schedule) -> str:
    """A snippet defining ``make_scheduler(optimizer)`` with torch's own schedulers; raises
    :class:`Unsupported` where they cannot express the schedule exactly."""
    pieces, base = _pieces(segments(schedule))
    for piece in pieces[:-1]:
        if not is_whole(piece.length):
            raise Unsupported(f"a phase boundary between two steps ({piece.length}); "
                              "SequentialLR switches at whole steps")
    used = {p.cls for p in pieces}
    body = ["def make_scheduler(optimizer):",
            '    """The LR scheduler for ``optimizer`` (its groups\' LR is set here)."""']
    if not pieces[0].sets_base:
        body += ["    for group in optimizer.param_groups:",
                 f'        group["lr"] = group["initial_lr"] = {num(base)}']
    if len(pieces) == 1:
        body += statement(4, f"return {pieces[0].code}")
    else:
        used.add("SequentialLR")
        marks, at = [], 0.0
        for piece in pieces[:-1]:
            at += piece.length  # type: ignore[operator]
            marks.append(steps(at))
        body.append("    return SequentialLR(")
        body.append("        optimizer,")
        body.append("        [")
        for p in pieces:
            body += _listed(statement(12, p.code))
        body.append("        ],")
        body.append(f"        milestones=[{', '.join(marks)}],")
        body.append("    )")
    return "\n".join([
        header(schedule, "A PyTorch LR scheduler"),
        comment(STEPPING),
        imports(names={MODULE: used}),
        "",
        "",
        *body,
    ]) + "\n"


def fallback(schedule: Schedule, reason: str, framework: str = "torch.optim.lr_scheduler") -> str:
    """``LambdaLR`` over lrlab's own values: exact, for any schedule."""
    return "\n".join([
        header(schedule, "A PyTorch LR scheduler"),
        comment(f"{framework} cannot express this schedule exactly with its own schedulers: "
                f"{reason}. The closest exact alternative: LambdaLR over lrlab's values "
                "(lrlab.torch.Scheduler adds tensor LRs, per-group scales and exact resume)."),
        comment(STEPPING),
        imports(modules=["lrlab"], names={MODULE: ["LambdaLR"]}),
        "",
        f"schedule = lrlab.parse({text_literal(str(schedule))})",
        "",
        "",
        "def make_scheduler(optimizer):",
        '    """The LR scheduler for ``optimizer``: LambdaLR multiplies a base LR of 1.0."""',
        "    for group in optimizer.param_groups:",
        '        group["lr"] = group["initial_lr"] = 1.0',
        "    return LambdaLR(optimizer, schedule)",
    ]) + "\n"
