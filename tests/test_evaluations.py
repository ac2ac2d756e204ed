"""Specification of the evaluation statistics: which Freeplay criterion a check reads, and what it adds up to.

Freeplay's ``summary_statistics`` gives each criterion in one of three shapes (api-contracts §C-13): (a)
pass/fail counts with an average, (b) a histogram of labels, (c) one scalar. Every aggregate either has a
meaning on a shape or is inconclusive with a hint; nothing that cannot be computed is ever a number.

Checks are built directly (not through the threshold compiler) so these tests pin the statistics alone.
"""

from __future__ import annotations

import random

import pytest

from runner.aggregates import percentile
from runner.evaluations import (
    Shape,
    criterion_of,
    describe_criterion,
    evaluate_criterion,
    find_criterion,
    shape_of,
    weighted_percentile,
)
from runner.model import CriterionSummary
from runner.thresholds import Aggregate, Comparison, EvaluationCheck, Op


def crit(
    name: str,
    source: str = "auto",
    *,
    passed: int | None = None,
    failed: int | None = None,
    average: float | None = None,
    histogram: tuple[tuple[str, int], ...] = (),
    scalar: float | None = None,
) -> CriterionSummary:
    return CriterionSummary(source, name, passed, failed, average, histogram, scalar)


def cmp(op: Op, value: float, *, percent: bool = False) -> Comparison:
    shown = f"{value * 100:g}%" if percent else f"{value:g}"
    return Comparison(op, value, percent, f"{op.value} {shown}")


def ev(
    name: str,
    aggregate: Aggregate,
    comparison: Comparison | None = None,
    *,
    source: str | None = None,
    labels: tuple[str, ...] = (),
) -> EvaluationCheck:
    comparison = comparison or cmp(Op.GE, 0.5, percent=True)
    agg = f"rate({', '.join(labels)})" if aggregate is Aggregate.RATE else aggregate.value
    key = f"{source}:{name}" if source else name
    return EvaluationCheck(
        name, source, aggregate, labels, comparison, f"{agg} {comparison.text}", f"evaluation.{key}.{agg}"
    )


COUNTS = crit("Accuracy", passed=6, failed=2, average=0.85)
YES_NO = crit("Faithfulness", histogram=(("no", 1), ("YES", 7)))
SCORES = crit("Answer Accuracy", histogram=(("4", 2), ("5", 6)))
SCALAR = crit("accuracy_score", "client", scalar=0.95)
SCALE_5 = crit("Helpfulness", scalar=4.2)
MIXED_LABELS = crit("Tone", histogram=(("formal", 3), ("casual", 1), ("yes", 1)))
ALL = (COUNTS, YES_NO, SCORES, SCALAR, SCALE_5, MIXED_LABELS)
PCT = cmp(Op.GE, 0.5, percent=True)


# --- values: aggregate x shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "observed", "observed_text"),
    [
        # (a) pass/fail/average
        pytest.param(
            ev("Accuracy", Aggregate.PASS_RATE), 0.75, "75.0% (6/8 auto evaluations)", id="a-pass-rate"
        ),
        pytest.param(
            ev("Accuracy", Aggregate.MEAN, cmp(Op.GE, 0.8)), 0.85, "0.85 (8 auto evaluations)", id="a-mean"
        ),
        pytest.param(
            ev("Accuracy", Aggregate.MEAN, PCT), 0.85, "85.0% (8 auto evaluations)", id="a-mean-percent"
        ),
        pytest.param(ev("Accuracy", Aggregate.COUNT, cmp(Op.GE, 5)), 8.0, "8 auto evaluations", id="a-count"),
        pytest.param(
            ev("Accuracy", Aggregate.RATE, labels=("fail",)),
            0.25,
            "25.0% (2/8 auto evaluations)",
            id="a-rate-fail",
        ),
        pytest.param(
            ev("Accuracy", Aggregate.RATE, labels=("Passed",)),
            0.75,
            "75.0% (6/8 auto evaluations)",
            id="a-rate-pass-word",
        ),
        pytest.param(
            ev("Accuracy", Aggregate.RATE, labels=("pass", "fail")),
            1.0,
            "100.0% (8/8 auto evaluations)",
            id="a-rate-both",
        ),
        # (b) histogram of pass/fail words
        pytest.param(
            ev("Faithfulness", Aggregate.PASS_RATE),
            0.875,
            "87.5% (7/8 auto evaluations)",
            id="b-pass-rate-yes-no",
        ),
        pytest.param(
            ev("Faithfulness", Aggregate.COUNT, cmp(Op.GE, 5)), 8.0, "8 auto evaluations", id="b-count"
        ),
        pytest.param(
            ev("Faithfulness", Aggregate.RATE, labels=("no",)),
            0.125,
            "12.5% (1/8 auto evaluations)",
            id="b-rate-label",
        ),
        pytest.param(
            ev("Faithfulness", Aggregate.RATE, labels=("pass",)),
            0.875,
            "87.5% (7/8 auto evaluations)",
            id="b-rate-pass-word-means-yes",
        ),
        # (b) histogram of numeric labels
        pytest.param(
            ev("Answer Accuracy", Aggregate.MEAN, cmp(Op.GE, 4)),
            4.75,
            "4.75 (8 auto evaluations)",
            id="b-mean-weighted",
        ),
        pytest.param(
            ev("Answer Accuracy", Aggregate.MIN, cmp(Op.GE, 4)), 4.0, "4 (8 auto evaluations)", id="b-min"
        ),
        pytest.param(
            ev("Answer Accuracy", Aggregate.MAX, cmp(Op.GE, 4)), 5.0, "5 (8 auto evaluations)", id="b-max"
        ),
        pytest.param(
            ev("Answer Accuracy", Aggregate.P50, cmp(Op.GE, 4)), 5.0, "5 (8 auto evaluations)", id="b-p50"
        ),
        pytest.param(
            ev("Answer Accuracy", Aggregate.P90, cmp(Op.GE, 4)), 5.0, "5 (8 auto evaluations)", id="b-p90"
        ),
        pytest.param(
            ev("Answer Accuracy", Aggregate.RATE, labels=("5",)),
            0.75,
            "75.0% (6/8 auto evaluations)",
            id="b-rate-numeric-label",
        ),
        pytest.param(
            ev("Tone", Aggregate.RATE, labels=("FORMAL", "casual")),
            0.8,
            "80.0% (4/5 auto evaluations)",
            id="b-rate-case-insensitive",
        ),
        # (c) scalar
        pytest.param(
            ev("accuracy_score", Aggregate.MEAN, cmp(Op.GE, 0.9)), 0.95, "0.95 (client score)", id="c-mean"
        ),
        pytest.param(
            ev("accuracy_score", Aggregate.MEAN, PCT), 0.95, "95.0% (client score)", id="c-mean-percent"
        ),
        pytest.param(
            ev("Helpfulness", Aggregate.MEAN, cmp(Op.GE, 4)), 4.2, "4.2 (auto score)", id="c-mean-own-scale"
        ),
    ],
)
def test_each_aggregate_on_each_shape(check: EvaluationCheck, observed: float, observed_text: str) -> None:
    result = evaluate_criterion(check, ALL)
    assert result.problem is None
    assert result.observed == pytest.approx(observed)
    assert result.observed_text == observed_text


@pytest.mark.parametrize(
    ("check", "fragment"),
    [
        # (a)
        pytest.param(
            ev("Accuracy", Aggregate.P50, cmp(Op.GE, 1)),
            "p50 needs a histogram of numeric labels, but auto:Accuracy has pass/fail counts"
            " (use pass_rate or mean)",
            id="a-p50",
        ),
        pytest.param(ev("Accuracy", Aggregate.MIN, cmp(Op.GE, 1)), "min needs a histogram", id="a-min"),
        pytest.param(
            ev("Accuracy", Aggregate.RATE, labels=("maybe",)),
            "has only pass/fail counts, no label maybe (use rate(pass) or rate(fail))",
            id="a-rate-other-label",
        ),
        # (b)
        pytest.param(
            ev("Answer Accuracy", Aggregate.PASS_RATE),
            "labels 4, 5 are not pass/fail; use rate(<labels>) or mean",
            id="b-pass-rate-numeric-labels",
        ),
        pytest.param(
            ev("Tone", Aggregate.PASS_RATE),
            "labels formal, casual, yes are not pass/fail",
            id="b-pass-rate-one-odd-label",
        ),
        pytest.param(
            ev("Faithfulness", Aggregate.MEAN, cmp(Op.GE, 1)),
            "labels no, YES are not numeric; mean needs numbers (use pass_rate)",
            id="b-mean-on-words",
        ),
        pytest.param(
            ev("Tone", Aggregate.P95, cmp(Op.GE, 1)),
            "p95 needs numbers (use rate(<labels>))",
            id="b-p95-on-words",
        ),
        pytest.param(
            ev("Answer Accuracy", Aggregate.MEAN, PCT),
            "a percent compares scores within 0–1, but auto:Answer Accuracy is on another scale (mean 4.75);"
            " write the threshold on its scale, without %",
            id="b-percent-off-scale",
        ),
        # (c)
        pytest.param(
            ev("accuracy_score", Aggregate.PASS_RATE),
            "client:accuracy_score is a single score (0.95), not counts of evaluations;"
            " pass_rate does not apply (use mean)",
            id="c-pass-rate",
        ),
        pytest.param(
            ev("accuracy_score", Aggregate.COUNT, cmp(Op.GE, 1)), "count does not apply", id="c-count"
        ),
        pytest.param(
            ev("accuracy_score", Aggregate.RATE, labels=("pass",)), "rate does not apply", id="c-rate"
        ),
        pytest.param(ev("accuracy_score", Aggregate.P50, cmp(Op.GE, 1)), "p50 does not apply", id="c-p50"),
        pytest.param(
            ev("Helpfulness", Aggregate.MEAN, PCT),
            "auto:Helpfulness is on another scale (mean 4.2)",
            id="c-percent-off-scale",
        ),
        # thresholds that cannot be a rate
        pytest.param(
            ev("Accuracy", Aggregate.PASS_RATE, cmp(Op.GE, 90)),
            "threshold >= 90 is outside 0–100% for a rate",
            id="rate-given-as-90",
        ),
        pytest.param(
            ev("accuracy_score", Aggregate.MEAN, cmp(Op.GE, 1.5, percent=True)),
            "outside 0–100%",
            id="percent-above-100",
        ),
    ],
)
def test_an_aggregate_that_does_not_fit_the_shape_is_inconclusive(
    check: EvaluationCheck, fragment: str
) -> None:
    result = evaluate_criterion(check, ALL)
    assert (result.observed, result.observed_text) == (None, "")
    assert result.problem is not None and fragment in result.problem


@pytest.mark.parametrize(
    ("criterion", "check", "fragment"),
    [
        pytest.param(
            crit("X", passed=0, failed=0, average=0.0),
            ev("X", Aggregate.PASS_RATE),
            "no evaluations recorded for auto:X",
            id="a-zero-pass-rate",
        ),
        pytest.param(
            crit("X", passed=0, failed=0, average=0.0),
            ev("X", Aggregate.MEAN, cmp(Op.GE, 0)),
            "no evaluations recorded for auto:X",
            id="a-zero-mean",
        ),
        pytest.param(
            crit("X", histogram=(("yes", 0), ("no", 0))),
            ev("X", Aggregate.PASS_RATE),
            "no evaluations recorded",
            id="b-zero-pass-rate",
        ),
        pytest.param(
            crit("X", histogram=(("4", 0),)),
            ev("X", Aggregate.MEAN, cmp(Op.GE, 0)),
            "no evaluations recorded",
            id="b-zero-mean",
        ),
        pytest.param(
            crit("X", histogram=(("4", 0),)),
            ev("X", Aggregate.P50, cmp(Op.GE, 0)),
            "no evaluations recorded",
            id="b-zero-p50",
        ),
        pytest.param(
            crit("X", histogram=(("a", 0),)),
            ev("X", Aggregate.RATE, labels=("a",)),
            "no evaluations recorded",
            id="b-zero-rate",
        ),
        pytest.param(
            crit("X", passed=3, average=0.5),
            ev("X", Aggregate.PASS_RATE),
            "auto:X has no fail count",
            id="a-missing-fail-count",
        ),
        pytest.param(
            crit("X", average=0.5),
            ev("X", Aggregate.COUNT, cmp(Op.GE, 0)),
            "auto:X has no pass count",
            id="a-average-only-has-no-count",
        ),
        pytest.param(
            crit("X", passed=3, failed=1),
            ev("X", Aggregate.MEAN, cmp(Op.GE, 0)),
            "auto:X has no average score (use pass_rate)",
            id="a-no-average",
        ),
        pytest.param(
            crit("X", passed=-1, failed=3),
            ev("X", Aggregate.PASS_RATE),
            "auto:X has a negative count",
            id="a-negative",
        ),
        pytest.param(
            crit("X", histogram=(("yes", -1),)),
            ev("X", Aggregate.COUNT, cmp(Op.GE, 0)),
            "auto:X has a negative count",
            id="b-negative",
        ),
        pytest.param(
            crit("X", scalar=float("nan")),
            ev("X", Aggregate.MEAN, cmp(Op.GE, 0)),
            "not a finite number",
            id="c-nan",
        ),
        pytest.param(
            crit("X", passed=1, failed=1, average=float("inf")),
            ev("X", Aggregate.MEAN, cmp(Op.GE, 0)),
            "not a finite number",
            id="a-inf",
        ),
        pytest.param(
            crit("X", histogram=(("nan", 2),)),
            ev("X", Aggregate.MEAN, cmp(Op.GE, 0)),
            "labels nan are not numeric",
            id="b-nan-label-is-not-a-number",
        ),
        pytest.param(crit("X"), ev("X", Aggregate.COUNT, cmp(Op.GE, 0)), "auto:X has no value", id="empty"),
        pytest.param(
            crit("X", passed=1, failed=0, scalar=1.0),
            ev("X", Aggregate.PASS_RATE),
            "auto:X has several shapes",
            id="mixed-shapes",
        ),
    ],
)
def test_missing_zero_or_broken_values_are_inconclusive(
    criterion: CriterionSummary, check: EvaluationCheck, fragment: str
) -> None:
    result = evaluate_criterion(check, (criterion,))
    assert result.observed is None
    assert result.problem is not None and fragment in result.problem


def test_a_zero_count_is_a_value_not_a_problem() -> None:
    """``count`` over no evaluations is 0 (complete data), so ``count >= 5`` can fail on it."""
    result = evaluate_criterion(ev("X", Aggregate.COUNT, cmp(Op.GE, 5)), (crit("X", passed=0, failed=0),))
    assert (result.problem, result.observed, result.observed_text) == (None, 0.0, "0 auto evaluations")


def test_a_rate_of_labels_that_never_occur_is_zero_with_a_note() -> None:
    """A histogram lists only the labels given, so an absent label is 0% -- and said, in case of a typo."""
    result = evaluate_criterion(ev("Faithfulness", Aggregate.RATE, labels=("maybe",)), ALL)
    assert (result.problem, result.observed) == (None, 0.0)
    assert result.notes == ("label maybe not seen (labels: no, YES)",)


def test_details_show_the_criterion_as_recorded() -> None:
    assert evaluate_criterion(ev("Accuracy", Aggregate.PASS_RATE), ALL).lines == (
        "auto:Accuracy: pass 6, fail 2, average 0.85",
    )


def test_shapes_and_descriptions() -> None:
    assert [shape_of(c) for c in (COUNTS, YES_NO, SCALAR, crit("X"))] == [
        Shape.COUNTS,
        Shape.HISTOGRAM,
        Shape.SCALAR,
        Shape.EMPTY,
    ]
    assert [describe_criterion(c) for c in (COUNTS, SCORES, SCALAR, crit("X", passed=2))] == [
        "pass 6, fail 2, average 0.85",
        "4: 2, 5: 6",
        "0.95",
        "pass 2, fail n/a",
    ]


# --- finding the criterion ------------------------------------------------------------------------


SAME_NAME = (
    crit("Answer Accuracy", "auto", passed=6, failed=2),
    crit("Answer Accuracy", "client", scalar=0.9),
    crit("helpfulness", "human", histogram=(("yes", 1),)),
    crit("Tone", "auto", scalar=1.0),
    crit("TONE", "auto", scalar=2.0),
)


@pytest.mark.parametrize(
    ("name", "source", "found"),
    [
        pytest.param(
            "Answer Accuracy", "auto", ("auto", "Answer Accuracy"), id="source-resolves-the-ambiguity"
        ),
        pytest.param(
            "answer accuracy", "client", ("client", "Answer Accuracy"), id="case-insensitive-within-source"
        ),
        pytest.param("Helpfulness", None, ("human", "helpfulness"), id="case-insensitive-across-sources"),
        pytest.param(" helpfulness ", None, ("human", "helpfulness"), id="surrounding-whitespace"),
        pytest.param("Tone", None, ("auto", "Tone"), id="exact-name-beats-case-insensitive"),
        pytest.param("Tone", "AUTO", ("auto", "Tone"), id="source-case-insensitive"),
    ],
)
def test_a_criterion_is_found_by_exact_name_then_case_insensitively(
    name: str, source: str | None, found: tuple[str, str]
) -> None:
    lookup = find_criterion(name, source, SAME_NAME)
    assert lookup.problem is None and lookup.criterion is not None
    assert (lookup.criterion.source, lookup.criterion.name) == found


@pytest.mark.parametrize(
    ("name", "source", "criteria", "problem"),
    [
        pytest.param(
            "Answer Accuracy",
            None,
            SAME_NAME,
            "ambiguous: found in auto and client evaluations;"
            " write auto:Answer Accuracy or client:Answer Accuracy",
            id="ambiguous-across-sources",
        ),
        pytest.param(
            "tone",
            None,
            SAME_NAME,
            "ambiguous: 2 auto criteria match 'tone' (Tone, TONE); write the exact name",
            id="ambiguous-within-a-source",
        ),
        pytest.param(
            "Helpfulness",
            "auto",
            SAME_NAME,
            "criterion 'Helpfulness' not found in auto evaluations; it is there as human:helpfulness",
            id="in-another-source",
        ),
        pytest.param(
            "Latency",
            None,
            SAME_NAME,
            "criterion 'Latency' not found in any evaluation (criteria: auto:Answer Accuracy,"
            " client:Answer Accuracy, human:helpfulness, auto:Tone, auto:TONE)",
            id="absent-lists-what-exists",
        ),
        pytest.param(
            "Latency",
            "human",
            (),
            "criterion 'Latency' not found in human evaluations (no evaluations recorded at all)",
            id="nothing-recorded",
        ),
    ],
)
def test_ambiguous_or_absent_criteria_are_problems(
    name: str, source: str | None, criteria: tuple[CriterionSummary, ...], problem: str
) -> None:
    lookup = find_criterion(name, source, criteria)
    assert (lookup.criterion, lookup.problem) == (None, problem)


def test_an_ambiguous_criterion_makes_the_aggregate_inconclusive() -> None:
    result = evaluate_criterion(ev("Answer Accuracy", Aggregate.PASS_RATE), SAME_NAME)
    assert result.problem is not None and result.problem.startswith("ambiguous: found in auto and client")
    resolved = evaluate_criterion(ev("Answer Accuracy", Aggregate.PASS_RATE, source="auto"), SAME_NAME)
    assert resolved.observed == pytest.approx(0.75)


def test_long_listings_of_criteria_are_bounded() -> None:
    many = tuple(crit(f"c{i}") for i in range(25))
    problem = find_criterion("missing", None, many).problem or ""
    assert problem.endswith("auto:c9, … (15 more))")


@pytest.mark.parametrize(
    ("check_id", "found"),
    [
        pytest.param(
            "evaluation.auto:Answer Accuracy.pass_rate", ("auto", "Answer Accuracy"), id="with-source"
        ),
        pytest.param(
            "evaluation.client:answer accuracy.mean#2", ("client", "Answer Accuracy"), id="numbered"
        ),
        pytest.param("evaluation.helpfulness.rate(yes,no)", ("human", "helpfulness"), id="rate-with-labels"),
        pytest.param("evaluation.Tone.count", ("auto", "Tone"), id="bare-name"),
        pytest.param("evaluation.Answer Accuracy.pass_rate", None, id="ambiguous-resolves-to-nothing"),
        pytest.param("evaluation.Latency.p50", None, id="absent"),
        pytest.param("metric.Tone.count", None, id="not-an-evaluation"),
        pytest.param("evaluation.Tone", None, id="no-aggregate"),
    ],
)
def test_reports_find_the_criterion_of_a_check_id(check_id: str, found: tuple[str, str] | None) -> None:
    criterion = criterion_of(check_id, SAME_NAME)
    assert (None if criterion is None else (criterion.source, criterion.name)) == found


def test_a_criterion_name_with_dots_and_colons() -> None:
    odd = (crit("v1.2:score", "auto", scalar=1.0), crit("a.mean", "auto", scalar=2.0))
    found = criterion_of("evaluation.auto:v1.2:score.mean", odd)
    assert found is not None and found.name == "v1.2:score"
    found = criterion_of("evaluation.a.mean.mean", odd)
    assert found is not None and found.name == "a.mean"


# --- the weighted percentile ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("p", [0.0, 50.0, 90.0, 95.0, 99.0, 100.0])
def test_weighted_percentile_equals_the_percentile_of_the_expanded_values(seed: int, p: float) -> None:
    """Same method as aggregates.percentile (type 7), computed on the counts without expanding them."""
    rng = random.Random(seed)
    pairs = [(float(rng.randint(0, 10)), rng.randint(0, 6)) for _ in range(rng.randint(1, 6))]
    pairs.append((float(rng.randint(0, 10)), 1))  # at least one value
    expanded = [value for value, count in pairs for _ in range(count)]
    assert weighted_percentile(pairs, p) == pytest.approx(percentile(expanded, p))


def test_weighted_percentile_of_huge_counts_needs_no_memory() -> None:
    assert weighted_percentile([(1.0, 10**12), (5.0, 3 * 10**12)], 50) == 5.0
    with pytest.raises(ValueError, match="no values"):
        weighted_percentile([(1.0, 0)], 50)
