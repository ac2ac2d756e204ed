"""Trends: a ``History`` of reports turned into one series of values per gate and check. Pure.

What is charted, per gate (a gate is identified by its config path and its name: reports of different
configs are different pipelines, so a gate ``smoke`` of two configs gives two trends):

- **success rate**: the ``success_rate`` check's observed value; for a gate without that check, passed runs
  over all runs when every run has a verdict. A timed-out gate, an inconclusive check or a gate absent from a
  report is a **gap** (``None``), never 0.
- **key metrics**: the metric and evaluation checks (ids ``metric.…``, ``evaluation.…``) found in the
  reports, in the order of the newest report that has them, at most ``MAX_METRIC_CHARTS``; the others are
  named in ``omitted``. A check absent from a report, or without a value, is a gap.

Each series has one point per report of its config, oldest first, so that charts of one config line up.
The threshold drawn is the one of the newest report that has the check (the expression is read with the
config grammar; one that does not parse just has no line). Values are in the check's unit: a fraction for
rates and percents (``Scale.PERCENT``), the metric's own unit otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from runner.errors import ThresholdSyntaxError
from runner.history import CheckPoint, GateRecord, History, Report
from runner.model import CheckStatus, RunOutcome
from runner.reporters._format import format_rate
from runner.threshold_types import Aggregate, Comparison
from runner.thresholds import compile_thresholds

__all__ = [
    "MAX_METRIC_CHARTS",
    "ConfigTrend",
    "GateTrend",
    "Point",
    "Scale",
    "Series",
    "build_trends",
    "metric_title",
]

MAX_METRIC_CHARTS = 6
SUCCESS_RATE = "success_rate"
_METRIC_PREFIXES = ("metric.", "evaluation.")
_RATE_AGGREGATES = (Aggregate.PASS_RATE, Aggregate.RATE)


class Scale(StrEnum):
    PERCENT = "percent"  # fractions 0-1, drawn on a 0-100 % axis
    NUMBER = "number"  # the metric's own unit, axis fitted to the values


@dataclass(frozen=True, slots=True)
class Point:
    """One report's value; ``value`` None is a gap. ``status`` is the check's (or the gate's) status."""

    value: float | None
    status: str | None  # a CheckStatus value, or None when nothing was judged (the gate is absent)
    text: str  # what the report says, e.g. "83.3% (10/12 runs)", or why there is no value


@dataclass(frozen=True, slots=True)
class Series:
    key: str  # "success_rate" or the check id
    title: str  # e.g. "Success rate", "Latency · p50"
    required: str | None  # the expression of the newest report, e.g. "p50 <= 1500"
    threshold: float | None  # the required value in the series' unit
    scale: Scale
    points: tuple[Point, ...]

    @property
    def values(self) -> list[float]:
        return [p.value for p in self.points if p.value is not None]


@dataclass(frozen=True, slots=True)
class GateTrend:
    name: str
    records: tuple[GateRecord | None, ...]  # one per report of the config; None = not in that report
    success: Series
    metrics: tuple[Series, ...]
    omitted: tuple[str, ...]  # metric check ids beyond MAX_METRIC_CHARTS


@dataclass(frozen=True, slots=True)
class ConfigTrend:
    config_path: str
    reports: tuple[Report, ...]  # oldest first
    gates: tuple[GateTrend, ...]  # in the order of the newest report, then gates no longer run


def build_trends(history: History) -> tuple[ConfigTrend, ...]:
    """One ``ConfigTrend`` per config path, in order of first appearance."""
    trends = []
    for config in history.configs:
        reports = tuple(r for r in history.reports if r.config_path == config)
        names = _newest_first_order([g.name for g in r.gates] for r in reports)
        gates = tuple(_gate_trend(name, tuple(r.gate(name) for r in reports)) for name in names)
        trends.append(ConfigTrend(config, reports, gates))
    return tuple(trends)


def _newest_first_order(per_report: Iterable[Sequence[str]]) -> list[str]:
    """Keys in the order of the newest report that has them: the newest report's order first, then the
    keys only older reports have, newest first."""
    order: dict[str, None] = {}
    for keys in reversed(list(per_report)):
        order.update((key, None) for key in keys if key not in order)
    return list(order)


def _gate_trend(name: str, records: tuple[GateRecord | None, ...]) -> GateTrend:
    ids = _newest_first_order(
        [c.check_id for c in record.checks if c.check_id.startswith(_METRIC_PREFIXES)]
        for record in records
        if record is not None
    )
    charted, omitted = ids[:MAX_METRIC_CHARTS], ids[MAX_METRIC_CHARTS:]
    return GateTrend(
        name=name,
        records=records,
        success=_success_series(records),
        metrics=tuple(_metric_series(check_id, records) for check_id in charted),
        omitted=tuple(omitted),
    )


def _newest_check(records: Sequence[GateRecord | None], check_id: str) -> CheckPoint | None:
    for record in reversed(records):
        check = record.check(check_id) if record is not None else None
        if check is not None:
            return check
    return None


def _success_series(records: Sequence[GateRecord | None]) -> Series:
    newest = _newest_check(records, SUCCESS_RATE)
    comparison = _success_comparison(newest.expression) if newest is not None else None
    return Series(
        key=SUCCESS_RATE,
        title="Success rate",
        required=newest.expression if newest is not None else None,
        threshold=comparison.value if comparison is not None else None,
        scale=Scale.PERCENT,
        points=tuple(_success_point(record) for record in records),
    )


def _success_point(record: GateRecord | None) -> Point:
    if record is None:
        return Point(None, None, "gate not in this report")
    check = record.check(SUCCESS_RATE)
    if check is not None:
        return _check_point(check)
    total, unknown = record.runs(), record.runs(RunOutcome.INCOMPLETE)
    if total == 0 or unknown:
        why = "no runs" if total == 0 else f"{unknown} of {total} runs without a verdict"
        return Point(None, record.status.value, f"no success rate: {why}")
    passed = record.runs(RunOutcome.PASSED)
    return Point(passed / total, None, f"{format_rate(passed / total)} ({passed}/{total} runs)")


def _check_point(check: CheckPoint) -> Point:
    if check.observed is None:
        return Point(None, check.status.value, f"no value ({check.status.value}): {check.observed_text}")
    return Point(check.observed, check.status.value, check.observed_text)


def _metric_series(check_id: str, records: Sequence[GateRecord | None]) -> Series:
    newest = _newest_check(records, check_id)
    aggregate, comparison = _metric_comparison(newest.expression) if newest is not None else (None, None)
    percent = aggregate in _RATE_AGGREGATES or (comparison is not None and comparison.percent)
    points = []
    for record in records:
        check = record.check(check_id) if record is not None else None
        if check is not None:
            points.append(_check_point(check))
        elif record is None:
            points.append(Point(None, None, "gate not in this report"))
        else:
            points.append(Point(None, None, "check not in this report"))
    return Series(
        key=check_id,
        title=metric_title(check_id),
        required=newest.expression if newest is not None else None,
        threshold=comparison.value if comparison is not None else None,
        scale=Scale.PERCENT if percent else Scale.NUMBER,
        points=tuple(points),
    )


def metric_title(check_id: str) -> str:
    """``metric.Latency.p50`` -> ``Latency · p50``; ``evaluation.auto:Help.mean`` -> ``auto:Help · mean``.

    The aggregate is what follows the last dot outside parentheses (``rate(v1.0)`` keeps its dot).
    """
    body = next((check_id[len(p) :] for p in _METRIC_PREFIXES if check_id.startswith(p)), check_id)
    depth, cut = 0, -1
    for index, char in enumerate(body):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == "." and depth == 0:
            cut = index
    if cut <= 0 or cut == len(body) - 1:
        return body
    return f"{body[:cut]} · {body[cut + 1 :]}"


def _success_comparison(expression: str) -> Comparison | None:
    try:
        return compile_thresholds({"success_rate": expression}).success_rate
    except ThresholdSyntaxError:
        return None


def _metric_comparison(expression: str) -> tuple[Aggregate | None, Comparison | None]:
    try:
        (check,) = compile_thresholds({"metrics": {"m": expression}}).metrics
    except (ThresholdSyntaxError, ValueError):
        return None, None
    return check.aggregate, check.comparison


def failing_checks(record: GateRecord) -> tuple[CheckPoint, ...]:
    """The checks of ``record`` that did not pass, in report order."""
    return tuple(c for c in record.checks if c.status is not CheckStatus.PASSED)
