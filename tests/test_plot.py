"""lrlab.plot and `lrlab plot`: what the figure shows, sampling, units, files and errors."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import lrlab
from lrlab.cli import main
from lrlab.viz.plot import LESSON, MAX_BOUNDARIES, lesson_figure, plot, sample_steps


def _lines(fig):
    ax = fig.axes[0]
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")], ax


def test_import_lrlab_does_not_import_matplotlib():
    code = "import sys, lrlab; assert 'matplotlib' not in sys.modules; print(lrlab.plot.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "lrlab.viz.plot"
    assert lrlab.export.__module__ == "lrlab.exporters"


def test_schedules_legend_title_and_values():
    a = lrlab.parse("warmup(100, cosine(1e-3, 1e-4, 900))")
    b = "wsd(1e-3, 1000, warmup=100)"
    fig = plot(a, b, title="two")
    lines, ax = _lines(fig)
    assert [line.get_label() for line in lines] == [str(a), str(lrlab.parse(b))]
    assert ax.get_title() == "two"
    x, y = lines[0].get_data()
    np.testing.assert_array_equal(y, a.values(np.asarray(x, dtype=np.int64)))
    assert x[0] == 0 and x[-1] == 1000  # the window runs to the end
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0.0


def test_phase_boundaries_are_marked_and_peak_and_final_annotated():
    s = lrlab.parse("warmup(100, cosine(1e-3, 1e-4, 900))")
    fig = plot(s)
    ax = fig.axes[0]
    vertical = sorted({line.get_xdata()[0] for line in ax.get_lines()
                       if line.get_linestyle() == ":"})
    assert vertical == [100.0]  # inner boundaries: the warmup's end (0 and the end are the frame)
    texts = [t.get_text() for t in ax.texts]
    assert "peak 0.001" in texts and "final 0.0001" in texts
    fig = plot(s, boundaries=False, annotate=False)
    assert not fig.axes[0].texts and all(line.get_linestyle() != ":" for line in fig.axes[0].get_lines())


def test_log_axis_and_labels():
    fig = plot("cosine(1.0, 0.0, 10)", "exponential(1.0, 0.5)", labels=["cos", "exp"], log=True)
    lines, ax = _lines(fig)
    assert ax.get_yscale() == "log" and [line.get_label() for line in lines] == ["cos", "exp"]


def test_x_in_tokens_and_epochs():
    budget = lrlab.Budget(total_steps=1000, tokens_per_step=524288, steps_per_epoch=250)
    s = lrlab.parse("warmup('10%', cosine(1e-3, 0.0, '90%'))")
    lines, ax = _lines(plot(s, x="tokens", budget=budget))
    assert lines[0].get_xdata()[-1] == 1000 * 524288 and ax.get_xlabel() == "tokens"
    lines, ax = _lines(plot(s, x="epochs", budget=budget))
    assert lines[0].get_xdata()[-1] == pytest.approx(4.0) and ax.get_xlabel() == "epoch"


def test_a_1e12_step_schedule_is_sampled():
    s = lrlab.parse("warmup(1000000, cosine(1.0, 0.0, 999999000000))")
    begin = time.perf_counter()
    lines, _ = _lines(plot(s, points=2000))
    assert time.perf_counter() - begin < 30
    x, y = lines[0].get_data()
    assert len(x) <= 2000 + 3 * MAX_BOUNDARIES and x[-1] == 10**12
    assert 1_000_000 in set(x.tolist()) and y.max() == 1.0  # the peak step itself is drawn


def test_sample_steps_keeps_the_steps_beside_each_drop():
    s = lrlab.parse("multistep(1.0, [123457], gamma=0.1)")
    steps = sample_steps(s, 0, 10**9, points=100)
    assert {123456, 123457} <= set(steps.tolist()) and len(steps) <= 100 + 3
    assert np.array_equal(sample_steps(s, 0, 50, points=100), np.arange(51))


def test_lesson_figure_has_the_five_classic_shapes():
    lines, _ax = _lines(lesson_figure())
    assert [line.get_label() for line in lines] == list(LESSON)
    assert list(LESSON) == ["constant", "step", "cosine", "warmup + cosine", "WSD"]
    peaks = {line.get_label(): max(line.get_ydata()) for line in lines}
    assert set(peaks.values()) == {0.001}  # one peak LR for all five


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": "tokens"}, "x='tokens' needs a budget"),
        ({"x": "hours"}, "x must be one of"),
        ({"labels": ["a", "b"]}, "one label per schedule"),
        ({"points": 3}, "points"),
        ({"end": 0}, "end must be > start"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot("cosine(1.0, 0.0, 10)", **kwargs)
    with pytest.raises(ValueError, match="at least one"):
        plot()
    with pytest.raises(ValueError, match="not in steps"):
        plot("cosine(1.0, 0.0, '50%')")


# --- the command -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_cli_writes_each_format(tmp_path, capsys, suffix):
    out = tmp_path / f"s.{suffix}"
    assert main(["plot", "build-nanogpt-124m", "cosine(6e-4, 6e-5, 19073)", "-o", str(out)]) == 0
    head = out.read_bytes()[:8]
    assert {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[suffix] in head
    assert capsys.readouterr().out.strip() == str(out)


def test_cli_lesson_tokens_and_json(tmp_path, capsys):
    assert main(["plot", "--lesson", "-o", str(tmp_path / "l.png")]) == 0
    capsys.readouterr()
    assert main(["plot", "gpt3-125m", "--x", "tokens", "--log", "--json", "-o", str(tmp_path / "g.svg")]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["x"] == "tokens" and data["output"].endswith("g.svg") and len(data["schedules"]) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plot", "no-such-preset", "-o", "{tmp}/a.png"], "unknown preset"),
        (["plot", "cosine(1.0", "-o", "{tmp}/a.png"], "not a schedule"),
        (["plot", "cosine(1.0, 0.0, 10)", "-o", "{tmp}/a.gif"], "must end in .png"),
        (["plot", "cosine(1.0, 0.0, 10)", "-o", "{tmp}/missing/a.png"], "does not exist"),
        (["plot", "cosine(1.0, 0.0, 10)", "-o", "{tmp}/folder.png"], "is a folder"),
        (["plot", "cosine(1.0, 0.0, 10)", "--x", "tokens", "-o", "{tmp}/a.png"], "--tokens-per-step"),
        (["plot", "cosine(1.0, 0.0, 10)", "--end", "1e400", "-o", "{tmp}/a.png"], "--end"),
        (["plot", "--lesson", "cosine(1.0, 0.0, 10)", "-o", "{tmp}/a.png"], "--lesson"),
        (["plot", "-o", "{tmp}/a.png"], "at least one"),
        (["export", "cosine(1.0, 0.0, 10)", "--to", "jax"], "invalid choice"),
        (["export", "no-such-preset", "--to", "torch"], "unknown preset"),
        (["export", "cosine(1.0, 0.0, '5%')", "--to", "torch"], "--total-steps"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path, capsys, argv, message):
    (tmp_path / "folder.png").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrlab: error: ") and message in err and "Traceback" not in err


def test_cli_1e12_steps_is_bounded(tmp_path):
    begin = time.perf_counter()
    assert main(["plot", "sgdr(1.0, 1000)", "exponential(1.0, 0.999999999999)", "--end", "1000000000000",
                 "-o", str(tmp_path / "big.png")]) == 0
    assert time.perf_counter() - begin < 60


def test_cli_export(tmp_path, capsys):
    assert main(["export", "build-nanogpt-124m", "--to", "torch"]) == 0
    code = capsys.readouterr().out
    assert "def make_scheduler(optimizer):" in code and "CosineAnnealingLR" in code
    assert main(["export", "inverse_sqrt(1e-3, 100)", "--to", "optax", "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["native"] is False and "inverse square root" in data["reason"]
    assert data["code"] == lrlab.export(lrlab.parse("inverse_sqrt(1e-3, 100)"), to="optax")
    out = tmp_path / "snippet.py"
    assert main(["export", "gpt3-125m", "--to", "lrlab", "-o", str(out)]) == 0
    assert "lrlab.parse(" in out.read_text()


def test_schedules_with_their_own_budgets_share_a_token_axis(tmp_path):
    small = lrlab.Budget(total_steps=1000, tokens_per_step=1000)
    big = lrlab.Budget(total_steps=250, tokens_per_step=4000)  # 4x the batch: 4x fewer steps
    s = "warmup('10%', cosine(1e-3, 0.0, '90%'))"
    lines, ax = _lines(plot(s, s, x="tokens", budget=[small, big]))
    assert lines[0].get_xdata()[-1] == lines[1].get_xdata()[-1] == 1_000_000
    # the same token count gives the same LR on both lines: the peak at 100K tokens
    for line in lines:
        x, y = line.get_data()
        assert y[np.searchsorted(x, 100_000)] == 1e-3
    assert ax.get_xlim()[1] == 1_000_000
    with pytest.raises(ValueError, match="one per schedule"):
        plot(s, s, budget=[small])
    argv = ["plot", "gpt3-125m", "build-nanogpt-124m", "--x", "tokens", "-o", str(tmp_path / "t.png")]
    assert main(argv) == 0


def test_schedule_plot_is_the_shortcut_for_lrlab_plot():
    import lrlab

    s = lrlab.warmup(10, lrlab.cosine(1.0, 0.0, 90))
    figure = s.plot(lrlab.constant(0.5), title="two")
    axes = figure.axes[0]
    assert len(axes.get_lines()) >= 2 and axes.get_title() == "two"
