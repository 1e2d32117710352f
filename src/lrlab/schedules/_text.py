"""The safe parsers of the text form and the dict form of a schedule.

Text form: calls of family names with numbers, strings, booleans, lists and nested
schedules, e.g. ``warmup(715, cosine(6e-4, 6e-5, 18358), start_factor=0.0014)``.
``parse(str(s)) == s`` for every schedule. The names are exactly the public constructors
(``lrlab.FAMILIES``, filled by each family's module) with exactly their keyword spellings.
Parsing reads Python's syntax tree (``ast.parse``) and accepts only those node types;
nothing is ever evaluated, imported or looked up, so ``__import__('os').system('id')`` is
rejected with a message, not run. ``a * b``, ``0.5 * s``, ``a + b`` and ``s + 1e-5`` are
``product``, ``scale``, ``add`` and ``offset``; ``REST`` is the rest of the run (a length).
"""

from __future__ import annotations

import ast
import difflib
import inspect
import warnings
from typing import Any

from ._base import MAX_NESTING, Schedule
from ._registry import FAMILIES

MAX_TEXT = 100_000


class ParseError(ValueError):
    """The text is not a schedule; the message says what was expected."""


def _expected() -> str:
    return "a schedule such as cosine(6e-4, 6e-5, 19073) or warmup(715, cosine(...))"


def suggest(name: str) -> str:
    """The "unknown family" message, with the closest known name."""
    close = difflib.get_close_matches(name, list(FAMILIES), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown schedule family {name!r}.{hint} Known: {', '.join(sorted(FAMILIES))}"


_CONSTANT_NAMES = {"true": True, "false": False, "none": None, "True": True, "False": False,
                   "None": None, "REST": "rest"}


def _literal(node: ast.AST, depth: int) -> Any:
    if depth > MAX_NESTING:
        raise ParseError(f"schedule text is nested more than {MAX_NESTING} levels deep")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return node.value
        raise ParseError(f"unexpected value {node.value!r}: expected a number, string or schedule")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, depth + 1)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParseError("a sign (+ or -) may only stand before a number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(_literal(item, depth + 1) for item in node.elts)
    if isinstance(node, ast.Name):
        if node.id in _CONSTANT_NAMES:
            return _CONSTANT_NAMES[node.id]
        if node.id in FAMILIES:
            raise ParseError(f"{node.id} is a schedule family: call it, e.g. {node.id}(...)")
        raise ParseError(f"unknown name {node.id!r}: expected a number, a string or {_expected()}")
    if isinstance(node, ast.Call):
        return _call(node, depth)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add)):
        return _operator(node, depth)
    if isinstance(node, ast.Attribute):
        raise ParseError("attribute access (a.b) is not allowed: " + _expected())
    if isinstance(node, ast.Lambda):
        raise ParseError("lambda is not allowed: " + _expected())
    raise ParseError(f"{type(node).__name__} is not allowed in a schedule: expected {_expected()}")


def _operator(node: ast.BinOp, depth: int) -> Schedule:
    left, right = _literal(node.left, depth + 1), _literal(node.right, depth + 1)
    if isinstance(node.op, ast.Mult):
        symbol, pair, single = "*", "product", "scale"
        how = "'*' multiplies a schedule by a number or by another schedule"
    else:
        symbol, pair, single = "+", "add", "offset"
        how = "'+' adds a number or another schedule to a schedule"
    if isinstance(left, Schedule) and isinstance(right, Schedule):
        return _build(pair, [left, right], {})
    if isinstance(left, Schedule) or isinstance(right, Schedule):
        schedule, number = (left, right) if isinstance(left, Schedule) else (right, left)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ParseError(how)
        return _build(single, [schedule, number], {})
    raise ParseError(f"'{symbol}' needs a schedule on at least one side")


def _call(node: ast.Call, depth: int) -> Schedule:
    if not isinstance(node.func, ast.Name):
        if isinstance(node.func, ast.Attribute):
            raise ParseError("attribute access (a.b) is not allowed: " + _expected())
        raise ParseError("only a schedule family name can be called: " + _expected())
    name = node.func.id
    if name not in FAMILIES:
        raise ParseError(suggest(name))
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise ParseError("* and ** arguments are not allowed")
    seen: set[str] = set()
    for keyword in node.keywords:
        if keyword.arg in seen:
            raise ParseError(f"{name}(...): parameter {keyword.arg!r} is given more than once")
        seen.add(keyword.arg)  # type: ignore[arg-type]
    args = [_literal(a, depth + 1) for a in node.args]
    kwargs = {k.arg: _literal(k.value, depth + 1) for k in node.keywords}
    return _build(name, args, kwargs)  # type: ignore[arg-type]


def _build(name: str, args: list[Any], kwargs: dict[str, Any]) -> Schedule:
    """Call the constructor ``name`` after checking the call against its signature (so a
    TypeError inside the constructor, a bug, is never mistaken for a wrong call)."""
    maker = FAMILIES[name]
    problem = _call_problem(inspect.signature(maker), args, kwargs)
    if problem:
        names = ", ".join(inspect.signature(maker).parameters)
        raise ParseError(f"{name}(...): {problem}; parameters are {names}")
    result = maker(*args, **kwargs)
    if not isinstance(result, Schedule):  # pragma: no cover - every constructor returns one
        raise ParseError(f"{name}(...) did not build a schedule")
    return result


def _call_problem(signature: inspect.Signature, args: list[Any], kwargs: dict[str, Any]) -> str:
    """What is wrong with calling ``signature`` with these arguments ('' if nothing), in
    Python's words."""
    params = list(signature.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    if len(args) > len(positional) and not varargs:
        return f"takes at most {len(positional)} positional arguments but {len(args)} were given"
    by_position = {p.name for p in positional[:len(args)]}
    known = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for key in kwargs:
        if key not in known:
            return f"got an unexpected keyword argument {key!r}"
        if key in by_position:
            return f"got multiple values for argument {key!r}"
    missing = [p.name for p in params if p.default is p.empty and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in by_position and p.name not in kwargs]
    if missing:
        listed = " and ".join(repr(m) for m in missing)
        plural = "s" if len(missing) > 1 else ""
        return f"missing {len(missing)} required positional argument{plural}: {listed}"
    return ""


def parse(text: str) -> Schedule:
    """Read a schedule from its text form (never executes code)."""
    if not isinstance(text, str):
        raise ParseError(f"schedule text must be a str; got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ParseError(f"schedule text is longer than {MAX_TEXT} characters; got {len(text)}")
    if not text.strip():
        raise ParseError("schedule text is empty: expected " + _expected())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ast's SyntaxWarnings ('\\d') are not the caller's
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ParseError(f"not a schedule ({error.msg} at column {error.offset}): expected "
                         + _expected()) from None
    except (RecursionError, MemoryError):
        raise ParseError(f"schedule text is nested more than {MAX_NESTING} levels deep") from None
    result = _literal(tree.body, 0)
    if not isinstance(result, Schedule):
        raise ParseError(f"{text.strip()[:80]!r} is a value, not a schedule: expected {_expected()}")
    return result


def from_dict(data: Any) -> Schedule:
    """Read a schedule from its dict form (see :meth:`Schedule.to_dict`)."""
    result = _from_plain(data, 0)
    if not isinstance(result, Schedule):
        raise ParseError("expected a dict with a 'family' key")
    return result


def _from_plain(data: Any, depth: int) -> Any:
    if depth > MAX_NESTING:
        raise ParseError(f"schedule dict is nested more than {MAX_NESTING} levels deep")
    if isinstance(data, dict):
        if "family" not in data:
            raise ParseError(f"a schedule dict needs a 'family' key; got keys {sorted(map(str, data))}")
        name = data["family"]
        if not isinstance(name, str) or name not in FAMILIES:
            raise ParseError(suggest(str(name)))
        kwargs = {str(k): _from_plain(v, depth + 1) for k, v in data.items() if k != "family"}
        if any(not isinstance(k, str) for k in data):
            raise ParseError(f"a schedule dict's keys must be strings; got {sorted(map(repr, data))}")
        if name == "join":
            if set(kwargs) != {"parts"} or not isinstance(kwargs["parts"], tuple):
                raise ParseError("a join dict has exactly one key besides 'family': 'parts', a list")
            return _build(name, list(kwargs["parts"]), {})
        return _build(name, [], kwargs)
    if isinstance(data, list):  # a list counts as a level only inside a list
        return tuple(_from_plain(v, depth + (1 if isinstance(v, list) else 0)) for v in data)
    if isinstance(data, (int, float, str, bool)) or data is None:
        return data
    raise ParseError(f"unexpected {type(data).__name__} in a schedule dict")
