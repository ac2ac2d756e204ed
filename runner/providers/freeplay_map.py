"""Freeplay JSON → the neutral model (api-contracts Part B, §C-13..§C-16): pure and defensive.

Test cases are read with the keys both SDKs use (``test_case_id``, ``variables``, ``custom_metadata``) and
the documented fallbacks (``id``, ``values``, ``metadata``). Statuses are compared lowercase with ``_`` and
``-`` treated alike; a missing status is not terminal (the deadline bounds the wait). Every criterion of
``summary_statistics`` is kept with its shape, so the gate can tell what it may compute from it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from runner.errors import ProtocolError
from runner.model import CaseKind, CriterionSummary, ResultSnapshot, TestCase
from runner.textclean import one_line

TERMINAL = frozenset({"complete", "completed", "failed", "error", "cancelled"})
SUCCEEDED = frozenset({"complete", "completed"})
SOURCES = (("auto_evaluation", "auto"), ("human_evaluation", "human"), ("client_evaluation", "client"))
_LABEL_LIMIT = 60


def normalise_status(value: object) -> str:
    return "" if value is None else str(value).strip().lower().replace("_", "-")


def _first(item: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if item.get(key) is not None:
            return item[key]
    return None


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _label(value: object, case_id: str) -> str:
    """A short, stable name for a test case: its first input value, else its id."""
    if isinstance(value, Mapping) and value:
        value = next(iter(value.values()))
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = one_line(text or "", _LABEL_LIMIT) if value not in (None, "", {}) else ""
    return text or f"case {case_id[:8]}"


def _case(item: object, kind: CaseKind, include_outputs: bool) -> TestCase:
    if not isinstance(item, Mapping):
        raise ProtocolError("a test case is not a JSON object")
    case_id = _first(item, "test_case_id", "id")
    if not isinstance(case_id, str) or not case_id:
        raise ProtocolError("a test case has no 'test_case_id'")
    if not case_id.isprintable() or _unencodable(case_id):  # it goes back to the platform as is
        raise ProtocolError(f"test case id {one_line(repr(case_id), 80)} is not valid text")
    metadata = _first(item, "custom_metadata", "metadata") or {}
    payload: dict[str, Any] = {"test_case_id": case_id, "kind": kind.value}
    if kind is CaseKind.COMPLETION:
        variables = _first(item, "variables", "values") or {}
        if not isinstance(variables, Mapping):
            raise ProtocolError(f"test case {case_id}: 'variables' is not an object")
        payload["variables"] = variables
        payload["history"] = item.get("history") or []
        inputs: Any = variables
    else:
        inputs = item.get("input")
        payload["input"] = inputs
    if include_outputs and item.get("output") is not None:
        payload["output"] = item["output"]
    payload["metadata"] = metadata
    return TestCase(
        case_id=case_id,
        kind=kind,
        label=_label(inputs, case_id),
        # ASCII-escaped: always encodable (a lone surrogate from the platform stays a valid JSON escape)
        target_input=json.dumps(payload, ensure_ascii=True, sort_keys=True),
        inputs_json=json.dumps(inputs, ensure_ascii=True, sort_keys=True),
    )


def map_cases(
    data: Mapping[str, Any], *, include_outputs: bool, keys: tuple[str, str]
) -> tuple[TestCase, ...]:
    """Test cases from a create-test-run answer (``keys`` = the completion and trace list keys)."""
    completion_key, trace_key = keys
    completions = data.get(completion_key) or []
    traces = data.get(trace_key) or []
    if not isinstance(completions, list) or not isinstance(traces, list):
        raise ProtocolError("the test cases are not lists")
    if completions and traces:
        raise ProtocolError("the test run holds both completion and trace test cases")
    kind = CaseKind.TRACE if traces else CaseKind.COMPLETION
    return tuple(_case(item, kind, include_outputs) for item in (traces or completions))


def map_page_cases(items: object, *, include_outputs: bool) -> tuple[TestCase, ...]:
    """Suite test cases (B5.2): each item says its own ``test_case_type``."""
    if not isinstance(items, list):
        raise ProtocolError("the suite test-case page has no 'data' list")
    cases = []
    for item in items:
        kind_text = item.get("test_case_type") if isinstance(item, Mapping) else None
        kind = CaseKind.TRACE if kind_text == "trace" else CaseKind.COMPLETION
        cases.append(_case(item, kind, include_outputs))
    return tuple(cases)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _criterion(source: str, name: str, value: object) -> CriterionSummary | None:
    """One criterion in whichever of the three shapes the platform used (§C-13); None if none fits."""
    scalar = _number(value)
    if scalar is not None:
        return CriterionSummary(source, name, scalar=scalar)
    if not isinstance(value, Mapping):
        return None
    if "pass" in value or "fail" in value:
        passed, failed = value.get("pass"), value.get("fail")
        if not (_count(passed) and _count(failed)):
            return None
        assert isinstance(passed, int) and isinstance(failed, int)  # noqa: S101 - checked just above
        return CriterionSummary(
            source, name, passed=passed, failed=failed, average=_number(value.get("average_score"))
        )
    counts = list(value.items())
    if counts and all(_count(n) for _, n in counts):
        return CriterionSummary(source, name, histogram=tuple(sorted((str(k), int(n)) for k, n in counts)))
    return None


def map_criteria(stats: object) -> tuple[tuple[CriterionSummary, ...], tuple[str, ...]]:
    """Criteria of ``summary_statistics`` and anomalies for values that fit no known shape."""
    if not isinstance(stats, Mapping):
        return (), ()
    criteria: list[CriterionSummary] = []
    anomalies: list[str] = []
    for key, source in SOURCES:
        group = stats.get(key)
        if group is None:
            continue
        if not isinstance(group, Mapping):
            anomalies.append(f"summary_statistics.{key} is not an object")
            continue
        for name, value in sorted(group.items()):
            criterion = _criterion(source, str(name), value)
            if criterion is None:
                anomalies.append(f"summary_statistics.{key}.{name} has an unknown shape")
            else:
                criteria.append(criterion)
    return tuple(criteria), tuple(anomalies)


def _evaluated_cases(criteria: tuple[CriterionSummary, ...]) -> int | None:
    """How many cases a server-side suite run evaluated, from its evaluation counts (its answers give no
    count of their own): the largest count of any criterion, None when no criterion has counts."""
    counts = [
        (c.passed or 0) + (c.failed or 0) if c.passed is not None else sum(n for _, n in c.histogram)
        for c in criteria
        if c.passed is not None or c.histogram
    ]
    return max(counts) if counts else None


def map_test_run(data: object) -> ResultSnapshot:
    """``GET test-runs/id/{id}`` (B3)."""
    if not isinstance(data, Mapping):
        raise ProtocolError("the test run is not a JSON object")
    run_id = _first(data, "id", "test_run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ProtocolError("the test run has no 'id'")
    status = normalise_status(data.get("status"))
    terminal = status in TERMINAL
    criteria, anomalies = map_criteria(data.get("summary_statistics"))
    if terminal and not isinstance(data.get("summary_statistics"), Mapping):
        anomalies += ("the finished test run has no summary_statistics",)
    return ResultSnapshot(
        result_id=run_id,
        status=status or "unknown",
        terminal=terminal,
        succeeded=status in SUCCEEDED,
        name=str(data["name"]) if data.get("name") is not None else None,
        criteria=criteria,
        anomalies=anomalies,
    )


def map_suite_results(data: object, *, total: int | None) -> ResultSnapshot:
    """``GET test-suites/{suite}/runs/{run}/results`` (B5.4): the suite's own ``passed`` verdict."""
    if not isinstance(data, Mapping):
        raise ProtocolError("the suite results are not a JSON object")
    run_id = data.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ProtocolError("the suite results have no 'run_id'")
    status = normalise_status(data.get("status")) or "in-progress"  # the SDK's default for a null status
    terminal = status in TERMINAL
    passed = data.get("passed")
    criteria, anomalies = map_criteria(data.get("summary_statistics"))
    if terminal and not isinstance(passed, bool):
        anomalies += ("the finished suite run has no boolean 'passed'",)
    if total is None:
        total = _evaluated_cases(criteria)
    return ResultSnapshot(
        result_id=run_id,
        status=status,
        terminal=terminal,
        succeeded=status in SUCCEEDED,
        total_runs=total,
        criteria=criteria,
        anomalies=anomalies,
        verdict_expected=True,
        verdict_passed=passed if isinstance(passed, bool) else None,
    )
