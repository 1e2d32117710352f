"""The designer page: a local web app to draw, compare and export schedules.

``lrlab designer`` serves it (see :mod:`lrlab.web.cli_web`); :func:`create_app` is the ASGI
app (Starlette), usable with any ASGI server. Needs the ``web`` extra
(``pip install 'lrlab[web]'``: starlette and uvicorn). The page asks this package for every
value it draws, so the formulas stay in :mod:`lrlab.schedules`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["create_app"]


def create_app(allowed_hosts: Sequence[str] | None = None) -> Any:
    """The designer's ASGI app (see :mod:`lrlab.web.app`); ``allowed_hosts`` limits the
    Host headers it answers."""
    from .app import create_app as make

    return make(allowed_hosts)
