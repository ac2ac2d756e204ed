"""Gate evaluation: what the orchestrator learned, in; one ``Verdict``, out. Pure: no I/O, no clock.

FAIL CLOSED: missing, partial, unparseable, contradictory or timed-out data is never a pass.

Per run (``classify_run``): PASSED iff terminal, status ``completed``, ``success is True`` and no infra
error; INFRA_ERROR if ``infra_error`` or status is failed/timeout/cancelled; FAILED if terminal, completed
and ``success is False``; anything else (not terminal, unknown status, ``success`` None) is INCOMPLETE.

Per gate (``evaluate_gate``), the first matching row decides:

    execution.failure set            every check ERROR, error_type = the failure kind (runs still judged)
    no snapshot                      every check ERROR (ProtocolError): no result
    snapshot not terminal            every check ERROR (InfraError): never reached a terminal status
    terminal but not succeeded       every check ERROR (InfraError) naming the platform status
    contradictions                   every check INCONCLUSIVE: snapshot.anomalies, platform counters
                                     (total/success runs, success rate) disagreeing with the runs listed,
                                     a run id listed twice
    no runs                          every check INCONCLUSIVE: nothing was tested
    otherwise                        each check evaluated; a check passes *or fails* only on complete data:
                                     any run without a verdict makes it INCONCLUSIVE

Gate status: any check FAILED -> FAILED; else any check INCONCLUSIVE or ERROR -> ERROR; else PASSED.
Empty thresholds (config forbids them) give one INCONCLUSIVE check ``thresholds``, never a silent pass.

Exit code (``exit_code_for``, the only place it is decided; design.md §2): interrupted by SIGINT -> 130,
by anything else (SIGTERM, SIGHUP) -> 143; else any gate FAILED -> 1 (wins over 3); else any gate not
PASSED, a runner error, no gates, or no runs at all -> 3; else 0.

Summary formats (one line, at most 500 characters; details are multi-line):

    <id> <observed> — required <expression>[; <note>]...      PASSED / FAILED
    <id> inconclusive: <why> — required <expression>[; ...]   INCONCLUSIVE (observed None, "n/a")
    <id> not evaluated (<ErrorType>): <why> — required <expr>  ERROR (observed None, "n/a")

    success_rate 85.0% (17/20 runs) — required >= 90%; 2 failed, 1 infra error
    max_failed_runs 3 failed runs (of 20) — required <= 2
    max_infra_errors 1 infra error (of 20 runs) — required <= 0
    metric.Latency.p50 1830 (17 runs) — required p50 <= 2000; metric missing on 3 runs
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from runner.aggregates import evaluate_metric, format_percent, plural
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
    RunVerdict,
    Verdict,
    VerdictStatus,
)
from runner.runs import name_runs, natural_key
from runner.thresholds import Comparison, MetricCheck, Op, Thresholds

INCONCLUSIVE_TYPE = "GateInconclusive"
SUMMARY_LIMIT = 500
DETAIL_RUNS = 50  # runs listed in one check's details
MAX_REASONS = 10  # "why it failed" lines per gate

_LABELS = {
    RunOutcome.PASSED: "passed",
    RunOutcome.FAILED: "failed",
    RunOutcome.INFRA_ERROR: "infra error",
    RunOutcome.INCOMPLETE: "no verdict",
}
_STATUS_FOR_CODE = {
    ExitCode.OK: VerdictStatus.PASSED,
    ExitCode.REGRESSION: VerdictStatus.FAILED,
    ExitCode.INCOMPLETE: VerdictStatus.INCOMPLETE,
    ExitCode.INTERNAL: VerdictStatus.INCOMPLETE,
    ExitCode.SIGINT: VerdictStatus.INTERRUPTED,
    ExitCode.SIGTERM: VerdictStatus.INTERRUPTED,
}


@dataclass(frozen=True, slots=True)
class _Tally:
    runs: tuple[RunVerdict, ...]
    counts: Counter[RunOutcome]

    @classmethod
    def of(cls, runs: tuple[RunVerdict, ...]) -> _Tally:
        return cls(runs, Counter(run.outcome for run in runs))

    @property
    def total(self) -> int:
        return len(self.runs)

    @property
    def unknown(self) -> int:
        return self.counts[RunOutcome.INCOMPLETE]

    def breakdown(self) -> str:
        """``2 failed, 1 infra error`` (empty when every run has a verdict and passed)."""
        failed, infra = self.counts[RunOutcome.FAILED], self.counts[RunOutcome.INFRA_ERROR]
        return ", ".join([f"{failed} failed"] * bool(failed) + [plural(infra, "infra error")] * bool(infra))


def _run_reason(run: RunVerdict) -> str:
    for reason in run.record.reasons:
        if reason.strip():
            return _one_line(reason, 200)
    status = run.record.status or "?"
    match run.outcome:
        case RunOutcome.FAILED:
            return "the platform marked the run unsuccessful (no reason given)"
        case RunOutcome.INFRA_ERROR:
            return f"infrastructure error (status '{status}')"
        case RunOutcome.INCOMPLETE:
            verdict = "unknown" if run.record.success is None else str(run.record.success).lower()
            return f"no verdict (status '{status}', success {verdict})"
        case _:
            return "passed"


def _run_lines(runs: Sequence[RunVerdict], limit: int = DETAIL_RUNS) -> list[str]:
    lines = [f"{_LABELS[run.outcome]}: {run.name}: {_run_reason(run)}" for run in runs[:limit]]
    if len(runs) > limit:
        lines.append(f"… and {len(runs) - limit} more")
    return lines


# --- check results ----------------------------------------------------------------------------------


def _one_line(text: str, limit: int = SUMMARY_LIMIT) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _tail(notes: Sequence[str]) -> str:
    return "".join(f"; {note}" for note in notes if note)


def _check(
    check_id: str,
    expression: str,
    status: CheckStatus,
    summary: str,
    details: Sequence[str],
    *,
    observed: float | None = None,
    observed_text: str = "n/a",
    error_type: str | None = None,
) -> CheckResult:
    text = _one_line(summary)
    return CheckResult(
        check_id, expression, status, observed, observed_text, text, "\n".join(details), error_type
    )


def _inconclusive(
    check_id: str, expression: str, why: str, notes: Sequence[str] = (), details: Sequence[str] = ()
) -> CheckResult:
    summary = f"{check_id} inconclusive: {why} — required {expression}{_tail(notes)}"
    return _check(
        check_id, expression, CheckStatus.INCONCLUSIVE, summary, details, error_type=INCONCLUSIVE_TYPE
    )


def _decide(
    check_id: str,
    expression: str,
    comparison: Comparison,
    observed: float,
    observed_text: str,
    tally: _Tally,
    *,
    notes: Sequence[str] = (),
    details: Sequence[str] = (),
    breached_anyway: bool = False,
) -> CheckResult:
    """PASSED/FAILED on complete data; INCONCLUSIVE while any run has no verdict."""
    if tally.unknown:
        why = f"{tally.unknown} of {tally.total} runs have no verdict"
        if breached_anyway:
            why += " (already breached whatever they turn out to be)"
        unknown = [run for run in tally.runs if run.outcome is RunOutcome.INCOMPLETE]
        return _inconclusive(
            check_id, expression, why, [f"so far {observed_text}", *notes], [*_run_lines(unknown), *details]
        )
    status = CheckStatus.PASSED if comparison.holds(observed) else CheckStatus.FAILED
    summary = f"{check_id} {observed_text} — required {expression}{_tail(notes)}"
    return _check(
        check_id, expression, status, summary, details, observed=observed, observed_text=observed_text
    )


def _breached_for_all(comparison: Comparison, low: int, unknown: int, scale: int) -> bool:
    return all(not comparison.holds((low + k) / scale) for k in range(unknown + 1))


def _success_rate(comparison: Comparison, tally: _Tally) -> CheckResult:
    passed, total = tally.counts[RunOutcome.PASSED], tally.total
    if not 0.0 <= comparison.value <= 1.0:
        return _inconclusive("success_rate", comparison.text, "the threshold is outside 0–100%")
    observed = passed / total
    text = f"{format_percent(observed, comparison)} ({passed}/{total} runs)"
    others = [run for run in tally.runs if run.outcome is not RunOutcome.PASSED]
    return _decide(
        "success_rate",
        comparison.text,
        comparison,
        observed,
        text,
        tally,
        notes=[tally.breakdown()],
        details=_run_lines(others),
        breached_anyway=_breached_for_all(comparison, passed, tally.unknown, total),
    )


def _at_most(limit: int) -> Comparison:
    return Comparison(Op.LE, float(limit), percent=False, text=f"<= {limit}")


def _count_check(check_id: str, limit: int, outcome: RunOutcome, tally: _Tally) -> CheckResult:
    comparison = _at_most(limit)
    count = tally.counts[outcome]
    if outcome is RunOutcome.FAILED:
        text = f"{plural(count, 'failed run')} (of {tally.total})"
    else:
        text = f"{plural(count, 'infra error')} (of {plural(tally.total, 'run')})"
    return _decide(
        check_id,
        comparison.text,
        comparison,
        float(count),
        text,
        tally,
        details=_run_lines([run for run in tally.runs if run.outcome is outcome]),
        breached_anyway=_breached_for_all(comparison, count, tally.unknown, 1),
    )


def _metric_check(check: MetricCheck, tally: _Tally) -> CheckResult:
    trusted = (RunOutcome.PASSED, RunOutcome.FAILED)
    result = evaluate_metric(check, [(r.name, r.outcome in trusted, r.record.metrics) for r in tally.runs])
    if result.problem is not None or result.observed is None:
        why = result.problem or "no value"
        return _inconclusive(check.check_id, check.text, why, result.notes, result.lines)
    return _decide(
        check.check_id,
        check.text,
        check.comparison,
        result.observed,
        result.observed_text,
        tally,
        notes=result.notes,
        details=result.lines,
    )


def _no_thresholds(tally: _Tally) -> CheckResult:
    return _inconclusive("thresholds", "(none)", "no thresholds configured: nothing to compare")


_Plan = tuple[str, str, Callable[[_Tally], CheckResult]]


def _plan(thresholds: Thresholds) -> list[_Plan]:
    plans: list[_Plan] = []
    if thresholds.success_rate is not None:
        plans.append(
            ("success_rate", thresholds.success_rate.text, partial(_success_rate, thresholds.success_rate))
        )
    if thresholds.max_failed_runs is not None:
        limit = thresholds.max_failed_runs
        plans.append(
            (
                "max_failed_runs",
                f"<= {limit}",
                partial(_count_check, "max_failed_runs", limit, RunOutcome.FAILED),
            )
        )
    if thresholds.max_infra_errors is not None:
        limit = thresholds.max_infra_errors
        check = partial(_count_check, "max_infra_errors", limit, RunOutcome.INFRA_ERROR)
        plans.append(("max_infra_errors", f"<= {limit}", check))
    plans.extend(
        (metric.check_id, metric.text, partial(_metric_check, metric)) for metric in thresholds.metrics
    )
    return plans or [("thresholds", "(none)", _no_thresholds)]


# --- gates ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Blocker:
    """Why no check could be evaluated."""

    status: CheckStatus  # ERROR or INCONCLUSIVE
    error_type: str
    why: str
    details: tuple[str, ...] = ()


def _progress(snapshot: ResultSnapshot, tally: _Tally) -> str:
    finished = sum(run.record.terminal for run in tally.runs)
    total = snapshot.total_runs if snapshot.total_runs is not None else tally.total
    return f"{finished}/{total} runs finished"


def _known(snapshot: ResultSnapshot, tally: _Tally) -> tuple[str, ...]:
    c = tally.counts
    counts = (
        f"{c[RunOutcome.PASSED]} passed, {c[RunOutcome.FAILED]} failed, "
        f"{plural(c[RunOutcome.INFRA_ERROR], 'infra error')}, {c[RunOutcome.INCOMPLETE]} without verdict"
    )
    return (
        f"last result {snapshot.result_id}: status '{snapshot.status}', {_progress(snapshot, tally)}",
        f"runs so far: {counts}",
        *_run_lines([run for run in tally.runs if run.outcome is not RunOutcome.PASSED]),
    )


def _contradictions(snapshot: ResultSnapshot, tally: _Tally) -> list[str]:
    found = [anomaly for anomaly in snapshot.anomalies if anomaly.strip()] or (
        ["the provider flagged the data as contradictory"] if snapshot.anomalies else []
    )
    total = tally.total
    flagged = sum(run.record.success is True for run in tally.runs)
    if snapshot.total_runs is not None and snapshot.total_runs != total:
        found.append(f"the platform counts {plural(snapshot.total_runs, 'run')} but the result lists {total}")
    if snapshot.success_runs is not None and snapshot.success_runs != flagged:
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


def _blocker(execution: GateExecution, tally: _Tally) -> _Blocker | None:
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
    if not tally.runs:
        return _Blocker(CheckStatus.INCONCLUSIVE, INCONCLUSIVE_TYPE, "no runs: nothing was tested")
    return None


def _blocked(check_id: str, expression: str, blocker: _Blocker) -> CheckResult:
    if blocker.status is CheckStatus.INCONCLUSIVE:
        return _inconclusive(check_id, expression, blocker.why, details=blocker.details)
    summary = f"{check_id} not evaluated ({blocker.error_type}): {blocker.why} — required {expression}"
    return _check(
        check_id, expression, CheckStatus.ERROR, summary, blocker.details, error_type=blocker.error_type
    )


def _gate_status(checks: Sequence[CheckResult]) -> GateStatus:
    if any(check.status is CheckStatus.FAILED for check in checks):
        return GateStatus.FAILED
    if checks and all(check.status is CheckStatus.PASSED for check in checks):
        return GateStatus.PASSED
    return GateStatus.ERROR


def _reasons(
    status: GateStatus, checks: Sequence[CheckResult], blocker: _Blocker | None, tally: _Tally
) -> tuple[str, ...]:
    if status is GateStatus.PASSED:
        return ()
    lines = [check.summary for check in checks if check.status is CheckStatus.FAILED]
    if blocker is not None:
        lines.append(_one_line(f"{blocker.error_type}: {blocker.why}"))
    else:
        lines += [
            check.summary for check in checks if check.status not in (CheckStatus.PASSED, CheckStatus.FAILED)
        ]
    bad = [run for run in tally.runs if run.outcome in (RunOutcome.FAILED, RunOutcome.INFRA_ERROR)]
    lines += [_one_line(f"{run.name}: {_run_reason(run)}") for run in bad]
    return tuple(dict.fromkeys(lines))[:MAX_REASONS]


def evaluate_gate(execution: GateExecution, thresholds: Thresholds) -> GateVerdict:
    """Judge one gate (see the module docstring for the table)."""
    snapshot = execution.snapshot
    tally = _Tally.of(name_runs(snapshot.runs if snapshot is not None else ()))
    plans = _plan(thresholds)
    blocker = _blocker(execution, tally)
    if blocker is not None:
        checks = tuple(_blocked(check_id, expression, blocker) for check_id, expression, _ in plans)
    else:
        checks = tuple(run_check(tally) for _, _, run_check in plans)
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
    )


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
    if any(gate.status is GateStatus.FAILED for gate in gates):
        return ExitCode.REGRESSION
    if (
        runner_errors
        or not gates
        or any(gate.status is not GateStatus.PASSED for gate in gates)
        or not any(gate.runs for gate in gates)
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
) -> Verdict:
    """Judge every gate and derive the one status and exit code all reports share."""
    gates = tuple(evaluate_gate(execution, thresholds) for execution, thresholds in executions)
    internal_error = internal_error or any(
        execution.failure is not None and execution.failure.kind is FailureKind.INTERNAL
        for execution, _ in executions
    )
    code = exit_code_for(
        gates, runner_errors=runner_errors, interrupted_by=interrupted_by, internal_error=internal_error
    )
    return Verdict(
        status=_STATUS_FOR_CODE[code],
        exit_code=code,
        gates=gates,
        runner_errors=tuple(runner_errors),
        started_at=started_at,
        duration_s=duration_s,
        config_path=config_path,
        version=version,
        interrupted_by=interrupted_by,
    )
