"""The threshold language on any input: a compiled ``Thresholds`` or one ``ThresholdSyntaxError`` with a key.

``compile_thresholds`` sees whatever YAML made of a ``thresholds:`` mapping -- any scalar, list or mapping,
and strings that look almost like expressions. It either compiles them or raises ``ThresholdSyntaxError``
whose ``key`` is the path of the wrong value below ``thresholds`` (the config turns it into a file line),
with a one-line message. And the language is stable: a check's normalised ``text`` compiles back to the same
check, so messages and reports can quote it and a user pasting it back gets exactly what they had.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runner.errors import ThresholdSyntaxError
from runner.thresholds import (
    EVALUATION_SOURCES,
    THRESHOLD_KEYS,
    Aggregate,
    EvaluationCheck,
    MetricCheck,
    Op,
    Thresholds,
    compile_thresholds,
)
from tests.property.strategies import PROFILE, hostile_text

# Pieces of the grammar, and the mistakes people make with them, shuffled into almost-expressions.
TOKENS = (
    ">=", ">", "<=", "<", "==", "!=", "=>", "=<", "<>", "=", "≥", "≤", "≠", "!",
    "mean", "MIN", "max", "p50", "P90", "p95", "p99", "count", "pass_rate", "rate", "Rate", "p100", "avg",
    "(", ")", ",", "'", '"', "%", "%%",
    "0", "1", "90", "0.9", "100", "101", "1e3", "1E-2", ".5", "5.", "-1", "+2", "1e999", "nan", "inf",
    "1_000",
    "-", "+", ".", "e", " ", "  ", "\t", "\n", "\u00a0", "ms", "s", "positive", "neutral", "yes",
)  # fmt: skip
almost_expressions = st.lists(st.sampled_from(TOKENS), max_size=10).map("".join)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    almost_expressions,
    hostile_text(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(almost_expressions, hostile_text(12), st.integers()), children, max_size=4),
    ),
    max_leaves=12,
)
names = st.one_of(
    st.sampled_from(
        ("Latency", "Customer Satisfaction", "12", "auto:Helpfulness", "human:Tone:formal", "x:y")
    ),
    hostile_text(15),
)
check_lists = st.dictionaries(
    names, st.one_of(almost_expressions, st.lists(almost_expressions, max_size=3), values)
)
threshold_mappings = st.one_of(
    values,
    st.fixed_dictionaries(
        {},
        optional={
            "success_rate": st.one_of(almost_expressions, scalars),
            "max_failed_runs": scalars,
            "max_infra_errors": scalars,
            "max_target_errors": scalars,
            "metrics": st.one_of(check_lists, values),
            "evaluations": st.one_of(check_lists, values),
        },
    ),
    st.dictionaries(st.one_of(st.sampled_from(THRESHOLD_KEYS), hostile_text(12)), values, max_size=3),
)


def assert_well_formed(thresholds: Thresholds) -> None:
    """What a compiled check promises: rates are fractions, counts whole, every number finite."""
    if thresholds.success_rate is not None:
        assert 0.0 <= thresholds.success_rate.value <= 1.0
    for limit in (thresholds.max_failed_runs, thresholds.max_infra_errors, thresholds.max_target_errors):
        assert limit is None or (isinstance(limit, int) and limit >= 0)
    checks: tuple[MetricCheck | EvaluationCheck, ...] = (*thresholds.metrics, *thresholds.evaluations)
    for check in checks:
        value = check.comparison.value
        assert math.isfinite(value)
        if check.aggregate in (Aggregate.PASS_RATE, Aggregate.RATE):
            assert 0.0 <= value <= 1.0
        if check.aggregate is Aggregate.RATE:
            assert check.labels and all(label.strip() for label in check.labels)
        if check.aggregate is Aggregate.COUNT:
            assert value >= 0 and value.is_integer() and not check.comparison.percent
    ids = [check.check_id for check in checks]
    assert len(ids) == len(set(ids)), "check ids are unique"
    for evaluation in thresholds.evaluations:
        assert evaluation.source in (None, *EVALUATION_SOURCES)
        assert evaluation.criterion.strip()


def compile_or_error(raw: object) -> Thresholds | ThresholdSyntaxError:
    try:
        return compile_thresholds(raw)
    except ThresholdSyntaxError as exc:
        return exc


@settings(PROFILE, max_examples=300)
@given(raw=threshold_mappings)
@example(raw={"success_rate": "90"})
@example(raw={"success_rate": ">= 1e999%"})
@example(raw={"metrics": {"Latency": ["p50 <= 2000", None]}})
@example(raw={"metrics": {"x": "rate('a)"}})
@example(raw={"evaluations": {"bogus:Name": "mean >= 1"}})
@example(raw={"max_failed_runs": True})
def test_any_thresholds_value_compiles_or_names_its_key(raw: Any) -> None:
    """Any value compiles to well-formed thresholds or raises ThresholdSyntaxError whose key is the path
    of the wrong value ("" for the mapping itself) and whose message is one line."""
    outcome = compile_or_error(raw)
    if isinstance(outcome, Thresholds):
        assert_well_formed(outcome)
        return
    assert outcome.message and "\n" not in outcome.message and "\r" not in outcome.message
    assert isinstance(outcome.key, str)
    written = {str(key) for key in raw} if isinstance(raw, dict) else set()
    assert (
        outcome.key == ""
        or outcome.key in THRESHOLD_KEYS
        or outcome.key in written
        or outcome.key.startswith(("metrics.", "evaluations."))
    ), outcome.key


@settings(PROFILE, max_examples=200)
@given(
    text=st.one_of(almost_expressions, hostile_text()), section=st.sampled_from(("metrics", "evaluations"))
)
@example(text="rate(,) >= 1%", section="metrics")
@example(text="count >= 2.5", section="metrics")
@example(text="p95 <= 3 s", section="metrics")
def test_any_check_string_compiles_or_points_at_itself(text: str, section: str) -> None:
    """One check string on a metric or criterion: a check, or an error keyed at that very entry."""
    outcome = compile_or_error({section: {"Latency": text}})
    if isinstance(outcome, Thresholds):
        assert_well_formed(outcome)
    else:
        assert outcome.key == f"{section}.Latency"


@settings(PROFILE, max_examples=200)
@given(text=st.one_of(almost_expressions, hostile_text()))
def test_any_success_rate_string_compiles_or_points_at_it(text: str) -> None:
    """success_rate: a comparison with a rate in 0..1, or an error keyed ``success_rate``."""
    outcome = compile_or_error({"success_rate": text})
    if isinstance(outcome, Thresholds):
        assert_well_formed(outcome)
    else:
        assert outcome.key == "success_rate"


# --- round trip -----------------------------------------------------------------------------------------


def written_number(value: float, style: str) -> str:
    """``value`` as a user may write it: shortest repr, fixed point, exponent, or with a sign."""
    return {
        "repr": repr(value),
        "fixed": f"{value:.6f}",
        "exp": f"{value:e}",
        "plus": f"+{value!r}" if value >= 0 else repr(value),
    }[style]


@st.composite
def comparisons(draw: st.DrawFn, aggregate: Aggregate) -> str:
    """``<op> <number>[%]`` valid for ``aggregate``, spaced any way the grammar allows."""
    op = draw(st.sampled_from([op.value for op in Op]))
    percent = False
    if aggregate in (Aggregate.PASS_RATE, Aggregate.RATE):
        percent = draw(st.booleans())
        number = draw(st.floats(0, 100 if percent else 1))
    elif aggregate is Aggregate.COUNT:
        number = float(draw(st.integers(0, 10**6)))
    else:
        percent = draw(st.booleans())
        number = draw(st.floats(-1e12, 1e12))
    text = written_number(number, draw(st.sampled_from(("repr", "fixed", "exp", "plus"))))
    space = st.sampled_from(("", " ", "  ", "\t"))
    return f"{op}{draw(space)}{text}{draw(space)}{'%' if percent else ''}"


labels = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.:+-]{1,8}", fullmatch=True),
    st.text(st.characters(exclude_characters="\"'"), min_size=1, max_size=8).filter(str.strip),
)


def written_label(label: str) -> st.SearchStrategy[str]:
    if label.isascii() and label.replace("_", "").isalnum():
        return st.sampled_from((label, f'"{label}"', f"'{label}'"))
    return st.sampled_from((f'"{label}"', f"'{label}'"))


@st.composite
def checks(draw: st.DrawFn) -> str:
    """A valid check as a user could write it: any aggregate (in any case), labels bare or quoted."""
    aggregate = draw(st.sampled_from(list(Aggregate)))
    name = draw(st.sampled_from((aggregate.value, aggregate.value.upper(), aggregate.value.title())))
    if aggregate is Aggregate.RATE:
        chosen = draw(st.lists(labels, min_size=1, max_size=3))
        written = [draw(written_label(label)) for label in chosen]
        sep = draw(st.sampled_from((",", ", ", " , ")))
        name += draw(st.sampled_from(("", " "))) + "(" + sep.join(written) + ")"
    return f"{draw(st.sampled_from(('', ' ')))}{name} {draw(comparisons(aggregate))}"


def recompiled(check: MetricCheck | EvaluationCheck, section: str, key: str) -> MetricCheck | EvaluationCheck:
    thresholds = compile_thresholds({section: {key: check.text}})
    (again,) = thresholds.metrics if section == "metrics" else thresholds.evaluations
    return again


@settings(PROFILE, max_examples=200)
@given(
    expression=checks(),
    section=st.sampled_from(("metrics", "evaluations")),
    key=st.sampled_from(("Latency", "12", "auto:Answer Accuracy", "human:Tone:formal", "Sentiment")),
)
@example(expression="rate(positive, 'very good') >= 80%", section="metrics", key="Sentiment")
@example(expression="mean >= 1e16", section="metrics", key="Latency")
@example(expression="p50 <= -0.0", section="metrics", key="Latency")
def test_a_check_text_compiles_back_to_the_same_check(expression: str, section: str, key: str) -> None:
    """For any valid check, compiling its normalised ``text`` gives an equal check (same aggregate,
    labels, operator, value, percent flag, text and id): the text is a faithful, stable spelling."""
    thresholds = compile_thresholds({section: {key: expression}})
    assert_well_formed(thresholds)
    (check,) = thresholds.metrics if section == "metrics" else thresholds.evaluations
    again = recompiled(check, section, key)
    assert again == check
    assert recompiled(again, section, key).text == check.text


@settings(PROFILE, max_examples=100)
@given(comparison=comparisons(Aggregate.PASS_RATE), bare=st.booleans())
def test_a_success_rate_text_compiles_back_to_the_same_comparison(comparison: str, bare: bool) -> None:
    """success_rate's normalised text (">= 90%") compiles back to the same comparison; a bare rate (without
    operator) means ">=" and normalises to the same text as writing it."""
    written = comparison.lstrip("<>=! ") if bare else comparison
    compiled = compile_thresholds({"success_rate": written}).success_rate
    assert compiled is not None
    again = compile_thresholds({"success_rate": compiled.text}).success_rate
    assert again == compiled
    if bare:
        assert compiled.op is Op.GE


@settings(PROFILE, max_examples=60)
@given(rate=st.one_of(st.floats(0, 1), st.integers(0, 1)))
def test_a_numeric_success_rate_is_a_fraction(rate: float) -> None:
    """A YAML number for success_rate is a fraction meaning ">=", and its text compiles back to it."""
    compiled = compile_thresholds({"success_rate": rate}).success_rate
    assert compiled is not None and compiled.op is Op.GE and compiled.value == rate
    assert compile_thresholds({"success_rate": compiled.text}).success_rate == compiled


# --- known bugs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [10**400, -(10**400)], ids=["huge", "huge-negative"])
def test_an_integer_success_rate_beyond_float_range_is_a_syntax_error(rate: int) -> None:
    """An integer too large for a float is a rate above 1 (or negative): a ThresholdSyntaxError."""
    with pytest.raises(ThresholdSyntaxError) as raised:
        compile_thresholds({"success_rate": rate})
    assert raised.value.key == "success_rate"


def test_a_nan_success_rate_is_a_syntax_error() -> None:
    """``success_rate: .nan`` is not a rate: a ThresholdSyntaxError keyed ``success_rate``."""
    with pytest.raises(ThresholdSyntaxError) as raised:
        compile_thresholds({"success_rate": float("nan")})
    assert raised.value.key == "success_rate"
