"""The demonstrations on charlm (small): the guard against bad batches and an LR spike, the
surgeon against a hand-set warmup + cosine. Slow: a few hundred updates of a transformer
per arm. The documented numbers (docs/guard.md) come from ``benchmarks/bench_finder.py
--demo guard --demo surgeon`` at 600 updates and 3 seeds."""

from __future__ import annotations

import os
import sys

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import bench_finder  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_guarded_charlm_survives_bad_batches_and_an_lr_spike():
    result = bench_finder.demo_guard([0], steps=400)
    clean, unguarded, guarded = (result["final_val"][k][0] for k in ("clean", "unguarded", "guarded"))
    assert unguarded > clean + 0.1  # the faults cost the unguarded run
    assert guarded < clean + 0.03  # the guarded run ends where the clean one does
    kinds = result["guard_events"][0]
    for t in result["bad_batches_at"] + result["lr_spike_x30_at"]:
        assert f"{t}:skip" in kinds  # every fault was skipped (the batch index equals the step here)


@pytest.mark.slow
def test_surgeon_on_charlm_switches_after_the_early_descent():
    result = bench_finder.demo_surgeon([0], steps=400)
    switch = result["switch"][0]
    assert 4 <= switch < 400 - 80  # decided by the loss, before the latest switch (20% left)
    assert result["events"][0][0] == f"{switch}:switch_to_decay"
    assert "stabilised" in result["reasons"][0][0]
    assert result["surgeon"][0] < result["hand"][0] + 0.1  # comparable to warmup + cosine


@pytest.mark.slow
def test_sharpness_probe_shows_what_warmup_does_on_charlm():
    """Without warmup, AdamW starts above its edge of stability (preconditioned sharpness
    over 38/lr); with a warmup the ratio stays well under 1 at the same step."""
    result = bench_finder.demo_sharpness(steps=30, warmup=25, probe_at=(5,))
    cold, warm = result["warmup_0"], result["warmup_25"]
    assert cold["ratio_to_38_over_lr_t"][0] > 1.0  # a Rayleigh quotient: a lower bound
    assert warm["ratio_to_38_over_lr_t"][0] < 0.5
    assert all(h <= 60 for h in cold["hvps"] + warm["hvps"])  # the stated bound
