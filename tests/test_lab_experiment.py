"""Lab experiments: plans, running into the store (resumable), summaries, statuses, ranking.

The runs use the tiny tasks of ``labtasks.py``, whose losses are known functions of the
schedule and seed, so every expected number below is computed by hand from that function.
"""

from __future__ import annotations

import math
import os
import statistics

import numpy as np
import pytest
import scipy.stats

from labtasks import NOISE
from lrlab import parse
from lrlab.lab import (
    TEMPLATES,
    InlineExecutor,
    LocalExecutor,
    Store,
    plan_compare,
    plan_sensitivity,
    plan_sweep,
    run_plan,
)
from lrlab.lab.experiment import log_grid
from lrlab.lab.stats import Spread, differ, spread
from lrlab.presets import PRESETS

DECAY = "labtasks:decay"


@pytest.fixture
def calls(tmp_path, monkeypatch):
    """Every task invocation, as (schedule text, seed) in order (via LABTASKS_LOG)."""
    path = tmp_path / "calls.log"
    path.touch()
    monkeypatch.setenv("LABTASKS_LOG", str(path))

    def read() -> list[tuple[str, int]]:
        lines = path.read_text().splitlines()
        return [(s, int(seed)) for s, seed, _, _ in (line.split("|") for line in lines)]

    return read


# --- plans ------------------------------------------------------------------------------------------


def test_compare_plan_is_the_six_templates_times_seeds():
    plan = plan_compare(DECAY, peak=0.1, steps=100, seeds=3)
    assert [a.label for a in plan.arms] == list(TEMPLATES) == [
        "constant", "step", "cosine", "warmup_cosine", "onecycle", "wsd"]
    schedules = {a.label: a.schedule for a in plan.arms}
    assert schedules["cosine"] == "cosine(0.1, 0.0, 100)"
    assert schedules["constant"] == "constant(0.1)"
    assert schedules["step"] == "multistep(0.1, [50, 75], gamma=0.1)"
    assert schedules["warmup_cosine"] == "warmup(5, cosine(0.1, 0.0, 95))"
    # every resolved schedule parses back to itself and peaks at 0.1 within the run
    for text in schedules.values():
        assert str(parse(text)) == text
        assert max(parse(text).values(100)) == pytest.approx(0.1)
    assert plan.seeds == (0, 1, 2) and plan.steps == 100 and plan.kind == "compare"
    assert plan.experiment == {"kind": "compare", "task": DECAY}
    specs = plan.specs
    assert len(specs) == 18
    assert [(s.label, s.seed) for s in specs[:4]] == [
        ("constant", 0), ("constant", 1), ("constant", 2), ("step", 0)]
    assert len({s.key for s in specs}) == 18
    assert specs[0].config == {"task": DECAY, "schedule": "constant(0.1)", "seed": 0, "steps": 100,
                               "options": {}}


def test_compare_defaults_come_from_the_task():
    plan = plan_compare(DECAY, ["cosine"])
    assert plan.steps == 20 and plan.seeds == (0, 1, 2)  # decay.default_steps; 3 seeds
    assert plan.arms[0].schedule == "cosine(0.1, 0.0, 20)"  # decay.default_peak
    assert plan.extra == {"peak": 0.1}


def test_compare_takes_templates_presets_and_text_forms():
    text = "warmup('10%', cosine({peak}, 0.0, '90%'))"
    plan = plan_compare(DECAY, ["cosine", "build-nanogpt-124m", text, "linear(1.0, 0.5, 50)"],
                        peak=0.5, steps=200, seeds=1)
    arms = {a.label: a.schedule for a in plan.arms}
    assert list(arms) == ["cosine", "build-nanogpt-124m", text, "linear(1.0, 0.5, 50)"]
    assert arms["cosine"] == "cosine(0.5, 0.0, 200)"
    assert arms["build-nanogpt-124m"] == str(PRESETS["build-nanogpt-124m"].schedule)  # keeps its own budget
    assert arms[text] == "warmup(20, cosine(0.5, 0.0, 180))"
    warm = parse(arms[text])
    assert (warm(0), warm(10), warm(20), warm(110), warm(200)) == pytest.approx((0.0, 0.25, 0.5, 0.25, 0.0))
    assert parse(arms["linear(1.0, 0.5, 50)"])(25) == pytest.approx(0.75)


def test_duplicate_arms_collapse():
    plan = plan_compare(DECAY, ["cosine", "constant", "cosine"], seeds=2)
    assert [a.label for a in plan.arms] == ["cosine", "constant"]
    assert len(plan.specs) == 4
    plan = plan_sensitivity(DECAY, [0.1, 0.01, 0.1])
    assert [a.label for a in plan.arms] == ["lr=0.1", "lr=0.01"]
    plan = plan_sweep(DECAY, "constant({lr})", {"lr": [0.5, 0.5, 0.25]}, seeds=1)
    assert [a.label for a in plan.arms] == ["lr=0.5", "lr=0.25"]


def test_distinct_values_are_never_merged_into_one_arm():
    # arms are de-duplicated by label: labels must tell every value apart
    plan = plan_sensitivity(DECAY, [0.1234561, 0.1234564])
    assert len(plan.arms) == 2 and len({a.schedule for a in plan.arms}) == 2
    plan = plan_sweep(DECAY, "constant({lr})", {"lr": [1.0000001e-3, 1e-3]})
    assert len(plan.arms) == 2


def test_sensitivity_plan():
    plan = plan_sensitivity(DECAY, [10, 0.1, 1e-5], steps=300)
    assert [a.label[:3] for a in plan.arms] == ["lr="] * 3
    assert [float(a.label[3:]) for a in plan.arms] == [10, 0.1, 1e-5]
    assert [a.schedule for a in plan.arms] == ["constant(10.0)", "constant(0.1)", "constant(1e-05)"]
    assert [a.params for a in plan.arms] == [(("lr", 10),), (("lr", 0.1),), (("lr", 1e-5),)]
    assert plan.seeds == (0,) and plan.steps == 300 and plan.kind == "sensitivity"
    default = plan_sensitivity(DECAY)
    lrs = [dict(a.params)["lr"] for a in default.arms]
    assert len(lrs) == 9 and lrs[0] == 1.0 and lrs[-1] == pytest.approx(1e-4)
    assert np.allclose(np.diff(np.log10(lrs)), -0.5, atol=1e-5)  # evenly spaced in log
    assert log_grid(1.0, 1e-2, 3) == [1.0, 0.1, 0.01] and log_grid(0.3, 0.1, 1) == [0.3]


def test_sweep_plan_is_the_grid_product():
    template = "warmup({w}, cosine({peak}, 0.0, '90%'))"
    plan = plan_sweep(DECAY, template, {"w": [1, "10%"], "peak": [0.1, 0.2]}, steps=100)
    assert [(a.label, a.schedule) for a in plan.arms] == [
        ("w=1, peak=0.1", "warmup(1, cosine(0.1, 0.0, 90))"),
        ("w=1, peak=0.2", "warmup(1, cosine(0.2, 0.0, 90))"),
        ("w='10%', peak=0.1", "warmup(10, cosine(0.1, 0.0, 90))"),
        ("w='10%', peak=0.2", "warmup(10, cosine(0.2, 0.0, 90))"),
    ]
    assert plan.arms[2].params == (("w", "10%"), ("peak", 0.1))
    assert plan.seeds == (0, 1) and len(plan.specs) == 8 and plan.extra == {"template": template}
    # {peak} not swept: the given peak, else the task's
    assert plan_sweep(DECAY, template, {"w": [5]}, peak=0.3, steps=100).arms[0].schedule == \
        "warmup(5, cosine(0.3, 0.0, 90))"
    assert plan_sweep(DECAY, template, {"w": [5]}, steps=100).arms[0].schedule == \
        "warmup(5, cosine(0.1, 0.0, 90))"


@pytest.mark.parametrize(("make", "words"), [
    (lambda: plan_compare("circel"), ["unknown task 'circel'", "did you mean 'circle'"]),
    (lambda: plan_compare("no_such_module_xyz:fn"), ["no_such_module_xyz"]),
    (lambda: plan_compare(DECAY, options={"nosie": 0.1}), ["no option 'nosie'", "noise"]),
    (lambda: plan_compare("circle", options={"hiden": 4}), ["no option 'hiden'", "hidden"]),
    (lambda: plan_compare(DECAY, steps=0), ["--steps", "0"]),
    (lambda: plan_compare(DECAY, steps=2.5), ["--steps", "2.5"]),
    (lambda: plan_compare(DECAY, seeds=0), ["--seeds", "0"]),
    (lambda: plan_sensitivity(DECAY, seeds=-1), ["--seeds", "-1"]),
    (lambda: plan_sweep(DECAY, "constant({x})", {"x": [1]}, steps=0), ["--steps"]),
    (lambda: plan_compare(DECAY, peak=0.0), ["--peak", "0"]),
    (lambda: plan_compare(DECAY, peak=-0.1), ["--peak", "-0.1"]),
    (lambda: plan_compare(DECAY, peak=math.inf), ["--peak", "inf"]),
    (lambda: plan_sensitivity(DECAY, [0.1, 0.0]), ["--lrs", "0.0"]),
    (lambda: plan_compare(DECAY, []), ["at least one --schedule"]),
    (lambda: plan_compare(DECAY, ["cosine(0.1, 0.0"]), ["not a schedule"]),
    (lambda: plan_sweep(DECAY, "warmup({w}, cosine({top}, 0.0, '90%'))", {"w": [5]}), ["['top']", "--param"]),
    (lambda: plan_sweep(DECAY, "constant({x})", {}), ["at least one --param"]),
])
def test_bad_input_raises_value_error_naming_it(make, words):
    with pytest.raises(ValueError) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_an_option_of_the_wrong_type_or_range_is_refused_when_planning():
    with pytest.raises(ValueError, match="hidden"):
        plan_compare("circle", options={"hidden": "abc"})
    with pytest.raises(ValueError, match="hidden"):
        plan_sensitivity("circle", options={"hidden": 0})  # below its range
    with pytest.raises(ValueError, match="noise"):
        plan_sweep(DECAY, "constant({lr})", {"lr": [0.1]}, options={"noise": "loud"})
    assert plan_compare(DECAY, options={"noise": 1}).options == (("noise", 1),)  # an int for a float is fine


# --- running and summarizing -------------------------------------------------------------------------

STEPS = 20
BY_HAND = {  # the LR of each update, written out from the schedules' definitions
    "constant": [0.1] * STEPS,
    "cosine": [0.05 * (1 + math.cos(math.pi * t / STEPS)) for t in range(STEPS)],
    "step": [0.1] * 10 + [0.01] * 5 + [0.001] * 5,  # milestones at 50% and 75% of 20
}


def by_hand_losses(lrs: list[float], seed: int, noise: float) -> list[float]:
    scale = 1.0 + noise * NOISE[seed]
    return [scale * math.exp(-sum(lrs[:t])) for t in range(len(lrs))]


def test_run_plan_stores_every_run_and_summarizes_by_hand(tmp_path, calls):
    plan = plan_compare(DECAY, list(BY_HAND), steps=STEPS, seeds=3, options={"noise": 0.2})
    table = run_plan(plan, str(tmp_path / "out"), InlineExecutor())
    assert sorted(calls()) == sorted((s.schedule, s.seed) for s in plan.specs)  # each run once
    assert table.missing == 0 and table.failures == () and table.score == "end"

    with Store(tmp_path / "out", plan.experiment) as store:
        stored = {r.key: r for r in store.runs()}
        assert set(stored) == {s.key for s in plan.specs}
        for spec in plan.specs:
            run = stored[spec.key]
            assert run.label == spec.label
            assert run.config == {**spec.config, "params": {}}
            history = store.history(spec.key)
            want = by_hand_losses(BY_HAND[spec.label], spec.seed, 0.2)
            assert [r.step for r in history] == list(range(STEPS))
            assert [r.lr for r in history] == pytest.approx(BY_HAND[spec.label], rel=1e-12, abs=1e-15)
            assert [r.loss for r in history] == pytest.approx(want, rel=1e-12)

    arms = {a.label: a for a in table.arms}
    for label, lrs in BY_HAND.items():
        losses = [by_hand_losses(lrs, seed, 0.2) for seed in range(3)]
        for metric, index in (("start", 0), ("middle", STEPS // 2), ("end", -1)):
            values = [run[index] for run in losses]
            s = arms[label].metrics[metric]
            want = (statistics.mean(values), statistics.stdev(values), 3)
            assert (s.mean, s.std, s.n) == pytest.approx(want)
        assert arms[label].metrics["best"].mean == pytest.approx(statistics.mean(run[-1] for run in losses))
        assert arms[label].metrics["val_loss"].n == 0
        assert arms[label].runs == 3 and arms[label].diverged == 0
        assert arms[label].status == "LEARNING"  # end/start is ~0.15-0.35: above 0.1, below 0.9
    # the largest LR sum over updates 0..18 ends lowest: constant 1.9, step 1.054, cosine 1.0494
    assert sorted(BY_HAND, key=lambda label: -sum(BY_HAND[label][:-1])) == ["constant", "step", "cosine"]
    assert [a.label for a in table.arms] == ["constant", "step", "cosine"]
    assert [a.rank for a in table.arms] == [1, 2, 3]
    assert table.best.label == "constant"

    # a second run executes nothing and gives the same summary
    before = len(calls())
    again = run_plan(plan, str(tmp_path / "out"), InlineExecutor())
    assert len(calls()) == before
    assert again.to_dict() == table.to_dict()


def test_arms_with_the_same_schedule_share_their_runs(tmp_path, calls):
    plan = plan_compare(DECAY, ["cosine", "cosine(0.1, 0.0, 20)"], steps=STEPS, seeds=2)
    table = run_plan(plan, str(tmp_path), InlineExecutor())
    assert sorted(calls()) == [("cosine(0.1, 0.0, 20)", 0), ("cosine(0.1, 0.0, 20)", 1)]
    assert [a.runs for a in table.arms] == [2, 2] and table.missing == 0


def test_a_failing_run_is_recorded_the_rest_continue_and_a_later_run_retries_it(tmp_path, calls):
    flag = tmp_path / "fixed"
    plan = plan_compare("labtasks:flaky", ["constant", "cosine"], steps=10, seeds=2,
                        options={"until": str(flag)})
    out = str(tmp_path / "out")
    seen = []
    table = run_plan(plan, out, InlineExecutor(), lambda done, total, spec, error: seen.append(
        (done, total, spec.label, spec.seed, error)))
    assert [(d, t, label, seed) for d, t, label, seed, _ in seen] == [
        (1, 4, "constant", 0), (2, 4, "constant", 1), (3, 4, "cosine", 0), (4, 4, "cosine", 1)]
    assert [e is None for *_, e in seen] == [True, False, True, False]
    assert "RuntimeError: labtasks: flaky failure for seed 1" in seen[1][4]
    assert table.missing == 2
    # the whole traceback is kept (for the report and stderr), ending with the error itself
    head, last = "Traceback (most recent call last):", "RuntimeError: labtasks: flaky failure for seed 1"
    assert [(label, e.splitlines()[0], e.splitlines()[-1]) for _, label, e in table.failures] == [
        ("constant", head, last), ("cosine", head, last)]
    assert [a.runs for a in table.arms] == [1, 1]
    assert table.to_dict()["failures"][0]["label"] == "constant"
    with Store(out, plan.experiment) as store:
        assert store.done_keys() == {s.key for s in plan.specs if s.seed == 0}

    # still broken: both failed runs are tried again, nothing else
    n = len(calls())
    run_plan(plan, out, InlineExecutor())
    assert sorted(calls()[n:]) == sorted((s.schedule, 1) for s in plan.specs if s.seed == 1)
    # fixed: the retry completes the experiment
    flag.touch()
    n = len(calls())
    table = run_plan(plan, out, InlineExecutor())
    assert sorted(calls()[n:]) == sorted((s.schedule, 1) for s in plan.specs if s.seed == 1)
    assert table.missing == 0 and [a.runs for a in table.arms] == [2, 2]
    n = len(calls())
    run_plan(plan, out, InlineExecutor())
    assert calls()[n:] == []


def test_failures_that_were_retried_successfully_are_not_reported(tmp_path):
    flag = tmp_path / "fixed"
    plan = plan_compare("labtasks:flaky", ["constant"], steps=10, seeds=2, options={"until": str(flag)})
    run_plan(plan, str(tmp_path / "out"))
    flag.touch()
    table = run_plan(plan, str(tmp_path / "out"))
    assert table.missing == 0
    assert table.failures == ()


def test_a_task_returning_garbage_is_a_failure_not_a_crash(tmp_path):
    plan = plan_compare("labtasks:bad_return", ["constant"], steps=5, seeds=1)
    table = run_plan(plan, str(tmp_path))
    assert table.missing == 1 and table.arms[0].status == "MISSING" and table.best is None
    assert "must return an lrlab.lab.RunResult" in table.failures[0][2]


def test_sensitivity_statuses_known_by_construction(tmp_path):
    # decay: loss_t = exp(-sum rate(lr)), rate(lr) = lr up to 1, 1 - lr above; converged_loss = 0.1
    plan = plan_sensitivity(DECAY, [100.0, 1.5, 0.2, 0.01, 1e-4], steps=50)
    table = run_plan(plan, str(tmp_path))
    arms = {dict(a.params)["lr"]: a for a in table.arms}
    end = {lr: a.metrics["end"].mean for lr, a in arms.items()}
    assert end[1e-4] == pytest.approx(math.exp(-49e-4))  # 0.995 of the start
    assert end[0.01] == pytest.approx(math.exp(-0.49))  # 0.61: moving, above 0.1
    assert end[0.2] == pytest.approx(math.exp(-9.8))  # below 0.1
    assert end[1.5] == pytest.approx(math.exp(24.5))  # grew, but finite
    assert math.isnan(end[100.0])  # exp(99 t) overflows: NaN rows
    assert {lr: a.status for lr, a in arms.items()} == {
        100.0: "DIVERGED", 1.5: "DIVERGED", 0.2: "CONVERGED", 0.01: "LEARNING", 1e-4: "BARELY MOVED"}
    assert (arms[100.0].diverged, arms[1.5].diverged) == (1, 0)
    assert [dict(a.params)["lr"] for a in table.arms] == [0.2, 0.01, 1e-4, 1.5, 100.0]
    assert table.best is arms[0.2]
    # one seed per arm: no test; diverged arms are worse, the others are not separated
    verdicts = [a.vs_best.to_dict() for a in table.arms]
    assert [v["verdict"] for v in verdicts] == ["best", "not separated", "not separated", "worse", "worse"]
    assert all(v["ci"] is None and v["p_holm"] is None for v in verdicts)
    assert verdicts[1]["mean_diff"] == pytest.approx(math.exp(-0.49) - math.exp(-9.8))
    assert "1 seed cannot separate arms" in table.arms[1].vs_best.text()
    assert [a.status_counts for a in table.arms][:2] == ["1/1 CONVERGED", "1/1 LEARNING"]


def test_arms_are_compared_with_the_best_paired_by_seed_as_scipy_does(tmp_path):
    # level: loss = c * (1 + spread * NOISE[seed]) at every step (and as the final val loss)
    levels = {"constant(1.0)": 1.0, "constant(1.03)": 1.03, "constant(1.2)": 1.2, "constant(1.6)": 1.6}
    plan = plan_compare("labtasks:level", list(levels), steps=3, seeds=5,
                        options={"spread": 0.5, "jitter": 0.08})
    table = run_plan(plan, str(tmp_path))
    assert table.score == "val_loss"
    assert [a.label for a in table.arms] == list(levels)
    with Store(tmp_path, plan.experiment) as store:
        runs = store.runs()
    by_seed = {label: {r.config["seed"]: r.summary["val_loss"]
                       for r in runs if r.label == label}
               for label in levels}
    best = [by_seed["constant(1.0)"][s] for s in range(5)]
    raw = {}
    for arm in table.arms[1:]:
        mine = [by_seed[arm.label][s] for s in range(5)]
        test = scipy.stats.ttest_rel(mine, best)
        ci = test.confidence_interval(0.95)
        raw[arm.label] = test.pvalue
        vs = arm.vs_best.to_dict()
        assert vs["mean_diff"] == pytest.approx(np.mean(np.subtract(mine, best)), rel=1e-12)
        assert vs["ci"] == pytest.approx([ci.low, ci.high], rel=1e-9)
    # Holm by hand: sort ascending, multiply by m, m-1, ..., then running maximum, capped at 1
    order = sorted(raw, key=raw.get)
    holm, running = {}, 0.0
    for i, label in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * raw[label]))
        holm[label] = running
    for arm in table.arms[1:]:
        vs = arm.vs_best.to_dict()
        assert vs["p_holm"] == pytest.approx(holm[arm.label], rel=1e-8)
        assert vs["verdict"] == ("worse" if holm[arm.label] < 0.05 else "not separated")
        assert holm[arm.label] < 0.03 or holm[arm.label] > 0.1  # not on a knife's edge
    # 3% against an arm's own noise of 0.08 is not separated; 20% and 60% are (the shared
    # noise of 50% cancels in the pairs)
    assert [a.vs_best.verdict for a in table.arms] == ["best", "not separated", "worse", "worse"]
    assert table.best is table.arms[0]
    assert table.arms[1].vs_best.text().startswith("not separated at 5 seeds (difference CI [")


def test_local_process_pool_stores_what_inline_stores(tmp_path, calls):
    plan = plan_compare(DECAY, ["constant", "cosine", "step"], steps=STEPS, seeds=2, options={"noise": 0.3})
    inline = run_plan(plan, str(tmp_path / "inline"), InlineExecutor())
    n = len(calls())
    local = run_plan(plan, str(tmp_path / "local"), LocalExecutor(workers=2))
    pids = {int(line.split("|")[3]) for line in (tmp_path / "calls.log").read_text().splitlines()[n:]}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # in worker processes
    assert sorted(calls()[n:]) == sorted(calls()[:n])
    assert local.to_dict() == inline.to_dict()
    with Store(tmp_path / "inline", plan.experiment) as a, Store(tmp_path / "local", plan.experiment) as b:
        runs_a = {r.key: r for r in a.runs()}
        runs_b = {r.key: r for r in b.runs()}
        assert set(runs_a) == set(runs_b) == {s.key for s in plan.specs}
        for key, run in runs_a.items():
            other = runs_b[key]
            assert (run.label, run.config, run.summary, run.info) == (
                other.label, other.config, other.summary, other.info)
            assert a.history(key) == b.history(key)


def test_local_executor_checks_its_worker_count():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers"):
            LocalExecutor(workers=bad)


# --- the Welch test itself, against scipy ----------------------------------------------------------


def test_t_quantile_table_matches_scipy():
    from lrlab.lab.stats import t95

    for dof in range(1, 31):
        assert t95(dof) == pytest.approx(scipy.stats.t.ppf(0.975, dof), abs=5e-4)


def test_differ_never_claims_a_difference_that_welch_rejects():
    rng = np.random.default_rng(12345)
    for _ in range(600):
        na, nb = (int(n) for n in rng.integers(2, 9, size=2))
        a = list(rng.normal(0.0, 1.0, na))
        b = list(rng.normal(rng.uniform(0.0, 4.0), rng.uniform(0.3, 3.0), nb))
        if differ(spread(a), spread(b)):
            assert scipy.stats.ttest_ind(a, b, equal_var=False).pvalue < 0.05, (a, b)
    # and the edge cases
    assert not differ(Spread(1.0, 0.0, 1), Spread(5.0, 0.0, 1))  # one seed: cannot tell
    assert differ(Spread(1.0, 0.0, 3), Spread(1.5, 0.0, 3))  # no noise at all
    assert not differ(Spread(1.0, 0.0, 3), Spread(1.0, 0.0, 3))


def test_differ_agrees_with_welch_for_two_seeds_per_arm():
    a, b = [0.0, 1.0], [9.0, 10.1]
    p = scipy.stats.ttest_ind(a, b, equal_var=False).pvalue
    assert p < 0.01
    assert differ(spread(a), spread(b))


def test_differ_agrees_with_welch_beyond_thirty_degrees_of_freedom():
    rng = np.random.default_rng(7)
    a = rng.normal(0.0, 1.0, 40)
    a = list((a - a.mean()) / a.std(ddof=1))  # mean 0, std 1 exactly
    b = [x + 0.44 for x in a]  # t = 0.44 / sqrt(2 / 40) = 1.968
    p = scipy.stats.ttest_ind(a, b, equal_var=False).pvalue
    assert p > 0.05
    assert not differ(spread(a), spread(b))
