"""Writing Python source: literals, an isort-ordered import block, the lrlab text form."""

from __future__ import annotations

import math
from collections.abc import Iterable

from lrlab.schedules import Schedule

LINE = 100  # the snippets stay under ruff's usual line lengths (88 for the text form)
#: "forever" for the schedulers that need a step count to hold a value
FOREVER = "2**62"


def num(x: float | int) -> str:
    """A number as Python source: whole step counts as ints, other values by ``repr``."""
    if isinstance(x, bool):
        return repr(x)
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        raise ValueError(f"cannot write the non-finite number {x!r}")
    return repr(float(x))


def steps(x: float | int) -> str:
    """A step count: an int where it is whole."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def is_whole(x: float | int | None) -> bool:
    return x is not None and float(x).is_integer()


def _split_args(text: str) -> list[str]:
    """The top-level comma-separated parts of ``text`` (brackets and strings respected)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def statement(indent: int, text: str) -> list[str]:
    """``text`` (e.g. ``return f(a, b)``) at ``indent``, its last call's arguments one per
    line when the line would be too long."""
    pad = " " * indent
    if len(pad + text) <= LINE or not text.endswith(")"):
        return [pad + text]
    open_at = text.index("(")
    head, inner = text[:open_at + 1], text[open_at + 1:-1]
    lines = [pad + head]
    for arg in _split_args(inner):
        lines += [line + "," if j == len(statement(indent + 4, arg)) - 1 else line
                  for j, line in enumerate(statement(indent + 4, arg))]
    lines.append(pad + ")")
    return lines


def imports(stdlib: Iterable[str] = (), modules: Iterable[str] = (),
            names: dict[str, Iterable[str]] | None = None) -> str:
    """An import block in isort's order: the standard library, then third-party modules
    (``import x`` lines first, then ``from x import ...``), sorted."""
    blocks = []
    std = sorted(set(stdlib))
    if std:
        blocks.append("\n".join(f"import {m}" for m in std))
    lines = [f"import {m}" for m in sorted(set(modules))]
    for module, found in sorted((names or {}).items()):
        items = sorted(set(found), key=lambda n: (not n.isupper(), n))
        line = f"from {module} import {', '.join(items)}"
        if len(line) > LINE:
            line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in items) + ")"
        lines.append(line)
    if lines:
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def text_literal(text: str, indent: int = 4) -> str:
    """A string literal of ``text`` for the inside of a call's parentheses, split over
    several lines (implicit concatenation) when long."""
    if len(text) <= 80:
        return repr(text)
    pieces = [text[i:i + 72] for i in range(0, len(text), 72)]
    pad = " " * indent
    return "\n" + "".join(f"{pad}{p!r}\n" for p in pieces) + pad[:-4]


def comment(text: str, prefix: str = "# ") -> str:
    """``text`` as comment lines wrapped under the line length."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width=LINE - len(prefix), initial_indent=prefix,
                                   subsequent_indent=prefix, break_long_words=False,
                                   break_on_hyphens=False))


def header(schedule: Schedule, what: str) -> str:
    """The opening comment of every snippet: what it is and the schedule it reproduces."""
    spec = str(schedule)
    lines = [comment(f"{what}, exported by lrlab from:")]
    lines.append(comment(spec, prefix="#   "))
    return "\n".join(lines)
