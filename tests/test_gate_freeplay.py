"""Specification of the gate for Freeplay: evaluation checks, the suite verdict, target errors.

A Freeplay snapshot lists one run per test case (the target's output, recorded or not), the platform's
evaluation summaries (``criteria``) and, for a suite run, the platform's own verdict. A server-side suite
run lists no test cases at all: checks on runs cannot be evaluated there, but its verdict and evaluations
can. Everything stays fail-closed: a null verdict, an ambiguous or absent criterion, an unfinished run is
never a pass.

Thresholds are built directly (not through the compiler) so these tests pin the gate alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from runner.gate import evaluate, evaluate_gate, exit_code_for
from runner.model import (
    CheckStatus,
    CriterionSummary,
    ExitCode,
    FailureKind,
    GateExecution,
    GateFailure,
    GateStatus,
    ResultSnapshot,
    RunRecord,
)
from runner.thresholds import Aggregate, Comparison, EvaluationCheck, MetricCheck, Op, Thresholds
from tests.test_gate import at_least, cmp

# --- factories ------------------------------------------------------------------------------------


def case(number: int, *, error: str | None = None, label: str = "Case") -> RunRecord:
    """One test case as the orchestrator records it: recorded output, or a target error."""
    return RunRecord(
        run_id=f"tc-{number:03d}",
        scenario=label,
        scenario_id=None,
        personality=None,
        status="completed",
        terminal=True,
        success=error is None,
        infra_error=error is not None,
        reasons=() if error is None else (error, "stderr (tail):\nTraceback ...\nValueError: boom"),
        transcript='"an answer"' if error is None else None,
    )


def cases(recorded: int, errors: int = 0) -> tuple[RunRecord, ...]:
    made = [case(i) for i in range(1, recorded + 1)]
    made += [case(recorded + i, error=f"target exited with status {i}") for i in range(1, errors + 1)]
    return tuple(made)


ACCURACY = CriterionSummary("auto", "Answer Accuracy", passed=6, failed=2, average=0.85)
CLIENT_ACCURACY = CriterionSummary("client", "Answer Accuracy", scalar=0.9)
FAITHFULNESS = CriterionSummary("human", "Faithfulness", histogram=(("no", 1), ("yes", 7)))
CRITERIA = (ACCURACY, FAITHFULNESS)


def fp_snapshot(
    *records: RunRecord,
    criteria: tuple[CriterionSummary, ...] = CRITERIA,
    status: str = "complete",
    total: int | None = None,
    suite: bool = False,
    passed: bool | None = None,
) -> ResultSnapshot:
    terminal = status in ("complete", "failed")
    return ResultSnapshot(
        result_id="3f0c",
        status=status,
        terminal=terminal,
        succeeded=status == "complete",
        url="https://app.freeplay.example/test-runs/3f0c",
        total_runs=len(records) if total is None else total,
        runs=records,
        criteria=criteria,
        verdict_expected=suite,
        verdict_passed=passed,
    )


def server_suite(passed: bool | None, **kw: Any) -> ResultSnapshot:
    kw.setdefault("total", 10)
    return fp_snapshot(suite=True, passed=passed, **kw)


def fp_execution(snap: ResultSnapshot | None, failure: GateFailure | None = None) -> GateExecution:
    return GateExecution("golden", "freeplay", "dataset golden-set", snap, failure, duration_s=3.0)


def evaluation(
    criterion: str,
    aggregate: Aggregate,
    comparison: Comparison,
    *,
    source: str | None = None,
    labels: tuple[str, ...] = (),
) -> EvaluationCheck:
    agg = f"rate({', '.join(labels)})" if aggregate is Aggregate.RATE else aggregate.value
    key = f"{source}:{criterion}" if source else criterion
    return EvaluationCheck(
        criterion,
        source,
        aggregate,
        labels,
        comparison,
        f"{agg} {comparison.text}",
        f"evaluation.{key}.{agg}",
    )


ACCURACY_90 = evaluation("Answer Accuracy", Aggregate.PASS_RATE, at_least(90), source="auto")


NONE = Thresholds()


def judge(snap: ResultSnapshot, thresholds: Thresholds = NONE) -> Any:
    return evaluate_gate(fp_execution(snap), thresholds)


def verdict_of(*snaps: ResultSnapshot, thresholds: Thresholds = NONE) -> Any:
    return evaluate(
        [(fp_execution(snap), thresholds) for snap in snaps],
        started_at="2026-11-26T10:00:00Z",
        duration_s=1.0,
        config_path="regate.yaml",
        version="0.1.0",
    )


# --- evaluation checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "status", "summary"),
    [
        pytest.param(
            ACCURACY_90,
            CheckStatus.FAILED,
            "evaluation.auto:Answer Accuracy.pass_rate 75.0% (6/8 auto evaluations)"
            " — required pass_rate >= 90%",
            id="pass-rate-breach",
        ),
        pytest.param(
            evaluation("Answer Accuracy", Aggregate.PASS_RATE, at_least(75)),
            CheckStatus.PASSED,
            "evaluation.Answer Accuracy.pass_rate 75.0% (6/8 auto evaluations) — required pass_rate >= 75%",
            id="pass-rate-at-threshold-passes",
        ),
        pytest.param(
            evaluation("faithfulness", Aggregate.RATE, at_least(80), labels=("yes",)),
            CheckStatus.PASSED,
            "evaluation.faithfulness.rate(yes) 87.5% (7/8 human evaluations) — required rate(yes) >= 80%",
            id="rate-of-a-label-case-insensitive-name",
        ),
        pytest.param(
            evaluation("Answer Accuracy", Aggregate.MEAN, cmp(Op.GE, 0.9)),
            CheckStatus.FAILED,
            "evaluation.Answer Accuracy.mean 0.85 (8 auto evaluations) — required mean >= 0.9",
            id="mean-of-the-average-score",
        ),
        pytest.param(
            evaluation("Faithfulness", Aggregate.COUNT, cmp(Op.GE, 10)),
            CheckStatus.FAILED,
            "evaluation.Faithfulness.count 8 human evaluations — required count >= 10",
            id="too-few-evaluations",
        ),
        pytest.param(
            evaluation("Relevance", Aggregate.MEAN, cmp(Op.GE, 4)),
            CheckStatus.INCONCLUSIVE,
            "evaluation.Relevance.mean inconclusive: criterion 'Relevance' not found in any evaluation"
            " (criteria: auto:Answer Accuracy, human:Faithfulness) — required mean >= 4",
            id="absent-criterion",
        ),
        pytest.param(
            evaluation("Faithfulness", Aggregate.MEAN, cmp(Op.GE, 4)),
            CheckStatus.INCONCLUSIVE,
            "evaluation.Faithfulness.mean inconclusive: labels no, yes are not numeric; mean needs numbers"
            " (use pass_rate) — required mean >= 4",
            id="aggregate-that-does-not-fit",
        ),
    ],
)
def test_evaluation_checks_compare_the_platforms_summaries(
    check: EvaluationCheck, status: CheckStatus, summary: str
) -> None:
    result = judge(fp_snapshot(*cases(8)), Thresholds(evaluations=(check,))).checks[0]
    assert (result.check_id, result.expression) == (check.check_id, check.text)
    assert (result.status, result.summary) == (status, summary)
    if status is CheckStatus.INCONCLUSIVE:
        assert (result.observed, result.observed_text, result.error_type) == (None, "n/a", "GateInconclusive")


def test_a_name_in_two_sources_is_ambiguous_until_the_source_is_written() -> None:
    snap = fp_snapshot(*cases(8), criteria=(ACCURACY, CLIENT_ACCURACY))
    bare = evaluation("Answer Accuracy", Aggregate.PASS_RATE, at_least(70))
    verdict = judge(snap, Thresholds(evaluations=(bare, ACCURACY_90)))
    ambiguous, sourced = verdict.checks
    assert ambiguous.status is CheckStatus.INCONCLUSIVE
    assert ambiguous.summary == (
        "evaluation.Answer Accuracy.pass_rate inconclusive: ambiguous: found in auto and client evaluations;"
        " write auto:Answer Accuracy or client:Answer Accuracy — required pass_rate >= 70%"
    )
    assert sourced.status is CheckStatus.FAILED
    assert verdict.status is GateStatus.FAILED


def test_evaluation_details_show_the_criterion_and_target_errors_are_noted() -> None:
    """The platform evaluated only the recorded cases: the summary says how many were left out."""
    result = judge(fp_snapshot(*cases(8, errors=2)), Thresholds(evaluations=(ACCURACY_90,))).checks[0]
    assert result.summary.endswith(
        "— required pass_rate >= 90%; 2 test cases evaluated on a target error instead of an answer"
    )
    assert result.details == "auto:Answer Accuracy: pass 6, fail 2, average 0.85"


def test_a_gate_with_passing_evaluations_passes() -> None:
    thresholds = Thresholds(evaluations=(evaluation("Faithfulness", Aggregate.PASS_RATE, at_least(80)),))
    verdict = verdict_of(fp_snapshot(*cases(8)), thresholds=thresholds)
    assert (verdict.gates[0].status, verdict.exit_code) == (GateStatus.PASSED, ExitCode.OK)


# --- the suite verdict ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("passed", "status", "summary"),
    [
        pytest.param(
            True,
            CheckStatus.PASSED,
            "suite.passed true (platform verdict, 10 test cases) — required passed",
            id="true-passes",
        ),
        pytest.param(
            False,
            CheckStatus.FAILED,
            "suite.passed false (platform verdict, 10 test cases) — required passed",
            id="false-fails",
        ),
        pytest.param(
            None,
            CheckStatus.INCONCLUSIVE,
            "suite.passed inconclusive: the platform gave no verdict (passed is null) — required passed",
            id="null-is-inconclusive",
        ),
    ],
)
def test_the_suite_verdict_is_a_check_of_its_own(
    passed: bool | None, status: CheckStatus, summary: str
) -> None:
    """Added whenever the platform gives a verdict, even with no thresholds (and then alone)."""
    for snap in (server_suite(passed), fp_snapshot(*cases(10), suite=True, passed=passed)):
        verdict = judge(snap)
        assert [(c.check_id, c.expression, c.status) for c in verdict.checks] == [
            ("suite.passed", "passed", status)
        ]
        assert verdict.checks[0].summary == summary
        assert verdict.checks[0].observed == {True: 1.0, False: 0.0, None: None}[passed]


def test_the_suite_verdict_comes_first_and_lists_the_evaluations() -> None:
    verdict = judge(server_suite(False), Thresholds(evaluations=(ACCURACY_90,)))
    assert [c.check_id for c in verdict.checks] == [
        "suite.passed",
        "evaluation.auto:Answer Accuracy.pass_rate",
    ]
    assert verdict.checks[0].details.splitlines() == [
        "auto:Answer Accuracy: pass 6, fail 2, average 0.85",
        "human:Faithfulness: no: 1, yes: 7",
    ]
    assert verdict.reasons[0].startswith("suite.passed false")


def test_without_a_suite_verdict_empty_thresholds_are_still_never_a_pass() -> None:
    verdict = judge(fp_snapshot(*cases(3)))
    assert [(c.check_id, c.status) for c in verdict.checks] == [("thresholds", CheckStatus.INCONCLUSIVE)]


# --- a server-side suite run: no per-case results -------------------------------------------------

RUN_CHECKS = Thresholds(
    success_rate=at_least(90),
    max_failed_runs=0,
    max_infra_errors=0,
    max_target_errors=0,
    metrics=(
        MetricCheck("accuracy", Aggregate.MEAN, (), cmp(Op.GE, 0.5), "mean >= 0.5", "metric.accuracy.mean"),
    ),
    evaluations=(evaluation("Faithfulness", Aggregate.PASS_RATE, at_least(80)),),
)


def test_a_server_side_suite_run_evaluates_its_verdict_and_evaluations_but_not_runs() -> None:
    verdict = judge(server_suite(True), RUN_CHECKS)
    statuses = {c.check_id: c.status for c in verdict.checks}
    assert statuses == {
        "suite.passed": CheckStatus.PASSED,
        "success_rate": CheckStatus.INCONCLUSIVE,
        "max_failed_runs": CheckStatus.INCONCLUSIVE,
        "max_infra_errors": CheckStatus.INCONCLUSIVE,
        "max_target_errors": CheckStatus.INCONCLUSIVE,
        "metric.accuracy.mean": CheckStatus.INCONCLUSIVE,
        "evaluation.Faithfulness.pass_rate": CheckStatus.PASSED,
    }
    success_rate = verdict.checks[1]
    assert success_rate.summary == (
        "success_rate inconclusive: a server-side suite run has no per-case results — required >= 90%"
    )
    assert verdict.status is GateStatus.ERROR  # a check that cannot be evaluated is never a pass
    assert success_rate.summary in verdict.reasons


def test_platform_counters_of_a_server_side_suite_are_not_compared_with_runs_it_never_lists() -> None:
    """10 test cases and 7 successes counted by the platform, none listed: no contradiction, just no runs."""
    snap = dataclasses.replace(server_suite(True), success_runs=7, success_rate=0.7)
    assert judge(snap).status is GateStatus.PASSED


@pytest.mark.parametrize(
    ("snap", "fragment"),
    [
        pytest.param(server_suite(True, total=0), "no runs: nothing was tested", id="zero-test-cases"),
        pytest.param(
            fp_snapshot(suite=True, passed=True, total=0),
            "no runs: nothing was tested",
            id="client-suite-no-cases",
        ),
        pytest.param(fp_snapshot(*cases(0)), "no runs: nothing was tested", id="empty-dataset"),
        pytest.param(
            fp_snapshot(*cases(3), suite=True, passed=True, total=5),
            "the platform counts 5 runs but the result lists 3",
            id="client-suite-missing-cases",
        ),
    ],
)
def test_without_test_cases_nothing_is_evaluated(snap: ResultSnapshot, fragment: str) -> None:
    verdict = judge(snap, Thresholds(evaluations=(ACCURACY_90,)))
    assert verdict.status is GateStatus.ERROR
    for result in verdict.checks:
        assert result.status is CheckStatus.INCONCLUSIVE
        assert fragment in result.summary


@pytest.mark.parametrize(
    ("gate_execution", "error_type", "fragment"),
    [
        pytest.param(
            fp_execution(server_suite(None, status="in-progress")),
            "InfraError",
            "never reached a terminal status (last status 'in-progress', 10 test cases run by the platform)",
            id="suite-still-in-progress",
        ),
        pytest.param(
            fp_execution(server_suite(True, status="failed")),
            "InfraError",
            "ended with platform status 'failed'",
            id="suite-run-failed-even-if-passed-true",
        ),
        pytest.param(
            fp_execution(
                fp_snapshot(*cases(8), status="in-progress"), GateFailure(FailureKind.TIMEOUT, "30m")
            ),
            "Timeout",
            "30m (8/8 runs finished)",
            id="evaluations-never-completed",
        ),
    ],
)
def test_an_unfinished_freeplay_run_is_an_error(
    gate_execution: GateExecution, error_type: str, fragment: str
) -> None:
    thresholds = Thresholds(evaluations=(ACCURACY_90,))
    verdict = evaluate_gate(gate_execution, thresholds)
    assert verdict.status is GateStatus.ERROR
    for result in verdict.checks:
        assert (result.status, result.error_type) == (CheckStatus.ERROR, error_type)
        assert fragment in result.summary


# --- target errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "limit", "status", "summary"),
    [
        pytest.param(
            cases(9, errors=1),
            0,
            CheckStatus.FAILED,
            "max_target_errors 1 target error (of 10 test cases) — required <= 0",
            id="one-over-zero",
        ),
        pytest.param(
            cases(8, errors=2),
            2,
            CheckStatus.PASSED,
            "max_target_errors 2 target errors (of 10 test cases) — required <= 2",
            id="at-the-limit",
        ),
        pytest.param(
            cases(5),
            0,
            CheckStatus.PASSED,
            "max_target_errors 0 target errors (of 5 test cases) — required <= 0",
            id="none",
        ),
    ],
)
def test_max_target_errors_counts_cases_without_a_recorded_output(
    records: tuple[RunRecord, ...], limit: int, status: CheckStatus, summary: str
) -> None:
    result = judge(fp_snapshot(*records), Thresholds(max_target_errors=limit)).checks[0]
    assert (result.check_id, result.expression, result.status, result.summary) == (
        "max_target_errors",
        f"<= {limit}",
        status,
        summary,
    )


def test_target_errors_are_listed_with_their_error() -> None:
    verdict = judge(fp_snapshot(*cases(8, errors=2)), Thresholds(max_target_errors=0))
    assert verdict.checks[0].details.splitlines() == [
        "target error: Case #09: target exited with status 1",
        "target error: Case #10: target exited with status 2",
    ]
    assert "Case #09: target exited with status 1" in verdict.reasons


# --- exit codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snaps", "code"),
    [
        pytest.param((server_suite(True),), ExitCode.OK, id="server-suite-passed-is-0"),
        pytest.param((server_suite(False),), ExitCode.REGRESSION, id="server-suite-failed-is-1"),
        pytest.param((server_suite(None),), ExitCode.INCOMPLETE, id="server-suite-without-verdict-is-3"),
        pytest.param((server_suite(True, total=0),), ExitCode.INCOMPLETE, id="server-suite-of-nothing-is-3"),
        pytest.param(
            (server_suite(True), fp_snapshot(*cases(0))), ExitCode.INCOMPLETE, id="with-an-empty-dataset"
        ),
        pytest.param(
            (fp_snapshot(*cases(10), suite=True, passed=True),), ExitCode.OK, id="client-suite-passed-is-0"
        ),
    ],
)
def test_exit_code_of_suite_runs(snaps: tuple[ResultSnapshot, ...], code: ExitCode) -> None:
    verdict = verdict_of(*snaps)
    assert verdict.exit_code is code
    bad = [c for g in verdict.gates for c in g.checks if c.status is not CheckStatus.PASSED]
    assert (verdict.exit_code is ExitCode.OK) == (not bad)  # the JUnit invariant


def test_a_passed_gate_without_runs_is_green_only_for_a_server_side_suite() -> None:
    """exit_code_for itself, not only evaluate: "no runs at all" excludes a suite over >= 1 test case."""
    suite = judge(server_suite(True))
    assert (suite.status, suite.runs) == (GateStatus.PASSED, ())
    assert exit_code_for([suite]) is ExitCode.OK
    not_a_suite = judge(fp_snapshot(total=10, criteria=(), suite=False))
    hollow = type(suite)(
        suite.name, suite.provider, suite.target, GateStatus.PASSED, suite.checks, (), not_a_suite.execution
    )
    assert exit_code_for([hollow]) is ExitCode.INCOMPLETE
