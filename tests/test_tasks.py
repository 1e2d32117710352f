"""The built-in lab tasks (circle, digits, charlm), the registry and user tasks.

Sizes are cut down so that the file runs in well under a minute; the one test at a
default size is marked slow.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest

import lrlab
from lrlab.lab.tasks import TASKS, FunctionTask, Record, RunResult, Task, check_task_options, get_task
from lrlab.lab.tasks._common import EXPLODE_FACTOR
from lrlab.lab.tasks.corpus import stdlib_corpus

pytest.importorskip("torch")
pytest.importorskip("sklearn")

#: small, quick versions of each task: (options, steps)
SMALL = {
    "circle": ({"n_train": 100, "n_val": 100, "eval_every": 50}, 300),
    "digits": ({"eval_every": 20}, 60),
    "charlm": ({"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "batch_size": 8,
                "eval_every": 20, "eval_batches": 2}, 40),
}
NAMES = list(SMALL)


def small_run(name: str, schedule, seed: int = 0, steps: int | None = None, **extra) -> RunResult:
    options, default_steps = SMALL[name]
    return get_task(name).run(schedule, seed=seed, steps=steps or default_steps, **{**options, **extra})


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


# --- the registry -------------------------------------------------------------------------
def test_registry_holds_the_builtins_as_tasks():
    assert list(TASKS) == ["circle", "circle-lesson", "digits", "charlm"]
    for name, task in TASKS.items():
        assert isinstance(task, Task)
        assert task.name == name and get_task(name) is task
        assert task.default_steps >= 100 and task.default_peak > 0 and task.converged_loss > 0
        assert "eval_every" in task.options or name == "circle-lesson"  # the lesson has no evaluation
        assert check_task_options(name, {}) == dict(task.options)


def test_importing_the_registry_needs_neither_torch_nor_sklearn():
    code = "import sys, lrlab.lab.tasks; print('torch' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# --- the run contract, on every task --------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_history_other_seed_other_history(name):
    schedule = lrlab.constant(get_task(name).default_peak)
    first, again = small_run(name, schedule, seed=3), small_run(name, schedule, seed=3)
    assert first.history == again.history
    other = small_run(name, schedule, seed=4)
    assert [r.loss for r in other.history] != [r.loss for r in first.history]


@pytest.mark.parametrize("name", NAMES)
def test_each_update_uses_exactly_schedule_of_t(name):
    steps = SMALL[name][1]
    peak = get_task(name).default_peak
    schedule = lrlab.warmup(7, lrlab.cosine(peak, peak / 10, steps - 7))  # a new value every step
    result = small_run(name, schedule)
    assert [r.step for r in result.history] == list(range(steps))
    assert [r.lr for r in result.history] == [schedule(t) for t in range(steps)]
    assert len({r.lr for r in result.history}) > steps // 2


@pytest.mark.parametrize("name", NAMES)
def test_unit_lengths_resolve_against_the_run(name):
    steps = SMALL[name][1]
    schedule = lrlab.warmup("10%", lrlab.cosine(get_task(name).default_peak, 0.0, "90%"))
    result = small_run(name, schedule)
    resolved = schedule.resolve(lrlab.Budget(steps))
    assert [r.lr for r in result.history] == [resolved(t) for t in range(steps)]
    assert result.history[0].lr == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_constant_default_peak_learns(name):
    task = get_task(name)
    schedule = lrlab.constant(task.default_peak)
    if name == "charlm":  # the default size takes a minute: see the slow test below
        steps = 150
        result = small_run(name, schedule, steps=steps)
    else:  # the defaults themselves, a second or two
        steps = task.default_steps
        result = task.run(schedule, seed=0, steps=steps)
    losses = [r.loss for r in result.history]
    assert len(losses) == steps and not result.diverged and not result.info["diverged"]
    start, end = losses[0], mean(losses[-10:])
    margin = {"circle": 0.5 * start, "digits": 0.2 * start, "charlm": start - 1.0}[name]
    assert end < margin, (start, end)
    evaluated = [r for r in result.history if r.val_loss is not None]
    assert evaluated[-1].val_loss < 0.9 * evaluated[0].val_loss


@pytest.mark.parametrize("name, lr", [("circle", 100.0), ("digits", 10.0), ("charlm", 100.0)])
def test_huge_lr_diverges_and_stops_early(name, lr):
    steps = 200
    result = small_run(name, lrlab.constant(lr), steps=steps)
    history = result.history
    assert len(history) < steps
    last = history[-1].loss
    assert not math.isfinite(last) or last > EXPLODE_FACTOR * history[0].loss
    assert all(math.isfinite(r.loss) for r in history[:-1])
    assert result.info["diverged"] is True and result.info["steps_done"] == len(history)
    assert "step" in result.info["stop_reason"]
    assert [r.step for r in history] == list(range(len(history)))


@pytest.mark.parametrize("name", NAMES)
def test_eval_rows_every_eval_every_and_at_the_end(name):
    result = small_run(name, lrlab.constant(get_task(name).default_peak), steps=47, eval_every=10)
    evaluated = [r.step for r in result.history if r.val_loss is not None]
    assert evaluated == [9, 19, 29, 39, 46]
    for r in result.history:
        if r.val_loss is None:
            assert r.accuracy is None
        else:
            assert math.isfinite(r.val_loss) and r.val_loss > 0
            assert 0.0 <= r.accuracy <= 1.0


def test_info_facts():
    circle = small_run("circle", lrlab.constant(0.1))
    assert circle.info["parameters"] == 2 * 8 + 8 + 8 + 1
    assert circle.info["n_train"] == 100 and circle.info["n_val"] == 100
    digits = small_run("digits", lrlab.constant(0.05))
    assert digits.info["n_train"] + digits.info["n_val"] == 1797
    assert digits.info["parameters"] == 64 * 128 + 128 + 128 * 10 + 10
    charlm = small_run("charlm", lrlab.constant(3e-3))
    info = charlm.info
    assert info["corpus_sha256"] == stdlib_corpus().sha256 and len(info["corpus_sha256"]) == 64
    assert info["tokens"] == 40 * 8 * 32 and info["tokens_per_s"] > 0
    assert info["train_chars"] + info["val_chars"] == info["corpus_chars"]
    for result in (circle, digits, charlm):
        assert result.info["wall_s"] > 0 and result.info["steps_done"] == len(result.history)
        assert result.info["diverged"] is False and result.info["stop_reason"] is None


def test_digits_cnn_and_adamw_learn():
    cnn = small_run("digits", lrlab.constant(0.05), model="cnn")
    adamw = small_run("digits", lrlab.constant(3e-3), optimizer="adamw")
    for result in (cnn, adamw):
        losses = [r.loss for r in result.history]
        assert mean(losses[-10:]) < 0.5 * losses[0]
        assert result.history[-1].accuracy > 0.8
    assert cnn.info["parameters"] > adamw.info["parameters"]


@pytest.mark.parametrize("name", ["digits", "charlm"])
def test_torch_tasks_leave_the_callers_threads_and_rng_alone(name):
    import torch

    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    small_run(name, lrlab.constant(0.01), steps=5)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.rand(3), expected)


def test_circle_loss_is_the_full_training_set_loss():
    # with LR 0 nothing moves: every row's loss is the same full-set value, not a per-sample one
    result = small_run("circle", lrlab.constant(0.0), steps=50)
    assert len({r.loss for r in result.history}) == 1


def test_corpus_is_ascii_deterministic_and_sizeable():
    corpus = stdlib_corpus()
    assert corpus.text.isascii() and 1_000_000 < corpus.chars < 3_000_000
    assert not corpus.missing
    stdlib_corpus.cache_clear()
    assert stdlib_corpus().sha256 == corpus.sha256


@pytest.mark.slow
def test_charlm_default_size_learns():
    task = get_task("charlm")
    result = task.run(lrlab.constant(task.default_peak), seed=0, steps=300, eval_every=100)
    losses = [r.loss for r in result.history]
    assert mean(losses[-20:]) < losses[0] - 1.5
    assert result.info["parameters"] > 100_000


# --- user tasks -------------------------------------------------------------------------------
USER_MODULE = '''
import math
from lrlab.lab.tasks import Record, RunResult

def quadratic(schedule, *, seed, steps, start=4.0, curvature=1.0):
    """Gradient descent on curvature * x^2 / 2."""
    x, rows = start + seed, []
    for t in range(steps):
        lr = schedule(t)
        rows.append(Record(t, lr, curvature * x * x / 2))
        x -= lr * curvature * x
    return RunResult(tuple(rows), {"x": x})

quadratic.default_peak = 0.5

def open_options(schedule, *, seed, steps, **options):
    return [Record(t, schedule(t), float(len(options))) for t in range(steps)]

def no_seed(schedule, steps):
    return RunResult(())

class Bowl:
    name = "bowl"
    description = "a Task object"
    default_steps = 5
    default_peak = 0.1
    converged_loss = 0.01
    options = {}

    def run(self, schedule, *, seed, steps, **options):
        return RunResult(tuple(Record(t, schedule(t), 1.0 / (t + 1)) for t in range(steps)))

BOWL = Bowl()
NOT_A_TASK = 42
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "lrlab_user_tasks.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lrlab_user_tasks", raising=False)
    return "lrlab_user_tasks"


def test_user_function_task(user_module):
    task = get_task(f"{user_module}:quadratic")
    assert isinstance(task, FunctionTask) and isinstance(task, Task)
    assert task.name == f"{user_module}:quadratic"
    assert task.options == {"start": 4.0, "curvature": 1.0}
    assert task.default_peak == 0.5 and task.default_steps == 1000 and math.isnan(task.converged_loss)
    assert task.description == "Gradient descent on curvature * x^2 / 2."
    result = task.run(lrlab.constant(0.5), seed=0, steps=10, curvature=2)
    assert [r.loss for r in result.history][:2] == [16.0, 0.0]  # lr * curvature = 1: one step
    with pytest.raises(ValueError, match=r"no option 'width'.*start, curvature"):
        task.run(lrlab.constant(0.5), seed=0, steps=3, width=3)
    with pytest.raises(ValueError, match="start='big'"):
        task.run(lrlab.constant(0.5), seed=0, steps=3, start="big")


def test_user_task_object_class_and_open_options(user_module):
    bowl = get_task(f"{user_module}:BOWL")
    assert bowl.name == "bowl" and bowl.run(lrlab.constant(0.1), seed=0, steps=3).history[2].loss == 1 / 3
    assert get_task(f"{user_module}:Bowl").name == "bowl"  # a class: built without arguments
    task = get_task(f"{user_module}:open_options")
    result = task.run(lrlab.constant(0.1), seed=0, steps=2, anything=1, goes="yes")
    assert isinstance(result, RunResult) and result.history[0] == Record(0, 0.1, 2.0)


def test_user_task_errors(user_module):
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_xyz'"):
        get_task("no_such_module_xyz:fn")
    with pytest.raises(ValueError, match="has no attribute 'missing'"):
        get_task(f"{user_module}:missing")
    with pytest.raises(ValueError, match="neither a Task nor a function"):
        get_task(f"{user_module}:NOT_A_TASK")
    with pytest.raises(ValueError, match=r"expected a task function .* which lacks seed="):
        get_task(f"{user_module}:no_seed")
    # a function of another shape, or a C callable whose signature cannot be read, is refused
    # when loaded, not when its runs fail
    with pytest.raises(ValueError, match=r"it takes \(\), which lacks the schedule"):
        get_task("os:getcwd")
    with pytest.raises(ValueError, match=r"lacks seed=, steps="):
        get_task("math:sqrt")
    with pytest.raises(ValueError, match="module:name"):
        get_task(f"{user_module}:")


# --- errors -----------------------------------------------------------------------------------
def test_unknown_task_suggests_the_closest():
    with pytest.raises(ValueError, match=r"unknown task 'cirlce' \(did you mean 'circle'\?\).*charlm"):
        get_task("cirlce")
    with pytest.raises(ValueError, match="known tasks: circle, circle-lesson, digits, charlm"):
        get_task("imagenet")


@pytest.mark.parametrize("name, options, message", [
    ("circle", {"hiden": 8}, r"no option 'hiden'; its options are: n_train, n_val, hidden"),
    ("circle", {"hidden": 8.5}, r"hidden=8.5 is not a whole number"),
    ("circle", {"eval_every": 0}, r"eval_every=0 is out of range"),
    ("digits", {"model": "rnn"}, r"model='rnn' is not allowed \(expected 'mlp' \| 'cnn'\)"),
    ("digits", {"momentum": "high"}, r"momentum='high' is not a number"),
    ("digits", {"momentum": math.nan}, r"momentum=nan is not finite"),
    ("charlm", {"n_layer": "2"}, r"n_layer='2' is not a number"),
    ("charlm", {"n_layer": True}, r"n_layer=True is not a number"),
    ("charlm", {"n_head": 3}, r"n_head=3 must divide n_embd=64"),
])
def test_bad_options_name_the_option(name, options, message):
    with pytest.raises(ValueError, match=message):
        get_task(name).run(lrlab.constant(0.01), seed=0, steps=5, **options)
    with pytest.raises(ValueError, match=message):
        check_task_options(name, options)


def test_whole_floats_are_accepted_for_int_options():
    assert check_task_options("circle", {"hidden": 16.0})["hidden"] == 16


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1, "steps": 5}, "seed must be an int >= 0"),
    ({"seed": 0, "steps": 0}, "steps must be an int >= 1"),
    ({"seed": 0, "steps": 2.5}, "steps must be an int >= 1"),
])
def test_bad_run_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_task("circle").run(lrlab.constant(0.1), **kwargs)


def test_schedule_must_be_a_schedule():
    with pytest.raises(ValueError, match="schedule must be an lrlab Schedule"):
        get_task("circle").run(0.1, seed=0, steps=5)
