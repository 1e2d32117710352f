"""Read a logged learning-rate series: CSV, JSON lines (or a JSON list) and TensorBoard.

Every reader returns an :class:`LRLog`: whole-number steps, strictly increasing, and the
learning rate logged at each, as float64 arrays. The conventions are lrlab's: the LR at
step ``t`` is the one update ``t`` used (a logger that writes ``scheduler.get_last_lr()``
after ``scheduler.step()`` at step ``t`` logs the LR of update ``t``; see
docs/identify.md).

Bad input is a :class:`ValueError` naming the file, the row (or event) and what was
expected: a missing column, a value that is not a number, a negative or non-finite LR,
a step that does not increase (a duplicate, or a resumed run that logged a step twice),
a fractional step. Rows whose LR cell is empty (W&B exports, Trainer logs that mix eval
records) are skipped and counted in ``LRLog.notes``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: the most rows a log may have; a larger one is refused (pass every k-th row instead)
MAX_ROWS = 20_000_000

#: names tried, in order, when the default column is absent (the first one present is used)
STEP_NAMES = ("step", "steps", "global_step", "iteration", "iter", "it", "_step", "Step")
LR_NAMES = ("lr", "learning_rate", "lr_0", "learning-rate", "train/lr", "train/learning_rate",
            "lr-AdamW", "lr-SGD", "lr-Adam", "Value")


@dataclass(frozen=True)
class LRLog:
    """A logged LR series: ``steps`` (whole numbers, increasing) and ``lrs``, float64.

    ``source`` says where it came from (path, column or tag); ``notes`` lists what the
    reader did that a user should know (rows skipped, a fallback column name used).
    """

    steps: np.ndarray
    lrs: np.ndarray
    source: str = "<arrays>"
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.steps.size)


def _where(source: str, row: int | None) -> str:
    return source if row is None else f"{source} row {row}"


def _number(text: Any, what: str, source: str, row: int | None) -> float:
    """A finite float from a cell, else a ValueError naming the place and the value."""
    if isinstance(text, bool):
        raise ValueError(f"{_where(source, row)}: {what} must be a number; got {text!r}")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{_where(source, row)}: {what} must be a number; got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{_where(source, row)}: {what} must be a finite number; got {text!r}")
    return value


def from_pairs(pairs: Iterable[tuple[Any, Any, int | None]], source: str,
               notes: Iterable[str] = ()) -> LRLog:
    """An :class:`LRLog` from ``(step, lr, row)`` triples, with every check applied.

    ``row`` (or None) is only used in error messages.
    """
    steps: list[float] = []
    lrs: list[float] = []
    rows: list[int | None] = []
    for step_text, lr_text, row in pairs:
        if len(steps) >= MAX_ROWS:
            raise ValueError(
                f"{source}: more than {MAX_ROWS:,} rows; identify reads at most that many "
                "(keep every k-th row, e.g. `awk 'NR == 1 || NR % 10 == 2'`, and the points "
                "around any jumps)"
            )
        step = _number(step_text, "the step", source, row)
        if step < 0 or step != math.floor(step):
            raise ValueError(
                f"{_where(source, row)}: the step must be a whole number >= 0 (an update count); "
                f"got {step_text!r}"
            )
        lr = _number(lr_text, "the learning rate", source, row)
        if lr < 0:
            raise ValueError(f"{_where(source, row)}: the learning rate must be >= 0; got {lr_text!r}")
        if steps and step <= steps[-1]:
            kind = "is repeated" if step == steps[-1] else f"comes after step {steps[-1]:.0f}"
            raise ValueError(
                f"{_where(source, row)}: steps must increase; step {step:.0f} {kind} "
                f"(at {_where(source, rows[-1])}). A resumed run logs some steps twice: keep the rows "
                "of one attempt"
            )
        steps.append(step)
        lrs.append(lr)
        rows.append(row)
    if not steps:
        raise ValueError(f"{source}: no (step, learning rate) rows found")
    return LRLog(np.asarray(steps, dtype=np.float64), np.asarray(lrs, dtype=np.float64), source,
                 tuple(notes))


def from_arrays(steps: Any, lrs: Any, source: str = "<arrays>") -> LRLog:
    """An :class:`LRLog` from two sequences (same checks as the file readers)."""
    steps_list = list(np.asarray(steps, dtype=object).ravel())
    lrs_list = list(np.asarray(lrs, dtype=object).ravel())
    if len(steps_list) != len(lrs_list):
        raise ValueError(f"steps and lrs must have the same length; got {len(steps_list)} and "
                         f"{len(lrs_list)}")
    return from_pairs(((s, v, i) for i, (s, v) in enumerate(zip(steps_list, lrs_list))), source)


def _pick(names: list[str], wanted: str, fallbacks: tuple[str, ...], what: str, flag: str,
          source: str, default: str) -> tuple[str, str | None]:
    """The column to use, and a note when a fallback name was picked."""
    if wanted in names:
        return wanted, None
    if wanted == default:
        for name in fallbacks:
            if name in names:
                return name, f"used the column {name!r} as the {what} (no {wanted!r} column)"
    raise ValueError(
        f"{source}: no {what} column {wanted!r}; the columns are {', '.join(map(repr, names)) or 'none'} "
        f"(name the {what} column with {flag})"
    )


def read_csv(path: str | os.PathLike[str], step_column: str = "step", lr_column: str = "lr") -> LRLog:
    """A CSV (or TSV) file with a header row naming a step column and an LR column.

    The delimiter is sniffed (comma, tab, semicolon). When the default names are absent,
    common alternatives are tried (``global_step``, ``_step``; ``learning_rate``, ``lr_0`` as
    written by :class:`lrlab.torch.CSVLogger`, ...), and the choice is noted.
    """
    source = str(path)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        sample = handle.read(8192)
        handle.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(handle, dialect)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{source}: the file is empty; expected a header row such as 'step,lr'")
        names = [h.strip() for h in header]
        step_name, step_note = _pick(names, step_column, STEP_NAMES, "step", "--step-column",
                                     source, "step")
        lr_name, lr_note = _pick(names, lr_column, LR_NAMES, "learning-rate", "--lr-column", source, "lr")
        i_step, i_lr = names.index(step_name), names.index(lr_name)
        skipped = 0

        def rows() -> Iterator[tuple[str, str, int]]:
            nonlocal skipped
            for number, row in enumerate(reader, start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) <= max(i_step, i_lr):
                    raise ValueError(f"{source} row {number}: expected {len(names)} cells; got {len(row)}")
                if not row[i_lr].strip():
                    skipped += 1
                    continue
                yield row[i_step].strip(), row[i_lr].strip(), number

        log = from_pairs(rows(), f"{source}")
    notes = [n for n in (step_note, lr_note) if n]
    if skipped:
        notes.append(f"skipped {skipped} rows with an empty {lr_name!r} cell")
    return LRLog(log.steps, log.lrs, f"{source} ({step_name}, {lr_name})", tuple(notes))


def _records(path: str | os.PathLike[str]) -> Iterator[tuple[dict[str, Any], int]]:
    """JSON objects from a JSON-lines file, a JSON list, or a Trainer ``trainer_state.json``."""
    source = str(path)
    with open(path, encoding="utf-8-sig") as handle:
        text = handle.read()
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and "\n{" not in stripped.rstrip()):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None
        if whole is not None:
            if isinstance(whole, dict) and isinstance(whole.get("log_history"), list):
                whole = whole["log_history"]  # transformers' trainer_state.json
            if isinstance(whole, dict):
                whole = [whole]
            if not isinstance(whole, list):
                raise ValueError(f"{source}: expected JSON objects (one per line, or a list); "
                                 f"got {type(whole).__name__}")
            for i, item in enumerate(whole, start=1):
                if not isinstance(item, dict):
                    raise ValueError(f"{source} item {i}: expected a JSON object; got {item!r:.60}")
                yield item, i
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source} line {number}: not valid JSON ({error.msg}); "
                             f"got {line.strip()!r:.80}") from None
        if not isinstance(item, dict):
            raise ValueError(f"{source} line {number}: expected a JSON object; got {line.strip()!r:.60}")
        yield item, number


def read_jsonl(path: str | os.PathLike[str], step_column: str = "step", lr_column: str = "lr") -> LRLog:
    """JSON lines (one object per line), a JSON list of objects, or transformers'
    ``trainer_state.json`` (its ``log_history``). Objects without the LR key are skipped."""
    source = str(path)
    items = list(_records(path))
    keys: list[str] = []
    for item, _ in items:
        for key in item:
            if key not in keys:
                keys.append(key)
    step_name, step_note = _pick(keys, step_column, STEP_NAMES, "step", "--step-column", source, "step")
    lr_name, lr_note = _pick(keys, lr_column, LR_NAMES, "learning-rate", "--lr-column", source, "lr")
    skipped = 0
    triples = []
    for item, number in items:
        if item.get(lr_name) is None:
            skipped += 1
            continue
        if step_name not in item:
            raise ValueError(f"{source} line {number}: has {lr_name!r} but no {step_name!r}")
        triples.append((item[step_name], item[lr_name], number))
    log = from_pairs(triples, source)
    notes = [n for n in (step_note, lr_note) if n]
    if skipped:
        notes.append(f"skipped {skipped} records without {lr_name!r}")
    return LRLog(log.steps, log.lrs, f"{source} ({step_name}, {lr_name})", tuple(notes))


def read_tensorboard(path: str | os.PathLike[str], tag: str = "lr") -> LRLog:
    """Scalars of ``tag`` from TensorBoard event files (a file or a directory of them).

    When ``tag`` is the default and absent, a single tag that looks like a learning rate
    (``lr``, ``learning_rate``, ``train/lr``, ``lr/0``, ...) is used. TensorBoard stores
    scalars as float32, so a logged LR is exact to about 6e-8 relative.
    """
    source = str(path)
    try:
        from tensorboard.backend.event_processing import event_accumulator
    except ImportError:  # pragma: no cover - tensorboard is in the dev extra
        raise ValueError(f"{source}: reading TensorBoard logs needs the tensorboard package "
                         "(pip install tensorboard)") from None
    accumulator = event_accumulator.EventAccumulator(str(path), size_guidance={"scalars": 0})
    accumulator.Reload()
    tags = list(accumulator.Tags().get("scalars", []))
    chosen = tag if tag in tags else None
    note = None
    if chosen is None and tag == "lr":
        likely = [t for t in tags if t in LR_NAMES or t.split("/")[-1] in ("lr", "learning_rate")
                  or t.startswith("lr/") or t.endswith("/lr")]
        if len(likely) >= 1:
            chosen = likely[0]
            note = f"used the tag {chosen!r} (no 'lr' tag)"
            if len(likely) > 1:
                note += f"; other candidates: {', '.join(likely[1:])} (pick one with --lr-column)"
    if chosen is None:
        listed = ", ".join(map(repr, tags)) or "none (is this an event file or a directory of them?)"
        raise ValueError(f"{source}: no scalar tag {tag!r}; the tags are {listed} "
                         "(name the tag with --lr-column)")
    events = accumulator.Scalars(chosen)
    by_step: dict[int, float] = {}
    for event in events:
        by_step[int(event.step)] = float(event.value)  # a rewritten step keeps its last value
    log = from_pairs(((s, by_step[s], None) for s in sorted(by_step)), f"{source} (tag {chosen})")
    notes = [note] if note else []
    if len(events) != len(by_step):
        notes.append(f"{len(events) - len(by_step)} events repeated a step; kept the last value of each")
    return LRLog(log.steps, log.lrs, log.source, tuple(notes))


def _format_of(path: Path) -> str:
    if path.is_dir() or "tfevents" in path.name:
        return "tensorboard"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    with open(path, "rb") as handle:
        head = handle.read(64).lstrip()
    return "jsonl" if head[:1] in (b"{", b"[") else "csv"


def read_log(path: str | os.PathLike[str], *, step_column: str = "step", lr_column: str = "lr",
             format: str | None = None) -> LRLog:
    """Read a log, choosing the reader by ``format`` (``'csv'``, ``'jsonl'``,
    ``'tensorboard'``) or else by the path: a directory or a ``*tfevents*`` file is
    TensorBoard, ``.jsonl``/``.json`` JSON, ``.csv``/``.tsv`` CSV, otherwise sniffed.

    For TensorBoard ``lr_column`` is the scalar tag.
    """
    where = Path(path)
    if not where.exists():
        raise ValueError(f"LOG: no such file or directory: {str(path)!r}")
    kind = format or _format_of(where)
    if kind == "csv":
        return read_csv(where, step_column, lr_column)
    if kind == "jsonl":
        return read_jsonl(where, step_column, lr_column)
    if kind == "tensorboard":
        return read_tensorboard(where, lr_column)
    raise ValueError(f"format must be 'csv', 'jsonl' or 'tensorboard'; got {format!r}")
