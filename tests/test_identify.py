"""lrlab.fit.identify: reading logs, recovering schedules, partial information, the CLI.

Expected values are computed here from the formulas (or the logs are made by lrlab
schedules whose parameters the test knows), never copied from identify's output. The
comparisons with the real peers (torch, transformers, nanoGPT, timm) are in
tests/test_identify_peers.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import lrlab
from lrlab.cli import main
from lrlab.fit import identify
from lrlab.fit.identify import Identification, PartialIdentification
from lrlab.fit.logs import read_log

pytest.importorskip("scipy")


def _relative(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


def _write_csv(path, steps, lrs, header="step,lr", fmt=repr):
    with open(path, "w") as handle:
        handle.write(header + "\n")
        for s, v in zip(steps, lrs):
            handle.write(f"{int(s)},{fmt(float(v))}\n")
    return path


# --- reading logs ---------------------------------------------------------------------------


def test_read_csv_with_other_column_names(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("global_step,loss,learning_rate\n0,2.5,0.1\n10,2.4,0.09\n20,2.3,\n30,2.2,0.07\n")
    log = read_log(path)
    assert log.steps.tolist() == [0, 10, 30]
    assert log.lrs.tolist() == [0.1, 0.09, 0.07]
    assert any("skipped 1 rows" in n for n in log.notes)
    assert any("learning_rate" in n for n in log.notes)


def test_read_csv_named_columns_and_tsv(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text("it\tmy_lr\n0\t1e-3\n1\t2e-3\n")
    log = read_log(path, step_column="it", lr_column="my_lr")
    assert log.lrs.tolist() == [1e-3, 2e-3]


def test_read_jsonl_and_trainer_state(tmp_path):
    lines = tmp_path / "log.jsonl"
    lines.write_text('{"step": 0, "lr": 0.5}\n{"step": 5, "eval_loss": 1.0}\n{"step": 10, "lr": 0.25}\n')
    log = read_log(lines)
    assert log.steps.tolist() == [0, 10] and log.lrs.tolist() == [0.5, 0.25]
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"log_history": [
        {"step": 1, "learning_rate": 1e-4, "loss": 3.0}, {"step": 2, "learning_rate": 2e-4},
        {"step": 2, "eval_loss": 2.0}]}))
    log = read_log(state)
    assert log.steps.tolist() == [1, 2] and log.lrs.tolist() == [1e-4, 2e-4]


def test_read_tensorboard_from_lrlab_logger(tmp_path):
    tb = pytest.importorskip("torch.utils.tensorboard")
    from lrlab.torch import TensorBoardLogger

    schedule = lrlab.warmup(20, lrlab.cosine(1e-3, 1e-4, 180))
    writer = tb.SummaryWriter(str(tmp_path))
    logger = TensorBoardLogger(writer)
    for t in range(200):
        logger(t, [schedule(t)])
    writer.close()
    log = read_log(tmp_path)
    assert log.steps.tolist() == list(range(200))
    # TensorBoard stores float32
    assert np.max(_relative(log.lrs, schedule.values(range(200)))) < 1e-7
    result = identify(tmp_path)
    assert result.spec == "warmup(20, cosine(0.001, 0.0001, 180))"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("step,loss\n0,1\n1,2\n", "no learning-rate column 'lr'"),
        ("iteration_count,lr\n0,1\n", "no step column 'step'"),
        ("step,lr\n0,0.1\n1,fast\n", "row 3: the learning rate must be a number; got 'fast'"),
        ("step,lr\n0,0.1\n1,nan\n", "must be a finite number"),
        ("step,lr\n0,0.1\n1,-0.1\n", "must be >= 0"),
        ("step,lr\n0,0.1\n5,0.1\n5,0.1\n", "step 5 is repeated"),
        ("step,lr\n0,0.1\n5,0.1\n3,0.1\n", "step 3 comes after step 5"),
        ("step,lr\n0,0.1\n0.5,0.1\n", "whole number"),
        ("step,lr\n", "no (step, learning rate) rows"),
        ("", "the file is empty"),
    ],
)
def test_bad_logs_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=None) as error:
        read_log(path)
    assert message in str(error.value)


def test_a_huge_log_is_refused(tmp_path, monkeypatch):
    from lrlab.fit import logs

    monkeypatch.setattr(logs, "MAX_ROWS", 50)
    path = _write_csv(tmp_path / "big.csv", range(60), [0.1] * 60)
    with pytest.raises(ValueError, match="more than 50 rows"):
        read_log(path)


def test_bad_json_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"step": 0, "lr": 1}\n{"step": 1, "lr": \n')
    with pytest.raises(ValueError, match="line 2: not valid JSON"):
        read_log(path)


def test_too_few_points_and_all_zero(tmp_path):
    with pytest.raises(ValueError, match="2 points; identify needs at least 3"):
        identify(([0, 1], [0.1, 0.1]))
    with pytest.raises(ValueError, match="every logged learning rate is 0"):
        identify(([0, 1, 2, 3], [0.0, 0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="no such file"):
        identify(tmp_path / "missing.csv")


def test_constant_lr_cannot_decide():
    result = identify((np.arange(0, 500, 5), np.full(100, 3e-4)))
    assert isinstance(result, Identification)
    assert result.family == "constant" and not result.decided
    assert "constant" in result.reason and "cannot be decided" in result.reason
    assert lrlab.parse(result.spec)(1000) == 3e-4


def test_still_warming_up_cannot_decide():
    truth = lrlab.warmup(1000, lrlab.cosine(1e-3, 0.0, 9000))
    t = np.arange(0, 500, 5)
    result = identify((t, truth.values(t)))
    assert not result.decided and "still rising" in result.reason


def test_bad_arguments():
    t = np.arange(10)
    with pytest.raises(ValueError, match="families must be among"):
        identify((t, t + 1.0), families=["cosin"])
    with pytest.raises(ValueError, match="before the last logged step"):
        identify((t, t + 1.0), total=5)
    with pytest.raises(ValueError, match="total must be a positive"):
        identify((t, t + 1.0), total=-1)


def test_warmup_then_flat_cannot_decide_the_decay():
    schedule = lrlab.wsd(1e-3, 10_000, warmup=200, cooldown=2000)
    t = np.arange(0, 3000, 10)
    result = identify((t, schedule.values(t)))
    assert not result.decided and "no decay has begun" in result.reason
    assert np.max(_relative(result.schedule.values(t), schedule.values(t))) < 1e-9


# --- recovering schedules -------------------------------------------------------------------

EXACT_CASES = [
    ("warmup(100, cosine(0.0006, 6e-05, 900))", 1000, "cosine"),
    ("warmup(50, linear(0.001, 0.0, 950))", 1000, "linear"),
    pytest.param("wsd(0.001, 2000, warmup=100, cooldown=400)", 2000, "wsd", marks=pytest.mark.slow),
    ("multistep(0.1, [300, 700], gamma=0.1)", 900, "multistep"),
    ("step(0.1, 0.5, 200)", 900, "step"),
    pytest.param("onecycle(0.01, 1000)", 1000, "onecycle", marks=pytest.mark.slow),
    ("sgdr(0.1, 50, mult=2.0, floor=0.0001)", 700, "sgdr"),
    ("warmup(100, polynomial(0.002, 0.0, 1400, power=2.0))", 1500, "polynomial"),
    ("warmup(500, inverse_sqrt(0.0007, timescale=500))", 3000, "inverse_sqrt"),
    ("exponential(0.1, 0.995)", 800, "exponential"),
]


@pytest.mark.parametrize(("spec", "steps", "family"), EXACT_CASES)
def test_exact_logs_are_reproduced_exactly(spec, steps, family):
    truth = lrlab.parse(spec)
    t = np.arange(steps)
    result = identify((t, truth.values(t)))
    assert result.family == family, result.spec
    assert result.decided
    assert np.max(_relative(lrlab.parse(result.spec).values(t), truth.values(t))) < 1e-12
    assert result.residual < 1e-12 and result.confidence > 0.9


def test_noisy_sparse_rounded_log_within_one_percent():
    truth = lrlab.warmup(200, lrlab.cosine(3e-4, 3e-5, 4800))
    rng = np.random.default_rng(0)
    t = np.arange(0, 5000, 25)
    noisy = truth.values(t) * (1.0 + 0.003 * rng.standard_normal(t.size))
    logged = np.array([float(f"{v:.3g}") for v in noisy])
    result = identify((t, logged))
    assert result.family == "cosine"
    every = np.arange(5000)
    # the fit is closer to the true schedule than the noisy log is
    assert np.max(_relative(result.schedule.values(every), truth.values(every))) < 0.01
    assert abs(result.end_lr - 3e-5) / 3e-5 < 0.02


def test_truncated_log_estimates_the_horizon_with_an_interval():
    truth = lrlab.warmup(100, lrlab.cosine(1e-3, 1e-4, 4900))  # ends at step 5000
    rng = np.random.default_rng(1)
    t = np.arange(0, 3500, 10)
    logged = truth.values(t) * (1.0 + 0.002 * rng.standard_normal(t.size))
    result = identify((t, logged))
    assert result.family == "cosine" and result.truncated
    lo, hi = result.horizon_interval
    assert lo <= 5000 <= hi
    assert hi - lo < 1500
    assert abs(result.horizon - 5000) < 500
    assert result.end_lr == pytest.approx(1e-4, rel=0.15)


def test_linear_decay_cut_short_cannot_decide_its_end():
    # a straight line cut short: a higher floor reached sooner fits as well as a lower one
    # reached later, so the end (and the end LR) is only known as an interval
    truth = lrlab.warmup(100, lrlab.linear(1e-3, 1e-4, 5000))
    rng = np.random.default_rng(3)
    t = np.arange(0, 3500, 10)
    logged = truth.values(t) * (1.0 + 0.003 * rng.standard_normal(t.size))
    result = identify((t, logged))
    assert result.family == "linear"
    assert not result.decided and "still falling" in result.reason
    lo, hi = result.horizon_interval
    assert lo <= 5100 <= hi


def test_total_sets_the_end_of_training():
    truth = lrlab.multistep(0.1, [100, 250], gamma=0.5)
    t = np.arange(300)
    result = identify((t, truth.values(t)), total=1000)
    assert result.end_step == 1000 and result.end_lr == pytest.approx(0.025)
    endless = identify((t, lrlab.exponential(0.1, 0.99).values(t)))
    assert endless.end_lr is None and endless.end_step is None


def test_families_filter_and_runner_up():
    truth = lrlab.warmup(100, lrlab.cosine(6e-4, 6e-5, 900))
    t = np.arange(0, 1000, 5)
    result = identify((t, truth.values(t)), families=["linear", "polynomial"])
    assert result.family in ("linear", "polynomial")
    assert result.residual > 1e-3
    full = identify((t, truth.values(t)))
    assert full.runner_up and all(c.residual > full.residual for c in full.runner_up)
    assert len({c.family for c in full.runner_up}) == len(full.runner_up)


@pytest.mark.slow
def test_large_log_is_downsampled_and_says_so():
    truth = lrlab.warmup(2000, lrlab.cosine(1e-3, 0.0, 198_000))
    t = np.arange(0, 200_000, 2)
    result = identify((t, truth.values(t)))
    assert result.spec == str(truth)
    assert result.fitted_points < 5000
    assert any("fitted on" in n for n in result.notes)


def test_log_starting_mid_run():
    truth = lrlab.warmup(100, lrlab.cosine(6e-4, 6e-5, 9900))
    t = np.arange(5000, 8000, 10)
    result = identify((t, truth.values(t)))
    assert result.family == "cosine"
    later = np.arange(5000, 12000)
    assert np.max(_relative(result.schedule.values(later), truth.values(later))) < 1e-9
    assert result.end_lr == pytest.approx(6e-5, rel=1e-9)


def test_isolated_spike_is_ignored_and_noted():
    truth = lrlab.warmup(100, lrlab.cosine(6e-4, 6e-5, 9900))
    t = np.arange(0, 10000, 10)
    logged = truth.values(t)
    logged[300] *= 5.0
    result = identify((t, logged))
    assert result.spec == str(truth)
    assert any("ignored 1 isolated spike (step 3000)" in n for n in result.notes)


# --- partial information: the lesson's question -------------------------------------------


def test_the_lessons_question_lists_consistent_schedules():
    peak, step, total, lr = 0.47, 107_319, 130_000, 0.30
    result = identify(points=[(step, lr)], peak=peak, total=total)
    assert isinstance(result, PartialIdentification)
    assert not result.decided and "cannot decide" in result.reason
    by = {c.description.split(" (")[0]: c for c in result.candidates}
    # cosine over the run to a floor f: lr = f + (peak - f) * (1 + cos(pi x)) / 2
    c = (1 + math.cos(math.pi * step / total)) / 2
    floor = (lr - peak * c) / (1 - c)
    cosine = by["cosine to a floor over the run"]
    assert cosine.consistent and cosine.end_lr == pytest.approx(floor, rel=1e-3)
    # WSD with a 1-sqrt cooldown to 0 of C steps: lr = peak * (1 - sqrt((step - (T - C)) / C))
    u = (1 - lr / peak) ** 2
    cooldown = (total - step) / (1 - u)
    wsd = by["WSD, 1-sqrt cooldown to 0"]
    assert wsd.consistent and wsd.end_lr == 0.0
    assert lrlab.parse(wsd.spec).cooldown == pytest.approx(cooldown, abs=1.0)
    # every consistent schedule reproduces the observation
    for cand in result.consistent:
        assert abs(lrlab.parse(cand.spec)(step) - lr) / lr < 0.02
    low, high = result.end_lr_range
    assert low == 0.0 and high == pytest.approx(floor, rel=1e-3)


def test_more_points_decide_more():
    truth = lrlab.wsd(0.47, 130_000, cooldown=26_000)
    points = [(s, truth(s)) for s in (60_000, 107_319, 120_000)]
    result = identify(points=points, peak=0.47, total=130_000, tolerance=0.005)
    families = {c.family for c in result.consistent}
    assert families == {"wsd"}
    assert any("1-sqrt" in c.description for c in result.consistent)


def test_partial_bad_input():
    with pytest.raises(ValueError, match="needs total"):
        identify(points=[(10, 0.1)])
    with pytest.raises(ValueError, match="above the peak"):
        identify(points=[(10, 0.9)], peak=0.5, total=100)
    with pytest.raises(ValueError, match="whole number"):
        identify(points=[(1.5, 0.1)], peak=0.5, total=100)
    with pytest.raises(ValueError, match="not both"):
        identify(([0, 1, 2], [1, 1, 1]), points=[(1, 1)])


def test_partial_without_peak_needs_two_points():
    result = identify(points=[(50_000, 0.3)], total=100_000)
    assert not result.consistent
    assert all("undetermined" in (c.note or "") for c in result.candidates)
    truth = lrlab.cosine(0.5, 0.05, 100_000)
    two = identify(points=[(20_000, truth(20_000)), (70_000, truth(70_000))], total=100_000,
                   tolerance=0.001)
    best = [c for c in two.consistent if c.description.startswith("cosine to a floor")]
    assert best and best[0].end_lr == pytest.approx(0.05, rel=0.01)


# --- the command line -----------------------------------------------------------------------


def test_cli_json_spec_is_accepted_by_at(tmp_path, capsys):
    truth = lrlab.warmup(100, lrlab.cosine(6e-4, 6e-5, 900))
    path = _write_csv(tmp_path / "lr.csv", range(0, 1000, 4), truth.values(range(0, 1000, 4)))
    assert main(["identify", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"spec", "family", "residual", "runner_up"} <= set(out)
    assert out["family"] == "cosine"
    for item in out["runner_up"]:
        assert set(item) >= {"spec", "family", "residual"}
    assert main(["at", out["spec"], "0", "500", "1000", "--json"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert values == pytest.approx([truth(0), truth(500), truth(1000)], rel=1e-12)


def test_cli_text_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    truth = lrlab.multistep(0.1, [30, 70], gamma=0.1)
    path = _write_csv(tmp_path / "lr.csv", range(90), truth.values(90))
    png = tmp_path / "fit.png"
    assert main(["identify", str(path), "-o", str(png), "--total", "90"]) == 0
    out = capsys.readouterr().out
    assert "schedule:   multistep(0.1, [30, 70], gamma=0.1)" in out
    assert "end:        LR 0.001" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_partial(capsys, tmp_path):
    args = ["identify", "--peak", "0.47", "--at", "107319", "--total", "130000", "--lr", "0.30"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decided"] is False and out["candidates"]
    png = tmp_path / "partial.png"
    assert main([*args, "-o", str(png)]) == 0
    text = capsys.readouterr().out
    assert "cannot decide" in text and "wsd(0.47, 130000" in text
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["identify"], "needs a LOG"),
        (["identify", "--at", "10"], "each --at needs an --lr"),
        (["identify", "--at", "10", "--lr", "0.1"], "need --total"),
        (["identify", "--at", "1.5", "--lr", "0.1", "--total", "10"], "--at must be a whole number"),
        (["identify", "--total", "0", "x.csv"], "--total must be"),
    ],
)
def test_cli_errors(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrlab: error: ") and message in err
    assert "Traceback" not in err


def test_cli_bad_log(tmp_path, capsys):
    path = tmp_path / "lr.csv"
    path.write_text("step,learning\n0,1\n")
    assert main(["identify", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no learning-rate column 'lr'" in err and "--lr-column" in err
    assert main(["identify", str(path), "--lr-column", "learning"]) == 2
    assert "1 point; identify needs at least 3" in capsys.readouterr().err
