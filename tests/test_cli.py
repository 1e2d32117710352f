"""The lrlab command line: output that parses back, tables at the right steps, errors."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lrlab
from lrlab import from_dict, parse
from lrlab.cli import main
from lrlab.presets import PRESETS


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def table(out: str) -> dict[int, float]:
    """The (step, lr) rows of `lrlab show`'s table."""
    lines = out.split("\n")
    start = next(i for i, line in enumerate(lines) if re.match(r"^\s*step\s+lr\b", line))
    rows = {}
    for line in lines[start + 1:]:
        match = re.match(r"^\s*(\d+)\s+(\S+)", line)
        if not match:
            break
        rows[int(match.group(1))] = float(match.group(2))
    return rows


def fail(capsys, *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (code, out, err)
    assert out == ""
    assert err.startswith("lrlab: error: ")
    assert "Traceback" not in err and err.count("\n") == 1
    return err


# --- at ----------------------------------------------------------------------------------------


def test_at_prints_exact_values(capsys):
    assert run(capsys, "at", "cosine(1.0, 0.0, 100)", "50") == (0, "0.5\n", "")
    code, out, _ = run(capsys, "at", "linear(0.0, 1.0, 8)", "1", "2", "3", "8", "20")
    assert code == 0
    assert out.split("\n") == ["0.125", "0.25", "0.375", "1.0", "1.0", ""]


def test_at_output_parses_back_to_the_same_floats(capsys):
    spec = "warmup(7, cosine(6e-4, 6e-5, 93), start_factor=0.125)"
    steps = [0, 1, 3, 7, 8, 31, 57, 99, 100, 1000]
    code, out, _ = run(capsys, "at", spec, *map(str, steps))
    assert code == 0
    values = [float(line) for line in out.split()]
    # by hand: 6e-4 * (0.125 + 0.875 t / 7) in the warmup, the cosine from t = 7 on
    expected = [
        6e-4 * (0.125 + 0.875 * t / 7) if t < 7
        else 6e-5 + (6e-4 - 6e-5) * (1 + math.cos(math.pi * min(t - 7, 93) / 93)) / 2
        for t in steps
    ]
    assert values == pytest.approx(expected, rel=1e-13)
    s = parse(spec)
    assert values == [s(t) for t in steps]  # bit for bit: repr round-trips


def test_at_json_is_a_list(capsys):
    code, out, _ = run(capsys, "at", "cosine(1.0, 0.0, 100)", "0", "50", "100", "--json")
    assert code == 0 and json.loads(out) == [1.0, 0.5, 0.0]


def test_at_a_preset_and_steps_with_units(capsys):
    name = next(iter(PRESETS))
    s = PRESETS[name].schedule
    code, out, _ = run(capsys, "at", name, "0", "123")
    assert code == 0 and [float(v) for v in out.split()] == [s(0), s(123)]
    code, out, _ = run(capsys, "at", "cosine(1.0, 0.0, 100)", "50%", "--total-steps", "100")
    assert (code, out) == (0, "0.5\n")


def test_at_resolves_units_with_the_budget_flags(capsys):
    spec = "warmup('10%', linear(1.0, 0.0, '2ep'))"
    code, out, _ = run(capsys, "at", spec, "5", "10", "30", "--total-steps", "100",
                       "--steps-per-epoch", "20")
    # warmup over 10 steps, then 1 -> 0 over 40 steps
    assert code == 0 and [float(v) for v in out.split()] == [0.5, 1.0, 0.5]


# --- show --------------------------------------------------------------------------------------


def test_show_table_has_the_boundaries_and_chosen_steps(capsys):
    code, out, _ = run(capsys, "show", "warmup(10, linear(2.0, 1.0, 40))", "--steps", "30", "3")
    assert code == 0
    # boundaries 0 (start), 10 (warmup end, the peak), 50 (end); chosen 3 and 30
    assert table(out) == {0: 0.0, 3: 2.0 * 3 / 10, 10: 2.0, 30: 2.0 - 20 / 40, 50: 1.0}
    assert "warmup(10, linear(2.0, 1.0, 40))" in out
    assert re.search(r"^peak\s+2\.0\b", out, re.M)
    assert re.search(r"^warmup\s+10 steps", out, re.M)
    assert re.search(r"^final\s+1\.0\b", out, re.M)
    assert "linear warmup, linear decay to 50%" in out
    assert "⣀" in out or "⠉" in out  # the plot


def test_show_a_boundary_between_two_updates(capsys):
    # 5% of 1001 steps = 50.05 steps of warmup; the cosine then runs 90 steps (to 140.05)
    code, out, _ = run(capsys, "show", "warmup('5%', cosine(1.0, 0.0, 90))", "--total-steps", "1001",
                       "--no-plot")
    assert code == 0
    rows = table(out)
    w = 0.05 * 1001
    assert {50, 51, 140, 141} <= set(rows)
    assert rows[50] == pytest.approx(50 / w, rel=1e-12)
    assert rows[51] == pytest.approx((1 + math.cos(math.pi * (51 - w) / 90)) / 2, rel=1e-12)
    assert rows[141] == 0.0
    assert "before 50.05" in out and "after 50.05" in out


def test_show_a_peak_no_update_takes(capsys):
    code, out, _ = run(capsys, "show", "join(linear(0.0, 1e-4, 100), linear(9e-5, 0.0, 900))", "--no-plot")
    assert code == 0
    assert re.search(r"^peak\s+0\.0001 at step 100 \(approached there", out, re.M)
    assert table(out) == {0: 0.0, 99: 1e-4 * 99 / 100, 100: 9e-5, 1000: 0.0}
    code, out, _ = run(capsys, "show", "warmup(10, constant(1.0))", "--no-plot")
    assert re.search(r"^peak\s+1\.0 at step 10$", out, re.M)


def test_show_json_round_trips(capsys):
    spec = "warmup('5%', cosine(6e-4, 6e-5, 180))"
    code, out, _ = run(capsys, "show", spec, "--total-steps", "200", "--steps", "100", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"input", "preset", "spec", "resolved", "structure", "budget", "summary", "table"}
    assert data["input"] == spec and data["preset"] is None
    assert parse(data["spec"]) == parse(spec)
    resolved = parse("warmup(10, cosine(6e-4, 6e-5, 180))")
    assert parse(data["resolved"]) == resolved
    assert from_dict(data["structure"]) == resolved
    assert data["budget"] == {"total_steps": 200, "tokens_per_step": None, "steps_per_epoch": None}
    assert data["summary"] == {
        "peak": 6e-4, "warmup_steps": 10, "shape": "linear warmup, cosine decay to 10%",
        "final": 6e-5, "length": 190,
    }
    assert [(r["step"], r["lr"]) for r in data["table"]] == [(0, 0.0), (10, 6e-4), (100, resolved(100)),
                                                            (190, 6e-5)]
    assert data["table"][2]["lr"] == pytest.approx(6e-5 + 5.4e-4 * (1 + math.cos(math.pi * 90 / 180)) / 2)


def test_show_a_preset_has_its_citation_and_note(capsys):
    name, preset = next(iter(PRESETS.items()))
    code, out, _ = run(capsys, "show", name, "--width", "200")
    assert code == 0
    assert out.startswith(f"{name}: {preset.citation}\n")
    assert preset.url in out
    if preset.note:
        assert " ".join(preset.note.split()) in " ".join(out.replace("note:", "").split())
    rows = table(out)
    assert rows and all(preset.schedule(step) == lr for step, lr in rows.items())
    code, out, _ = run(capsys, "show", name, "--json")
    data = json.loads(out)
    assert data["preset"] == {"name": name, "citation": preset.citation, "url": preset.url,
                              "note": preset.note}
    assert parse(data["resolved"]) == preset.schedule


def test_show_log_and_ascii_plot(capsys):
    code, out, _ = run(capsys, "show", "geometric(1.0, 1e-4, 100)", "--log", "--ascii", "--height", "5")
    assert code == 0
    assert out.isascii()
    plot_lines = [line for line in out.split("\n") if re.match(r"^\s*\S*\s*[|+]", line)]
    assert plot_lines[0].split()[0] == "1" and plot_lines[4].split()[0] == "0.0001"


# --- presets -----------------------------------------------------------------------------------


def test_presets_json_has_every_preset(capsys):
    code, out, _ = run(capsys, "presets", "--json")
    assert code == 0
    records = json.loads(out)
    assert [r["name"] for r in records] == list(PRESETS)
    for record in records:
        preset = PRESETS[record["name"]]
        assert record["spec"] == preset.spec and record["citation"] == preset.citation
        s = preset.schedule
        end = math.ceil(s.length) if s.length is not None else 10_000
        probe = sorted({0, end, *range(0, end + 1, max(1, end // 997))})
        assert record["peak"] >= max(s(t) for t in probe)
        w, peak = record["warmup_steps"], record["peak"]
        if float(w).is_integer() and s(int(w)) != peak:
            # a peak approached at a jump (BERT: the decay starts below the warmup's end):
            # the updates before step w climb towards it
            assert w >= 2 and s(w - 2) < s(w - 1) < peak <= s(w - 1) + 1.0001 * (s(w - 1) - s(w - 2))
        elif not float(w).is_integer():  # a warmup ending between two updates
            assert s(math.floor(w)) < peak and s(math.ceil(w)) <= peak
        if s.length is not None:
            assert record["final"] == s(end) and record["length"] == pytest.approx(s.length)


def test_presets_table_is_aligned(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0
    lines = out.rstrip("\n").split("\n")
    header = lines[0]
    assert header.split()[:5] == ["name", "peak", "warmup", "shape", "final"]
    assert len(lines) == 1 + len(PRESETS)
    assert {line.split()[0] for line in lines[1:]} == set(PRESETS)
    peak_end = header.index("peak") + len("peak")  # right-aligned numbers end under the header
    shape_at = header.index("shape")  # left-aligned text starts under it
    for line in lines[1:]:
        assert line[peak_end - 1] != " " and line[peak_end] == " "
        assert line[shape_at - 1] == " " and line[shape_at] != " "


# --- errors ------------------------------------------------------------------------------------


def test_a_typo_in_a_preset_name_suggests_the_closest(capsys):
    name = max(PRESETS, key=len)
    err = fail(capsys, "show", name[:-1])
    assert f"did you mean {name!r}" in err and "unknown preset" in err


def test_unknown_family_and_bad_spec(capsys):
    assert "'cosine'" in fail(capsys, "at", "cosin(1.0, 0.0, 10)", "3")
    assert "expected a schedule" in fail(capsys, "at", "cosine(1.0, 0.0", "3")
    assert "schedule family" in fail(capsys, "show", "cosine")
    assert "not allowed" in fail(capsys, "at", "__import__('os').system('true')", "1")


@pytest.mark.parametrize("step", ["-5", "1.5", "abc", "nan", "1e400"])
def test_bad_steps(capsys, step):
    err = fail(capsys, "at", "cosine(1.0, 0.0, 10)", step)
    assert "step must be an integer >= 0" in err and repr(step) in err


def test_units_without_the_budget_flag_name_the_flag(capsys):
    assert "give --total-steps" in fail(capsys, "show", "warmup('5%', cosine(1.0, 0.0, 100))")
    assert "give --tokens-per-step" in fail(capsys, "at", "warmup('1M tokens', cosine(1.0, 0.0, 100))", "1")
    assert "give --steps-per-epoch" in fail(capsys, "at", "cosine(1.0, 0.0, '2ep')", "1")
    # a percentage needs a total: --total-steps, else the schedule's own length
    assert "give --total-steps" in fail(capsys, "at", "constant(1.0)", "50%")
    # between two updates, a position rounds down to the update under way: 5.5 -> 5
    code, out, _ = run(capsys, "at", "cosine(1.0, 0.0, 10)", "50%", "--total-steps", "11", "--json")
    assert code == 0 and json.loads(out) == [parse("cosine(1.0, 0.0, 10)")(5)]


def test_invalid_schedule_parameters_and_usage_errors(capsys):
    assert "must fit in wsd.steps" in fail(capsys, "show", "wsd(1.0, 100, warmup=90, cooldown=20)")
    assert "required: STEP" in fail(capsys, "at", "cosine(1.0, 0.0, 10)")
    assert "expected a command" in fail(capsys)
    assert "invalid choice" in fail(capsys, "shwo", "x")
    assert "--tokens-per-step" in fail(capsys, "at", "cosine(1.0, 0.0, 10)", "1", "--tokens-per-step", "-3")


def test_version_and_help(capsys):
    assert run(capsys, "--version") == (0, f"lrlab {lrlab.__version__}\n", "")
    code, out, _ = run(capsys, "at", "--help")
    assert code == 0 and "STEP" in out


# --- the installed console script ------------------------------------------------------------


def console_script() -> str:
    path = Path(sys.executable).parent / ("lrlab.exe" if os.name == "nt" else "lrlab")
    if not path.exists():
        pytest.skip("the lrlab console script is not installed in this environment")
    return str(path)


def test_console_script():
    script = console_script()
    done = subprocess.run([script, "at", "cosine(1.0, 0.0, 100)", "50"], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "0.5\n", "")
    done = subprocess.run([script, "at", "cosine(1.0, 0.0, 100)", "-1"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("lrlab: error: ") and "Traceback" not in done.stderr
    done = subprocess.run([script, "presets", "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and {r["name"] for r in json.loads(done.stdout)} == set(PRESETS)


def test_a_misspelled_family_name_suggests_the_family(capsys):
    message = fail(capsys, "show", "cosin")
    assert "did you mean the family 'cosine'" in message and "cosine(...)" in message
    assert "did you mean 'gpt3-125m'" in fail(capsys, "show", "gpt3-125")


def test_every_command_defined_elsewhere_is_listed_with_its_module():
    import argparse
    import importlib

    from lrlab.cli import ELSEWHERE

    for module in set(m for m, _ in ELSEWHERE.values()):
        commands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).add_commands(commands)
        assert set(commands.choices) == {n for n, (m, _) in ELSEWHERE.items() if m == module}, module


def test_lrlab_at_imports_no_other_command_module():
    import subprocess
    import sys

    code = ("import sys; from lrlab.cli import main; main(['at', 'cosine(1.0, 0.0, 100)', '50']); "
            "print(sorted(m for m in sys.modules if m.startswith(('lrlab.lab', 'lrlab.web', 'lrlab.viz', "
            "'lrlab.fit', 'lrlab.exporters', 'lrlab.cli_', 'lrlab.torch', 'torch', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
