"""The tutorials in examples/: every script runs at its reduced size (``--quick``) and is
described in examples/README.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("[0-9]*.py"))
#: the eight tutorials of issue 13, in examples/README.md
PLANNED = [
    "01_why_a_schedule.py", "02_lr_sensitivity.py", "03_why_warmup.py", "04_find_peak_lr.py",
    "05_wsd_cooldowns.py", "06_guard_a_run.py", "07_read_a_schedule_from_a_log.py",
    "08_move_a_recipe.py",
]
#: seconds a --quick run may take (CI machines are slow; the target is well under a minute)
QUICK_TIMEOUT = 300


def described() -> list[str]:
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `([0-9][^`]*\.py)` \|", text, re.M)


def test_the_readme_describes_the_planned_tutorials():
    assert described() == PLANNED


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_is_described(script):
    assert script.name in described(), f"examples/README.md does not describe {script.name}"


def test_every_planned_tutorial_exists():
    assert [p.name for p in SCRIPTS] == PLANNED


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_runs_quick(script, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, str(script), "--quick", "--out", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert any(tmp_path.iterdir()), f"{script.name} wrote nothing to --out"


def _run_helper(body: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """A throwaway tutorial built on examples/_tutorial.py, run as the scripts are run."""
    script = tmp_path / "99_probe.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from _tutorial import main\n"
        "def body(t):\n" + "".join(f"    {line}\n" for line in body.splitlines()) +
        "main(__file__, body)\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, str(script), "--quick", "--out", str(tmp_path / "out")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_a_failed_check_exits_non_zero_and_names_the_step(tmp_path):
    done = _run_helper('with t.step("the step"):\n    t.check(1 + 1 == 3, "arithmetic broke")', tmp_path)
    assert done.returncode == 1
    assert "step failed: the step: arithmetic broke" in done.stderr


def test_an_exception_in_a_step_exits_non_zero_with_its_traceback(tmp_path):
    done = _run_helper('with t.step("dividing"):\n    1 / 0', tmp_path)
    assert done.returncode == 1
    assert "ZeroDivisionError" in done.stderr and "step failed: dividing" in done.stderr


def test_steps_that_hold_exit_zero_and_write_to_out(tmp_path):
    done = _run_helper('with t.step("fine"):\n    t.check(t.quick, "--quick was not passed")\n'
                       '    (t.out / "table.txt").write_text("ok")', tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "table.txt").read_text() == "ok"


def test_the_docs_page_shows_every_tutorial_with_small_committed_figures():
    page = (ROOT / "docs" / "tutorials.md").read_text(encoding="utf-8")
    for number, script in enumerate(PLANNED, 1):
        assert f"`{script}`" in page, f"docs/tutorials.md does not name {script}"
        assert re.search(rf"^## {number}\. ", page, re.M), f"docs/tutorials.md has no section {number}"
    shown = re.findall(r"\]\((img/tutorials/[^)]+\.png)\)", page)
    assert {p.split("/")[-1][:2] for p in shown} == {s[:2] for s in PLANNED}, "a tutorial has no figure"
    committed = {f"img/tutorials/{p.name}" for p in (ROOT / "docs" / "img" / "tutorials").glob("*.png")}
    assert set(shown) == committed, "figures committed but not shown, or shown but missing"
    for path in committed:
        size = (ROOT / "docs" / path).stat().st_size
        assert size < 60_000, f"{path} is {size:,} bytes: regenerate it with scripts/tutorial_figures.py"


def test_an_unusable_out_folder_is_a_usage_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, str(EXAMPLES / "08_move_a_recipe.py"), "--quick", "--out",
                           str(blocker / "out")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--out" in done.stderr and "Traceback" not in done.stderr
