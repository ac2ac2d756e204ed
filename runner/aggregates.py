"""Metric statistics for the gate: which ``MetricValue`` a ``MetricCheck`` reads, and what it adds up to.

Pure functions, no I/O. ``gate.py`` judges the runs and decides pass/fail; this module matches metrics,
checks that the aggregate fits the metric's type, computes it, and formats numbers.

Percentiles use **linear interpolation between closest ranks** (Hyndman & Fan type 7: numpy's default,
Excel ``PERCENTILE.INC``, ``statistics.quantiles(method="inclusive")``): for ``n`` sorted values the
``p``-th percentile sits at 0-based position ``h = (n - 1) * p / 100``, interpolated between the values
on either side. ``p50`` is therefore the ordinary median.

Which aggregate fits which type (api-contracts §A7, §C-12):

    count                   every type: runs that reported the metric with a usable value
    pass_rate               BINARY: share of runs whose ``passed`` is true (``passed`` None = missing)
    rate(labels)            ENUM: share of runs whose label is one of the labels (case-insensitive)
    mean min max p50..p99   CONTINUOUS (score 0-5; with a percent threshold, score / 5) and NUMERIC
                            (raw unit; a percent threshold is inconclusive)

Anything else, and every aggregate but ``count`` on an UNKNOWN type, is inconclusive with a message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from runner.model import MetricKind, MetricValue
from runner.thresholds import Aggregate, Comparison, MetricCheck, Op

CONTINUOUS_MAX = 5.0  # continuous_qualitative scores are 0-5

_PERCENTILES = {Aggregate.P50: 50.0, Aggregate.P90: 90.0, Aggregate.P95: 95.0, Aggregate.P99: 99.0}
_STATS = frozenset({Aggregate.MEAN, Aggregate.MIN, Aggregate.MAX, *_PERCENTILES})
_DETAIL_VALUES = 10  # values listed in a check's details, worst first

Matcher = Callable[[MetricValue], bool]
Sample = tuple[str, MetricValue]  # (run name, the run's value for the metric)
MetricRun = tuple[str, bool, Sequence[MetricValue]]  # (run name, verdict trustworthy, its metrics)


@dataclass(frozen=True, slots=True)
class Aggregated:
    """The aggregate of one metric check over the samples, or why it cannot be computed."""

    observed: float | None  # in the comparison's unit (fraction for rates and percents); None = problem
    observed_text: str  # e.g. "1830 (17 runs)", "85.0% (17/20 runs)"; "" when there is a problem
    used: int  # samples whose value was used
    missing: tuple[str, ...] = ()  # runs that reported the metric without a usable value
    problem: str | None = None  # why the check is inconclusive
    lines: tuple[str, ...] = ()  # details, worst values first
    notes: tuple[str, ...] = ()  # short notes for the one-line summary, e.g. "metric missing on 3 runs"


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation between closest ranks (type 7)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def format_number(value: float, comparison: Comparison | None = None) -> str:
    """Compact: ``2000``, ``1234.5``, ``3.767``. More decimals only when rounding would hide a breach."""
    return _shortest(value, 1.0, "", 3, comparison)


def format_percent(fraction: float, comparison: Comparison | None = None) -> str:
    """A fraction as a percent with one decimal (``85.0%``), more when rounding would flip the comparison."""
    return _shortest(fraction, 100.0, "%", 1, comparison)


def _shortest(value: float, scale: float, suffix: str, decimals: int, comparison: Comparison | None) -> str:
    text = ""
    for places in range(decimals, 10):
        text = f"{value * scale:.{places}f}"
        if suffix == "" and "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("-0", "-0.0"):
            text = text[1:]
        if comparison is None or comparison.holds(float(text) / scale) == comparison.holds(value):
            break
    return text + suffix


def choose_matcher(wanted: str, values: Iterable[MetricValue]) -> Matcher | None:
    """How a check names its metric, decided once per gate so every run is matched the same way.

    Tiers, first that matches any value wins: exact name, metric id, case-insensitive name.
    """
    seen = tuple(values)
    folded = wanted.strip().casefold()
    tiers: tuple[Matcher, ...] = (
        lambda value: value.name == wanted,
        lambda value: value.metric_id is not None and value.metric_id == wanted,
        lambda value: value.name.strip().casefold() == folded,
    )
    for tier in tiers:
        if any(tier(value) for value in seen):
            return tier
    return None


def has_value(value: MetricValue) -> bool:
    """Whether the platform gave a usable value for this metric on this run."""
    match value.kind:
        case MetricKind.BINARY:
            return value.passed is not None
        case MetricKind.ENUM:
            return bool(value.label and value.label.strip())
        case MetricKind.CONTINUOUS | MetricKind.NUMERIC:
            return value.score is not None and math.isfinite(value.score)
        case _:
            return (
                (value.score is not None and math.isfinite(value.score))
                or value.passed is not None
                or bool(value.label)
            )


def evaluate_metric(check: MetricCheck, runs: Sequence[MetricRun]) -> Aggregated:
    """Match ``check.metric`` on every run and aggregate the values of the runs with a trusted verdict.

    Runs without a trusted verdict (infra errors, no verdict) are excluded and said so. A run that reports
    the metric without a usable value, or not at all, counts as "missing". A metric absent from every run,
    matched twice on one run, or found only on excluded runs makes the check inconclusive.
    """
    every = [value for _, _, values in runs for value in values]
    matcher = choose_matcher(check.metric, every)
    if matcher is None:
        names = sorted({value.name for value in every})
        seen = f"metrics seen: {', '.join(names[:10])}{', …' if len(names) > 10 else ''}" if names else ""
        return Aggregated(
            None,
            "",
            0,
            problem=f"metric '{check.metric}' not found on any run ({seen or 'no metrics at all'})",
        )
    excluded = sum(not trusted for _, trusted, _ in runs)
    notes, lines = [], []
    if excluded:
        notes.append(f"{plural(excluded, 'run')} without a trustworthy verdict excluded")
        lines.append(
            f"{plural(excluded, 'run')} excluded (infra error or no verdict: metrics not trustworthy)"
        )
    samples: list[Sample] = []
    absent, ambiguous = [], []
    for name, _, values in (run for run in runs if run[1]):
        hits = [value for value in values if matcher(value)]
        if len(hits) > 1:
            ambiguous.append(name)
        elif hits:
            samples.append((name, hits[0]))
        else:
            absent.append(name)
    problem = None
    if ambiguous:
        problem = f"{plural(len(ambiguous), 'run')} report more than one metric matching '{check.metric}'"
        lines.append(f"ambiguous on: {_names(ambiguous)}")
    elif not samples:
        problem = f"metric '{check.metric}' is reported only on runs without a trustworthy verdict"
    if problem is not None:
        return Aggregated(None, "", 0, problem=problem, lines=tuple(lines), notes=tuple(notes))
    result = aggregate(check, samples)
    missing = [*absent, *result.missing]
    if missing:
        notes.insert(0, f"metric missing on {plural(len(missing), 'run')}")
        lines.append(f"metric missing on {plural(len(missing), 'run')}: {_names(missing)}")
    return replace(result, missing=tuple(missing), lines=(*result.lines, *lines), notes=tuple(notes))


def _names(names: Sequence[str], limit: int = 50) -> str:
    return ", ".join(names[:limit]) + (", …" if len(names) > limit else "")


def aggregate(check: MetricCheck, samples: Sequence[Sample]) -> Aggregated:
    """Compute ``check.aggregate`` over ``samples`` (at least one), or say why it does not apply."""
    kinds = sorted({value.kind for _, value in samples})
    if len(kinds) > 1:
        counts = ", ".join(
            f"{kind.value} on {plural(sum(v.kind is kind for _, v in samples), 'run')}" for kind in kinds
        )
        return Aggregated(None, "", 0, problem=f"metric '{check.metric}' has mixed types ({counts})")
    kind = kinds[0]
    usable = [(name, value) for name, value in samples if has_value(value)]
    missing = tuple(name for name, value in samples if not has_value(value))
    if check.aggregate is Aggregate.COUNT:
        return Aggregated(float(len(usable)), plural(len(usable), "run"), len(usable), missing)
    problem = _misfit(check, kind)
    if problem is None and not usable:
        problem = f"metric '{check.metric}' has no usable value on any run"
    if problem is not None:
        return Aggregated(None, "", 0, missing, problem=problem)
    if check.aggregate is Aggregate.PASS_RATE:
        hits = [(name, value) for name, value in usable if value.passed is True]
        misses = [(name, value) for name, value in usable if value.passed is not True]
        return _share(check, len(hits), len(usable), missing, misses, lambda _: "did not pass")
    if check.aggregate is Aggregate.RATE:
        labels = {label.strip().casefold() for label in check.labels}
        hits = [(n, v) for n, v in usable if (v.label or "").strip().casefold() in labels]
        misses = [(n, v) for n, v in usable if (v.label or "").strip().casefold() not in labels]
        return _share(check, len(hits), len(usable), missing, misses, lambda v: f"label '{v.label}'")
    return _statistic(check, kind, usable, missing)


def _misfit(check: MetricCheck, kind: MetricKind) -> str | None:
    agg = check.aggregate
    name = f"metric '{check.metric}'"
    if kind is MetricKind.UNKNOWN:
        return f"{name} has a type regate does not recognise; only count applies to it"
    if agg is Aggregate.PASS_RATE and kind is not MetricKind.BINARY:
        return f"pass_rate needs a binary metric, but {name} is {kind.value}"
    if agg is Aggregate.RATE and kind is not MetricKind.ENUM:
        return f"rate(...) needs an enum metric, but {name} is {kind.value}"
    if agg in _STATS and kind not in (MetricKind.CONTINUOUS, MetricKind.NUMERIC):
        hint = "use pass_rate" if kind is MetricKind.BINARY else "use rate(<label>)"
        return f"{agg.value} needs a continuous or numeric metric, but {name} is {kind.value} ({hint})"
    if agg in _STATS and check.comparison.percent and kind is MetricKind.NUMERIC:
        return f"a percent needs a 0–5 or binary metric, but {name} is numeric (write the value in its unit)"
    if (agg in (Aggregate.PASS_RATE, Aggregate.RATE) or check.comparison.percent) and not (
        0.0 <= check.comparison.value <= 1.0
    ):
        return f"threshold {check.comparison.text} is outside 0–100% for a rate"
    return None


def _first_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _share(
    check: MetricCheck,
    hits: int,
    total: int,
    missing: tuple[str, ...],
    misses: Sequence[Sample],
    describe: Callable[[MetricValue], str],
) -> Aggregated:
    observed = hits / total
    text = f"{format_percent(observed, check.comparison)} ({hits}/{total} runs)"
    lines = []
    for name, value in misses[:_DETAIL_VALUES]:
        note = f": {_first_line(value.explanation)}" if value.explanation.strip() else ""
        lines.append(f"{name}: {describe(value)}{note}")
    if len(misses) > _DETAIL_VALUES:
        lines.append(f"… and {len(misses) - _DETAIL_VALUES} more")
    return Aggregated(observed, text, total, missing, lines=tuple(lines))


def _statistic(
    check: MetricCheck, kind: MetricKind, usable: Sequence[Sample], missing: tuple[str, ...]
) -> Aggregated:
    scores = [(name, value.score) for name, value in usable if value.score is not None]
    if kind is MetricKind.CONTINUOUS:
        outside = [name for name, score in scores if not 0.0 <= score <= CONTINUOUS_MAX]
        if outside:
            return Aggregated(
                None,
                "",
                0,
                missing,
                problem=f"metric '{check.metric}' has scores outside its 0–5 scale on "
                f"{plural(len(outside), 'run')} ({', '.join(outside[:3])})",
            )
    scale = 1.0 / CONTINUOUS_MAX if check.comparison.percent else 1.0
    values = [score * scale for _, score in scores]
    agg = check.aggregate
    if agg is Aggregate.MEAN:
        observed = mean(values)
    elif agg is Aggregate.MIN:
        observed = min(values)
    elif agg is Aggregate.MAX:
        observed = max(values)
    else:
        observed = percentile(values, _PERCENTILES[agg])
    fmt = format_percent if check.comparison.percent else format_number
    text = f"{fmt(observed, check.comparison)} ({plural(len(values), 'run')})"
    highest_first = check.comparison.op not in (Op.GE, Op.GT)
    ranked = sorted(zip(values, (name for name, _ in scores), strict=True), reverse=highest_first)
    lines = [f"{fmt(value)}  {name}" for value, name in ranked[:_DETAIL_VALUES]]
    order = "highest" if highest_first else "lowest"
    return Aggregated(observed, text, len(values), missing, lines=(f"values, {order} first:", *lines))
