"""Progress of an experiment on stderr: a redrawn bar on a terminal, plain log lines
(no control characters) otherwise.

The ETA accounts for parallel workers: the runs left, times the mean wall time of a
finished run, divided by the number of runs that go at once (``workers``, or fewer when
fewer runs are left). ``done / elapsed`` would overestimate by up to the number of workers
early on, when the first runs of every worker finish together.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eta_seconds(done: int, total: int, run_times: list[float], workers: int) -> float | None:
    """Seconds left: ``(total - done) * mean(run_times) / min(workers, total - done)``;
    None before the first run has finished."""
    left = total - done
    if left <= 0:
        return 0.0
    if not run_times:
        return None
    mean = sum(run_times) / len(run_times)
    return left * mean / max(1, min(workers, left))


class Progress:
    """``start(todo, total)`` once, then ``update(done, todo, note, wall_s)`` per finished
    run. On a terminal the line ``[#####.....] 5/10 runs  0:42 left  note`` is redrawn;
    elsewhere (``force_plain`` or a pipe/file) one plain line per run, at most one every
    ``every`` seconds besides the first and the last."""

    def __init__(self, what: str = "runs", stream: TextIO | None = None, force: bool = False,
                 width: int = 24, workers: int = 1, plain: bool | None = None, every: float = 2.0) -> None:
        self.stream = stream or sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.tty = (tty or force) if plain is None else not plain
        self.enabled = True
        self.what = what
        self.width = width
        self.workers = max(1, workers)
        self.every = every
        self.start_time = time.monotonic()
        self.run_times: list[float] = []
        self._last_plain = -1e9

    def start(self, todo: int, total: int, title: str = "") -> None:
        """The first line: what starts, and what the store already has."""
        self.start_time = time.monotonic()
        stored = total - todo
        head = f"{title}: " if title else ""
        text = f"{head}0/{todo} {self.what} to run"
        if stored:
            text += f" ({stored} of {total} already in the store)"
        if todo:
            text += f", {min(self.workers, todo)} at a time"
        self._write_line(text)

    def line(self, done: int, total: int, note: str = "") -> str:
        filled = int(self.width * done / total) if total else self.width
        elapsed = time.monotonic() - self.start_time
        eta = eta_seconds(done, total, self.run_times, self.workers)
        left = ("" if eta is None else f"{_clock(eta)} left") if done < total else f"{_clock(elapsed)} total"
        bar = "#" * filled + "." * (self.width - filled)
        return f"[{bar}] {done}/{total} {self.what}  {left}  {note}".rstrip()

    def plain_line(self, done: int, total: int, note: str = "") -> str:
        elapsed = time.monotonic() - self.start_time
        eta = eta_seconds(done, total, self.run_times, self.workers)
        tail = (f", about {_clock(eta)} left" if eta is not None and done < total
                else f", {_clock(elapsed)} in all" if done >= total else "")
        return f"lrlab: {done}/{total} {self.what} done{tail}" + (f" ({note})" if note else "")

    def update(self, done: int, total: int, note: str = "", wall_s: float | None = None) -> None:
        if wall_s is not None:
            self.run_times.append(wall_s)
        if not self.enabled:
            return
        if self.tty:
            end = "\n" if done >= total else ""
            self.stream.write("\r\033[K" + self.line(done, total, note) + end)
            self.stream.flush()
            return
        now = time.monotonic()
        if done == 1 or done >= total or now - self._last_plain >= self.every:
            self._last_plain = now
            self._write_line(self.plain_line(done, total, note))

    def running(self, runs: list[tuple[str, int, int]], every: float = 10.0) -> None:
        """Runs under way, as (name, updates done, steps): on a terminal the bar's note shows
        them; elsewhere a plain line at most every ``every`` seconds."""
        if not runs or not self.enabled:
            return
        text = ", ".join(f"{name} at update {done}/{steps} ({100 * done // max(steps, 1)}%)"
                         for name, done, steps in runs)
        if self.tty:
            self.stream.write("\r\033[K" + f"running: {text}")
            self.stream.flush()
            return
        now = time.monotonic()
        if now - self._last_plain >= every:
            self._last_plain = now
            self._write_line(f"lrlab: running: {text}")

    def _write_line(self, text: str) -> None:
        if not self.enabled:
            return
        prefix = "" if text.startswith("lrlab:") else "lrlab: "
        self.stream.write(prefix + text + "\n")
        self.stream.flush()
