"""JUnit run testcases: one per run (a Cekura simulated conversation, a Freeplay test case).

Part of ``junit.py``'s planning step (Verdict -> cases, every string cleaned here). A run never fails a
consumer: a passed run is a plain testcase, anything else is ``<skipped type="regate.run-failure">`` whose
message is one line (headline and reasons) and whose body says why and where to look.

What the body holds (bounded excerpts; remote text cleaned):

    cekura    outcome, platform status, reasons, expected outcome score, failing metrics, run or result URL,
              run id, "transcript (excerpt)"
    freeplay  outcome, reasons (a target's error, then its stderr tail, kept on several lines), the
              client eval results the target returned, result URL, test case id, "output (excerpt)"

A passed Freeplay test case also shows a shorter output excerpt in ``<system-out>``: what the target
answered is what the evaluations judged, so it is worth seeing next to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runner.model import MetricKind, MetricValue, RunOutcome, RunVerdict
from runner.textclean import excerpt, one_line

RUN_FAILURE_TYPE = "regate.run-failure"
FREEPLAY = "freeplay"
MESSAGE_LIMIT = 500  # design.md §3: a failure message is one line of at most 500 characters
NAME_LIMIT = 300
VALUE_LIMIT = 1000
MAX_REASONS = 20
_PASSED_OUTPUT = (500, 500)  # head and tail of a passed test case's output in <system-out>

Kind = Literal["failure", "error", "skipped"]


@dataclass(slots=True)
class Case:
    classname: str
    name: str
    time: float | None = None
    kind: Kind | None = None
    type: str = ""
    message: str = ""
    body: str = ""
    stdout: str = ""  # <system-out>, only for a passed Freeplay test case


_RUN_HEADLINES: dict[RunOutcome, str] = {
    RunOutcome.FAILED: "run failed",
    RunOutcome.INFRA_ERROR: "run hit an infrastructure error",
    RunOutcome.INCOMPLETE: "run incomplete",
}
_CASE_HEADLINES: dict[RunOutcome, str] = {
    RunOutcome.FAILED: "test case failed",
    RunOutcome.INFRA_ERROR: "target error",
    RunOutcome.INCOMPLETE: "test case incomplete",
}


def run_case(gate_name: str, run: RunVerdict, gate_url: str | None, provider: str) -> Case:
    record = run.record
    freeplay = provider.strip().lower() == FREEPLAY
    name = one_line(run.name, NAME_LIMIT) or one_line(record.scenario, NAME_LIMIT) or "run"
    case = Case(classname=f"regate.runs.{gate_name}", name=name, time=record.duration_s)
    if run.flaky:
        # Failed, then its scenario passed on retry: visible either way; a failure only under flaky: fail.
        why = "; ".join(one_line(r) for r in record.reasons[:MAX_REASONS] if one_line(r))
        case.stdout = one_line(f"flaky: this run failed and its scenario passed on retry. {why}", 2000)
    if run.outcome == RunOutcome.PASSED:
        if freeplay and record.transcript and not run.flaky:
            case.stdout = "output (excerpt):\n" + excerpt(record.transcript, *_PASSED_OUTPUT)
        return case
    reasons = [one_line(r) for r in record.reasons[:MAX_REASONS] if one_line(r)]
    headlines = _CASE_HEADLINES if freeplay else _RUN_HEADLINES
    headline = headlines.get(run.outcome, f"run {run.outcome.value}")
    if run.outcome == RunOutcome.INCOMPLETE:
        headline += f" (status {one_line(record.status, 100) or 'unknown'})"
    case.kind, case.type = "skipped", RUN_FAILURE_TYPE
    case.message = one_line(": ".join([headline, "; ".join(reasons)]) if reasons else headline, MESSAGE_LIMIT)
    case.body = _run_body(run, gate_url, freeplay=freeplay)
    return case


def _reason_lines(reasons: tuple[str, ...]) -> list[str]:
    """``  - <reason>`` each; a reason of several lines (a stderr tail) keeps them, indented."""
    lines = []
    for reason in reasons[:MAX_REASONS]:
        text = excerpt(reason.strip(), 2000, 2000)
        if not text.strip():
            continue
        first, *rest = text.split("\n")
        lines.append(f"  - {first}")
        lines += [f"    {line}" for line in rest]
    return lines


def _metric_value(metric: MetricValue) -> str:
    if metric.kind is MetricKind.BINARY and metric.passed is not None:
        return str(metric.passed).lower()
    if metric.label:
        return one_line(metric.label, 100)
    return "n/a" if metric.score is None else f"{metric.score:g}"


def _run_body(run: RunVerdict, gate_url: str | None, *, freeplay: bool) -> str:
    record = run.record
    lines = [f"outcome: {run.outcome.value}"]
    if not freeplay:  # a Freeplay test case's status is regate's own (the target ran), not the platform's
        lines.append(f"platform status: {one_line(record.status, 100) or 'unknown'}")
    reasons = _reason_lines(record.reasons)
    lines += ["reasons:", *reasons] if reasons else ["reasons: none given"]
    if record.expected_outcome_score is not None:
        lines.append(f"expected outcome score: {record.expected_outcome_score:g}")
    if freeplay and record.metrics:
        lines.append("client eval results:")
        lines += [f"  - {one_line(m.name, 200)}: {_metric_value(m)}" for m in record.metrics[:MAX_REASONS]]
    failing = [m for m in record.metrics if m.passed is False]
    if failing and not freeplay:
        lines.append("failing metrics:")
        for metric in failing[:MAX_REASONS]:
            score = "n/a" if metric.score is None else f"{metric.score:g}"
            explanation = f" — {one_line(metric.explanation, 300)}" if metric.explanation else ""
            lines.append(f"  - {one_line(metric.name, 200)}: score {score}{explanation}")
    if record.url:
        lines.append(f"url: {one_line(record.url, VALUE_LIMIT)}")
    elif gate_url:  # the run has no page of its own: point at its result, where the full transcript is
        lines.append(f"result url: {one_line(gate_url, VALUE_LIMIT)}")
    lines.append(f"{'test case id' if freeplay else 'run id'}: {one_line(record.run_id, 200)}")
    if record.transcript:
        lines += [f"{'output' if freeplay else 'transcript'} (excerpt):", excerpt(record.transcript)]
    return "\n".join(lines)
