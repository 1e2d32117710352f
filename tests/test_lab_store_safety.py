"""The store survives anything: a kill or Ctrl-C at every statement of its creation,
simultaneous starts, corruption (refused, left byte-identical), equivalent arguments (one
run, not two) and filesystem failures (a clear exit-2 error, the store intact)."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrlab.cli import main
from lrlab.lab import Record, Store, StoreError
from lrlab.lab.experiment import plan_compare, run_plan
from lrlab.lab.runs import RunSpec
from lrlab.lab.store import CREATION_POINTS, DB_NAME, LOCK_NAME

TESTS = str(Path(__file__).resolve().parent)
EXPERIMENT = {"kind": "compare", "task": "labtasks:decay"}
COMMAND = [
    "compare",
    "--task",
    "labtasks:decay",
    "--schedule",
    "constant",
    "--schedule",
    "cosine",
    "--seeds",
    "2",
    "--executor",
    "inline",
]


def listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _in_child(body) -> int:
    """Run ``body()`` in a forked child; return its wait status (killed: -signal)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            body()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _fill(directory: Path) -> None:
    with Store(directory, EXPERIMENT) as store:
        store.save("k1", "a", {"seed": 0}, [Record(t, 0.1, 1.0 / (t + 1)) for t in range(300)], {}, 1.0)
        store.save("k2", "b", {"seed": 0}, [Record(t, 0.2, 2.0 / (t + 1)) for t in range(300)], {}, 2.0)


# --- creation: a kill or Ctrl-C at every statement ---------------------------------------------


@pytest.mark.parametrize("point", CREATION_POINTS)
def test_a_kill_at_any_statement_of_creation_leaves_a_store_that_opens(tmp_path, monkeypatch, point):
    out = tmp_path / "out"

    def create() -> None:
        os.environ["LRLAB_STORE_FAULT"] = f"{point}:kill"
        Store(out, EXPERIMENT)

    assert _in_child(create) == -signal.SIGKILL  # it died at that statement
    assert not (out / DB_NAME).exists() or point == "cleanup"  # absent, or complete
    _fill(out)  # the same store opens, creates or resumes, and works
    with Store(out, EXPERIMENT) as store:
        assert store.done_keys() == {"k1", "k2"}
    assert sorted(p.name for p in out.iterdir()) == sorted([DB_NAME, LOCK_NAME])  # temp files cleaned


@pytest.mark.parametrize("point", CREATION_POINTS)
def test_ctrl_c_at_any_statement_of_creation_says_resume_and_the_same_command_does(
    tmp_path, capsys, monkeypatch, point
):
    out = str(tmp_path / "out")
    monkeypatch.syspath_prepend(TESTS)
    monkeypatch.setenv("LRLAB_STORE_FAULT", f"{point}:interrupt")
    code = main([*COMMAND, "--out", out, "--json"])
    _, err = capsys.readouterr()
    if point == "cleanup":  # the store was already in place: only the temp file was left
        assert code in (0, 130)
    else:
        assert code == 130 and "run the same command to resume" in err
        assert "another program" not in err and "another experiment" not in err
    monkeypatch.delenv("LRLAB_STORE_FAULT")
    code = main([*COMMAND, "--out", out, "--json"])
    out_text, err = capsys.readouterr()
    assert code == 0, err
    assert [a["runs"] for a in json.loads(out_text)["arms"]] == [2, 2]


def test_a_killed_command_is_resumed_by_the_same_command(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "lrlab.cli", *COMMAND, "--out", str(tmp_path), "--json"]
    killed = subprocess.run(
        argv, env={**env, "LRLAB_STORE_FAULT": "commit:kill"}, capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == -signal.SIGKILL
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [a["runs"] for a in json.loads(done.stdout)["arms"]] == [2, 2]


# --- one writer --------------------------------------------------------------------------------


def test_a_second_process_is_refused_at_once_naming_the_first(tmp_path):
    ready, release = tmp_path / "ready", tmp_path / "release"

    def hold() -> None:
        with Store(tmp_path, EXPERIMENT):
            ready.touch()
            while not release.exists():
                time.sleep(0.01)

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            hold()
        finally:
            os._exit(0)
    try:
        while not ready.exists():
            time.sleep(0.01)
        start = time.monotonic()
        with pytest.raises(StoreError, match=rf"in use by another lrlab process \(pid {pid} "):
            Store(tmp_path, EXPERIMENT)
        assert time.monotonic() - start < 2.0  # at once, not after a timeout
    finally:
        release.touch()
        os.waitpid(pid, 0)
    with Store(tmp_path, EXPERIMENT):  # released when the holder ended
        pass


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    def die_holding() -> None:
        Store(tmp_path, EXPERIMENT)
        os.kill(os.getpid(), signal.SIGKILL)

    assert _in_child(die_holding) == -signal.SIGKILL
    assert (tmp_path / LOCK_NAME).exists()
    _fill(tmp_path)


@pytest.mark.slow
def test_ten_simultaneous_starts_never_collide(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]),
        "LABTASKS_DELAY": "0.2",
    }
    argv = [sys.executable, "-m", "lrlab.cli", *COMMAND, "--out", str(tmp_path), "--json"]
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(10)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for code, _, err in results:
        assert "UNIQUE constraint" not in err and "Traceback" not in err
        assert code == 0 or (code == 2 and "in use by another lrlab process" in err), err
    assert any(code == 0 for code, _, _ in results)
    with Store(tmp_path, plan_compare("labtasks:decay", ["constant", "cosine"], seeds=2).experiment) as store:
        assert len(store.runs()) == 4  # each run once


# --- corruption ---------------------------------------------------------------------------------


def _refused_unchanged(directory: Path, match: str) -> str:
    before = listing(directory)
    with pytest.raises(StoreError, match=match) as caught:
        Store(directory, EXPERIMENT)
    assert listing(directory) == before  # byte-identical, nothing created beside it
    return str(caught.value)


def test_truncated_by_one_byte_is_refused(tmp_path):
    _fill(tmp_path)
    (tmp_path / LOCK_NAME).unlink()
    path = tmp_path / DB_NAME
    path.write_bytes(path.read_bytes()[:-1])
    assert "corrupt" in _refused_unchanged(tmp_path, "leaves it as it is")


def test_a_flipped_bit_in_a_stored_loss_is_refused(tmp_path):
    _fill(tmp_path)
    path = tmp_path / DB_NAME
    data = bytearray(path.read_bytes())
    needle = struct.pack(">d", 2.0 / 7)  # SQLite stores REAL big-endian; run k2's loss at step 6
    at = data.find(needle)
    assert at > 0 and data.find(needle, at + 1) < 0
    data[at + 7] ^= 0x01
    path.write_bytes(bytes(data))
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"  # SQLite itself sees nothing
    db.close()
    assert "checksum" in _refused_unchanged(tmp_path, "corrupt")


def test_a_history_row_moved_to_another_run_is_refused(tmp_path):
    _fill(tmp_path)
    path = tmp_path / DB_NAME
    db = sqlite3.connect(path)
    db.execute("UPDATE history SET key='k1', step=1000 WHERE key='k2' AND step=5")  # as a flipped key would
    db.commit()
    db.close()
    assert "checksum" in _refused_unchanged(tmp_path, "corrupt")


def test_a_store_of_an_unknown_version_is_refused_unchanged(tmp_path):
    _fill(tmp_path)
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA user_version=7")
    db.commit()
    db.close()
    assert "store version 7" in _refused_unchanged(tmp_path, "version")


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (key TEXT PRIMARY KEY, label TEXT NOT NULL, config TEXT NOT NULL, summary TEXT NOT NULL,
                   info TEXT NOT NULL, wall_s REAL NOT NULL, finished_at TEXT NOT NULL);
CREATE TABLE history (key TEXT NOT NULL, step INTEGER NOT NULL, lr REAL NOT NULL, loss REAL, val_loss REAL,
                      accuracy REAL, PRIMARY KEY (key, step));
CREATE TABLE failures (key TEXT NOT NULL, label TEXT NOT NULL, error TEXT NOT NULL, at TEXT NOT NULL);
"""


def test_a_store_of_the_first_format_is_upgraded_with_a_backup(tmp_path, capsys, monkeypatch):
    """A store written by the first lrlab (WAL mode, no checksums, keys of the plain config
    JSON) is upgraded: the same command finds its runs, and the old file is kept."""
    monkeypatch.syspath_prepend(TESTS)
    plan = plan_compare("labtasks:decay", ["constant", "cosine"], seeds=2)
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(V1_SCHEMA)
    db.execute("PRAGMA application_id=1819438178")
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO meta VALUES ('experiment', ?)", (json.dumps(plan.experiment, sort_keys=True),))
    for spec in plan.specs:
        old_key = f"old-{spec.label}-{spec.seed}"
        rows = [(old_key, t, float(spec.seed + 1), 1.0 / (t + 1), None, None) for t in range(20)]
        summary = {"start": 1.0, "middle": 1 / 11, "end": 0.05, "best": 0.05, "diverged": False,
                   "val_loss": None, "best_val_loss": None, "accuracy": None, "steps_done": 20}
        db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (old_key, spec.label, json.dumps({**spec.config, "params": {}}, sort_keys=True),
                    json.dumps(summary, sort_keys=True), "{}", 1.0, "2026-11-23T00:00:00"))
        db.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    old_bytes = (tmp_path / DB_NAME).read_bytes()
    code = main([*COMMAND, "--out", str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "0/0 runs to run (4 of 4 already in the store)" in err  # nothing trained again
    assert [a["end"]["mean"] for a in json.loads(out)["arms"]] == [0.05, 0.05]
    assert (tmp_path / f"{DB_NAME}.v1-backup").read_bytes() == old_bytes
    with Store(tmp_path, plan.experiment) as store:
        assert store.done_keys() == {s.key for s in plan.specs}
        assert [r.lr for r in store.history(plan.specs[1].key)] == [2.0] * 20


# --- run identity -----------------------------------------------------------------------------


def test_equivalent_arguments_are_the_same_run():
    a = RunSpec("circle", "cosine(1.0, 0.0, 4000.0)", 0, 100, "x")
    b = RunSpec("circle", "cosine(1, 0, 4000)", 0, 100, "y")
    assert a.key == b.key
    assert RunSpec("circle", "cosine(1.0, 0.0, 4001)", 0, 100, "x").key != a.key
    plain = plan_compare("circle", ["cosine"], steps=50, seeds=1)
    spelled = plan_compare("circle", ["cosine"], steps=50, seeds=1, options={"hidden": 8.0, "n_val": 400})
    assert [s.key for s in plain.specs] == [s.key for s in spelled.specs]
    other = plan_compare("circle", ["cosine"], steps=50, seeds=1, options={"hidden": 16.0})
    sixteen = plan_compare("circle", ["cosine"], steps=50, seeds=1, options={"hidden": 16})
    assert [s.key for s in other.specs] == [s.key for s in sixteen.specs] != [s.key for s in plain.specs]


def test_a_resume_with_equivalent_arguments_adds_no_run(tmp_path, capsys):
    base = [
        "compare",
        "--task",
        "circle",
        "--steps",
        "40",
        "--seeds",
        "1",
        "--schedule",
        "cosine",
        "--schedule",
        "cosine({peak}, 0.0, 40.0)",
        "--executor",
        "inline",
        "--out",
        str(tmp_path),
    ]
    assert main(base) == 0
    assert main([*base, "--option", "hidden=8.0", "--option", "n_train=400"]) == 0
    _, err = capsys.readouterr()
    assert "0/0 runs to run (2 of 2 already in the store)" in err
    with Store(tmp_path, {"kind": "compare", "task": "circle"}) as store:
        assert len(store.runs()) == 1  # the two spellings of one cosine are one run


# --- filesystem failures: exit 2, one line, the store intact ------------------------------------------


def fails(capsys, *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.splitlines()  # progress lines may come first; the error is the last line
    assert lines[-1].startswith("lrlab: error: ") and "Traceback" not in err
    assert all(line.startswith("lrlab: ") for line in lines) and sum("error" in line for line in lines) == 1
    return lines[-1]


QUICK = [
    "compare",
    "--task",
    "circle",
    "--steps",
    "20",
    "--seeds",
    "1",
    "--schedule",
    "constant",
    "--executor",
    "inline",
    "--no-figures",
]


def test_unusable_out_directories_exit_2(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    under_a_file = str(tmp_path / "file" / "sub")
    assert "cannot create the --out directory" in fails(capsys, *QUICK, "--out", under_a_file)
    assert "--out" in fails(capsys, *QUICK, "--out", "/proc/lrlab-test")
    assert "File name too long" in fails(capsys, *QUICK, "--out", str(tmp_path / ("x" * 300)))
    (tmp_path / "dir" / DB_NAME).mkdir(parents=True)
    assert "is not a file" in fails(capsys, *QUICK, "--out", str(tmp_path / "dir"))
    (tmp_path / "loop").mkdir()
    os.symlink(tmp_path / "loop" / DB_NAME, tmp_path / "loop" / DB_NAME)
    assert "symbolic link" in fails(capsys, *QUICK, "--out", str(tmp_path / "loop"))
    os.symlink(tmp_path / "outloop", tmp_path / "outloop")
    assert "--out" in fails(capsys, *QUICK, "--out", str(tmp_path / "outloop"))
    assert "--out must name a directory" in fails(capsys, *QUICK, "--out", "")


def test_a_read_only_directory_exits_2(tmp_path, capsys, monkeypatch):
    # tests may run as root, for whom chmod does not bind: the check the store makes is os.access
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if str(p) == str(tmp_path) else real(p, mode)
    )
    assert "is not writable" in fails(capsys, *QUICK, "--out", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_saving_is_a_clear_error_and_the_store_is_intact(tmp_path, capsys, monkeypatch):
    assert main([*QUICK, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    before = (tmp_path / DB_NAME).read_bytes()
    real_open = Store._open

    def tiny(self):  # SQLite's own "database or disk is full", from a page limit
        db = real_open(self)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={pages}")
        return db

    monkeypatch.setattr(Store, "_open", tiny)
    err = fails(
        capsys,
        *QUICK[:-3],
        "--schedule",
        "cosine",
        "--executor",
        "inline",
        "--steps",
        "4000",
        "--out",
        str(tmp_path),
    )
    assert "database or disk is full" in err and "the store is unchanged" in err
    assert (tmp_path / DB_NAME).read_bytes() == before


def test_no_space_for_a_figure_is_a_clear_error(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Figure, "savefig", full)
    err = fails(capsys, *QUICK[:-1], "--out", str(tmp_path))
    assert "cannot write the figure" in err and "No space left on device" in err
    with Store(tmp_path, {"kind": "compare", "task": "circle"}) as store:
        assert len(store.runs()) == 1  # the run itself is saved


def test_a_billion_seeds_is_refused_before_anything_is_allocated(capsys, tmp_path):
    start = time.monotonic()
    err = fails(capsys, *QUICK, "--seeds", "1000000000", "--out", str(tmp_path / "o"))
    assert "--seeds must be an int from 1 to 10000" in err and time.monotonic() - start < 5
    assert not (tmp_path / "o").exists()


def test_a_run_plan_error_is_a_store_error():
    with pytest.raises(StoreError):
        run_plan(plan_compare("circle", ["constant"], steps=5, seeds=1), "")
