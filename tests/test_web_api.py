"""The designer's JSON API: values from lrlab itself, sampling, limits and clear 4xx errors."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

import lrlab
from lrlab.presets import PRESETS
from lrlab.schedules import Schedule
from lrlab.web import app as web_app
from lrlab.web.app import MAX_POINTS, STATIC, create_app, sample_steps
from lrlab.web.design import Design, to_spec


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(), raise_server_exceptions=False)


def plot(client: TestClient, *layers: dict, **extra) -> dict:
    response = client.post("/api/plot", json={"layers": list(layers), **extra})
    assert response.status_code == 200, response.text
    return response.json()


def refused(response, status: int = 422) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "field"}
    assert "Traceback" not in body["error"]
    return body


def test_page_and_static_files_are_served_without_external_resources(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for name in ("designer.js", "designer.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and len(response.text) > 1000
    for path in STATIC.iterdir():
        text = path.read_text()
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)
        assert '<script src="http' not in text and "@import" not in text


def test_the_page_addresses_its_files_by_content(client):
    page = client.get("/").text
    version = re.search(r"/static/designer\.js\?v=([0-9a-f]{12})", page).group(1)
    assert f"/static/designer.css?v={version}" in page
    assert client.get(f"/static/designer.js?v={version}").status_code == 200


def test_allowed_hosts_refuse_other_host_headers():
    guarded = TestClient(create_app(["127.0.0.1", "localhost"]), base_url="http://127.0.0.1:8765")
    assert guarded.get("/api/meta").status_code == 200
    assert guarded.get("/api/meta", headers={"Host": "evil.example"}).status_code == 400


def test_curve_values_are_the_schedules_values_at_the_returned_steps(client):
    spec = "warmup(100, cosine(0.001, 0.0001, 900))"
    layer = plot(client, {"spec": spec}, points=300)["layers"][0]
    steps = np.array(layer["steps"])
    assert np.all(steps == np.round(steps)) and np.all(np.diff(steps) > 0)
    np.testing.assert_array_equal(np.array(layer["lr"]), lrlab.parse(spec).values(steps.astype(int)))
    assert layer["spec"] == spec and layer["resolved"] == spec
    assert layer["summary"]["peak"] == 0.001 and layer["summary"]["length"] == 1000


def test_default_range_covers_every_layer_and_jumps_are_sampled_on_both_sides(client):
    answer = plot(
        client,
        {"spec": "multistep(0.1, [300, 600], gamma=0.1)"},
        {"spec": "cosine(1.0, 0.0, 5000)"},
        points=50,
    )
    start, end = answer["range"]
    assert start == 0 and end >= 5000
    steps = answer["layers"][0]["steps"]
    assert {299, 300, 599, 600} <= set(steps)
    assert answer["layers"][0]["marks"] == [0.0, 300.0, 600.0]


def test_huge_ranges_are_sampled_not_enumerated(client, monkeypatch):
    sizes: list[int] = []
    values, evaluate = Schedule.values, Schedule.evaluate

    def counted_values(self, steps):
        out = values(self, steps)
        sizes.append(out.size)
        return out

    def counted_evaluate(self, t, xp):
        sizes.append(np.size(t))
        return evaluate(self, t, xp)

    monkeypatch.setattr(Schedule, "values", counted_values)
    monkeypatch.setattr(Schedule, "evaluate", counted_evaluate)
    answer = plot(
        client, {"spec": "warmup(1000, cosine(1.0, 0.0, 999999999999000))"}, points=500, start=0, end=10**15
    )
    layer = answer["layers"][0]
    assert len(layer["steps"]) <= 500 + 3 * len(layer["marks"])
    assert layer["steps"][0] == 0 and layer["steps"][-1] == 10**15
    assert {999, 1000} <= set(layer["steps"])
    # every evaluation is bounded (the summary's search uses at most ~200k points), never per step
    assert sizes and max(sizes) <= 250_000


def test_sample_steps_caps_the_boundaries_it_adds():
    marks = tuple(float(m) for m in range(0, 10**6, 7))
    steps = sample_steps(0, 10**6, 100, marks)
    assert len(steps) <= 100 + 2 * 512
    assert steps[0] == 0 and steps[-1] == 10**6


def test_points_and_layers_are_capped(client):
    spec = {"spec": "cosine(1.0, 0.0, 100)"}
    body = refused(client.post("/api/plot", json={"layers": [spec], "points": MAX_POINTS + 1}))
    assert body["field"] == "points" and str(MAX_POINTS) in body["error"]
    body = refused(client.post("/api/plot", json={"layers": [spec] * 9}))
    assert body["field"] == "layers"
    body = refused(client.post("/api/plot", json={"layers": [spec], "start": 50, "end": 10}))
    assert body["field"] == "end"
    body = refused(client.post("/api/plot", json={"layers": [spec], "end": 2**60}))
    assert body["field"] == "end"


@pytest.mark.parametrize(
    "spec",
    [
        "cosine(1.0, 0.0,",
        "cosine(-1.0, 0.0, 10)",
        "__import__('os').system('id')",
        "cosine(1.0, 0.0, 10).__class__",
        "cosinus(1.0, 0.0, 10)",
        "join(cosine(1.0, 0.0, 10), inverse_sqrt(1.0), constant(1.0))",
    ],
)
def test_a_bad_spec_gets_the_parse_error(client, spec):
    with pytest.raises(ValueError) as expected:
        lrlab.parse(spec).values([0])
    body = refused(client.post("/api/plot", json={"layers": [{"spec": spec}]}))
    assert body["field"] == "layers[0].spec"
    assert body["error"] == str(expected.value)


def test_the_failing_layer_is_named(client):
    body = refused(
        client.post("/api/plot", json={"layers": [{"spec": "cosine(1.0, 0.0, 10)"}, {"spec": "nope("}]})
    )
    assert body["field"] == "layers[1].spec"


def test_unknown_preset_suggests_the_closest(client):
    body = refused(client.post("/api/plot", json={"layers": [{"spec": "gpt3-125"}]}))
    assert "'gpt3-125'" in body["error"] and "did you mean 'gpt3-125m'" in body["error"]


def test_a_unit_length_needs_a_budget_and_uses_it(client):
    spec = "warmup('5%', cosine(1.0, 0.0, 950))"
    body = refused(client.post("/api/plot", json={"layers": [{"spec": spec}]}))
    assert "'5%'" in body["error"] and "total_steps" in body["error"]
    layer = plot(client, {"spec": spec, "budget": {"total_steps": 1000}})["layers"][0]
    assert layer["resolved"] == "warmup(50, cosine(1.0, 0.0, 950))"
    assert layer["design"]["warmup"] == 50 and layer["total"] == 1000.0
    body = refused(client.post("/api/plot", json={"layers": [{"spec": spec, "budget": {"total_steps": -3}}]}))
    assert body["field"] == "layers[0].budget"
    body = refused(client.post("/api/plot", json={"layers": [{"spec": spec, "budget": {"speed": 3}}]}))
    assert "'speed'" in body["error"]


def test_a_preset_brings_its_budget_and_citation(client):
    layer = plot(client, {"spec": "gpt3-125m"})["layers"][0]
    preset = PRESETS["gpt3-125m"]
    assert layer["spec"] == preset.spec
    assert layer["resolved"] == str(lrlab.preset("gpt3-125m"))
    assert layer["budget"]["tokens_per_step"] == preset.budget.tokens_per_step
    assert layer["tokens_per_step"] == 524288 and layer["preset"]["url"] == preset.url
    # a budget given with a preset overrides only the fields it names
    layer = plot(client, {"spec": "gpt3-125m", "budget": {"tokens_per_step": 1048576}})["layers"][0]
    assert layer["budget"]["total_steps"] == "300B tokens" and layer["tokens_per_step"] == 1048576


def test_every_preset_draws(client):
    answer = plot(client, *({"spec": name} for name in list(PRESETS)[:8]), points=100)
    assert len(answer["layers"]) == 8
    for name in list(PRESETS)[8:]:
        plot(client, {"spec": name}, points=100)


def test_a_design_layer_is_written_as_its_text_form(client):
    design = Design(shape="wsd", warmup=100, decay_start=700, decay_end=1000, cooldown="linear")
    layer = plot(client, {"design": design.to_dict()})["layers"][0]
    assert layer["spec"] == to_spec(design)
    assert lrlab.parse(layer["spec"])(500) == design.peak
    assert set(layer["handles"]) == {"warmup_end", "peak", "decay_start", "decay_end"}
    body = refused(
        client.post(
            "/api/plot", json={"layers": [{"design": {"shape": "wsd", "warmup": 900, "decay_start": 100}}]}
        )
    )
    assert body["field"] == "layers[0].design" and "decay_start" in body["error"]
    body = refused(client.post("/api/plot", json={"layers": [{"design": {"shape": "zigzag"}}]}))
    assert "zigzag" in body["error"]


def test_a_schedule_outside_the_designs_has_no_handles_but_an_approximation(client):
    layer = plot(client, {"spec": "bert-base"})["layers"][0]
    assert layer["design"] is None and layer["handles"] is None
    approx = layer["approx"]
    assert approx["peak"] == 0.0001 and approx["warmup"] == 10000 and approx["decay_end"] == 1000000


def test_a_schedule_that_would_overflow_is_refused_naming_the_parameter(client):
    # the core refuses any schedule whose values could leave float64's range, so the page
    # never receives a non-finite value
    spec = "join(constant(1.0, steps=10), scale(constant(1e308), 10.0))"
    response = client.post("/api/plot", json={"layers": [{"spec": spec}], "points": 20})
    assert response.status_code == 422
    assert "scale.factor" in response.text


def test_lr_at_a_step_exact_and_with_units(client):
    spec = "warmup(100, cosine(0.001, 0.0001, 900))"
    response = client.post("/api/at", json={"layers": [{"spec": spec}, {"spec": "gpt3-125m"}], "step": 50})
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"step": 50, "lr": lrlab.parse(spec)(50)},
        {"step": 50, "lr": lrlab.preset("gpt3-125m")(50)},
    ]
    response = client.post("/api/at", json={"layers": [{"spec": "gpt3-125m"}], "step": "50%"})
    total = 300e9 / 524288
    assert response.json()["results"][0]["step"] == int(total / 2)
    response = client.post("/api/at", json={"layers": [{"spec": "gpt3-125m"}], "step": "1B tokens"})
    assert response.json()["results"][0]["step"] == int(1e9 / 524288)
    for bad, field in ((-1, "step"), (1.5, "step"), ("soon", "step"), (True, "step"), (2**60, "step")):
        body = refused(client.post("/api/at", json={"layers": [{"spec": spec}], "step": bad}))
        assert body["field"] == field
    body = refused(client.post("/api/at", json={"layers": [{"spec": spec}], "step": "50%"}))
    assert "total_steps" in body["error"]
    refused(client.post("/api/at", json={"layers": [{"spec": spec}]}))


def test_export_without_the_exporter_is_a_clear_501(client, monkeypatch):
    monkeypatch.setattr(web_app, "find_exporter", lambda: None)  # as before the exporter is merged
    body = refused(
        client.post("/api/export", json={"layer": {"spec": "cosine(1.0, 0.0, 10)"}, "to": "torch"}), 501
    )
    assert "lrlab.export" in body["error"]


def test_export_calls_the_exporter_with_the_resolved_schedule(client, monkeypatch):
    seen = []

    def export_info(schedule, to):
        seen.append((schedule, to))
        if to == "keras":
            raise ValueError("keras cannot express this")
        return f"# {to}\nschedule = {schedule}\n", to != "optax", "no join" if to == "optax" else None

    monkeypatch.setattr(web_app, "find_exporter", lambda: export_info)
    response = client.post("/api/export", json={"layer": {"spec": "gpt3-125m"}, "to": "optax"})
    assert response.status_code == 200
    assert seen == [(lrlab.preset("gpt3-125m"), "optax")]
    answer = response.json()
    assert answer["code"] == f"# optax\nschedule = {lrlab.preset('gpt3-125m')}\n"
    assert answer["native"] is False and answer["reason"] == "no join"
    body = refused(client.post("/api/export", json={"layer": {"spec": "gpt3-125m"}, "to": "keras"}))
    assert body["error"] == "keras cannot express this"
    body = refused(client.post("/api/export", json={"layer": {"spec": "gpt3-125m"}, "to": "caffe"}))
    assert body["field"] == "to" and "torch" in body["error"]


def test_the_exporter_is_found_as_a_module_or_a_function(monkeypatch):
    """``lrlab.export`` may be a module with ``export`` or a function (lrlab.__getattr__)."""
    module = types.ModuleType("lrlab.export")
    module.export = lambda schedule, to: f"{to}: {schedule}"  # type: ignore[attr-defined]
    monkeypatch.setattr(lrlab, "export", module, raising=False)
    monkeypatch.setitem(sys.modules, "lrlab.exporters", None)
    monkeypatch.setitem(sys.modules, "lrlab.export", module)
    exporter = web_app.find_exporter()
    assert exporter(lrlab.parse("cosine(1.0, 0.0, 10)"), "timm") == ("timm: cosine(1.0, 0.0, 10)", None, None)
    monkeypatch.setattr(lrlab, "export", module.export, raising=False)
    assert (
        web_app.find_exporter()(lrlab.parse("cosine(1.0, 0.0, 10)"), "keras")[0]
        == "keras: cosine(1.0, 0.0, 10)"
    )


def test_malformed_bodies_are_4xx(client):
    refused(client.post("/api/plot", content=b"{not json"), 400)
    refused(client.post("/api/plot", content=b"[1, 2]"), 400)
    refused(client.post("/api/plot", content=b"\xff\xfe"), 400)
    refused(client.post("/api/plot", content=b"[" * 100_000), 400)
    refused(client.post("/api/plot", content=b" " * 1_000_001), 413)
    assert client.get("/api/plot").status_code == 405
    assert client.get("/api/nothing").status_code == 404


def test_a_repeat_count_beyond_the_limit_is_refused(client):
    body = refused(client.post("/api/plot", json={"layers": [{"spec": "sgdr(1.0, 10, cycles=100000000)"}]}))
    assert "cycles" in body["error"]


def test_too_many_phases_are_refused_in_bounded_time(client):
    marks = ", ".join(str(10 * (i + 1)) for i in range(5000))
    spec = f"multistep(1.0, [{marks}], gamma=0.999)"
    body = refused(client.post("/api/plot", json={"layers": [{"spec": spec}]}))
    assert "at most 1024 phase boundaries" in body["error"] and "5001" in body["error"]
    parts = ", ".join(f"cosine(1.0, 0.5, {i + 1})" for i in range(900))
    plot(client, {"spec": f"join({parts})"}, points=100)


def test_static_files_are_inside_the_package():
    assert (Path(STATIC) / "index.html").exists()
    assert Path(STATIC).is_relative_to(Path(lrlab.__file__).parent)


def test_x_in_percent_puts_each_schedule_on_its_own_run(client):
    short, long = {"spec": "cosine(1.0, 0.0, 1000)"}, {"spec": "cosine(1.0, 0.0, 50000)"}
    answer = plot(client, short, long, x="percent", points=200)
    assert answer["x"] == "percent" and answer["range"][0] == 0 and answer["range"][1] >= 100
    for layer, total in zip(answer["layers"], (1000, 50000)):
        assert layer["x_scale"] == 100 / total
        np.testing.assert_allclose(layer["x"], np.array(layer["steps"]) * 100 / total)
        assert layer["steps"][-1] >= total  # both reach 100% of their own run
    # a window in percent covers the same fraction of each run
    answer = plot(client, short, long, x="percent", start=50, end=60, points=50)
    assert [(lay["steps"][0], lay["steps"][-1]) for lay in answer["layers"]] == [(500, 600), (25000, 30000)]


def test_x_in_tokens_uses_each_schedules_tokens_per_step(client):
    gpt3 = {"spec": "gpt3-125m"}
    mine = {"spec": "cosine(1e-3, 0.0, 1000)"}
    body = refused(client.post("/api/plot", json={"layers": [gpt3, mine], "x": "tokens"}))
    assert body["field"] == "layers[1].budget" and "tokens_per_step" in body["error"]
    answer = plot(client, gpt3, mine, x="tokens", tokens_per_step=1000, points=50)
    assert [lay["x_scale"] for lay in answer["layers"]] == [524288, 1000]
    assert answer["range"][1] >= 300e9
    refused(client.post("/api/plot", json={"layers": [mine], "x": "epochs"}))
    refused(client.post("/api/plot", json={"layers": [mine], "x": "percent", "start": 5, "end": 5}))


def test_lr_at_one_step_per_layer(client):
    a, b = "cosine(1.0, 0.0, 100)", "linear(1.0, 0.0, 1000)"
    response = client.post("/api/at", json={"layers": [{"spec": a}, {"spec": b}], "step": [50, 500]})
    assert response.json()["results"] == [{"step": 50, "lr": 0.5}, {"step": 500, "lr": lrlab.parse(b)(500)}]
    body = refused(client.post("/api/at", json={"layers": [{"spec": a}, {"spec": b}], "step": [50]}))
    assert body["field"] == "step"
