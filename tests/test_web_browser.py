"""The designer page in a real browser: Debian's headless Chromium driven by Playwright.

Never skipped: ``make test`` installs the ``chromium`` package when it is missing (see the
Makefile), and a missing browser fails these tests with that instruction. The screenshot
goes to ``build/test-artifacts/designer.png`` (``build/`` is not tracked).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.parse
from pathlib import Path

import playwright.sync_api as playwright_api
import pytest

import lrlab
import lrlab.inspect
from lrlab.presets import PRESETS
from lrlab.web import app as web_app
from web_server import LocalServer

ARTIFACTS = Path(__file__).resolve().parent.parent / "build" / "test-artifacts"
CHROMIUM = os.environ.get("LRLAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server():
    """The designer on a free port, with lrlab's exporter; where this checkout has none yet,
    a stand-in that writes lrlab's text form, so the copy button has a snippet to copy."""
    exporter = web_app.find_exporter()
    saved = web_app.find_exporter
    if exporter is None:

        def exporter(schedule, to):
            return f"# {to}\nimport lrlab\n\nschedule = lrlab.parse({str(schedule)!r})\n", None, None

        web_app.find_exporter = lambda: exporter
    try:
        with LocalServer() as url:
            yield url, lambda schedule, to: exporter(schedule, to)[0]
    finally:
        web_app.find_exporter = saved


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Debian's chromium is not installed ({CHROMIUM} is missing): `make test` installs it, "
            "or run `apt-get install -y chromium`"
        )
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(
        viewport={"width": 1360, "height": 1000}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(server[0]) or request.url.startswith("data:")
            else problems.append(f"external request: {request.url}")
        ),
    )
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert problems == []


def load(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("path.curve.active")
    page.wait_for_function("document.getElementById('spec').value.length > 0")
    settled(page)


def spec_of(page) -> str:
    return page.input_value("#spec")


def wait_spec_change(page, old: str) -> str:
    page.wait_for_function("(old) => document.getElementById('spec').value !== old", arg=old)
    settled(page)
    return spec_of(page)


def centre(page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def settled(page) -> None:
    """Wait until the page has no request in flight and no drag going on."""
    page.wait_for_function("document.body.dataset.busy === '0'")


def drag(page, selector: str, dx: float, dy: float) -> None:
    x, y = centre(page, selector)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=10)
    page.mouse.up()
    settled(page)


def state_of(page) -> dict:
    return json.loads(urllib.parse.unquote(page.url.split("#", 1)[1]))


def test_drag_handles_and_the_curve_and_text_follow(page, server):
    url, _ = server
    load(page, url)
    before = spec_of(page)
    assert lrlab.parse(before).to_dict()["steps"] == 100  # the default design: warmup(100, cosine(...))
    path_before = page.get_attribute("path.curve.active", "d")

    drag(page, 'circle[data-handle="warmup_end"]', 120, 0)
    after = wait_spec_change(page, before)
    page.wait_for_function(
        "(d) => document.querySelector('path.curve.active').getAttribute('d') !== d", arg=path_before
    )
    warmup = lrlab.parse(after).to_dict()["steps"]
    assert warmup > 150, after
    assert lrlab.inspect.summary(lrlab.parse(after)).peak == 1e-3  # a sideways drag keeps the peak
    assert page.input_value("#knob-warmup") == str(warmup)
    assert state_of(page)["layers"][0]["spec"] == after  # the URL follows

    # the decay start, on the step axis, opens a stable phase; the decay end moves the end
    before = spec_of(page)
    drag(page, 'circle[data-handle="decay_start"]', 150, 0)
    after = wait_spec_change(page, before)
    schedule = lrlab.parse(after)
    assert schedule.to_dict()["then"]["family"] == "join", after
    before = spec_of(page)
    drag(page, 'circle[data-handle="decay_end"]', -100, -60)
    after = wait_spec_change(page, before)
    shorter = lrlab.parse(after)
    assert shorter.length < schedule.length and shorter.final_value > schedule.final_value

    # the peak handle on the LR axis raises the peak
    before = spec_of(page)
    peak_before = lrlab.inspect.summary(lrlab.parse(before)).peak
    drag(page, 'circle[data-handle="peak"]', 0, -60)
    after = wait_spec_change(page, before)
    assert lrlab.inspect.summary(lrlab.parse(after)).peak > peak_before

    # the LR at the hovered step is lrlab's own value
    box = page.locator("#chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_selector("#readout.shown .readout-lr")
    step = int(re.search(r"step ([\d,]+)", page.inner_text(".readout-step")).group(1).replace(",", ""))
    shown = float(page.inner_text(".readout-lr").removeprefix("LR "))
    assert shown == lrlab.parse(after)(step)

    # drag across the plot to zoom in; the window is in the URL; a double-click shows it all
    range_before = page.evaluate("plot.range")
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    settled(page)
    page.wait_for_selector("#reset-zoom", state="visible")
    low, high = page.evaluate("plot.range")
    assert range_before[0] < low < high < range_before[1]
    assert state_of(page)["view"] == [low, high]
    steps = page.evaluate("plot.layers[0].steps")
    assert steps[0] >= low and steps[-1] <= high
    page.dblclick("#chart")
    settled(page)
    assert page.evaluate("plot.range") == range_before and "view" not in state_of(page)

    # the lesson's question: the LR at a typed step
    page.fill("#at-step", "500")
    page.press("#at-step", "Enter")
    page.wait_for_function("document.getElementById('at-result').textContent.length > 0")
    assert float(page.inner_text("#at-result")) == lrlab.parse(after)(500)


def test_shapes_presets_typed_specs_and_errors(page, server):
    url, _ = server
    load(page, url)
    for shape, family in (("wsd", "wsd"), ("onecycle", "onecycle"), ("step", "multistep"), ("sgdr", "sgdr")):
        before = spec_of(page)
        page.click(f'#shapes button[data-shape="{shape}"]')
        after = wait_spec_change(page, before)
        assert family in after
        assert page.get_attribute(f'#shapes button[data-shape="{shape}"]', "aria-checked") == "true"

    page.select_option("#preset", "gpt3-125m")
    page.wait_for_function(
        "(s) => document.getElementById('spec').value === s", arg=PRESETS["gpt3-125m"].spec
    )
    assert page.input_value("#b-tps") == "524288"
    assert "gpt3-125m" in page.inner_text("#layers")
    page.select_option("#x-unit", "tokens")
    page.wait_for_function(
        "[...document.querySelectorAll('#chart text.title')].some(t => t.textContent === 'tokens')"
    )
    labels = page.locator("#chart text.tick.x").all_text_contents()
    assert any(label.endswith("B") for label in labels), labels

    before = spec_of(page)
    page.fill("#spec", "wsd(0.001, 2000, warmup=100, cooldown=400, shape='linear')")
    page.wait_for_function(
        "document.querySelector('path.curve.active').dataset.spec.startsWith('wsd(0.001, 2000')"
    )
    assert page.get_attribute('#shapes button[data-shape="wsd"]', "aria-checked") == "true"
    assert before != spec_of(page)

    page.fill("#spec", "cosine(1.0, 0.0,")
    page.wait_for_function("document.getElementById('spec-error').textContent.includes('never closed')")
    assert page.get_attribute("path.curve.active", "data-spec").startswith("wsd(0.001, 2000")
    page.fill("#spec", "bert-base * 2")
    page.wait_for_function("document.getElementById('spec-error').textContent.includes('not allowed')")
    page.fill("#spec", "join(linear(0.0, 1e-4, 100), linear(1e-4, 0.0, 900))")
    page.wait_for_function("document.getElementById('spec-error').textContent === ''")
    assert page.is_visible("#not-design")  # no handles for this form; a button makes it a design
    page.click("#make-design")
    page.wait_for_selector('circle[data-handle="warmup_end"]')


def test_overlay_copy_and_reload_the_shared_url(page, server, browser):
    url, export = server
    load(page, url)
    page.click("#add-layer")
    page.wait_for_function("document.querySelectorAll('path.curve').length === 2")
    before = spec_of(page)
    page.click('#shapes button[data-shape="linear"]')
    second = wait_spec_change(page, before)
    assert second.startswith("warmup(100, linear(")
    curves = page.locator("path.curve")
    assert curves.nth(0).get_attribute("d") != curves.nth(1).get_attribute("d")
    assert page.locator("#layers li").count() == 2
    page.select_option("#x-unit", "percent")
    settled(page)
    page.check("#log-y")

    page.click('#export-tabs button[data-target="optax"]')
    expected = export(lrlab.parse(second), to="optax")
    page.wait_for_function("(code) => document.querySelector('#code').textContent === code", arg=expected)
    page.click("#copy")
    page.wait_for_function("document.getElementById('copy').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == expected

    box = page.locator("#chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
    page.wait_for_selector("#readout.shown")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "designer.png"), full_page=True)

    shared = page.url
    specs = [p.get_attribute("data-spec") for p in page.locator("path.curve").all()]
    other = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    load(other, shared)
    other.wait_for_function("document.querySelectorAll('path.curve').length === 2")
    assert [p.get_attribute("data-spec") for p in other.locator("path.curve").all()] == specs
    assert other.input_value("#spec") == second
    assert other.input_value("#x-unit") == "percent" and other.is_checked("#log-y")
    assert other.locator("#layers li.active .layer-name").inner_text().strip() == second
    other.context.close()
