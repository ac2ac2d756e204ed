"""Verdict fixtures for the reporter tests, built directly from the model (no gate logic involved).

Each factory returns a complete ``Verdict`` for one situation a report must render; ``ALL_VERDICTS`` maps a
readable id to each, for table-driven tests over every fixture.
"""

from __future__ import annotations

from collections.abc import Callable

from runner.model import (
    CheckResult,
    CheckStatus,
    CriterionSummary,
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
    RunVerdict,
    Verdict,
    VerdictStatus,
)

STARTED_AT = "2026-11-26T10:00:00Z"

# Every kind of hostile remote text the reports must survive.
HOSTILE = (
    "\x1b[31mRED\x1b[0m [1;32mdebris "
    "nul\x00bell\x07esc\x1b nonchar\ufffe lone\ud800 crlf\r\nnext "
    'emoji 🎉👩\u200d💻 cdata]]> <script>alert(1)</script> & "quotes" | pipe'
)
WORKFLOW_COMMAND = "::set-output name=x::y"
EMOJI = "🎉"
BIG_TRANSCRIPT = "agent: hello\n" * 10_000 + "x" * (1_000_000 - 130_000)


def run(
    index: int,
    outcome: RunOutcome = RunOutcome.PASSED,
    *,
    scenario: str = "Refund request",
    personality: str | None = "Angry caller",
    reasons: tuple[str, ...] = (),
    transcript: str | None = None,
    duration_s: float | None = 12.5,
    metrics: tuple[MetricValue, ...] = (),
    name: str | None = None,
) -> RunVerdict:
    success = {RunOutcome.PASSED: True, RunOutcome.FAILED: False}.get(outcome)
    status = {RunOutcome.INCOMPLETE: "running", RunOutcome.INFRA_ERROR: "failed"}.get(outcome, "completed")
    record = RunRecord(
        run_id=f"run-{index}",
        scenario=scenario,
        scenario_id=f"sc-{index}",
        personality=personality,
        status=status,
        terminal=outcome != RunOutcome.INCOMPLETE,
        success=success,
        infra_error=outcome == RunOutcome.INFRA_ERROR,
        reasons=reasons,
        metrics=metrics,
        expected_outcome_score=100.0 if outcome == RunOutcome.PASSED else 40.0,
        duration_s=duration_s,
        transcript=transcript,
        url=f"https://app.example.test/runs/{index}",
    )
    default_name = f"{scenario} [{personality}] #{index:02d}" if personality else f"{scenario} #{index:02d}"
    return RunVerdict(record=record, outcome=outcome, name=name or default_name)


def check(
    check_id: str = "success_rate",
    status: CheckStatus = CheckStatus.PASSED,
    *,
    expression: str = ">= 90%",
    observed: float | None = 0.95,
    observed_text: str = "95% (19/20 runs)",
    summary: str | None = None,
    details: str = "",
    error_type: str | None = None,
) -> CheckResult:
    if summary is None:
        summary = f"success rate {observed_text}, required {expression}"
    return CheckResult(check_id, expression, status, observed, observed_text, summary, details, error_type)


def gate(
    name: str = "checkout-agent",
    status: GateStatus = GateStatus.PASSED,
    *,
    checks: tuple[CheckResult, ...] = (),
    runs: tuple[RunVerdict, ...] = (),
    failure: GateFailure | None = None,
    snapshot: bool = True,
    success_rate: float | None = 0.95,
    reasons: tuple[str, ...] = (),
    target: str = "agent 12",
) -> GateVerdict:
    result = None
    if snapshot:
        passed = sum(1 for r in runs if r.outcome == RunOutcome.PASSED)
        result = ResultSnapshot(
            result_id="res-42",
            status="completed",
            terminal=True,
            succeeded=True,
            name=f"{name} result",
            url="https://app.example.test/results/42",
            total_runs=len(runs),
            completed_runs=len(runs),
            success_runs=passed,
            failed_runs=len(runs) - passed,
            success_rate=success_rate,
            runs=tuple(r.record for r in runs),
        )
    execution = GateExecution(
        gate=name,
        provider="cekura",
        target=target,
        snapshot=result,
        failure=failure,
        duration_s=61.25,
        share_url="https://app.example.test/share/abc",
    )
    return GateVerdict(name, "cekura", target, status, checks, runs, execution, reasons)


def verdict(
    *gates: GateVerdict,
    status: VerdictStatus = VerdictStatus.PASSED,
    exit_code: ExitCode = ExitCode.OK,
    runner_errors: tuple[str, ...] = (),
    interrupted_by: str | None = None,
) -> Verdict:
    return Verdict(
        status=status,
        exit_code=exit_code,
        gates=gates,
        runner_errors=runner_errors,
        started_at=STARTED_AT,
        duration_s=0.1 + 0.2,  # a float sum that prints as 0.30000000000000004 if not formatted
        config_path="configs/demo.yaml",
        version="0.1.0",
        interrupted_by=interrupted_by,
    )


# --- the situations ------------------------------------------------------------------------------------


def passing_gate(name: str = "checkout-agent") -> GateVerdict:
    checks = (check(), check("max_failed_runs", expression="<= 2", observed=1, observed_text="1 failed run"))
    runs = (
        *(run(i) for i in range(1, 20)),
        run(20, RunOutcome.FAILED, reasons=("expected outcome not met",)),
    )
    return gate(name, checks=checks, runs=runs)


def failing_gate(name: str = "support-agent") -> GateVerdict:
    latency = MetricValue("m-1", "Latency", MetricKind.NUMERIC, 3100.0, explanation="slow first token")
    politeness = MetricValue("m-2", "Politeness", MetricKind.BINARY, 0.0, passed=False, explanation="rude")
    checks = (
        check(
            status=CheckStatus.FAILED,
            observed=0.8,
            observed_text="80% (8/10 runs)",
            summary="success rate 80% (8/10 runs) < required 90%",
            details="failed runs:\n- Refund request [Angry caller] #03\n- Refund request [Angry caller] #07",
        ),
        check(
            "metric.Latency.p50",
            CheckStatus.FAILED,
            expression="p50 <= 2000",
            observed=3100.0,
            observed_text="3100 ms",
            summary="Latency p50 is 3100 ms",  # no expression: the renderer must add it
        ),
    )
    runs = tuple(
        run(
            i,
            RunOutcome.FAILED if i in (3, 7) else RunOutcome.PASSED,
            reasons=("Politeness failed: rude", "expected outcome: refund issued") if i in (3, 7) else (),
            metrics=(latency, politeness) if i in (3, 7) else (latency,),
            transcript="agent: no.\nuser: please" if i in (3, 7) else None,
        )
        for i in range(1, 11)
    )
    return gate(name, GateStatus.FAILED, checks=checks, runs=runs, success_rate=0.8)


def errored_gate(name: str = "voice-agent") -> GateVerdict:
    failure = GateFailure(FailureKind.TIMEOUT, "gate timed out after 30m with 3/10 runs finished")
    checks = (
        check(
            status=CheckStatus.ERROR,
            observed=None,
            observed_text="n/a",
            summary="no verdict: gate timed out after 30m",
            error_type=FailureKind.TIMEOUT.value,
        ),
    )
    runs = (
        run(1),
        run(2, RunOutcome.INFRA_ERROR, reasons=("could not connect to agent",)),
        run(3, RunOutcome.INCOMPLETE),
    )
    return gate(name, GateStatus.ERROR, checks=checks, runs=runs, failure=failure, success_rate=None)


def inconclusive_gate(name: str = "sentiment") -> GateVerdict:
    checks = (
        check(),
        check(
            "metric.Sentiment.rate(positive)",
            CheckStatus.INCONCLUSIVE,
            expression="rate(positive) >= 80%",
            observed=None,
            observed_text="n/a (0 of 5 runs had the metric)",
            summary="metric Sentiment missing on every run",
            error_type="GateInconclusive",
        ),
    )
    return gate(name, GateStatus.ERROR, checks=checks, runs=tuple(run(i) for i in range(1, 6)))


def timed_out_gate_without_checks(name: str = "slow-agent") -> GateVerdict:
    failure = GateFailure(FailureKind.TIMEOUT, "no result within 10m")
    return gate(name, GateStatus.ERROR, failure=failure, snapshot=False, reasons=("gate timed out",))


def hostile_gate() -> GateVerdict:
    breach = check(
        f"metric.{HOSTILE}",
        CheckStatus.FAILED,
        expression="mean >= 4",
        observed_text=HOSTILE,
        summary=f"{WORKFLOW_COMMAND} {HOSTILE}",
        details=f"{WORKFLOW_COMMAND}\n{HOSTILE}\n" * 3,
    )
    runs = (
        run(1, RunOutcome.FAILED, scenario=HOSTILE, reasons=(WORKFLOW_COMMAND, HOSTILE), transcript=HOSTILE),
        run(2, RunOutcome.FAILED, reasons=("huge transcript",), transcript=BIG_TRANSCRIPT),
        run(3, name="duplicate"),
        run(4, name="duplicate"),
    )
    return gate(f"hostile {EMOJI}", GateStatus.FAILED, checks=(breach,), runs=runs, target=HOSTILE)


# --- Freeplay -------------------------------------------------------------------------------------------

FP_CRITERIA = (
    CriterionSummary("auto", "Answer Accuracy", passed=6, failed=2, average=0.85),
    CriterionSummary("human", "Faithfulness", histogram=(("no", 1), ("yes", 7))),
    CriterionSummary("client", "format_ok", passed=8, failed=0),
)
STDERR_TAIL = "stderr (tail):\nTraceback (most recent call last):\nValueError: no answer for case 9"


def fp_case(index: int, *, error: str | None = None, label: str = "Refund question") -> RunVerdict:
    """A Freeplay test case as the orchestrator records it: the target's output, or its error."""
    evals = (
        MetricValue(None, "format_ok", MetricKind.BINARY, 1.0, passed=True),
        MetricValue(None, "length", MetricKind.NUMERIC, 42.0),
    )
    record = RunRecord(
        run_id=f"tc-{index:04d}",
        scenario=label,
        scenario_id=None,
        personality=None,
        status="completed",
        terminal=True,
        success=error is None,
        infra_error=error is not None,
        reasons=() if error is None else (error, STDERR_TAIL),
        metrics=evals if error is None else (),
        duration_s=0.75,
        transcript=f'{{"answer": "refund within 30 days ({index})"}}' if error is None else None,
    )
    outcome = RunOutcome.PASSED if error is None else RunOutcome.INFRA_ERROR
    return RunVerdict(record, outcome, f"{label} #{index:02d}")


def freeplay_gate(
    name: str,
    status: GateStatus,
    checks: tuple[CheckResult, ...],
    runs: tuple[RunVerdict, ...] = (),
    *,
    suite_passed: bool | None = None,
    suite: bool = False,
    total: int | None = None,
) -> GateVerdict:
    snapshot = ResultSnapshot(
        result_id="7d1e0c6a-0000-4000-8000-000000000001",
        status="complete",
        terminal=True,
        succeeded=True,
        name=f"{name} run",
        url="https://app.freeplay.example/projects/p/test-runs/7d1e",
        total_runs=len(runs) if total is None else total,
        runs=tuple(r.record for r in runs),
        criteria=FP_CRITERIA,
        verdict_expected=suite,
        verdict_passed=suite_passed,
    )
    target = f"suite {name}" if suite else "dataset golden-set"
    execution = GateExecution(name, "freeplay", target, snapshot, None, duration_s=42.0)
    return GateVerdict(name, "freeplay", target, status, checks, runs, execution, ())


def freeplay_dataset_gate(name: str = "golden-set", *, passing: bool = False) -> GateVerdict:
    accuracy = (
        check(
            "evaluation.auto:Answer Accuracy.pass_rate",
            CheckStatus.PASSED if passing else CheckStatus.FAILED,
            expression="pass_rate >= 75%" if passing else "pass_rate >= 90%",
            observed=0.75,
            observed_text="75.0% (6/8 auto evaluations)",
            summary="evaluation.auto:Answer Accuracy.pass_rate 75.0% (6/8 auto evaluations) — required "
            + ("pass_rate >= 75%" if passing else "pass_rate >= 90%"),
            details="auto:Answer Accuracy: pass 6, fail 2, average 0.85",
        ),
        check(
            "evaluation.Faithfulness.rate(yes)",
            expression="rate(yes) >= 80%",
            observed=0.875,
            observed_text="87.5% (7/8 human evaluations)",
        ),
        check(
            "max_target_errors",
            expression="<= 1",
            observed=1.0 if not passing else 0.0,
            observed_text="0 target errors (of 8 test cases)"
            if passing
            else "1 target error (of 9 test cases)",
        ),
    )
    runs = tuple(fp_case(i) for i in range(1, 9))
    if not passing:
        runs += (fp_case(9, error="target exited with status 1", label="Edge case"),)
    status = GateStatus.PASSED if passing else GateStatus.FAILED
    return freeplay_gate(name, status, accuracy, runs)


def freeplay_suite_gate(name: str = "release-suite", *, passed: bool = False) -> GateVerdict:
    verdict_check = check(
        "suite.passed",
        CheckStatus.PASSED if passed else CheckStatus.FAILED,
        expression="passed",
        observed=1.0 if passed else 0.0,
        observed_text=f"{str(passed).lower()} (platform verdict, 10 test cases)",
        summary=f"suite.passed {str(passed).lower()} (platform verdict, 10 test cases) — required passed",
    )
    status = GateStatus.PASSED if passed else GateStatus.FAILED
    return freeplay_gate(name, status, (verdict_check,), suite=True, suite_passed=passed, total=10)


def v_freeplay() -> Verdict:
    gates = (freeplay_dataset_gate(), freeplay_suite_gate())
    return verdict(*gates, status=VerdictStatus.FAILED, exit_code=ExitCode.REGRESSION)


def v_freeplay_passed() -> Verdict:
    """A passing dataset gate and a passing server-side suite run (no test cases listed): exit 0."""
    return verdict(freeplay_dataset_gate(passing=True), freeplay_suite_gate(passed=True))


def v_all_passed() -> Verdict:
    return verdict(passing_gate(), passing_gate("billing-agent"))


def v_regression() -> Verdict:
    return verdict(passing_gate(), failing_gate(), status=VerdictStatus.FAILED, exit_code=ExitCode.REGRESSION)


def v_errored() -> Verdict:
    return verdict(errored_gate(), status=VerdictStatus.INCOMPLETE, exit_code=ExitCode.INCOMPLETE)


def v_inconclusive() -> Verdict:
    return verdict(inconclusive_gate(), status=VerdictStatus.INCOMPLETE, exit_code=ExitCode.INCOMPLETE)


def v_timed_out_without_checks() -> Verdict:
    gates = (passing_gate(), timed_out_gate_without_checks())
    return verdict(*gates, status=VerdictStatus.INCOMPLETE, exit_code=ExitCode.INCOMPLETE)


def v_interrupted() -> Verdict:
    """SIGTERM after every gate had finished and passed: only the runner can explain exit code 143."""
    return verdict(
        passing_gate(), status=VerdictStatus.INTERRUPTED, exit_code=ExitCode.SIGTERM, interrupted_by="SIGTERM"
    )


def v_interrupted_gate_error() -> Verdict:
    cancelled = errored_gate()
    return verdict(
        cancelled, status=VerdictStatus.INTERRUPTED, exit_code=ExitCode.SIGINT, interrupted_by="SIGINT"
    )


def v_no_gates() -> Verdict:
    return verdict(status=VerdictStatus.INCOMPLETE, exit_code=ExitCode.INCOMPLETE)


def v_runner_error() -> Verdict:
    # The gate is named like the synthetic suite, so the suite names must be deduplicated.
    return verdict(
        passing_gate("regate"),
        status=VerdictStatus.INCOMPLETE,
        exit_code=ExitCode.INTERNAL,
        runner_errors=("could not end remote call res-42: connection reset", f"{HOSTILE}"),
    )


def v_unexplained_exit_code() -> Verdict:
    """Exit code 3 although every gate passed: the report must still not look green."""
    return verdict(passing_gate(), status=VerdictStatus.INCOMPLETE, exit_code=ExitCode.INCOMPLETE)


def v_hostile() -> Verdict:
    return verdict(hostile_gate(), failing_gate(), status=VerdictStatus.FAILED, exit_code=ExitCode.REGRESSION)


def v_non_blocking_failures() -> Verdict:
    """A failed and an errored gate that are both ``blocking: false``: warnings only, exit code 0."""
    from dataclasses import replace

    advisory = (replace(failing_gate(), blocking=False), replace(errored_gate(), blocking=False))
    return verdict(passing_gate(), *advisory)


ALL_VERDICTS: dict[str, Callable[[], Verdict]] = {
    "all-passed": v_all_passed,
    "regression": v_regression,
    "errored-timeout": v_errored,
    "inconclusive-metric": v_inconclusive,
    "timed-out-without-checks": v_timed_out_without_checks,
    "interrupted-after-gates": v_interrupted,
    "interrupted-gate-error": v_interrupted_gate_error,
    "no-gates": v_no_gates,
    "runner-error": v_runner_error,
    "unexplained-exit-code": v_unexplained_exit_code,
    "hostile-strings": v_hostile,
    "freeplay-regression": v_freeplay,
    "freeplay-passed": v_freeplay_passed,
    "non-blocking-failures": v_non_blocking_failures,
}
