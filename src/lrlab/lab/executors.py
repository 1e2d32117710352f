"""Where runs execute: in this process, in a local process pool, or as Ray tasks.

Every executor takes run specs (as dicts) and yields each result as soon as it is ready,
so the caller can commit finished runs one by one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any, Protocol

from .runs import execute_run


def _worker_init(parent: int) -> None:
    """In each pool worker: leave Ctrl-C to the parent (which stops the pool), and exit if
    the parent dies (killed, out of memory) instead of waiting on its queue forever."""
    import signal
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class Executor(Protocol):
    name: str

    def run(self, specs: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]: ...


class InlineExecutor:
    """Runs in this process, one after another (used for one worker, and in tests)."""

    name = "inline"

    def run(self, specs: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for spec in specs:
            yield execute_run(spec)


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class LocalExecutor:
    """A pool of worker processes (``spawn``: safe with torch's threads), sized to the
    machine unless ``workers`` says otherwise. Each task pins itself to one thread."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive int; got {workers!r}")
        self.workers = workers or default_workers()

    def run(self, specs: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if not specs:
            return
        if self.workers == 1 or len(specs) == 1:
            yield from InlineExecutor().run(specs)
            return
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(specs)), mp_context=get_context("spawn"),
                                   initializer=_worker_init, initargs=(os.getpid(),))
        finished = False
        try:
            pending = {pool.submit(execute_run, spec) for spec in specs}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
            finished = True
        finally:
            if not finished:  # interrupted: stop the runs in flight now, not when they end
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
            pool.shutdown(wait=finished, cancel_futures=True)


class RayExecutor:
    """Each run as a Ray task on a cluster (``address``, e.g. ``"auto"`` or
    ``"ray://head:10001"``), or on a local Ray instance when no address is given and none
    is running. Results come back to this process, which writes them to the store."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus_per_run: float = 1.0) -> None:
        try:
            import ray
        except ImportError as error:
            raise ValueError("--executor ray needs the ray extra: pip install 'lrlab[ray]'") from error
        self._ray = ray
        self.address = address
        self.num_cpus_per_run = num_cpus_per_run
        if not ray.is_initialized() and address not in (None, "auto", "local"):
            _check_reachable(address)  # before any run is planned into the store

    def run(self, specs: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        ray = self._ray
        if not ray.is_initialized():
            import logging

            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False,
                     include_dashboard=False, logging_level=logging.ERROR, configure_logging=True)
        remote = ray.remote(num_cpus=self.num_cpus_per_run, max_retries=0)(execute_run)
        pending = [remote.remote(spec) for spec in specs]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail in seconds, not minutes, when a Ray address does not answer (ray.init retries
    an unreachable cluster for a long time)."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--address must be HOST:PORT, ray://HOST:PORT or 'auto'; got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ValueError(f"cannot reach a Ray cluster at {address!r} ({error}); "
                         "check --address, or leave it out to start a local Ray") from None


def make_executor(name: str, workers: int | None = None, address: str | None = None) -> Executor:
    """``local`` (default), ``inline`` or ``ray``."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "inline":
        return InlineExecutor()
    if name == "ray":
        return RayExecutor(address)
    raise ValueError(f"--executor must be 'local', 'inline' or 'ray'; got {name!r}")
