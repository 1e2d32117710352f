"""lrlab.viz.terminal: where the marks land, labels, scales and limits of the text plot."""

from __future__ import annotations

import itertools

import pytest

from lrlab import parse
from lrlab.viz.terminal import plot

AXES = "┤│+|"


def plot_rows(text: str, height: int) -> list[str]:
    """The cells right of the y axis, one string per plot row (padded to equal width)."""
    lines = text.split("\n")[:height]
    cut = max(max(line.find(c) for c in AXES) for line in lines) + 1
    cells = [line[cut:] for line in lines]
    width = max(len(c) for c in cells)
    return [c.ljust(width) for c in cells]


def marked(row: str) -> list[int]:
    return [i for i, ch in enumerate(row) if ch != " "]


def test_a_linear_ramp_rises_from_bottom_left_to_top_right():
    height = 8
    rows = plot_rows(plot(parse("linear(0.0, 1.0, 100)"), width=60, height=height), height)
    cols = len(rows[0])
    top, bottom = marked(rows[0]), marked(rows[-1])
    assert top and bottom
    assert min(top) > cols * 0.75 and max(top) == cols - 1
    assert max(bottom) < cols * 0.25 and min(bottom) == 0
    # every row has marks, each row's marks to the right of the row below
    for upper, lower in itertools.pairwise(rows):
        assert min(marked(upper)) >= max(marked(lower)) - 1


def test_a_falling_cosine_runs_from_top_left_to_bottom_right():
    height = 6
    rows = plot_rows(plot(parse("cosine(1.0, 0.0, 1000)"), width=50, height=height), height)
    assert min(marked(rows[0])) == 0 and max(marked(rows[0])) < len(rows[0]) / 2
    assert max(marked(rows[-1])) == len(rows[-1]) - 1


def test_layout_width_height_and_labels():
    text = plot(parse("warmup(10, cosine(2.0, 0.0, 90))"), width=40, height=7)
    lines = text.split("\n")
    assert len(lines) == 7 + 2  # plot rows, the x axis, the step ticks
    assert all(len(line) <= 40 for line in lines)
    assert lines[0].split()[0] == "2"  # the peak labels the top row
    assert lines[6].split()[0] == "0"  # 0 the bottom row
    assert "1" in [line.split()[0] for line in lines[1:6]]  # a round value in between
    ticks = [int(t) for t in lines[-1].split()]
    assert ticks[0] == 0 and ticks == sorted(ticks) and ticks[-1] <= 100 and len(ticks) >= 2
    # each tick label sits under a tick mark on the axis line
    for t in lines[-1].split():
        at = lines[-1].index(t)
        assert "┬" in lines[-2][at:at + len(t)]
    assert not text.endswith("\n")


def test_a_step_drop_is_drawn_as_a_vertical_line():
    height = 6
    rows = plot_rows(plot(parse("multistep(1.0, [50], gamma=0.1)"), width=60, height=height, end=99),
                     height)
    # the drop from 1.0 to 0.1 happens in the middle: one column crosses every row
    full = [c for c in range(len(rows[0])) if all(row[c] != " " for row in rows)]
    assert full and abs(full[0] - len(rows[0]) / 2) <= 2


def test_log_scale_straightens_a_geometric_decay():
    s = parse("geometric(1.0, 1e-4, 1000)")
    height = 9
    middle_col = None
    for log in (False, True):
        rows = plot_rows(plot(s, width=60, height=height, log=log), height)
        middle_col = len(rows[0]) // 2
        row_of_mark = [r for r, row in enumerate(rows) if row[middle_col] != " "]
        assert row_of_mark
        if log:  # halfway in time is halfway in log10(lr): the middle row
            assert abs(row_of_mark[0] - height // 2) <= 1
        else:  # at 1e-2 of the peak: on the bottom row
            assert row_of_mark == [height - 1]


def test_log_scale_labels_and_zeros():
    text = plot(parse("cosine(1e-3, 0.0, 100)"), width=40, height=6, log=True)
    assert text.split("\n")[0].split()[0] == "0.001"
    # cosine reaches 0: the bottom label is at most 5 decades down, not 0
    assert float(text.split("\n")[5].split()[0]) >= 1e-8


def test_ascii_charset_is_plain_ascii():
    text = plot(parse("warmup(10, cosine(1.0, 0.0, 90))"), width=40, height=5, charset="ascii")
    assert text.isascii() and "*" in text


def test_long_schedules_are_sampled_and_keep_their_steps():
    height = 6
    rows = plot_rows(plot(parse("multistep(1.0, [1500001], gamma=0.1)"), width=60, height=height,
                          end=3_000_000), height)
    full = [c for c in range(len(rows[0])) if all(row[c] != " " for row in rows)]
    assert len(full) == 1 and abs(full[0] - len(rows[0]) / 2) <= 1


def test_endless_and_flat_schedules_plot():
    assert "⠉" in plot(parse("constant(0.5)"), height=4)  # a flat line on the top row
    assert plot(parse("constant(0.0)"), height=4).count("\n") == 5
    assert plot(parse("inverse_sqrt(1e-3, 100)"), height=4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 10}, "width"),
        ({"height": 1}, "height"),
        ({"end": 0}, "end must be > start"),
        ({"charset": "emoji"}, "charset"),
        ({"start": -1}, "start"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot(parse("cosine(1.0, 0.0, 10)"), **kwargs)


def test_ticks_in_tokens_and_epochs():
    s = parse("warmup(100, cosine(1.0, 0.0, 900))")
    text = plot(s, width=60, height=4, x_scale=524288.0, x_unit="tokens")
    ticks = text.split("\n")[-1]
    assert ticks.endswith("tokens") and "0" in ticks.split() and any(t.endswith("M") for t in ticks.split())
    # a tick labelled 200M sits at step 200M / 524288 = 381.5 of 1000: 38% across the axis
    row = text.split("\n")[-1]
    axis = text.split("\n")[-2]
    at = row.index("200M")
    assert abs(at - axis.index("└") - 1 - 0.3815 * (len(axis) - axis.index("└") - 1)) <= 3
    epochs = plot(s, width=60, height=4, x_scale=1 / 250, x_unit="epochs").split("\n")[-1].split()
    assert epochs[:2] == ["0", "1"] and "3" in epochs and epochs[-1] == "epochs"  # 1000 steps: 4 epochs
    with pytest.raises(ValueError, match="x_scale"):
        plot(s, x_scale=0.0)


def test_show_fits_the_terminal_and_takes_x_units(capsys, monkeypatch):
    from lrlab.cli import main

    monkeypatch.setenv("COLUMNS", "52")
    assert main(["show", "gpt3-125m", "--x", "tokens"]) == 0
    out = capsys.readouterr().out
    plot_lines = out.split("\n\n")[-1].rstrip("\n").split("\n")
    assert all(len(line) <= 52 for line in plot_lines)
    assert plot_lines[-1].rstrip().endswith("tokens") and "B" in plot_lines[-1]
    assert main(["show", "cosine(1.0, 0.0, 10)", "--x", "epochs"]) == 2
    assert "--steps-per-epoch" in capsys.readouterr().err
    assert main(["show", "cosine(1.0, 0.0, 100)", "--x", "epochs", "--steps-per-epoch", "10", "--ascii"]) == 0
    out = capsys.readouterr().out
    assert out.isascii() and out.rstrip().endswith("epochs")
