"""timm snippets: ``timm.scheduler``'s schedulers (an optional linear warmup prefix, then a
cosine, SGDR, polynomial, step or multistep schedule), stepped per update."""

from __future__ import annotations

from lrlab.schedules import Schedule

from ._code import comment, header, imports, is_whole, num, statement, steps, text_literal
from ._ir import Seg, Unsupported, segments

STEPPING = ("timm passes time explicitly: call scheduler.step_update(t) before update t "
            "(t_in_epochs=False; t counts updates from 0).")
MODULE = "timm.scheduler"
FOREVER = "2**31"


def _main(seg: Seg, peak: float) -> tuple[str, str]:
    """(class, arguments) for the part after the warmup; its values scale ``peak``."""
    p, k = seg.p, seg.kind
    if (seg.length is not None and not is_whole(seg.length)) or p.get("cut"):
        raise Unsupported("a phase cut between two steps or by a limit")
    if k == "constant" and seg.length is None and p["value"] == peak:
        return "StepLRScheduler", f"decay_t={FOREVER}, decay_rate=1.0"
    if k == "phase" and p["start"] == peak and p["end"] <= peak:
        if p["shape"] == "cosine":
            return ("CosineLRScheduler", f"t_initial={steps(p['steps'])}, lr_min={num(p['end'])}, "
                    "cycle_limit=1")
        if p["shape"] in ("linear", "polynomial"):
            return ("PolyLRScheduler", f"t_initial={steps(p['steps'])}, power={num(p['power'])}, "
                    f"lr_min={num(p['end'])}, cycle_limit=1")
    if k == "sgdr" and p["peak"] == peak and is_whole(p["period"]):
        limit = FOREVER if p["cycles"] is None else str(p["cycles"])
        return ("CosineLRScheduler", f"t_initial={steps(p['period'])}, lr_min={num(p['floor'])}, "
                f"cycle_mul={num(p['mult'])}, cycle_decay={num(p['decay'])}, cycle_limit={limit}")
    if k == "exponential" and p["staircase"] and p["lr"] == peak and p["floor"] == 0.0:
        return "StepLRScheduler", f"decay_t={steps(p['every'])}, decay_rate={num(p['gamma'])}"
    if k == "multistep" and p["gamma"] is not None and p["lr"] == peak and all(
        is_whole(m) for m in p["milestones"]
    ):
        # timm applies milestone m from update m - 1 (its bisect_right(decay_t, t + 1)): pass m + 1
        marks = ", ".join(steps(m + 1) for m in p["milestones"])
        return "MultiStepLRScheduler", f"decay_t=[{marks}], decay_rate={num(p['gamma'])}"
    raise Unsupported("no timm scheduler has this shape")


def generate(schedule: Schedule) -> str:
    """A snippet with one of timm's schedulers; raises :class:`Unsupported` where none
    has the schedule's shape."""
    segs = segments(schedule)
    real = [s for s in segs if not s.p.get("hold")]
    warm, warm_init = 0.0, 0.0
    rest = real
    first = real[0] if real else None
    if (first is not None and first.kind == "phase" and first.p["shape"] == "linear" and len(real) > 1
            and first.p["start"] < first.p["end"] and is_whole(first.length) and not first.p.get("cut")):
        warm, warm_init, rest = first.length, first.p["start"], real[1:]  # type: ignore[assignment]
    if len(rest) != 1:
        raise Unsupported("more phases than timm's warmup plus one schedule")
    seg = rest[0]
    peak = max(seg.values_of())
    if warm and first is not None and first.p["end"] != peak:
        raise Unsupported("a warmup that does not end at the peak")
    cls, args = _main(seg, peak)
    warmup = (f", warmup_t={steps(warm)}, warmup_lr_init={num(warm_init)}, warmup_prefix=True"
              if warm else "")
    body = [
        "def make_scheduler(optimizer):",
        '    """The LR scheduler for ``optimizer`` (its groups\' LR is set here)."""',
        "    for group in optimizer.param_groups:",
        f'        group["lr"] = group["initial_lr"] = {num(peak)}',
        *statement(4, f"return {cls}(optimizer, {args}{warmup}, t_in_epochs=False)"),
    ]
    return "\n".join([header(schedule, "A timm LR scheduler"), comment(STEPPING),
                      imports(names={MODULE: [cls]}), "", "", *body]) + "\n"


FALLBACK = '''


class LrlabScheduler(Scheduler):
    """lrlab's values through timm's Scheduler interface (step_update(t) sets update t's LR)."""

    def __init__(self, optimizer, schedule):
        self.schedule = schedule
        super().__init__(optimizer, "lr", t_in_epochs=False)

    def _get_lr(self, t):
        return [self.schedule(t)] * len(self.optimizer.param_groups)
'''


def fallback(schedule: Schedule, reason: str) -> str:
    return "\n".join([
        header(schedule, "A timm LR scheduler"),
        comment(f"timm cannot express this schedule exactly with its own schedulers: {reason}. "
                "The closest exact alternative: timm's Scheduler interface over lrlab's values."),
        comment(STEPPING),
        imports(modules=["lrlab"], names={"timm.scheduler.scheduler": ["Scheduler"]}) + FALLBACK,
        "",
        f"schedule = lrlab.parse({text_literal(str(schedule))})",
        "",
        "",
        "def make_scheduler(optimizer):",
        '    """The LR scheduler for ``optimizer``."""',
        "    scheduler = LrlabScheduler(optimizer, schedule)",
        "    scheduler.step_update(0)",
        "    return scheduler",
    ]) + "\n"
