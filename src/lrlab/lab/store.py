"""The results store: one SQLite database per run directory (standard library sqlite3).

Each finished run is written in one transaction, committed as soon as it ends: its config,
its per-step history, its summary and a SHA-256 checksum of all of them. A run that was
interrupted leaves nothing behind, so running the same command again skips exactly the
finished runs.

What the store guarantees:

- **Atomic creation.** A new store is built completely in a temporary file beside it and
  then linked into place under its name (``os.link`` fails if the name exists), so the
  store file is either absent or complete: a kill or Ctrl-C at any moment of creation
  leaves a directory the same command resumes.
- **One writer.** ``lrlab.lock`` in the directory is locked with ``flock`` while a store
  is open. A second process on the same ``--out`` is refused at once, naming the process
  that holds it; a lock left by a dead process is released by the kernel and simply taken.
- **Corruption is refused, not repaired.** An existing file is checked read-only before
  anything is written: the SQLite header, the application id, the size against the page
  count, ``PRAGMA integrity_check``, the store version, the experiment, and every run's
  checksum. A file that fails is left byte-identical (no journal, no lock file, no
  connection kept) and the error says which check failed.
- **Upgrades keep the old file.** A store of the first format (no checksums, run keys of the
  plain config) is rewritten under canonical keys with checksums, in a temporary file that
  replaces it atomically; the old file stays as ``lrlab.sqlite.v1-backup``.
- **Every filesystem failure is a StoreError** (a ValueError, exit status 2 on the command
  line) naming the path and the cause; a failed write rolls back, leaving the store as it
  was.

NaN cannot be stored in SQLite (it becomes NULL), so a NULL training loss means NaN;
infinities are stored as such.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import sqlite3
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .tasks.base import Record

APPLICATION_ID = 0x6C726C62  # "lrlb"
SCHEMA_VERSION = 2
LEGACY_VERSION = 1  # the first format (no checksums): upgraded on open, with a backup
DB_NAME = "lrlab.sqlite"
LOCK_NAME = "lrlab.lock"
_TEMP_PREFIX = ".lrlab.sqlite.new-"
_HEADER = b"SQLite format 3\x00"

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE runs (
    key TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    config TEXT NOT NULL,
    summary TEXT NOT NULL,
    info TEXT NOT NULL,
    wall_s REAL NOT NULL,
    finished_at TEXT NOT NULL,
    checksum TEXT NOT NULL
)""",
    """CREATE TABLE history (
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    lr REAL NOT NULL,
    loss REAL,
    val_loss REAL,
    accuracy REAL,
    PRIMARY KEY (key, step)
)""",
    "CREATE TABLE failures (key TEXT NOT NULL, label TEXT NOT NULL, error TEXT NOT NULL, at TEXT NOT NULL)",
)

#: the statements of creation, in order; tests stop the process at each one
CREATION_POINTS = ("temp-open", "schema", "ids", "meta", "commit", "temp-close", "link", "cleanup")


class StoreError(ValueError):
    """The run directory's store cannot be used (foreign, corrupt, locked, another
    experiment, or a filesystem failure)."""


def _fault(point: str) -> None:
    """Fault injection for the tests: ``LRLAB_STORE_FAULT=point:kill`` kills this process
    with SIGKILL at that point of store creation, ``point:interrupt`` raises
    KeyboardInterrupt there (as Ctrl-C would)."""
    wanted = os.environ.get("LRLAB_STORE_FAULT")
    if not wanted:
        return
    where, _, how = wanted.partition(":")
    if where != point:
        return
    if how == "interrupt":
        raise KeyboardInterrupt
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class StoredRun:
    """A finished run as stored: its key, label, config, summary and info."""

    key: str
    label: str
    config: Mapping[str, Any]
    summary: Mapping[str, Any]
    info: Mapping[str, Any]
    wall_s: float


def summarize_history(history: Iterable[Record], diverged: bool = False,
                      losses: Sequence[float] | None = None) -> dict[str, Any]:
    """Start, middle, end and best training loss, last validation metrics, divergence
    (a non-finite loss, or ``diverged`` when the task stopped an exploding run).

    ``start``/``middle``/``end``/``best`` are ``losses[0]``, ``losses[len // 2]``,
    ``losses[-1]`` and the finite minimum of the per-update training losses, or of
    ``losses`` when the task reports its own series (``circle-lesson``: one mean per epoch).
    """
    rows = list(history)
    if not rows:
        return {"steps_done": 0, "diverged": diverged, "start": None, "middle": None, "end": None,
                "best": None, "val_loss": None, "accuracy": None}
    series = [r.loss for r in rows] if losses is None else [float(v) for v in losses]
    finite = [v for v in series if math.isfinite(v)]
    every_finite = all(math.isfinite(r.loss) for r in rows) and len(finite) == len(series)
    evaluated = [r for r in rows if r.val_loss is not None]
    scored = [r for r in rows if r.accuracy is not None]
    return {
        "steps_done": len(rows),
        "diverged": diverged or not every_finite,
        "start": series[0] if series else None,
        "middle": series[len(series) // 2] if series else None,
        "end": series[-1] if series else None,
        "best": min(finite) if finite else None,
        "val_loss": evaluated[-1].val_loss if evaluated else None,
        "best_val_loss": min(float(r.val_loss) for r in evaluated if r.val_loss is not None)
        if evaluated else None,
        "accuracy": scored[-1].accuracy if scored else None,
    }


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True)


def _db_loss(value: float) -> float | None:
    return None if math.isnan(value) else value


def _checksum(key: str, label: str, config: str, summary: str, info: str, wall_s: float,
              history: Iterable[Sequence[Any]]) -> str:
    """SHA-256 of a run's row and its history rows (step, lr, loss, val_loss, accuracy):
    the steps as 64-bit integers, each value column as doubles with a mask of its NULLs."""
    digest = hashlib.sha256()
    digest.update(_json([key, label, config, summary, info, repr(float(wall_s))]).encode())
    columns = list(zip(*history)) or [(), (), (), (), ()]
    digest.update(array("q", columns[0]).tobytes())
    for values in columns[1:]:
        if None in values:
            digest.update(bytes(v is None for v in values))
            values = tuple(0.0 if v is None else v for v in values)
        else:
            digest.update(bytes(len(values)))
        digest.update(array("d", values).tobytes())
    return digest.hexdigest()


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError):
        reason = error.strerror or str(error)
        if error.errno == errno.ENOSPC:
            reason = "no space left on device"
        return reason
    return str(error)


def _ro_connect(path: Path) -> sqlite3.Connection:
    """A read-only connection that creates nothing beside the file."""
    uri = "file:" + str(path.resolve()).replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=5)


class _Lock:
    """An exclusive ``flock`` on ``lrlab.lock`` (released by the kernel if we die)."""

    def __init__(self, directory: Path) -> None:
        import fcntl

        self.path = directory / LOCK_NAME
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreError(f"cannot create the lock file {self.path}: {_describe(error)}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = self._holder()
            os.close(self.fd)
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StoreError(
                    f"{directory} is in use by another lrlab process{holder}: wait for it to finish, "
                    "or use another --out directory") from None
            raise StoreError(f"cannot lock {self.path}: {_describe(error)}") from None
        try:
            os.ftruncate(self.fd, 0)
            os.write(self.fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
        except OSError:
            pass  # the note is for people; the flock is the lock

    def _holder(self) -> str:
        try:
            text = os.pread(self.fd, 200, 0).decode("utf-8", "replace").strip()
        except OSError:
            return ""
        return f" ({text})" if text else ""

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = -1


class Store:
    """The SQLite store of one experiment directory.

    ``experiment`` identifies the experiment (kind and task); opening a directory made by
    another experiment raises :class:`StoreError` instead of mixing results. The store
    holds the directory's lock until :meth:`close`.
    """

    def __init__(self, directory: str | os.PathLike[str], experiment: Mapping[str, Any]) -> None:
        if str(directory) == "":
            raise StoreError("--out must name a directory; got ''")
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        self.experiment = dict(experiment)
        self._db: sqlite3.Connection | None = None
        self._lock: _Lock | None = None
        self._legacy = False
        self._make_directory()
        if self._exists():
            self._verify()  # read-only: a refused file is left exactly as it was
        self._lock = _Lock(self.directory)
        try:
            self._remove_stale_temps()
            if self._legacy and self._exists():
                self._upgrade()
            if not self._exists():
                self._create()
            self._db = self._open()
        except BaseException:
            self._lock.release()
            raise

    # --- opening --------------------------------------------------------------------
    def _make_directory(self) -> None:
        where = self.directory
        try:
            if where.exists() and not where.is_dir():
                raise StoreError(f"--out {where} exists and is not a directory")
            where.mkdir(parents=True, exist_ok=True)
        except StoreError:
            raise
        except FileExistsError:
            raise StoreError(f"--out {where} exists and is not a directory") from None
        except OSError as error:
            raise StoreError(f"cannot create the --out directory {where}: {_describe(error)}") from None
        if not os.access(where, os.W_OK | os.X_OK):
            raise StoreError(f"--out {where} is not writable by this user")

    def _exists(self) -> bool:
        try:
            if self.path.is_symlink() and not self.path.exists():
                raise StoreError(f"{self.path} is a broken or looping symbolic link")
            if self.path.exists() and not self.path.is_file():
                raise StoreError(f"{self.path} exists and is not a file (a directory?): lrlab keeps its "
                                 "store there; choose another --out directory")
            return self.path.exists()
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {_describe(error)}") from None

    def _refuse(self, why: str) -> StoreError:
        return StoreError(f"{self.path} {why}; lrlab leaves it as it is: choose another --out directory")

    def _verify(self) -> None:
        """Every check of an existing store, on a read-only connection."""
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(100)
            size = self.path.stat().st_size
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {_describe(error)}") from None
        if not head.startswith(_HEADER):
            raise self._refuse("is not an SQLite database (nor an lrlab store)")
        if len(head) < 100:
            raise self._refuse("is corrupt (truncated inside its header)")
        if int.from_bytes(head[68:72], "big") != APPLICATION_ID:
            raise self._refuse("is an SQLite database from another program; lrlab will not write to it")
        if head[18:20] == b"\x02\x02" and int.from_bytes(head[60:64], "big") == LEGACY_VERSION:
            self._legacy = True  # a WAL-mode store of lrlab's first format: checked while upgrading
            return
        page = int.from_bytes(head[16:18], "big")
        page = 65536 if page == 1 else page
        pages = int.from_bytes(head[28:32], "big")
        # the header's page count is valid when its "valid-for" number equals the change counter
        counted = head[92:96] == head[24:28] and pages > 0
        if page < 512 or size % page or (counted and size != page * pages):
            raise self._refuse(f"is corrupt (its header says {pages} pages of {page} bytes, "
                               f"the file has {size} bytes)")
        try:
            db = _ro_connect(self.path)
        except sqlite3.Error as error:
            raise self._refuse(f"cannot be opened ({error})") from None
        try:
            self._check_contents(db)
        except sqlite3.DatabaseError as error:
            raise self._refuse(f"is corrupt ({error})") from None
        finally:
            db.close()

    def _check_contents(self, db: sqlite3.Connection) -> None:
        problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise self._refuse(f"is corrupt (integrity check: {'; '.join(problems[:3])})")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (SCHEMA_VERSION, LEGACY_VERSION):
            raise self._refuse(f"has store version {version}; this lrlab reads version {SCHEMA_VERSION}")
        row = db.execute("SELECT value FROM meta WHERE key='experiment'").fetchone()
        stored = json.loads(row[0]) if row else None
        if stored != json.loads(_json(self.experiment)):
            raise StoreError(
                f"{self.directory} holds another experiment ({stored}); this one is "
                f"{self.experiment}. Use another --out directory, or the command that made it"
            )
        if version == LEGACY_VERSION:
            self._legacy = True  # no checksums yet: upgraded (with a backup) once locked
            return
        runs = db.execute("SELECT key, label, config, summary, info, wall_s, checksum FROM runs ORDER BY key")
        for key, label, config, summary, info, wall_s, checksum in runs.fetchall():
            history = db.execute("SELECT step, lr, loss, val_loss, accuracy FROM history WHERE key=? "
                                 "ORDER BY step", (key,))
            if _checksum(key, label, config, summary, info, wall_s, history) != checksum:
                raise self._refuse(f"is corrupt (run {key} does not match its checksum)")
        orphans = db.execute("SELECT COUNT(*) FROM history WHERE key NOT IN (SELECT key FROM runs)"
                             ).fetchone()[0]
        if orphans:
            raise self._refuse(f"is corrupt ({orphans} history rows belong to no run)")

    def _remove_stale_temps(self) -> None:
        """Temporary files of creations that were killed (we hold the lock: none is live)."""
        try:
            for entry in os.scandir(self.directory):
                if entry.name.startswith(_TEMP_PREFIX):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
        except OSError as error:
            raise StoreError(f"cannot list {self.directory}: {_describe(error)}") from None

    def _upgrade(self) -> None:
        """Rewrite a store of the first format (no checksums, run keys before canonical
        identity) into the current one: built in a temporary file, the old file kept as
        ``lrlab.sqlite.v1-backup``, then the new one renamed into place (atomic)."""
        from .runs import run_key

        try:
            old = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as error:
            raise self._refuse(f"cannot be opened ({error})") from None
        try:
            problems = [row[0] for row in old.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise self._refuse(f"is corrupt (integrity check: {'; '.join(problems[:3])})")
            if old.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                raise self._refuse("is an SQLite database from another program; lrlab will not write to it")
            row = old.execute("SELECT value FROM meta WHERE key='experiment'").fetchone()
            stored = json.loads(row[0]) if row else None
            if stored != json.loads(_json(self.experiment)):
                raise StoreError(f"{self.directory} holds another experiment ({stored}); this one is "
                                 f"{self.experiment}. Use another --out directory, "
                                 "or the command that made it")
            runs = old.execute("SELECT key, label, config, summary, info, wall_s, finished_at FROM runs"
                               ).fetchall()
            copied = []
            for key, label, config, summary, info, wall_s, finished in runs:
                c = json.loads(config)
                new_key = run_key(c["task"], c["schedule"], c["seed"], c["steps"], c.get("options", {}))
                history = old.execute("SELECT step, lr, loss, val_loss, accuracy FROM history WHERE key=? "
                                      "ORDER BY step", (key,)).fetchall()
                checksum = _checksum(new_key, label, config, summary, info, float(wall_s), history)
                copied.append(((new_key, label, config, summary, info, float(wall_s), finished, checksum),
                               [(new_key, *h) for h in history]))
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            raise self._refuse(f"cannot be upgraded ({error})") from None
        finally:
            old.close()

        def fill(db: sqlite3.Connection) -> None:
            for run, history in copied:
                db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", run)
                db.execute("DELETE FROM history WHERE key=?", (run[0],))
                db.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)", history)

        temp = self._build(fill)
        backup = self.directory / f"{DB_NAME}.v1-backup"
        n = 1
        while backup.exists():
            n += 1
            backup = self.directory / f"{DB_NAME}.v1-backup{n}"
        try:
            os.link(self.path, backup)
            os.replace(temp, self.path)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise StoreError(f"cannot upgrade the store {self.path}: {_describe(error)}") from None
        for side in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{side}")
        self._legacy = False

    def _build(self, fill: Any = None) -> Path:
        """A complete store in a temporary file beside the store; its path."""
        temp = self.directory / f"{_TEMP_PREFIX}{os.getpid()}"
        try:
            db = sqlite3.connect(temp, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=DELETE")
                db.execute("BEGIN")
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("INSERT INTO meta VALUES ('experiment', ?)", (_json(self.experiment),))
                if fill is not None:
                    fill(db)
                db.execute("COMMIT")
            finally:
                db.close()
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
        except (OSError, sqlite3.Error) as error:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise StoreError(f"cannot write a new store beside {self.path}: {_describe(error)}") from None
        return temp

    def _create(self) -> None:
        """Build the store in a temporary file, then link it into place in one step."""
        temp = self.directory / f"{_TEMP_PREFIX}{os.getpid()}"
        try:
            _fault("temp-open")
            db = sqlite3.connect(temp, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=DELETE")
                db.execute("BEGIN")
                _fault("schema")
                for statement in _SCHEMA:
                    db.execute(statement)
                _fault("ids")
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                _fault("meta")
                db.execute("INSERT INTO meta VALUES ('experiment', ?)", (_json(self.experiment),))
                _fault("commit")
                db.execute("COMMIT")
            finally:
                db.close()
            _fault("temp-close")
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
            _fault("link")
            os.link(temp, self.path)  # fails if the name exists: never replaces a store
            _fault("cleanup")
            os.unlink(temp)
        except (OSError, sqlite3.Error) as error:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise StoreError(f"cannot create the store {self.path}: {_describe(error)}") from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open {self.path}: {error}") from None
        try:
            db.execute("PRAGMA synchronous=FULL")
            row = db.execute("SELECT value FROM meta WHERE key='experiment'").fetchone()
            if row is None or json.loads(row[0]) != json.loads(_json(self.experiment)):
                raise StoreError(f"{self.directory} holds another experiment "
                                 f"({None if row is None else json.loads(row[0])}); this one is "
                                 f"{self.experiment}. Use another --out directory, "
                                 "or the command that made it")
        except sqlite3.Error as error:
            db.close()
            raise StoreError(f"cannot read {self.path}: {error}") from None
        except BaseException:
            db.close()
            raise
        return db

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"the store {self.path} is closed")
        return self._db

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[sqlite3.Connection]:
        try:
            with self.db:
                yield self.db
        except sqlite3.Error as error:
            raise StoreError(f"cannot write {what} to {self.path} ({error}); "
                             "the store is unchanged") from None

    # --- writing ------------------------------------------------------------------
    def save(self, key: str, label: str, config: Mapping[str, Any], history: Iterable[Record],
             info: Mapping[str, Any], wall_s: float) -> dict[str, Any]:
        """Write a finished run (config, every history row, summary, checksum) in one
        transaction."""
        rows = list(history)
        losses = info.get("loss_per_epoch")
        summary = summarize_history(rows, bool(info.get("diverged")), losses)
        finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        values = [(key, r.step, r.lr, _db_loss(r.loss), r.val_loss, r.accuracy) for r in rows]
        config_text, summary_text, info_text = _json(dict(config)), _json(summary), _json(dict(info))
        with self._writing(f"run {key}") as db:
            db.execute("DELETE FROM history WHERE key=?", (key,))
            db.execute("DELETE FROM failures WHERE key=?", (key,))
            db.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)", values)
            ordered = sorted(values, key=lambda row: row[1])
            checksum = _checksum(key, label, config_text, summary_text, info_text, float(wall_s),
                                 [row[1:] for row in ordered])
            db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (key, label, config_text, summary_text, info_text, float(wall_s), finished, checksum))
        return summary

    def record_failure(self, key: str, label: str, error: str) -> None:
        """Note a run that raised; it is not finished, so a resume tries it again."""
        with self._writing(f"the failure of run {key}") as db:
            db.execute("INSERT INTO failures VALUES (?, ?, ?, ?)",
                       (key, label, error, time.strftime("%Y-%m-%dT%H:%M:%S%z")))

    # --- reading ------------------------------------------------------------------
    def done_keys(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT key FROM runs")}

    def runs(self, keys: Iterable[str] | None = None) -> list[StoredRun]:
        rows = self.db.execute("SELECT key, label, config, summary, info, wall_s FROM runs ORDER BY rowid")
        wanted = None if keys is None else set(keys)
        return [
            StoredRun(k, label, json.loads(c), json.loads(s), json.loads(i), w)
            for k, label, c, s, i, w in rows
            if wanted is None or k in wanted
        ]

    def history(self, key: str) -> list[Record]:
        rows = self.db.execute(
            "SELECT step, lr, loss, val_loss, accuracy FROM history WHERE key=? ORDER BY step", (key,)
        )
        return [Record(step, lr, math.nan if loss is None else loss, val, acc)
                for step, lr, loss, val, acc in rows]

    def curve(self, key: str, stride: int = 1) -> tuple[list[int], list[float], list[float]]:
        """Every ``stride``-th row of a run's history: steps, LRs and training losses (NaN
        for NULL), for figures."""
        rows = self.db.execute("SELECT step, lr, loss FROM history WHERE key=? AND step % ? = 0 "
                               "ORDER BY step", (key, max(1, int(stride)))).fetchall()
        return ([r[0] for r in rows], [r[1] for r in rows],
                [math.nan if r[2] is None else r[2] for r in rows])

    def steps_done(self, key: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM history WHERE key=?", (key,)).fetchone()[0])

    def failures(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.db.execute("SELECT key, label, error FROM failures")]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
