"""Fuzz the designer's HTTP API: no input gets a 5xx (Hypothesis, derandomized)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from lrlab.web import app as web_app
from lrlab.web.app import create_app

CLIENT = TestClient(create_app(), raise_server_exceptions=False)
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

numbers = st.one_of(
    st.integers(-10, 10**6),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e308, 2**53]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
families = st.sampled_from(
    [
        "cosine",
        "linear",
        "warmup",
        "wsd",
        "onecycle",
        "sgdr",
        "multistep",
        "step",
        "exponential",
        "geometric",
        "constant",
        "join",
        "inverse_sqrt",
        "cyclic",
        "piecewise",
        "polynomial",
        "clamp",
        "scale",
        "limit",
        "product",
        "one_minus_sqrt",
        "untuned_warmup",
        "nope",
        "__import__",
    ]
)
literal_text = st.one_of(
    numbers.map(repr),
    st.sampled_from(
        [
            "'5%'",
            "'375M tokens'",
            "'2ep'",
            "'x'",
            "true",
            "none",
            "[1, 2]",
            "[]",
            "-1",
            "1e999",
            "'1e400 tokens'",
            "shape='linear'",
            "cycles=10**9",
        ]
    ),
)


@st.composite
def spec_texts(draw, depth: int = 0) -> str:
    """Text that is often a schedule, often nearly one."""
    name = draw(families)
    count = draw(st.integers(0, 4))
    args = []
    for _ in range(count):
        if depth < 2 and draw(st.booleans()):
            args.append(draw(spec_texts(depth + 1)))
        else:
            args.append(draw(literal_text))
    keyword = draw(
        st.sampled_from(["", "cycles", "steps", "floor", "mult", "shape", "cooldown", "start_factor"])
    )
    if keyword:
        args.append(f"{keyword}={draw(literal_text)}")
    text = f"{name}({', '.join(args)})"
    cut = draw(st.integers(0, len(text)))
    return text if draw(st.booleans()) else text[:cut] + draw(st.sampled_from(["", ")", "(", ",", "*", "'"]))


budgets = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "total_steps": st.one_of(numbers, st.sampled_from(["300B tokens", "90ep", "5%", "x", ""])),
            "tokens_per_step": numbers,
            "steps_per_epoch": numbers,
        },
    ),
)
designs = st.fixed_dictionaries(
    {},
    optional={
        "shape": st.sampled_from(
            ["cosine", "linear", "wsd", "step", "exponential", "onecycle", "sgdr", "constant", "x"]
        ),
        "peak": numbers,
        "final": numbers,
        "start": numbers,
        "warmup": numbers,
        "decay_start": numbers,
        "decay_end": numbers,
        "cooldown": st.sampled_from(["linear", "geometric", "one_minus_sqrt", "zz"]),
        "drops": numbers,
        "cycles": numbers,
        "mult": numbers,
    },
)
plausible_designs = st.fixed_dictionaries(
    {
        "shape": st.sampled_from(
            ["cosine", "linear", "wsd", "step", "exponential", "onecycle", "sgdr", "constant"]
        ),
        "peak": st.floats(1e-9, 10.0),
        "final": st.floats(0.0, 1e-3),
        "start": st.floats(0.0, 1e-3),
        "warmup": st.integers(0, 10**6),
        "decay_start": st.integers(0, 10**7),
        "decay_end": st.integers(0, 2**54),
        "cooldown": st.sampled_from(["linear", "geometric", "one_minus_sqrt", "cosine", "one_minus_square"]),
        "drops": st.integers(0, 60),
        "cycles": st.integers(0, 1200),
        "mult": st.floats(0.5, 12.0),
    }
)
layers = st.one_of(
    st.builds(lambda d: {"design": d}, plausible_designs),
    st.builds(
        lambda s, b: {"spec": s} if b is None else {"spec": s, "budget": b},
        st.one_of(
            spec_texts(), st.sampled_from(["gpt3-125m", "bert-base", "minicpm-wsd", "nope"]), json_values
        ),
        budgets,
    ),
    st.builds(lambda d, b: {"design": d} if b is None else {"design": d, "budget": b}, designs, budgets),
    json_values,
)


EXPORTER_MISSING = web_app.find_exporter() is None


def check(response, *, export: bool = False) -> None:
    if export and EXPORTER_MISSING and response.status_code == 501:
        assert "lrlab.export" in response.json()["error"]  # the one 5xx by design: no exporter installed
        return
    assert response.status_code < 500, response.text
    json.loads(response.text)  # always JSON, never a traceback page


@FUZZ
@given(
    st.lists(layers, min_size=0, max_size=3),
    st.one_of(st.none(), numbers),
    st.one_of(st.none(), numbers),
    st.one_of(st.none(), numbers, st.text(max_size=5)),
    st.one_of(st.none(), st.sampled_from(["steps", "percent", "tokens", "epochs"]), json_values),
    st.one_of(st.none(), numbers, json_values),
)
def test_plot_never_fails_on_the_server(layer_list, start, end, points, x, tps):
    body = {"layers": layer_list}
    extra = {"start": start, "end": end, "points": points, "x": x, "tokens_per_step": tps}
    for key, value in extra.items():
        if value is not None:
            body[key] = value
    check(CLIENT.post("/api/plot", json=body))


@FUZZ
@given(
    st.lists(layers, min_size=1, max_size=2),
    st.one_of(numbers, st.text(max_size=12), st.sampled_from(["50%", "1B tokens", "2ep", "1e400 tokens"])),
)
def test_at_never_fails_on_the_server(layer_list, step):
    check(CLIENT.post("/api/at", json={"layers": layer_list, "step": step}))


@FUZZ
@given(layers, st.one_of(st.sampled_from(["torch", "optax", "lrlab", "caffe"]), json_values))
def test_export_never_fails_on_the_server(layer, to):
    check(CLIENT.post("/api/export", json={"layer": layer, "to": to}), export=True)


@FUZZ
@given(st.one_of(json_values, st.binary(max_size=200)))
def test_any_body_is_answered_with_json(body):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    for path in ("/api/plot", "/api/at", "/api/export"):
        check(CLIENT.post(path, content=content), export=path == "/api/export")
