"""The family registry: every public constructor and every Schedule class is reachable from
the text form and round-trips, so a forgotten registration fails here."""

from __future__ import annotations

import inspect
import json

import pytest

import lrlab
from lrlab import CLASSES, FAMILIES, Schedule, from_dict, parse

#: one call per public constructor, in the text form (keyword spellings as in Python)
CALLS = {
    "constant": "constant(3e-4, steps=100)",
    "linear": "linear(0.0, 6e-4, 715)",
    "cosine": "cosine(6e-4, 6e-5, 18358)",
    "one_minus_sqrt": "one_minus_sqrt(3e-4, 0.0, 4800)",
    "one_minus_square": "one_minus_square(3e-4, 0.0, 4800)",
    "polynomial": "polynomial(1e-3, 1e-5, 1000, power=0.5)",
    "geometric": "geometric(3e-4, 3e-5, 4000)",
    "exponential": "exponential(1.0, half_life=100, floor=0.01)",
    "step": "step(0.1, 0.5, 30)",
    "inverse_sqrt": "inverse_sqrt(1e-3, timescale=4000)",
    "multistep": "multistep(0.1, [30, 60, 80], gamma=0.1)",
    "cyclic": "cyclic(1e-3, 6e-3, 2000, down=1000, mode='triangular2')",
    "sgdr": "sgdr(0.1, 10, mult=2, floor=1e-4, decay=0.5, cycles=4)",
    "join": "join(linear(0.0, 1.0, 10), cosine(1.0, 0.0, 20))",
    "scale": "scale(cosine(1.0, 0.0, 10), 0.5)",
    "offset": "offset(cosine(1.0, 0.0, 10), 0.01)",
    "clamp": "clamp(cosine(1.0, 0.0, 10), low=0.1)",
    "product": "product(constant(2.0), linear(1.0, 0.0, 10))",
    "add": "add(constant(0.1), linear(1.0, 0.0, 10))",
    "limit": "limit(inverse_sqrt(1.0), 100)",
    "shift": "shift(cosine(1.0, 0.0, 100), 10)",
    "quantize": "quantize(cosine(1.0, 0.0, 100), 7)",
    "repeat": "repeat(linear(1.0, 0.0, 10), times=3)",
    "warmup": "warmup(10, cosine(1.0, 0.0, 90), start_factor=0.1)",
    "warmup_cosine": "warmup_cosine(1e-3, 1000, 50)",
    "untuned_warmup": "untuned_warmup(cosine(1e-3, 0.0, 10000), beta2=0.95)",
    "wsd": "wsd(3e-4, 10000, warmup=100, cooldown_fraction=0.1)",
    "onecycle": "onecycle(0.1, 1000, pct_start=0.25)",
    "piecewise": "piecewise([0, 100, 1000], [0.0, 1e-3, 1e-4])",
    "tanh": "tanh(1e-3, 1e-5, 1000, lb=-6.0)",
    "inverse_time": "inverse_time(0.1, 0.5, every=100, staircase=True)",
    "restarts": "restarts(cosine(1.0, 0.1, 100), mult=2.0, decay=0.5, times=3)",
    "warp": "warp(cosine(1.0, 0.0, 100), 2.0)",
    "extend": "extend(polynomial(1.0, 0.1, 100, power=2.0))",
    "one_minus_power": "one_minus_power(1e-3, 0.0, 1000, power=2.0)",
}


def _concrete_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for sub in cls.__subclasses__():
        found |= _concrete_subclasses(sub)
        if not sub.__name__.startswith("_"):
            found.add(sub)
    return found


def test_every_public_constructor_is_registered_and_has_an_example():
    public = {name for name in lrlab.__all__ if name in FAMILIES}
    assert public == set(FAMILIES)
    missing = set(FAMILIES) - set(CALLS)
    assert not missing, f"add an example for {sorted(missing)} to CALLS"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_constructor_parses_with_its_python_keywords(name):
    text = CALLS[name]
    built = parse(text)
    # the same call in Python gives the same value
    assert built == eval(text, {k: getattr(lrlab, k) for k in FAMILIES})
    again = parse(str(built))
    assert again == built and str(again) == str(built)
    assert from_dict(json.loads(json.dumps(built.to_dict()))) == built
    assert built.values(50).tolist() == [built(t) for t in range(50)]
    assert float(built.values(5000).max()) <= built.upper_bound() < float("inf")


def test_every_schedule_class_is_registered_and_reachable_from_the_text_form():
    classes = _concrete_subclasses(Schedule)
    registered = set(CLASSES.values())
    assert classes == registered, f"unregistered: {classes - registered}"
    built = {type(parse(text)) for text in CALLS.values()}
    assert classes <= built, f"no example builds {classes - built}"


def test_every_class_prints_a_name_the_parser_knows():
    for name, cls in CLASSES.items():
        assert name in FAMILIES, f"{cls.__name__} prints as {name!r}, which is not a constructor"


def test_constructor_keywords_are_the_text_keywords():
    # keyword-only parameters (exponential's half_life) are accepted by the text form too
    assert parse("exponential(1.0, half_life=100)") == lrlab.exponential(1.0, half_life=100)
    signature = inspect.signature(lrlab.exponential)
    assert "half_life" in signature.parameters


def test_an_unknown_keyword_names_the_parameters():
    expected = r"unexpected keyword argument 'bogus'.*parameters are lr, gamma"
    with pytest.raises(lrlab.ParseError, match=expected):
        parse("exponential(1.0, 0.5, bogus=1)")


def test_a_bug_inside_a_constructor_is_not_turned_into_a_parse_error(monkeypatch):
    def broken(lr):
        raise TypeError("a bug")

    monkeypatch.setitem(FAMILIES, "broken", broken)
    with pytest.raises(TypeError, match="a bug"):
        parse("broken(1.0)")
