"""Cekura result JSON → ``ResultSnapshot`` (api-contracts §A4-§A7, §C-1, §C-2, §C-7, §C-11, §C-12, §C-22).

Pure and defensive: the OpenAPI types many computed fields as "string", so every counter is coerced, and
anything that cannot be understood becomes an *anomaly* — which the gate treats as inconclusive — rather
than an exception or, worse, a silently rosy default.
"""

from __future__ import annotations

import functools
import math
import re
import sys
from collections.abc import Mapping
from typing import Any

from runner.errors import ProtocolError
from runner.model import MetricKind, MetricValue, ResultSnapshot, RunRecord
from runner.textclean import excerpt, one_line

KNOWN_STATUSES = frozenset(
    {"pending", "in_queue", "scaling_up", "in_progress", "running", "evaluating",
     "completed", "failed", "timeout", "cancelled"}
)  # fmt: skip
TERMINAL = frozenset({"completed", "failed", "timeout", "cancelled"})
INFRA_STATUSES = frozenset({"failed", "timeout", "cancelled"})
_MAX_REASON = 300
_INTEGER = re.compile(r"-?[0-9]{1,30}")  # ASCII digits, a length int() always reads
_MAX_NAME = 200  # names and ids from the platform: enough to recognise, bounded for every report


def _name(value: object, fallback: str) -> str:
    """A name or id from the platform, cleaned and bounded; ``fallback`` when nothing printable is left
    (e.g. a name made only of a terminal escape sequence)."""
    text = one_line(str(value), _MAX_NAME) if value is not None else ""
    return text or fallback


@functools.lru_cache(maxsize=4096)  # bounded: a platform may send endless distinct names
def _cleaned_label(value: str) -> str:
    return sys.intern(one_line(value, _MAX_NAME))


def _label(value: object, fallback: str) -> str:
    """``_name`` for the texts every run repeats (scenario, personality and metric names, statuses, enum
    labels): cleaned once and interned, so 100,000 runs share a few strings and clean them a few times."""
    if type(value) is int:  # an id: nothing to clean
        return sys.intern(str(value))
    if not isinstance(value, str) or len(value) > _MAX_NAME:
        return sys.intern(_name(value, fallback))
    return _cleaned_label(value) or fallback


def normalise_status(value: object) -> str:
    return str(value).strip().lower() if value is not None else ""


def _status(value: object) -> str:
    """``normalise_status``, interned for the few values every run repeats."""
    if isinstance(value, str) and value in KNOWN_STATUSES:
        return sys.intern(value)
    return normalise_status(value)


def _int(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):  # not isdigit(): "²" is a digit to it
        return int(value.strip())
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _id_set(value: object) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(str(item) for item in value if isinstance(item, int | str))


def normalise_success_rate(
    raw: object, success: int | None, total: int | None
) -> tuple[float | None, str | None]:
    """The success rate as a fraction, and an anomaly text if the platform's numbers contradict each other.

    The retrieve endpoint sends percent (§A6). When counts exist they are preferred (§C-1); a value <= 1
    that matches the counts read as a fraction is accepted as a fraction.
    """
    rate = _float(raw)
    from_counts = success / total if success is not None and total else None
    if rate is None:
        return from_counts, None
    if not 0.0 <= rate <= 100.0:
        return from_counts, f"success_rate {rate!r} is outside 0-100"
    if from_counts is None:
        return rate / 100.0, None
    if abs(rate / 100.0 - from_counts) <= 0.005:
        return from_counts, None
    if rate <= 1.0 and abs(rate - from_counts) <= 0.005:
        return from_counts, None
    return from_counts, (
        f"success_rate {rate:g}% contradicts success_runs_count/total_runs_count = {success}/{total}"
    )


def _binary_passed(item: Mapping[str, Any]) -> bool | None:
    passed = item.get("passed")
    if isinstance(passed, bool):
        return passed
    normalized = _float(item.get("score_normalized"))
    if normalized is not None:
        return normalized != 0
    score = _float(item.get("score"))
    return None if score is None else score >= 5


_SHARED_KINDS = frozenset({MetricKind.BINARY, MetricKind.CONTINUOUS, MetricKind.ENUM})


@functools.lru_cache(maxsize=8192)
def _shared(value: MetricValue) -> MetricValue:
    """The first value equal to ``value`` (the cache keeps it): equal values become one object."""
    return value


# The item fields ``_metric`` reads when it drops the explanation: a memo key is made of these and their
# types (True == 1 == 1.0 to a dict, not to the mapping). A zero's sign is not kept apart: ``_shared``
# already makes 0.0 and -0.0 one value, whichever came first, and so does the memo.
_MEMO_FIELDS = ("eval_type", "type", "id", "name", "passed", "score_normalized", "score", "value", "enum")
_MEMO_SIZE = 8192
_memo: dict[tuple[object, ...], MetricValue | None] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def map_metric(item: object, *, keep_text: bool = True) -> MetricValue | None:
    """One metric item; ``keep_text=False`` drops its explanation (a passed run's: no report shows it).

    Values are immutable, and without an explanation most are alike (a passed binary metric, an enum
    label, a 0-5 score): those are shared, so 100,000 runs hold a few hundred of them instead of 400,000.
    Numeric values (latencies, ...) are nearly all different and are not. Without its explanation, an
    item maps to what an item with the same fields mapped to before (a bounded memo): at 1,000 results of
    100 runs, mapping 600,000 alike metric items was a tenth of the runner's CPU."""
    if keep_text or type(item) is not dict:
        return _mapped(item, keep_text)
    # The memo key: the fields read, and their types. Not memoised: an item with a field that is not a
    # plain JSON scalar, and a numeric one (latencies and the like, nearly all different: they would only
    # churn the memo). Written inline: it runs for every metric item of every passed run.
    values = tuple(map(item.get, _MEMO_FIELDS))
    types = tuple(map(type, values))
    if not _SCALARS.issuperset(types) or (values[0] or values[1]) == "numeric":
        return _mapped(item, keep_text)
    key = (types, values)
    try:
        return _memo[key]
    except KeyError:
        pass
    value = _mapped(item, keep_text)
    if value is not None and value.kind in _SHARED_KINDS:  # the kinds ``_shared`` already makes one
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        _memo[key] = value
    return value


def _mapped(item: object, keep_text: bool) -> MetricValue | None:
    value = _metric(item, keep_text)
    if value is None or value.explanation or value.kind not in _SHARED_KINDS:
        return value
    return _shared(value)


def _metric(item: object, keep_text: bool) -> MetricValue | None:
    if not isinstance(item, Mapping):
        return None
    kind_text = normalise_status(item.get("eval_type") or item.get("type"))
    metric_id = _int(item.get("id"))
    name = _label(item.get("name"), f"metric {metric_id}" if metric_id is not None else "unnamed metric")
    text = ""
    if keep_text:
        explanation = item.get("explanation")
        if isinstance(explanation, list):
            explanation = " ".join(str(part) for part in explanation)
        text = one_line(str(explanation or ""), _MAX_REASON)
    score = _float(item.get("score"))
    if score is None:
        score = _float(item.get("value"))
    mid = sys.intern(str(metric_id)) if metric_id is not None else None
    if kind_text.startswith("binary"):
        passed = _binary_passed(item)
        return MetricValue(
            mid, name, MetricKind.BINARY, None if passed is None else float(passed), passed, None, text
        )
    if kind_text == "continuous_qualitative":
        return MetricValue(mid, name, MetricKind.CONTINUOUS, score, None, None, text)
    if kind_text == "numeric":
        return MetricValue(mid, name, MetricKind.NUMERIC, score, None, None, text)
    if kind_text == "enum":
        label = item.get("enum")
        if label is None and isinstance(item.get("value"), str):
            label = item.get("value")
        label_text = None if label is None else str(label)
        if label_text is not None and len(label_text) <= _MAX_NAME:
            label_text = sys.intern(label_text)  # a few labels, repeated on every run
        return MetricValue(mid, name, MetricKind.ENUM, score, None, label_text, text)
    return MetricValue(mid, name, MetricKind.UNKNOWN, score, None, None, text)


def _duration(value: object) -> float | None:
    if not isinstance(value, str) or ":" not in value:
        return _float(value)
    parts = value.strip().split(":")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        return None
    total = 0.0
    for number in numbers:
        total = total * 60 + number
    return total


def _reasons(
    run: Mapping[str, Any], metrics: tuple[MetricValue, ...], eo_score: float | None
) -> tuple[str, ...]:
    reasons: list[str] = []
    error = run.get("error_message")
    if error:
        reasons.append("error: " + one_line(str(error), _MAX_REASON))
    if eo_score is not None and eo_score < 100:
        outcome = run.get("expected_outcome")
        misses: list[str] = []
        if isinstance(outcome, Mapping) and isinstance(outcome.get("explanation"), list):
            misses = [str(line) for line in outcome["explanation"] if not str(line).lstrip().startswith("✅")]
        detail = f": {one_line(' '.join(misses), _MAX_REASON)}" if misses else ""
        reasons.append(f"expected outcome not met (score {eo_score:g}/100){detail}")
    for metric in metrics:
        if metric.kind is MetricKind.BINARY and metric.passed is False:
            why = f": {metric.explanation}" if metric.explanation else ""
            reasons.append(f"metric '{metric.name}' failed{why}")
    return tuple(reasons)


def _run_id(run: Mapping[str, Any], key: str) -> str:
    raw = run.get("id")
    if type(raw) is int:  # the usual case, and nothing to clean (bool is not int here)
        return str(raw)
    return _name(raw if raw is not None else key, f"run {key}")


def map_run(
    run: Mapping[str, Any], key: str, infra_ids: frozenset[str], unconnected: frozenset[str]
) -> RunRecord:
    run_id = _run_id(run, key)
    scenario = run.get("scenario")
    scenario_id: object = scenario.get("id") if isinstance(scenario, Mapping) else scenario
    scenario_name = run.get("scenario_name") or (
        scenario.get("name") if isinstance(scenario, Mapping) else None
    )
    personality = run.get("personality_name") or (
        scenario.get("personality_name") if isinstance(scenario, Mapping) else None
    )
    status = _status(run.get("status"))
    success = run.get("success") if isinstance(run.get("success"), bool) else None
    infra: bool = (
        status in INFRA_STATUSES
        or run_id in infra_ids
        or (bool(run.get("error_message")) and run_id in unconnected and success is not True)
    )
    # Only a run that did not pass keeps its transcript and its metrics' explanations: the reports show
    # them for failed runs only, and 1,000 results of 100 runs would otherwise hold 100,000 of each.
    passed = success is True and not infra
    evaluation = run.get("evaluation")
    raw_metrics = evaluation.get("metrics") if isinstance(evaluation, Mapping) else None
    keep_text = not passed
    metrics = (
        tuple([m for item in raw_metrics if (m := map_metric(item, keep_text=keep_text))])
        if isinstance(raw_metrics, list)
        else ()
    )
    outcome = run.get("expected_outcome")
    eo_score = _float(outcome.get("score")) if isinstance(outcome, Mapping) else None
    transcript = None if passed else run.get("transcript")
    return RunRecord(
        run_id=run_id,
        scenario=_label(
            scenario_name, f"scenario {scenario_id}" if scenario_id is not None else "unknown scenario"
        ),
        scenario_id=None if scenario_id is None else _label(scenario_id, "?"),
        personality=_label(personality, "") or None,
        status=status,
        terminal=status in TERMINAL,
        success=success,
        infra_error=infra,
        reasons=_reasons(run, metrics, eo_score),
        metrics=metrics,
        expected_outcome_score=eo_score,
        duration_s=_duration(run.get("duration")),
        transcript=excerpt(transcript, 1200, 800) if isinstance(transcript, str) and transcript else None,
        url=None,
    )


class RunMemo:
    """The runs of one result that earlier polls mapped in a terminal status, by id, with what each was
    mapped from.

    A result is polled many times while its runs finish; a finished run rarely changes, so a poll reuses
    its record while the fields that decide its outcome (status, success, error, the result's
    infrastructure and not-connected lists) read the same, and maps only the runs that moved: at 1,000
    results of 100 runs, mapping every run of every poll was most of the runner's CPU. The poll that finds
    the result terminal maps every run afresh (``map_result`` ignores the memo then), so a verdict never
    rests on a reused record; reused ones only ever stand in a timed-out or interrupted gate's partial data.
    """

    def __init__(self) -> None:
        self._runs: dict[int, tuple[tuple[object, ...], RunRecord]] = {}

    def map(
        self, run: Mapping[str, Any], key: str, infra_ids: frozenset[str], unconnected: frozenset[str]
    ) -> RunRecord:
        raw = run.get("id")
        if type(raw) is not int:  # an id we would have to clean: not worth remembering
            return map_run(run, key, infra_ids, unconnected)
        text = str(raw)
        seen = (
            run.get("status"),
            run.get("success"),
            run.get("error_message"),
            text in infra_ids,
            text in unconnected,
        )
        found = self._runs.get(raw)
        if found is not None and found[0] == seen:
            return found[1]
        record = map_run(run, key, infra_ids, unconnected)
        if record.terminal:
            self._runs[raw] = (seen, record)
        return record


def map_result(data: object, *, url: str | None = None, memo: RunMemo | None = None) -> ResultSnapshot:
    """Map ``GET results/{id}/`` (or a start/list item) to a snapshot; ProtocolError if it is no result.

    ``memo``: the result's runs mapped at earlier polls, reused while the result is not terminal."""
    if not isinstance(data, Mapping):
        raise ProtocolError("the result is not a JSON object")
    result_id = _int(data.get("id"))
    if result_id is None:
        result_id = _int(data.get("result_id"))
    if result_id is None:
        raise ProtocolError("the result has no integer 'id'")
    anomalies: list[str] = []
    status = normalise_status(data.get("status"))
    if not status:
        anomalies.append("the result has no status")
    elif status not in KNOWN_STATUSES:
        anomalies.append(f"unknown result status {one_line(repr(status), 80)}")
    counters = {
        key: _int(data.get(key))
        for key in ("total_runs_count", "completed_runs_count", "success_runs_count", "failed_runs_count")
    }
    for key, value in counters.items():
        if key in data and data.get(key) is not None and value is None:
            anomalies.append(f"{key} {one_line(repr(data.get(key)), 80)} is not an integer")
    total, success = counters["total_runs_count"], counters["success_runs_count"]
    rate, rate_problem = normalise_success_rate(data.get("success_rate"), success, total)
    if rate_problem:
        anomalies.append(rate_problem)
    raw_runs = data.get("runs")
    items: list[tuple[str, Any]]
    if isinstance(raw_runs, Mapping):
        items = [(str(k), v) for k, v in raw_runs.items()]  # §C-11: use each value's id, not the key
    elif isinstance(raw_runs, list):
        items = [(str(i), v) for i, v in enumerate(raw_runs)]
    elif raw_runs is None and status in TERMINAL:
        items = []
        anomalies.append("the result has no 'runs'")
    else:
        items = []
    infra_ids = _id_set(data.get("failed_infrastructure_runs"))
    unconnected = _id_set(data.get("not_connected_runs"))
    terminal = status in TERMINAL
    mapper = memo.map if memo is not None and not terminal else map_run
    runs = tuple(mapper(v, k, infra_ids, unconnected) for k, v in items if isinstance(v, Mapping))
    if len(runs) != len(items):
        anomalies.append(f"{len(items) - len(runs)} run entries are not objects")
    return ResultSnapshot(
        result_id=str(result_id),
        status=status,
        terminal=terminal,
        succeeded=status == "completed",
        name=str(data["name"]) if data.get("name") is not None else None,
        url=url,
        total_runs=total,
        completed_runs=counters["completed_runs_count"],
        success_runs=success,
        failed_runs=counters["failed_runs_count"],
        success_rate=rate,
        runs=runs,
        anomalies=tuple(anomalies),
    )
