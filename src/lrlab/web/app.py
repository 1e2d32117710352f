"""The designer's ASGI app (Starlette): the page, its static files and a small JSON API.

Every learning rate the page shows comes from here, computed by ``Schedule.values`` (one
definition of every formula; the page draws what it is given). Every request is validated:
a bad spec, budget, step or range gets a 4xx JSON answer ``{"error": message, "field":
where}`` naming what was wrong, never a 500; curves are sampled (at most
:data:`MAX_POINTS` evenly spread steps plus the updates on each side of up to
:data:`MAX_MARKS` phase boundaries), so a 1e15-step range costs what a 1000-step one does.

API (JSON in, JSON out; ``LAYER`` is ``{"spec": text or preset name, "budget": {...}}`` or
``{"design": {knobs}, "budget": {...}}``, ``budget`` optional with keys ``total_steps``,
``tokens_per_step``, ``steps_per_epoch``):

* ``GET  /api/meta``: shapes, cooldown shapes, export targets, limits, the default design
  and the presets (name, spec, budget, citation, url).
* ``POST /api/plot`` ``{"layers": [LAYER, ...], "x"?, "start"?, "end"?, "points"?,
  "tokens_per_step"?}``: for each layer its text form (as written and resolved), budget,
  summary, the recognized design and its handles (or null), a design to start editing
  from, the x-axis totals and the sampled curve ``steps``/``x``/``lr`` (``x = step *
  x_scale``); plus the common ``range`` on the x axis (``steps``, ``percent`` of each
  schedule's own run, or ``tokens``).
* ``POST /api/at`` ``{"layers": [...], "step": int or "50%" / "1B tokens", or a list with
  one per layer}``: the exact LR of each layer at that step.
* ``POST /api/export`` ``{"layer": LAYER, "to": target}``: ``lrlab.export`` 's snippet,
  whether it uses the framework's own schedulers (``native``, null if unknown) and why not
  (``reason``); 501 with an explanation where this lrlab has no exporter.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import importlib
import json
import math
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lrlab.inspect import horizon, summary
from lrlab.presets import PRESETS, Preset
from lrlab.schedules import Schedule, parse
from lrlab.units import Budget, parse_length

from .design import (
    COOLDOWNS,
    DESIGN_SHAPES,
    MAX_STEP,
    Design,
    approximate,
    design_from_dict,
    handles,
    recognize,
    to_spec,
)

__all__ = ["EXPORT_TARGETS", "MAX_LAYERS", "MAX_MARKS", "MAX_POINTS", "create_app", "sample_steps"]

STATIC = Path(__file__).parent / "static"
MAX_POINTS = 4000
DEFAULT_POINTS = 800
MAX_MARKS = 512
MAX_LAYERS = 8
MAX_BODY = 1_000_000
#: cycles/repeats a schedule may ask for (listing its boundaries loops over them)
MAX_REPEATS = 1000
#: phase boundaries a schedule may have: describing it (inspect.summary) takes time that
#: grows with their square, about 0.5 s at 1000
MAX_PHASES = 1024
EXPORT_TARGETS = ("torch", "transformers", "optax", "keras", "timm", "lrlab")
_BUDGET_KEYS = ("total_steps", "tokens_per_step", "steps_per_epoch")


class BadRequest(Exception):
    """A request the API refuses: ``status`` (4xx), a message and the field it is about."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


# --- responses --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-ready: non-finite floats become null (strict JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(_plain(data), allow_nan=False, separators=(",", ":"))
    return Response(
        body, status_code=status, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _error(error: BadRequest) -> Response:
    return _json({"error": error.message, "field": error.field}, error.status)


async def _read(request: Request) -> dict[str, Any]:
    """The request's JSON object, at most :data:`MAX_BODY` bytes."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise BadRequest(f"the request body must be at most {MAX_BODY} bytes", None, 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(f"the request body must be at most {MAX_BODY} bytes", None, 413)
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("the request body must be a JSON object", None, 400) from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object; got {type(data).__name__}", None, 400)
    return data


# --- reading a layer ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Layer:
    """One schedule of a request: as written, resolved, its preset, budget and design."""

    written: Schedule
    schedule: Schedule
    preset: Preset | None
    budget: Budget | None
    design: Design | None
    built: bool  # True when it was given as a design


def _budget(data: object, field: str, base: Budget | None = None) -> Budget | None:
    if data is None:
        return base
    if not isinstance(data, dict):
        raise BadRequest(f"{field} must be an object with keys {', '.join(_BUDGET_KEYS)}", field)
    unknown = sorted(str(k) for k in data if k not in _BUDGET_KEYS)
    if unknown:
        raise BadRequest(f"{field} has unknown key {unknown[0]!r}; expected {', '.join(_BUDGET_KEYS)}", field)
    given = {k: v for k, v in data.items() if v is not None and v != ""}
    for key, value in given.items():
        if key != "total_steps" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise BadRequest(f"{field}.{key} must be a positive number; got {value!r}", f"{field}.{key}")
        if key == "total_steps" and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
            raise BadRequest(
                f"{field}.total_steps must be a number of steps or a length such as "
                f"'300B tokens'; got {value!r}",
                f"{field}.total_steps",
            )
    budget: Budget | None
    try:
        if base is not None:
            budget = dataclasses.replace(base, **given)
        else:
            budget = Budget(**given) if given else None
        if budget is not None and budget.total_steps is not None:
            total = budget.steps_total
            if not 0 < total <= MAX_STEP:
                raise ValueError(f"{field}.total_steps must be 1 to 2^53 steps; got {total!r}")
    except ValueError as error:
        raise BadRequest(str(error), field) from None
    return budget


def _check_cost(schedule: Schedule) -> None:
    """Refuse schedules whose boundaries alone would be too many to list."""
    stack = [schedule.to_dict()]
    while stack:
        node = stack.pop()
        for key, value in node.items():
            if isinstance(value, dict):
                stack.append(value)
            elif isinstance(value, list):
                stack += [v for v in value if isinstance(v, dict)]
            elif (
                key in ("cycles", "repeats", "times")
                and isinstance(value, (int, float))
                and (value > MAX_REPEATS)
            ):
                raise ValueError(
                    f"{node.get('family')}.{key} must be at most {MAX_REPEATS} in the designer; got {value!r}"
                )


def _layer(data: object, field: str) -> Layer:
    if not isinstance(data, dict):
        raise BadRequest(f"{field} must be an object with a 'spec' or a 'design'", field)
    unknown = sorted(str(k) for k in data if k not in ("spec", "design", "budget", "label"))
    if unknown:
        raise BadRequest(
            f"{field} has unknown key {unknown[0]!r}; expected spec, design, budget, label", field
        )
    if ("spec" in data) == ("design" in data):
        raise BadRequest(
            f"{field} needs exactly one of 'spec' (a text form or preset name) or 'design'", field
        )
    preset: Preset | None = None
    design: Design | None = None
    if "design" in data:
        where = f"{field}.design"
        try:
            design = design_from_dict(data["design"])
            text = to_spec(design)
        except (ValueError, TypeError) as error:
            raise BadRequest(str(error), where) from None
    else:
        where = f"{field}.spec"
        text = data["spec"]
        if not isinstance(text, str):
            raise BadRequest(
                f"{where} must be a string (a schedule such as 'cosine(6e-4, 6e-5, 19073)' "
                f"or a preset name); got {type(text).__name__}",
                where,
            )
        if "(" not in text and "*" not in text:
            name = text.strip()
            preset = PRESETS.get(name) or {k.lower(): p for k, p in PRESETS.items()}.get(name.lower())
            if preset is None:
                close = difflib.get_close_matches(name.lower(), list(PRESETS), n=1, cutoff=0.5)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise BadRequest(
                    f"unknown preset {name!r}{hint}: expected a preset name "
                    f"({', '.join(PRESETS)}) or a schedule such as 'cosine(6e-4, 6e-5, 19073)'",
                    where,
                )
            text = preset.spec
    budget = _budget(data.get("budget"), f"{field}.budget", None if preset is None else preset.budget)
    try:
        written = parse(text)
        _check_cost(written)
        missing = written.unresolved_lengths()
        if missing and budget is None:
            name, length = missing[0]
            raise ValueError(f"{name}={length!r} has a unit: give the budget ({_needs(length)})")
        schedule = written if budget is None else written.resolve(budget)
        schedule.values([0])  # builds every lazy part: a bad composition fails here, with its message
        phases = len(schedule.boundaries())
        if phases > MAX_PHASES:
            raise ValueError(
                f"the designer draws schedules with at most {MAX_PHASES} phase boundaries; "
                f"this one has {phases}"
            )
        steps = schedule.length
        if steps is not None and steps > MAX_STEP:
            raise ValueError(f"the schedule is {steps:g} steps long; the designer draws at most 2^53")
    except (ValueError, TypeError, ArithmeticError, RecursionError) as error:
        raise BadRequest(str(error), where) from None
    if design is None:
        design = recognize(schedule)
    return Layer(written, schedule, preset, budget, design, "design" in data)


def _needs(length: str) -> str:
    unit = parse_length(length).unit
    return {"percent": "total_steps", "tokens": "tokens_per_step", "epochs": "steps_per_epoch"}.get(
        unit, "total_steps"
    )


def _layers(data: dict[str, Any]) -> list[Layer]:
    layers = data.get("layers")
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise BadRequest(f"layers must be a list of 1 to {MAX_LAYERS} schedules", "layers")
    return [_layer(item, f"layers[{i}]") for i, item in enumerate(layers)]


def _int(data: dict[str, Any], key: str, low: float, high: float, default: Any) -> Any:
    value = data.get(key)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and float(value).is_integer() and low <= value <= high)
    ):
        raise BadRequest(f"{key} must be a whole number from {low:g} to {high:g}; got {value!r}", key)
    return int(value)


# --- sampling -------------------------------------------------------------------------------


def sample_steps(start: int, end: int, points: int, marks: tuple[float, ...] = ()) -> np.ndarray:
    """Whole steps to evaluate for a curve over ``[start, end]``: every step when there are at
    most ``points``, else ``points`` evenly spread ones; plus, for each of up to
    :data:`MAX_MARKS` boundaries ``b`` inside, the updates around it (``b - 1`` and ``b`` for
    a whole ``b``, where a schedule may jump; ``floor(b)`` and ``ceil(b)`` otherwise).
    Sorted, without repeats, float64 (every int up to 2^53 is exact)."""
    if end - start + 1 <= points:
        grid = np.arange(start, end + 1, dtype=np.float64)
    else:
        grid = np.round(np.linspace(float(start), float(end), points))
    inside = [b for b in marks if start <= b <= end and math.isfinite(b)]
    if len(inside) > MAX_MARKS:
        inside = [inside[i] for i in np.linspace(0, len(inside) - 1, MAX_MARKS).round().astype(int)]
    extra = []
    for b in inside:
        low, high = math.floor(b), math.ceil(b)
        extra += [low - 1, low] if low == high else [low, high]
    steps = np.concatenate([grid, np.asarray(extra, dtype=np.float64)])
    steps = steps[(steps >= start) & (steps <= end)]
    return np.unique(steps)


def _total(layer: Layer) -> float:
    """The steps that '100%' means on the x axis: the budget's total, else the schedule's
    length, else its horizon."""
    if layer.budget is not None and layer.budget.total_steps is not None:
        return float(layer.budget.steps_total)
    length = layer.schedule.length
    return float(length) if length else float(horizon(layer.schedule))


def _view_end(layer: Layer) -> float:
    end = max(float(horizon(layer.schedule)), _total(layer))
    return min(MAX_STEP, max(10.0, math.ceil(end * 1.05)))


def _budget_dict(budget: Budget | None) -> dict[str, Any] | None:
    if budget is None:
        return None
    return {key: getattr(budget, key) for key in _BUDGET_KEYS}


def _marks(schedule: Schedule) -> tuple[float, ...]:
    try:
        return tuple(float(b) for b in schedule.boundaries())
    except (ValueError, TypeError, ArithmeticError):
        return ()


@functools.lru_cache(maxsize=256)
def _summary(schedule: Schedule) -> dict[str, Any]:
    """``inspect.summary`` as a dict, remembered: a drag redraws every overlaid schedule at
    each frame, and describing a long one searches up to 200k steps (schedules are
    immutable values, equal when their parameters are)."""
    return summary(schedule).to_dict()


def _describe(layer: Layer, steps: np.ndarray, start: int, end: int) -> dict[str, Any]:
    s = layer.schedule
    try:
        info = dict(_summary(s))
    except (ValueError, TypeError, ArithmeticError) as error:
        raise BadRequest(str(error), "layers") from None
    marks = _marks(s)
    view = [b for b in marks if start <= b <= end][:MAX_MARKS]
    design = layer.design
    return {
        "preset": None
        if layer.preset is None
        else {
            "name": layer.preset.name,
            "citation": layer.preset.citation,
            "url": layer.preset.url,
        },
        "spec": str(layer.written),
        "resolved": str(s),
        "budget": _budget_dict(layer.budget),
        "summary": info,
        "design": None if design is None else design.to_dict(),
        "handles": None if design is None else handles(design),
        "approx": approximate(info, _view_end(layer)).to_dict(),
        "total": _total(layer),
        "tokens_per_step": None if layer.budget is None else layer.budget.tokens_per_step,
        "steps_per_epoch": None if layer.budget is None else layer.budget.steps_per_epoch,
        "marks": view,
        "steps": steps,
        "lr": s.values(steps),
    }


# --- endpoints ------------------------------------------------------------------------------


async def _meta(request: Request) -> Response:
    presets = [
        {
            "name": p.name,
            "spec": p.spec,
            "budget": _budget_dict(p.budget),
            "citation": p.citation,
            "url": p.url,
        }
        for p in PRESETS.values()
    ]
    return _json(
        {
            "shapes": list(DESIGN_SHAPES),
            "cooldowns": list(COOLDOWNS),
            "targets": list(EXPORT_TARGETS),
            "limits": {"points": MAX_POINTS, "layers": MAX_LAYERS, "max_step": MAX_STEP, "marks": MAX_MARKS},
            "default_design": Design().to_dict(),
            "default_spec": to_spec(Design()),
            "presets": presets,
        }
    )


X_UNITS = ("steps", "percent", "tokens")


def _x_scale(layer: Layer, unit: str, tokens_per_step: float | None, field: str) -> float:
    """x = step * scale: 1 for steps, 100 / total for % of the layer's own run, the layer's
    tokens per step (else the request's) for tokens."""
    if unit == "steps":
        return 1.0
    if unit == "percent":
        return 100.0 / _total(layer)
    tps = layer.budget.tokens_per_step if layer.budget is not None else None
    tps = tps or tokens_per_step
    if tps is None:
        raise BadRequest(
            f"x='tokens' needs tokens_per_step: give it in {field}.budget or in the request",
            f"{field}.budget",
        )
    return float(tps)


def _x(data: dict[str, Any], key: str, low: float, default: Any) -> Any:
    value = data.get(key)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value >= low)
    ):
        raise BadRequest(f"{key} must be a finite number >= {low:g} on the x axis; got {value!r}", key)
    return float(value)


def _plot(data: dict[str, Any]) -> dict[str, Any]:
    """Curves of every layer over a common x range.

    ``x`` is the axis: ``steps``, ``percent`` (each schedule against its own run: its
    budget's total steps, else its length) or ``tokens`` (each schedule's own tokens per
    step, else the request's ``tokens_per_step``). ``start`` and ``end`` are in that unit
    (whole steps for ``steps``); each layer is sampled over the steps they cover."""
    layers = _layers(data)
    points = _int(data, "points", 2, MAX_POINTS, DEFAULT_POINTS)
    unit = data.get("x", "steps")
    if unit not in X_UNITS:
        raise BadRequest(f"x must be one of {', '.join(X_UNITS)}; got {unit!r}", "x")
    tps = data.get("tokens_per_step")
    if tps is not None and (
        isinstance(tps, bool) or not isinstance(tps, (int, float)) or not math.isfinite(tps) or tps <= 0
    ):
        raise BadRequest(f"tokens_per_step must be a positive number; got {tps!r}", "tokens_per_step")
    scales = [_x_scale(layer, unit, tps, f"layers[{i}]") for i, layer in enumerate(layers)]
    default_end = max(_view_end(layer) * scale for layer, scale in zip(layers, scales))
    if unit == "steps":
        start = _int(data, "start", 0, MAX_STEP - 1, 0)
        end = _int(data, "end", start + 1, MAX_STEP, None)
        end = int(max(default_end, start + 1)) if end is None else end
    else:
        start = _x(data, "start", 0.0, 0.0)
        end = _x(data, "end", 0.0, None)
        end = default_end if end is None else end
        if not end > start:
            raise BadRequest(f"end must be > start ({start!r}); got {end!r}", "end")
    out = []
    for layer, scale in zip(layers, scales):
        first = min(max(math.floor(start / scale), 0), int(MAX_STEP) - 1)
        last = min(max(math.ceil(end / scale), first + 1), int(MAX_STEP))
        steps = sample_steps(first, last, points, _marks(layer.schedule))
        info = _describe(layer, steps, first, last)
        info["x_scale"] = scale
        info["x"] = steps * scale
        out.append(info)
    return {"range": [start, end], "x": unit, "points": points, "layers": out}


def _step_of(value: object, layer: Layer, field: str) -> int:
    """A step from the request: an int >= 0, or a length ('50%', '1B tokens', '2ep') that
    the layer's budget turns into steps (rounded down to the update it falls in)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRequest(
            f"{field} must be a whole number of steps >= 0 or a length such as '50%'; got {value!r}", field
        )
    written = value
    try:
        if isinstance(value, str):
            if layer.budget is None and parse_length(value, field).unit != "steps":
                raise ValueError(f"{field}={value!r} has a unit: give the budget ({_needs(value)})")
            value = (layer.budget or Budget()).steps(value, field)
        number = float(value)
    except (ValueError, OverflowError) as error:
        raise BadRequest(str(error), field) from None
    if isinstance(written, str) and math.isfinite(number):
        number = float(math.floor(number))  # '50%' may fall between two updates: the update it falls in
    if not (math.isfinite(number) and number.is_integer() and 0 <= number <= MAX_STEP):
        raise BadRequest(f"{field} must be a whole number of steps from 0 to 2^53; got {value!r}", field)
    return int(number)


def _at(data: dict[str, Any]) -> dict[str, Any]:
    layers = _layers(data)
    if "step" not in data:
        raise BadRequest("step is missing: give a whole number of steps or a length such as '50%'", "step")
    given = data["step"]
    if isinstance(given, list):
        if len(given) != len(layers):
            raise BadRequest(
                f"step must be one step, or a list of one step per layer ({len(layers)}); got {len(given)}",
                "step",
            )
    else:
        given = [given] * len(layers)
    results = []
    for i, (layer, value) in enumerate(zip(layers, given)):
        step = _step_of(value, layer, "step" if not isinstance(data["step"], list) else f"step[{i}]")
        results.append({"step": step, "lr": layer.schedule(step)})
    return {"results": results}


def find_exporter() -> Any:
    """lrlab's code exporter as ``f(schedule, to) -> (code, native, reason)``, or None when
    this installation has none.

    Looks for ``lrlab.exporters.export_info`` (code, whether the framework's own schedulers
    express the schedule, and why not), then ``lrlab.export`` (a function, or a module with
    an ``export`` function) for the code alone.
    """
    try:
        module = importlib.import_module("lrlab.exporters")
        info = getattr(module, "export_info", None)
        if callable(info):
            return info
    except ImportError:
        pass
    import lrlab

    try:
        found = getattr(lrlab, "export", None)
    except ImportError:
        found = None
    if found is None:
        try:
            found = importlib.import_module("lrlab.export")
        except ImportError:
            return None
    if isinstance(found, types.ModuleType):
        found = getattr(found, "export", None)
    if not callable(found):
        return None
    code_only = found
    return lambda schedule, to: (code_only(schedule, to=to), None, None)


def _export(data: dict[str, Any]) -> dict[str, Any]:
    to = data.get("to")
    if to not in EXPORT_TARGETS:
        raise BadRequest(f"to must be one of {', '.join(EXPORT_TARGETS)}; got {to!r}", "to")
    layer = _layer(data.get("layer"), "layer")
    exporter = find_exporter()
    if exporter is None:
        raise BadRequest(
            "code export is not available: this lrlab has no lrlab.export "
            "(it comes with lrlab's plots-and-export feature)",
            "to",
            501,
        )
    try:
        code, native, reason = exporter(layer.schedule, to)
    except (ValueError, TypeError, NotImplementedError) as error:
        raise BadRequest(str(error), "to") from None
    return {"to": to, "code": code, "native": native, "reason": reason, "spec": str(layer.schedule)}


def _endpoint(work):
    async def endpoint(request: Request) -> Response:
        try:
            data = await _read(request)
            return _json(await run_in_threadpool(work, data))
        except BadRequest as error:
            return _error(error)

    endpoint.__name__ = work.__name__.lstrip("_")
    return endpoint


@functools.lru_cache(maxsize=1)
def _page() -> str:
    """index.html with its script and style addressed by a hash of their contents, so a
    browser never runs a cached script of another lrlab version."""
    digest = hashlib.sha256()
    for name in ("designer.js", "designer.css"):
        digest.update((STATIC / name).read_bytes())
    version = digest.hexdigest()[:12]
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    return page.replace("/static/designer.js", f"/static/designer.js?v={version}").replace(
        "/static/designer.css", f"/static/designer.css?v={version}"
    )


async def _index(request: Request) -> Response:
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store"})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return _json({"error": str(exc.detail), "field": None}, exc.status_code)
    return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")


def create_app(allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The designer app: ``/`` the page, ``/static`` its files, ``/api/...`` the JSON API.

    ``allowed_hosts``: the Host headers to answer (others get 400), e.g. ``["127.0.0.1",
    "localhost"]`` for a server on the loopback address, so a web page elsewhere cannot
    reach it through DNS rebinding; None answers any host."""
    routes = [
        Route("/", _index, methods=["GET"]),
        Route("/api/meta", _meta, methods=["GET"]),
        Route("/api/plot", _endpoint(_plot), methods=["POST"]),
        Route("/api/at", _endpoint(_at), methods=["POST"]),
        Route("/api/export", _endpoint(_export), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: _http_error})
