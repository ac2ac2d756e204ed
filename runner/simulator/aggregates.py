"""Result-level aggregates of the detail endpoint (api-contracts §A4.1, §A4.4): overall_evaluation,
runs_by_tags, latency_data and failed_reasons, computed from the runs as seen at one instant."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from runner.simulator.outcomes import MetricScore, RunKind
from runner.simulator.state import RunState, SimState
from runner.simulator.world import Metric

JSON = dict[str, Any]


def rate(part: int, whole: int) -> float:
    """A percentage 0-100 (the unit of Cekura's success_rate), 0.0 when there is nothing to count."""
    return round(100.0 * part / whole, 2) if whole else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 2)


def _scores(states: list[RunState]) -> dict[int, list[MetricScore]]:
    by_metric: dict[int, list[MetricScore]] = {}
    for s in states:
        if s.evaluated:
            for ms in s.record.outcome.metrics:
                by_metric.setdefault(ms.metric.id, []).append(ms)
    return by_metric


def overall(states: list[RunState]) -> JSON:
    by_metric = _scores(states)
    summary: JSON = {}
    numeric: list[JSON] = []
    pass_rates: list[tuple[float, int]] = []
    for mid, scores in by_metric.items():
        m: Metric = scores[0].metric
        entry: JSON = {"id": mid, "name": m.name, "type": m.type, "function_name": m.slug}
        entry["vocera_defined_metric_code"] = ""
        values = [ms.score for ms in scores if ms.score is not None]
        if m.type == "enum":
            label, _ = Counter(ms.label for ms in scores).most_common(1)[0]
            entry.update(score=None, explanation=f"Most frequent: {label}")
        elif values:
            entry["score"] = round(statistics.fmean(values), 2)
        if m.is_binary:
            pass_rates.append((sum(bool(ms.passed) for ms in scores) / len(scores), mid))
        if m.type == "numeric" and values:
            entry["p50"] = percentile(values, 50)
            numeric.append(
                {
                    "name": m.name,
                    "type": "numeric",
                    "value": entry["score"],
                    "percentiles": {"p50": entry["p50"]},
                }
            )
        summary[str(mid)] = entry
    evaluated = [s for s in states if s.evaluated]
    expected = [float(s.record.outcome.expected_score) for s in evaluated]
    return {
        "success_rate": rate(sum(s.success for s in states), len(states)),
        "metric_summary": summary,
        "worst_performing_metrics": {"binary_adherence": [mid for r, mid in sorted(pass_rates) if r < 1.0]},
        "numeric_metrics": numeric,
        "enum_metrics": [mid for mid, sc in by_metric.items() if sc[0].metric.type == "enum"],
        "extra_metrics": [
            {
                "name": "Expected Outcome",
                "type": "numeric",
                "value": round(statistics.fmean(expected), 2),
                "percentiles": {"p50": percentile(expected, 50)},
            }
        ],
    }


def runs_by_tags(state: SimState, states: list[RunState]) -> JSON:
    out: dict[str, JSON] = {}
    for s in states:
        scenario = state.scenario(s.record.plan.scenario_id)
        for tag in scenario.tags if scenario else ():
            entry = out.setdefault(tag, {"total": 0, "success": 0})
            entry["total"] += 1
            entry["success"] += int(s.success)
    return out


def latency(evaluated: list[RunState]) -> JSON:
    values = [
        ms.score
        for s in evaluated
        for ms in s.record.outcome.metrics
        if ms.metric.name.lower() == "latency" and ms.score is not None
    ]
    if not values:
        return {}
    avg = round(statistics.fmean(values), 2)
    return {
        "avg": avg,
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p95": percentile(values, 95),
    }


def failed_reasons(states: list[RunState]) -> JSON | None:
    reasons: dict[str, list[int]] = {}
    for s in states:
        if not s.terminal or s.success:
            continue
        out = s.record.outcome
        if s.status == "cancelled":
            why = "Call ended by an end_calls request"
        elif out.kind is not RunKind.CONNECTED:
            why = out.error_message
        else:
            broken = [ms.metric.name for ms in out.metrics if ms.metric.rubric and ms.passed is False]
            why = f"{broken[0]} failed" if broken else "Expected outcome not met"
        reasons.setdefault(why, []).append(s.record.id)
    if not reasons:
        return None
    ranked = sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    issues = [
        {"rank": i + 1, "run_ids": ids, "description": why, "affected_count": len(ids)}
        for i, (why, ids) in enumerate(ranked)
    ]
    return {"issues": issues, "total_failed_runs": sum(len(ids) for ids in reasons.values())}
