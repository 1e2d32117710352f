"""``lrlab designer``: serve the designer page on this machine and open it in a browser.

    lrlab designer [--port P] [--host H] [--no-browser]

Binds 127.0.0.1 by default (the page has no authentication: only this machine reaches it),
prints the URL, opens the default browser unless ``--no-browser``, and stops cleanly on
Ctrl-C. Without ``--port`` it uses 8765, or a free port when 8765 is taken.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
import threading
import time
import webbrowser
from typing import Any

DEFAULT_PORT = 8765


class _Error(Exception):
    pass


def add_commands(commands: Any) -> None:
    """Register ``designer`` on the main parser's subcommands."""
    designer = commands.add_parser(
        "designer",
        help="design a schedule in the browser: drag, compare, export",
        description="Serve the schedule designer on this machine: drag the warmup and decay "
        "handles, pick a shape or a preset, overlay schedules, read the LR at any step and copy "
        "the code for your framework. The whole design is in the page's URL.",
    )
    designer.add_argument(
        "--port",
        type=_port,
        default=None,
        metavar="P",
        help=f"port to listen on (default {DEFAULT_PORT}, or a free one if taken; 0: any)",
    )
    designer.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="H",
        help="address to bind (default 127.0.0.1: this machine only)",
    )
    designer.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    designer.set_defaults(run=_designer)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535; got {text!r}")
    return value


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise _Error(f"--host: cannot use {host!r} as an address to listen on ({error.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise _Error(
                f"--port: port {port} on {host} is in use: give another --port (or 0 for any)"
            ) from None
        raise _Error(f"--host/--port: cannot listen on {host}:{port} ({error.strerror})") from None
    return sock


def _url(host: str, port: int) -> str:
    shown = host
    if host in ("0.0.0.0", "::", ""):
        shown = "127.0.0.1"
    elif ":" in host:
        shown = f"[{host}]"
    return f"http://{shown}:{port}/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _designer(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from lrlab.web.app import create_app
    except ImportError as error:
        sys.stderr.write(
            f"lrlab: error: the designer needs the web extra ({error.name} is missing): "
            "pip install 'lrlab[web]'\n"
        )
        return 2
    try:
        if args.port is None:
            try:
                sock = _bind(args.host, DEFAULT_PORT)
            except _Error:
                sock = _bind(args.host, 0)
        else:
            sock = _bind(args.host, args.port)
    except _Error as error:
        sys.stderr.write(f"lrlab: error: {error}\n")
        return 2
    port = sock.getsockname()[1]
    url = _url(args.host, port)
    if not _is_loopback(args.host):
        sys.stderr.write(
            f"lrlab: warning: listening on {args.host}: the designer has no authentication, "
            "anyone who can reach this address can use it\n"
        )
    # on the loopback address, answer only requests addressed to it (no DNS rebinding)
    hosts = ["127.0.0.1", "localhost", "::1", "[::1]", args.host] if _is_loopback(args.host) else None
    config = uvicorn.Config(
        create_app(hosts), log_level="warning", lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    sys.stdout.write(f"lrlab designer: {url}  (Ctrl-C to stop)\n")
    sys.stdout.flush()
    if not args.no_browser:
        threading.Thread(target=_open_when_ready, args=(server, url), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    sys.stdout.write("lrlab designer: stopped\n")
    sys.stdout.flush()
    return 0


def _open_when_ready(server: Any, url: str) -> None:
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        webbrowser.open(url)
    except webbrowser.Error:
        pass
