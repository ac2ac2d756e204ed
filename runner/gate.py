"""Gate evaluation: what the orchestrator learned, in; one ``Verdict``, out. Pure: no I/O, no clock.

FAIL CLOSED: missing, partial, unparseable, contradictory or timed-out data is never a pass.

Per run (``classify_run``): PASSED iff terminal, status ``completed``, ``success is True`` and no infra
error; INFRA_ERROR if ``infra_error`` or status is failed/timeout/cancelled; FAILED if terminal, completed
and ``success is False``; anything else (not terminal, unknown status, ``success`` None) is INCOMPLETE.

Which checks a gate gets (``_plan``), in this order: ``suite.passed`` when the snapshot expects the
platform's own verdict (a Freeplay suite run; added even when the thresholds are empty), then
success_rate, max_failed_runs, max_infra_errors, max_target_errors, the metric checks, the evaluation
checks. Empty thresholds and no suite verdict give one INCONCLUSIVE check ``thresholds``: never a silent
pass.

Per gate (``evaluate_gate``), the first matching row decides:

    execution.failure set            every check ERROR, error_type = the failure kind (runs still judged)
    no snapshot                      every check ERROR (ProtocolError): no result
    snapshot not terminal            every check ERROR (InfraError): never reached a terminal status
    terminal but not succeeded       every check ERROR (InfraError) naming the platform status
    contradictions                   every check INCONCLUSIVE: snapshot.anomalies, platform counters
                                     (total/success runs, success rate) disagreeing with the runs listed,
                                     a run id listed twice
    server-side suite run            (verdict expected, no runs listed, total_runs > 0) checks on runs --
                                     success_rate, max_*, metrics -- INCONCLUSIVE ("a server-side suite run
                                     has no per-case results"); suite.passed and evaluations evaluated;
                                     its counters are not compared with the runs it does not list
    no runs                          every check INCONCLUSIVE: nothing was tested
    otherwise                        each check evaluated; a check passes *or fails* only on complete data:
                                     any run without a verdict makes it INCONCLUSIVE

Gate status: any check FAILED -> FAILED; else any check INCONCLUSIVE or ERROR -> ERROR; else PASSED.

Exit code (``exit_code_for``, the only place it is decided; design.md §2): interrupted by SIGINT -> 130,
by anything else (SIGTERM, SIGHUP) -> 143; else any blocking gate FAILED -> 1 (wins over 3); else any
blocking gate not PASSED, a runner error, no gates, or nothing tested at all by any gate (no runs, and no
server-side suite run over at least one test case) -> 3; else 0. A non-blocking gate (``blocking: false``)
is judged like any other, but its status only ever warns.

Summary formats: see ``runner.checks`` (passed, failed, inconclusive), plus for blocked checks:

    <id> not evaluated (<ErrorType>): <why> — required <expr>  ERROR (observed None, "n/a")
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from runner.aggregates import format_percent, plural
from runner.change_checks import (
    Baseline,
    MissingBaseline,
    change_check,
    confident_metric_rate_check,
    confident_rate_check,
)
from runner.checks import (
    INCONCLUSIVE_TYPE,
    SUITE_CHECK,
    SUITE_EXPRESSION,
    Tally,
    count_check,
    evaluation_check,
    inconclusive,
    make_check,
    metric_check,
    no_per_case_results,
    no_thresholds,
    run_lines,
    run_reason,
    server_suite,
    success_rate_check,
    suite_check,
    summary_line,
)
from runner.flaky import apply_retries
from runner.model import (
    CheckResult,
    CheckStatus,
    ExitCode,
    FailureKind,
    GateExecution,
    GateStatus,
    GateVerdict,
    ResultSnapshot,
    RunOutcome,
    Verdict,
    VerdictStatus,
)
from runner.runs import name_runs, natural_key
from runner.settings import Statistics
from runner.thresholds import Aggregate, MetricCheck, Op, Thresholds

MAX_REASONS = 10  # "why it failed" lines per gate

STATUS_FOR_CODE = {  # the verdict status that goes with each exit code (merge uses it too)
    ExitCode.OK: VerdictStatus.PASSED,
    ExitCode.REGRESSION: VerdictStatus.FAILED,
    ExitCode.INCOMPLETE: VerdictStatus.INCOMPLETE,
    ExitCode.INTERNAL: VerdictStatus.INCOMPLETE,
    ExitCode.SIGINT: VerdictStatus.INTERRUPTED,
    ExitCode.SIGTERM: VerdictStatus.INTERRUPTED,
}


# --- the plan: which checks a gate gets -------------------------------------------------------------

CheckFn = Callable[[ResultSnapshot, Tally], CheckResult]


@dataclass(frozen=True, slots=True)
class _Plan:
    check_id: str
    expression: str
    run: CheckFn
    per_case: bool  # reads the runs (blocked for a server-side suite run, which lists none)


def _on_runs(check: Callable[[Tally], CheckResult]) -> CheckFn:
    return lambda _snapshot, tally: check(tally)


@dataclass(frozen=True, slots=True)
class Judging:
    """How a gate is judged beyond its thresholds: whether it blocks, its statistics, its baseline."""

    blocking: bool = True
    statistics: Statistics = field(default_factory=Statistics)
    baseline: Baseline | MissingBaseline | None = None
    flaky: str = "pass"  # what a run that failed and whose scenario passed on retry counts as


def _plan(thresholds: Thresholds, snapshot: ResultSnapshot | None, judging: Judging) -> list[_Plan]:
    plans: list[_Plan] = []
    if snapshot is not None and snapshot.verdict_expected:
        plans.append(_Plan(SUITE_CHECK, SUITE_EXPRESSION, suite_check, per_case=False))
    if thresholds.success_rate is not None:
        rate = thresholds.success_rate
        on_rate: Callable[[Tally], CheckResult] = partial(success_rate_check, rate)
        if judging.statistics.confidence is not None and rate.op in (Op.GE, Op.GT):
            on_rate = partial(confident_rate_check, rate, judging.statistics)
        plans.append(_Plan("success_rate", rate.text, _on_runs(on_rate), True))
    limits = (
        ("max_failed_runs", thresholds.max_failed_runs, RunOutcome.FAILED),
        ("max_infra_errors", thresholds.max_infra_errors, RunOutcome.INFRA_ERROR),
        ("max_target_errors", thresholds.max_target_errors, RunOutcome.INFRA_ERROR),
    )
    for check_id, limit, outcome in limits:
        if limit is not None:
            check = _on_runs(partial(count_check, check_id, limit, outcome))
            plans.append(_Plan(check_id, f"<= {limit}", check, per_case=True))
    plans.extend(
        _Plan(
            metric.check_id, metric.text, _on_runs(_metric_check(metric, judging.statistics)), per_case=True
        )
        for metric in thresholds.metrics
    )
    plans.extend(
        _Plan(evaluation.check_id, evaluation.text, partial(evaluation_check, evaluation), per_case=False)
        for evaluation in thresholds.evaluations
    )
    plans.extend(
        _Plan(
            change.check_id,
            change.text,
            _on_runs(partial(change_check, change, baseline=judging.baseline, statistics=judging.statistics)),
            per_case=True,
        )
        for change in thresholds.changes
    )
    return plans or [_Plan("thresholds", "(none)", lambda _s, _t: no_thresholds(), per_case=False)]


def _metric_check(metric: MetricCheck, statistics: Statistics) -> Callable[[Tally], CheckResult]:
    """Rates of a metric are judged on their Wilson bound when ``statistics.confidence`` is set."""
    rate = metric.aggregate in (Aggregate.PASS_RATE, Aggregate.RATE) and metric.comparison.op in (
        Op.GE,
        Op.GT,
    )
    if statistics.confidence is not None and rate:
        return partial(confident_metric_rate_check, metric, statistics)
    return partial(metric_check, metric)


# --- gates ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Blocker:
    """Why no check could be evaluated."""

    status: CheckStatus  # ERROR or INCONCLUSIVE
    error_type: str
    why: str
    details: tuple[str, ...] = ()


def _progress(snapshot: ResultSnapshot, tally: Tally) -> str:
    if server_suite(snapshot):
        return f"{plural(snapshot.total_runs or 0, 'test case')} run by the platform"
    finished = sum(run.record.terminal for run in tally.runs)
    total = snapshot.total_runs if snapshot.total_runs is not None else tally.total
    return f"{finished}/{total} runs finished"


def _known(snapshot: ResultSnapshot, tally: Tally) -> tuple[str, ...]:
    c = tally.counts
    counts = (
        f"{c[RunOutcome.PASSED]} passed, {c[RunOutcome.FAILED]} failed, "
        f"{plural(c[RunOutcome.INFRA_ERROR], 'infra error')}, {c[RunOutcome.INCOMPLETE]} without verdict"
    )
    return (
        f"last result {snapshot.result_id}: status '{snapshot.status}', {_progress(snapshot, tally)}",
        f"runs so far: {counts}",
        *run_lines([run for run in tally.runs if run.outcome is not RunOutcome.PASSED]),
    )


def _contradictions(snapshot: ResultSnapshot, tally: Tally) -> list[str]:
    found = [anomaly for anomaly in snapshot.anomalies if anomaly.strip()] or (
        ["the provider flagged the data as contradictory"] if snapshot.anomalies else []
    )
    total = tally.total
    flagged = sum(run.record.success is True for run in tally.runs)
    if snapshot.total_runs is not None and snapshot.total_runs != total and not server_suite(snapshot):
        found.append(f"the platform counts {plural(snapshot.total_runs, 'run')} but the result lists {total}")
    if snapshot.success_runs is not None and snapshot.success_runs != flagged and not server_suite(snapshot):
        found.append(
            f"the platform counts {snapshot.success_runs} successful runs "
            f"but {flagged} of {total} runs have success=true"
        )
    rate = snapshot.success_rate
    if (
        rate is not None
        and total
        and (not math.isfinite(rate) or abs(rate - flagged / total) > min(0.005, 0.5 / total))
    ):
        found.append(
            f"the platform reports a success rate of {format_percent(rate) if math.isfinite(rate) else rate} "
            f"but {flagged}/{total} runs have success=true ({format_percent(flagged / total)})"
        )
    repeated = sorted(
        (rid for rid, n in Counter(run.record.run_id for run in tally.runs).items() if n > 1), key=natural_key
    )
    if repeated:
        found.append(f"run ids listed more than once: {', '.join(repeated[:5])}")
    return found


def _blocker(execution: GateExecution, tally: Tally) -> _Blocker | None:
    snapshot, failure = execution.snapshot, execution.failure
    if failure is not None:
        known = f" ({_progress(snapshot, tally)})" if snapshot is not None else ""
        details = _known(snapshot, tally) if snapshot is not None else ("no result was received",)
        return _Blocker(CheckStatus.ERROR, failure.kind.value, failure.message + known, details)
    if snapshot is None:
        return _Blocker(CheckStatus.ERROR, "ProtocolError", "no result was received for this gate")
    if not snapshot.terminal:
        why = (
            f"result {snapshot.result_id} never reached a terminal status "
            f"(last status '{snapshot.status}', {_progress(snapshot, tally)})"
        )
        return _Blocker(CheckStatus.ERROR, "InfraError", why, _known(snapshot, tally))
    if not snapshot.succeeded:
        why = f"result {snapshot.result_id} ended with platform status '{snapshot.status}'"
        return _Blocker(CheckStatus.ERROR, "InfraError", why, _known(snapshot, tally))
    contradictions = _contradictions(snapshot, tally)
    if contradictions:
        why = "contradictory data: " + "; ".join(contradictions)
        return _Blocker(CheckStatus.INCONCLUSIVE, INCONCLUSIVE_TYPE, why, tuple(contradictions))
    if not tally.runs and not server_suite(snapshot):
        return _Blocker(CheckStatus.INCONCLUSIVE, INCONCLUSIVE_TYPE, "no runs: nothing was tested")
    return None


def _blocked(check_id: str, expression: str, blocker: _Blocker) -> CheckResult:
    if blocker.status is CheckStatus.INCONCLUSIVE:
        return inconclusive(check_id, expression, blocker.why, details=blocker.details)
    summary = f"{check_id} not evaluated ({blocker.error_type}): {blocker.why} — required {expression}"
    return make_check(
        check_id, expression, CheckStatus.ERROR, summary, blocker.details, error_type=blocker.error_type
    )


def _gate_status(checks: Sequence[CheckResult]) -> GateStatus:
    if any(check.status is CheckStatus.FAILED for check in checks):
        return GateStatus.FAILED
    if checks and all(check.status is CheckStatus.PASSED for check in checks):
        return GateStatus.PASSED
    return GateStatus.ERROR


def _reasons(
    status: GateStatus, checks: Sequence[CheckResult], blocker: _Blocker | None, tally: Tally
) -> tuple[str, ...]:
    if status is GateStatus.PASSED:
        return ()
    lines = [check.summary for check in checks if check.status is CheckStatus.FAILED]
    if blocker is not None:
        lines.append(summary_line(f"{blocker.error_type}: {blocker.why}"))
    else:
        lines += [
            check.summary for check in checks if check.status not in (CheckStatus.PASSED, CheckStatus.FAILED)
        ]
    bad = [run for run in tally.runs if run.outcome in (RunOutcome.FAILED, RunOutcome.INFRA_ERROR)]
    lines += [summary_line(f"{run.name}: {run_reason(run)}") for run in bad]
    return tuple(dict.fromkeys(lines))[:MAX_REASONS]


def evaluate_gate(
    execution: GateExecution, thresholds: Thresholds, judging: Judging | None = None
) -> GateVerdict:
    """Judge one gate (see the module docstring for the table)."""
    judging = judging or Judging()
    snapshot = execution.snapshot
    named = name_runs(snapshot.runs if snapshot is not None else ())
    tally = Tally.of(apply_retries(named, execution.retries, judging.flaky))
    plans = _plan(thresholds, snapshot, judging)
    blocker = _blocker(execution, tally)
    if blocker is None and snapshot is not None:
        suite = server_suite(snapshot)
        checks = tuple(
            no_per_case_results(plan.check_id, plan.expression)
            if suite and plan.per_case
            else plan.run(snapshot, tally)
            for plan in plans
        )
    else:
        blocker = blocker or _Blocker(CheckStatus.ERROR, "ProtocolError", "no result was received")
        checks = tuple(_blocked(plan.check_id, plan.expression, blocker) for plan in plans)
    status = _gate_status(checks)
    return GateVerdict(
        name=execution.gate,
        provider=execution.provider,
        target=execution.target,
        status=status,
        checks=checks,
        runs=tally.runs,
        execution=execution,
        reasons=_reasons(status, checks, blocker, tally),
        blocking=judging.blocking,
    )


@dataclass(frozen=True, slots=True)
class Judged:
    """A gate's verdict and what it was judged from (see ``evaluate``)."""

    execution: GateExecution
    thresholds: Thresholds
    judging: Judging
    verdict: GateVerdict


def judge_gate(execution: GateExecution, thresholds: Thresholds, judging: Judging | None = None) -> Judged:
    """``evaluate_gate``, kept with its inputs so that ``evaluate`` can reuse it."""
    judging = judging or Judging()
    return Judged(execution, thresholds, judging, evaluate_gate(execution, thresholds, judging))


def _judge(
    execution: GateExecution, thresholds: Thresholds, judging: Judging | None, earlier: Judged | None
) -> GateVerdict:
    judging = judging or Judging()
    if (
        earlier is not None
        and earlier.execution == execution  # a copy made again at the end: its snapshot is the same object
        and earlier.thresholds is thresholds
        and (earlier.judging is judging or earlier.judging == judging)
    ):
        return earlier.verdict
    return evaluate_gate(execution, thresholds, judging)


# --- the verdict ------------------------------------------------------------------------------------


def exit_code_for(
    gates: Sequence[GateVerdict],
    *,
    runner_errors: Sequence[str] = (),
    interrupted_by: str | None = None,
    internal_error: bool = False,
) -> ExitCode:
    """The single place where the exit code is decided (design.md §2).

    SIGHUP has no code of its own in ``ExitCode``; it maps to 143 like SIGTERM (both mean "terminated").
    A bug in regate (``internal_error``) is 4 whatever the gates say: nothing it produced can be trusted.
    """
    if interrupted_by is not None:
        return ExitCode.SIGINT if interrupted_by.strip().upper() in ("SIGINT", "INT") else ExitCode.SIGTERM
    if internal_error:
        return ExitCode.INTERNAL
    blocking = [gate for gate in gates if gate.blocking]
    if any(gate.status is GateStatus.FAILED for gate in blocking):
        return ExitCode.REGRESSION
    if (
        runner_errors
        or not gates
        or any(gate.status is not GateStatus.PASSED for gate in blocking)
        or not any(gate.runs or server_suite(gate.execution.snapshot) for gate in gates)
    ):
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def evaluate(
    executions: Sequence[tuple[GateExecution, Thresholds]],
    *,
    started_at: str,
    duration_s: float,
    config_path: str,
    version: str,
    interrupted_by: str | None = None,
    runner_errors: Sequence[str] = (),
    internal_error: bool = False,
    judging: Mapping[str, Judging] | None = None,
    judged: Mapping[str, Judged] | None = None,
) -> Verdict:
    """Judge every gate and derive the one status and exit code all reports share. ``judging`` per gate
    name: a non-blocking gate is judged too, but its failure only warns. ``judged``: gates judged already
    (for the progress lines), by name; one is reused where it judged the same execution, thresholds and
    judging, which makes it the verdict ``evaluate_gate`` would give again."""
    rules, earlier = judging or {}, judged or {}
    gates = tuple(
        _judge(execution, thresholds, rules.get(execution.gate), earlier.get(execution.gate))
        for execution, thresholds in executions
    )
    internal_error = internal_error or any(
        execution.failure is not None and execution.failure.kind is FailureKind.INTERNAL
        for execution, _ in executions
    )
    code = exit_code_for(
        gates, runner_errors=runner_errors, interrupted_by=interrupted_by, internal_error=internal_error
    )
    return Verdict(
        status=STATUS_FOR_CODE[code],
        exit_code=code,
        gates=gates,
        runner_errors=tuple(runner_errors),
        started_at=started_at,
        duration_s=duration_s,
        config_path=config_path,
        version=version,
        interrupted_by=interrupted_by,
    )
