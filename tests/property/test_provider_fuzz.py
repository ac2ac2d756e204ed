"""Platform answers of any shape: the parsers return their model or raise ``ProtocolError``, nothing else.

Whatever a broken or malicious platform sends -- JSON of any shape, wrong types everywhere, deep nesting,
huge strings, NaN, lone surrogates -- becomes a snapshot (whose anomalies make the gate inconclusive), a
tuple of test cases or criteria, or a ``ProtocolError`` (fail closed). Any other exception would reach the
orchestrator as an internal error (exit 4) instead of an incomplete gate (exit 3), or crash a run.

Two families of input:

- *arbitrary JSON*: any value, with object keys drawn from the names the parsers look for, so that the
  interesting branches are reached rather than every key being ignored;
- *structured fuzz*: a well-formed Cekura result or Freeplay test run whose fields are then perturbed one by
  one -- dropped, given another type, counters written as strings, statuses in random case -- which is what
  real platform drift looks like.

The bugs these properties found are pinned by the named regression tests at the end (absurdly deep
bodies, digit strings int() rejects, lone surrogates in test cases).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runner.errors import ProtocolError
from runner.model import CaseKind, CriterionSummary, MetricValue, ResultSnapshot, TestCase
from runner.providers import cekura_map, freeplay_map
from runner.providers.cekura_map import map_metric, map_result
from runner.providers.freeplay_map import (
    map_cases,
    map_criteria,
    map_page_cases,
    map_suite_results,
    map_test_run,
)
from runner.providers.http import JsonApi
from tests.property.strategies import (
    PROFILE,
    as_received,
    deep_json,
    hostile_text,
    json_scalars,
    json_values,
    nested,
    result_json,
)

CEKURA_KEYS = (
    "id", "result_id", "status", "name", "total_runs_count", "completed_runs_count", "success_runs_count",
    "failed_runs_count", "success_rate", "runs", "failed_infrastructure_runs", "not_connected_runs",
    "scenario", "scenario_name", "personality_name", "success", "evaluation", "metrics", "expected_outcome",
    "score", "explanation", "error_message", "duration", "transcript", "eval_type", "type", "passed",
    "score_normalized", "value", "enum",
)  # fmt: skip
FREEPLAY_KEYS = (
    "id", "test_run_id", "run_id", "status", "name", "summary_statistics", "auto_evaluation",
    "human_evaluation", "client_evaluation", "pass", "fail", "average_score", "passed", "test_cases",
    "trace_test_cases", "test_case_id", "variables", "values", "custom_metadata", "metadata", "history",
    "input", "output", "test_case_type", "data",
)  # fmt: skip
FREEPLAY_CASE_KEYS = ("test_cases", "trace_test_cases")

cekura_json = json_values(st.one_of(st.sampled_from(CEKURA_KEYS), hostile_text(10)))
freeplay_json = json_values(st.one_of(st.sampled_from(FREEPLAY_KEYS), hostile_text(10)))

# Bounds the parsers promise (runner/providers/cekura_map.py): a transcript excerpt keeps 1200 + 800
# characters plus the "omitted" marker line; explanations are one line of at most 300 characters.
TRANSCRIPT_LIMIT = 1200 + 800 + 60
EXPLANATION_LIMIT = 300
CASE_LABEL_LIMIT = 60


def outcome_of(parse: Callable[[], object]) -> object:
    """Run a parser: its result, or the ProtocolError it raised. Any other exception fails the test."""
    try:
        return parse()
    except ProtocolError as exc:
        assert str(exc), "a ProtocolError must say what was wrong"
        return exc


# --- invariants of what the parsers return --------------------------------------------------------------


def check_metric(metric: MetricValue) -> None:
    assert isinstance(metric.name, str) and metric.name
    assert metric.score is None or math.isfinite(metric.score)
    assert len(metric.explanation) <= EXPLANATION_LIMIT
    assert "\n" not in metric.explanation


def check_snapshot(snapshot: ResultSnapshot, terminal_statuses: frozenset[str]) -> None:
    assert isinstance(snapshot.result_id, str) and snapshot.result_id
    assert snapshot.terminal == (snapshot.status in terminal_statuses)
    assert not snapshot.succeeded or snapshot.terminal, "only a finished result can have succeeded"
    assert snapshot.success_rate is None or math.isfinite(snapshot.success_rate)
    for anomaly in snapshot.anomalies:
        assert isinstance(anomaly, str) and anomaly
    for run in snapshot.runs:
        assert isinstance(run.run_id, str)
        assert run.transcript is None or len(run.transcript) <= TRANSCRIPT_LIMIT
        for metric in run.metrics:
            check_metric(metric)
    for criterion in snapshot.criteria:
        check_criterion(criterion)


def check_criterion(criterion: CriterionSummary) -> None:
    assert criterion.source in ("auto", "human", "client")
    for number in (criterion.average, criterion.scalar):
        assert number is None or math.isfinite(number)
    for count in (criterion.passed, criterion.failed, *(n for _, n in criterion.histogram)):
        assert count is None or count >= 0


def check_cases(cases: tuple[TestCase, ...]) -> None:
    for case in cases:
        assert case.case_id and isinstance(case.kind, CaseKind)
        assert 0 < len(case.label) <= CASE_LABEL_LIMIT
        payload = json.loads(case.target_input)
        assert payload["test_case_id"] == case.case_id and payload["kind"] == case.kind.value
        json.loads(case.inputs_json)


# --- arbitrary JSON -------------------------------------------------------------------------------------


@settings(PROFILE, max_examples=150)
@given(data=st.one_of(cekura_json, deep_json()), url=st.none() | hostile_text())
@example(data={"id": 1, "status": "completed", "runs": None}, url=None)
@example(data={"id": 1, "runs": {"7": {"id": None}, "8": [1]}}, url=None)
@example(data={"id": "12", "success_rate": float("nan"), "total_runs_count": "x"}, url=None)
def test_cekura_result_of_any_shape_maps_or_is_a_protocol_error(data: Any, url: str | None) -> None:
    """``map_result`` of any JSON value is a snapshot (with anomalies for what it could not read) or a
    ProtocolError -- never another exception."""
    outcome = outcome_of(lambda: map_result(as_received(data), url=url))
    if isinstance(outcome, ResultSnapshot):
        check_snapshot(outcome, cekura_map.TERMINAL)


@settings(PROFILE, max_examples=100)
@given(item=st.one_of(cekura_json, deep_json()))
@example(item={"type": "binary", "passed": "yes", "score": float("inf")})
@example(item={"eval_type": "enum", "enum": {"nested": [1]}, "explanation": [None, [1], {"a": 2}]})
def test_cekura_metric_of_any_shape_maps_or_is_skipped(item: Any) -> None:
    """``map_metric`` of any JSON value is a metric (UNKNOWN kind when the type is not recognised) or None,
    with a finite score or none, and an explanation of at most one bounded line."""
    metric = map_metric(as_received(item))
    if metric is not None:
        check_metric(metric)


@settings(PROFILE, max_examples=100)
@given(data=st.one_of(freeplay_json, deep_json()))
@example(data={"id": "r", "status": "complete", "summary_statistics": {"auto_evaluation": []}})
def test_freeplay_test_run_of_any_shape_maps_or_is_a_protocol_error(data: Any) -> None:
    """``map_test_run`` (B3) of any JSON value: a snapshot or a ProtocolError."""
    outcome = outcome_of(lambda: map_test_run(as_received(data)))
    if isinstance(outcome, ResultSnapshot):
        check_snapshot(outcome, freeplay_map.TERMINAL)


@settings(PROFILE, max_examples=100)
@given(data=st.one_of(freeplay_json, deep_json()), total=st.none() | st.integers(min_value=0))
def test_freeplay_suite_results_of_any_shape_map_or_are_a_protocol_error(
    data: Any, total: int | None
) -> None:
    """``map_suite_results`` (B5.4): a snapshot expecting the platform's verdict, or a ProtocolError; the
    verdict is only ever a real boolean the platform sent."""
    outcome = outcome_of(lambda: map_suite_results(as_received(data), total=total))
    if isinstance(outcome, ResultSnapshot):
        check_snapshot(outcome, freeplay_map.TERMINAL)
        assert outcome.verdict_expected
        assert outcome.verdict_passed is None or outcome.verdict_passed is data.get("passed")


@settings(PROFILE, max_examples=100)
@given(
    data=st.dictionaries(st.sampled_from(FREEPLAY_KEYS), st.one_of(freeplay_json, deep_json())),
    include_outputs=st.booleans(),
)
@example(data={"test_cases": [{"test_case_id": "a", "variables": None}]}, include_outputs=True)
@example(data={"trace_test_cases": [{"id": "t", "input": {"q": [[[]]]}, "output": 1}]}, include_outputs=True)
def test_freeplay_cases_of_any_shape_map_or_are_a_protocol_error(data: Any, include_outputs: bool) -> None:
    """``map_cases`` of any JSON object (the provider checks that the answer is an object): test cases whose
    target input is the JSON object of the protocol and whose label is short, or a ProtocolError."""
    outcome = outcome_of(
        lambda: map_cases(as_received(data), include_outputs=include_outputs, keys=FREEPLAY_CASE_KEYS)
    )
    if isinstance(outcome, tuple):
        check_cases(outcome)


@settings(PROFILE, max_examples=60)
@given(items=st.one_of(freeplay_json, st.lists(freeplay_json, max_size=4)), include_outputs=st.booleans())
def test_freeplay_page_cases_of_any_shape_map_or_are_a_protocol_error(
    items: Any, include_outputs: bool
) -> None:
    """``map_page_cases`` (a suite's test-case page, B5.2): test cases or a ProtocolError."""
    outcome = outcome_of(lambda: map_page_cases(as_received(items), include_outputs=include_outputs))
    if isinstance(outcome, tuple):
        check_cases(outcome)


@settings(PROFILE, max_examples=100)
@given(stats=st.one_of(freeplay_json, deep_json()))
@example(stats={"auto_evaluation": {"a": {"pass": -1, "fail": 2}, "b": {"yes": True}, "c": float("nan")}})
def test_freeplay_criteria_of_any_shape_are_read_or_flagged(stats: Any) -> None:
    """``map_criteria`` never raises: each criterion is read in one of the three shapes or flagged as an
    anomaly; counts are never negative and numbers never NaN or infinite."""
    criteria, anomalies = map_criteria(as_received(stats))
    for criterion in criteria:
        check_criterion(criterion)
    assert all(isinstance(a, str) and a for a in anomalies)


# --- structured fuzz: well-formed answers, perturbed ----------------------------------------------------


def counter_as_text(value: int) -> st.SearchStrategy[str]:
    """How platforms spell a counter when the OpenAPI types it as a string (ASCII digits only: other
    digit characters are pinned by test_cekura_counters_that_int_rejects_are_anomalies)."""
    return st.sampled_from((str(value), f" {value} ", f"{value}.0", f"+{value}", f"{value}%", ""))


def status_spelling(status: str) -> st.SearchStrategy[str]:
    return st.builds(
        lambda flips, pad: (
            pad + "".join(c.upper() if f else c for c, f in zip(status, flips, strict=False)) + pad
        ),
        st.lists(st.booleans(), min_size=len(status), max_size=len(status)),
        st.sampled_from(("", " ", "\t", "\n")),
    )


def perturb(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """Walk ``value`` and, key by key, keep, drop, retype, respell or recurse: platform drift."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            action = draw(st.sampled_from(("keep", "keep", "keep", "recurse", "drop", "retype", "respell")))
            if action == "drop":
                continue
            if action == "retype":
                item = draw(st.one_of(json_scalars, st.lists(json_scalars, max_size=2), st.just({})))
            elif action == "respell":
                item = draw(respell(item))
            elif action == "recurse" and depth < 4:
                item = perturb(draw, item, depth + 1)
            out[key] = item
        return out
    if isinstance(value, list) and depth < 4:
        return [perturb(draw, item, depth + 1) for item in value]
    return value


def respell(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool):
        return st.sampled_from((str(value).lower(), int(value), None))
    if isinstance(value, int):
        return counter_as_text(value)
    if isinstance(value, float):
        return st.sampled_from((str(value), int(value), float("nan"), -value))
    if isinstance(value, str) and value.isascii() and value.replace("_", "").isalpha():
        return status_spelling(value)
    if isinstance(value, dict):
        return st.just(list(value.values()))
    if isinstance(value, list):
        return st.just({str(i): item for i, item in enumerate(value)})
    return st.just(value)


@st.composite
def perturbed_result(draw: st.DrawFn) -> dict[str, Any]:
    perturbed: dict[str, Any] = perturb(draw, draw(result_json()))
    return perturbed


@settings(PROFILE, max_examples=60)
@given(data=perturbed_result())
def test_perturbed_cekura_results_map_or_are_a_protocol_error(data: dict[str, Any]) -> None:
    """A real result shape with random fields dropped, retyped or respelled still maps (anomalies mark what
    could not be read) or is a ProtocolError; transcripts stay bounded excerpts."""
    outcome = outcome_of(lambda: map_result(as_received(data)))
    if isinstance(outcome, ResultSnapshot):
        check_snapshot(outcome, cekura_map.TERMINAL)


@settings(PROFILE, max_examples=60)
@given(data=result_json())
def test_well_formed_cekura_results_have_no_anomalies(data: dict[str, Any]) -> None:
    """The unperturbed shape is read completely: every run kept, counters as sent, no anomaly -- so the
    perturbation test above is not passing merely because everything is rejected."""
    snapshot = map_result(as_received(data))
    check_snapshot(snapshot, cekura_map.TERMINAL)
    assert snapshot.anomalies == ()
    assert len(snapshot.runs) == len(data["runs"])
    assert snapshot.total_runs == len(data["runs"])


def test_run_status_spelling_is_normalised() -> None:
    """Statuses are compared case- and whitespace-insensitively, so " COMPLETED\\n" is terminal."""
    snapshot = map_result({"id": 1, "status": " COMPLETED\n", "runs": [{"id": 2, "status": "Completed "}]})
    assert snapshot.status == "completed" and snapshot.terminal
    assert snapshot.runs[0].status == "completed" and snapshot.runs[0].terminal


@st.composite
def perturbed_test_run(draw: st.DrawFn) -> dict[str, Any]:
    criterion = st.one_of(
        st.fixed_dictionaries(
            {"pass": st.integers(0, 50), "fail": st.integers(0, 50), "average_score": st.floats(0, 1)}
        ),
        st.dictionaries(st.sampled_from(("yes", "no", "maybe")), st.integers(0, 20), min_size=1),
        st.floats(0, 5),
    )
    stats = st.fixed_dictionaries(
        {
            source: st.dictionaries(hostile_text(15), criterion, max_size=3)
            for source, _ in freeplay_map.SOURCES
        }
    )
    run = draw(
        st.fixed_dictionaries(
            {
                "id": st.uuids().map(str),
                "run_id": st.uuids().map(str),
                "status": st.sampled_from(("in_progress", "complete", "completed", "failed", "cancelled")),
                "name": hostile_text(),
                "passed": st.booleans(),
                "summary_statistics": stats,
            }
        )
    )
    perturbed: dict[str, Any] = perturb(draw, run)
    return perturbed


@settings(PROFILE, max_examples=100)
@given(data=perturbed_test_run(), total=st.none() | st.integers(0, 100))
def test_perturbed_freeplay_answers_map_or_are_a_protocol_error(
    data: dict[str, Any], total: int | None
) -> None:
    """A Freeplay test run or suite result with perturbed fields: a snapshot or a ProtocolError."""
    received = as_received(data)
    for outcome in (
        outcome_of(lambda: map_test_run(received)),
        outcome_of(lambda: map_suite_results(received, total=total)),
    ):
        if isinstance(outcome, ResultSnapshot):
            check_snapshot(outcome, freeplay_map.TERMINAL)


# --- the transport: bodies that are not (usable) JSON --------------------------------------------------


def call_with_body(body: bytes) -> object:
    """``JsonApi.call`` answering 200 with ``body`` (through httpx's MockTransport): its result or error."""

    async def main() -> object:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
        async with httpx.AsyncClient(transport=transport, base_url="https://platform.test") as client:
            api = JsonApi(client, headers={}, secret="sk-secret", describe=str, auth_hint="")
            try:
                return await api.call("GET", "/results/1")
            except ProtocolError as exc:
                return exc

    return anyio.run(main)


@settings(PROFILE, max_examples=40)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda s: s.encode("utf-8")),
        cekura_json.map(lambda v: json.dumps(v).encode("utf-8")),
        st.integers(1, 4000).map(lambda n: b'{"id": 1' + b"0" * n + b"}"),
        st.integers(1, 500).map(lambda n: b"[" * n + b"]" * n),
    )
)
@example(body=b'{"id": 1' + b"0" * 5000 + b"}")  # more digits than int() accepts: not JSON to Python
@example(body=b"\xef\xbb\xbf{}")
@example(body=b'{"a": NaN, "b": -Infinity}')
def test_any_2xx_body_is_json_or_a_protocol_error(body: bytes) -> None:
    """A 2xx body is decoded JSON or a ProtocolError ("not JSON"): invalid UTF-8, truncation, integers too
    long for Python, nesting up to the parser's limit."""
    outcome = call_with_body(body)
    if not body.strip():
        assert outcome == {}, "an empty body is an empty object"
    elif not isinstance(outcome, ProtocolError):
        assert isinstance(outcome, dict | list | str | int | float | None)


# --- known bugs -----------------------------------------------------------------------------------------


def test_a_deeply_nested_body_is_a_protocol_error() -> None:
    """An answer nested deeper than the JSON parser allows is a ProtocolError, like any other unreadable
    body (a platform bug or an attack must not turn into exit 4)."""
    assert isinstance(call_with_body(b"[" * 100_000), ProtocolError)


@pytest.mark.parametrize(
    "parse",
    [
        pytest.param(lambda: map_result({"id": "²"}), id="id-superscript-two"),
        pytest.param(lambda: map_result({"id": "--5"}), id="id-double-minus"),
        pytest.param(lambda: map_result({"id": "1" * 4301}), id="id-4301-digits"),
        pytest.param(lambda: map_result({"id": 1, "total_runs_count": "①"}), id="counter-circled-one"),
        pytest.param(lambda: map_metric({"id": "²", "type": "binary"}), id="metric-id-superscript-two"),
    ],
)
def test_cekura_counters_that_int_rejects_are_anomalies(parse: Callable[[], object]) -> None:
    """A digit string Python's int() cannot read is "not an integer" (an anomaly, or a ProtocolError for
    the id), never a ValueError."""
    outcome_of(parse)


def test_a_test_case_id_that_is_not_text_is_a_protocol_error() -> None:
    """The id goes back to the platform unchanged: one that cannot be encoded is refused, not mangled."""
    with pytest.raises(ProtocolError, match="is not valid text"):
        map_cases(
            {"test_cases": [{"test_case_id": "\ud800"}]}, include_outputs=False, keys=FREEPLAY_CASE_KEYS
        )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"test_cases": [{"test_case_id": "a", "variables": {"q": "\ud800"}}]}, id="variables"),
        pytest.param({"trace_test_cases": [{"test_case_id": "a", "input": "\udfff"}]}, id="trace-input"),
    ],
)
def test_freeplay_cases_with_lone_surrogates_can_be_sent_to_the_target(data: dict[str, Any]) -> None:
    """What the target gets on stdin (and what is recorded back) must be encodable as UTF-8."""
    for case in map_cases(data, include_outputs=False, keys=FREEPLAY_CASE_KEYS):
        case.target_input.encode("utf-8")
        case.inputs_json.encode("utf-8")
        case.case_id.encode("utf-8")


def test_deep_json_leaf_helper_builds_the_requested_depth() -> None:
    """The ``nested`` helper the strategies use really nests (a flat value would test nothing)."""
    value = nested(3, "x")
    assert value == [[["x"]]]
    assert nested(2, 0, as_dict=True) == {"a": {"a": 0}}
