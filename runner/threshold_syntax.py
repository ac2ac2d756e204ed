"""The expression scanner of the threshold language: ``<aggregate> <op> <number>[%]`` and rates.

Pure functions over one expression string; ``runner.thresholds`` (grammar in its docstring) walks the
``thresholds:`` mapping and calls these for each expression.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping

from runner.errors import ThresholdSyntaxError
from runner.threshold_types import Aggregate, Comparison, Op

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
