"""Specification of the gate: from what the orchestrator learned to one verdict and one exit code.

The gate FAILS CLOSED: missing, partial, unparseable, contradictory or timed-out data is never a pass.
A gate FAILS (exit 1) only when a threshold is breached on complete data; anything that prevents a
verdict makes the gate an ERROR (exit 3). A regression anywhere wins over incomplete data elsewhere.

Thresholds are built directly (not through the compiler) so these tests pin the gate alone.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import replace
from typing import Any

import pytest

from runner.aggregates import format_number, format_percent, percentile
from runner.gate import Judging, evaluate, evaluate_gate, exit_code_for, judge_gate
from runner.model import (
    CheckStatus,
    ExitCode,
    FailureKind,
    GateExecution,
    GateFailure,
    GateStatus,
    GateVerdict,
    MetricKind,
    MetricValue,
    ResultSnapshot,
    RunOutcome,
    RunRecord,
    VerdictStatus,
)
from runner.runs import classify_run, name_runs, natural_key
from runner.thresholds import Aggregate, Comparison, MetricCheck, Op, Thresholds

# --- factories ------------------------------------------------------------------------------------

TERMINAL = {"completed", "failed", "timeout", "cancelled"}
CONSISTENT: Any = object()  # snapshot counters that agree with the runs


def run(
    run_id: str = "1",
    *,
    scenario: str = "Refund",
    scenario_id: str | None = "10",
    personality: str | None = None,
    status: str = "completed",
    terminal: bool | None = None,
    success: bool | None = True,
    infra: bool = False,
    reasons: tuple[str, ...] = (),
    metrics: tuple[MetricValue, ...] = (),
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        scenario=scenario,
        scenario_id=scenario_id,
        personality=personality,
        status=status,
        terminal=status in TERMINAL if terminal is None else terminal,
        success=success,
        infra_error=infra,
        reasons=reasons,
        metrics=metrics,
    )


def runs(passed: int = 0, failed: int = 0, infra: int = 0, unknown: int = 0) -> tuple[RunRecord, ...]:
    """``passed`` successful runs, then failed, infra-errored and verdict-less ones, ids 1..n."""
    kinds = ["p"] * passed + ["f"] * failed + ["i"] * infra + ["u"] * unknown
    made = []
    for number, kind in enumerate(kinds, start=1):
        if kind == "p":
            made.append(run(str(number)))
        elif kind == "f":
            made.append(run(str(number), success=False, reasons=("expected outcome not met (score 40)",)))
        elif kind == "i":
            made.append(run(str(number), status="failed", success=False, infra=True, reasons=("no answer",)))
        else:
            made.append(run(str(number), success=None))
    return tuple(made)


def snapshot(
    *records: RunRecord,
    status: str = "completed",
    terminal: bool | None = None,
    succeeded: bool | None = None,
    total: Any = CONSISTENT,
    success_runs: Any = CONSISTENT,
    rate: float | None = None,
    anomalies: tuple[str, ...] = (),
) -> ResultSnapshot:
    terminal = status in TERMINAL if terminal is None else terminal
    flagged = sum(r.success is True for r in records)
    return ResultSnapshot(
        result_id="99",
        status=status,
        terminal=terminal,
        succeeded=terminal and status == "completed" if succeeded is None else succeeded,
        total_runs=len(records) if total is CONSISTENT else total,
        success_runs=flagged if success_runs is CONSISTENT else success_runs,
        success_rate=rate,
        runs=records,
        anomalies=anomalies,
    )


def execution(
    snap: ResultSnapshot | None, failure: GateFailure | None = None, gate: str = "smoke"
) -> GateExecution:
    return GateExecution(gate, "cekura", "agent 12", snap, failure, duration_s=12.5)


def cmp(op: Op, value: float, *, percent: bool = False) -> Comparison:
    shown = f"{value * 100:g}%" if percent else f"{value:g}"
    return Comparison(op, value, percent, f"{op.value} {shown}")


def at_least(percent: float) -> Comparison:
    return cmp(Op.GE, percent / 100, percent=True)


def metric(
    name: str,
    kind: MetricKind,
    score: float | None = None,
    *,
    passed: bool | None = None,
    label: str | None = None,
    metric_id: str | None = None,
    explanation: str = "",
) -> MetricValue:
    return MetricValue(metric_id, name, kind, score, passed, label, explanation)


def check(
    name: str, aggregate: Aggregate, comparison: Comparison, labels: tuple[str, ...] = ()
) -> MetricCheck:
    agg = f"rate({', '.join(labels)})" if aggregate is Aggregate.RATE else aggregate.value
    return MetricCheck(
        name, aggregate, labels, comparison, f"{agg} {comparison.text}", f"metric.{name}.{agg}"
    )


def with_metrics(*values: MetricValue | None, **kw: Any) -> tuple[RunRecord, ...]:
    """One passed run per value (None = the run does not report the metric at all)."""
    return tuple(
        run(str(i), metrics=() if value is None else (value,), **kw) for i, value in enumerate(values, 1)
    )


def judge(records: tuple[RunRecord, ...], thresholds: Thresholds, **snap: Any) -> GateVerdict:
    return evaluate_gate(execution(snapshot(*records, **snap)), thresholds)


RATE_90 = Thresholds(success_rate=at_least(90))


# --- runs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "outcome"),
    [
        pytest.param(run(), RunOutcome.PASSED, id="completed-and-success-passes"),
        pytest.param(
            run(status="COMPLETED", terminal=True), RunOutcome.PASSED, id="status-case-does-not-matter"
        ),
        pytest.param(run(success=False), RunOutcome.FAILED, id="completed-but-unsuccessful-fails"),
        pytest.param(run(success=None), RunOutcome.INCOMPLETE, id="success-none-has-no-verdict"),
        pytest.param(run(status="running"), RunOutcome.INCOMPLETE, id="non-terminal-success-is-not-a-pass"),
        pytest.param(
            run(status="evaluating", success=False), RunOutcome.INCOMPLETE, id="non-terminal-failure"
        ),
        pytest.param(run(status="paused", terminal=True), RunOutcome.INCOMPLETE, id="unknown-status"),
        pytest.param(run(terminal=False), RunOutcome.INCOMPLETE, id="completed-but-not-terminal"),
        pytest.param(run(status="failed", success=None), RunOutcome.INFRA_ERROR, id="status-failed-is-infra"),
        pytest.param(run(status="timeout"), RunOutcome.INFRA_ERROR, id="timeout-is-infra-not-pass"),
        pytest.param(run(status="cancelled"), RunOutcome.INFRA_ERROR, id="cancelled-is-infra"),
        pytest.param(run(infra=True), RunOutcome.INFRA_ERROR, id="infra-flag-beats-success"),
    ],
)
def test_each_run_is_judged_fail_closed(record: RunRecord, outcome: RunOutcome) -> None:
    """Only a terminal, completed run with success=true and no infra error passes."""
    assert classify_run(record) is outcome


def test_run_names_are_unique_numbered_per_scenario_and_personality() -> None:
    """Names are "<scenario> [<personality>] #NN", numbered 1-based per scenario and personality."""
    records = [
        run("7", scenario="Refund", personality="Angry"),
        run("3", scenario="Refund", personality="Angry"),
        run("5", scenario="Refund"),
        run("4", scenario="Booking", scenario_id="2", personality="Calm"),
        run("6", scenario="Refund", personality="Calm"),
        run("8", scenario="  Refund\n", personality=" Angry "),
    ]
    names = [verdict.name for verdict in name_runs(records)]
    assert names == [
        "Booking [Calm] #01",
        "Refund #01",
        "Refund [Angry] #01",
        "Refund [Angry] #02",
        "Refund [Angry] #03",
        "Refund [Calm] #01",
    ]
    assert [v.record.run_id for v in name_runs(records) if v.name.startswith("Refund [Angry]")] == [
        "3",
        "7",
        "8",
    ]


@pytest.mark.parametrize(
    ("ids", "order"),
    [
        (
            ["10", "9", "0010", "009", "1", "", "a10", "a9", "1٣", "٣"],
            ["", "1", "1٣", "9", "009", "10", "0010", "a9", "a10", "٣"],
        ),
        (["run-10", "run-9", "run-09", "2-b", "2-a"], ["2-a", "2-b", "run-9", "run-09", "run-10"]),
    ],
)
def test_run_ids_sort_as_numbers_whatever_their_form(ids: list[str], order: list[str]) -> None:
    """Numeric ids (the usual case) and mixed ids order numbers by value (equal ones keep their order);
    digits other than ASCII sort as text."""
    assert sorted(ids, key=natural_key) == order


def test_run_names_are_stable_across_executions_of_the_same_config() -> None:
    """A second execution has new run ids and another listing order, but yields the same names."""

    def execution_of(first_id: int, seed: int) -> dict[str, str | None]:
        layout = [
            ("Refund", "10", "Angry"),
            ("Refund", "10", "Angry"),
            ("Refund", "11", "Angry"),
            ("Hours", "3", None),
        ]
        records = [
            run(str(first_id + i), scenario=s, scenario_id=sid, personality=p)
            for i, (s, sid, p) in enumerate(layout)
        ]
        random.Random(seed).shuffle(records)
        return {verdict.name: verdict.record.scenario_id for verdict in name_runs(records)}

    assert execution_of(100, seed=1) == execution_of(9000, seed=2)


def test_run_ids_are_ordered_as_numbers_and_names_never_collide() -> None:
    """Run 9 comes before run 10; a scenario whose name looks like "<x> [<y>]" gets its own numbering."""
    verdicts = name_runs(
        [run("10"), run("9"), run("11", scenario="Refund [Angry]"), run("12", personality="Angry")]
    )
    by_id = {verdict.record.run_id: verdict.name for verdict in verdicts}
    assert by_id["9"] == "Refund #01"
    assert by_id["10"] == "Refund #02"
    assert len(set(by_id.values())) == 4


# --- gate-level fail-closed table ------------------------------------------------------------------

TIMEOUT = GateFailure(FailureKind.TIMEOUT, "gate deadline of 30m exceeded")


def _partial() -> ResultSnapshot:
    finished = runs(passed=11, failed=1)
    unfinished = tuple(run(str(100 + i), status="running", success=None) for i in range(8))
    return snapshot(*finished, *unfinished, status="running", total=20)


@pytest.mark.parametrize(
    ("gate_execution", "check_status", "error_type", "fragment"),
    [
        pytest.param(
            execution(_partial(), TIMEOUT),
            CheckStatus.ERROR,
            "Timeout",
            "gate deadline of 30m exceeded (12/20 runs finished)",
            id="timeout-is-error-not-pass",
        ),
        pytest.param(
            execution(snapshot(*runs(passed=20)), TIMEOUT),
            CheckStatus.ERROR,
            "Timeout",
            "20/20 runs finished",
            id="failure-wins-even-over-all-passed-data",
        ),
        pytest.param(
            execution(None, GateFailure(FailureKind.AUTH, "401 from /results/")),
            CheckStatus.ERROR,
            "AuthError",
            "401 from /results/",
            id="auth-failure-without-result",
        ),
        pytest.param(
            execution(None, GateFailure(FailureKind.INTERRUPTED, "interrupted by SIGINT")),
            CheckStatus.ERROR,
            "Interrupted",
            "interrupted by SIGINT",
            id="interrupted-gate",
        ),
        pytest.param(
            execution(None), CheckStatus.ERROR, "ProtocolError", "no result", id="no-result-no-failure"
        ),
        pytest.param(
            execution(_partial()),
            CheckStatus.ERROR,
            "InfraError",
            "never reached a terminal status (last status 'running', 12/20 runs finished)",
            id="non-terminal-result",
        ),
        *(
            pytest.param(
                execution(snapshot(*runs(passed=5), status=status)),
                CheckStatus.ERROR,
                "InfraError",
                f"ended with platform status '{status}'",
                id=f"platform-{status}-is-error-even-if-runs-passed",
            )
            for status in ("failed", "timeout", "cancelled")
        ),
        pytest.param(
            execution(snapshot(*runs(passed=5), anomalies=("runs map has 5 entries but 6 ids",))),
            CheckStatus.INCONCLUSIVE,
            "GateInconclusive",
            "contradictory data: runs map has 5 entries but 6 ids",
            id="anomaly-is-inconclusive",
        ),
        pytest.param(
            execution(snapshot(total=0)),
            CheckStatus.INCONCLUSIVE,
            "GateInconclusive",
            "no runs: nothing was tested",
            id="zero-runs",
        ),
        pytest.param(
            execution(snapshot(total=None, success_runs=None)),
            CheckStatus.INCONCLUSIVE,
            "GateInconclusive",
            "no runs: nothing was tested",
            id="no-runs-no-counters",
        ),
        pytest.param(
            execution(snapshot(total=20)),
            CheckStatus.INCONCLUSIVE,
            "GateInconclusive",
            "the platform counts 20 runs but the result lists 0",
            id="counted-runs-missing-from-listing",
        ),
        pytest.param(
            execution(snapshot(*runs(passed=19), total=20)),
            CheckStatus.INCONCLUSIVE,
            "GateInconclusive",
            "the platform counts 20 runs but the result lists 19",
            id="total-counter-mismatch",
        ),
        pytest.param(
            execution(snapshot(*runs(passed=18, failed=2), success_runs=20)),
            CheckStatus.INCONCLUSIVE,
            "GateInconclusive",
            "the platform counts 20 successful runs but 18 of 20 runs have success=true",
            id="rosier-success-counter-is-not-believed",
        ),
        pytest.param(
            execution(snapshot(*runs(passed=18, failed=2), success_runs=None, rate=1.0)),
            CheckStatus.INCONCLUSIVE,
            "GateInconclusive",
            "success rate of 100.0% but 18/20 runs have success=true (90.0%)",
            id="rosier-success-rate-is-not-believed",
        ),
        pytest.param(
            execution(snapshot(*runs(passed=18, failed=2), rate=90.0)),
            CheckStatus.INCONCLUSIVE,
            "GateInconclusive",
            "success rate of 9000.0%",
            id="unnormalised-percent-rate-is-a-contradiction",
        ),
        pytest.param(
            execution(snapshot(run("4"), run("4"))),
            CheckStatus.INCONCLUSIVE,
            "GateInconclusive",
            "run ids listed more than once: 4",
            id="duplicate-run-id",
        ),
    ],
)
def test_a_gate_without_usable_data_is_an_error_never_a_pass(
    gate_execution: GateExecution, check_status: CheckStatus, error_type: str, fragment: str
) -> None:
    """Every check of such a gate says why it was not evaluated, with no observed value."""
    thresholds = Thresholds(success_rate=at_least(90), max_failed_runs=2)
    verdict = evaluate_gate(gate_execution, thresholds)
    assert verdict.status is GateStatus.ERROR
    assert [c.check_id for c in verdict.checks] == ["success_rate", "max_failed_runs"]
    for result in verdict.checks:
        assert result.status is check_status
        assert result.error_type == error_type
        assert fragment in result.summary
        assert (result.observed, result.observed_text) == (None, "n/a")
    assert fragment in verdict.reasons[0]


def test_error_summaries_have_a_fixed_shape() -> None:
    verdict = evaluate_gate(execution(_partial(), TIMEOUT), RATE_90)
    assert verdict.checks[0].summary == (
        "success_rate not evaluated (Timeout): gate deadline of 30m exceeded (12/20 runs finished)"
        " — required >= 90%"
    )
    assert "runs so far: 11 passed, 1 failed, 0 infra errors, 8 without verdict" in verdict.checks[0].details


def test_a_partial_snapshot_still_reports_every_run() -> None:
    """Runs of an unfinished gate are reported; the unfinished ones have no verdict."""
    verdict = evaluate_gate(execution(_partial(), TIMEOUT), RATE_90)
    outcomes = [r.outcome for r in verdict.runs]
    assert len(outcomes) == 20
    assert outcomes.count(RunOutcome.INCOMPLETE) == 8
    assert outcomes.count(RunOutcome.FAILED) == 1
    assert "Refund #12: expected outcome not met (score 40)" in verdict.reasons


def test_platform_rate_within_rounding_agrees() -> None:
    """A platform rate rounded to two decimals of a percent (66.67% for 2/3) is not a contradiction."""
    verdict = judge(runs(passed=2, failed=1), Thresholds(success_rate=at_least(60)), rate=0.6667)
    assert verdict.status is GateStatus.PASSED


def test_empty_thresholds_never_pass_silently() -> None:
    verdict = judge(runs(passed=3), Thresholds())
    assert verdict.status is GateStatus.ERROR
    assert [(c.check_id, c.status) for c in verdict.checks] == [("thresholds", CheckStatus.INCONCLUSIVE)]


# --- run-count checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "status", "summary"),
    [
        pytest.param(
            runs(passed=18, failed=2),
            CheckStatus.PASSED,
            "success_rate 90.0% (18/20 runs) — required >= 90%; 2 failed",
            id="exactly-at-threshold-passes",
        ),
        pytest.param(
            runs(passed=17, failed=2, infra=1),
            CheckStatus.FAILED,
            "success_rate 85.0% (17/20 runs) — required >= 90%; 2 failed, 1 infra error",
            id="infra-errors-count-against-the-rate",
        ),
        pytest.param(
            runs(passed=20),
            CheckStatus.PASSED,
            "success_rate 100.0% (20/20 runs) — required >= 90%",
            id="all-pass",
        ),
        pytest.param(
            runs(passed=17, unknown=3),
            CheckStatus.INCONCLUSIVE,
            "success_rate inconclusive: 3 of 20 runs have no verdict — required >= 90%;"
            " so far 85.0% (17/20 runs)",
            id="runs-without-verdict-make-it-inconclusive",
        ),
        pytest.param(
            runs(passed=19, unknown=1),
            CheckStatus.INCONCLUSIVE,
            "1 of 20 runs have no verdict",
            id="would-pass-but-one-run-has-no-verdict",
        ),
        pytest.param(
            runs(passed=10, failed=7, unknown=3),
            CheckStatus.INCONCLUSIVE,
            "(already breached whatever they turn out to be)",
            id="certain-breach-is-named-but-still-needs-complete-data",
        ),
    ],
)
def test_success_rate_counts_per_run_verdicts(
    records: tuple[RunRecord, ...], status: CheckStatus, summary: str
) -> None:
    result = judge(records, RATE_90).checks[0]
    assert result.status is status
    assert summary in result.summary


def test_success_rate_details_list_failing_runs_with_their_first_reason() -> None:
    result = judge(runs(passed=8, failed=1, infra=1), RATE_90).checks[0]
    assert result.observed == pytest.approx(0.8)
    assert result.details.splitlines() == [
        "failed: Refund #09: expected outcome not met (score 40)",
        "infra error: Refund #10: no answer",
    ]


def test_runs_without_a_reason_still_say_why_and_details_are_bounded() -> None:
    silent = tuple(run(str(i), success=False) for i in range(1, 61))
    details = judge(silent, RATE_90).checks[0].details.splitlines()
    assert details[0] == "failed: Refund #01: the platform marked the run unsuccessful (no reason given)"
    assert (len(details), details[-1]) == (51, "… and 10 more")
    pending = judge((run("1"), run("2", status="running", success=None)), RATE_90).checks[0]
    assert "no verdict: Refund #02: no verdict (status 'running', success unknown)" in pending.details


def test_success_rate_threshold_outside_0_to_1_is_inconclusive() -> None:
    """A rate threshold of 90 (not 90%) can never mean what the user meant."""
    result = judge(runs(passed=3), Thresholds(success_rate=cmp(Op.GE, 90))).checks[0]
    assert result.status is CheckStatus.INCONCLUSIVE


@pytest.mark.parametrize(
    ("thresholds", "records", "status", "summary"),
    [
        pytest.param(
            Thresholds(max_failed_runs=2),
            runs(passed=8, failed=2, infra=5),
            CheckStatus.PASSED,
            "max_failed_runs 2 failed runs (of 15) — required <= 2",
            id="failed-at-limit-passes-and-infra-is-not-failed",
        ),
        pytest.param(
            Thresholds(max_failed_runs=2),
            runs(passed=7, failed=3),
            CheckStatus.FAILED,
            "max_failed_runs 3 failed runs (of 10) — required <= 2",
            id="one-over-the-limit-fails",
        ),
        pytest.param(
            Thresholds(max_failed_runs=0),
            runs(passed=5),
            CheckStatus.PASSED,
            "max_failed_runs 0 failed runs (of 5) — required <= 0",
            id="zero-tolerance-with-zero-failures",
        ),
        pytest.param(
            Thresholds(max_failed_runs=0),
            runs(passed=5, unknown=1),
            CheckStatus.INCONCLUSIVE,
            "1 of 6 runs have no verdict",
            id="unknown-run-could-be-a-failure",
        ),
        pytest.param(
            Thresholds(max_infra_errors=0),
            runs(passed=9, failed=3, infra=1),
            CheckStatus.FAILED,
            "max_infra_errors 1 infra error (of 13 runs) — required <= 0",
            id="one-infra-error-over-zero",
        ),
        pytest.param(
            Thresholds(max_infra_errors=1),
            runs(passed=9, failed=3, infra=1),
            CheckStatus.PASSED,
            "max_infra_errors 1 infra error (of 13 runs) — required <= 1",
            id="infra-at-limit-and-failures-are-not-infra",
        ),
    ],
)
def test_max_failed_runs_and_max_infra_errors(
    thresholds: Thresholds, records: tuple[RunRecord, ...], status: CheckStatus, summary: str
) -> None:
    result = judge(records, thresholds).checks[0]
    assert result.status is status
    assert summary in result.summary


# --- metric checks ---------------------------------------------------------------------------------

N = MetricKind.NUMERIC
LATENCY_P50 = check("Latency", Aggregate.P50, cmp(Op.LE, 2000))


def metric_result(records: tuple[RunRecord, ...], metric_check: MetricCheck) -> Any:
    return judge(records, Thresholds(metrics=(metric_check,))).checks[0]


def test_percentiles_interpolate_linearly_between_closest_ranks() -> None:
    """Hand-computed on 1..10 (shuffled): position h = (n - 1) * p / 100, interpolated."""
    values = [7.0, 1.0, 10.0, 4.0, 2.0, 9.0, 3.0, 6.0, 5.0, 8.0]
    assert percentile(values, 50) == pytest.approx(5.5)  # the median
    assert percentile(values, 90) == pytest.approx(9.1)  # h = 8.1
    assert percentile(values, 95) == pytest.approx(9.55)  # h = 8.55
    assert percentile(values, 99) == pytest.approx(9.91)  # h = 8.91
    assert percentile([42.0], 99) == 42.0
    assert percentile([100.0, 200.0, 400.0], 50) == 200.0
    inclusive = statistics.quantiles(values, n=100, method="inclusive")
    assert [percentile(values, p) for p in (50, 90, 95, 99)] == pytest.approx(
        [inclusive[p - 1] for p in (50, 90, 95, 99)]
    )


@pytest.mark.parametrize(
    ("aggregate", "op", "limit", "status", "observed_text"),
    [
        pytest.param(Aggregate.P50, Op.LE, 2000, CheckStatus.PASSED, "1250 (4 runs)", id="p50-is-the-median"),
        pytest.param(Aggregate.P90, Op.LE, 2000, CheckStatus.PASSED, "1850 (4 runs)", id="p90-hand-computed"),
        pytest.param(Aggregate.P95, Op.LE, 1900, CheckStatus.FAILED, "1925 (4 runs)", id="p95-hand-computed"),
        pytest.param(Aggregate.P99, Op.LT, 2000, CheckStatus.PASSED, "1985 (4 runs)", id="p99-hand-computed"),
        pytest.param(Aggregate.MEAN, Op.LE, 1200, CheckStatus.FAILED, "1250 (4 runs)", id="mean"),
        pytest.param(Aggregate.MIN, Op.GE, 500, CheckStatus.PASSED, "500 (4 runs)", id="min"),
        pytest.param(Aggregate.MAX, Op.LE, 1999.5, CheckStatus.FAILED, "2000 (4 runs)", id="max"),
    ],
)
def test_numeric_aggregates(
    aggregate: Aggregate, op: Op, limit: float, status: CheckStatus, observed_text: str
) -> None:
    """Latency 500, 1000, 1500, 2000 ms: p90 h=2.7 -> 1500+0.7*500; p95 h=2.85; p99 h=2.97."""
    records = with_metrics(*(metric("Latency", N, v) for v in (1000.0, 2000.0, 500.0, 1500.0)))
    result = metric_result(records, check("Latency", aggregate, cmp(op, limit)))
    assert (result.status, result.observed_text) == (status, observed_text)
    required = f"{aggregate.value} {op.value} {limit:g}"
    assert result.summary == f"metric.Latency.{aggregate.value} {observed_text} — required {required}"


def test_metric_on_some_runs_is_computed_on_those_and_the_gap_is_named() -> None:
    records = with_metrics(
        metric("Latency", N, 1800.0), None, metric("Latency", N, None), metric("Latency", N, 1900.0)
    )
    result = metric_result(records, LATENCY_P50)
    assert result.status is CheckStatus.PASSED
    assert (
        result.summary == "metric.Latency.p50 1850 (2 runs) — required p50 <= 2000; metric missing on 2 runs"
    )
    assert "metric missing on 2 runs: Refund #02, Refund #03" in result.details


def test_metrics_of_runs_without_a_trusted_verdict_are_excluded() -> None:
    """Infra-errored runs have no trustworthy metrics: excluded, and said so."""
    good = run("1", metrics=(metric("Latency", N, 1000.0),))
    broken = run("2", status="failed", infra=True, metrics=(metric("Latency", N, 99999.0),))
    result = metric_result((good, broken), LATENCY_P50)
    assert result.status is CheckStatus.PASSED
    assert result.observed == 1000.0
    assert "1 run without a trustworthy verdict excluded" in result.summary


@pytest.mark.parametrize(
    ("records", "metric_check", "fragment"),
    [
        pytest.param(
            with_metrics(metric("Latency", N, 1.0), metric("Politeness", MetricKind.CONTINUOUS, 4.0)),
            check("Latncy", Aggregate.P50, cmp(Op.LE, 2000)),
            "metric 'Latncy' not found on any run (metrics seen: Latency, Politeness)",
            id="metric-absent-everywhere-lists-what-exists",
        ),
        pytest.param(
            with_metrics(None, None),
            check("Latency", Aggregate.COUNT, cmp(Op.EQ, 0)),
            "not found on any run (no metrics at all)",
            id="count-of-an-absent-metric-is-not-zero-but-unknown",
        ),
        pytest.param(
            (run("1", status="timeout", metrics=(metric("Latency", N, 5.0),)),),
            LATENCY_P50,
            "reported only on runs without a trustworthy verdict",
            id="metric-only-on-infra-runs",
        ),
        pytest.param(
            with_metrics(metric("Latency", N, None), metric("Latency", N, float("nan"))),
            LATENCY_P50,
            "has no usable value on any run",
            id="only-null-or-nan-scores",
        ),
        pytest.param(
            (run("1", metrics=(metric("latency", N, 1.0), metric("LATENCY", N, 2.0))),),
            check("Latency", Aggregate.P50, cmp(Op.LE, 2000)),
            "1 run report more than one metric matching 'Latency'",
            id="ambiguous-case-insensitive-match",
        ),
        pytest.param(
            with_metrics(metric("Latency", N, 1.0), metric("Latency", MetricKind.CONTINUOUS, 2.0)),
            LATENCY_P50,
            "has mixed types (continuous on 1 run, numeric on 1 run)",
            id="mixed-types",
        ),
        pytest.param(
            with_metrics(metric("Politeness", MetricKind.CONTINUOUS, 80.0)),
            check("Politeness", Aggregate.MEAN, cmp(Op.GE, 4)),
            "scores outside its 0–5 scale on 1 run",
            id="continuous-score-off-scale",
        ),
        pytest.param(
            (
                run("1", metrics=(metric("Latency", N, 1.0),)),
                run("2", success=None, metrics=(metric("Latency", N, 2.0),)),
            ),
            LATENCY_P50,
            "1 of 2 runs have no verdict",
            id="runs-without-verdict-make-metrics-inconclusive",
        ),
    ],
)
def test_metric_data_problems_are_inconclusive(
    records: tuple[RunRecord, ...], metric_check: MetricCheck, fragment: str
) -> None:
    result = metric_result(records, metric_check)
    assert result.status is CheckStatus.INCONCLUSIVE
    assert result.error_type == "GateInconclusive"
    assert fragment in result.summary


BINARY = metric("Greeting", MetricKind.BINARY, 1.0, passed=True)
ENUM = metric("Sentiment", MetricKind.ENUM, label="positive")
CONT = metric("Politeness", MetricKind.CONTINUOUS, 4.0)
NUM = metric("Latency", N, 900.0)
ODD = metric("Vibes", MetricKind.UNKNOWN, 3.0)


@pytest.mark.parametrize(
    ("value", "aggregate", "comparison", "fragment"),
    [
        pytest.param(
            NUM,
            Aggregate.PASS_RATE,
            at_least(90),
            "pass_rate needs a binary metric",
            id="pass-rate-on-numeric",
        ),
        pytest.param(
            CONT,
            Aggregate.PASS_RATE,
            at_least(90),
            "but metric 'Politeness' is continuous",
            id="pass-rate-on-continuous",
        ),
        pytest.param(
            BINARY, Aggregate.RATE, at_least(50), "rate(...) needs an enum metric", id="rate-on-binary"
        ),
        pytest.param(BINARY, Aggregate.MEAN, cmp(Op.GE, 0.5), "(use pass_rate)", id="mean-on-binary"),
        pytest.param(ENUM, Aggregate.P50, cmp(Op.GE, 1), "(use rate(<label>))", id="p50-on-enum"),
        pytest.param(
            NUM,
            Aggregate.MEAN,
            at_least(80),
            "a percent needs a 0–5 or binary metric",
            id="percent-on-numeric",
        ),
        pytest.param(ODD, Aggregate.MEAN, cmp(Op.GE, 1), "only count applies", id="unknown-type"),
        pytest.param(
            BINARY, Aggregate.PASS_RATE, cmp(Op.GE, 90), "outside 0–100% for a rate", id="rate-given-as-90"
        ),
    ],
)
def test_an_aggregate_that_does_not_fit_the_metric_type_is_inconclusive(
    value: MetricValue, aggregate: Aggregate, comparison: Comparison, fragment: str
) -> None:
    labels = ("positive",) if aggregate is Aggregate.RATE else ()
    result = metric_result(with_metrics(value), check(value.name, aggregate, comparison, labels))
    assert result.status is CheckStatus.INCONCLUSIVE
    assert fragment in result.summary


@pytest.mark.parametrize(
    "value",
    [pytest.param(v, id=v.kind.value) for v in (BINARY, ENUM, CONT, NUM, ODD)],
)
def test_count_fits_every_type(value: MetricValue) -> None:
    result = metric_result(
        with_metrics(value, value, None), check(value.name, Aggregate.COUNT, cmp(Op.GE, 2))
    )
    assert (result.status, result.observed, result.observed_text) == (CheckStatus.PASSED, 2.0, "2 runs")


def test_pass_rate_reads_passed_from_both_binary_styles() -> None:
    """Legacy (score 5 -> 1.0 with passed) and new style (passed only) count alike; passed=None is missing."""
    legacy_pass = metric("Greeting", MetricKind.BINARY, 1.0, passed=True)
    legacy_fail = metric(
        "Greeting", MetricKind.BINARY, 0.0, passed=False, explanation="No greeting.\nAt all."
    )
    new_pass = metric("Greeting", MetricKind.BINARY, None, passed=True)
    unknown = metric("Greeting", MetricKind.BINARY, 1.0, passed=None)
    records = with_metrics(legacy_pass, legacy_fail, new_pass, new_pass, unknown)
    result = metric_result(records, check("Greeting", Aggregate.PASS_RATE, at_least(75)))
    assert result.status is CheckStatus.PASSED
    assert result.summary == (
        "metric.Greeting.pass_rate 75.0% (3/4 runs) — required pass_rate >= 75%; metric missing on 1 run"
    )
    assert "Refund #02: did not pass: No greeting. At all." in result.details


def test_rate_of_labels_is_case_insensitive() -> None:
    labels = ("positive", "NEUTRAL", "negative", "Positive ")
    records = with_metrics(*(metric("Sentiment", MetricKind.ENUM, label=label) for label in labels))
    result = metric_result(records, check("Sentiment", Aggregate.RATE, at_least(80), ("Positive", "neutral")))
    assert result.status is CheckStatus.FAILED
    assert result.observed == pytest.approx(0.75)
    assert result.summary.startswith(
        "metric.Sentiment.rate(Positive, neutral) 75.0% (3/4 runs) — required rate("
    )
    assert "Refund #03: label 'negative'" in result.details


@pytest.mark.parametrize(
    ("comparison", "status", "observed_text"),
    [
        pytest.param(at_least(80), CheckStatus.PASSED, "80.0% (4 runs)", id="percent-compares-score-over-5"),
        pytest.param(at_least(81), CheckStatus.FAILED, "80.0% (4 runs)", id="percent-just-above"),
        pytest.param(cmp(Op.GE, 4), CheckStatus.PASSED, "4 (4 runs)", id="raw-0-to-5-scale"),
    ],
)
def test_continuous_metrics_compare_on_their_scale_or_as_percent(
    comparison: Comparison, status: CheckStatus, observed_text: str
) -> None:
    records = with_metrics(*(metric("Politeness", MetricKind.CONTINUOUS, s) for s in (4.0, 5.0, 3.0, 4.0)))
    result = metric_result(records, check("Politeness", Aggregate.MEAN, comparison))
    assert (result.status, result.observed_text) == (status, observed_text)


@pytest.mark.parametrize(
    ("values", "wanted", "observed"),
    [
        pytest.param(
            (metric("Latency", N, 1.0), metric("latency", N, 9.0)),
            "Latency",
            1.0,
            id="exact-name-beats-case-insensitive",
        ),
        pytest.param((metric("Latency", N, 1.0, metric_id="42"),), "42", 1.0, id="by-metric-id"),
        pytest.param((metric("Latency", N, 7.0),), "latency", 7.0, id="case-insensitive-fallback"),
    ],
)
def test_metrics_are_matched_by_name_then_id_then_case_insensitively(
    values: tuple[MetricValue, ...], wanted: str, observed: float
) -> None:
    result = metric_result((run("1", metrics=values),), check(wanted, Aggregate.MAX, cmp(Op.LE, 100)))
    assert (result.status, result.observed) == (CheckStatus.PASSED, observed)


# --- formatting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(format_number(1234.5), "1234.5", id="number-compact"),
        pytest.param(format_number(2000.0), "2000", id="integral-number"),
        pytest.param(format_number(3.76666), "3.767", id="three-decimals"),
        pytest.param(format_number(-0.0001), "0", id="no-negative-zero"),
        pytest.param(
            format_number(2000.0004, cmp(Op.LE, 2000)), "2000.0004", id="rounding-never-hides-a-breach"
        ),
        pytest.param(format_percent(0.85), "85.0%", id="percent-one-decimal"),
        pytest.param(
            format_percent(0.8996, at_least(90)), "89.96%", id="percent-never-rounds-up-to-the-limit"
        ),
    ],
)
def test_observed_values_are_formatted_compactly_but_honestly(text: str, expected: str) -> None:
    assert text == expected


def test_summaries_are_one_bounded_line_even_for_hostile_messages() -> None:
    failure = GateFailure(FailureKind.PROTOCOL, "bad body:\n" + "x" * 2000)
    for verdict in (
        evaluate_gate(execution(None, failure), RATE_90),
        judge(runs(passed=2), RATE_90, anomalies=("line one\r\nline two " * 100,)),
    ):
        for line in (*(c.summary for c in verdict.checks), *verdict.reasons):
            assert "\n" not in line and "\r" not in line
            assert len(line) <= 500


# --- gate status and reasons -----------------------------------------------------------------------


def test_a_breach_fails_the_gate_even_when_another_check_is_inconclusive() -> None:
    thresholds = Thresholds(
        success_rate=at_least(90), metrics=(check("Missing", Aggregate.MEAN, cmp(Op.LE, 1)),)
    )
    verdict = judge(runs(passed=5, failed=15), thresholds)
    assert verdict.status is GateStatus.FAILED
    assert [c.status for c in verdict.checks] == [CheckStatus.FAILED, CheckStatus.INCONCLUSIVE]
    assert verdict.reasons[0].startswith("success_rate 25.0% (5/20 runs)")
    assert verdict.reasons[1].startswith("metric.Missing.mean inconclusive")
    assert verdict.reasons[2] == "Refund #06: expected outcome not met (score 40)"
    assert len(verdict.reasons) == 10


def test_a_passing_gate_has_no_reasons_even_with_tolerated_failures() -> None:
    verdict = judge(runs(passed=9, failed=1), RATE_90)
    assert (verdict.status, verdict.reasons) == (GateStatus.PASSED, ())


# --- the verdict and exit code ---------------------------------------------------------------------

PASSED_GATE = execution(snapshot(*runs(passed=3)), gate="passes")
FAILED_GATE = execution(snapshot(*runs(passed=1, failed=2)), gate="regresses")
ERROR_GATE = execution(None, TIMEOUT, gate="times-out")
BUG_GATE = execution(None, GateFailure(FailureKind.INTERNAL, "internal error: KeyError: 'x'"), gate="bug")


@pytest.mark.parametrize(
    ("gates", "extra", "code", "status"),
    [
        pytest.param([PASSED_GATE], {}, ExitCode.OK, VerdictStatus.PASSED, id="all-pass-is-0"),
        pytest.param(
            [PASSED_GATE, FAILED_GATE], {}, ExitCode.REGRESSION, VerdictStatus.FAILED, id="regression-is-1"
        ),
        pytest.param(
            [ERROR_GATE, FAILED_GATE], {}, ExitCode.REGRESSION, VerdictStatus.FAILED, id="1-wins-over-3"
        ),
        pytest.param(
            [PASSED_GATE, ERROR_GATE], {}, ExitCode.INCOMPLETE, VerdictStatus.INCOMPLETE, id="error-is-3"
        ),
        pytest.param([], {}, ExitCode.INCOMPLETE, VerdictStatus.INCOMPLETE, id="no-gates-is-3-never-0"),
        pytest.param(
            [PASSED_GATE],
            {"runner_errors": ["report dir not writable"]},
            ExitCode.INCOMPLETE,
            VerdictStatus.INCOMPLETE,
            id="runner-error-is-3",
        ),
        pytest.param(
            [FAILED_GATE],
            {"runner_errors": ["x"]},
            ExitCode.REGRESSION,
            VerdictStatus.FAILED,
            id="regression-wins-over-runner-error",
        ),
        pytest.param(
            [FAILED_GATE],
            {"interrupted_by": "SIGINT"},
            ExitCode.SIGINT,
            VerdictStatus.INTERRUPTED,
            id="sigint-is-130-whatever-else",
        ),
        pytest.param(
            [PASSED_GATE],
            {"interrupted_by": "SIGTERM"},
            ExitCode.SIGTERM,
            VerdictStatus.INTERRUPTED,
            id="sigterm-is-143",
        ),
        pytest.param(
            [PASSED_GATE],
            {"interrupted_by": "SIGHUP"},
            ExitCode.SIGTERM,
            VerdictStatus.INTERRUPTED,
            id="sighup-is-143",
        ),
        pytest.param(
            [FAILED_GATE, BUG_GATE], {}, ExitCode.INTERNAL, VerdictStatus.INCOMPLETE, id="a-gate-bug-is-4"
        ),
        pytest.param(
            [PASSED_GATE, FAILED_GATE],
            {"internal_error": True},
            ExitCode.INTERNAL,
            VerdictStatus.INCOMPLETE,
            id="a-bug-is-4-whatever-the-gates-say",
        ),
        pytest.param(
            [PASSED_GATE],
            {"internal_error": True, "interrupted_by": "SIGTERM"},
            ExitCode.SIGTERM,
            VerdictStatus.INTERRUPTED,
            id="an-interrupt-wins-over-a-bug",
        ),
    ],
)
def test_exit_code_table(
    gates: list[GateExecution], extra: dict[str, Any], code: ExitCode, status: VerdictStatus
) -> None:
    verdict = evaluate(
        [(gate, RATE_90) for gate in gates],
        started_at="2026-11-26T10:00:00Z",
        duration_s=61.0,
        config_path="regate.yaml",
        version="0.1.0",
        **extra,
    )
    assert (verdict.exit_code, verdict.status) == (code, status)
    assert [g.name for g in verdict.gates] == [g.gate for g in gates]


def test_exit_code_is_3_when_no_gate_ran_a_single_run() -> None:
    """Even a gate object that claims PASSED cannot make an empty selection green."""
    hollow = evaluate_gate(PASSED_GATE, RATE_90)
    hollow = GateVerdict(
        hollow.name, hollow.provider, hollow.target, GateStatus.PASSED, hollow.checks, (), PASSED_GATE
    )
    assert exit_code_for([hollow]) is ExitCode.INCOMPLETE


def test_exit_code_zero_exactly_when_no_check_failed_or_errored() -> None:
    """The JUnit invariant: failures + errors = 0 exactly when the exit code is 0."""
    executions = [
        PASSED_GATE,
        FAILED_GATE,
        ERROR_GATE,
        execution(_partial(), TIMEOUT),
        execution(snapshot(total=0)),
    ]
    for chosen in ([e] for e in executions):
        verdict = evaluate(
            [(e, RATE_90) for e in chosen], started_at="", duration_s=0, config_path="", version=""
        )
        bad = [c for g in verdict.gates for c in g.checks if c.status is not CheckStatus.PASSED]
        assert (verdict.exit_code is ExitCode.OK) == (not bad)


def test_a_gate_judged_for_its_progress_line_is_reused_only_for_the_same_inputs() -> None:
    """The progress line judged each gate as it ended; the verdict reuses that judgement where the
    execution (copied again at the end), thresholds and judging are the same, and judges again otherwise:
    reused or not, each gate's verdict is what ``evaluate_gate`` gives."""
    args: dict[str, Any] = {"started_at": "", "duration_s": 0, "config_path": "", "version": ""}
    name = FAILED_GATE.gate
    earlier = {name: judge_gate(FAILED_GATE, RATE_90, Judging())}
    again = replace(FAILED_GATE)  # an equal copy, as the orchestrator makes at the end
    assert again is not FAILED_GATE
    assert evaluate([(again, RATE_90)], judged=earlier, **args).gates[0] is earlier[name].verdict
    changed: list[tuple[GateExecution, Thresholds, Judging | None]] = [
        (replace(FAILED_GATE, duration_s=1.0), RATE_90, None),
        (again, Thresholds(success_rate=at_least(95)), None),
        (again, RATE_90, Judging(blocking=False)),
    ]
    for gate, thresholds, judging in changed:
        rules = {name: judging} if judging is not None else None
        verdict = evaluate([(gate, thresholds)], judging=rules, judged=earlier, **args).gates[0]
        assert verdict is not earlier[name].verdict
        assert verdict == evaluate_gate(gate, thresholds, judging)


def test_evaluation_is_deterministic_and_copies_the_run_context() -> None:
    args: dict[str, Any] = {
        "started_at": "2026-11-26T10:00:00Z",
        "duration_s": 61.0,
        "config_path": "regate.yaml",
        "version": "0.1.0",
    }
    first = evaluate([(FAILED_GATE, RATE_90), (ERROR_GATE, RATE_90)], **args)
    assert first == evaluate([(FAILED_GATE, RATE_90), (ERROR_GATE, RATE_90)], **args)
    assert (first.started_at, first.duration_s, first.config_path, first.version) == tuple(args.values())
    assert first.runner_errors == ()
