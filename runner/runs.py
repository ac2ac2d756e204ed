"""Judging and naming runs: pure functions shared by the gate and its tests.

A run PASSES only if it is terminal, ``completed``, the platform said ``success`` and there was no
infrastructure error; it is an INFRA_ERROR if the platform flagged one or its status is
failed/timeout/cancelled; FAILED if it completed with ``success`` false; anything else (not terminal, an
unknown status, no verdict) is INCOMPLETE, which no check may count as a pass.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from runner.model import RunOutcome, RunRecord, RunVerdict

INFRA_STATUSES = frozenset({"failed", "timeout", "cancelled"})
_DIGITS = re.compile(r"([0-9]+)")


def classify_run(record: RunRecord) -> RunOutcome:
    status = record.status.strip().lower()
    if record.infra_error or status in INFRA_STATUSES:
        return RunOutcome.INFRA_ERROR
    if record.terminal and status == "completed" and record.success is not None:
        return RunOutcome.PASSED if record.success else RunOutcome.FAILED
    return RunOutcome.INCOMPLETE


def run_label(record: RunRecord) -> str:
    """``<scenario> [<personality>]`` with whitespace collapsed (the name without its ``#NN``)."""
    scenario = " ".join(record.scenario.split()) or f"scenario {record.scenario_id or '?'}"
    personality = " ".join((record.personality or "").split())
    return f"{scenario} [{personality}]" if personality else scenario


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that orders "run-9" before "run-10": digit runs compare by length, then text (no int():
    an id of thousands of digits must sort, not crash)."""
    if text.isascii() and text.isdigit():  # a plain numeric id, the usual case: one part, no regex
        digits = text.lstrip("0")
        return ((0, len(digits), digits),)
    return tuple(
        (0, len(part.lstrip("0")), part.lstrip("0")) if _DIGITS.fullmatch(part) else (1, 0, part)
        for part in _DIGITS.split(text)
        if part
    )


def name_runs(records: Iterable[RunRecord]) -> tuple[RunVerdict, ...]:
    """Judge and name runs: ``<scenario> [<personality>] #NN``, NN counting 1-based per label.

    Runs are ordered by (label, scenario id, run id), numbers compared as numbers, so the names are
    unique within the gate and the same set of names comes back when the same config runs again.
    """
    keyed = sorted(
        ((run_label(r), natural_key(r.scenario_id or ""), natural_key(r.run_id)), index, r)
        for index, r in enumerate(records)  # the index: equal keys keep their order, records never compare
    )
    seen: Counter[str] = Counter()
    verdicts = []
    for (label, _, _), _, record in keyed:
        seen[label] += 1
        verdicts.append(RunVerdict(record, classify_run(record), f"{label} #{seen[label]:02d}"))
    return tuple(verdicts)
