"""One CLI style across `lrlab` and the lab: positions with units, the error path and exit
statuses, lazy imports, loud task failures, budget warnings, and readable output."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lrlab.cli
from lrlab import parse
from lrlab.cli import main
from lrlab.cliutil import EXIT_RUNS_FAILED, to_step
from lrlab.lab.progress import Progress, eta_seconds
from lrlab.units import Budget

TESTS = str(Path(__file__).resolve().parent)
README = Path(__file__).resolve().parents[1] / "README.md"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def fails(capsys, *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert err.startswith("lrlab: error: ") and "Traceback" not in err
    return err


# --- positions with units -------------------------------------------------------------------------


def test_positions_with_units_round_down_to_an_update():
    budget = Budget(total_steps=101, tokens_per_step=1000, steps_per_epoch=40)
    assert to_step("50%", budget) == 50  # 50.5 steps: update 50 is under way
    assert to_step("100%", budget) == 101
    assert to_step("2ep", budget) == 80 and to_step("0.51ep", budget) == 20  # 20.4 -> 20
    assert to_step("375K tokens", budget) == 375 and to_step("1.5K tokens", budget) == 1
    assert to_step("30%", Budget(total_steps=10)) == 3  # 2.9999999999999996 is 3, not 2
    assert to_step("1_000", None) == 1000 and to_step("1e3", None) == 1000


def test_at_and_show_accept_positions(capsys):
    code, out, _ = run(capsys, "at", "cosine(1.0, 0.0, 100)", "50%", "25%", "100")
    assert code == 0 and out.split() == [repr(0.5), repr(parse("cosine(1.0, 0.0, 100)")(25)), "0.0"]
    code, out, _ = run(capsys, "at", "cosine(1.0, 0.0, 100)", "50%", "--total-steps", "200", "--json")
    assert json.loads(out) == [0.0]  # 50% of the run's 200 steps is step 100, where the cosine ended
    code, out, _ = run(capsys, "at", "gpt3-125m", "375M tokens", "--json")
    s = parse("warmup('375M tokens', cosine(0.0006, 6e-05, '259.625B tokens'))").resolve(
        Budget("300B tokens", tokens_per_step=524288)
    )
    assert json.loads(out) == [s(math.floor(375e6 / 524288))]
    code, out, _ = run(
        capsys,
        "show",
        "cosine(1.0, 0.0, 100)",
        "--steps",
        "2ep",
        "--steps-per-epoch",
        "10",
        "--no-plot",
        "--json",
    )
    assert (
        code == 0
        and {"step": 20, "lr": parse("cosine(1.0, 0.0, 100)")(20), "at": "chosen"} in json.loads(out)["table"]
    )
    assert "'1ep' is in epochs: give --steps-per-epoch" in fails(capsys, "at", "cosine(1.0, 0.0, 100)", "1ep")
    assert "got '1.5'" in fails(capsys, "at", "cosine(1.0, 0.0, 100)", "1.5")


def test_at_does_not_import_the_lab_torch_or_matplotlib():
    code = (
        "import sys; from lrlab.cli import main; main(['at', 'cosine(1.0, 0.0, 100)', '50']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib', 'scipy') "
        "or m.startswith(('lrlab.lab.experiment', 'lrlab.lab.store', 'lrlab.lab.tasks', "
        "'lrlab.lab.executors', 'lrlab.lab.report'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split("\n") == ["0.5", "[]", ""]


# --- one error path ----------------------------------------------------------------------------------


def test_a_bug_is_not_turned_into_a_one_line_error(monkeypatch):
    def broken(args):
        raise TypeError("a bug in lrlab")

    monkeypatch.setattr(lrlab.cli, "_presets", broken)
    with pytest.raises(TypeError, match="a bug in lrlab"):
        main(["presets"])


def test_lab_usage_errors_exit_2(capsys, tmp_path):
    out = str(tmp_path / "o")
    base = ["--task", "circle", "--steps", "20", "--seeds", "1", "--executor", "inline", "--out", out]
    err = fails(capsys, "compare", *base, "--option", "hidden=4", "--option", "hidden=6")
    assert "--option hidden=... is given twice (4 and 6)" in err
    err = fails(
        capsys, "sweep", *base, "--schedule", "constant({lr})", "--param", "lr=0.1", "--param", "lr=0.2"
    )
    assert "--param lr=... is given twice" in err
    assert "--address is for --executor ray" in fails(capsys, "compare", *base, "--address", "auto")
    err = fails(capsys, "compare", *base, "--schedule", "gpt3-125")
    assert "did you mean 'gpt3-125m'?" in err and "BinOp" not in err
    assert "did you mean 'warmup_cosine'?" in fails(capsys, "compare", *base, "--schedule", "warmup_cosin")
    assert "--peak" in fails(capsys, "compare", *base, "--peak", "nan")
    assert not os.path.exists(out)


def test_preset_names_are_taken_as_lrlab_show_takes_them(capsys, tmp_path):
    code, out, err = run(
        capsys,
        "compare",
        "--task",
        "circle",
        "--steps",
        "50",
        "--seeds",
        "1",
        "--executor",
        "inline",
        "--schedule",
        "GPT3-125M",
        "--out",
        str(tmp_path),
        "--json",
        "--no-figures",
    )
    assert code == 0, err
    arm = json.loads(out)["arms"][0]
    assert arm["label"] == "GPT3-125M"
    # rescaled to the run: every length of the preset is in tokens, so it keeps its shape in 50
    # steps: the warmup and decay take 260B of its 300B tokens, then it holds its final LR
    s = parse(arm["schedule"])
    assert s.length == pytest.approx(50 * 260 / 300) and max(s.values(50)) == pytest.approx(6e-4, rel=0.01)
    assert "preset 'gpt3-125m'" in err and "is rescaled to the run's 50 steps" in err


def test_help_shows_percent_signs_once(capsys):
    for command in ("compare", "sensitivity", "sweep", "at", "show"):
        with pytest.raises(SystemExit):
            lrlab.cli._parser().parse_args([command, "--help"])
        text = capsys.readouterr().out
        assert "%%" not in text, command
    with pytest.raises(SystemExit):
        lrlab.cli._parser().parse_args(["sweep", "--help"])
    assert "REST" in capsys.readouterr().out


# --- failures are loud -------------------------------------------------------------------------------


def test_a_task_that_raises_exits_3_with_its_traceback_on_stderr_and_in_the_report(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(TESTS)
    code, _, err = run(
        capsys,
        "compare",
        "--task",
        "labtasks:flaky",
        "--schedule",
        "constant",
        "--seeds",
        "2",
        "--executor",
        "inline",
        "--option",
        f"until={tmp_path / 'never'}",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == EXIT_RUNS_FAILED == 3
    assert (
        "Traceback (most recent call last):" in err
        and "RuntimeError: labtasks: flaky failure for seed 1" in err
    )
    assert "1 run(s) raised an error" in err
    report = (tmp_path / "o" / "report.md").read_text()
    assert "Traceback (most recent call last):" in report and "flaky failure for seed 1" in report


# --- budgets --------------------------------------------------------------------------------------------


def test_schedules_shorter_or_longer_than_the_run_are_warned_about(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "compare",
        "--task",
        "circle",
        "--steps",
        "100",
        "--seeds",
        "1",
        "--executor",
        "inline",
        "--no-figures",
        "--schedule",
        "cosine({peak}, 0.0, 80)",
        "--schedule",
        "cosine({peak}, 0.0, 400)",
        "--schedule",
        "cosine",
        "--out",
        str(tmp_path),
    )
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("lrlab: warning:")]
    assert len(warnings) == 2
    assert "'cosine({peak}, 0.0, 80)' is 80 steps long and the run has 100" in warnings[0]
    assert "holds its final LR 0 for the last 20% of the run" in warnings[0]
    assert (
        "'cosine({peak}, 0.0, 400)' is 400 steps long" in warnings[1]
        and "cut at 25% of its length" in warnings[1]
    )
    assert "Warnings:" in (tmp_path / "report.md").read_text()


def test_list_valued_parameters_can_be_swept(capsys, tmp_path):
    code, out, err = run(
        capsys,
        "sweep",
        "--task",
        "circle",
        "--steps",
        "100",
        "--seeds",
        "1",
        "--executor",
        "inline",
        "--no-figures",
        "--schedule",
        "multistep({peak}, {m}, gamma=0.1)",
        "--param",
        "m=[50,75],['20%','60%']",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert code == 0, err
    got = {a["label"]: parse(a["schedule"]) for a in json.loads(out)["arms"]}
    assert set(got) == {"m=[50, 75]", "m=['20%', '60%']"}
    assert got["m=[50, 75]"](49) == 0.2 and got["m=[50, 75]"](50) == pytest.approx(0.02)
    assert got["m=['20%', '60%']"](20) == pytest.approx(0.02) and got["m=['20%', '60%']"](
        60
    ) == pytest.approx(0.002)


def test_the_readme_sweep_example_makes_arms_of_equal_length(capsys, tmp_path):
    """The README's sweep uses REST (the rest of the run): every arm ends at the run's end."""
    line = next(line for line in README.read_text().splitlines() if line.startswith("lrlab sweep"))
    template = line.split("--schedule ")[1].split(" --param")[0].strip('"')
    assert "REST" in template
    code, out, err = run(
        capsys,
        "sweep",
        "--task",
        "circle",
        "--schedule",
        template,
        "--param",
        "w=0,'1%','5%'",
        "--steps",
        "1000",
        "--seeds",
        "1",
        "--executor",
        "inline",
        "--no-figures",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert code == 0, err
    lengths = {a["label"]: parse(a["schedule"]).length for a in json.loads(out)["arms"]}
    assert lengths == {"w=0": 1000, "w='1%'": 1000, "w='5%'": 1000}
    assert "lrlab: warning" not in err


# --- progress ---------------------------------------------------------------------------------------------


def test_the_eta_accounts_for_parallel_workers():
    # 10 runs of 60 s on 4 workers: after the first 4 finish together, 6 are left = 90 s, not 90 x 4
    assert eta_seconds(4, 10, [60.0] * 4, workers=4) == pytest.approx(90.0)
    assert eta_seconds(9, 10, [60.0] * 9, workers=4) == pytest.approx(60.0)
    assert eta_seconds(0, 10, [], workers=4) is None and eta_seconds(10, 10, [1.0], 4) == 0.0


def test_progress_is_plain_lines_when_not_a_terminal(tmp_path):
    with open(tmp_path / "log", "w") as stream:
        bar = Progress(stream=stream, workers=2, every=0.0)
        bar.start(3, 5, "compare circle")
        for done in (1, 2, 3):
            bar.update(done, 3, f"arm {done}", wall_s=2.0)
    text = (tmp_path / "log").read_text()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0] == "lrlab: compare circle: 0/3 runs to run (2 of 5 already in the store), 2 at a time"
    assert lines[1] == "lrlab: 1/3 runs done, about 0:02 left (arm 1)"
    assert lines[-1].startswith("lrlab: 3/3 runs done, 0:00 in all")


def test_runs_report_their_update_for_the_progress_lines(tmp_path):
    from lrlab.lab.runs import _FileReporter, read_step_progress
    from lrlab.lab.tasks import get_task
    from lrlab.lab.tasks._common import step_reporter

    seen: list[int] = []
    with step_reporter(seen.append):
        get_task("circle").run(parse("constant(0.1)"), seed=0, steps=30)
        get_task("circle-lesson").run(parse("constant(0.1)"), seed=0, steps=30)
    assert seen == list(range(30)) * 2
    reporter = _FileReporter(str(tmp_path / "key1"), 30, every=0.0)
    reporter(11)
    (tmp_path / "garbage").write_text("not numbers")
    assert read_step_progress(str(tmp_path)) == {"key1": (12, 30)}


def test_sensitivity_writes_a_loss_against_lr_figure(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, _, err = run(
        capsys,
        "sensitivity",
        "--task",
        "circle",
        "--lrs",
        "0.01,1,0.1",
        "--steps",
        "60",
        "--seeds",
        "2",
        "--executor",
        "inline",
        "--out",
        str(tmp_path),
    )
    assert code == 0, err
    assert (tmp_path / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "report.md").read_text()
    assert "![sensitivity](sensitivity.png)" in report
    rows = [
        line.split("|")[2].strip()
        for line in report.splitlines()
        if line.startswith("| ") and "LR" not in line
    ]
    assert rows == ["1.0", "0.1", "0.01"]  # sorted by LR
