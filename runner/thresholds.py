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
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from runner.errors import ThresholdSyntaxError


class Op(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="
    NE = "!="


class Aggregate(StrEnum):
    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    P50 = "p50"
    P90 = "p90"
    P95 = "p95"
    P99 = "p99"
    COUNT = "count"
    PASS_RATE = "pass_rate"  # noqa: S105 (not a password)
    RATE = "rate"  # rate(<label>[, <label>...]): share of runs whose enum label is one of the labels


@dataclass(frozen=True, slots=True)
class Comparison:
    """``<op> <number>[%]``. ``value`` is already scaled: ``90%`` is stored as 0.9 with ``percent=True``."""

    op: Op
    value: float
    percent: bool
    text: str  # normalised, e.g. ">= 90%"

    def holds(self, observed: float) -> bool:
        # Exact float comparison is intended: thresholds are user-chosen boundaries, and "== 0" on a
        # count must mean exactly zero.
        match self.op:
            case Op.GE:
                return observed >= self.value
            case Op.GT:
                return observed > self.value
            case Op.LE:
                return observed <= self.value
            case Op.LT:
                return observed < self.value
            case Op.EQ:
                return observed == self.value
            case Op.NE:
                return observed != self.value


@dataclass(frozen=True, slots=True)
class MetricCheck:
    """``<aggregate> <op> <number>[%]`` on one metric, named by name or id as the user wrote it."""

    metric: str
    aggregate: Aggregate
    labels: tuple[str, ...]  # only for RATE
    comparison: Comparison
    text: str  # normalised expression, e.g. "p50 <= 2000" or "rate(yes, maybe) >= 80%"
    check_id: str  # stable id, e.g. "metric.Latency.p50", "metric.Sentiment.rate(positive)"


@dataclass(frozen=True, slots=True)
class EvaluationCheck:
    """``<aggregate> <op> <number>[%]`` on one Freeplay evaluation criterion.

    ``source`` restricts the criterion to ``auto``, ``human`` or ``client`` evaluations (written
    ``"auto:Answer Accuracy"``); None looks in all three, and a name found in more than one is ambiguous.
    """

    criterion: str
    source: str | None
    aggregate: Aggregate
    labels: tuple[str, ...]
    comparison: Comparison
    text: str
    check_id: str  # e.g. "evaluation.Answer Accuracy.pass_rate", "evaluation.auto:Helpfulness.mean"


@dataclass(frozen=True, slots=True)
class Thresholds:
    success_rate: Comparison | None = None
    metrics: tuple[MetricCheck, ...] = ()
    max_failed_runs: int | None = None
    max_infra_errors: int | None = None
    evaluations: tuple[EvaluationCheck, ...] = ()
    max_target_errors: int | None = None

    @property
    def is_empty(self) -> bool:
        return (
            self.success_rate is None
            and not self.metrics
            and self.max_failed_runs is None
            and self.max_infra_errors is None
            and not self.evaluations
            and self.max_target_errors is None
        )


# --------------------------------------------------------------------------------------------------------
# Compiler
# --------------------------------------------------------------------------------------------------------

THRESHOLD_KEYS = (
    "success_rate",
    "max_failed_runs",
    "max_infra_errors",
    "metrics",
    "evaluations",
    "max_target_errors",
)
EVALUATION_SOURCES = ("auto", "human", "client")

_OPS = (">=", "<=", "==", "!=", ">", "<")  # longest first
_MISTYPED_OPS = {"=>": ">=", "=<": "<=", "<>": "!=", "≥": ">=", "≤": "<=", "≠": "!=", "=": "=="}
_OP_START = "<>=!≥≤≠"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_LABEL = re.compile(r"[^\s,()'\"]+")
_TOKEN = re.compile(r"\S+")
_SOURCE_PREFIX = re.compile(r"([A-Za-z_]+)\s*:(.*)", re.DOTALL)
_AGGREGATE_NAMES = tuple(a.value for a in Aggregate)
_AGGREGATES_HINT = "aggregates: mean, min, max, p50, p90, p95, p99, count, pass_rate, rate(<label>, ...)"
_RATE_RANGE_HINT = "a rate is between 0 and 1, or between 0% and 100%"
_RATE_AGGREGATES = (Aggregate.PASS_RATE, Aggregate.RATE)


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
    success_rate = None
    if "success_rate" in raw:
        success_rate = _compile_success_rate(raw["success_rate"])
    return Thresholds(
        success_rate=success_rate,
        metrics=_compile_metrics(raw.get("metrics")),
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
    )


_V = TypeVar("_V")
_C = TypeVar("_C", MetricCheck, EvaluationCheck)


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


def _compile_success_rate(raw: object) -> Comparison:
    key = "success_rate"
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


def _compile_metrics(raw: object) -> tuple[MetricCheck, ...]:
    checks: list[MetricCheck] = []
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
            aggregate, labels, comparison, text, id_name = _compile_check(item, item_key)
            check_id = _unique(f"metric.{metric}.{id_name}", seen)
            checks.append(MetricCheck(metric, aggregate, labels, comparison, text, check_id))
    return tuple(checks)


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


def _compile_check(raw: object, key: str) -> tuple[Aggregate, tuple[str, ...], Comparison, str, str]:
    """One check -> (aggregate, labels, comparison, normalised text, aggregate's id part)."""
    if not isinstance(raw, str):
        raise ThresholdSyntaxError(
            f"expected a check such as 'mean >= 4', got {_describe(raw)}",
            key=key,
            hint="a check is a string '<aggregate> <op> <number>[%]'",
        )
    cur = _Cursor(raw, key)
    aggregate, labels = _aggregate(cur)
    op = cur.op(after=aggregate.value if aggregate is not Aggregate.RATE else "rate(...)")
    comparison = _comparison(cur, op, aggregate)
    cur.end()
    if aggregate is Aggregate.RATE:
        name = f"rate({', '.join(_show_label(label) for label in labels)})"
        id_name = f"rate({','.join(_show_label(label) for label in labels)})"
    else:
        name = id_name = aggregate.value
    return aggregate, labels, comparison, f"{name} {comparison.text}", id_name


def _aggregate(cur: _Cursor) -> tuple[Aggregate, tuple[str, ...]]:
    cur.skip_ws()
    if cur.at_end():
        raise ThresholdSyntaxError(
            "empty threshold expression", key=cur.key, hint='write e.g. "mean >= 4" or "p95 <= 2000"'
        )
    if cur.peek() in _OP_START:
        raise ThresholdSyntaxError(
            f"missing aggregate before {cur.found()}",
            key=cur.key,
            hint=f"start with an aggregate; {_AGGREGATES_HINT}",
        )
    word = cur.match(_WORD)
    if word is None:
        raise ThresholdSyntaxError(
            f"expected an aggregate, found {cur.found()}", key=cur.key, hint=_AGGREGATES_HINT
        )
    lowered = word.lower()
    if lowered == Aggregate.RATE.value:
        return Aggregate.RATE, _labels(cur)
    if lowered in _AGGREGATE_NAMES:
        return Aggregate(lowered), ()
    close = difflib.get_close_matches(lowered, _AGGREGATE_NAMES, n=1)
    hint = f"did you mean {close[0]!r}?" if close else _AGGREGATES_HINT
    raise ThresholdSyntaxError(f"unknown aggregate {word!r}", key=cur.key, hint=hint)


def _labels(cur: _Cursor) -> tuple[str, ...]:
    example = 'e.g. "rate(positive, neutral) >= 80%"'
    cur.skip_ws()
    if cur.peek() != "(":
        raise ThresholdSyntaxError(
            "rate needs enum labels: rate(<label>, ...)",
            key=cur.key,
            hint=f"{example}; the share of passed runs is pass_rate",
        )
    cur.advance(1)
    labels: list[str] = []
    while True:
        cur.skip_ws()
        quote = cur.peek()
        if quote in ("'", '"'):
            close = cur.text.find(quote, cur.pos + 1)
            if close < 0:
                raise ThresholdSyntaxError(f"unclosed {quote} in rate(...)", key=cur.key, hint=example)
            label = cur.text[cur.pos + 1 : close]
            cur.pos = close + 1
        else:
            bare = cur.match(_BARE_LABEL)
            if bare is None:
                what = "needs at least one label" if not labels and cur.peek() == ")" else "expects a label"
                raise ThresholdSyntaxError(
                    f"rate(...) {what}, found {cur.found()}", key=cur.key, hint=example
                )
            label = bare
        if not label.strip():
            raise ThresholdSyntaxError("empty label in rate(...)", key=cur.key, hint=example)
        labels.append(label)
        cur.skip_ws()
        if cur.peek() == ",":
            cur.advance(1)
        elif cur.peek() == ")":
            cur.advance(1)
            return tuple(labels)
        else:
            raise ThresholdSyntaxError(
                f"expected ',' or ')' in rate(...), found {cur.found()}", key=cur.key, hint=example
            )


def _comparison(cur: _Cursor, op: Op, aggregate: Aggregate) -> Comparison:
    cur.skip_ws()
    written = cur.match(_NUMBER)
    if written is None:
        raise ThresholdSyntaxError(
            f"expected a number after {op.value!r}, found {cur.found()}",
            key=cur.key,
            hint='write e.g. ">= 90%", "<= 2000" or ">= 0.9"',
        )
    number = float(written)
    if not math.isfinite(number):
        raise ThresholdSyntaxError(f"number {written} is too large", key=cur.key)
    cur.skip_ws()
    percent = cur.peek() == "%"
    if percent:
        cur.advance(1)
    if aggregate in _RATE_AGGREGATES:
        value, shown = _rate(number, written, percent=percent, key=cur.key)
    elif aggregate is Aggregate.COUNT:
        value, shown = _count(number, written, percent=percent, key=cur.key), _fmt(number)
    else:
        value = number / 100 if percent else number
        shown = f"{_fmt(number)}%" if percent else _fmt(number)
    return Comparison(op, value, percent, f"{op.value} {shown}")


def _rate(number: float, written: str, *, percent: bool, key: str) -> tuple[float, str]:
    """A rate as written (``90%`` or ``0.9``) -> (fraction, normalised text)."""
    if math.isnan(number):
        raise ThresholdSyntaxError("a rate cannot be NaN", key=key, hint=_RATE_RANGE_HINT)
    if number < 0:
        raise ThresholdSyntaxError(
            f"rate {written}{'%' if percent else ''} is negative", key=key, hint=_RATE_RANGE_HINT
        )
    if percent:
        if number > 100:
            raise ThresholdSyntaxError(f"rate {_fmt(number)}% is above 100%", key=key, hint=_RATE_RANGE_HINT)
        return number / 100, f"{_fmt(number)}%"
    if number > 1:
        hint = f"write {_fmt(number)}% or {_fmt(number / 100)}" if number <= 100 else _RATE_RANGE_HINT
        raise ThresholdSyntaxError(
            f"rate {_fmt(number)} is above 1: a rate without % is a fraction", key=key, hint=hint
        )
    return number, _fmt(number)


def _count(number: float, written: str, *, percent: bool, key: str) -> float:
    if percent:
        raise ThresholdSyntaxError(
            "count is a number of runs and takes no %",
            key=key,
            hint='write a whole number, e.g. "count >= 10"; for a share of runs use pass_rate or rate(...)',
        )
    if not number.is_integer() or number < 0:
        raise ThresholdSyntaxError(f"count takes a whole number >= 0, got {written}", key=key)
    return number


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


class _Cursor:
    """A position in one expression, with the helpers the recursive-descent parser needs."""

    __slots__ = ("key", "pos", "text")

    def __init__(self, text: str, key: str) -> None:
        self.text = text
        self.key = key
        self.pos = 0

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def advance(self, n: int) -> None:
        self.pos += n

    def match(self, pattern: re.Pattern[str], *, consume: bool = True) -> str | None:
        m = pattern.match(self.text, self.pos)
        if m is None:
            return None
        if consume:
            self.pos = m.end()
        return m.group()

    def found(self) -> str:
        """The next token, quoted, for messages (or "the end of the expression")."""
        m = _TOKEN.match(self.text, self.pos)
        return repr(m.group()) if m else "the end of the expression"

    def op(self, *, after: str | None) -> Op:
        self.skip_ws()
        for op in _OPS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return Op(op)
        for wrong, right in _MISTYPED_OPS.items():
            if self.text.startswith(wrong, self.pos):
                raise ThresholdSyntaxError(
                    f"unknown operator {wrong!r}", key=self.key, hint=f"did you mean {right!r}?"
                )
        where = f" after {after!r}" if after else ""
        raise ThresholdSyntaxError(
            f"expected an operator (>=, >, <=, <, ==, !=){where}, found {self.found()}",
            key=self.key,
            hint='write e.g. "p95 <= 2000"',
        )

    def end(self) -> None:
        self.skip_ws()
        if self.at_end():
            return
        rest = self.text[self.pos :].strip()
        if _WORD.fullmatch(rest):
            hint = "thresholds take no units: write the number in the metric's own unit"
        else:
            hint = "one string holds one comparison; put several checks in a list"
        raise ThresholdSyntaxError(
            f"unexpected {rest!r} at the end of {self.text.strip()!r}", key=self.key, hint=hint
        )


def _fmt(number: float) -> str:
    """Shortest faithful text of a number: 2000.0 -> "2000", 0.9 -> "0.9"."""
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def _show_label(label: str) -> str:
    if _BARE_LABEL.fullmatch(label):
        return label
    return f"'{label}'" if '"' in label else f'"{label}"'


def _describe(value: object) -> str:
    """How a wrong YAML value is named in messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return _fmt(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
