"""The family registry: every name the text form accepts, declared once, by its module.

A public constructor is registered by :func:`constructor` where it is defined, and every
Schedule class by :func:`family_class`; the parser (``_text``) and ``lrlab.FAMILIES`` read
this table. Adding a family touches one module: its class, its constructor, both registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

#: text name -> the public constructor the parser calls (keyword spellings included)
FAMILIES: dict[str, Callable[..., Any]] = {}
#: text name -> the Schedule class whose ``str()`` uses that name
CLASSES: dict[str, type] = {}


def constructor(function: F) -> F:
    """Register a public constructor under its own name."""
    name = function.__name__
    if name in FAMILIES:
        raise RuntimeError(f"two constructors are registered as {name!r}")
    FAMILIES[name] = function
    return function


def family_class(*names: str) -> Callable[[C], C]:
    """Register a Schedule class under the names its text form uses (default: its family)."""
    def register(cls: C) -> C:
        for name in names or (cls.family,):  # type: ignore[attr-defined]
            CLASSES[name] = cls
        return cls

    return register


def build(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the constructor registered as ``name``."""
    return FAMILIES[name](*args, **kwargs)
