"""The Freeplay adapter's wire contract (api-contracts Part B), with fakes at the transport.

Pins: Bearer auth and paths without trailing slash under /api/v2; test cases read with the SDK keys and
the documented fallbacks; both case kinds recorded with test_run_info and idempotent client ids; the
three summary_statistics shapes; hyphenated statuses; create POSTs never retryable once ambiguous.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runner.errors import AuthError, ProtocolError, RequestRejected, StartOutcomeUnknown, TransientError
from runner.model import CaseKind, CriterionSummary, TargetResult
from runner.providers.base import StartedResult
from runner.providers.freeplay import FreeplayProvider, derived_id
from runner.providers.freeplay_map import map_cases, map_criteria, map_suite_results, map_test_run
from runner.settings import CommandTarget, FreeplayGate, FreeplayMode, Secret
from runner.thresholds import Comparison, Op, Thresholds

KEY = "fp-secret-key-777"
PROJECT = "7f0c2d3e-1111-4222-8333-944455556666"


def gate(mode: FreeplayMode = FreeplayMode.DATASET, **kw: Any) -> FreeplayGate:
    base: dict[str, Any] = {
        "name": "faq", "project": PROJECT, "mode": mode, "line": 1, "timeout": 60.0,
        "thresholds": Thresholds(success_rate=Comparison(Op.GE, 1.0, True, ">= 100%")),
        "dataset": "support-faq" if mode is FreeplayMode.DATASET else None,
        "suite": None if mode is FreeplayMode.DATASET else "suite-1",
        "target": CommandTarget(("true",), 5.0), "test_run_name": "regate faq abc1234",
    }  # fmt: skip
    base.update(kw)
    return FreeplayGate(**base)


Handler = Callable[[httpx.Request], httpx.Response]


def provider(handler: Handler) -> FreeplayProvider:
    client = httpx.AsyncClient(base_url="https://app.freeplay.test", transport=httpx.MockTransport(handler))
    return FreeplayProvider(client, Secret(KEY))


CREATED = {
    "test_run_id": "run-1",
    "test_run_name": "x",
    "test_cases": [
        {"test_case_id": "c1", "variables": {"question": "Where is my order?"}, "history": [],
         "custom_metadata": {"tier": "gold"}, "output": "stored", "test_case_type": "completion"},
        {"id": "c2", "values": {"question": "Refunds?"}, "metadata": None},  # the documented fallbacks
    ],
    "trace_test_cases": [],
}  # fmt: skip


def test_test_cases_are_read_with_sdk_keys_and_documented_fallbacks() -> None:
    cases = map_cases(CREATED, include_outputs=True, keys=("test_cases", "trace_test_cases"))
    assert [(c.case_id, c.kind, c.label) for c in cases] == [
        ("c1", CaseKind.COMPLETION, "Where is my order?"),
        ("c2", CaseKind.COMPLETION, "Refunds?"),
    ]
    first = json.loads(cases[0].target_input)
    assert first == {
        "test_case_id": "c1", "kind": "completion", "variables": {"question": "Where is my order?"},
        "history": [], "output": "stored", "metadata": {"tier": "gold"},
    }  # fmt: skip
    assert "output" not in json.loads(
        map_cases(CREATED, include_outputs=False, keys=("test_cases", "x"))[0].target_input
    )


def test_a_run_with_both_case_kinds_is_a_protocol_error() -> None:
    both = {**CREATED, "trace_test_cases": [{"test_case_id": "t1", "input": "hi"}]}
    with pytest.raises(ProtocolError, match="both"):
        map_cases(both, include_outputs=False, keys=("test_cases", "trace_test_cases"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"pass": 8, "fail": 2, "average_score": 0.85},
                     CriterionSummary("auto", "A", passed=8, failed=2, average=0.85), id="a-pass-fail-avg"),
        pytest.param({"no": 1, "yes": 7}, CriterionSummary("auto", "A", histogram=(("no", 1), ("yes", 7))),
                     id="b-label-histogram"),
        pytest.param({"4": 2, "5": 6}, CriterionSummary("auto", "A", histogram=(("4", 2), ("5", 6))),
                     id="b-numeric-histogram"),
        pytest.param(0.95, CriterionSummary("auto", "A", scalar=0.95), id="c-scalar"),
    ],
)  # fmt: skip
def test_all_three_summary_shapes_are_kept(value: object, expected: CriterionSummary) -> None:
    """§C-13: pass/fail/average, a label histogram, or a scalar, each kept as given."""
    criteria, anomalies = map_criteria({"auto_evaluation": {"A": value}, "human_evaluation": {}})
    assert (criteria, anomalies) == ((expected,), ())


def test_an_unknown_shape_is_an_anomaly_never_dropped_silently() -> None:
    criteria, anomalies = map_criteria({"auto_evaluation": {"A": "great"}, "client_evaluation": []})
    assert criteria == ()
    assert anomalies == (
        "summary_statistics.auto_evaluation.A has an unknown shape",
        "summary_statistics.client_evaluation is not an object",
    )


@pytest.mark.parametrize(
    ("status", "terminal", "succeeded"),
    [
        pytest.param("complete", True, True, id="complete"),
        pytest.param("in-progress", False, False, id="hyphenated-in-progress"),
        pytest.param("IN_PROGRESS", False, False, id="underscore-and-case"),
        pytest.param("failed", True, False, id="failed"),
        pytest.param(None, False, False, id="missing-status-is-not-terminal"),
    ],
)
def test_test_run_statuses(status: str | None, terminal: bool, succeeded: bool) -> None:
    snapshot = map_test_run({"id": "run-1", "status": status, "summary_statistics": {}})
    assert (snapshot.terminal, snapshot.succeeded) == (terminal, succeeded)


def test_a_suite_result_carries_its_own_verdict() -> None:
    done = map_suite_results({"run_id": "r", "status": "complete", "passed": False}, total=5)
    assert (done.verdict_expected, done.verdict_passed, done.total_runs, done.anomalies) == (
        True,
        False,
        5,
        (),
    )
    pending = map_suite_results({"run_id": "r", "status": None, "passed": None}, total=None)
    assert pending.status == "in-progress" and not pending.terminal
    hollow = map_suite_results({"run_id": "r", "status": "complete", "passed": None}, total=None)
    assert hollow.anomalies == ("the finished suite run has no boolean 'passed'",)


@pytest.mark.anyio
async def test_create_sends_the_dataset_body_with_bearer_auth_and_no_trailing_slash() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=CREATED)

    started = await provider(handler).start(gate(target_evaluation_ids=("e1",), description="d"), "ref9")
    request = seen[0]
    assert request.url.path == f"/api/v2/projects/{PROJECT}/test-runs"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(request.content) == {
        "dataset_name": "support-faq", "include_outputs": False,
        "test_run_name": "regate faq abc1234 [regate ref9]",
        "test_run_description": "d", "target_evaluation_ids": ["e1"],
    }  # fmt: skip
    assert (started.result_id, started.run_count, len(started.cases)) == ("run-1", 2, 2)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("handler", "error"),
    [
        pytest.param(lambda r: httpx.Response(502), StartOutcomeUnknown, id="5xx-create-is-ambiguous"),
        pytest.param(lambda r: httpx.Response(429), TransientError, id="429-was-not-processed"),
        pytest.param(lambda r: httpx.Response(401, json={"message": f"bad key {KEY}"}), AuthError, id="401"),
        pytest.param(lambda r: httpx.Response(404, json={"message": "Project not found"}), RequestRejected,
                     id="404-message"),
        pytest.param(lambda r: httpx.Response(201, json={"name": "x"}), StartOutcomeUnknown,
                     id="no-run-id-is-unknown"),
    ],
)  # fmt: skip
async def test_create_errors(handler: Handler, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        await provider(handler).start(gate(), "r")
    assert KEY not in str(info.value)
    if error is RequestRejected:
        assert "Project not found" in str(info.value)


def result(case_index: int, **kw: Any) -> TargetResult:
    cases = map_cases(CREATED, include_outputs=False, keys=("test_cases", "trace_test_cases"))
    base: dict[str, Any] = {"case": cases[case_index], "ok": True, "output_json": '"Your order ships today."'}
    base.update(kw)
    return TargetResult(**base)


@pytest.mark.anyio
async def test_a_completion_is_recorded_with_test_run_info_and_idempotent_ids() -> None:
    bodies: list[tuple[str, dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/test-runs"):
            return httpx.Response(201, json=CREATED)
        bodies.append((request.url.path, json.loads(request.content)))
        return httpx.Response(201, json={"completion_id": "x"})

    fp = provider(handler)
    started = await fp.start(gate(), "r")
    await fp.record(started, result(0, eval_results=(("answered", True),)))
    await fp.record(started, result(0, eval_results=(("answered", True),)))  # a retry: same ids
    assert bodies[0] == bodies[1]
    path, body = bodies[0]
    assert path == f"/api/v2/projects/{PROJECT}/sessions/{derived_id('run-1', 'c1', 'session')}/completions"
    assert body == {
        "messages": [{"role": "assistant", "content": "Your order ships today."}],
        "inputs": {"question": "Where is my order?"},
        "test_run_info": {"test_run_id": "run-1", "test_case_id": "c1"},
        "completion_id": derived_id("run-1", "c1", "completion"),
        "eval_results": {"answered": True},
    }


@pytest.mark.anyio
async def test_a_failed_case_is_still_recorded_so_the_run_can_finish() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/test-runs"):
            return httpx.Response(201, json=CREATED)
        bodies.append(json.loads(request.content))
        return httpx.Response(201, json={})

    fp = provider(handler)
    started = await fp.start(gate(), "r")
    await fp.record(started, result(1, ok=False, output_json=None, error="exited with code 3"))
    assert bodies[0]["messages"][-1]["content"] == "[regate] the target failed: exited with code 3"


@pytest.mark.anyio
async def test_a_trace_is_recorded_with_input_and_output() -> None:
    case = {"test_case_id": "t1", "input": {"message": "cancel my plan"}, "test_case_type": "trace"}
    traces = {"test_run_id": "run-2", "test_cases": [], "trace_test_cases": [case]}
    seen: list[tuple[str, dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/test-runs"):
            return httpx.Response(201, json=traces)
        seen.append((request.url.path, json.loads(request.content)))
        return httpx.Response(201)

    fp = provider(handler)
    started = await fp.start(gate(), "r")
    await fp.record(started, TargetResult(started.cases[0], True, '{"reply": "done"}'))
    path, body = seen[0]
    assert path.endswith(f"/traces/id/{derived_id('run-2', 't1', 'trace')}")
    assert (body["input"], body["output"], body["test_run_info"]) == (
        {"message": "cancel my plan"}, {"reply": "done"}, {"test_run_id": "run-2", "test_case_id": "t1"},
    )  # fmt: skip


@pytest.mark.anyio
async def test_suite_runs_execute_server_side_or_page_their_cases() -> None:
    pages = {
        "1": {"data": [{"test_case_id": "s1", "variables": {"q": "a"}, "test_case_type": "completion"}],
              "pagination": {"page": 1, "page_size": 50, "has_next": True}},
        "2": {"data": [{"test_case_id": "s2", "input": "b", "test_case_type": "trace"}],
              "pagination": {"page": 2, "page_size": 50, "has_next": False}},
    }  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/runs/execute"):
            return httpx.Response(201, json={"run_id": "sr1", "suite_id": "suite-1", "status": "in-progress"})
        if path.endswith("/runs"):
            assert json.loads(request.content)["is_sdk"] is True
            return httpx.Response(201, json={"run_id": "sr2", "suite_id": "suite-1", "total_test_cases": 2})
        if path.endswith("/test-cases"):
            return httpx.Response(200, json=pages[request.url.params["page"]])
        return httpx.Response(200, json={"run_id": "sr1", "status": "complete", "passed": True})

    fp = provider(handler)
    server = await fp.start(gate(FreeplayMode.SUITE, target=None), "r")
    assert server.result_id == "sr1" and server.cases == ()
    snapshot = await fp.poll(server)
    assert snapshot.verdict_expected and snapshot.verdict_passed is True
    client_run = await fp.start(gate(FreeplayMode.SUITE_CLIENT), "r")
    cases = await fp.fetch_cases(client_run)
    assert [(c.case_id, c.kind) for c in cases] == [("s1", CaseKind.COMPLETION), ("s2", CaseKind.TRACE)]


def test_derived_ids_are_uuid4_shaped_and_stable() -> None:
    first = derived_id("run-1", "c1", "session")
    assert first == derived_id("run-1", "c1", "session") != derived_id("run-1", "c2", "session")
    assert first[14] == "4" and first[19] in "89ab"


def test_started_result_keeps_cases() -> None:
    assert StartedResult("r", "in-progress", 0, None).cases == ()


def test_a_server_side_suite_run_is_counted_from_its_evaluations() -> None:
    """The execute/results answers carry no case count: it comes from the evaluation counts, or stays
    unknown (and then the gate cannot call the suite tested)."""
    stats = {"auto_evaluation": {"A": {"pass": 7, "fail": 2}, "B": {"yes": 8}}, "human_evaluation": {}}
    counted = map_suite_results(
        {"run_id": "r", "status": "complete", "passed": True, "summary_statistics": stats}, total=None
    )
    assert counted.total_runs == 9
    unknown = map_suite_results({"run_id": "r", "status": "complete", "passed": True}, total=None)
    assert unknown.total_runs is None
