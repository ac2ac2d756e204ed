"""Change checks (``drop <= 5pp``, ``p50 increase <= 10%``): a gate's runs against its baseline's. Pure.

Rates (``success_rate``, a metric's ``pass_rate`` / ``rate(...)``) are judged with ``runner.stats``:
Newcombe's interval for the difference decides per ``statistics.mode`` at ``statistics.confidence``, and
Fisher's one-sided p-value for "current below baseline" is reported beside it. An ``increase`` of a rate
is judged as the baseline's drop from the current one. ``<`` and ``<=`` decide the same way there: the
bounds of an interval are never exactly on a limit that matters. Other aggregates compare the two point
estimates (``p50``, ``mean``...), with the same minimum number of runs on each side.

Missing data is never a pass: runs without a verdict on either side make the check inconclusive, and a
missing baseline follows ``baseline.on_missing`` (a baseline that exists but could not be read is always
inconclusive). Every summary is one line: baseline → current, the change with its interval, the p-value,
and why, in one sentence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from runner.aggregates import Aggregated, evaluate_metric, format_number, plural
from runner.checks import INCONCLUSIVE_TYPE, Tally, inconclusive, make_check, run_lines
from runner.model import CheckResult, CheckStatus, RunOutcome, RunVerdict
from runner.settings import OnMissing, Statistics
from runner.stats import DropDecision, Mode, decide_drop, decide_rate, unstable, wilson_interval
from runner.threshold_types import Aggregate, ChangeCheck, ChangeUnit, Comparison, Direction, MetricCheck, Op

__all__ = [
    "Baseline",
    "MissingBaseline",
    "change_check",
    "confident_metric_rate_check",
    "confident_rate_check",
    "scenario_lines",
]

_TRUSTED = (RunOutcome.PASSED, RunOutcome.FAILED)


@dataclass(frozen=True, slots=True)
class Baseline:
    """The runs a gate is compared with, and where they came from (``report main.json of 2026-11-25``)."""

    source: str
    runs: tuple[RunVerdict, ...]


@dataclass(frozen=True, slots=True)
class MissingBaseline:
    """No baseline for this gate. ``unreadable``: it exists but could not be read (always inconclusive)."""

    source: str
    reason: str
    policy: OnMissing
    unreadable: bool = False


def change_check(
    check: ChangeCheck, tally: Tally, baseline: Baseline | MissingBaseline | None, statistics: Statistics
) -> CheckResult:
    if baseline is None:
        return inconclusive(check.check_id, check.text, "no baseline configured")
    if isinstance(baseline, MissingBaseline):
        return _missing(check, baseline)
    base = Tally.of(baseline.runs)
    if tally.unknown or base.unknown:
        side = "current" if tally.unknown else "baseline"
        unknown = tally.unknown or base.unknown
        total = tally.total if tally.unknown else base.total
        return inconclusive(check.check_id, check.text, f"{unknown} of {total} {side} runs have no verdict")
    if check.on_rate:
        return _rate_change(check, tally, base, baseline.source, statistics)
    return _value_change(check, tally, base, baseline.source, statistics)


def _missing(check: ChangeCheck, baseline: MissingBaseline) -> CheckResult:
    why = f"no baseline ({baseline.reason})"
    if baseline.unreadable or baseline.policy is OnMissing.INCONCLUSIVE:
        hint = "" if baseline.unreadable else "on_missing: inconclusive"
        return inconclusive(check.check_id, check.text, why, [hint] if hint else [], [baseline.source])
    status = CheckStatus.PASSED if baseline.policy is OnMissing.PASS else CheckStatus.FAILED
    summary = f"{check.check_id} {why} — required {check.text}; on_missing: {baseline.policy.value}"
    return make_check(check.check_id, check.text, status, summary, [baseline.source], observed_text="n/a")


# --- rates --------------------------------------------------------------------------------------------


def _counts(check: ChangeCheck, tally: Tally) -> tuple[int, int, Aggregated | None]:
    """(successes, trials) of the rate the check reads on these runs."""
    if check.metric is None:
        return tally.counts[RunOutcome.PASSED], tally.total, None
    result = _aggregate(check, tally)
    if result.observed is None:
        return 0, 0, result
    return round(result.observed * result.used), result.used, result


def _rate_change(
    check: ChangeCheck, tally: Tally, base: Tally, source: str, statistics: Statistics
) -> CheckResult:
    s_cur, n_cur, current = _counts(check, tally)
    s_base, n_base, before = _counts(check, base)
    for side, result in (("current", current), ("baseline", before)):
        if result is not None and result.observed is None:
            return inconclusive(check.check_id, check.text, f"{side}: {result.problem or 'no value'}")
    rising = check.change.direction is Direction.INCREASE
    older, newer = ((s_cur, n_cur), (s_base, n_base)) if rising else ((s_base, n_base), (s_cur, n_cur))
    decision = decide_drop(
        older, newer, check.change.limit, confidence=statistics.change_confidence,
        min_runs=statistics.min_runs, mode=Mode(statistics.mode.value),
    )  # fmt: skip
    before_text = wilson_interval(s_base, n_base, statistics.change_confidence).format_percent()
    after_text = wilson_interval(s_cur, n_cur, statistics.change_confidence).format_percent()
    moved = f"{before_text} → {after_text} ({n_base} vs {n_cur} runs)"
    summary = f"{check.check_id} {moved} — required {check.text}: {_sentence(decision, rising)}"
    details = [f"baseline: {source}", f"baseline {s_base}/{n_base}, current {s_cur}/{n_cur}"]
    if check.metric is None:
        details += scenario_lines(base.runs, tally.runs)
    return _result(check, decision, summary, details, baseline_rate=s_base / n_base if n_base else None)


def _sentence(decision: DropDecision, rising: bool) -> str:
    return decision.reason.replace("drop", "increase") if rising else decision.reason


def _result(
    check: ChangeCheck,
    decision: DropDecision,
    summary: str,
    details: Sequence[str],
    *,
    baseline_rate: float | None,
) -> CheckResult:
    """``decision`` is already in the check's direction (an increase was decided as a swapped drop)."""
    status = CheckStatus(decision.status.value)
    interval = decision.interval
    text = (
        f"{check.change.direction.value} {interval.format_points()}" if decision.drop is not None else "n/a"
    )
    checked = make_check(
        check.check_id, check.text, status, summary, details, observed=decision.drop, observed_text=text,
        error_type=INCONCLUSIVE_TYPE if status is CheckStatus.INCONCLUSIVE else None,
    )  # fmt: skip
    return replace(
        checked, baseline=baseline_rate, p_value=decision.p_value, interval=(interval.low, interval.high)
    )


def scenario_lines(before: Sequence[RunVerdict], after: Sequence[RunVerdict]) -> list[str]:
    """Per scenario: ``Refund request: 9/10 → 5/10 (unstable)``, largest drop first."""
    sides: dict[str, list[list[bool]]] = defaultdict(lambda: [[], []])
    for index, runs in enumerate((before, after)):
        for run in runs:
            if run.outcome in _TRUSTED:
                sides[run.record.scenario][index].append(run.outcome is RunOutcome.PASSED)
    rows = []
    for scenario, (old, new) in sides.items():
        old_rate = sum(old) / len(old) if old else None
        new_rate = sum(new) / len(new) if new else None
        drop = (old_rate or 0.0) - (new_rate or 0.0) if old_rate is not None and new_rate is not None else 0.0
        flag = " (unstable)" if unstable(new) else ""
        text = f"{scenario}: {sum(old)}/{len(old) or '-'} → {sum(new)}/{len(new) or '-'}{flag}"
        rows.append((-drop, scenario, text))
    return [text for _, _, text in sorted(rows)]


# --- values (percentiles, means...) -------------------------------------------------------------------


def _aggregate(check: ChangeCheck, tally: Tally) -> Aggregated:
    assert check.metric is not None and check.aggregate is not None  # noqa: S101 - callers guarantee it
    probe = MetricCheck(
        check.metric, check.aggregate, check.labels, Comparison(Op.GE, 0.0, False, ">= 0"), check.text,
        check.check_id,
    )  # fmt: skip
    return evaluate_metric(probe, tally.metric_runs())


def _value_change(
    check: ChangeCheck, tally: Tally, base: Tally, source: str, statistics: Statistics
) -> CheckResult:
    current, before = _aggregate(check, tally), _aggregate(check, base)
    for side, result in (("current", current), ("baseline", before)):
        if result.observed is None:
            return inconclusive(check.check_id, check.text, f"{side}: {result.problem or 'no value'}")
    assert current.observed is not None and before.observed is not None  # noqa: S101 - checked just above
    if current.used < statistics.min_runs or before.used < statistics.min_runs:
        why = (
            f"too few runs to decide: {current.used} current, {before.used} baseline, at least"
            f" {statistics.min_runs} needed"
        )
        return inconclusive(check.check_id, check.text, why)
    delta = before.observed - current.observed
    if check.change.direction is Direction.INCREASE:
        delta = -delta
    change = check.change
    if change.unit is ChangeUnit.RELATIVE:
        if before.observed == 0:
            return inconclusive(
                check.check_id, check.text, "the baseline is 0: a relative change is undefined"
            )
        amount = delta / abs(before.observed)
        shown = f"{amount * 100:+.1f}%"
    else:
        amount = delta
        shown = f"{'+' if amount >= 0 else '-'}{format_number(abs(amount))}"
    ok = change.holds(amount)
    agg = "rate" if check.aggregate in (None, Aggregate.RATE) else str(check.aggregate)
    moved = f"{agg} {format_number(before.observed)} → {format_number(current.observed)}"
    verdict = "within the allowed" if ok else "beyond the allowed"
    summary = (
        f"{check.check_id} {change.direction.value} {shown} ({moved}, {before.used} vs {current.used} runs) —"
        f" required {check.text}: {verdict} {change.text.split(' ', 2)[-1]} (point estimates)"
    )
    checked = make_check(
        check.check_id, check.text, CheckStatus.PASSED if ok else CheckStatus.FAILED, summary,
        [f"baseline: {source}", *current.lines], observed=amount,
        observed_text=f"{change.direction.value} {shown} ({plural(current.used, 'run')})",
    )  # fmt: skip
    return replace(checked, baseline=before.observed)


# --- absolute rates with confidence (statistics.confidence set) -----------------------------------------


def confident_rate_check(comparison: Comparison, statistics: Statistics, tally: Tally) -> CheckResult:
    """``success_rate >= X`` judged on the Wilson bounds (``runner.stats.decide_rate``) instead of the
    observed rate; runs without a verdict still make it inconclusive."""
    if tally.unknown:
        why = f"{tally.unknown} of {tally.total} runs have no verdict"
        return inconclusive("success_rate", comparison.text, why)
    others = run_lines([run for run in tally.runs if run.outcome is not RunOutcome.PASSED])
    passed = tally.counts[RunOutcome.PASSED]
    return _confident("success_rate", comparison, passed, tally.total, statistics, others, "success rate")


def confident_metric_rate_check(check: MetricCheck, statistics: Statistics, tally: Tally) -> CheckResult:
    """A metric's ``pass_rate >= X`` / ``rate(...) >= X`` judged on the Wilson bounds, like success_rate."""
    result = evaluate_metric(check, tally.metric_runs())
    if result.problem is not None or result.observed is None:
        why = result.problem or "no value"
        return inconclusive(check.check_id, check.text, why, result.notes, result.lines)
    if tally.unknown:
        why = f"{tally.unknown} of {tally.total} runs have no verdict"
        return inconclusive(check.check_id, check.text, why)
    hits = round(result.observed * result.used)
    return _confident(
        check.check_id, check.comparison, hits, result.used, statistics, result.lines, check.aggregate.value
    )


def _confident(
    check_id: str,
    comparison: Comparison,
    hits: int,
    n: int,
    statistics: Statistics,
    details: Sequence[str],
    what: str,
) -> CheckResult:
    """``hits`` of ``n`` against ``comparison`` (a lower bound), decided on the Wilson bounds."""
    confidence = statistics.confidence or 0.95
    decision = decide_rate(
        hits, n, comparison.value, confidence=confidence, min_runs=statistics.min_runs,
        mode=Mode(statistics.mode.value),
    )  # fmt: skip
    status = CheckStatus(decision.status.value)
    shown = f"{decision.interval.format_percent()} ({hits}/{n} runs)"
    reason = decision.reason.replace("success rate", what, 1)
    summary = (
        f"{check_id} {shown} — required {comparison.text} at {confidence:.0%} confidence,"
        f" {statistics.mode.value}: {reason}"
    )
    checked = make_check(
        check_id, comparison.text, status, summary, details, observed=hits / n if n else None,
        observed_text=shown, error_type=INCONCLUSIVE_TYPE if status is CheckStatus.INCONCLUSIVE else None,
    )  # fmt: skip
    return replace(checked, interval=(decision.interval.low, decision.interval.high))
