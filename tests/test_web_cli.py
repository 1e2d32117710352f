"""``lrlab designer``: prints the URL, serves the page on 127.0.0.1, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lrlab.cli import main

SRC = str(Path(__file__).resolve().parent.parent / "src")


def start(*args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrlab.cli", "designer", "--no-browser", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+)", line)
    assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, match.group(1)


def get(url: str) -> bytes:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serves_on_loopback_and_stops_on_ctrl_c():
    proc, url = start("--port", "0")
    try:
        assert url.startswith("http://127.0.0.1:")
        assert b"lrlab designer" in get(url)
        assert b"shapes" in get(url + "api/meta")
        # a request addressed to another host name (DNS rebinding) is refused
        request = urllib.request.Request(url + "api/meta", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 400
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopped" in out


def test_a_port_in_use_is_a_clear_error(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["designer", "--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrlab: error: --port:") and str(port) in err


@pytest.mark.parametrize("argv", [["--port", "70000"], ["--port", "http"]])
def test_bad_ports_exit_2(argv, capsys):
    assert main(["designer", "--no-browser", *argv]) == 2
    assert "expected a port number" in capsys.readouterr().err


def test_an_unknown_host_is_a_clear_error(capsys):
    assert main(["designer", "--no-browser", "--host", "no-such-host.invalid", "--port", "0"]) == 2
    assert "--host" in capsys.readouterr().err


def test_binds_loopback_by_default():
    from lrlab.cli import _parser
    from lrlab.web.cli_web import DEFAULT_PORT, _bind

    args = _parser().parse_args(["designer"])
    assert args.host == "127.0.0.1" and args.port is None and not args.no_browser
    sock = _bind(args.host, 0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
    assert DEFAULT_PORT == 8765


def test_opens_the_browser_once_the_server_is_up(monkeypatch):
    from lrlab.web import cli_web

    opened = []
    monkeypatch.setattr(cli_web.webbrowser, "open", opened.append)
    server = type("Server", (), {"started": True})()
    cli_web._open_when_ready(server, "http://127.0.0.1:1/")
    assert opened == ["http://127.0.0.1:1/"]


def test_help_names_the_flags(capsys):
    assert main(["designer", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--host" in out and "--no-browser" in out and "127.0.0.1" in out
