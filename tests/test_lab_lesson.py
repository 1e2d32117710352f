"""`circle-lesson`: the schedules lesson's program reproduced by the lab, compared with an
independent re-statement of that program (tests/lesson_reference.py) to the 6 decimals the
lesson prints, and its statuses by the lesson's own rule."""

from __future__ import annotations

import json
import math

import pytest

import lesson_reference as lesson
from lrlab import parse
from lrlab.cli import main
from lrlab.lab.tasks import get_task
from lrlab.lab.tasks.circle_lesson import lesson_schedules


def six(x: float) -> str:
    return f"{x:.6f}"


def run_json(capsys, *argv: str) -> dict:
    code = main([*argv, "--executor", "inline", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_the_data_and_the_first_epoch_are_the_lessons():
    data = lesson.circle_points()
    task = get_task("circle-lesson")
    from lrlab.lab.tasks.circle_lesson import make_data

    assert [(list(x), y) for x, y in make_data()] == data  # the same 200 points, bit for bit
    # about 200 * (1.5 pi / 16) = 58.9 points lie inside x^2 + y^2 < 1.5
    assert abs(sum(y for _, y in data) - 58.9) < 15
    result = task.run(parse("constant(0.05)"), seed=0, steps=200)
    assert result.info["loss_per_epoch"] == lesson.train(lesson.constant_lr, data, epochs=1, base_lr=0.05)


@pytest.mark.parametrize("lr, steps", [(0.05, 4000), (0.3, 6400), (0.01, 7000)])
def test_each_schedule_matches_the_lessons_function_at_every_step(lr, steps):
    """The lab's five schedules give the lesson's LRs (to a few ulps) for any peak and length,
    including runs shorter than the lesson's 3000-step warmup."""
    fns = {label: (fn, extra) for label, fn, extra in lesson.LESSON_CONFIGS}
    for label, text in lesson_schedules(lr, steps).items():
        s = parse(text)
        fn, extra = fns[label]
        for t in range(0, steps, 7):
            want = fn(t, lr=lr, total_steps=steps, **extra)
            assert s(t) == pytest.approx(want, rel=1e-12, abs=1e-18), (label, t)
    short = parse(lesson_schedules(0.05, 1000)["warmup_cosine"])  # the lesson's `total <= warmup` branch
    want = lesson.warmup_cosine_lr(500, lr=0.05, total_steps=1000, warmup_steps=3000)
    assert short(500) == pytest.approx(want)


def test_sensitivity_at_the_lessons_settings_prints_the_lessons_table(capsys, tmp_path):
    summary = run_json(capsys, "sensitivity", "--task", "circle-lesson", "--out", str(tmp_path))
    assert summary["steps"] == 100 * 200 and summary["seeds"] == 1
    arms = {a["params"]["lr"]: a for a in summary["arms"]}
    rows = lesson.sensitivity_rows()
    assert sorted(arms) == sorted(lr for lr, *_ in rows)
    for lr, start, end, status in rows:
        arm = arms[lr]
        assert (six(arm["start"]["mean"]), six(arm["end"]["mean"])) == (six(start), six(end))
        assert arm["status"] == status and arm["statuses"] == {status: 1}
    # contrary to the lesson's prose, LR 1.0 and 0.1 converge at its settings
    assert arms[1.0]["status"] == arms[0.1]["status"] == "CONVERGED"
    text = (tmp_path / "report.md").read_text()
    assert "the lesson's rule" in text
    # rows sorted by LR, highest first
    order = [
        line.split("|")[2].strip() for line in text.splitlines() if line.startswith("| ") and "LR" not in line
    ]
    assert [float(v) for v in order] == [1.0, 0.1, 0.01, 0.001, 0.0001]


def test_a_grid_and_a_length_of_ones_own_give_the_lessons_functions_with_those_arguments(capsys, tmp_path):
    summary = run_json(
        capsys,
        "sensitivity",
        "--task",
        "circle-lesson",
        "--lrs",
        "0.5,0.02",
        "--steps",
        "2000",
        "--out",
        str(tmp_path),
    )
    arms = {a["params"]["lr"]: a for a in summary["arms"]}
    for lr, start, end, status in lesson.sensitivity_rows((0.5, 0.02), epochs=10):
        assert (six(arms[lr]["start"]["mean"]), six(arms[lr]["end"]["mean"])) == (six(start), six(end))
        assert arms[lr]["status"] == status


def test_compare_with_a_peak_and_a_length_matches_the_lesson(capsys, tmp_path):
    summary = run_json(
        capsys,
        "compare",
        "--task",
        "circle-lesson",
        "--peak",
        "0.2",
        "--steps",
        "8000",
        "--out",
        str(tmp_path),
    )
    got = {a["label"]: a for a in summary["arms"]}
    assert list(got) and set(got) == {"constant", "step", "cosine", "warmup_cosine", "onecycle"}
    for label, start, middle, end, best in lesson.compare_rows(epochs=40, base_lr=0.2):
        arm = got[label]
        assert [six(arm[k]["mean"]) for k in ("start", "middle", "end", "best")] == [
            six(start),
            six(middle),
            six(end),
            six(best),
        ], label


@pytest.mark.slow
def test_compare_at_the_lessons_settings_prints_the_lessons_table(capsys, tmp_path):
    code = main(["compare", "--task", "circle-lesson", "--out", str(tmp_path), "--executor", "inline"])
    text, _ = capsys.readouterr()
    assert code == 0
    rows = lesson.compare_rows()
    lines = {line.split()[1]: line.split() for line in text.splitlines()[1:6]}
    for label, start, middle, end, best in rows:
        # rank, label, runs, start, middle, end, best: the lesson's four numbers to its 6 decimals
        assert lines[label][3:7] == [six(start), six(middle), six(end), six(best)], label
    # the lesson's own program ranks the constant LR first at its settings
    assert min(rows, key=lambda r: r[3])[0] == "constant" and text.splitlines()[1].split()[1] == "constant"
    assert "one seed cannot separate arms" in text


def test_seeds_vary_the_initialisation_only():
    task = get_task("circle-lesson")
    data = lesson.circle_points()
    for seed in (1, 2):
        mine = task.run(parse("constant(0.05)"), seed=seed, steps=400).info["loss_per_epoch"]
        assert mine == lesson.train(lesson.constant_lr, data, epochs=2, base_lr=0.05, init_seed=seed)
    a = task.run(parse("constant(0.05)"), seed=0, steps=400).info["loss_per_epoch"]
    assert a != mine and all(math.isfinite(v) for v in a)
