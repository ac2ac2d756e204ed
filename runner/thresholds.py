"""Threshold language: types (this header) and the compiler (below).

The value of a ``thresholds:`` mapping compiles to one ``Thresholds``::

    thresholds:
      success_rate: ">= 90%"              # or ">= 0.9"; a bare 0.9 or "90%" means ">= 0.9"
      max_failed_runs: 2                  # whole number >= 0: at most this many failed runs
      max_infra_errors: 0                 # whole number >= 0: at most this many infrastructure errors
      metrics:                            # metric name or id -> one check or a list of checks
        Latency: ["p50 <= 2000", "p95 < 4000"]
        12: "pass_rate >= 95%"            # a metric by id (an integer key becomes the text "12")
        Sentiment: "rate(positive, neutral) >= 80%"
      evaluations:                        # Freeplay: [source:]criterion -> one check or a list of checks
        "Answer Accuracy": "pass_rate >= 90%"
        "auto:Helpfulness": ["mean >= 4", "count >= 5"]
        Faithfulness: "rate(yes) >= 80%"
      max_target_errors: 0                # Freeplay: whole number >= 0: test cases the target failed on

GRAMMAR (whitespace between tokens is optional; aggregate names are case-insensitive)::

    success_rate := rate_cmp | RATE          a bare RATE means ">= RATE"
    rate_cmp     := OP RATE
    check        := AGGREGATE OP VALUE       one string per check (a metric may have a list)
    AGGREGATE    := mean | min | max | p50 | p90 | p95 | p99 | count | pass_rate
                  | rate "(" LABEL { "," LABEL } ")"
    LABEL        := WORD | "double quoted" | 'single quoted'      (case-sensitive enum labels)
    WORD         := characters other than whitespace , ( ) ' "
    OP           := ">=" | ">" | "<=" | "<" | "==" | "!="
    NUMBER       := [+-] digits [ "." digits ] [ ("e" | "E") [+-] digits ]
    RATE         := NUMBER "%" within 0%..100%  |  NUMBER without "%" within 0..1
    evaluation   := [ SOURCE ":" ] CRITERION   (a key of ``evaluations``; its checks use ``check``)
    SOURCE       := auto | human | client      (case-insensitive; anything else before ":" is an error)

What each aggregate compares against:

- ``pass_rate`` and ``rate(...)`` take a RATE. A number above 1 without ``%`` is an error, never a
  percentage in disguise: ``>= 90`` does not mean 9000% nor 90% -- write ``90%`` or ``0.9``.
- ``count`` takes a whole number of runs >= 0, without ``%``.
- ``mean min max p50 p90 p95 p99`` take any NUMBER in the metric's own unit. With ``%`` the value is a
  fraction of the metric's scale (the gate divides continuous 0-5 scores by 5 for such comparisons).

A ``%`` value is stored divided by 100 with ``percent=True`` (``90%`` -> 0.9). Normalised texts keep the
form the user wrote (``">= 90%"``, ``"p50 <= 2000"``, ``"rate(positive, neutral) >= 80%"``). Check ids are
``metric.<metric>.<aggregate>`` (``metric.Sentiment.rate(positive,neutral)``); a second check with the same
id on one metric gets ``#2``, a third ``#3``, in the order written.

Evaluations (Freeplay ``summary_statistics`` criteria) use the same checks and rate rules. A key
``"auto:Helpfulness"`` looks only at model-graded (``auto``) evaluations, ``human:`` at human labels,
``client:`` at the ``eval_results`` regate recorded; a bare ``"Helpfulness"`` looks in all three. The
source is the word before the *first* ``:``, so a criterion whose own name has a ``:`` after a single word
is written with its source (``"auto:Tone:formal"``). Check ids are ``evaluation.<key as written>.<aggregate>``
(``evaluation.auto:Helpfulness.mean``), de-duplicated with ``#2`` like metric ids.

``merge_thresholds(defaults, gate)`` lets the gate's values win key by key; the gate's checks on a metric
replace the defaults' checks on that same metric name, checks on other metrics are kept. Evaluations merge
the same way, by (source, criterion).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

from runner.errors import ThresholdSyntaxError
from runner.threshold_change import change_text, is_change, parse_change
from runner.threshold_syntax import (  # the scanner's pieces: one language, split for size
    _NUMBER,
    _OP_START,
    _SOURCE_PREFIX,
    _comparison,
    _compile_check,
    _Cursor,
    _describe,
    _fmt,
    _rate,
)
from runner.threshold_types import (
    EVALUATION_SOURCES,
    THRESHOLD_KEYS,
    Aggregate,
    ChangeCheck,
    Comparison,
    EvaluationCheck,
    MetricCheck,
    Op,
    Thresholds,
)

__all__ = [
    "EVALUATION_SOURCES",
    "THRESHOLD_KEYS",
    "Aggregate",
    "Comparison",
    "EvaluationCheck",
    "MetricCheck",
    "Op",
    "Thresholds",
    "compile_thresholds",
    "merge_thresholds",
]


def compile_thresholds(raw: object) -> Thresholds:
    """Compile the YAML value of a ``thresholds:`` mapping (``None`` = no thresholds).

    Raises ``ThresholdSyntaxError`` whose ``key`` is the path below ``thresholds`` (``success_rate``,
    ``metrics.Latency``, ``metrics.Latency[1]``, ``evaluations.auto:Helpfulness``; ``""`` for the mapping
    itself).
    """
    if raw is None:
        return Thresholds()
    if not isinstance(raw, Mapping):
        raise ThresholdSyntaxError(
            f"thresholds must be a mapping ({', '.join(THRESHOLD_KEYS)}), got {_describe(raw)}", key=""
        )
    for name in raw:
        if name not in THRESHOLD_KEYS:
            close = difflib.get_close_matches(str(name), THRESHOLD_KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(THRESHOLD_KEYS)}"
            raise ThresholdSyntaxError(f"unknown key {str(name)!r}", key=str(name), hint=hint)
    success_rate, changes = (
        _compile_success_rates(raw["success_rate"]) if "success_rate" in raw else (None, ())
    )
    metrics, metric_changes = _compile_metrics(raw.get("metrics"))
    return Thresholds(
        success_rate=success_rate,
        metrics=metrics,
        changes=changes + metric_changes,
        max_failed_runs=_count_limit(raw, "max_failed_runs"),
        max_infra_errors=_count_limit(raw, "max_infra_errors"),
        evaluations=_compile_evaluations(raw.get("evaluations")),
        max_target_errors=_count_limit(raw, "max_target_errors"),
    )


def merge_thresholds(base: Thresholds, override: Thresholds) -> Thresholds:
    """``override`` (a gate's thresholds) over ``base`` (the defaults), key by key.

    Scalar keys: the override's value wins when set. Metrics: the override's checks on a metric replace all
    of the base's checks on that same metric name (in the base's position); other metrics are kept, and
    metrics only the override names follow in its order. Evaluations likewise, per (source, criterion).
    """
    return Thresholds(
        success_rate=_pick(override.success_rate, base.success_rate),
        metrics=_merge_checks(base.metrics, override.metrics, lambda c: c.metric),
        max_failed_runs=_pick(override.max_failed_runs, base.max_failed_runs),
        max_infra_errors=_pick(override.max_infra_errors, base.max_infra_errors),
        evaluations=_merge_checks(base.evaluations, override.evaluations, lambda c: (c.source, c.criterion)),
        max_target_errors=_pick(override.max_target_errors, base.max_target_errors),
        changes=_merge_checks(base.changes, override.changes, lambda c: c.metric),
    )


_V = TypeVar("_V")
_C = TypeVar("_C", MetricCheck, EvaluationCheck, ChangeCheck)


def _pick(override: _V | None, base: _V | None) -> _V | None:
    return override if override is not None else base


def _merge_checks(
    base: tuple[_C, ...], override: tuple[_C, ...], key: Callable[[_C], Hashable]
) -> tuple[_C, ...]:
    replaced = {key(check) for check in override}
    merged: list[_C] = []
    placed: set[Hashable] = set()
    for check in base:
        k = key(check)
        if k not in replaced:
            merged.append(check)
        elif k not in placed:
            placed.add(k)
            merged.extend(c for c in override if key(c) == k)
    merged.extend(c for c in override if key(c) not in placed)
    return tuple(merged)


def _compile_success_rate(raw: object, key: str = "success_rate") -> Comparison:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        try:
            number = float(raw)
        except OverflowError:
            number = math.inf  # refused just below, as any rate above 1
        value, shown = _rate(number, _fmt(number), percent=False, key=key)
        return Comparison(Op.GE, value, False, f">= {shown}")
    if not isinstance(raw, str):
        raise ThresholdSyntaxError(
            f"expected a rate such as '>= 90%' or 0.9, got {_describe(raw)}",
            key=key,
            hint="write success_rate: \">= 90%\" (quoted: YAML reads a leading '>' as a block scalar)",
        )
    cur = _Cursor(raw, key)
    cur.skip_ws()
    if cur.peek() and cur.peek() in _OP_START:
        op = cur.op(after=None)
    elif cur.match(_NUMBER, consume=False):
        op = Op.GE
    else:
        raise ThresholdSyntaxError(
            f"expected a rate such as '>= 90%' or 0.9, found {cur.found()}",
            key=key,
            hint="success_rate is the share of passed runs; checks on metrics go under 'metrics'",
        )
    comparison = _comparison(cur, op, Aggregate.PASS_RATE)
    cur.end()
    return comparison


def _compile_success_rates(raw: object) -> tuple[Comparison | None, tuple[ChangeCheck, ...]]:
    """``success_rate``: one absolute rate, one change (``drop <= 5pp``), or a list of at most one each."""
    items = (
        [(f"success_rate[{i}]", item) for i, item in enumerate(raw)]
        if isinstance(raw, list)
        else [("success_rate", raw)]
    )
    if not items:
        raise ThresholdSyntaxError(
            "empty list", key="success_rate", hint='write e.g. success_rate: [">= 85%", "drop <= 5pp"]'
        )
    absolute: Comparison | None = None
    changes: list[ChangeCheck] = []
    for key, item in items:
        if is_change(item):
            aggregate, labels, change = parse_change(item, key, metric=None)
            if changes:
                raise ThresholdSyntaxError(
                    "success_rate has two changes", key=key, hint='keep one, e.g. "drop <= 5pp"'
                )
            changes.append(
                ChangeCheck(None, aggregate, labels, change, change.text, f"success_rate.{change.direction}")
            )
        else:
            if absolute is not None:
                raise ThresholdSyntaxError(
                    "success_rate has two absolute rates", key=key, hint='keep one, e.g. ">= 90%"'
                )
            absolute = _compile_success_rate(item, key)
    return absolute, tuple(changes)


def _compile_metrics(raw: object) -> tuple[tuple[MetricCheck, ...], tuple[ChangeCheck, ...]]:
    checks: list[MetricCheck] = []
    changes: list[ChangeCheck] = []
    for metric, key, items in _check_lists(
        raw,
        "metrics",
        what="metric",
        mapping_of="metric name or id",
        example='e.g. metrics: {Latency: "p95 <= 2000"}',
        one='"mean >= 4"',
        several='["p50 <= 2000", "p95 < 4000"]',
        at_least='"p95 <= 2000"',
    ):
        if not metric.strip():
            raise ThresholdSyntaxError("empty metric name", key=key, hint="name a metric by its name or id")
        seen: dict[str, int] = {}
        for item_key, item in items:
            if is_change(item):
                change_aggregate, labels, change = parse_change(item, item_key, metric=metric)
                text, id_name = change_text(change_aggregate, labels, change)
                check_id = _unique(f"metric.{metric}.{id_name}", seen)
                changes.append(ChangeCheck(metric, change_aggregate, labels, change, text, check_id))
                continue
            aggregate, labels, comparison, text, id_name = _compile_check(item, item_key)
            check_id = _unique(f"metric.{metric}.{id_name}", seen)
            checks.append(MetricCheck(metric, aggregate, labels, comparison, text, check_id))
    return tuple(checks), tuple(changes)


def _compile_evaluations(raw: object) -> tuple[EvaluationCheck, ...]:
    checks: list[EvaluationCheck] = []
    for written, key, items in _check_lists(
        raw,
        "evaluations",
        what="evaluation",
        mapping_of="evaluation criterion",
        example='e.g. evaluations: {"Answer Accuracy": "pass_rate >= 90%"}',
        one='"pass_rate >= 90%"',
        several='["mean >= 4", "count >= 5"]',
        at_least='"pass_rate >= 90%"',
    ):
        source, criterion = _evaluation_key(written, key)
        seen: dict[str, int] = {}
        for item_key, item in items:
            aggregate, labels, comparison, text, id_name = _compile_check(item, item_key)
            check_id = _unique(f"evaluation.{written}.{id_name}", seen)
            checks.append(EvaluationCheck(criterion, source, aggregate, labels, comparison, text, check_id))
    return tuple(checks)


def _check_lists(
    raw: object,
    section: str,
    *,
    what: str,
    mapping_of: str,
    example: str,
    one: str,
    several: str,
    at_least: str,
) -> list[tuple[str, str, list[tuple[str, object]]]]:
    """``{name: check | [check, ...]}`` -> ``[(name, key, [(item key, check), ...]), ...]``."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise ThresholdSyntaxError(
            f"{section} must be a mapping of {mapping_of} to checks, got {_describe(raw)}",
            key=section,
            hint=example,
        )
    lists = []
    for name, value in raw.items():
        written = str(name)
        key = f"{section}.{written}"
        if isinstance(value, str):
            items: list[tuple[str, object]] = [(key, value)]
        elif isinstance(value, list):
            items = [(f"{key}[{i}]", item) for i, item in enumerate(value)]
        elif value is None:
            items = []
        else:
            raise ThresholdSyntaxError(
                f"expected a check or a list of checks, got {_describe(value)}",
                key=key,
                hint=f"write e.g. {one} or {several}",
            )
        if not items:
            raise ThresholdSyntaxError(
                f"no checks for {what} {written!r}",
                key=key,
                hint=f"write at least one check such as {at_least}, or remove the {what}",
            )
        lists.append((written, key, items))
    return lists


def _evaluation_key(written: str, key: str) -> tuple[str | None, str]:
    """``"auto:Helpfulness"`` -> ``("auto", "Helpfulness")``; ``"Helpfulness"`` -> ``(None, ...)``."""
    source = None
    criterion = written
    m = _SOURCE_PREFIX.fullmatch(written.strip())
    if m is not None:
        word = m.group(1)
        if word.lower() not in EVALUATION_SOURCES:
            close = difflib.get_close_matches(word.lower(), EVALUATION_SOURCES, n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"sources: {', '.join(EVALUATION_SOURCES)}; a criterion whose name contains ':' is "
                f"written with its source, e.g. 'auto:{written.strip()}'"
            )
            raise ThresholdSyntaxError(
                f"unknown evaluation source {word!r} in {written!r}", key=key, hint=hint
            )
        source, criterion = word.lower(), m.group(2)
    if not criterion.strip():
        raise ThresholdSyntaxError(
            "empty criterion name",
            key=key,
            hint='name an evaluation criterion, e.g. "Answer Accuracy" or "auto:Helpfulness"',
        )
    return source, criterion.strip()


def _unique(check_id: str, seen: dict[str, int]) -> str:
    """``check_id``, or ``check_id#n`` for its n-th occurrence under one name."""
    seen[check_id] = seen.get(check_id, 0) + 1
    return check_id if seen[check_id] == 1 else f"{check_id}#{seen[check_id]}"


def _count_limit(raw: Mapping[object, object], name: str) -> int | None:
    if name not in raw:
        return None
    value = raw[name]
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ThresholdSyntaxError(
        f"expected a whole number >= 0, got {_describe(value)}",
        key=name,
        hint=f"e.g. {name}: 0",
    )
