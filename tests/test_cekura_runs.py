"""The Cekura adapter's write-back calls on the wire (api-contracts §A10, §A11), with fakes at the transport.

Pins: paths with their trailing slash, the key header, the exact PATCH and create_from_run bodies, the bulk
read sending ``run_ids`` and ``ids`` (§C-6), the bug guards that refuse non-writable fields before any
request, and answers that do not fit the contract failing closed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runner.errors import ProtocolError, RequestRejected
from runner.providers.cekura import CekuraProvider
from runner.providers.cekura_runs import RunReview, TestSetRef
from runner.settings import Secret

KEY = "sk-test-DO-NOT-LEAK-runs"
RUN = {
    "id": 20001,
    "status": "completed",
    "feedback": "note",
    "evaluation_status": "failure",
    "is_reviewed": False,
    "success": False,
}
TEST_SET = {"id": 7001, "agent": 101, "name": "gold", "source_model": "Run", "source_id": "20001",
            "metric_reviews": [{"id": 1, "metric": 501, "expected_value": 5}]}  # fmt: skip

Seen = list[httpx.Request]


def provider(answer: Callable[[httpx.Request], httpx.Response]) -> tuple[CekuraProvider, Seen]:
    seen: Seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    client = httpx.AsyncClient(base_url="https://api.cekura.test", transport=httpx.MockTransport(handler))
    return CekuraProvider(client, Secret(KEY)), seen


def answering(status: int, body: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body)


@pytest.mark.anyio
async def test_update_run_patches_the_writable_fields_and_reads_the_run_back() -> None:
    """PATCH runs-external/{id}/ with exactly the fields given, the key in its header only."""
    cekura, seen = provider(answering(200, {**RUN, "feedback": "note\n[regate smoke 1] x"}))
    review = await cekura.update_run("20001", {"feedback": "note\n[regate smoke 1] x", "is_reviewed": True})
    (request,) = seen
    assert (request.method, request.url.path) == ("PATCH", "/test_framework/v1/runs-external/20001/")
    assert json.loads(request.content) == {"feedback": "note\n[regate smoke 1] x", "is_reviewed": True}
    assert request.headers["X-CEKURA-API-KEY"] == KEY and KEY not in str(request.url)
    assert review == RunReview("20001", "completed", "note\n[regate smoke 1] x", "failure", False)
    await cekura.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"status": "completed"}, TypeError),
        ({"feedback": "x", "id": 1}, TypeError),
        ({}, TypeError),
        ({"feedback": None}, TypeError),
        ({"is_reviewed": "yes"}, TypeError),
        ({"evaluation_status": "passed"}, ValueError),
        ({"trace_id": "XYZ"}, ValueError),
    ],
)
async def test_update_run_refuses_other_fields_before_any_request(
    fields: Any, error: type[Exception]
) -> None:
    """A bug guard: only success, evaluation_status, is_reviewed, feedback, error_message,
    scenario_instructions and trace_id, each of its type; nothing is sent otherwise."""
    cekura, seen = provider(answering(200, RUN))
    with pytest.raises(error):
        await cekura.update_run("20001", fields)
    with pytest.raises(ValueError, match="run id"):
        await cekura.update_run("../results/1", {"feedback": "x"})
    assert seen == []
    await cekura.aclose()


@pytest.mark.anyio
async def test_get_runs_reads_many_runs_in_one_request() -> None:
    """``runs-external/bulk/`` with the ids as ``run_ids`` and ``ids``; ids not asked for are dropped."""
    other = {**RUN, "id": 20002, "feedback": None, "evaluation_status": None, "is_reviewed": None}
    cekura, seen = provider(answering(200, [RUN, other, {**RUN, "id": 99}]))
    reviews = await cekura.get_runs(["20001", "20002"])
    (request,) = seen
    assert request.url.path == "/test_framework/v1/runs-external/bulk/"
    assert dict(request.url.params) == {"run_ids": "20001,20002", "ids": "20001,20002"}
    assert reviews == {
        "20001": RunReview("20001", "completed", "note", "failure", False),
        "20002": RunReview("20002", "completed", "", None, None),
    }
    assert await cekura.get_runs([]) == {} and len(seen) == 1
    await cekura.aclose()


@pytest.mark.anyio
async def test_get_run_reads_one_run() -> None:
    """GET runs-external/{id}/ with its trailing slash."""
    cekura, seen = provider(answering(200, RUN))
    assert (await cekura.get_run("20001")).feedback == "note"
    assert seen[0].url.path == "/test_framework/v1/runs-external/20001/"
    await cekura.aclose()


@pytest.mark.anyio
async def test_create_test_set_from_run_posts_the_contract_body() -> None:
    """POST test-sets/create_from_run/ (no v1) with the body as given; the answer becomes a TestSetRef."""
    cekura, seen = provider(answering(200, TEST_SET))
    body = {"run_id": 20001, "metrics": [{"metric": 501, "expected_value": 5}], "name": "gold", "project": 3}
    test_set = await cekura.create_test_set_from_run(body)
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/test_framework/test-sets/create_from_run/")
    assert json.loads(request.content) == body
    assert test_set == TestSetRef("7001", "20001", "gold", 1)
    await cekura.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        {"run_id": "20001", "metrics": [{"metric": 501}]},
        {"run_id": 20001, "metrics": []},
        {"run_id": 20001},
        {"run_id": 20001, "metrics": [{"metric": 501, "score": 5}]},
        {"run_id": 20001, "metrics": [{"metric": 501}], "agent": 101},
        {"run_id": 20001, "metrics": [{"metric": 501}], "project": True},
    ],
)
async def test_create_test_set_from_run_refuses_other_bodies(body: Any) -> None:
    """An integer run_id and a non-empty list of {metric, feedback?, expected_value?}; nothing else."""
    cekura, seen = provider(answering(200, TEST_SET))
    with pytest.raises(TypeError):
        await cekura.create_test_set_from_run(body)
    assert seen == []
    await cekura.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("call", "answer", "error", "message"),
    [
        pytest.param(
            "get", answering(200, {**RUN, "id": 20002}), ProtocolError, "asked for run 20001, got run 20002",
            id="another-run",
        ),
        pytest.param("get", answering(200, [RUN]), ProtocolError, "not a JSON object", id="not-an-object"),
        pytest.param(
            "get", answering(200, {**RUN, "feedback": 5}), ProtocolError, "feedback is not a string",
            id="feedback-type",
        ),
        pytest.param("bulk", answering(200, {"detail": "x"}), ProtocolError, "not a list", id="bulk-shape"),
        pytest.param(
            "update", answering(400, {"feedback": [f"bad {KEY}"]}), RequestRejected,
            "PATCH /test_framework/v1/runs-external/20001/: 400 feedback: bad ***", id="drf-400-masked",
        ),
        pytest.param("create", answering(200, {"name": "x"}), ProtocolError, "has no id", id="set-no-id"),
    ],
)  # fmt: skip
async def test_answers_that_do_not_fit_fail_closed(call: str, answer: Any, error: Any, message: str) -> None:
    """Another run, a wrong shape or type is a ProtocolError; a DRF 400 is RequestRejected, key masked."""
    cekura, _ = provider(answer)
    calls = {
        "get": lambda: cekura.get_run("20001"),
        "bulk": lambda: cekura.get_runs(["20001"]),
        "update": lambda: cekura.update_run("20001", {"feedback": "x"}),
        "create": lambda: cekura.create_test_set_from_run({"run_id": 20001, "metrics": [{"metric": 501}]}),
    }
    with pytest.raises(error) as caught:
        await calls[call]()
    assert message in str(caught.value) and KEY not in str(caught.value)
    await cekura.aclose()
