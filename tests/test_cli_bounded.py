"""Bounded work: the inputs the core review found to hang or exhaust memory now finish, each in
its own process, under 1 GiB (peak resident memory of the child), with bounded output."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from lrlab.cli import main

MULTISTEP = "multistep(1, [" + ",".join(str(i) for i in range(1, 16000)) + "], gamma=0.9)"  # 85 KB
PIECEWISE = ("piecewise([" + ", ".join(str(i) for i in range(8000)) + "], ["
             + ", ".join(str(i % 7 * 0.1) for i in range(8000)) + "])")[:100_000]
JOIN = "join(" + ", ".join("cosine(1.0, 0.5, 3)" for _ in range(3000)) + ")"

CASES = {
    "multistep with 15999 milestones": ["show", MULTISTEP, "--no-plot"],
    "onecycle over 1e15 steps": ["show", "onecycle(1.0, 1e15)"],
    "a join of 3000 phases": ["show", JOIN],
    "sgdr far out": ["at", "sgdr(1.0, 10, mult=4)", "0", "10", "1000000000000000"],
}


def _run(argv: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run([sys.executable, "-m", "lrlab.cli", *argv], capture_output=True, text=True,
                          timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return done, max(before, after) / 2**20  # ru_maxrss is in KiB on Linux: GiB


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_inputs_finish_in_bounded_memory(name):
    done, gib = _run(CASES[name])
    assert done.returncode == 0, done.stderr
    assert gib < 1.0
    assert len(done.stdout) < 200_000  # the boundary table is cut, not 16,000 rows


def test_a_long_boundary_table_is_cut_with_a_count(capsys):
    spec = "multistep(1, [" + ", ".join(str(i) for i in range(1, 200)) + "], gamma=0.99)"
    assert main(["show", spec, "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "rows not shown (--json lists all)" in out
    assert main(["show", spec, "--json"]) == 0
    import json

    table = json.loads(capsys.readouterr().out)["table"]
    assert len(table) >= 199


def test_text_longer_than_the_parser_reads_is_refused_at_once(capsys):
    assert main(["show", PIECEWISE + "x" * 30_000]) == 2
    assert "longer than 100000 characters" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--width", "100000000"], ["--height", "100000000"], ["--width", "5"]])
def test_plot_sizes_are_bounded(flag, capsys):
    assert main(["show", "cosine(1.0, 0.0, 100)", *flag]) == 2
    assert "expected an integer from" in capsys.readouterr().err
