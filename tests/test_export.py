"""lrlab.export: every snippet runs in its framework and gives the schedule's values at
every step of the horizon plus 20%, and passes ruff."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import exportpeers
import lrlab
from lrlab.exporters import TARGETS, export_info
from lrlab.inspect import horizon

#: the package each target needs (dev extras install them all; elsewhere the test skips)
NEEDS = {"torch": "torch", "transformers": "transformers", "timm": "timm", "optax": "optax",
         "keras": "keras", "lrlab": "numpy"}

#: one or more schedules for every family and composition (test_every_family_is_covered)
SPECS = [
    "constant(0.1)",
    "constant(0.1, 50)",
    "linear(0.0, 1e-3, 100)",
    "linear(1e-3, 1e-4, 100)",
    "cosine(1e-3, 1e-4, 100)",
    "cosine(1e-4, 1e-3, 100)",
    "one_minus_sqrt(1e-3, 0.0, 100)",
    "one_minus_square(1e-3, 1e-5, 100)",
    "polynomial(1e-3, 0.0, 100, power=2)",
    "polynomial(1e-3, 1e-5, 100, power=0.5)",
    "geometric(1e-3, 1e-5, 100)",
    "exponential(1e-2, 0.97)",
    "exponential(1e-2, 0.5, every=50, floor=1e-4)",
    "step(1e-2, 0.5, 40)",
    "multistep(0.1, [30, 60, 80], gamma=0.1)",
    "multistep(3e-4, [80, 90], factors=[0.316, 0.1])",
    "inverse_sqrt(1e-3, 100)",
    "cyclic(1e-4, 1e-3, 20, 30)",
    "cyclic(1e-4, 1e-3, 20, mode='triangular2')",
    "cyclic(1e-4, 1e-3, 20, mode='exp_range', gamma=0.99)",
    "sgdr(1e-3, 50, mult=2.0, floor=1e-5)",
    "sgdr(1e-3, 40, cycles=3)",
    "sgdr(1e-3, 30, decay=0.5, cycles=4, floor=1e-5)",
    "onecycle(1e-2, 200)",
    "onecycle(1e-2, 200, anneal='linear', three_phase=True, convention='optax')",
    "onecycle(1e-2, 200, convention='optax')",
    "warmup(20, cosine(6e-4, 6e-5, 180))",
    "warmup(20, cosine(6e-4, 0.0, 180))",
    "warmup(10, cosine(6e-4, 6e-5, 90), start_factor=0.09090909090909091)",
    "warmup(10, cosine(6e-4, 6e-5, 90), start_factor=0.1, ramp=9)",
    "warmup(20, linear(1e-3, 0.0, 180))",
    "warmup(20, constant(1e-3))",
    "warmup(50, inverse_sqrt(1e-3, 50))",
    "warmup(20, polynomial(1e-3, 1e-5, 180, power=2.0))",
    "warmup(20, sgdr(1e-3, 60, cycles=3))",
    "warmup(20, step(1e-3, 0.5, 50))",
    "warmup(20, multistep(1e-3, [100, 150], gamma=0.1))",
    "wsd(1e-3, 200, warmup=20)",
    "wsd(1e-3, 200, warmup=20, shape='cosine', floor=1e-4, start=1e-4)",
    "wsd(1e-3, 200, warmup=20, shape='linear')",
    "wsd(1e-3, 105, warmup=10, cooldown_fraction=0.15)",
    "piecewise([0, 50, 100], [0.0, 1e-3, 1e-4])",
    "join(constant(1e-3, 50), cosine(1e-3, 0.0, 100))",
    "join(linear(0.0, 1e-3, 20), constant(1e-3, 100), geometric(1e-3, 1e-5, 80))",
    "scale(warmup(20, cosine(1.0, 0.1, 180)), 3e-4)",
    "product(cosine(1e-3, 0.0, 100), linear(1.0, 0.5, 100))",
    "product(linear(0.03125, 1.0, 20), multistep(3.2, [60, 120, 160], gamma=0.1))",  # Goyal et al.
    "product(linear(0.0, 1.0, 20), multistep(3.2e-4, [80.5, 90.25], factors=[0.316, 0.1]))",
    "join(constant(1e-4, 12.5), multistep(1e-3, [3, 12], gamma=0.5), constant(0.0, 37), constant(5e-4))",
    "clamp(exponential(1e-2, 0.95), low=1e-4)",
    "limit(exponential(1e-2, 0.97), 100)",
    "limit(cosine(1e-3, 0.0, 200), 100)",
    "untuned_warmup(cosine(1e-3, 0.0, 300))",
    "add(constant(1e-4), cosine(1e-3, 0.0, 100))",
    "offset(sgdr(1e-3, 40, decay=0.5, cycles=3), 1e-5)",
    "warmup(20, shift(cosine(1e-3, 1e-5, 200), 20))",
    "quantize(cosine(1e-3, 0.0, 200), 10)",
    "repeat(linear(1e-3, 0.0, 50), times=3)",
    "tanh(1e-3, 1e-5, 100)",
    "inverse_time(1e-3, 0.5, every=10, staircase=True)",
    "restarts(cosine(1e-3, 1e-5, 40), mult=2.0, decay=0.5, times=3)",
    "warp(cosine(1e-3, 0.0, 100), 2.0)",
    "extend(polynomial(1e-3, 1e-4, 40, power=2.0))",
    "one_minus_power(1e-3, 0.0, 100, power=2.0)",
]

FLOAT32 = {"optax", "keras"}
EPS64, EPS32 = 2.0**-52, 2.0**-23


def _ids(spec: str) -> str:
    return spec[:48]


@pytest.fixture(scope="module", autouse=True)
def _frameworks():
    try:
        exportpeers.import_timm_scheduler()
    except ImportError:
        pass  # no timm: its tests skip


def _check(spec: str, to: str) -> None:
    _check_schedule(lrlab.parse(spec), to)


def _check_schedule(schedule: lrlab.Schedule, to: str) -> None:
    pytest.importorskip(NEEDS[to])
    spec = str(schedule)
    n = math.ceil(horizon(schedule) * 1.2) + 1
    code, native, reason = export_info(schedule, to)
    assert native == (reason is None)
    got = exportpeers.RUNNERS[to](exportpeers.exec_snippet(code), n).reshape(n, -1)
    expected = schedule.values(n)[:, None]
    peak = float(np.max(expected)) or 1.0
    if to in FLOAT32:
        # float32 arithmetic of the framework's own formula: a few ulps of the value, or of
        # the peak where a phase end cancels; a long power (gamma^t, float32 gamma) more
        rtol, atol = 64 * EPS32, 16 * EPS32 * peak
        if "exponential(1e-2, 0.97)" in spec:
            rtol = 4e-5  # 0.97 rounded to float32 (3e-9 rel), raised to t ~ 1300
    else:
        # float64; torch's recursive schedulers (CosineAnnealingLR, LinearLR, ...) carry a
        # few ulps per step
        rtol, atol = 1e-12, 8 * EPS64 * peak
    np.testing.assert_allclose(got, np.broadcast_to(expected, got.shape), rtol=rtol, atol=atol,
                               err_msg=f"{to} snippet for {spec}:\n{code}")


@pytest.mark.parametrize("spec", SPECS, ids=_ids)
@pytest.mark.parametrize("to", ["torch", "transformers", "timm", "lrlab"])
def test_snippet_gives_the_schedule_values(spec, to):
    _check(spec, to)


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=_ids)
@pytest.mark.parametrize("to", sorted(FLOAT32))
def test_float32_snippet_gives_the_schedule_values(spec, to):
    _check(spec, to)


def test_every_family_is_covered():
    seen = set()

    def walk(node):
        if isinstance(node, dict):
            seen.add(node.get("family"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for spec in SPECS:
        walk(lrlab.parse(spec).to_dict())
    seen.add("step")  # written as step(...), stored as exponential(staircase=True)
    seen.add("warmup_cosine")  # written as warmup_cosine(...), stored as warmup(W, cosine(...))
    assert set(lrlab.FAMILIES) <= seen, set(lrlab.FAMILIES) - seen


def test_snippets_pass_ruff(tmp_path):
    for i, spec in enumerate(SPECS):
        for to in TARGETS:
            (tmp_path / f"s{i:02d}_{to}.py").write_text(lrlab.export(lrlab.parse(spec), to=to))
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--line-length", "110",
         "--select", "E,F,W,I,B,UP,RUF", "--target-version", "py310", "."],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("spec", "to", "uses"),
    [
        ("warmup(20, cosine(6e-4, 6e-5, 180))", "torch", ["LambdaLR", "CosineAnnealingLR", "SequentialLR"]),
        ("step(1e-2, 0.5, 40)", "torch", ["StepLR"]),
        ("warmup(10, cosine(6e-4, 6e-5, 90), start_factor=0.1)", "torch",
         ["LinearLR(optimizer, start_factor=0.1"]),
        ("onecycle(1e-2, 200)", "torch", ["OneCycleLR"]),
        ("sgdr(1e-3, 50, mult=2.0, floor=1e-5)", "torch", ["CosineAnnealingWarmRestarts"]),
        ("wsd(1e-3, 200, warmup=20)", "transformers", ["get_wsd_schedule", "'1-sqrt'"]),
        ("warmup(20, linear(1e-3, 0.0, 180))", "transformers", ["get_linear_schedule_with_warmup"]),
        ("warmup(50, inverse_sqrt(1e-3, 50))", "transformers", ["get_inverse_sqrt_schedule"]),
        ("warmup(20, cosine(6e-4, 6e-5, 180))", "optax", ["optax.warmup_cosine_decay_schedule"]),
        ("onecycle(1e-2, 200, convention='optax')", "optax", ["optax.cosine_onecycle_schedule"]),
        ("piecewise([0, 50, 100], [0.0, 1e-3, 1e-4])", "optax", ["optax.join_schedules"]),
        ("warmup(20, cosine(6e-4, 6e-5, 180))", "keras", ["CosineDecay(", "warmup_target=0.0006"]),
        ("multistep(0.1, [30, 60, 80], gamma=0.1)", "keras", ["PiecewiseConstantDecay(", "[29, 59, 79]"]),
        ("warmup(20, cosine(6e-4, 6e-5, 180))", "timm", ["CosineLRScheduler", "warmup_t=20"]),
        ("multistep(0.1, [30, 60, 80], gamma=0.1)", "timm", ["MultiStepLRScheduler", "[31, 61, 81]"]),
        ("product(linear(0.03125, 1.0, 20), multistep(3.2, [60, 120, 160], gamma=0.1))", "torch",
         ["LinearLR(optimizer, start_factor=0.03125", "MultiStepLR(optimizer, milestones=[40, 100, 140]"]),
        ("product(linear(0.03125, 1.0, 20), multistep(3.2, [60, 120, 160], gamma=0.1))", "timm",
         ["decay_t=[41, 101, 141]", "warmup_t=20"]),
    ],
)
def test_the_frameworks_own_schedulers_are_used_where_exact(spec, to, uses):
    code, native, reason = export_info(spec, to)
    assert native and reason is None
    assert "import lrlab" not in code
    for text in uses:
        assert text in code


@pytest.mark.parametrize(
    ("spec", "to", "why"),
    [
        ("inverse_sqrt(1e-3, 100)", "torch", "inverse square root"),
        ("one_minus_sqrt(1e-3, 0.0, 100)", "optax", "one_minus_sqrt"),
        ("cyclic(1e-4, 1e-3, 20, 30)", "keras", "cyclic"),
        ("product(cosine(1e-3, 0.0, 100), linear(1.0, 0.5, 100))", "timm", "product"),
        ("product(linear(0.0, 1.0, 20), cosine(1e-3, 0.0, 100))", "torch", "product"),
    ],
)
def test_it_says_plainly_when_the_framework_cannot(spec, to, why):
    code, native, reason = export_info(spec, to)
    assert not native and why in reason
    assert "cannot express this schedule exactly" in code and why in code
    assert "import lrlab" in code


def test_unresolved_and_bad_arguments():
    with pytest.raises(ValueError, match="to must be one of"):
        lrlab.export(lrlab.parse("cosine(1.0, 0.0, 10)"), to="jax")
    with pytest.raises(ValueError, match="resolve"):
        lrlab.export(lrlab.parse("cosine(1.0, 0.0, '50%')"), to="torch")
    with pytest.raises(ValueError, match="Schedule"):
        lrlab.export(42, to="torch")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        lrlab.export("cosine(1.0", to="torch")


def test_export_takes_text_and_the_lrlab_snippet_round_trips():
    code = lrlab.export("warmup(715, cosine(6e-4, 6e-5, 18358))", to="lrlab")
    namespace = exportpeers.exec_snippet(code)
    assert namespace["schedule"] == lrlab.parse("warmup(715, cosine(6e-4, 6e-5, 18358))")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["build-nanogpt-124m", "resnet50-goyal", "modded-nanogpt-trapezoid"])
@pytest.mark.parametrize("to", ["torch", "transformers", "timm", "optax"])
def test_presets(name, to):
    _check_schedule(lrlab.preset(name), to)


# --- random compositions ------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LEVELS = st.sampled_from([0.0, 1e-4, 5e-4, 1e-3])
PEAKS = st.sampled_from([5e-4, 1e-3])
LENGTHS = st.one_of(st.integers(1, 40), st.just(12.5))


@st.composite
def finite_parts(draw):
    kind = draw(st.sampled_from(
        ["constant", "linear", "cosine", "polynomial", "one_minus_sqrt", "multistep"]))
    n = draw(LENGTHS)
    if kind == "constant":
        return f"constant({draw(LEVELS)}, {n})"
    if kind == "multistep":
        first = draw(st.integers(1, 20))
        return f"multistep({draw(PEAKS)}, [{first}, {first + draw(st.integers(1, 20))}], gamma=0.5)"
    a, b = draw(PEAKS), draw(LEVELS)
    if draw(st.booleans()):
        a, b = b, a
    power = ", power=2.0" if kind == "polynomial" else ""
    return f"{kind}({a}, {b}, {n}{power})"


@st.composite
def endless_parts(draw):
    peak = draw(PEAKS)
    return draw(st.sampled_from([
        f"constant({peak})", f"exponential({peak}, 0.9)", f"step({peak}, 0.5, 7)",
        f"sgdr({peak}, 9, mult=2.0)", f"inverse_sqrt({peak}, 10)",
    ]))


@st.composite
def compositions(draw):
    parts = draw(st.lists(finite_parts(), min_size=1, max_size=3))
    if draw(st.booleans()):
        parts.append(draw(endless_parts()))
    text = parts[0] if len(parts) == 1 else f"join({', '.join(parts)})"
    wrap = draw(st.sampled_from(["", "warmup", "scale", "limit", "factor"]))
    if wrap == "warmup":
        text = f"warmup({draw(st.integers(1, 20))}, {text})"
    elif wrap == "scale":
        text = f"scale({text}, {draw(st.sampled_from([0.5, 3.0]))})"
    elif wrap == "limit":
        text = f"limit({text}, {draw(st.integers(1, 80))})"
    elif wrap == "factor":  # a warmup written as a factor (Goyal et al. 2017)
        low, warm = draw(st.sampled_from([0.0, 0.1])), draw(st.integers(1, 30))
        text = f"product(linear({low}, 1.0, {warm}), {text})"
    return text


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(compositions(), st.sampled_from(["torch", "transformers", "timm"]))
def test_random_compositions_export_exactly(spec, to):
    _check(spec, to)


def test_huge_schedules_export_in_bounded_work():
    import time

    begin = time.perf_counter()
    for spec in ("sgdr(1.0, 10, cycles=1000000)", "warmup(1000, cosine(1.0, 0.0, 999999999000))"):
        for to in TARGETS:
            code = lrlab.export(spec, to=to)
            assert len(code) < 5000
    assert time.perf_counter() - begin < 20
    assert "cycle_limit=1000000" in lrlab.export("sgdr(1.0, 10, cycles=1000000)", to="timm")


KERAS_JAX = """
import os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, jax, keras, lrlab
for spec in sys.argv[1:]:
    s = lrlab.parse(spec)
    ns = {}
    exec(lrlab.export(s, to="keras"), ns)
    opt = keras.optimizers.SGD(learning_rate=ns["schedule"])
    v = keras.Variable(np.zeros(2, "float32"))
    lrs = []
    for _ in range(40):
        lrs.append(float(opt.learning_rate))
        opt.apply([np.ones(2, "float32")], [v])
    err = np.max(np.abs(np.array(lrs) - s.values(40))) / s.values(40).max()
    assert err < 1e-6, (spec, err)
print("ok")
"""


@pytest.mark.slow
def test_keras_snippets_train_under_the_jax_backend():
    """A native Join, a native schedule and the lrlab fallback, in a Keras optimizer (jitted
    by Keras) under KERAS_BACKEND=jax, in a fresh process (the backend is chosen at import)."""
    pytest.importorskip("keras")
    pytest.importorskip("jax")
    specs = ["join(linear(0.0, 1e-3, 20), constant(1e-3, 10), geometric(1e-3, 1e-5, 8))",
             "multistep(0.1, [3, 6, 8], gamma=0.1)", "wsd(1e-3, 30, warmup=5)"]
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", KERAS_JAX, *specs], capture_output=True, text=True,
                         env=env, check=False, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
