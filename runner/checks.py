"""Check results: the building blocks ``gate.py`` assembles. Pure: no I/O, no clock.

One function per kind of check turns the judged runs (a ``Tally``) and, for Freeplay, the snapshot's
evaluation summaries into one ``CheckResult``. A check passes *or fails* only on complete data
(``decide``): while any run has no verdict it is INCONCLUSIVE. Which checks run, and which are blocked
before they run, is decided by ``gate.py``.

Summary formats (one line, at most 500 characters; details are multi-line):

    <id> <observed> — required <expression>[; <note>]...      PASSED / FAILED
    <id> inconclusive: <why> — required <expression>[; ...]   INCONCLUSIVE (observed None, "n/a")

    success_rate 85.0% (17/20 runs) — required >= 90%; 2 failed, 1 infra error
    max_failed_runs 3 failed runs (of 20) — required <= 2
    max_infra_errors 1 infra error (of 20 runs) — required <= 0
    max_target_errors 2 target errors (of 10 test cases) — required <= 0
    metric.Latency.p50 1830 (17 runs) — required p50 <= 2000; metric missing on 3 runs
    evaluation.Answer Accuracy.pass_rate 75.0% (6/8 auto evaluations) — required pass_rate >= 90%
    suite.passed false (platform verdict, 10 test cases) — required passed
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from runner.aggregates import MetricRun, evaluate_metric, format_percent, plural
from runner.evaluations import describe_criterion, evaluate_criterion
from runner.model import CheckResult, CheckStatus, ResultSnapshot, RunOutcome, RunVerdict
from runner.thresholds import Comparison, EvaluationCheck, MetricCheck, Op

INCONCLUSIVE_TYPE = "GateInconclusive"
SUMMARY_LIMIT = 500
DETAIL_RUNS = 50  # runs listed in one check's details
SUITE_CHECK = "suite.passed"
SUITE_EXPRESSION = "passed"

LABELS = {
    RunOutcome.PASSED: "passed",
    RunOutcome.FAILED: "failed",
    RunOutcome.INFRA_ERROR: "infra error",
    RunOutcome.INCOMPLETE: "no verdict",
}
_PER_CASE_RESULTS = "a server-side suite run has no per-case results"


@dataclass(frozen=True, slots=True)
class Tally:
    """The judged runs of one gate and how many ended in each outcome."""

    runs: tuple[RunVerdict, ...]
    counts: Counter[RunOutcome]

    @classmethod
    def of(cls, runs: tuple[RunVerdict, ...]) -> Tally:
        return cls(runs, Counter(run.outcome for run in runs))

    @property
    def total(self) -> int:
        return len(self.runs)

    @property
    def unknown(self) -> int:
        return self.counts[RunOutcome.INCOMPLETE]

    def metric_runs(self) -> list[MetricRun]:
        """The runs as ``evaluate_metric`` reads them: only a completed run's metrics are trustworthy."""
        trusted = (RunOutcome.PASSED, RunOutcome.FAILED)
        return [(run.name, run.outcome in trusted, run.record.metrics) for run in self.runs]

    def breakdown(self) -> str:
        """``2 failed, 1 infra error`` (empty when every run has a verdict and passed)."""
        failed, infra = self.counts[RunOutcome.FAILED], self.counts[RunOutcome.INFRA_ERROR]
        flaky = sum(run.flaky for run in self.runs)
        parts = [f"{failed} failed"] * bool(failed) + [plural(infra, "infra error")] * bool(infra)
        return ", ".join(parts + [f"{flaky} flaky (failed, then passed on retry)"] * bool(flaky))


def server_suite(snapshot: ResultSnapshot | None) -> bool:
    """A Freeplay suite run executed on the server: the platform's verdict over cases we never see.

    Recognised by a verdict being expected, no runs listed and a positive number of test cases.
    """
    return (
        snapshot is not None
        and snapshot.verdict_expected
        and not snapshot.runs
        and (snapshot.total_runs or 0) > 0
    )


def run_reason(run: RunVerdict) -> str:
    for reason in run.record.reasons:
        if reason.strip():
            return summary_line(reason, 200)
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


def run_lines(runs: Sequence[RunVerdict], limit: int = DETAIL_RUNS, label: str | None = None) -> list[str]:
    """``<outcome>: <run name>: <first reason>`` per run, at most ``limit`` of them."""
    lines = [f"{label or LABELS[run.outcome]}: {run.name}: {run_reason(run)}" for run in runs[:limit]]
    if len(runs) > limit:
        lines.append(f"… and {len(runs) - limit} more")
    return lines


def summary_line(text: str, limit: int = SUMMARY_LIMIT) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _tail(notes: Sequence[str]) -> str:
    return "".join(f"; {note}" for note in notes if note)


def make_check(
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
    text = summary_line(summary)
    return CheckResult(
        check_id, expression, status, observed, observed_text, text, "\n".join(details), error_type
    )


def inconclusive(
    check_id: str, expression: str, why: str, notes: Sequence[str] = (), details: Sequence[str] = ()
) -> CheckResult:
    summary = f"{check_id} inconclusive: {why} — required {expression}{_tail(notes)}"
    return make_check(
        check_id, expression, CheckStatus.INCONCLUSIVE, summary, details, error_type=INCONCLUSIVE_TYPE
    )


def decide(
    check_id: str,
    expression: str,
    comparison: Comparison,
    observed: float,
    observed_text: str,
    tally: Tally,
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
        return inconclusive(
            check_id, expression, why, [f"so far {observed_text}", *notes], [*run_lines(unknown), *details]
        )
    status = CheckStatus.PASSED if comparison.holds(observed) else CheckStatus.FAILED
    summary = f"{check_id} {observed_text} — required {expression}{_tail(notes)}"
    return make_check(
        check_id, expression, status, summary, details, observed=observed, observed_text=observed_text
    )


def _breached_for_all(comparison: Comparison, low: int, unknown: int, scale: int) -> bool:
    return all(not comparison.holds((low + k) / scale) for k in range(unknown + 1))


# --- checks on runs ---------------------------------------------------------------------------------


def success_rate_check(comparison: Comparison, tally: Tally) -> CheckResult:
    passed, total = tally.counts[RunOutcome.PASSED], tally.total
    if not 0.0 <= comparison.value <= 1.0:
        return inconclusive("success_rate", comparison.text, "the threshold is outside 0–100%")
    observed = passed / total
    text = f"{format_percent(observed, comparison)} ({passed}/{total} runs)"
    others = [run for run in tally.runs if run.outcome is not RunOutcome.PASSED]
    return decide(
        "success_rate",
        comparison.text,
        comparison,
        observed,
        text,
        tally,
        notes=[tally.breakdown()],
        details=run_lines(others),
        breached_anyway=_breached_for_all(comparison, passed, tally.unknown, total),
    )


def at_most(limit: int) -> Comparison:
    return Comparison(Op.LE, float(limit), percent=False, text=f"<= {limit}")


def count_check(check_id: str, limit: int, outcome: RunOutcome, tally: Tally) -> CheckResult:
    """``max_failed_runs`` (FAILED), ``max_infra_errors`` (INFRA_ERROR) and ``max_target_errors``.

    ``max_target_errors`` counts INFRA_ERROR runs too: in a Freeplay gate a run is one test case, and it
    is an infrastructure error exactly when the target produced no output that could be recorded.
    """
    comparison = at_most(limit)
    count = tally.counts[outcome]
    label = None
    if check_id == "max_target_errors":
        label = "target error"
        text = f"{plural(count, 'target error')} (of {plural(tally.total, 'test case')})"
    elif outcome is RunOutcome.FAILED:
        text = f"{plural(count, 'failed run')} (of {tally.total})"
    else:
        text = f"{plural(count, 'infra error')} (of {plural(tally.total, 'run')})"
    return decide(
        check_id,
        comparison.text,
        comparison,
        float(count),
        text,
        tally,
        details=run_lines([run for run in tally.runs if run.outcome is outcome], label=label),
        breached_anyway=_breached_for_all(comparison, count, tally.unknown, 1),
    )


def metric_check(check: MetricCheck, tally: Tally) -> CheckResult:
    result = evaluate_metric(check, tally.metric_runs())
    if result.problem is not None or result.observed is None:
        why = result.problem or "no value"
        return inconclusive(check.check_id, check.text, why, result.notes, result.lines)
    return decide(
        check.check_id,
        check.text,
        check.comparison,
        result.observed,
        result.observed_text,
        tally,
        notes=result.notes,
        details=result.lines,
    )


def no_thresholds() -> CheckResult:
    return inconclusive("thresholds", "(none)", "no thresholds configured: nothing to compare")


def no_per_case_results(check_id: str, expression: str) -> CheckResult:
    """A check on runs, for a gate whose platform judged the cases itself (a server-side suite run)."""
    return inconclusive(
        check_id,
        expression,
        _PER_CASE_RESULTS,
        details=["the suite was executed by the platform: only its verdict and evaluations are known"],
    )


# --- checks on the platform's evaluations and verdict (Freeplay) ------------------------------------


def _unrecorded(tally: Tally) -> list[str]:
    """A note when the target failed on some test cases: the platform evaluated the error text regate
    recorded in their place (so the run could finish), not an answer of the agent."""
    errors = tally.counts[RunOutcome.INFRA_ERROR]
    if not errors:
        return []
    return [f"{plural(errors, 'test case')} evaluated on a target error instead of an answer"]


def evaluation_check(check: EvaluationCheck, snapshot: ResultSnapshot, tally: Tally) -> CheckResult:
    result = evaluate_criterion(check, snapshot.criteria)
    notes = [*result.notes, *_unrecorded(tally)]
    if result.problem is not None or result.observed is None:
        why = result.problem or "no value"
        return inconclusive(check.check_id, check.text, why, notes, result.lines)
    return decide(
        check.check_id,
        check.text,
        check.comparison,
        result.observed,
        result.observed_text,
        tally,
        notes=notes,
        details=result.lines,
    )


def suite_check(snapshot: ResultSnapshot, tally: Tally) -> CheckResult:
    """The platform's own pass/fail of a suite run: true passes, false fails, null is inconclusive."""
    cases = f", {plural(snapshot.total_runs, 'test case')}" if snapshot.total_runs is not None else ""
    notes = _unrecorded(tally)
    details = [f"{c.source}:{c.name}: {describe_criterion(c)}" for c in snapshot.criteria]
    if snapshot.verdict_passed is None:
        why = "the platform gave no verdict (passed is null)"
        return inconclusive(SUITE_CHECK, SUITE_EXPRESSION, why, notes, details)
    observed = 1.0 if snapshot.verdict_passed else 0.0
    text = f"{'true' if snapshot.verdict_passed else 'false'} (platform verdict{cases})"
    required = Comparison(Op.EQ, 1.0, percent=False, text="== 1")
    return decide(
        SUITE_CHECK, SUITE_EXPRESSION, required, observed, text, tally, notes=notes, details=details
    )
