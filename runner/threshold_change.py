"""Relative thresholds: how much a gate may move against its baseline (see ``runner.baseline``).

GRAMMAR (extends ``runner.thresholds``; ``success_rate`` and metric checks may be lists mixing both kinds)::

    change       := [ AGGREGATE ] DIRECTION OP AMOUNT
    DIRECTION    := drop | increase                     (case-insensitive)
    OP           := "<=" | "<"                          a change is bounded from above only
    AMOUNT       := NUMBER "pp"      percentage points of a rate:  "drop <= 5pp"
                  | NUMBER "%"       relative to the baseline:     "p50 increase <= 10%"
                  | NUMBER           in the metric's own unit:     "mean drop <= 0.3"

Which aggregates take which amounts:

- ``success_rate`` (no aggregate written), ``pass_rate`` and ``rate(...)`` are rates: only ``pp``. A ``%``
  on a rate would be ambiguous (10% of 90% is 9 points, not 10), so it is refused with the fix.
- ``mean``, ``min``, ``max`` and the percentiles take ``%`` (relative) or a bare number (absolute).
- ``count`` takes no change: the number of runs is set by the config, not by the agent.

``drop`` is baseline − current, ``increase`` is current − baseline (relative amounts divide by the
baseline). Rates are judged with statistics (a confidence interval for the difference and a one-sided
test, see ``runner.stats``); the other aggregates compare the two point estimates, with the same minimum
number of runs on each side. Check ids: ``success_rate.drop``, ``metric.Latency.p50.increase``.
"""

from __future__ import annotations

import math
import re
from typing import TypeGuard

from runner.errors import ThresholdSyntaxError
from runner.threshold_syntax import _NUMBER, _aggregate, _Cursor, _fmt, _show_label
from runner.threshold_types import Aggregate, Change, ChangeUnit, Direction, Op

__all__ = ["change_text", "is_change", "parse_change"]


_DIRECTION = re.compile(r"(drop|increase)\b", re.IGNORECASE)
_CHANGE_SHAPE = re.compile(
    r"\s*(?:(?:rate\s*\(.*?\)|[A-Za-z_][A-Za-z0-9_]*)\s+)?(?:drop|increase)\b", re.IGNORECASE
)
_RATE_AGGREGATES = (Aggregate.PASS_RATE, Aggregate.RATE)


def is_change(raw: object) -> TypeGuard[str]:
    """Does this check string read as a change (``[aggregate] drop|increase ...``)?"""
    return isinstance(raw, str) and _CHANGE_SHAPE.match(raw) is not None


def parse_change(
    raw: str, key: str, *, metric: str | None
) -> tuple[Aggregate | None, tuple[str, ...], Change]:
    """Parse one change check; ``metric`` None means a ``success_rate`` entry (no aggregate allowed)."""
    cur = _Cursor(raw, key)
    cur.skip_ws()
    aggregate: Aggregate | None = None
    labels: tuple[str, ...] = ()
    if cur.match(_DIRECTION, consume=False) is None:
        if metric is None:
            raise ThresholdSyntaxError(
                f"success_rate takes no aggregate, found {cur.found()}",
                key=key,
                hint='write e.g. success_rate: "drop <= 5pp"',
            )
        aggregate, labels = _aggregate(cur)
        cur.skip_ws()
    elif metric is not None:
        raise ThresholdSyntaxError(
            f"a change on a metric names its aggregate, found {cur.found()}",
            key=key,
            hint='write e.g. "p50 increase <= 10%" or "pass_rate drop <= 5pp"',
        )
    word = cur.match(_DIRECTION)
    if word is None:
        raise ThresholdSyntaxError(
            f"expected 'drop' or 'increase', found {cur.found()}", key=key, hint='e.g. "mean drop <= 0.3"'
        )
    direction = Direction(word.lower())
    if aggregate is Aggregate.COUNT:
        raise ThresholdSyntaxError(
            "count takes no drop or increase: the number of runs is set by the config",
            key=key,
            hint='compare a rate instead, e.g. "pass_rate drop <= 5pp"',
        )
    op = cur.op(after=direction.value)
    if op not in (Op.LE, Op.LT):
        raise ThresholdSyntaxError(
            f"a {direction.value} is bounded from above: use <= or <, not {op.value!r}",
            key=key,
            hint=f'e.g. "{direction.value} <= 5pp"',
        )
    change = _amount(cur, direction, op, rate=aggregate is None or aggregate in _RATE_AGGREGATES)
    cur.end()
    return aggregate, labels, change


def _amount(cur: _Cursor, direction: Direction, op: Op, *, rate: bool) -> Change:
    cur.skip_ws()
    written = cur.match(_NUMBER)
    if written is None:
        raise ThresholdSyntaxError(
            f"expected an amount after {op.value!r}, found {cur.found()}",
            key=cur.key,
            hint='write e.g. "5pp" for a rate, "10%" or "0.3" for a metric',
        )
    number = float(written)
    if not math.isfinite(number) or number < 0:
        raise ThresholdSyntaxError(
            f"the allowed {direction.value} must be a number >= 0, got {written}", key=cur.key
        )
    cur.skip_ws()
    if cur.text.startswith("pp", cur.pos):
        cur.advance(2)
        if not rate:
            raise ThresholdSyntaxError(
                "pp (percentage points) is for rates",
                key=cur.key,
                hint=f'for this metric write a relative "{_fmt(number)}%" or an amount in its own unit',
            )
        if number > 100:
            raise ThresholdSyntaxError(f"{_fmt(number)}pp is more than a whole rate", key=cur.key)
        unit, limit, shown = ChangeUnit.POINTS, number / 100, f"{_fmt(number)}pp"
    elif cur.peek() == "%":
        cur.advance(1)
        if rate:
            raise ThresholdSyntaxError(
                f"a {direction.value} of a rate is written in percentage points",
                key=cur.key,
                hint=f'write "{direction.value} {op.value} {_fmt(number)}pp" (points of the rate); a relative'
                " % of a rate would be ambiguous",
            )
        unit, limit, shown = ChangeUnit.RELATIVE, number / 100, f"{_fmt(number)}%"
    else:
        if rate:
            raise ThresholdSyntaxError(
                f"a {direction.value} of a rate needs its unit, pp (percentage points)",
                key=cur.key,
                hint=f'write "{direction.value} {op.value} {_fmt(number)}pp"',
            )
        unit, limit, shown = ChangeUnit.ABSOLUTE, number, _fmt(number)
    return Change(direction, op, limit, unit, f"{direction.value} {op.value} {shown}")


def change_text(aggregate: Aggregate | None, labels: tuple[str, ...], change: Change) -> tuple[str, str]:
    """(normalised text, id suffix): ``("p50 increase <= 10%", "p50.increase")``."""
    if aggregate is None:
        return change.text, change.direction.value
    if aggregate is Aggregate.RATE:
        name = f"rate({', '.join(_show_label(label) for label in labels)})"
        id_name = f"rate({','.join(_show_label(label) for label in labels)})"
    else:
        name = id_name = aggregate.value
    return f"{name} {change.text}", f"{id_name}.{change.direction.value}"
