"""The designer's knobs: each shape's text form, its handles on the curve, reading it back."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrlab
import lrlab.inspect
from lrlab.web.design import (
    COOLDOWNS,
    DESIGN_SHAPES,
    Design,
    approximate,
    design_from_dict,
    handles,
    normalize,
    recognize,
    to_spec,
)


@st.composite
def designs(draw) -> Design:
    shape = draw(st.sampled_from(DESIGN_SHAPES))
    peak = draw(st.floats(1e-6, 10.0))
    final = draw(st.floats(0.0, 1.0)) * peak
    start = draw(st.floats(0.0, 1.0)) * peak
    warmup = draw(st.integers(0, 5000))
    stable = draw(st.integers(0, 5000))
    decay = draw(st.integers(60, 100_000))
    return normalize(
        Design(
            shape=shape,
            peak=peak,
            final=final,
            start=start,
            warmup=warmup,
            decay_start=warmup + stable,
            decay_end=warmup + stable + decay,
            cooldown=draw(st.sampled_from(COOLDOWNS)),
            drops=draw(st.integers(1, 5)),
            cycles=draw(st.integers(1, 6)),
            mult=draw(st.sampled_from([1.0, 2.0, 1.5])),
        )
    )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(designs())
def test_every_design_builds_and_reads_back_to_the_same_text(design):
    spec = to_spec(design)
    schedule = lrlab.parse(spec)
    back = recognize(schedule)
    assert back is not None, spec
    assert back.shape == design.shape
    again = lrlab.parse(to_spec(back))
    if to_spec(back) != spec:  # a ratio (gamma, div) may come back one ulp off, never more
        steps = range(0, int(design.decay_end) + 2)
        assert again.values(steps) == pytest.approx(schedule.values(steps), rel=1e-13, abs=0.0)
    for name in ("warmup", "decay_start", "decay_end"):
        assert getattr(back, name) == pytest.approx(getattr(design, name), rel=1e-12)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(designs())
def test_handles_sit_on_the_curve(design):
    """Each handle's LR is the schedule's own value at its step (the left limit where the
    schedule jumps there, as a step decay's last drop)."""
    schedule = lrlab.parse(to_spec(design))
    for name, h in handles(design).items():
        step = h["step"]
        if name == "peak" or (name in ("warmup_end", "decay_start") and not float(step).is_integer()):
            continue
        value = lrlab.inspect.left_limit(schedule, step) if name == "decay_end" else schedule(int(step))
        assert math.isclose(value, h["lr"], rel_tol=1e-9, abs_tol=1e-15), (name, step, value, h)


@pytest.mark.parametrize(
    ("design", "spec"),
    [
        (
            Design(shape="cosine", peak=6e-4, final=6e-5, warmup=715, decay_start=715, decay_end=19073),
            "warmup(715, cosine(0.0006, 6e-05, 18358))",
        ),
        (
            Design(shape="linear", peak=1.0, final=0.0, warmup=0, decay_start=200, decay_end=1000),
            "join(constant(1.0, steps=200), linear(1.0, 0.0, 800))",
        ),
        (
            Design(
                shape="wsd",
                peak=3e-4,
                final=0.0,
                warmup=100,
                decay_start=800,
                decay_end=1000,
                cooldown="linear",
            ),
            "wsd(0.0003, 1000, warmup=100, cooldown=200, shape='linear')",
        ),
        (
            Design(shape="step", peak=0.1, final=0.001, warmup=0, decay_start=0, decay_end=90),
            "multistep(0.1, [45, 90], gamma=0.1)",
        ),
        (
            Design(shape="exponential", peak=1.0, final=0.0, warmup=0, decay_start=0, decay_end=100),
            "geometric(1.0, 0.01, 100)",
        ),
        (
            Design(shape="onecycle", peak=0.1, final=0.0, start=0.0, warmup=299, decay_end=1000),
            "onecycle(0.1, 1000, pct_start=0.3, div=25.0, final_div=10000.0)",
        ),
        (
            Design(
                shape="sgdr",
                peak=1.0,
                final=0.0,
                warmup=10,
                decay_start=10,
                decay_end=710,
                cycles=3,
                mult=2.0,
            ),
            "warmup(10, sgdr(1.0, 100, mult=2.0, cycles=3))",
        ),
        (
            Design(shape="constant", peak=0.01, warmup=50, decay_start=50, decay_end=100),
            "warmup(50, constant(0.01, steps=50))",
        ),
    ],
)
def test_text_forms_of_the_shapes(design, spec):
    assert to_spec(design) == spec


def test_the_lessons_warmup_midpoint():
    """The lesson's question: linear warmup to the peak over W steps gives half the peak at W/2."""
    schedule = lrlab.parse(
        to_spec(Design(peak=6e-4, final=6e-5, warmup=2000, decay_start=2000, decay_end=600000))
    )
    assert schedule(1000) == 3e-4


def test_onecycle_design_matches_torch():
    import torch

    design = Design(shape="onecycle", peak=0.1, final=0.0, warmup=299, decay_end=1000)
    schedule = lrlab.parse(to_spec(design))
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=1000, pct_start=0.3)
    got = []
    for _ in range(1000):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert got == pytest.approx(list(schedule.values(1000)), rel=1e-12, abs=1e-15)
    assert handles(design)["warmup_end"]["step"] == 299 and handles(design)["decay_end"]["step"] == 999


@pytest.mark.parametrize(
    ("knobs", "needle"),
    [
        ({"peak": 0.0}, "design.peak"),
        ({"peak": float("nan")}, "design.peak"),
        ({"final": 1.0, "peak": 0.5}, "design.final"),
        ({"warmup": 500, "decay_start": 100}, "design.decay_start"),
        ({"decay_end": 100, "decay_start": 100, "warmup": 0}, "design.decay_end"),
        ({"shape": "triangle"}, "design.shape"),
        ({"cooldown": "sqrt"}, "design.cooldown"),
        ({"drops": 0}, "design.drops"),
        ({"drops": 2.0}, "design.drops"),
        ({"cycles": 10**6}, "design.cycles"),
        ({"mult": 0.5}, "design.mult"),
        ({"decay_end": 2**60}, "design.decay_end"),
        ({"speed": 1}, "unknown knob 'speed'"),
        ({"peak": "1e-3"}, "design.peak"),
    ],
)
def test_bad_knobs_are_named(knobs, needle):
    with pytest.raises(ValueError, match=needle.replace(".", r"\.")):
        design_from_dict(knobs)


def test_too_many_drops_for_a_short_decay():
    with pytest.raises(ValueError, match="drops"):
        to_spec(Design(shape="step", warmup=0, decay_start=0, decay_end=3, drops=5))


def test_other_schedules_are_not_designs_but_have_an_approximation():
    for name in ("bert-base", "resnet50-goyal", "transformer-base", "build-nanogpt-124m"):
        schedule = lrlab.preset(name)
        assert recognize(schedule) is None, name
        info = lrlab.inspect.summary(schedule).to_dict()
        approx = approximate(info, lrlab.inspect.horizon(schedule))
        assert approx.peak == info["peak"]
        lrlab.parse(to_spec(approx))
    assert recognize(lrlab.preset("llama3-405b")) == Design(
        peak=8e-05, final=8e-07, warmup=8000, decay_start=8000, decay_end=1200000
    )
    assert recognize(lrlab.preset("modded-nanogpt-trapezoid")).shape == "wsd"
