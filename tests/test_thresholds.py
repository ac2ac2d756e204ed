"""The threshold language: what compiles to what, what is rejected and with which words, and how a gate's
thresholds merge over the defaults.

Rates are written ``90%`` or ``0.9``; a bare number above 1 is never read as a percentage. Normalised
texts keep the user's form; check ids are stable and unique per metric.
"""

from __future__ import annotations

import pytest

from runner.errors import ThresholdSyntaxError
from runner.thresholds import (
    Aggregate,
    Comparison,
    EvaluationCheck,
    MetricCheck,
    Op,
    Thresholds,
    compile_thresholds,
    merge_thresholds,
)


def check(expr: object, metric: str = "M") -> MetricCheck:
    (only,) = compile_thresholds({"metrics": {metric: expr}}).metrics
    return only


def success_rate(raw: object) -> Comparison:
    compiled = compile_thresholds({"success_rate": raw}).success_rate
    assert compiled is not None
    return compiled


# --- success_rate ------------------------------------------------------------------------------------

SUCCESS_RATES = [
    # raw YAML value, normalised text, op, value, percent
    pytest.param(">= 90%", ">= 90%", Op.GE, 0.9, True, id="percent"),
    pytest.param(">= 0.9", ">= 0.9", Op.GE, 0.9, False, id="fraction"),
    pytest.param(0.9, ">= 0.9", Op.GE, 0.9, False, id="bare-yaml-float-means-at-least"),
    pytest.param("90%", ">= 90%", Op.GE, 0.9, True, id="bare-percent-means-at-least"),
    pytest.param(1, ">= 1", Op.GE, 1.0, False, id="bare-one-is-everything"),
    pytest.param(0, ">= 0", Op.GE, 0.0, False, id="bare-zero"),
    pytest.param(">=90 %", ">= 90%", Op.GE, 0.9, True, id="whitespace-tolerant"),
    pytest.param("  >  99.5%  ", "> 99.5%", Op.GT, 0.995, True, id="decimal-percent"),
    pytest.param("== 100%", "== 100%", Op.EQ, 1.0, True, id="equal"),
    pytest.param("!= 0", "!= 0", Op.NE, 0.0, False, id="not-equal"),
    pytest.param("<= .5", "<= 0.5", Op.LE, 0.5, False, id="leading-dot"),
    pytest.param("< 1e-1", "< 0.1", Op.LT, 0.1, False, id="exponent"),
]


@pytest.mark.parametrize(("raw", "text", "op", "value", "percent"), SUCCESS_RATES)
def test_success_rate_compiles_to_a_normalised_comparison(
    raw: object, text: str, op: Op, value: float, percent: bool
) -> None:
    """success_rate is a rate, with an optional operator (``>=`` when omitted)."""
    assert success_rate(raw) == Comparison(op, pytest.approx(value), percent, text)  # type: ignore[arg-type]


def test_percent_values_are_stored_as_fractions_exactly() -> None:
    """``90%`` holds for an observed 0.9: the stored value is 90/100, not 0.9000000001."""
    assert success_rate("90%").value == 0.9
    assert success_rate("90%").holds(0.9)
    assert not success_rate("> 90%").holds(0.9)


# --- metric checks -----------------------------------------------------------------------------------

CHECKS = [
    # expression, normalised text, op, value, percent, aggregate, labels
    pytest.param("p50 <= 2000", "p50 <= 2000", Op.LE, 2000.0, False, Aggregate.P50, (), id="p50"),
    pytest.param(
        "P95<4000", "p95 < 4000", Op.LT, 4000.0, False, Aggregate.P95, (), id="no-spaces-upper-case"
    ),
    pytest.param(
        "p90 <= 1500.0", "p90 <= 1500", Op.LE, 1500.0, False, Aggregate.P90, (), id="p90-integral-float"
    ),
    pytest.param("p99 < 9000", "p99 < 9000", Op.LT, 9000.0, False, Aggregate.P99, (), id="p99"),
    pytest.param("mean >= 4", "mean >= 4", Op.GE, 4.0, False, Aggregate.MEAN, (), id="mean"),
    pytest.param(
        "Mean >= 80%", "mean >= 80%", Op.GE, 0.8, True, Aggregate.MEAN, (), id="mean-percent-of-scale"
    ),
    pytest.param("min > -0.5", "min > -0.5", Op.GT, -0.5, False, Aggregate.MIN, (), id="min-negative"),
    pytest.param("max <= 12000", "max <= 12000", Op.LE, 12000.0, False, Aggregate.MAX, (), id="max"),
    pytest.param("count >= 10", "count >= 10", Op.GE, 10.0, False, Aggregate.COUNT, (), id="count"),
    pytest.param("count == 0", "count == 0", Op.EQ, 0.0, False, Aggregate.COUNT, (), id="count-zero"),
    pytest.param(
        "pass_rate >= 95%", "pass_rate >= 95%", Op.GE, 0.95, True, Aggregate.PASS_RATE, (), id="pass-rate"
    ),
    pytest.param(
        "PASS_RATE>0.5", "pass_rate > 0.5", Op.GT, 0.5, False, Aggregate.PASS_RATE, (), id="pass-rate-0-1"
    ),
    pytest.param(
        "rate(positive, neutral) >= 80%",
        "rate(positive, neutral) >= 80%",
        Op.GE,
        0.8,
        True,
        Aggregate.RATE,
        ("positive", "neutral"),
        id="rate-two-labels",
    ),
    pytest.param(
        "RATE( yes ) < 0.25",
        "rate(yes) < 0.25",
        Op.LT,
        0.25,
        False,
        Aggregate.RATE,
        ("yes",),
        id="rate-one-label",
    ),
    pytest.param(
        "rate(\"very happy\", 'so-so',ok) >= 50%",
        'rate("very happy", so-so, ok) >= 50%',
        Op.GE,
        0.5,
        True,
        Aggregate.RATE,
        ("very happy", "so-so", "ok"),
        id="rate-quoted-labels",
    ),
]


@pytest.mark.parametrize(("expr", "text", "op", "value", "percent", "aggregate", "labels"), CHECKS)
def test_metric_check_compiles(
    expr: str, text: str, op: Op, value: float, percent: bool, aggregate: Aggregate, labels: tuple[str, ...]
) -> None:
    """``<aggregate> <op> <number>[%]``: aggregates are case-insensitive, whitespace is optional."""
    compiled = check(expr)
    assert compiled.text == text
    assert compiled.aggregate is aggregate
    assert compiled.labels == labels
    assert compiled.comparison.op is op
    assert compiled.comparison.value == pytest.approx(value)
    assert compiled.comparison.percent is percent
    assert compiled.text.endswith(f" {compiled.comparison.text}")


def test_metrics_by_name_or_id_accept_one_check_or_a_list() -> None:
    """An integer key names a metric by id and becomes text; a list gives several checks in order."""
    compiled = compile_thresholds(
        {
            "metrics": {
                "Latency": ["p50 <= 2000", "p95 < 4000"],
                "Customer Satisfaction": "mean >= 4",
                12: "pass_rate >= 95%",
                "Sentiment": "rate(positive, neutral) >= 80%",
            }
        }
    )
    assert [(c.metric, c.text, c.check_id) for c in compiled.metrics] == [
        ("Latency", "p50 <= 2000", "metric.Latency.p50"),
        ("Latency", "p95 < 4000", "metric.Latency.p95"),
        ("Customer Satisfaction", "mean >= 4", "metric.Customer Satisfaction.mean"),
        ("12", "pass_rate >= 95%", "metric.12.pass_rate"),
        ("Sentiment", "rate(positive, neutral) >= 80%", "metric.Sentiment.rate(positive,neutral)"),
    ]


def test_two_checks_with_the_same_aggregate_get_unique_ids_in_order() -> None:
    """A band ("p50 >= 100" and "p50 <= 2000") keeps both checks; the second id gets ``#2``."""
    ids = [
        c.check_id
        for c in compile_thresholds({"metrics": {"L": ["p50 >= 100", "p50 <= 2000", "p50 != 7"]}}).metrics
    ]
    assert ids == ["metric.L.p50", "metric.L.p50#2", "metric.L.p50#3"]


def test_counts_and_limits() -> None:
    compiled = compile_thresholds({"max_failed_runs": 2, "max_infra_errors": 0, "max_target_errors": 3})
    assert (compiled.max_failed_runs, compiled.max_infra_errors, compiled.max_target_errors) == (2, 0, 3)


# --- evaluation checks (Freeplay) --------------------------------------------------------------------

EVALUATIONS = [
    # key as written, expression, source, criterion, normalised text, check id
    pytest.param(
        "Answer Accuracy",
        "pass_rate >= 90%",
        None,
        "Answer Accuracy",
        "pass_rate >= 90%",
        "evaluation.Answer Accuracy.pass_rate",
        id="any-source",
    ),
    pytest.param(
        "auto:Helpfulness",
        "mean >= 4",
        "auto",
        "Helpfulness",
        "mean >= 4",
        "evaluation.auto:Helpfulness.mean",
        id="auto",
    ),
    pytest.param(
        "human: Tone",
        "rate(friendly, 'very friendly') >= 75%",
        "human",
        "Tone",
        'rate(friendly, "very friendly") >= 75%',
        'evaluation.human: Tone.rate(friendly,"very friendly")',
        id="human-blank-after-colon-and-quoted-label",
    ),
    pytest.param(
        "CLIENT:exact_match",
        "count >= 5",
        "client",
        "exact_match",
        "count >= 5",
        "evaluation.CLIENT:exact_match.count",
        id="source-case-insensitive-id-as-written",
    ),
    pytest.param(
        "Faithfulness",
        "rate(yes) >= 0.8",
        None,
        "Faithfulness",
        "rate(yes) >= 0.8",
        "evaluation.Faithfulness.rate(yes)",
        id="rate-fraction",
    ),
    pytest.param(
        "auto:Tone:formal",
        "pass_rate > 50%",
        "auto",
        "Tone:formal",
        "pass_rate > 50%",
        "evaluation.auto:Tone:formal.pass_rate",
        id="colon-in-the-criterion-after-a-source",
    ),
    pytest.param(
        "Score (0-5): overall",
        "p50 >= 3",
        None,
        "Score (0-5): overall",
        "p50 >= 3",
        "evaluation.Score (0-5): overall.p50",
        id="colon-after-more-than-a-word-is-part-of-the-name",
    ),
    pytest.param(12, "mean >= 80%", None, "12", "mean >= 80%", "evaluation.12.mean", id="integer-key"),
]


@pytest.mark.parametrize(("key", "expr", "source", "criterion", "text", "check_id"), EVALUATIONS)
def test_evaluation_check_compiles(
    key: object, expr: str, source: str | None, criterion: str, text: str, check_id: str
) -> None:
    """``[source:]criterion`` -> an EvaluationCheck with the metric checks' grammar; the id keeps the key."""
    (compiled,) = compile_thresholds({"evaluations": {key: expr}}).evaluations
    assert (compiled.source, compiled.criterion, compiled.text, compiled.check_id) == (
        source,
        criterion,
        text,
        check_id,
    )


def test_evaluation_checks_keep_the_rate_rules_and_store_fractions() -> None:
    (check,) = compile_thresholds({"evaluations": {"A": "pass_rate >= 90%"}}).evaluations
    assert check == EvaluationCheck(
        criterion="A",
        source=None,
        aggregate=Aggregate.PASS_RATE,
        labels=(),
        comparison=Comparison(Op.GE, 0.9, True, ">= 90%"),
        text="pass_rate >= 90%",
        check_id="evaluation.A.pass_rate",
    )


def test_evaluations_take_lists_and_de_duplicate_ids_per_key() -> None:
    compiled = compile_thresholds(
        {
            "evaluations": {
                "auto:Helpfulness": ["mean >= 4", "count >= 5", "mean <= 5"],
                "Helpfulness": "mean >= 3",  # another key: its own ids, no "#2"
            }
        }
    )
    assert [c.check_id for c in compiled.evaluations] == [
        "evaluation.auto:Helpfulness.mean",
        "evaluation.auto:Helpfulness.count",
        "evaluation.auto:Helpfulness.mean#2",
        "evaluation.Helpfulness.mean",
    ]
    assert compiled.metrics == ()


def test_no_evaluations_is_empty() -> None:
    assert compile_thresholds({"evaluations": {}}).is_empty
    assert compile_thresholds({"evaluations": None}).is_empty
    assert not compile_thresholds({"max_target_errors": 0}).is_empty


def test_nothing_compiles_to_empty_thresholds() -> None:
    """``thresholds:`` with no value, ``{}`` and ``metrics: {}`` all mean "no checks" (config then fails
    closed with success_rate >= 100%)."""
    assert compile_thresholds(None).is_empty
    assert compile_thresholds({}).is_empty
    assert compile_thresholds({"metrics": {}}).is_empty
    assert compile_thresholds({"metrics": None}).is_empty


# --- errors ------------------------------------------------------------------------------------------

ERRORS = [
    # thresholds mapping, key, message, hint
    pytest.param(
        {"success_rate": 90},
        "success_rate",
        "rate 90 is above 1: a rate without % is a fraction",
        "write 90% or 0.9",
        id="bare-90-is-not-9000-percent",
    ),
    pytest.param(
        {"success_rate": ">= 90"},
        "success_rate",
        "rate 90 is above 1: a rate without % is a fraction",
        "write 90% or 0.9",
        id="expression-90-without-percent",
    ),
    pytest.param(
        {"success_rate": "95.5"},
        "success_rate",
        "rate 95.5 is above 1: a rate without % is a fraction",
        "write 95.5% or 0.955",
        id="decimal-without-percent",
    ),
    pytest.param(
        {"success_rate": 150},
        "success_rate",
        "rate 150 is above 1: a rate without % is a fraction",
        "a rate is between 0 and 1, or between 0% and 100%",
        id="above-100",
    ),
    pytest.param(
        {"success_rate": ">= 120%"},
        "success_rate",
        "rate 120% is above 100%",
        "a rate is between 0 and 1, or between 0% and 100%",
        id="percent-above-100",
    ),
    pytest.param(
        {"success_rate": ">= -10%"},
        "success_rate",
        "rate -10% is negative",
        "a rate is between 0 and 1, or between 0% and 100%",
        id="negative-rate",
    ),
    pytest.param(
        {"success_rate": True},
        "success_rate",
        "expected a rate such as '>= 90%' or 0.9, got a boolean (true)",
        "write success_rate: \">= 90%\" (quoted: YAML reads a leading '>' as a block scalar)",
        id="boolean",
    ),
    pytest.param(
        {"success_rate": "p50 >= 3"},
        "success_rate",
        "expected a rate such as '>= 90%' or 0.9, found 'p50'",
        "success_rate is the share of passed runs; checks on metrics go under 'metrics'",
        id="aggregate-in-success-rate",
    ),
    pytest.param(
        {"success_rate": "=> 90%"},
        "success_rate",
        "unknown operator '=>'",
        "did you mean '>='?",
        id="reversed-operator",
    ),
    pytest.param(
        {"success_rate": "≥ 90%"},
        "success_rate",
        "unknown operator '≥'",
        "did you mean '>='?",
        id="unicode-operator",
    ),
    pytest.param(
        {"success_rate": ">= 90% of runs"},
        "success_rate",
        "unexpected 'of runs' at the end of '>= 90% of runs'",
        "one string holds one comparison; put several checks in a list",
        id="trailing-words",
    ),
    pytest.param(
        {"success_rate": ">= ninety"},
        "success_rate",
        "expected a number after '>=', found 'ninety'",
        'write e.g. ">= 90%", "<= 2000" or ">= 0.9"',
        id="not-a-number",
    ),
    pytest.param(
        {"metrics": {"Latency": "p59 <= 2000"}},
        "metrics.Latency",
        "unknown aggregate 'p59'",
        "did you mean 'p99'?",
        id="unknown-aggregate-did-you-mean",
    ),
    pytest.param(
        {"metrics": {"Latency": "average <= 2000"}},
        "metrics.Latency",
        "unknown aggregate 'average'",
        "aggregates: mean, min, max, p50, p90, p95, p99, count, pass_rate, rate(<label>, ...)",
        id="unknown-aggregate-listing",
    ),
    pytest.param(
        {"metrics": {"Latency": ["p50 <= 2000", "p95 = 4000"]}},
        "metrics.Latency[1]",
        "unknown operator '='",
        "did you mean '=='?",
        id="single-equals-in-list-item",
    ),
    pytest.param(
        {"metrics": {"Latency": "p95 4000"}},
        "metrics.Latency",
        "expected an operator (>=, >, <=, <, ==, !=) after 'p95', found '4000'",
        'write e.g. "p95 <= 2000"',
        id="missing-operator",
    ),
    pytest.param(
        {"metrics": {"Latency": "p95 <="}},
        "metrics.Latency",
        "expected a number after '<=', found the end of the expression",
        'write e.g. ">= 90%", "<= 2000" or ">= 0.9"',
        id="missing-number",
    ),
    pytest.param(
        {"metrics": {"Latency": "p95 <= 2000ms"}},
        "metrics.Latency",
        "unexpected 'ms' at the end of 'p95 <= 2000ms'",
        "thresholds take no units: write the number in the metric's own unit",
        id="units",
    ),
    pytest.param(
        {"metrics": {"CSAT": ">= 4"}},
        "metrics.CSAT",
        "missing aggregate before '>='",
        "start with an aggregate; aggregates: mean, min, max, p50, p90, p95, p99, count, pass_rate, "
        "rate(<label>, ...)",
        id="missing-aggregate",
    ),
    pytest.param(
        {"metrics": {"CSAT": ""}},
        "metrics.CSAT",
        "empty threshold expression",
        'write e.g. "mean >= 4" or "p95 <= 2000"',
        id="empty-expression",
    ),
    pytest.param(
        {"metrics": {"Passed": "pass_rate >= 95"}},
        "metrics.Passed",
        "rate 95 is above 1: a rate without % is a fraction",
        "write 95% or 0.95",
        id="pass-rate-without-percent",
    ),
    pytest.param(
        {"metrics": {"Sentiment": "rate(positive) >= 80"}},
        "metrics.Sentiment",
        "rate 80 is above 1: a rate without % is a fraction",
        "write 80% or 0.8",
        id="label-rate-without-percent",
    ),
    pytest.param(
        {"metrics": {"Sentiment": "rate >= 80%"}},
        "metrics.Sentiment",
        "rate needs enum labels: rate(<label>, ...)",
        'e.g. "rate(positive, neutral) >= 80%"; the share of passed runs is pass_rate',
        id="rate-without-labels",
    ),
    pytest.param(
        {"metrics": {"Sentiment": "rate() >= 80%"}},
        "metrics.Sentiment",
        "rate(...) needs at least one label, found ')'",
        'e.g. "rate(positive, neutral) >= 80%"',
        id="rate-empty-parentheses",
    ),
    pytest.param(
        {"metrics": {"Sentiment": "rate(positive >= 80%"}},
        "metrics.Sentiment",
        "expected ',' or ')' in rate(...), found '>='",
        'e.g. "rate(positive, neutral) >= 80%"',
        id="rate-unclosed-parenthesis",
    ),
    pytest.param(
        {"metrics": {"Sentiment": 'rate("positive) >= 80%'}},
        "metrics.Sentiment",
        'unclosed " in rate(...)',
        'e.g. "rate(positive, neutral) >= 80%"',
        id="rate-unclosed-quote",
    ),
    pytest.param(
        {"metrics": {"Runs": "count >= 50%"}},
        "metrics.Runs",
        "count is a number of runs and takes no %",
        'write a whole number, e.g. "count >= 10"; for a share of runs use pass_rate or rate(...)',
        id="count-with-percent",
    ),
    pytest.param(
        {"metrics": {"Runs": "count >= 2.5"}},
        "metrics.Runs",
        "count takes a whole number >= 0, got 2.5",
        None,
        id="count-fraction",
    ),
    pytest.param(
        {"metrics": {"Latency": []}},
        "metrics.Latency",
        "no checks for metric 'Latency'",
        'write at least one check such as "p95 <= 2000", or remove the metric',
        id="empty-list",
    ),
    pytest.param(
        {"metrics": {"CSAT": 4}},
        "metrics.CSAT",
        "expected a check or a list of checks, got 4",
        'write e.g. "mean >= 4" or ["p50 <= 2000", "p95 < 4000"]',
        id="number-instead-of-check",
    ),
    pytest.param(
        {"metrics": {"CSAT": ["mean >= 4", 5]}},
        "metrics.CSAT[1]",
        "expected a check such as 'mean >= 4', got 5",
        "a check is a string '<aggregate> <op> <number>[%]'",
        id="number-in-list",
    ),
    pytest.param(
        {"metrics": ["p50 <= 2000"]},
        "metrics",
        "metrics must be a mapping of metric name or id to checks, got a list",
        'e.g. metrics: {Latency: "p95 <= 2000"}',
        id="metrics-as-list",
    ),
    pytest.param(
        {"max_failed_runs": -1},
        "max_failed_runs",
        "expected a whole number >= 0, got -1",
        "e.g. max_failed_runs: 0",
        id="negative-limit",
    ),
    pytest.param(
        {"max_infra_errors": "0"},
        "max_infra_errors",
        "expected a whole number >= 0, got the string '0'",
        "e.g. max_infra_errors: 0",
        id="limit-as-string",
    ),
    pytest.param(
        {"evaluations": {"Answer Accuracy": "pass_rate >= 90"}},
        "evaluations.Answer Accuracy",
        "rate 90 is above 1: a rate without % is a fraction",
        "write 90% or 0.9",
        id="evaluation-rate-without-percent",
    ),
    pytest.param(
        {"evaluations": {"Faithfulness": ["count >= 5", "rate(yes) >= 80"]}},
        "evaluations.Faithfulness[1]",
        "rate 80 is above 1: a rate without % is a fraction",
        "write 80% or 0.8",
        id="evaluation-label-rate-without-percent-in-list",
    ),
    pytest.param(
        {"evaluations": {"A": "avg >= 4"}},
        "evaluations.A",
        "unknown aggregate 'avg'",
        "aggregates: mean, min, max, p50, p90, p95, p99, count, pass_rate, rate(<label>, ...)",
        id="evaluation-unknown-aggregate",
    ),
    pytest.param(
        {"evaluations": {"robot:Helpfulness": "mean >= 4"}},
        "evaluations.robot:Helpfulness",
        "unknown evaluation source 'robot' in 'robot:Helpfulness'",
        "sources: auto, human, client; a criterion whose name contains ':' is written with its source,"
        " e.g. 'auto:robot:Helpfulness'",
        id="evaluation-unknown-source",
    ),
    pytest.param(
        {"evaluations": {"autos:Helpfulness": "mean >= 4"}},
        "evaluations.autos:Helpfulness",
        "unknown evaluation source 'autos' in 'autos:Helpfulness'",
        "did you mean 'auto'?",
        id="evaluation-source-typo",
    ),
    pytest.param(
        {"evaluations": {"auto:": "mean >= 4"}},
        "evaluations.auto:",
        "empty criterion name",
        'name an evaluation criterion, e.g. "Answer Accuracy" or "auto:Helpfulness"',
        id="evaluation-source-without-criterion",
    ),
    pytest.param(
        {"evaluations": {" ": "mean >= 4"}},
        "evaluations. ",
        "empty criterion name",
        'name an evaluation criterion, e.g. "Answer Accuracy" or "auto:Helpfulness"',
        id="evaluation-blank-criterion",
    ),
    pytest.param(
        {"evaluations": {"A": []}},
        "evaluations.A",
        "no checks for evaluation 'A'",
        'write at least one check such as "pass_rate >= 90%", or remove the evaluation',
        id="evaluation-without-checks",
    ),
    pytest.param(
        {"evaluations": {"A": 0.9}},
        "evaluations.A",
        "expected a check or a list of checks, got 0.9",
        'write e.g. "pass_rate >= 90%" or ["mean >= 4", "count >= 5"]',
        id="evaluation-number-instead-of-check",
    ),
    pytest.param(
        {"evaluations": ["pass_rate >= 90%"]},
        "evaluations",
        "evaluations must be a mapping of evaluation criterion to checks, got a list",
        'e.g. evaluations: {"Answer Accuracy": "pass_rate >= 90%"}',
        id="evaluations-as-list",
    ),
    pytest.param(
        {"max_target_errors": 1.5},
        "max_target_errors",
        "expected a whole number >= 0, got 1.5",
        "e.g. max_target_errors: 0",
        id="target-errors-fraction",
    ),
    pytest.param(
        {"succes_rate": "90%"},
        "succes_rate",
        "unknown key 'succes_rate'",
        "did you mean 'success_rate'?",
        id="unknown-key",
    ),
    pytest.param(
        ["success_rate"],
        "",
        "thresholds must be a mapping (success_rate, max_failed_runs, max_infra_errors, metrics, evaluations,"
        " max_target_errors), got a list",
        None,
        id="not-a-mapping",
    ),
]


@pytest.mark.parametrize(("raw", "key", "message", "hint"), ERRORS)
def test_bad_thresholds_are_rejected_with_a_located_message_and_hint(
    raw: object, key: str, message: str, hint: str | None
) -> None:
    """Every message names what is wrong; ``key`` is the path below ``thresholds`` (config adds the rest
    and the line); the hint says how to fix it."""
    with pytest.raises(ThresholdSyntaxError) as info:
        compile_thresholds(raw)
    assert (info.value.key, info.value.message, info.value.hint) == (key, message, hint)


# --- merge -------------------------------------------------------------------------------------------

DEFAULTS = compile_thresholds(
    {
        "success_rate": ">= 90%",
        "max_infra_errors": 0,
        "metrics": {"Latency": ["p50 <= 2000", "p95 < 4000"], "CSAT": "mean >= 4"},
    }
)


def texts(thresholds: Thresholds) -> list[str]:
    return [f"{c.metric}: {c.text}" for c in thresholds.metrics]


def test_merge_lets_gate_values_win_key_by_key() -> None:
    gate = compile_thresholds({"success_rate": 0.95, "max_failed_runs": 1})
    merged = merge_thresholds(DEFAULTS, gate)
    assert merged.success_rate == gate.success_rate
    assert merged.max_failed_runs == 1
    assert merged.max_infra_errors == 0  # kept from the defaults
    assert merged.metrics == DEFAULTS.metrics


def test_merge_replaces_all_checks_of_the_same_metric_in_place_and_keeps_the_others() -> None:
    """The gate's "Latency" checks replace both default Latency checks (at their position); CSAT stays;
    a metric only the gate names comes last."""
    gate = compile_thresholds({"metrics": {"Sentiment": "rate(positive) >= 50%", "Latency": "p95 <= 3000"}})
    assert texts(merge_thresholds(DEFAULTS, gate)) == [
        "Latency: p95 <= 3000",
        "CSAT: mean >= 4",
        "Sentiment: rate(positive) >= 50%",
    ]


EVALUATION_DEFAULTS = compile_thresholds(
    {
        "max_target_errors": 0,
        "evaluations": {
            "Answer Accuracy": "pass_rate >= 80%",
            "auto:Helpfulness": ["mean >= 3", "count >= 1"],
            "Faithfulness": "rate(yes) >= 70%",
        },
    }
)


def test_merge_replaces_evaluations_per_key_in_place_and_overrides_max_target_errors() -> None:
    """The gate's auto:Helpfulness checks replace both default ones; a bare "Helpfulness" is another key
    (any source) and is added; max_target_errors is the gate's."""
    gate = compile_thresholds(
        {
            "max_target_errors": 2,
            "evaluations": {"Helpfulness": "mean >= 4", "auto:Helpfulness": "mean >= 4.5"},
        }
    )
    merged = merge_thresholds(EVALUATION_DEFAULTS, gate)
    assert [c.check_id for c in merged.evaluations] == [
        "evaluation.Answer Accuracy.pass_rate",
        "evaluation.auto:Helpfulness.mean",
        "evaluation.Faithfulness.rate(yes)",
        "evaluation.Helpfulness.mean",
    ]
    assert merged.evaluations[1].comparison.value == 4.5
    assert merged.max_target_errors == 2
    assert merge_thresholds(EVALUATION_DEFAULTS, Thresholds()).max_target_errors == 0


def test_merge_keeps_metrics_and_evaluations_apart() -> None:
    """A metric and an evaluation with the same name are different checks."""
    gate = compile_thresholds({"metrics": {"Faithfulness": "mean >= 1"}})
    merged = merge_thresholds(EVALUATION_DEFAULTS, gate)
    assert merged.evaluations == EVALUATION_DEFAULTS.evaluations
    assert [c.check_id for c in merged.metrics] == ["metric.Faithfulness.mean"]


def test_merge_with_empty_sides_is_identity() -> None:
    assert merge_thresholds(DEFAULTS, Thresholds()) == DEFAULTS
    assert merge_thresholds(Thresholds(), DEFAULTS) == DEFAULTS
    assert merge_thresholds(EVALUATION_DEFAULTS, Thresholds()) == EVALUATION_DEFAULTS
    assert merge_thresholds(Thresholds(), EVALUATION_DEFAULTS) == EVALUATION_DEFAULTS
    assert merge_thresholds(Thresholds(), Thresholds()).is_empty
