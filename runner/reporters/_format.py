"""Small formatting helpers shared by the reporters, so that every report words things the same way."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

from runner.model import ExitCode, GateVerdict, RunOutcome, Verdict

EXIT_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "every gate passed",
    ExitCode.REGRESSION: "regression: a gate failed its thresholds",
    ExitCode.USAGE: "usage or config error",
    ExitCode.INCOMPLETE: "incomplete: no verdict possible",
    ExitCode.INTERNAL: "internal error in regate",
    ExitCode.SIGINT: "interrupted by SIGINT",
    ExitCode.SIGTERM: "interrupted by SIGTERM",
}


def exit_meaning(code: ExitCode) -> str:
    return EXIT_MEANINGS.get(code, "unknown exit code")


def finite_or_none(value: float | None) -> float | None:
    """NaN and infinities are not data a report can show (nor valid JSON): treat them as missing."""
    if value is None or not math.isfinite(value):
        return None
    return value


def format_rate(fraction: float | None) -> str:
    """0.8996 -> "89.96%": two decimals at most, so a rate just under a threshold never prints as equal."""
    fraction = finite_or_none(fraction)
    if fraction is None:
        return "n/a"
    text = f"{fraction * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def format_seconds(seconds: float | None) -> str:
    """The ``%.3f`` form JUnit consumers expect: never empty, never negative, never exponent notation."""
    value = finite_or_none(seconds)
    if value is None or value < 0:
        value = 0.0
    return f"{value:.3f}"


def junit_timestamp(started_at: str) -> str | None:
    """ISO 8601 UTC without offset ("2026-11-26T10:00:00"): the form Jenkins parses. None if unparseable."""
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def result_url(gate: GateVerdict) -> str | None:
    """The link to the platform's result: the snapshot's own URL, else the share URL."""
    snapshot = gate.execution.snapshot
    if snapshot is not None and snapshot.url:
        return snapshot.url
    return gate.execution.share_url or None


def run_counts(gate: GateVerdict) -> Counter[RunOutcome]:
    return Counter(run.outcome for run in gate.runs)


def verdict_symbol(verdict: Verdict) -> str:
    """✅ only for exit code 0, ❌ for a regression, ⚠️ for the rest (no verdict possible)."""
    if verdict.exit_code == ExitCode.OK:
        return "✅"
    if verdict.exit_code == ExitCode.REGRESSION:
        return "❌"
    return "⚠️"
