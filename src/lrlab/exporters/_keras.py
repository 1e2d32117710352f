"""Keras 3 snippets: ``keras.optimizers.schedules``, joined where needed by a small
``LearningRateSchedule`` written in the snippet (Keras has no join of schedules)."""

from __future__ import annotations

from lrlab.schedules import Schedule

from ._code import comment, header, imports, is_whole, num, statement, steps, text_literal
from ._ir import Seg, Unsupported, expand, holds_final, segments

STEPPING = ("schedule(t) is the LR of update t (Keras passes optimizer.iterations, which starts "
            "at 0). Runs on any Keras 3 backend (KERAS_BACKEND=jax, torch, numpy or tensorflow).")
S = "keras.optimizers.schedules"

JOIN = '''


class Join(keras.optimizers.schedules.LearningRateSchedule):
    """Keras schedules in sequence, each in its own local time from its boundary on
    (as optax.join_schedules)."""

    def __init__(self, pieces, boundaries):
        self.pieces = pieces
        self.boundaries = boundaries

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        out = self.pieces[0](step)
        for boundary, piece in zip(self.boundaries, self.pieces[1:], strict=True):
            local = keras.ops.maximum(step - boundary, 0.0)
            out = keras.ops.where(step < boundary, out, piece(local))
        return out

    def get_config(self):
        return {"pieces": self.pieces, "boundaries": self.boundaries}
'''


def _constant(value: float) -> str:
    return f"{S}.ExponentialDecay({num(value)}, 1, 1.0)"  # value * 1.0 ** t


def _listed(lines: list[str]) -> list[str]:
    return [*lines[:-1], lines[-1] + ","]


def _piece(seg: Seg) -> tuple[str, bool]:
    """(Keras call, whether it holds its last value after the segment's own length)."""
    p, k = seg.p, seg.kind
    if k == "constant":
        return _constant(p["value"]), True
    if k == "phase":
        a, b, n, shape = p["start"], p["end"], steps(p["steps"]), p["shape"]
        if shape == "linear" or (shape == "polynomial" and p["power"] == 1.0):
            return f"{S}.PolynomialDecay({num(a)}, {n}, {num(b)}, power=1.0)", True
        if shape == "polynomial" and a >= b:
            return f"{S}.PolynomialDecay({num(a)}, {n}, {num(b)}, power={num(p['power'])})", True
        if shape == "cosine" and a > 0:
            return f"{S}.CosineDecay({num(a)}, {n}, alpha={num(b / a)})", True
        if shape == "geometric":
            if a == 0.0:
                return _constant(0.0), True
            return f"{S}.ExponentialDecay({num(a)}, {n}, {num(b / a)})", False
        if shape == "cosine":
            raise Unsupported("a cosine rising from 0 (Keras's CosineDecay scales its start)")
        if shape == "polynomial":
            raise Unsupported("a rising polynomial phase (Keras's PolynomialDecay falls)")
        raise Unsupported(f"a {shape} phase (Keras has no schedule of that shape)")
    if k == "exponential":
        if p["floor"] > 0.0:
            raise Unsupported("an exponential decay with a floor (Keras's ExponentialDecay has none)")
        stair = ", staircase=True" if p["staircase"] else ""
        return f"{S}.ExponentialDecay({num(p['lr'])}, {steps(p['every'])}, {num(p['gamma'])}{stair})", True
    if k == "multistep":
        if not all(is_whole(m) for m in p["milestones"]):
            raise Unsupported("a multistep schedule with fractional milestones")
        # PiecewiseConstantDecay moves to values[i + 1] once step > boundaries[i]: one step
        # before each milestone
        marks = ", ".join(steps(m - 1) for m in p["milestones"])
        values = ", ".join(num(v) for v in (p["lr"], *p["levels"]))
        return f"{S}.PiecewiseConstantDecay([{marks}], [{values}])", True
    if k == "sgdr" and p["mult"] == 1.0 and (p["floor"] == 0.0 or p["decay"] == 1.0) and p["peak"] > 0:
        return (f"{S}.CosineDecayRestarts({num(p['peak'])}, {steps(p['period'])}, t_mul=1.0, "
                f"m_mul={num(p['decay'])}, alpha={num(p['floor'] / p['peak'])})", p["cycles"] is None)
    if k == "inverse_sqrt":
        raise Unsupported("an inverse square root decay (Keras has no such schedule)")
    if k == "cyclic":
        raise Unsupported("a cyclic (triangular) schedule (Keras has no such schedule)")
    raise Unsupported(f"a {k} segment")


def _pieces(segs: list[Seg]) -> list[tuple[str, float | None]]:
    flat: list[Seg] = []
    start = 0.0
    for seg in segs:
        try:
            _piece(seg)
            if seg.kind == "multistep" and not start.is_integer():
                # PiecewiseConstantDecay's boundaries m - 1 hold for whole local steps only
                raise Unsupported("a multistep schedule starting between two steps")
            flat.append(seg)
        except Unsupported:
            parts = expand(seg)
            if parts == [seg]:
                raise
            flat += parts
        start += seg.length or 0.0
    out: list[tuple[str, float | None]] = []
    holds = False
    previous: Seg | None = None
    i = 0
    while i < len(flat):
        seg = flat[i]
        if seg.p.get("hold") and holds and holds_final(previous, seg):
            break
        nxt = flat[i + 1] if i + 1 < len(flat) else None
        if (seg.kind == "phase" and seg.p["shape"] == "linear" and nxt is not None and nxt.kind == "phase"
                and nxt.p["shape"] == "cosine" and nxt.p["start"] == seg.p["end"] > 0
                and seg.p["start"] < seg.p["end"] and not seg.p.get("cut") and is_whole(seg.length)):
            # warmup then cosine: CosineDecay's own warmup (Keras: outside decay_steps)
            w, a = seg.length, nxt.p["start"]
            code = (f"{S}.CosineDecay({num(seg.p['start'])}, {steps(nxt.p['steps'])}, "
                    f"alpha={num(nxt.p['end'] / a)}, warmup_target={num(a)}, warmup_steps={steps(w)})")  # type: ignore[arg-type]
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
    """A snippet defining ``schedule`` with Keras's own schedules; raises
    :class:`Unsupported` where they cannot express the schedule."""
    pieces = _pieces(segments(schedule))
    if len(pieces) == 1:
        body = statement(0, f"schedule = {pieces[0][0]}")
        join = ""
        note: list[str] = []
    else:
        marks, at = [], 0.0
        for _, length in pieces[:-1]:
            at += length  # type: ignore[operator]
            marks.append(steps(at))
        body = ["schedule = Join(", "    [",
                *(line for code, _ in pieces for line in _listed(statement(8, code))),
                "    ],", f"    [{', '.join(marks)}],", ")"]
        join = JOIN
        note = [comment("Keras has no join of schedules: Join below runs Keras's own schedules "
                        "one after another, each in its own local time.")]
    return "\n".join([header(schedule, "A Keras learning-rate schedule"), comment(STEPPING), *note,
                      imports(modules=["keras"]) + join, "", *body]) + "\n"


FALLBACK = '''


class LrlabSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lrlab's values as a Keras schedule: jax.numpy formulas under the JAX backend (jit-safe),
    lrlab's float64 values cast to float32 under the others (eager)."""

    def __init__(self, text):
        self.text = text
        self.schedule = lrlab.parse(text)

    def __call__(self, step):
        if keras.backend.backend() == "jax":
            import lrlab.jax

            return lrlab.jax.schedule(self.schedule)(step)
        step = int(keras.ops.convert_to_numpy(step))
        return keras.ops.convert_to_tensor(self.schedule(step), dtype="float32")

    def get_config(self):
        return {"text": self.text}
'''


def fallback(schedule: Schedule, reason: str) -> str:
    return "\n".join([
        header(schedule, "A Keras learning-rate schedule"),
        comment(f"Keras cannot express this schedule exactly with its own schedules: {reason}. "
                "The closest exact alternative: a LearningRateSchedule over lrlab's values."),
        comment(STEPPING),
        imports(modules=["keras", "lrlab"]) + FALLBACK,
        "",
        f"schedule = LrlabSchedule({text_literal(str(schedule))})",
    ]) + "\n"
