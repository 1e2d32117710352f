"""The advisor (`lrlab recommend`, `lrlab.recommend`): the published rules it applies, its
errors, its JSON, and a property over its input space: whatever it recommends, `lrlab at`
accepts."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrlab
from lrlab.advisor import OPTIMIZERS, adam_warmup_steps, recommend, step_law_peak
from lrlab.cli import main


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the rules, against numbers worked out by hand ---------------------------------------------


@pytest.mark.parametrize(("beta2", "steps"), [(0.999, 2000), (0.98, 100), (0.95, 40), (0.9, 20), (0.0, 2)])
def test_adam_warmup_is_two_over_one_minus_beta2(beta2, steps):
    assert adam_warmup_steps(beta2) == steps


def test_step_law_formula():
    # 1.79 * (1e8)^-0.713 * (1e10)^0.307 = 1.79 * 10^(-5.704 + 3.07)
    assert step_law_peak(1e8, 1e10) == pytest.approx(1.79 * 10 ** (-5.704 + 3.07), rel=1e-12)


def test_long_run_with_known_horizon_is_warmup_cosine_to_a_tenth():
    r = recommend(100_000, beta2=0.95, peak=3e-4)
    s = lrlab.parse(r.spec)
    assert r.warmup_steps == 1000  # 1% of 100k beats Adam's 40
    assert s(0) == 0.0 and s(1000) == pytest.approx(3e-4)
    assert s(100_000) == pytest.approx(3e-5)
    mid = 1000 + 99_000 // 2  # cosine halfway: (peak + floor) / 2
    assert s(mid) == pytest.approx((3e-4 + 3e-5) / 2)


def test_decay_to_zero_is_linear():
    r = recommend(100_000, beta2=0.95, peak=1e-3, decay_to_zero=True)
    s = lrlab.parse(r.spec)
    assert s(100_000) == 0.0
    assert s(1000 + 49_500) == pytest.approx(5e-4)


def test_adam_warmup_wins_over_the_fraction_when_longer():
    r = recommend(20_000, beta2=0.999, peak=1e-3)
    assert r.warmup_steps == 2000  # 2 / (1 - 0.999) > 3% of 20k = 600
    assert any("Ma & Yarats" in reason.citation for reason in r.reasons)


def test_unknown_horizon_holds_the_peak_after_warmup():
    r = recommend("unknown", beta2=0.95, peak=2e-3)
    s = lrlab.parse(r.spec)
    assert r.total_steps is None and s.length is None
    assert s(40) == s(10 ** 9) == 2e-3
    assert any("Hagele" in reason.citation for reason in r.reasons)


def test_checkpoints_give_wsd_with_a_twenty_percent_one_minus_sqrt_cooldown():
    r = recommend(10_000, beta2=0.95, peak=1e-3, checkpoints=True)
    s = lrlab.parse(r.spec)
    assert s(8000) == pytest.approx(1e-3)
    assert s(9000) == pytest.approx(1e-3 * (1 - math.sqrt(0.5)))
    assert s(10_000) == 0.0


def test_small_budget_gives_onecycle_and_sends_you_to_the_range_test():
    r = recommend(5000, compute_budget="2h", peak=0.01, beta2=0.95)
    s = lrlab.parse(r.spec)
    assert s.to_dict()["family"] == "onecycle"
    assert max(s.values(range(5000))) == pytest.approx(0.01)
    assert any("lrlab find" in reason.reason for reason in r.reasons)


def test_budget_categories():
    assert recommend(50_000, compute_budget="6h").budget == "small"
    assert recommend(50_000, compute_budget="1d").budget == "moderate"
    assert recommend(50_000, compute_budget="3d").budget == "large"
    assert recommend(50_000, compute_budget=100).budget == "large"


def test_finetuning_decays_linearly_to_zero_from_a_small_peak():
    r = recommend(10_000, finetune=True, beta2=0.98)
    s = lrlab.parse(r.spec)
    assert r.peak == 2e-5 and r.peak_is_prior
    assert r.warmup_steps == 500  # 5% of 10k
    assert s(10_000) == 0.0


@pytest.mark.parametrize(("optimizer", "factor"), [("adamw", 2.0), ("sgd", 4.0)])
def test_batch_scaling_square_root_for_adam_linear_for_sgd(optimizer, factor):
    r = recommend(50_000, optimizer=optimizer, peak=1e-3, batch_scale=4)
    assert r.peak == pytest.approx(1e-3 * factor)


def test_sgd_prior_is_a_tenth_per_256_samples():
    assert recommend(50_000, optimizer="sgd", samples_per_step=1024).peak == pytest.approx(0.4)


def test_step_law_prior_with_tokens_resolved_to_steps():
    r = recommend("10B tokens", tokens_per_step=524288, params="350M", beta2=0.95)
    assert r.total_steps == round(10e9 / 524288)
    assert r.peak == pytest.approx(1.79 * 350e6 ** -0.713 * (r.total_steps * 524288) ** 0.307, rel=2e-3)
    assert r.peak_is_prior
    assert any("Li et al. 2025" in reason.citation for reason in r.reasons)


def test_step_law_beyond_its_range_is_flagged():
    r = recommend("2T tokens", tokens_per_step="4M", params="7B", beta2=0.95)
    assert any("extrapolation" in reason.reason for reason in r.reasons)


def test_nearest_preset_matches_the_shape():
    name = recommend(100_000, peak=3e-4, beta2=0.95).preset["name"]
    assert name.startswith(("llama", "gpt3", "olmo", "nano"))
    assert recommend(100_000, peak=1e-2, checkpoints=True).preset["name"] in (
        "minicpm-wsd", "modded-nanogpt-trapezoid")


def test_every_reason_is_cited():
    r = recommend("300B tokens", tokens_per_step=524288, params="124M", compute_budget="5d")
    assert r.reasons and all(reason.citation and reason.reason for reason in r.reasons)


# --- errors name the flag ----------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "flag"), [
    ({}, "--total-steps"),
    ({"total_steps": 100, "total_tokens": "1B"}, "--total-tokens"),
    ({"total_steps": 100, "warmup": 100}, "--warmup"),
    ({"total_steps": 100, "warmup": "150%"}, "--warmup"),
    ({"total_steps": "unknown", "warmup": "5%"}, "--warmup"),
    ({"total_steps": 100, "optimizer": "adagrad"}, "--optimizer"),
    ({"total_steps": 100, "beta2": 1.0}, "--beta2"),
    ({"total_steps": 100, "beta2": -0.1}, "--beta2"),
    ({"total_steps": 100, "beta1": 1.5}, "--beta1"),
    ({"total_steps": 100, "beta2": 0.999}, "--beta2"),  # 2000 updates of warmup in a 100-step run
    ({"total_steps": 100, "optimizer": "sgd", "beta2": 0.9}, "--beta2"),
    ({"total_steps": "1B tokens"}, "--tokens-per-step"),
    ({"total_steps": "90ep"}, "--steps-per-epoch"),
    ({"total_steps": -5}, "--total-steps"),
    ({"total_steps": "soon"}, "--total-steps"),
    ({"total_steps": 100, "params": "big"}, "--params"),
    ({"total_steps": 100, "compute_budget": "3 fortnights"}, "--compute-budget"),
    ({"total_steps": 100, "batch_scale": 0}, "--batch-scale"),
    ({"total_steps": 100, "peak": float("nan")}, "--peak"),
    ({"total_steps": "unknown", "decay_to_zero": True}, "--decay-to-zero"),
    ({"total_steps": 100, "checkpoints": True, "warmup": 90}, "--warmup"),
])
def test_bad_input_names_the_flag(kwargs, flag):
    with pytest.raises(ValueError, match=flag):
        recommend(**kwargs)


def test_cli_errors_exit_2_without_traceback(capsys):
    code, out, err = cli(capsys, "recommend", "--total-steps", "1000", "--beta2", "1")
    assert code == 2 and out == ""
    assert err.startswith("lrlab: error: ") and "--beta2" in err and "Traceback" not in err


# --- the command line --------------------------------------------------------------------------


def test_cli_json_is_the_python_result(capsys):
    code, out, _ = cli(capsys, "recommend", "--total-steps", "300B tokens", "--tokens-per-step", "0.5M",
                       "--params", "124M", "--beta2", "0.95", "--json")
    assert code == 0
    data = json.loads(out)
    expected = recommend("300B tokens", tokens_per_step="0.5M", params="124M", beta2=0.95).to_dict()
    assert data == json.loads(json.dumps(expected))
    assert set(data) >= {"spec", "reasons", "preset"}
    assert all(set(r) == {"choice", "reason", "citation", "url"} for r in data["reasons"])


def test_cli_text_starts_with_the_spec_and_lrlab_at_accepts_it(capsys):
    code, out, _ = cli(capsys, "recommend", "--total-steps", "20000", "--optimizer", "sgd")
    assert code == 0
    spec = out.splitlines()[0]
    code, out, _ = cli(capsys, "at", spec, "0", "20000")
    assert code == 0 and len(out.split()) == 2


# --- the property: the advisor never recommends a spec that `lrlab at` rejects --------------------

# valid values in most branches, so that most examples reach `lrlab at`; the invalid ones
# (negative, zero, unknown units, contradictions) in the rest
lengths = st.one_of(
    st.integers(1, 10 ** 7),
    st.integers(1, 100),
    st.integers(-5, 0),
    st.sampled_from(["unknown", "1B tokens", "300B tokens", "3ep", "rest", "5%", "x"]),
)
betas = st.none() | st.floats(0.0, 0.9999) | st.sampled_from([0.9, 0.95, 0.98, 0.999]) | st.floats(-0.5, 1.5)


@settings(max_examples=300, deadline=None)
@given(
    total=lengths,
    tokens_per_step=st.none() | st.sampled_from([1, 4096, 524288, "4M", -1]),
    steps_per_epoch=st.none() | st.sampled_from([1, 390, 5005.5]),
    samples_per_step=st.none() | st.sampled_from([1, 256, 4096]),
    optimizer=st.sampled_from([*OPTIMIZERS, *OPTIMIZERS, "Adam", "lion"]),
    beta2=betas,
    finetune=st.booleans(),
    params=st.none() | st.sampled_from([1, 1e6, "124M", "7B", "70B"]),
    budget=st.none() | st.sampled_from([0.5, "6h", "1d", "2w", "0h"]),
    batch_scale=st.none() | st.floats(1e-3, 1e3),
    peak=st.none() | st.floats(1e-8, 10.0) | st.floats(0.0, 1e300, exclude_min=True),
    warmup=st.none() | st.none() | st.integers(0, 1000) | st.sampled_from(["2%", "1ep", "99%", 10 ** 6]),
    checkpoints=st.booleans(),
    decay_to_zero=st.booleans(),
)
def test_the_advisor_never_recommends_what_lrlab_at_rejects(
        total, tokens_per_step, steps_per_epoch, samples_per_step, optimizer, beta2, finetune, params,
        budget, batch_scale, peak, warmup, checkpoints, decay_to_zero):
    try:
        r = recommend(total, tokens_per_step=tokens_per_step, steps_per_epoch=steps_per_epoch,
                      samples_per_step=samples_per_step, optimizer=optimizer, beta2=beta2,
                      finetune=finetune, params=params, compute_budget=budget, batch_scale=batch_scale,
                      peak=peak, warmup=warmup, checkpoints=checkpoints, decay_to_zero=decay_to_zero)
    except ValueError as error:
        assert "--" in str(error), f"the error names no flag: {error}"
        return
    end = r.total_steps if r.total_steps is not None else 10 ** 6
    steps = sorted({0, r.warmup_steps, end // 2, end, end + 1})
    assert main(["at", r.spec, *map(str, steps)]) == 0
    values = lrlab.parse(r.spec).values(steps)
    assert all(math.isfinite(v) and 0.0 <= v <= r.peak * (1 + 1e-12) for v in values)
    assert r.reasons and all(reason.citation for reason in r.reasons)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(1, 10 ** 7) | st.just("unknown") | st.sampled_from(["1B tokens", "300B tokens"]),
    optimizer=st.sampled_from(OPTIMIZERS),
    beta2=st.none() | st.floats(0.0, 0.9999),
    finetune=st.booleans(),
    params=st.none() | st.floats(1e6, 1e12),
    budget=st.none() | st.floats(0.01, 10_000),
    batch_scale=st.none() | st.floats(1e-3, 1e3),
    peak=st.none() | st.floats(1e-8, 1.0),
    checkpoints=st.booleans(),
)
def test_valid_inputs_give_a_schedule_or_name_the_contradiction(
        total, optimizer, beta2, finetune, params, budget, batch_scale, peak, checkpoints):
    """Inputs each valid on its own: the only error left is a warmup that does not fit."""
    if optimizer == "sgd":
        beta2 = None
    try:
        r = recommend(total, tokens_per_step=524288, optimizer=optimizer, beta2=beta2, finetune=finetune,
                      params=params, compute_budget=budget, batch_scale=batch_scale, peak=peak,
                      checkpoints=checkpoints)
    except ValueError as error:
        assert "--beta2" in str(error) and ("not shorter" in str(error) or "do not fit" in str(error)), error
        return
    schedule = lrlab.parse(r.spec)
    end = r.total_steps if r.total_steps is not None else 10 ** 6
    values = schedule.values([0, r.warmup_steps, end // 2, end])
    assert all(math.isfinite(v) and 0.0 <= v <= r.peak * (1 + 1e-12) for v in values)
    assert max(schedule.values(range(0, end + 1, max(1, end // 1000)))) <= r.peak * (1 + 1e-12)


def test_cli_text_cites_every_reason_and_help_lists_the_flags(capsys):
    code, out, _ = cli(capsys, "recommend", "--total-steps", "unknown", "--beta2", "0.95")
    assert code == 0
    r = recommend("unknown", beta2=0.95)
    assert out.splitlines()[0] == r.spec
    flat = " ".join(out.split())
    for reason in r.reasons:
        assert " ".join(reason.citation.split()) in flat
    assert "lrlab find" in out  # the peak is a prior
    code, out, _ = cli(capsys, "recommend", "--help")
    assert code == 0
    for flag in ("--total-steps", "--total-tokens", "--tokens-per-step", "--samples-per-step", "--optimizer",
                 "--beta1", "--beta2", "--finetune", "--params", "--compute-budget", "--batch-scale",
                 "--peak", "--warmup", "--checkpoints", "--decay-to-zero", "--json"):
        assert flag in out


def test_many_tokens_per_parameter_suggest_decay_to_zero():
    # 300B tokens on 124M parameters: about 2400 tokens per parameter
    r = recommend("300B tokens", tokens_per_step=524288, params="124M", beta2=0.95)
    assert any("Bergsma" in reason.citation and "tokens per parameter" in reason.reason
               for reason in r.reasons)
    few = recommend("1B tokens", tokens_per_step=524288, params="124M", beta2=0.95, compute_budget="3d")
    assert not any(reason.choice == "consider decay to zero" for reason in few.reasons)


def test_nearest_preset_uses_model_size_and_run_length():
    r = recommend("300B tokens", tokens_per_step=524288, params="124M", beta2=0.95)
    assert r.preset["name"] == "gpt3-125m"
    assert recommend("1T tokens", tokens_per_step=4e6, params="7B", beta2=0.95).preset["name"] == "llama1-7b"
