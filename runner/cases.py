"""Test cases executed by regate (Freeplay) as neutral run records: pure functions.

Every case the platform handed back becomes exactly one ``RunRecord`` — pending until its target has run,
then completed (output recorded) or a target error (``infra_error``, with the error and stderr tail as
reasons) — so every case is accounted for in the reports, whatever happens to the run.
"""

from __future__ import annotations

import json
import math

from runner.model import MetricKind, MetricValue, RunRecord, TargetResult, TestCase
from runner.textclean import excerpt, one_line


def pending_record(case: TestCase) -> RunRecord:
    return RunRecord(
        run_id=case.case_id,
        scenario=case.label,
        scenario_id=case.case_id,
        personality=None,
        status="pending",
        terminal=False,
        success=None,
        infra_error=False,
        reasons=("the target has not run this test case",),
    )


def _output_text(output_json: str | None) -> str | None:
    if output_json is None:
        return None
    try:
        value = json.loads(output_json)
    except ValueError:
        return output_json
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)


def _metrics(result: TargetResult) -> tuple[MetricValue, ...]:
    metrics = []
    for name, value in result.eval_results:
        if isinstance(value, bool):
            metrics.append(MetricValue(None, name, MetricKind.BINARY, float(value), passed=value))
        elif math.isfinite(value):
            metrics.append(MetricValue(None, name, MetricKind.NUMERIC, float(value)))
    return tuple(metrics)


def case_record(result: TargetResult, *, record_error: str | None = None) -> RunRecord:
    """The run record of one executed case; ``record_error`` says the output could not be recorded."""
    reasons: list[str] = []
    if not result.ok:
        reasons.append(f"target error: {one_line(result.error or 'unknown error', 300)}")
        if result.stderr_tail:
            tail = [line for line in result.stderr_tail.splitlines() if line.strip()][-3:]
            reasons.append("stderr: " + one_line(" | ".join(tail), 300))
    if record_error is not None:
        reasons.append(f"not recorded: {one_line(record_error, 300)}")
    ok = result.ok and record_error is None
    text = _output_text(result.output_json)
    return RunRecord(
        run_id=result.case.case_id,
        scenario=result.case.label,
        scenario_id=result.case.case_id,
        personality=None,
        status="completed" if ok else "failed",
        terminal=True,
        success=ok,
        infra_error=not ok,
        reasons=tuple(reasons),
        metrics=_metrics(result),
        duration_s=result.duration_s,
        transcript=excerpt(text, 1200, 800) if text else None,
    )
