"""A budget whose batch grows: BatchRamp and RampedBudget (lrlab.units).

The expected step counts come from a plain update-by-update simulation of the published
rules (each update takes the batch its rule gives for the tokens seen before it), not from
the run-length table the implementation builds.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

import lrlab
from lrlab.presets import LLAMA3_BATCH, PRESETS, gpt3_ramp
from lrlab.units import BatchRamp, Budget, RampedBudget

M = 2**20


def simulate(batch_of, tokens: float) -> float:
    """Updates until ``tokens`` have been seen, ``batch_of(seen)`` tokens per update."""
    seen, step = 0.0, 0
    while True:
        size = batch_of(seen)
        if seen + size > tokens:
            return step + (tokens - seen) / size
        seen += size
        step += 1


def llama3_batch(seen: float) -> float:
    # Llama Team 2024, 3.4.1: 4M, 8M after 252M tokens, 16M after 2.87T tokens
    return 4 * M if seen < 252e6 else 8 * M if seen < 2.87e12 else 16 * M


def gpt3_batch(full: float, over: float = 4e9):
    def batch(seen: float) -> float:
        # 32k to the full batch, linear in the tokens seen, whole 2048-token sequences
        size = 32768 + (full - 32768) * min(seen / over, 1.0)
        return max(math.floor(size / 2048) * 2048, 2048)
    return batch


@pytest.mark.parametrize("tokens", [1e6, 252e6, 253e6, 300e6, 1e9, 2.87e12 - 1e6, 2.87e12, 2.87e12 + 5e7])
def test_llama3_stages(tokens):
    budget = RampedBudget(ramp=LLAMA3_BATCH)
    if tokens < 3e9:
        expected = simulate(llama3_batch, tokens)
    else:  # skip the simulation of 340k updates: the stage change in closed form
        first = math.ceil(252e6 / (4 * M))
        seen = first * 4 * M
        second = math.ceil((2.87e12 - seen) / (8 * M))
        seen2 = seen + second * 8 * M
        expected = (first + (tokens - seen) / (8 * M) if tokens < seen2
                    else first + second + (tokens - seen2) / (16 * M))
    assert budget.steps(f"{tokens!r} tokens") == pytest.approx(expected, rel=1e-15, abs=0)


@pytest.mark.parametrize(("full", "tokens"), [(2**19, 375e6), (2**19, 5e9), (2**21, 375e6), (2**21, 4e9)])
def test_gpt3_linear_ramp(full, tokens):
    budget = RampedBudget(ramp=gpt3_ramp(full))
    assert budget.steps(f"{tokens!r} tokens") == pytest.approx(simulate(gpt3_batch(full), tokens), rel=1e-15)


def test_ramp_round_trip_between_tokens_and_steps():
    budget = RampedBudget(ramp=gpt3_ramp(2**20))
    for steps in (0, 1, 10.5, 1000, 7000, 123456.25):
        assert budget.steps(f"{budget.tokens(steps)!r} tokens") == pytest.approx(steps, rel=1e-12)
    assert budget.ramp.tokens_per_step(0) == 32768
    assert budget.ramp.tokens_per_step(10**7) == 2**20
    assert budget.tokens_per_step == 2**20


def test_one_batch_size_is_a_plain_budget():
    ramped = RampedBudget("300B tokens", ramp=BatchRamp.stages((0, 524288)))
    plain = Budget("300B tokens", tokens_per_step=524288)
    for length in ("375M tokens", "259.625B tokens", "5%", 1234):
        assert ramped.steps(length) == plain.steps(length)


def test_percent_and_total_follow_the_ramp():
    budget = RampedBudget("1B tokens", ramp=BatchRamp.stages((0, 1e6), (1e8, 2e6)))
    assert budget.steps_total == 100 + 450
    assert budget.steps("100%") == 550
    again = dataclasses.replace(budget, total_steps="2B tokens")
    assert isinstance(again, RampedBudget) and again.steps_total == 100 + 950


def test_presets_with_their_ramp():
    gpt3 = PRESETS["gpt3-125m"]
    ramped = gpt3.ramped_budget
    s = gpt3.schedule_for(ramped)
    end = simulate(gpt3_batch(2**19), 375e6)
    assert s.boundaries()[1] == pytest.approx(end, rel=1e-15)  # the warmup ends at token 375M
    assert end > 5 * 715.26  # far later than at the full batch
    assert gpt3.schedule == lrlab.preset("gpt3-125m")  # the default budget is unchanged
    llama = PRESETS["llama3-405b"]
    assert llama.ramped_budget.steps("252M tokens") == pytest.approx(252e6 / (4 * M))
    assert PRESETS["bert-base"].ramped_budget is PRESETS["bert-base"].budget


@pytest.mark.parametrize(("make", "message"), [
    (lambda: BatchRamp(()), "start at 0"),
    (lambda: BatchRamp(((1.0, 5.0),)), "start at 0"),
    (lambda: BatchRamp(((0, 5.0), (0, 6.0))), "strictly increasing"),
    (lambda: BatchRamp(((0, 0.0),)), r"points\[0\]"),
    (lambda: BatchRamp(((0, math.inf),)), r"points\[0\]"),
    (lambda: BatchRamp("abc"), "pairs"),
    (lambda: BatchRamp(((0, 5.0),), multiple=-1), "multiple"),
    (lambda: RampedBudget(total_steps=10), "RampedBudget.ramp must be a BatchRamp"),
    (lambda: BatchRamp.ramp(1.0, 2.0, 1e12), "at least 500,000,000,000 updates"),
])
def test_bad_ramps_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_scale_batch_scales_the_ramp():
    budget = RampedBudget("1B tokens", ramp=BatchRamp.stages((0, 1e6), (1e8, 2e6)))
    _, scaled = lrlab.scale_batch(lrlab.cosine(1.0, 0.0, "500M tokens"), 2.0, budget=budget)
    assert isinstance(scaled, RampedBudget)
    assert scaled.ramp.points == ((0.0, 2e6), (1e8, 4e6))
    assert scaled.steps("500M tokens") == 50 + 100
