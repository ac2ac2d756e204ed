"""Evaluation statistics for the gate: which Freeplay criterion an ``EvaluationCheck`` reads, and its value.

Pure functions, no I/O (the twin of ``aggregates.py``, which does the same for per-run metrics).

FINDING THE CRITERION (``find_criterion``). The candidates are the criteria of the check's source (``auto``,
``human`` or ``client``), or of all three when the check names none. The exact name wins; failing that,
the name compared case-insensitively (surrounding whitespace ignored). Matches in more than one source are
ambiguous ("write auto:<name>"), so are several matches in one source; no match lists what exists.

SHAPES (api-contracts §B3.1, §C-13), kept as the platform gave them in ``CriterionSummary``:
(a) pass/fail counts and an average score, (b) a histogram of labels to counts, (c) one scalar score.

    aggregate        (a) pass / fail / average   (b) histogram                          (c) scalar
    pass_rate        pass / (pass + fail)        pass labels / (pass + fail labels) [1]  -
    rate(labels)     rate(pass), rate(fail) [2]  share of counts with a listed label [2] -
    mean             average_score               count-weighted mean of numeric labels  the scalar
    min max p50..p99 -                           numeric labels expanded by count [3]   -
    count            pass + fail                 total of the counts                    -

[1] Pass labels are yes/true/pass/passed, fail labels no/false/fail/failed (case-insensitive); a
    histogram with any other label has no pass rate ("use rate(<labels>) or mean").
[2] Labels compare case-insensitively, and the pass words stand for each other (so do the fail words):
    ``rate(pass)`` counts a histogram's ``yes``, and on shape (a) means pass / (pass + fail).
[3] The percentile method of ``aggregates.percentile`` (type 7), computed on the counts directly.

Every "-" is INCONCLUSIVE with a hint, and so are: no evaluation recorded (a zero denominator), a missing
or negative count, a non-finite score, a criterion with no value or several shapes at once. With ``%`` in
the comparison a mean or statistic is comparable only when the values are within 0..1 (a score on a 0-5
scale is never silently read as a percentage).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from runner.aggregates import Aggregated, format_number, format_percent, plural
from runner.model import CriterionSummary
from runner.thresholds import Aggregate, EvaluationCheck

SOURCES = ("auto", "human", "client")
PASS_WORDS = frozenset({"yes", "true", "pass", "passed"})
FAIL_WORDS = frozenset({"no", "false", "fail", "failed"})

_PERCENTILES = {Aggregate.P50: 50.0, Aggregate.P90: 90.0, Aggregate.P95: 95.0, Aggregate.P99: 99.0}
_ORDER = frozenset({Aggregate.MIN, Aggregate.MAX, *_PERCENTILES})
_NUMERIC_LABEL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_LISTED = 10  # criteria or labels named in one message
_AGGREGATE_SUFFIX = re.compile(
    r"\.(?:mean|min|max|p50|p90|p95|p99|count|pass_rate|rate\(.*\))(?:#\d+)?", re.IGNORECASE
)
_SOURCE_PREFIX = re.compile(r"([A-Za-z_]+)\s*:(.*)", re.DOTALL)  # as the threshold compiler splits keys


class Shape(StrEnum):
    COUNTS = "pass/fail counts"  # (a)
    HISTOGRAM = "histogram"  # (b)
    SCALAR = "scalar"  # (c)
    EMPTY = "no value"
    MIXED = "several shapes"


def shape_of(criterion: CriterionSummary) -> Shape:
    counts = criterion.passed is not None or criterion.failed is not None or criterion.average is not None
    present = [
        shape
        for shape, there in (
            (Shape.COUNTS, counts),
            (Shape.HISTOGRAM, bool(criterion.histogram)),
            (Shape.SCALAR, criterion.scalar is not None),
        )
        if there
    ]
    if len(present) > 1:
        return Shape.MIXED
    return present[0] if present else Shape.EMPTY


def reference(criterion: CriterionSummary) -> str:
    """How a check names this criterion unambiguously: ``auto:Answer Accuracy``."""
    return f"{criterion.source}:{criterion.name}"


def describe_criterion(criterion: CriterionSummary) -> str:
    """The criterion's raw values, compactly: ``pass 6, fail 2, average 0.85``, ``4: 2, 5: 6``, ``0.95``."""
    match shape_of(criterion):
        case Shape.COUNTS:
            parts = [
                f"{word} {'n/a' if value is None else value}"
                for word, value in (("pass", criterion.passed), ("fail", criterion.failed))
            ]
            if criterion.average is not None:
                parts.append(f"average {format_number(criterion.average)}")
            return ", ".join(parts)
        case Shape.HISTOGRAM:
            return ", ".join(f"{label}: {count}" for label, count in criterion.histogram)
        case Shape.SCALAR:
            return format_number(criterion.scalar) if criterion.scalar is not None else "n/a"
        case _:
            return "no value" if shape_of(criterion) is Shape.EMPTY else "several shapes at once"


# --- finding the criterion --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lookup:
    """The criterion a check reads, or why there is none (``problem``)."""

    criterion: CriterionSummary | None
    problem: str | None = None


def _listing(criteria: Sequence[CriterionSummary]) -> str:
    names = [reference(c) for c in criteria]
    more = f", … ({len(names) - _LISTED} more)" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more


def _matches(name: str, criteria: Sequence[CriterionSummary]) -> list[CriterionSummary]:
    exact = [c for c in criteria if c.name == name]
    if exact:
        return exact
    folded = name.strip().casefold()
    return [c for c in criteria if c.name.strip().casefold() == folded]


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def find_criterion(name: str, source: str | None, criteria: Sequence[CriterionSummary]) -> Lookup:
    """The one criterion ``name`` (within ``source`` if given) names; see the module docstring."""
    wanted = source.strip().casefold() if source is not None else None
    pool = [c for c in criteria if wanted is None or c.source.strip().casefold() == wanted]
    hits = _matches(name, pool)
    if len(hits) == 1:
        return Lookup(hits[0])
    sources = list(dict.fromkeys(c.source for c in hits))
    if len(sources) > 1:
        hint = " or ".join(f"{s}:{hits[0].name}" for s in sources)
        return Lookup(None, f"ambiguous: found in {_and(sources)} evaluations; write {hint}")
    if hits:
        return Lookup(
            None,
            f"ambiguous: {len(hits)} {sources[0]} criteria match '{name}' "
            f"({', '.join(c.name for c in hits[:_LISTED])}); write the exact name",
        )
    where = f"{source} evaluations" if source is not None else "any evaluation"
    if not criteria:
        return Lookup(None, f"criterion '{name}' not found in {where} (no evaluations recorded at all)")
    elsewhere = _matches(name, criteria) if wanted is not None else []
    if elsewhere:
        hint = " or ".join(reference(c) for c in elsewhere)
        return Lookup(None, f"criterion '{name}' not found in {where}; it is there as {hint}")
    return Lookup(None, f"criterion '{name}' not found in {where} (criteria: {_listing(criteria)})")


def criterion_of(check_id: str, criteria: Sequence[CriterionSummary]) -> CriterionSummary | None:
    """The criterion an ``evaluation.<key as written>.<aggregate>[#n]`` check id reads, if it resolves.

    For the reports, which see check results but not the thresholds: the key is split into source and
    criterion as the threshold compiler does, then looked up as the gate does.
    """
    if not check_id.startswith("evaluation."):
        return None
    body = check_id[len("evaluation.") :]
    suffix = next((m for m in _AGGREGATE_SUFFIX.finditer(body) if m.end() == len(body)), None)
    if suffix is None or suffix.start() == 0:
        return None
    written = body[: suffix.start()].strip()
    prefixed = _SOURCE_PREFIX.fullmatch(written)
    if prefixed is not None and prefixed.group(1).lower() in SOURCES:
        return find_criterion(prefixed.group(2).strip(), prefixed.group(1).lower(), criteria).criterion
    return find_criterion(written, None, criteria).criterion


# --- the statistics ---------------------------------------------------------------------------------


def _numeric(label: str) -> float | None:
    text = label.strip()
    return float(text) if _NUMERIC_LABEL.fullmatch(text) and math.isfinite(float(text)) else None


def _word(label: str) -> str:
    """Case-folded label with the pass and fail words each reduced to one word."""
    folded = label.strip().casefold()
    return "pass" if folded in PASS_WORDS else "fail" if folded in FAIL_WORDS else folded


def _problem(text: str, lines: Sequence[str] = ()) -> Aggregated:
    return Aggregated(None, "", 0, problem=text, lines=tuple(lines))


def _share(
    check: EvaluationCheck, hits: int, total: int, criterion: CriterionSummary, lines: list[str]
) -> Aggregated:
    if total == 0:
        return _problem(f"no evaluations recorded for {reference(criterion)}", lines)
    observed = hits / total
    text = f"{format_percent(observed, check.comparison)} ({hits}/{total} {criterion.source} evaluations)"
    return Aggregated(observed, text, total, lines=tuple(lines))


def evaluate_criterion(check: EvaluationCheck, criteria: Sequence[CriterionSummary]) -> Aggregated:
    """Find the check's criterion and compute its aggregate, or say why it cannot be computed."""
    lookup = find_criterion(check.criterion, check.source, criteria)
    if lookup.criterion is None:
        lines = [f"criteria recorded: {_listing(criteria)}"] if criteria else []
        return _problem(lookup.problem or "criterion not found", lines)
    criterion = lookup.criterion
    lines = [f"{reference(criterion)}: {describe_criterion(criterion)}"]
    agg, comparison = check.aggregate, check.comparison
    if (agg in (Aggregate.PASS_RATE, Aggregate.RATE) or comparison.percent) and not (
        0.0 <= comparison.value <= 1.0
    ):
        return _problem(f"threshold {comparison.text} is outside 0–100% for a rate", lines)
    shape = shape_of(criterion)
    if shape in (Shape.EMPTY, Shape.MIXED):
        return _problem(f"{reference(criterion)} has {shape.value}", lines)
    if shape is Shape.COUNTS:
        return _on_counts(check, criterion, lines)
    if shape is Shape.HISTOGRAM:
        return _on_histogram(check, criterion, lines)
    return _on_scalar(check, criterion, lines)


def _on_counts(check: EvaluationCheck, criterion: CriterionSummary, lines: list[str]) -> Aggregated:
    agg, ref, source = check.aggregate, reference(criterion), criterion.source
    passed, failed = criterion.passed, criterion.failed
    if agg in _ORDER:
        why = f"{agg.value} needs a histogram of numeric labels, but {ref} has pass/fail counts"
        return _problem(f"{why} (use pass_rate or mean)", lines)
    if (passed is not None and passed < 0) or (failed is not None and failed < 0):
        return _problem(f"{ref} has a negative count", lines)
    total = None if passed is None or failed is None else passed + failed
    if agg is Aggregate.MEAN:
        if criterion.average is None:
            return _problem(f"{ref} has no average score (use pass_rate)", lines)
        if total == 0:
            return _problem(f"no evaluations recorded for {ref}", lines)
        basis = f"{source} average score" if total is None else plural(total, f"{source} evaluation")
        return _value(
            check, criterion, criterion.average, (criterion.average,), basis, lines, used=total or 1
        )
    if passed is None or failed is None or total is None:
        return _problem(f"{ref} has no {'pass' if passed is None else 'fail'} count", lines)
    if agg is Aggregate.COUNT:
        return Aggregated(float(total), plural(total, f"{source} evaluation"), total, lines=tuple(lines))
    if agg is Aggregate.PASS_RATE:
        return _share(check, passed, total, criterion, lines)
    words = {_word(label) for label in check.labels}
    if not words <= {"pass", "fail"}:
        others = ", ".join(sorted(words - {"pass", "fail"}))
        why = f"{ref} has only pass/fail counts, no label {others}"
        return _problem(f"{why} (use rate(pass) or rate(fail))", lines)
    hits = passed * ("pass" in words) + failed * ("fail" in words)
    return _share(check, hits, total, criterion, lines)


def _on_histogram(check: EvaluationCheck, criterion: CriterionSummary, lines: list[str]) -> Aggregated:
    agg, ref = check.aggregate, reference(criterion)
    pairs = criterion.histogram
    if any(count < 0 for _, count in pairs):
        return _problem(f"{ref} has a negative count", lines)
    total = sum(count for _, count in pairs)
    if agg is Aggregate.COUNT:
        return Aggregated(
            float(total), plural(total, f"{criterion.source} evaluation"), total, lines=tuple(lines)
        )
    labels = ", ".join(label for label, _ in pairs[:_LISTED])
    if agg is Aggregate.PASS_RATE:
        if any(_word(label) not in ("pass", "fail") for label, _ in pairs):
            return _problem(f"labels {labels} are not pass/fail; use rate(<labels>) or mean", lines)
        hits = sum(count for label, count in pairs if _word(label) == "pass")
        return _share(check, hits, total, criterion, lines)
    if agg is Aggregate.RATE:
        words = {_word(label) for label in check.labels}
        hits = sum(count for label, count in pairs if _word(label) in words)
        unseen = [label for label in check.labels if _word(label) not in {_word(lb) for lb, _ in pairs}]
        result = _share(check, hits, total, criterion, lines)
        if unseen and result.problem is None:
            return Aggregated(
                result.observed,
                result.observed_text,
                result.used,
                lines=result.lines,
                notes=(f"label {', '.join(unseen)} not seen (labels: {labels})",),
            )
        return result
    numbers = [(_numeric(label), count) for label, count in pairs]
    if any(number is None for number, _ in numbers):
        hint = (
            "use pass_rate" if all(_word(lb) in ("pass", "fail") for lb, _ in pairs) else "use rate(<labels>)"
        )
        return _problem(f"labels {labels} are not numeric; {agg.value} needs numbers ({hint})", lines)
    weighted = [(number, count) for number, count in numbers if number is not None and count > 0]
    if not weighted:
        return _problem(f"no evaluations recorded for {ref}", lines)
    values = tuple(number for number, _ in weighted)
    if agg is Aggregate.MEAN:
        observed = math.fsum(number * count for number, count in weighted) / total
    elif agg is Aggregate.MIN:
        observed = min(values)
    elif agg is Aggregate.MAX:
        observed = max(values)
    else:
        observed = weighted_percentile(weighted, _PERCENTILES[agg])
    basis = plural(total, f"{criterion.source} evaluation")
    return _value(check, criterion, observed, values, basis, lines, used=total)


def _on_scalar(check: EvaluationCheck, criterion: CriterionSummary, lines: list[str]) -> Aggregated:
    scalar, ref = criterion.scalar, reference(criterion)
    if scalar is None or check.aggregate is not Aggregate.MEAN:
        score = "" if scalar is None else f" ({format_number(scalar)})"
        why = f"{ref} is a single score{score}, not counts of evaluations"
        return _problem(f"{why}; {check.aggregate.value} does not apply (use mean)", lines)
    return _value(check, criterion, scalar, (scalar,), f"{criterion.source} score", lines)


def _value(
    check: EvaluationCheck,
    criterion: CriterionSummary,
    observed: float,
    values: Sequence[float],
    basis: str,
    lines: list[str],
    used: int = 1,
) -> Aggregated:
    """A mean or order statistic; with % only when every value it comes from is within 0..1."""
    ref = reference(criterion)
    if not all(math.isfinite(value) for value in (observed, *values)):
        return _problem(f"{ref} has a score that is not a finite number", lines)
    if check.comparison.percent:
        if not all(0.0 <= value <= 1.0 for value in values):
            return _problem(
                f"a percent compares scores within 0–1, but {ref} is on another scale "
                f"({check.aggregate.value} {format_number(observed)}); write the threshold on its scale, "
                "without %",
                lines,
            )
        text = f"{format_percent(observed, check.comparison)} ({basis})"
    else:
        text = f"{format_number(observed, check.comparison)} ({basis})"
    return Aggregated(observed, text, used, lines=tuple(lines))


def weighted_percentile(pairs: Sequence[tuple[float, int]], p: float) -> float:
    """``aggregates.percentile`` of the values repeated by their counts, without building that list."""
    ordered = sorted((value, count) for value, count in pairs if count > 0)
    n = sum(count for _, count in ordered)
    if n == 0:
        raise ValueError("percentile of no values")
    position = (n - 1) * p / 100.0
    low = math.floor(position)
    high = min(low + 1, n - 1)

    def at(index: int) -> float:
        seen = 0
        for value, count in ordered:
            seen += count
            if index < seen:
                return value
        return ordered[-1][0]

    return at(low) + (position - low) * (at(high) - at(low))
