"""``lrlab find``: output, JSON, the plot file and errors."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from lrlab.cli import main


def test_find_prints_suggestions_and_the_recommendation(capsys):
    assert main(["find", "--task", "circle", "--num-steps", "120", "--start-lr", "1e-4"]) == 0
    out = capsys.readouterr().out
    assert "LR range test on circle: 120 updates" in out
    for label in ("steepest", "valley", "min/10", "stable/2", "warmup+cosine", "1cycle"):
        assert label in out
    assert "recommended peak for warmup + cosine" in out or "no recommendation" in out


def test_find_json_and_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.png"
    code = main(
        [
            "find",
            "--task",
            "circle",
            "--num-steps",
            "60",
            "--seeds",
            "2",
            "--start-lr",
            "1e-3",
            "--json",
            "-o",
            str(path),
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["settings"]["task"] == "circle" and data["settings"]["seeds"] == [0, 1]
    assert len(data["sweeps"]) == 2 and "interval" in data["suggestions"]
    assert data["recommended"] == "warmup+cosine"
    assert path.stat().st_size > 1000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["find", "--task", "circle", "--start-lr", "1", "--end-lr", "0.1"], "--start-lr must be < --end-lr"),
        (["find", "--task", "cirle"], "did you mean 'circle'"),
        (["find", "--task", "circle", "--option", "hidden=-2"], "option hidden=-2"),
        (["find", "--task", "circle", "--num-steps", "1"], "--num-steps"),
        (["find", "--task", "circle", "-o", "plot.txt"], "-o/--output"),
        (["find", "--task", "circle", "--start-lr", "-1"], "--start-lr"),
    ],
)
def test_find_errors_exit_2_with_a_clear_message(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrlab: error:") and message in err
    assert "Traceback" not in err
