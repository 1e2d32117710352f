"""The text form and the dict form: hand-written forms, exact printing, round trips, and
the safety of the parser (it reads the syntax tree and never executes anything)."""

from __future__ import annotations

import ast
import builtins
import json
import time
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrlab
from lrlab import (
    FAMILIES,
    ParseError,
    add,
    clamp,
    constant,
    cosine,
    cyclic,
    exponential,
    extend,
    from_dict,
    geometric,
    inverse_sqrt,
    inverse_time,
    join,
    limit,
    linear,
    multistep,
    offset,
    one_minus_power,
    one_minus_sqrt,
    one_minus_square,
    onecycle,
    parse,
    piecewise,
    polynomial,
    product,
    quantize,
    repeat,
    restarts,
    scale,
    sgdr,
    shift,
    step,
    tanh,
    untuned_warmup,
    warmup,
    warp,
    wsd,
)
from lrlab.schedules import Exponential, Product, Scale, Schedule

# ---------------------------------------------------------------------------------------
# hand-written forms
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cosine(6e-4, 6e-5, 18358)", cosine(6e-4, 6e-5, 18358)),
        ("cosine(start=6e-4, end=6e-5, steps=18358)", cosine(6e-4, 6e-5, 18358)),
        ("cosine(6e-4, steps=18358, end=6e-5)", cosine(6e-4, 6e-5, 18358)),
        ("cosine(6E-4, 6.0e-05, 18358)", cosine(6e-4, 6e-5, 18358)),
        ("cosine(0.0006, +6e-5, 18358)", cosine(6e-4, 6e-5, 18358)),
        ("  cosine( 6e-4 ,6e-5,\n 18358 )  ", cosine(6e-4, 6e-5, 18358)),
        ("cosine(6e-4, 6e-5, 18358,)", cosine(6e-4, 6e-5, 18358)),
        ("cosine(1, 0, 10)  # a comment", cosine(1.0, 0.0, 10)),
        ("multistep(0.1, [30, 60, 80], gamma=0.1)", multistep(0.1, [30, 60, 80], gamma=0.1)),
        ("multistep(0.1, (30, 60, 80), gamma=0.1)", multistep(0.1, [30, 60, 80], gamma=0.1)),
        ("multistep(4.2e-4, ['80%', \"90%\"], factors=[0.316, 0.1])",
         multistep(4.2e-4, ["80%", "90%"], factors=[0.316, 0.1])),
        ("exponential(1.0, 0.5, every=10, staircase=true)",
         Exponential(1.0, 0.5, 10, staircase=True)),
        ("exponential(1.0, 0.5, every=10, staircase=True)",
         Exponential(1.0, 0.5, 10, staircase=True)),
        ("step(0.1, 0.5, 30)", step(0.1, 0.5, 30)),
        ("step(0.1, 0.5, 30, floor=1e-3)", step(0.1, 0.5, 30, floor=1e-3)),
        ("0.5 * cosine(1, 0, 10)", scale(cosine(1.0, 0.0, 10), 0.5)),
        ("cosine(1, 0, 10) * 0.5", scale(cosine(1.0, 0.0, 10), 0.5)),
        ("2 * cosine(1, 0, 10)", scale(cosine(1.0, 0.0, 10), 2.0)),
        ("cosine(1, 0, 10) * linear(1, 0.5, 10)",
         product(cosine(1.0, 0.0, 10), linear(1.0, 0.5, 10))),
        ("(cosine(1, 0, 10))", cosine(1.0, 0.0, 10)),
        ("warmup(715, cosine(6e-4, 6e-5, 18358), start_factor=0.0013986013986013986, ramp=714)",
         warmup(715, cosine(6e-4, 6e-5, 18358), start_factor=1 / 715, ramp=714)),
        ("warmup('375M tokens', cosine(6e-4, 6e-5, '10B tokens'))",
         warmup("375M tokens", cosine(6e-4, 6e-5, "10B tokens"))),
        ("wsd(3e-4, 10000, warmup=500, cooldown_fraction=0.2, shape='cosine')",
         wsd(3e-4, 10000, warmup=500, cooldown_fraction=0.2, shape="cosine")),
        ("sgdr(0.1, 10, mult=2, cycles=none)", sgdr(0.1, 10, mult=2)),
        ("sgdr(0.1, 10, mult=2, cycles=None)", sgdr(0.1, 10, mult=2)),
        ("onecycle(0.1, 1000, three_phase=true)", onecycle(0.1, 1000, three_phase=True)),
        ("join(linear(0, 1, 10), constant(1, 5), cosine(1, 0, 20))",
         join(linear(0.0, 1.0, 10), constant(1.0, 5), cosine(1.0, 0.0, 20))),
        ("piecewise([0, 100], [0.0, 1.0])", piecewise([(0, 0.0), (100, 1.0)])),
        ("polynomial(1, 0, 100, power=2)", polynomial(1.0, 0.0, 100, power=2.0)),
        ("clamp(exponential(1, 0.5), low=0.01)", clamp(exponential(1.0, 0.5), low=0.01)),
        ("limit(inverse_sqrt(1e-3, 100), 1000)", limit(inverse_sqrt(1e-3, 100), 1000)),
        ("untuned_warmup(constant(1e-3), beta2=0.99)", untuned_warmup(constant(1e-3), beta2=0.99)),
    ],
)
def test_parse_hand_written_forms(text, expected):
    assert parse(text) == expected


def test_star_sugar_builds_the_composition_nodes():
    assert isinstance(parse("0.5 * cosine(1, 0, 10)"), Scale)
    assert isinstance(parse("cosine(1, 0, 10) * cosine(1, 0, 10)"), Product)
    chained = parse("0.5 * cosine(1, 0, 10) * 2")
    assert chained == scale(scale(cosine(1.0, 0.0, 10), 0.5), 2.0)


def test_step_alias_is_a_staircase_exponential():
    s = parse("step(0.1, 0.5, 30)")
    assert s == exponential(0.1, 0.5, every=30, staircase=True)
    assert str(s) == "exponential(0.1, 0.5, every=30, staircase=true)"


def test_parsed_schedule_evaluates():
    s = parse("warmup(10, cosine(1.0, 0.0, 100))")
    assert s(5) == 0.5
    assert s(110) == 0.0


def test_package_docstring_example():
    s = lrlab.parse("warmup(715, cosine(6e-4, 6e-5, 18358))")
    assert (s(0), s(715), s(19073)) == (0.0, 0.0006, 6e-05)


# ---------------------------------------------------------------------------------------
# printing
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (cosine(6e-4, 6e-5, 18358), "cosine(0.0006, 6e-05, 18358)"),
        (constant(1), "constant(1.0)"),
        (constant(0.1, steps="5%"), "constant(0.1, steps='5%')"),
        (polynomial(1.0, 0.0, 100, power=2), "polynomial(1.0, 0.0, 100, power=2.0)"),
        (linear(0.0, 1.0, 715.2557373046875), "linear(0.0, 1.0, 715.2557373046875)"),
        (multistep(0.1, [30, 60, 80], gamma=0.1), "multistep(0.1, [30, 60, 80], gamma=0.1)"),
        (exponential(1.0, half_life=100), "exponential(1.0, 0.5, every=100)"),
        (scale(cosine(1.0, 0.0, 10), 0.5), "scale(cosine(1.0, 0.0, 10), 0.5)"),
        (join(linear(0.0, 1.0, 10), cosine(1.0, 0.0, 10)),
         "join(linear(0.0, 1.0, 10), cosine(1.0, 0.0, 10))"),
        (warmup(715, cosine(6e-4, 6e-5, 18358)), "warmup(715, cosine(0.0006, 6e-05, 18358))"),
        (sgdr(1.0, 10, cycles=3), "sgdr(1.0, 10, cycles=3)"),
        (onecycle(1.0, 100, three_phase=True), "onecycle(1.0, 100, three_phase=true)"),
        (clamp(exponential(1.0, 0.5), high=0.5), "clamp(exponential(1.0, 0.5), high=0.5)"),
    ],
)
def test_str_is_the_compact_text_form(schedule, text):
    assert str(schedule) == text
    assert repr(schedule) == text


# ---------------------------------------------------------------------------------------
# round trips of one schedule of every family
# ---------------------------------------------------------------------------------------

EVERY_FAMILY = [
    constant(3e-4),
    constant(3e-4, steps=100),
    linear(0.0, 6e-4, 715),
    cosine(6e-4, 6e-5, 18358),
    one_minus_sqrt(3e-4, 0.0, 4800),
    one_minus_square(3e-4, 0.0, 4800),
    polynomial(1e-3, 1e-5, 1000, power=0.5),
    geometric(3e-4, 3e-5, 4000),
    exponential(0.1, 0.99),
    exponential(0.1, 0.5, every=7.5, staircase=True, floor=1e-4),
    step(0.1, 0.5, 30),
    inverse_sqrt(1e-3, timescale=4000),
    multistep(0.1, [30, 60, 80], gamma=0.1),
    multistep(4.2e-4, ["80%", "90%"], factors=[0.316, 0.1]),
    cyclic(1e-3, 6e-3, 2000, 1000, mode="exp_range", gamma=0.9999),
    cyclic(1e-3, 6e-3, 2000, mode="triangular2"),
    sgdr(0.1, 10, mult=2, floor=1e-4, decay=0.5, cycles=4),
    onecycle(0.1, 1000, pct_start=0.25, anneal="linear", three_phase=True, pct_final=0.6,
             convention="optax"),
    wsd(3e-4, "10B tokens", warmup="375M tokens", cooldown="20%", shape="polynomial", power=2.0,
        floor=3e-5, start=1e-6, warmup_shape="cosine"),
    wsd(3e-4, 10000, cooldown_fraction=0.1),
    piecewise([(0, 0.0), (100, 1e-3), (1000, 1e-4)]),
    warmup(715, cosine(6e-4, 6e-5, 18358), start_factor=1 / 715, ramp=714),
    warmup(100, constant(1.0), start_factor=0.01, shape="geometric"),
    untuned_warmup(cosine(1e-3, 0.0, 10000), beta2=0.95, shape="exponential"),
    join(linear(0.0, 1.0, 10), constant(1.0, 5), cosine(1.0, 0.0, 20)),
    scale(sgdr(1.0, 10), 0.25),
    product(constant(2.0), linear(1.0, 0.0, 10)),
    clamp(exponential(1.0, 0.5), low=0.01, high=0.5),
    limit(inverse_sqrt(1.0), "2ep"),
    offset(sgdr(1.0, 10, decay=0.5), 1e-5),
    add(constant(1e-4), cosine(1e-3, 0.0, 100)),
    shift(cosine(1.0, 0.1, 100), 10),
    quantize(cosine(1.0, 0.0, 1000), "1ep"),
    repeat(linear(1.0, 0.0, 10), times=3),
    one_minus_power(3e-4, 3e-5, 4800, power=3.0),
    tanh(0.1, 1e-3, 100, lb=-6.0, ub=4.0),
    inverse_time(0.1, 0.5, every=10, staircase=True),
    restarts(tanh(0.1, 1e-3, 20), mult=2.0, decay=0.5, times=3, peak=0.1, index="log"),
    warp(cosine(0.1, 1e-3, 100), 2.0),
    extend(polynomial(0.1, 1e-3, "2ep", power=2.0)),
]


@pytest.mark.parametrize("schedule", EVERY_FAMILY, ids=lambda s: s.family)
def test_text_round_trip(schedule):
    text = str(schedule)
    again = parse(text)
    assert again == schedule
    assert hash(again) == hash(schedule)
    assert str(again) == text


@pytest.mark.parametrize("schedule", EVERY_FAMILY, ids=lambda s: s.family)
def test_dict_round_trip_through_json(schedule):
    data = schedule.to_dict()
    assert data["family"] == schedule.family
    again = from_dict(json.loads(json.dumps(data)))
    assert again == schedule
    assert again.to_dict() == data


def test_dict_form_shape():
    assert cosine(1.0, 0.0, 10).to_dict() == {"family": "cosine", "start": 1.0, "end": 0.0, "steps": 10}
    assert join(constant(1.0, 5), constant(0.5)).to_dict() == {
        "family": "join",
        "parts": [{"family": "constant", "lr": 1.0, "steps": 5}, {"family": "constant", "lr": 0.5}],
    }
    assert multistep(0.1, [30], gamma=0.1).to_dict()["milestones"] == [30]


def test_every_family_name_is_round_tripped_here():
    # a family added to the text form must be added to EVERY_FAMILY ('step' prints as
    # exponential)
    assert {s.family for s in EVERY_FAMILY} | {"step", "warmup_cosine"} == set(FAMILIES)


# ---------------------------------------------------------------------------------------
# rejected input: a ValueError (ParseError) whose message says what was expected
# ---------------------------------------------------------------------------------------

REJECTED = [
    ("__import__('os').system('id')", "attribute access"),
    ("().__class__", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
    ("os.system", "attribute access"),
    ("os.system('id')", "attribute access"),
    ("cosine.__globals__", "attribute access"),
    ("lambda: 1", "lambda is not allowed"),
    ("cosine(1, 0, lambda: 10)", "lambda is not allowed"),
    ("[x for x in (1, 2)]", "ListComp is not allowed"),
    ("cosine(1, 0, [x for x in (10,)])", "ListComp is not allowed"),
    ("{x: 1 for x in 'ab'}", "DictComp is not allowed"),
    ("(x for x in (1,))", "GeneratorExp is not allowed"),
    ("f'{1}'", "JoinedStr is not allowed"),
    ("cosine(1, 0, f'{10}')", "JoinedStr is not allowed"),
    ("foo", "unknown name 'foo'"),
    ("cosine(1, 0, steps)", "unknown name 'steps'"),
    ("cosine(1, 0, nan)", "unknown name 'nan'"),
    ("cosine(1, 0, inf)", "unknown name 'inf'"),
    ("foo(1)", "unknown schedule family 'foo'"),
    ("eval('1')", "unknown schedule family 'eval'"),
    ("getattr(cosine, 'x')", "unknown schedule family 'getattr'"),
    ("open('/etc/passwd')", "unknown schedule family 'open'"),
    ("cosine(*[1, 0, 10])", "* and ** arguments are not allowed"),
    ("cosine(1, *[0, 10])", "* and ** arguments are not allowed"),
    ("cosine(**{'start': 1, 'end': 0, 'steps': 10})", "* and ** arguments are not allowed"),
    ("cosine(1, 0, **kwargs)", "* and ** arguments are not allowed"),
    ("cosine", "is a schedule family: call it"),
    ("cosine(1, 0, 10)(5)", "only a schedule family name can be called"),
    ("cosine(1, 0, 10)[0]", "Subscript is not allowed"),
    ("cosine(1, 0, 10) - 1", "BinOp is not allowed"),
    ("cosine(1, 0, 10) ** 2", "BinOp is not allowed"),
    ("cosine(1, 0, 10) if 1 else 2", "IfExp is not allowed"),
    ("not cosine(1, 0, 10)", "UnaryOp is not allowed"),
    ("-cosine(1, 0, 10)", "a sign (+ or -) may only stand before a number"),
    ("cosine(1, 0, -'10')", "a sign (+ or -) may only stand before a number"),
    ("2 * 3", "'*' needs a schedule on at least one side"),
    ("true * cosine(1, 0, 10)", "'*' multiplies a schedule by a number"),
    ("cosine(1, 0, 10) * '2'", "'*' multiplies a schedule by a number"),
    ("{1: 2}", "Dict is not allowed"),
    ("{1}", "Set is not allowed"),
    ("(yield)", "Yield is not allowed"),
    ("await x", "Await is not allowed"),
    ("cosine(1, 0, b'10')", "unexpected value b'10'"),
    ("constant(1j)", "unexpected value 1j"),
    ("...", "unexpected value Ellipsis"),
    ("x := 1", "not a schedule"),
    ("(x := cosine(1, 0, 10))", "NamedExpr is not allowed"),
    ("cosine(1, 0, 10); import os", "not a schedule"),
    ("import os", "not a schedule"),
    ("cosine(1, 0, 10", "not a schedule"),
    ("cosine(1, 0, 10)\x00", "not a schedule"),
    ("", "schedule text is empty"),
    ("   \n ", "schedule text is empty"),
    ("1e-3", "is a value, not a schedule"),
    ("'cosine(1, 0, 10)'", "is a value, not a schedule"),
    ("[cosine(1, 0, 10)]", "is a value, not a schedule"),
    ("cosine(1, 0, 10, shape='linear')", "unexpected keyword argument 'shape'"),
    ("constant(lr=1.0, foo=2)", "parameters are lr, steps"),
    ("warmup(10)", "missing 1 required positional argument: 'then'"),
    ("cosine(1, 0, 10, start=2)", "multiple values for argument 'start'"),
]


@pytest.mark.parametrize(("text", "message"), REJECTED)
def test_rejected_text_says_what_was_expected(text, message):
    with pytest.raises(ParseError) as info:
        parse(text)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["__import__('os').system('id')", "().__class__", "os.system", "lambda: 1", "foo",
     "[x for x in (1,)]", "f'{1}'", "cosine(1, 0, 10) - 1", "", "cosine(1, 0, 10"],
)
def test_messages_show_an_example_of_a_schedule(text):
    with pytest.raises(ParseError, match=r"cosine\(6e-4, 6e-5, 19073\)"):
        parse(text)


def test_typo_suggests_the_family():
    with pytest.raises(ParseError, match="Did you mean 'cosine'") as info:
        parse("cosin(1, 0, 10)")
    assert "Known: " in str(info.value) and "wsd" in str(info.value)
    for typo, right in [("wsdd(1, 100)", "wsd"), ("warmpu(10, constant(1))", "warmup"),
                        ("onecylce(1, 100)", "onecycle"), ("consant(1)", "constant"),
                        ("one_minus_sqr(1, 0, 10)", "one_minus_sqrt")]:
        with pytest.raises(ParseError, match=f"Did you mean '{right}'"):
            parse(typo)


def test_far_from_any_family_has_no_suggestion():
    with pytest.raises(ParseError) as info:
        parse("zzzzzz(1)")
    assert "Did you mean" not in str(info.value)


def test_parameter_values_are_checked_by_the_family():
    with pytest.raises(ValueError, match=r"cosine\.start must be a non-negative"):
        parse("cosine(-1, 0, 10)")
    with pytest.raises(ValueError, match=r"constant\.lr must be a non-negative finite"):
        parse("constant(1e999)")
    with pytest.raises(ValueError, match=r"constant\.lr must be a number"):
        parse("constant(true)")
    with pytest.raises(ValueError, match=r"cosine\.steps"):
        parse("cosine(1, 0, none)")
    with pytest.raises(ValueError, match=r"cosine\.steps"):
        parse("cosine(1, 0, '10 parsecs')")
    with pytest.raises(ValueError, match=r"multistep\.milestones must be strictly increasing"):
        parse("multistep(0.1, [60, 30], gamma=0.1)")


@pytest.mark.parametrize("value", [None, 123, b"cosine(1, 0, 10)", ["cosine(1, 0, 10)"]])
def test_parse_needs_a_str(value):
    with pytest.raises(ParseError, match="must be a str"):
        parse(value)


def test_huge_nesting_is_rejected():
    depth = 70
    calls = "scale(" * depth + "constant(1.0)" + ", 2)" * depth
    with pytest.raises(ParseError, match="nested more than 64 levels"):
        parse(calls)
    with pytest.raises(ParseError, match="nested more than 64 levels"):
        parse("cosine(1, 0, " + "[" * 100 + "]" * 100 + ")")
    with pytest.raises(ParseError, match="nested more than 64 levels"):
        parse("constant(1.0)" + " * 2" * 5000)
    with pytest.raises(ParseError, match="nested"):  # the Python parser's own limit
        parse("scale(" * 2000 + "constant(1.0)" + ", 2)" * 2000)
    with pytest.raises(ParseError, match="nested"):
        parse("constant(" + "-" * 2000 + "1)")
    assert parse("scale(" * 60 + "constant(1.0)" + ", 1)" * 60)(0) == 1.0


def test_unary_operator_flood_is_a_parse_error():
    with pytest.raises(ParseError):
        parse("constant(" + "-" * 10_000 + "1)")


def test_over_long_text_is_rejected():
    with pytest.raises(ParseError, match="longer than 100000 characters"):
        parse("constant(1.0)" + " " * 100_000)


@pytest.mark.parametrize("text", ["constant(1" + "0" * 400 + ")", "cosine(1, 0, 1" + "0" * 400 + ")"])
def test_huge_integer_literal_is_a_value_error(text):
    with pytest.raises(ValueError, match=r"constant\.lr|cosine\.steps"):
        parse(text)


def test_integer_literal_over_python_digit_limit_is_a_parse_error():
    with pytest.raises(ParseError, match="not a schedule"):
        parse("constant(" + "9" * 5000 + ")")


def test_repeated_keyword_is_rejected():
    with pytest.raises(ParseError, match="start"):
        parse("cosine(start=1, end=0, steps=10, start=2)")


def test_long_bad_length_string_is_rejected_quickly():
    text = "cosine(1, 0, '" + "1" * 6000 + "!')"
    began = time.perf_counter()
    with pytest.raises(ValueError, match=r"cosine\.steps"):
        parse(text)
    assert time.perf_counter() - began < 0.5


@pytest.mark.parametrize("text", ["cosine(1, 0, 10if true else 20)", r"cosine(1, 0, '\d')"])
def test_parse_emits_no_syntax_warning(text):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError):
            parse(text)
    assert [str(w.message) for w in caught] == []


# ---------------------------------------------------------------------------------------
# nothing is ever executed
# ---------------------------------------------------------------------------------------


def _payloads(path: str) -> list[str]:
    p = repr(path)
    return [
        f"__import__('pathlib').Path({p}).touch()",
        f"__import__('os').system('touch {path}')",
        f"constant(__import__('os').system('touch {path}'))",
        f"open({p}, 'w')",
        f"cosine(1, 0, open({p}, 'w'))",
        f"cosine(1, 0, 10) * open({p}, 'w')",
        f"exec(\"open({p}, 'w')\")",
        f"eval(\"open({p}, 'w')\")",
        f"compile(\"open({p}, 'w')\", 'x', 'exec')",
        f"[open({p}, 'w') for _ in 'x']",
        f"(lambda: open({p}, 'w'))()",
        f"cosine(1, 0, 10) if open({p}, 'w') else 0",
        f"{{open({p}, 'w')}}",
        f"f'{{open({p}, \"w\")}}'",
        f"cosine(*[open({p}, 'w')])",
        f"cosine(1, 0, **{{'steps': open({p}, 'w')}})",
        f"(x := open({p}, 'w'))",
        f"__builtins__['open']({p}, 'w')",
        f"().__class__.__base__.__subclasses__()[0]({p})",
        f"warmup(10, cosine(1, 0, 10), then=open({p}, 'w'))",
        f"join(constant(1, 5), open({p}, 'w'))",
    ]


def test_payloads_are_rejected_and_create_no_file(tmp_path, monkeypatch):
    target = tmp_path / "pwned"

    def forbidden(*args, **kwargs):
        raise AssertionError("parse called eval/exec")

    real_compile = builtins.compile

    def ast_only(source, filename, mode, flags=0, *args, **kwargs):
        assert flags & ast.PyCF_ONLY_AST, "parse compiled text to bytecode"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    payloads = _payloads(str(target))
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", ast_only)
    rejected = []
    for text in payloads:
        try:
            parse(text)
        except ValueError as error:
            rejected.append(str(error))
        assert not target.exists(), text
    monkeypatch.undo()
    assert len(rejected) == len(payloads)
    assert all(message for message in rejected)
    assert not target.exists()


def test_dict_payloads_are_rejected_and_create_no_file(tmp_path):
    target = tmp_path / "pwned"
    payloads = [
        {"family": "__import__", "name": "os"},
        {"family": "open", "file": str(target), "mode": "w"},
        {"family": "constant", "lr": f"__import__('pathlib').Path({str(target)!r}).touch()"},
        {"family": "cosine", "start": 1, "end": 0, "steps": f"open({str(target)!r}, 'w')"},
        {"family": "constant", "lr": 1, "__class__": "x"},
    ]
    for data in payloads:
        with pytest.raises(ValueError):
            from_dict(data)
        assert not target.exists()


# ---------------------------------------------------------------------------------------
# from_dict errors
# ---------------------------------------------------------------------------------------


def _nested_dict(depth: int) -> dict:
    data: dict = {"family": "constant", "lr": 1.0}
    for _ in range(depth):
        data = {"family": "scale", "schedule": data, "factor": 1.0}
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lr": 1.0}, "needs a 'family' key"),
        ({"family": "cosin", "start": 1.0}, "Did you mean 'cosine'"),
        ({"family": 3}, "unknown schedule family '3'"),
        ({"family": None}, "unknown schedule family"),
        ([1, 2], "expected a dict with a 'family' key"),
        ("cosine(1, 0, 10)", "expected a dict with a 'family' key"),
        (None, "expected a dict with a 'family' key"),
        ({"family": "join", "parts": [], "extra": 1}, "exactly one key besides 'family': 'parts'"),
        ({"family": "cosine", "start": 1, "end": 0, "steps": 10, "bogus": 1},
         "unexpected keyword argument 'bogus'"),
        ({"family": "cosine", "start": {1, 2}, "end": 0, "steps": 10}, "unexpected set"),
        ({"family": "cosine", "start": 1, "end": 0}, "missing 1 required positional argument"),
        (_nested_dict(100), "nested more than 64 levels"),
    ],
)
def test_bad_dicts(data, message):
    with pytest.raises(ParseError) as info:
        from_dict(data)
    assert message in str(info.value)


def test_dict_values_are_checked_by_the_family():
    with pytest.raises(ValueError, match=r"constant\.lr must be a number"):
        from_dict({"family": "constant", "lr": {"family": "constant", "lr": 1.0}})
    with pytest.raises(ValueError, match=r"cosine\.steps"):
        from_dict({"family": "cosine", "start": 1.0, "end": 0.0, "steps": -1})
    with pytest.raises(ValueError, match=r"join\.parts\[0\]"):
        from_dict({"family": "join", "parts": [1.0]})


# ---------------------------------------------------------------------------------------
# fuzz: any text or JSON either parses or raises a ValueError, never anything else
# ---------------------------------------------------------------------------------------

_VALID_TEXTS = [str(s) for s in EVERY_FAMILY]


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(
    st.text(max_size=60),
    st.text(alphabet="cosinewarmup()[]*,.=-+0123456789e'% _", max_size=60),
    st.tuples(st.sampled_from(_VALID_TEXTS), st.integers(0, 200), st.integers(0, 10), st.text(max_size=5))
    .map(lambda v: v[0][: v[1]] + v[3] + v[0][v[1] + v[2]:]),
))
def test_any_text_parses_or_raises_a_value_error(text):
    try:
        result = parse(text)
    except ValueError:
        return
    assert isinstance(result, Schedule)
    assert parse(str(result)) == result


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=False),
              st.text(max_size=8), st.sampled_from(sorted(FAMILIES))),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["family", "start", "end", "steps", "lr", "parts",
                                         "schedule", "factor", "then", "milestones", "gamma"]),
                        children, max_size=5),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(_json, st.sampled_from(EVERY_FAMILY).map(lambda s: s.to_dict())))
def test_any_json_loads_or_raises_a_value_error(data):
    try:
        result = from_dict(data)
    except ValueError:
        return
    assert isinstance(result, Schedule)
    assert from_dict(result.to_dict()) == result
