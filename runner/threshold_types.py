"""The types of the threshold language (see ``runner.thresholds`` for the grammar and the compiler)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


class Direction(StrEnum):
    DROP = "drop"
    INCREASE = "increase"


class ChangeUnit(StrEnum):
    POINTS = "pp"
    RELATIVE = "%"
    ABSOLUTE = ""


@dataclass(frozen=True, slots=True)
class Change:
    direction: Direction
    op: Op  # LE or LT
    limit: float  # points and relative amounts as fractions: 5pp -> 0.05, 10% -> 0.10
    unit: ChangeUnit
    text: str  # "drop <= 5pp"

    def holds(self, amount: float) -> bool:
        return amount <= self.limit if self.op is Op.LE else amount < self.limit


@dataclass(frozen=True, slots=True)
class ChangeCheck:
    """A relative check. ``metric`` is None for ``success_rate``; ``aggregate`` None likewise."""

    metric: str | None
    aggregate: Aggregate | None
    labels: tuple[str, ...]
    change: Change
    text: str  # "drop <= 5pp", "p50 increase <= 10%"
    check_id: str  # "success_rate.drop", "metric.Latency.p50.increase"

    @property
    def on_rate(self) -> bool:
        return self.aggregate in (None, Aggregate.PASS_RATE, Aggregate.RATE)


@dataclass(frozen=True, slots=True)
class Thresholds:
    success_rate: Comparison | None = None
    metrics: tuple[MetricCheck, ...] = ()
    max_failed_runs: int | None = None
    max_infra_errors: int | None = None
    evaluations: tuple[EvaluationCheck, ...] = ()
    max_target_errors: int | None = None
    changes: tuple[ChangeCheck, ...] = ()  # relative to a baseline (runner.threshold_change)

    @property
    def is_empty(self) -> bool:
        return (
            not self.changes
            and self.success_rate is None
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
