"""Cekura runs and test sets for write-back (api-contracts §A10, §A11): wire bodies in, typed records out.

- ``PATCH /test_framework/v1/runs-external/{id}/`` takes only the writable fields of §A10 (``RUN_WRITABLE``);
  ``check_run_update`` refuses any other field with a ``TypeError`` (a bug in regate, never user input).
  PATCH *replaces* a field: ``feedback`` written twice with the same text leaves the same text.
- ``POST /test_framework/test-sets/create_from_run/`` takes ``run_id`` (int) and ``metrics`` (required,
  items ``{metric, feedback?, expected_value?}``), ``project`` and ``name`` (optional), and "returns the
  created or existing test set" [SEED-0]: posting the same run twice yields one set.
- Raw JSON stays here: callers get ``RunReview`` and ``TestSetRef``; an answer that does not fit is a
  ``ProtocolError`` (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import ProtocolError
from runner.providers.cekura_map import normalise_status

__all__ = [
    "CREATE_FROM_RUN",
    "EVALUATION_STATUSES",
    "RUNS",
    "RUN_WRITABLE",
    "RunReview",
    "TestSetRef",
    "check_create_from_run",
    "check_run_update",
    "map_run_review",
    "map_runs",
    "map_test_set",
]

RUNS = "/test_framework/v1/runs-external/"
CREATE_FROM_RUN = "/test_framework/test-sets/create_from_run/"
EVALUATION_STATUSES = ("success", "failure", "reviewed_success", "reviewed_failure")
_BOOL_FIELDS = ("success", "is_reviewed")
_STR_FIELDS = ("feedback", "error_message", "scenario_instructions", "trace_id")
RUN_WRITABLE = frozenset({*_BOOL_FIELDS, *_STR_FIELDS, "evaluation_status"})
_CREATE_FIELDS = frozenset({"run_id", "metrics", "project", "name"})
_METRIC_FIELDS = frozenset({"metric", "feedback", "expected_value"})
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_ID = re.compile(r"[0-9]{1,30}")


@dataclass(frozen=True, slots=True)
class RunReview:
    """The review fields of one run, as the platform holds them now."""

    run_id: str
    status: str  # lowercase run status ("" when absent)
    feedback: str  # "" when absent or null
    evaluation_status: str | None
    is_reviewed: bool | None


@dataclass(frozen=True, slots=True)
class TestSetRef:
    """The test set a run was promoted into."""

    __test__ = False  # not a pytest test class

    test_set_id: str
    source_id: str | None  # the run id, for a set made from a run
    name: str
    metric_count: int


def _is_id(value: object) -> bool:
    """A positive id as the platform writes it: an int or a string of ASCII digits (bounded)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return False
    return _ID.fullmatch(str(value)) is not None


def check_run_update(fields: Mapping[str, object]) -> dict[str, object]:
    """The PATCH body for ``fields``: only writable fields, each of its contract type, at least one."""
    extra = sorted(set(fields) - RUN_WRITABLE)
    if extra:
        raise TypeError(
            f"not writable on a Cekura run: {', '.join(extra)} (writable: {sorted(RUN_WRITABLE)})"
        )
    if not fields:
        raise TypeError("a run update needs at least one field")
    for key, value in fields.items():
        if key in _BOOL_FIELDS and not isinstance(value, bool):
            raise TypeError(f"{key} must be a bool, got {type(value).__name__}")
        if key in _STR_FIELDS and not isinstance(value, str):
            raise TypeError(f"{key} must be a str, got {type(value).__name__}")
    status = fields.get("evaluation_status")
    if "evaluation_status" in fields and status not in EVALUATION_STATUSES:
        raise ValueError(f"evaluation_status must be one of {EVALUATION_STATUSES}, got {status!r}")
    trace = fields.get("trace_id")
    if isinstance(trace, str) and trace and not _TRACE_ID.fullmatch(trace):
        raise ValueError("trace_id must be 32 lowercase hex characters")
    return dict(fields)


def check_create_from_run(body: Mapping[str, object]) -> dict[str, object]:
    """The create_from_run body: integer ``run_id``, a non-empty ``metrics`` list of ``{metric, ...}``."""
    extra = sorted(set(body) - _CREATE_FIELDS)
    if extra:
        raise TypeError(f"not a create_from_run field: {', '.join(extra)}")
    run_id = body.get("run_id")
    if not isinstance(run_id, int) or isinstance(run_id, bool) or run_id < 1:
        raise TypeError("create_from_run needs an integer run_id")
    metrics = body.get("metrics")
    if not isinstance(metrics, list | tuple) or not metrics:
        raise TypeError("create_from_run needs a non-empty metrics list")
    for item in metrics:
        if not isinstance(item, Mapping) or set(item) - _METRIC_FIELDS or not _is_id(item.get("metric")):
            raise TypeError(f"a create_from_run metric is {{metric, feedback?, expected_value?}}: {item!r}")
    project = body.get("project")
    if project is not None and (not isinstance(project, int) or isinstance(project, bool)):
        raise TypeError("create_from_run project must be an integer")
    if "name" in body and not isinstance(body["name"], str):
        raise TypeError("create_from_run name must be a str")
    return {**body, "metrics": [dict(item) for item in metrics]}


def map_run_review(data: object) -> RunReview:
    """A Run object (§A4.2) -> its review fields."""
    if not isinstance(data, dict):
        raise ProtocolError("the run answer is not a JSON object")
    raw_id = data.get("id")
    if not _is_id(raw_id):
        raise ProtocolError("the run answer has no run id")
    feedback: Any = data.get("feedback")
    if feedback is None:
        feedback = ""
    if not isinstance(feedback, str):
        raise ProtocolError(f"run {raw_id}: feedback is not a string")
    evaluation = data.get("evaluation_status")
    reviewed = data.get("is_reviewed")
    return RunReview(
        run_id=str(raw_id),
        status=normalise_status(data.get("status")),
        feedback=feedback,
        evaluation_status=evaluation if isinstance(evaluation, str) else None,
        is_reviewed=reviewed if isinstance(reviewed, bool) else None,
    )


def map_runs(data: object) -> dict[str, RunReview]:
    """``runs-external/bulk/``: a bare array of Run objects (§A10); a page ``{"results": [...]}`` too."""
    items = data.get("results") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ProtocolError("the runs bulk answer is not a list of runs")
    reviews = (map_run_review(item) for item in items)
    return {review.run_id: review for review in reviews}


def map_test_set(data: object) -> TestSetRef:
    """A TestSetDetail (§A11) -> the set's id, source run and name."""
    if not isinstance(data, dict):
        raise ProtocolError("the test set answer is not a JSON object")
    raw_id = data.get("id")
    if not _is_id(raw_id):
        raise ProtocolError("the test set answer has no id")
    source = data.get("source_id")
    name = data.get("name")
    reviews = data.get("metric_reviews")
    return TestSetRef(
        test_set_id=str(raw_id),
        source_id=str(source) if _is_id(source) else None,
        name=name if isinstance(name, str) else "",
        metric_count=len(reviews) if isinstance(reviews, list) else 0,
    )
