"""`lrlab compare | sensitivity | sweep`: output, reports, errors, and resuming after a kill or Ctrl-C."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrlab import parse
from lrlab.cli import main
from lrlab.lab import TEMPLATES
from lrlab.lab.store import DB_NAME
from lrlab.lab.tasks import get_task
from lrlab.presets import PRESETS
from lrlab.units import Budget

TESTS = str(Path(__file__).resolve().parent)
LRLAB = [sys.executable, "-m", "lrlab.cli"]
SWEPT = "warmup({w}, cosine({peak}, 0.0, '90%'))"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def direct(schedule: str, seed: int, steps: int) -> dict[str, float]:
    """A circle run outside the lab: final and best training loss, final val loss."""
    history = get_task("circle").run(parse(schedule), seed=seed, steps=steps).history
    finite = [r.loss for r in history if math.isfinite(r.loss)]
    val = [r.val_loss for r in history if r.val_loss is not None]
    return {"start": history[0].loss, "end": history[-1].loss, "best": min(finite),
            "val_loss": val[-1] if val else None, "diverged": len(finite) < len(history)}


# --- compare, sensitivity, sweep ---------------------------------------------------------------------


def test_compare_circle_json_report_and_figures(capsys, tmp_path):
    out = tmp_path / "circle"
    argv = ["compare", "--task", "circle", "--steps", "300", "--seeds", "2", "--out", str(out)]
    summary = run_json(capsys, *argv)  # the default executor: a local process pool
    head = (summary["kind"], summary["task"], summary["steps"], summary["seeds"])
    assert head == ("compare", "circle", 300, 2)
    assert summary["missing_runs"] == 0 and summary["failures"] == []
    assert summary["score"] == "val_loss"
    arms = {a["label"]: a for a in summary["arms"]}
    assert set(arms) == set(TEMPLATES)
    for label, arm in arms.items():
        resolved = parse(TEMPLATES[label].replace("{peak}", "0.2")).resolve(Budget(total_steps=300))
        assert arm["schedule"] == str(resolved)
        runs = [direct(arm["schedule"], seed, 300) for seed in (0, 1)]
        assert arm["runs"] == 2 and arm["diverged"] == sum(r["diverged"] for r in runs)
        for metric in ("end", "best", "val_loss"):
            values = [r[metric] for r in runs]
            assert arm[metric]["n"] == 2
            assert arm[metric]["mean"] == pytest.approx(statistics.mean(values), rel=1e-9)
            assert arm[metric]["std"] == pytest.approx(statistics.stdev(values), rel=1e-9, abs=1e-12)
    # ranked by mean final val loss, best first, ranks 1..6
    ok = [a for a in summary["arms"] if a["status"] != "DIVERGED"]
    assert [a["val_loss"]["mean"] for a in ok] == sorted(a["val_loss"]["mean"] for a in ok)
    assert [a["rank"] for a in summary["arms"]] == [1, 2, 3, 4, 5, 6]
    assert summary["best"] == ok[0]["label"] and ok[0]["vs_best"] == {
        "mean_diff": 0.0, "ci": None, "p_holm": None, "verdict": "best"}
    for arm in summary["arms"][1:]:  # two seeds: a paired t-interval with 1 degree of freedom
        assert set(arm["vs_best"]) == {"mean_diff", "ci", "p_holm", "verdict"}
        assert arm["vs_best"]["verdict"] in ("worse", "not separated")

    assert json.loads((out / "summary.json").read_text()) == summary
    report = (out / "report.md").read_text()
    assert report.startswith("# lrlab compare: circle")
    assert "300 updates per run, 2 seed(s) per arm, peak LR 0.2 for the templates." in report
    assert "lrlab " + " ".join(argv) + " --json" in report  # the command that made it
    for label, arm in arms.items():
        assert f"| {label} |" in report and f"- {label}: `{arm['schedule']}` (LR " in report
    pytest.importorskip("matplotlib")
    for name in ("lr", "loss"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![{name}]({name}.png)" in report

    # the text form of the same command: the table, the best arm, the report path
    code, text, err = run(capsys, *argv)
    assert code == 0
    # stderr is not a terminal here: plain progress lines, no control characters
    assert err.splitlines()[0].startswith("lrlab: compare circle") and "\r" not in err and "\x1b" not in err
    assert "0/0 runs to run (12 of 12 already in the store)" in err
    assert text.startswith("rank  schedule")
    assert f"Best by mean final validation loss: {summary['best']}." in text
    assert "vs best: the mean difference of the score to the best arm, paired by seed" in text
    assert f"report: {out / 'report.md'}" in text


def test_compare_repeated_schedule_template_preset_and_text(capsys, tmp_path):
    text = "warmup('10%', cosine({peak}, 0.0, '90%'))"
    summary = run_json(capsys, "compare", "--task", "circle", "--steps", "100", "--seeds", "1",
                       "--peak", "0.3", "--schedule", "cosine", "--schedule", "nanogpt-shakespeare-char",
                       "--schedule", text,
                       "--out", str(tmp_path), "--executor", "inline")
    assert [a["label"] for a in sorted(summary["arms"], key=lambda a: a["label"])] == sorted(
        ["cosine", "nanogpt-shakespeare-char", text])
    schedules = {a["label"]: a["schedule"] for a in summary["arms"]}
    assert schedules == {"cosine": "cosine(0.3, 0.0, 100)",
                         "nanogpt-shakespeare-char": str(PRESETS["nanogpt-shakespeare-char"].schedule),
                         text: "warmup(10, cosine(0.3, 0.0, 90))"}
    assert all(a["runs"] == 1 for a in summary["arms"])


def test_sensitivity_statuses_are_the_true_ones(capsys, tmp_path):
    summary = run_json(capsys, "sensitivity", "--task", "circle", "--lrs", "10,0.1,1e-5", "--steps", "300",
                       "--out", str(tmp_path), "--executor", "inline")
    status = {a["params"]["lr"]: a["status"] for a in summary["arms"]}
    assert set(status) == {10, 0.1, 1e-5}
    for lr in (10, 0.1, 1e-5):  # the statuses' rules applied to runs made outside the lab
        r = direct(f"constant({lr})", 0, 300)
        want = ("DIVERGED" if r["diverged"] or r["end"] > r["start"] else
                "BARELY MOVED" if r["end"] > 0.9 * r["start"] else
                "CONVERGED" if r["end"] < get_task("circle").converged_loss else "LEARNING")
        assert status[lr] == want
    # what that computation gives, written out: 10 blows up within a few updates, 1e-5 stays put
    assert status[10] == "DIVERGED" and status[1e-5] == "BARELY MOVED"
    arms = summary["arms"]
    assert arms[0]["params"]["lr"] == 0.1 and summary["best"] == arms[0]["label"]
    assert arms[-1]["params"]["lr"] == 10 and arms[-1]["diverged"] == 1


def test_sweep_fills_every_combination(capsys, tmp_path):
    summary = run_json(capsys, "sweep", "--task", "circle", "--schedule", SWEPT, "--param", "w=1,'10%'",
                       "--param", "peak=0.1,0.3", "--steps", "100", "--seeds", "1", "--out", str(tmp_path),
                       "--executor", "inline")
    assert summary["kind"] == "sweep"
    got = {a["label"]: (a["schedule"], a["params"]) for a in summary["arms"]}
    assert got == {
        "w=1, peak=0.1": ("warmup(1, cosine(0.1, 0.0, 90))", {"w": 1, "peak": 0.1}),
        "w=1, peak=0.3": ("warmup(1, cosine(0.3, 0.0, 90))", {"w": 1, "peak": 0.3}),
        "w='10%', peak=0.1": ("warmup(10, cosine(0.1, 0.0, 90))", {"w": "10%", "peak": 0.1}),
        "w='10%', peak=0.3": ("warmup(10, cosine(0.3, 0.0, 90))", {"w": "10%", "peak": 0.3}),
    }


def test_sweep_over_warmup_may_include_zero(capsys, tmp_path):
    """As in `lrlab sweep --help`: --param warmup=0,'1%','5%' (0 = no warmup, the baseline)."""
    summary = run_json(capsys, "sweep", "--task", "circle", "--schedule", SWEPT, "--param", "w=0,'10%'",
                       "--steps", "100", "--seeds", "1", "--out", str(tmp_path), "--executor", "inline")
    assert summary["missing_runs"] == 0 and summary["failures"] == []
    schedules = {a["params"]["w"]: parse(a["schedule"]) for a in summary["arms"]}
    assert set(schedules) == {0, "10%"}
    assert schedules[0](0) == pytest.approx(0.2)  # no warmup: starts at the peak
    assert schedules["10%"](0) == 0.0 and schedules["10%"](10) == pytest.approx(0.2)


# --- errors: exit 2, one line, no traceback ------------------------------------------------------------


def fails(capsys, *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert err.startswith("lrlab: error: ") and "Traceback" not in err
    return err


def test_errors_exit_2_with_a_message(capsys, tmp_path):
    out = str(tmp_path / "o")
    base = ["--steps", "20", "--seeds", "1", "--executor", "inline"]
    err = fails(capsys, "compare", "--task", "circel", "--out", out, *base)
    assert "unknown task 'circel'" in err and "did you mean 'circle'" in err
    err = fails(capsys, "compare", "--task", "circle", "--option", "hiden=4", "--out", out, *base)
    assert "no option 'hiden'" in err and "hidden" in err
    err = fails(capsys, "compare", "--task", "circle", "--option", "hidden", "--out", out, *base)
    assert "NAME=VALUE" in err
    assert "--steps" in fails(capsys, "compare", "--task", "circle", "--out", out, "--steps", "0")
    assert "--out" in fails(capsys, "compare", "--task", "circle")
    assert "--lrs" in fails(capsys, "sensitivity", "--task", "circle", "--lrs", "0.1,-1", "--out", out)
    assert "no value" in fails(capsys, "sweep", "--task", "circle", "--schedule", "constant({lr})",
                               "--param", "x=1", "--out", out, *base)
    assert "not a schedule" in fails(capsys, "compare", "--task", "circle", "--schedule", "cosine(",
                                     "--out", out, *base)
    assert not os.path.exists(out)  # nothing was started, nothing written


def test_an_option_of_the_wrong_type_exits_2_before_any_run(capsys, tmp_path):
    out = tmp_path / "o"
    err = fails(capsys, "compare", "--task", "circle", "--option", "hidden=abc", "--steps", "20",
                "--seeds", "1", "--out", str(out), "--executor", "inline")
    assert "hidden" in err and "'abc'" in err
    assert not out.exists()


def test_another_experiments_directory_exits_2_and_is_kept(capsys, tmp_path):
    base = ["--task", "circle", "--steps", "20", "--seeds", "1", "--executor", "inline",
            "--out", str(tmp_path)]
    code, _, _ = run(capsys, "sensitivity", "--lrs", "0.1", *base)
    assert code == 0
    before = (tmp_path / DB_NAME).read_bytes()
    err = fails(capsys, "compare", "--schedule", "cosine", *base)
    assert "another experiment" in err and "'sensitivity'" in err and "'compare'" in err
    assert (tmp_path / DB_NAME).read_bytes() == before
    code, _, _ = run(capsys, "sensitivity", "--lrs", "0.1,0.01", *base)  # the same experiment goes on
    assert code == 0


def test_a_foreign_sqlite_file_exits_2_and_is_kept(tmp_path):
    """Through the console script, from the tests directory (a user task found in the working directory)."""
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.commit()
    db.close()
    before = (tmp_path / DB_NAME).read_bytes()
    script = Path(sys.executable).with_name("lrlab")
    command = [str(script)] if script.exists() else LRLAB
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LABTASKS_LOG", "LABTASKS_DELAY")}
    args = ["compare", "--task", "labtasks:decay", "--schedule", "cosine", "--seeds", "1",
            "--executor", "inline"]
    done = subprocess.run([*command, *args, "--out", str(tmp_path)],
                          cwd=TESTS, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr.startswith("lrlab: error: ") and "another program" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert sorted(os.listdir(tmp_path)) == [DB_NAME] and (tmp_path / DB_NAME).read_bytes() == before
    # and the same command into an empty directory works (the task is found in the working directory)
    done = subprocess.run([*command, *args, "--out", str(tmp_path / "fresh"), "--json"],
                          cwd=TESTS, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["arms"][0]["end"]["mean"] == pytest.approx(
        math.exp(-sum(0.05 * (1 + math.cos(math.pi * t / 20)) for t in range(19))))


def test_out_pointing_at_a_file_exits_2(capsys, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("keep me\n")
    err = fails(capsys, "compare", "--task", "circle", "--steps", "20", "--seeds", "1",
                "--executor", "inline", "--out", str(path))
    assert "not a directory" in err and path.read_text() == "keep me\n"


# --- interrupting and resuming ---------------------------------------------------------------------------

ARMS = ["constant", "cosine", "step", "wsd"]
COMPARE = ["compare", "--task", "labtasks:decay", *(x for a in ARMS for x in ("--schedule", a)),
           "--seeds", "2", "--workers", "2", "--json"]
TOTAL = len(ARMS) * 2


def _env(log: Path, delay: float) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]),
            "LABTASKS_LOG": str(log), "LABTASKS_DELAY": str(delay)}


def _calls(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    return [(s, int(seed)) for s, seed, _, _ in (line.split("|") for line in log.read_text().splitlines())]


def _saved(out: Path) -> list[tuple[str, int]]:
    """(schedule, seed) of every run row in the store (read-only)."""
    try:
        db = sqlite3.connect(f"file:{out / DB_NAME}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return []
    try:
        rows = db.execute("SELECT config FROM runs").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()
    return [(json.loads(c)["schedule"], json.loads(c)["seed"]) for (c,) in rows]


def _wait_for(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.03)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("uninterrupted")
    done = subprocess.run([*LRLAB, *COMPARE, "--executor", "inline", "--out", str(tmp / "out")],
                          env=_env(tmp / "calls.log", 0), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(_calls(tmp / "calls.log")) == TOTAL
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "inline"])
@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_resume_after_kill_or_ctrl_c(tmp_path, uninterrupted, executor, how):
    out, log = tmp_path / "out", tmp_path / "calls.log"
    command = [*LRLAB, *COMPARE, "--executor", executor, "--out", str(out)]
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        # its own process group: Ctrl-C in a terminal reaches the command and its workers
        proc = subprocess.Popen(command, env=_env(log, 0.5), stdout=stdout, stderr=stderr,
                                start_new_session=True)
        try:
            _wait_for(lambda: len(_saved(out)) >= 2 or proc.poll() is not None)
            assert proc.poll() is None, "finished before it could be interrupted"
            os.killpg(proc.pid, getattr(signal, how))
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if sys.platform.startswith("linux"):  # a stray worker of the first command would log as the second
        _wait_for(lambda: not _pids_alive(_worker_pids(log)), timeout=30)
    saved = set(_saved(out))
    first = _calls(log)
    assert 2 <= len(saved) < TOTAL
    assert saved <= set(first)
    err = (tmp_path / "stderr").read_text()
    if how == "SIGINT":
        assert code == 130, err
        assert f"lrlab: interrupted: {len(saved)} of {TOTAL} runs are saved in {out}; " \
               "run the same command to resume" in err
        assert "Traceback" not in err
    else:
        assert code == -signal.SIGKILL

    again = subprocess.run(command, env=_env(log, 0.5), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    second = _calls(log)[len(first):]
    everything = {(s.schedule, s.seed) for s in _plan_specs()}
    assert not saved & set(second), "a run finished before the interruption was executed again"
    assert sorted(second) == sorted(everything - saved)  # each missing run exactly once
    rows = _saved(out)
    assert len(rows) == TOTAL and set(rows) == everything
    db = sqlite3.connect(out / DB_NAME)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key || '/' || step) FROM history").fetchone() == (
        TOTAL * 20, TOTAL * 20)
    db.close()
    assert json.loads(again.stdout) == uninterrupted


def _plan_specs():
    from lrlab.lab import plan_compare

    return plan_compare("labtasks:decay", ARMS, seeds=2).specs


def _pids_alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"multiprocessing" in f.read():
                    alive.add(pid)
        except OSError:
            pass
    return alive


def _worker_pids(log: Path) -> set[int]:
    return {int(line.split("|")[3]) for line in log.read_text().splitlines()} if log.exists() else set()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_starts_no_new_run(tmp_path):
    out, log = tmp_path / "out", tmp_path / "calls.log"
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        proc = subprocess.Popen([*LRLAB, *COMPARE, "--executor", "local", "--out", str(out)],
                                env=_env(log, 1.0), stdout=stdout, stderr=stderr, start_new_session=True)
        try:
            _wait_for(lambda: len(_calls(log)) >= 4 or proc.poll() is not None)  # the second pair just began
            started = len(_calls(log))
            os.killpg(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=60) == 130
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            for pid in _pids_alive(_worker_pids(log)):
                os.kill(pid, signal.SIGKILL)
    assert len(_calls(log)) == started


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_command_leaves_no_worker_behind(tmp_path):
    out, log = tmp_path / "out", tmp_path / "calls.log"
    workers: set[int] = set()
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        proc = subprocess.Popen([*LRLAB, *COMPARE, "--executor", "local", "--out", str(out)],
                                env=_env(log, 0.5), stdout=stdout, stderr=stderr, start_new_session=True)
        try:
            _wait_for(lambda: len(_saved(out)) >= 2 or proc.poll() is not None)
            workers = _worker_pids(log)
            assert len(workers) == 2
            proc.kill()  # the command only, as `kill -9 PID` does
            proc.wait(timeout=30)
            end = time.monotonic() + 5.0  # a run takes 0.5 s: ample time to notice
            while _pids_alive(workers) and time.monotonic() < end:
                time.sleep(0.1)
            assert not _pids_alive(workers)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pid in _pids_alive(workers | _worker_pids(log)):
                os.kill(pid, signal.SIGKILL)


def test_an_unreachable_ray_address_fails_fast(capsys, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on: bind, read it, close it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    message = fails(capsys, "compare", "--task", "circle", "--steps", "20", "--seeds", "1",
                    "--executor", "ray", "--address", f"127.0.0.1:{port}", "--out", str(tmp_path / "out"))
    assert time.monotonic() - started < 30
    assert f"cannot reach a Ray cluster at '127.0.0.1:{port}'" in message
    assert "--address" in fails(capsys, "compare", "--task", "circle", "--executor", "ray",
                                "--address", "nonsense", "--out", str(tmp_path / "out2"))


def test_tasks_lists_every_builtin_task_with_its_options(capsys):
    from lrlab.lab.tasks import TASKS

    records = run_json(capsys, "tasks", "--json")
    assert [r["name"] for r in records] == list(TASKS)
    for record in records:
        task = TASKS[record["name"]]
        assert record["default_steps"] == task.default_steps and record["default_peak"] == task.default_peak
        assert sorted(record["options"]) == sorted(task.options)  # every option --option accepts
        assert all(f"default {task.options[name]!r}" in text for name, text in record["options"].items())
    code, out, _ = run(capsys, "tasks")
    assert code == 0 and "--option n_layer=" in out and "module:function" in out


def test_a_task_that_is_not_a_task_function_is_refused_before_any_run(capsys, tmp_path):
    out = tmp_path / "x"
    assert main(["compare", "--task", "os:getcwd", "--seeds", "1", "--steps", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrlab: error: --task os:getcwd: expected a task function")
    assert "Traceback" not in err and not out.exists()
