"""Hugging Face transformers snippets: its ``get_*_schedule*`` functions (``LambdaLR``
factors of the groups' LR), recognised from the schedule's segments."""

from __future__ import annotations

from collections.abc import Iterable

from lrlab.schedules import Schedule

from . import _torch
from ._code import FOREVER, comment, header, imports, is_whole, num, statement, steps
from ._ir import Seg, Unsupported, segments

STEPPING = _torch.STEPPING
WSD_SHAPES = {"linear": "linear", "cosine": "cosine", "one_minus_sqrt": "1-sqrt"}


def _is_phase(seg: Seg, shapes: tuple[str, ...]) -> bool:
    return seg.kind == "phase" and seg.p["shape"] in shapes and is_whole(seg.length) and not seg.p.get("cut")


def _match(real: list[Seg], peak: float) -> tuple[str, str | None, float | None]:
    """(call, note, end of the part that needs an explicit hold or None)."""
    warm = 0
    rest = real
    if real and _is_phase(real[0], ("linear", "polynomial")) and real[0].p["power"] == 1.0 and \
            real[0].p["start"] == 0.0 and real[0].p["end"] == peak:
        warm, rest = int(real[0].length), real[1:]  # type: ignore[arg-type]
    if len(rest) == 1:
        seg = rest[0]
        p = seg.p
        if seg.kind == "constant" and seg.length is None and p["value"] == peak:
            if warm:
                return f"get_constant_schedule_with_warmup(optimizer, {warm})", None, None
            return "get_constant_schedule(optimizer)", None, None
        if seg.kind == "inverse_sqrt" and p["lr"] == peak:
            return (f"get_inverse_sqrt_schedule(optimizer, {warm}, timescale={steps(p['timescale'])})",
                    None, None)
        if _is_phase(seg, ("linear", "polynomial")) and p["start"] == peak:
            total = steps(warm + seg.length)  # type: ignore[operator]
            if p["end"] == 0.0 and p["power"] == 1.0:
                return f"get_linear_schedule_with_warmup(optimizer, {warm}, {total})", None, None
            if p["end"] < peak:
                return (f"get_polynomial_decay_schedule_with_warmup(optimizer, {warm}, {total}, "
                        f"lr_end={num(p['end'])}, power={num(p['power'])})", None, None)
        if _is_phase(seg, ("cosine",)) and p["start"] == peak and p["end"] <= peak:
            end = float(warm + seg.length)  # type: ignore[operator]
            note = ("transformers' cosine rises again after num_training_steps; "
                    "SequentialLR holds the final LR from there, as lrlab does.")
            if p["end"] == 0.0:
                return f"get_cosine_schedule_with_warmup(optimizer, {warm}, {steps(end)})", note, end
            return (f"get_cosine_with_min_lr_schedule_with_warmup(optimizer, {warm}, {steps(end)}, "
                    f"min_lr_rate={num(p['end'] / peak)})", note, end)
        if (seg.kind == "sgdr" and p["peak"] == peak and p["mult"] == 1.0 and p["floor"] == 0.0
                and p["decay"] == 1.0 and p["cycles"] is not None
                and is_whole(warm + p["cycles"] * p["period"])):
            total = steps(warm + p["cycles"] * p["period"])
            return (f"get_cosine_with_hard_restarts_schedule_with_warmup(optimizer, {warm}, {total}, "
                    f"num_cycles={p['cycles']})", None, None)
    return _match_wsd(real, peak)


def _match_wsd(real: list[Seg], peak: float) -> tuple[str, str | None, float | None]:
    shapes = tuple(WSD_SHAPES)
    if not real or not _is_phase(real[-1], shapes) or real[-1].p["start"] != peak:
        raise Unsupported("no transformers schedule function has this shape")
    decay = real[-1]
    floor = decay.p["end"]
    warm = stable = 0.0
    warm_type = "linear"
    middle = real[:-1]
    if middle and _is_phase(middle[0], shapes) and middle[0].p["end"] == peak:
        if middle[0].p["start"] != floor:
            raise Unsupported("a warmup that does not start at the final LR (transformers' WSD warms "
                              "up from min_lr_ratio times the peak)")
        warm, warm_type = middle[0].length, WSD_SHAPES[middle[0].p["shape"]]  # type: ignore[assignment]
        middle = middle[1:]
    if (middle and middle[0].kind == "constant" and middle[0].p["value"] == peak
            and is_whole(middle[0].length)):
        stable = middle[0].length  # type: ignore[assignment]
        middle = middle[1:]
    if middle or (decay.p["shape"] == "polynomial" and decay.p["power"] != 1.0):
        raise Unsupported("no transformers schedule function has this shape")
    return (f"get_wsd_schedule(optimizer, num_warmup_steps={steps(warm)}, "
            f"num_decay_steps={steps(decay.length)}, num_stable_steps={steps(stable)}, "  # type: ignore[arg-type]
            f"warmup_type={warm_type!r}, decay_type={WSD_SHAPES[decay.p['shape']]!r}, "
            f"min_lr_ratio={num(floor / peak)})", None, None)


def generate(schedule: Schedule) -> str:
    """A snippet with one of transformers' schedule functions; raises
    :class:`Unsupported` where none of them has the schedule's shape."""
    segs = segments(schedule)
    real = [s for s in segs if not s.p.get("hold")]
    values = [v for s in real for v in s.values_of()]
    peak = max(values, default=0.0)
    if peak <= 0.0:
        raise Unsupported("a schedule that is 0 throughout (transformers' factors need a positive LR)")
    call, note, hold_at = _match(real, peak)
    function = call.split("(", 1)[0]
    body = ["def make_scheduler(optimizer):",
            '    """The LR scheduler for ``optimizer`` (its groups\' LR is set here)."""',
            f'    optimizer.defaults["lr"] = {num(peak)}',
            "    for group in optimizer.param_groups:",
            f'        group["lr"] = group["initial_lr"] = {num(peak)}']
    names: dict[str, Iterable[str]] = {"transformers": [function]}
    if hold_at is None:
        body += statement(4, f"return {call}")
    else:
        names[_torch.MODULE] = ["ConstantLR", "SequentialLR"]
        final = segs[-1].p["value"]
        body += [*statement(4, f"main = {call}"),
                 f"    hold = ConstantLR(optimizer, factor={num(final / peak)}, total_iters={FOREVER})",
                 f"    return SequentialLR(optimizer, [main, hold], milestones=[{steps(hold_at)}])"]
    return "\n".join([
        header(schedule, "A transformers LR scheduler"),
        comment(STEPPING),
        *([comment(note)] if note else []),
        imports(names=names),
        "",
        "",
        *body,
    ]) + "\n"


def fallback(schedule: Schedule, reason: str) -> str:
    return _torch.fallback(schedule, reason, framework="transformers")
