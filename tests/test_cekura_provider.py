"""The Cekura adapter's HTTP contract, with fakes at the transport (httpx.MockTransport).

Pins: trailing slashes, the X-CEKURA-API-KEY header, any 2xx accepted, the per-mode start bodies (§C-8),
error mapping (401/403 auth, 408/429/5xx transient with Retry-After, other 4xx rejected, redirects never
followed) and that a start POST is never reported as retryable once it may have been processed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runner.errors import (
    AuthError,
    ProbeUnsupported,
    ProtocolError,
    RateLimited,
    RequestRejected,
    StartOutcomeUnknown,
    TransientError,
)
from runner.providers.base import StartedResult
from runner.providers.cekura import CekuraProvider
from runner.providers.cekura_payloads import build_start
from runner.settings import CekuraGate, CekuraMode, ScenarioRef, Secret
from runner.thresholds import Comparison, Op, Thresholds

KEY = "sk-test-DO-NOT-LEAK-123"


def gate(mode: CekuraMode = CekuraMode.VOICE, **kw: Any) -> CekuraGate:
    base: dict[str, Any] = {
        "name": "smoke", "agent": 101, "mode": mode, "line": 1, "timeout": 60.0,
        "thresholds": Thresholds(success_rate=Comparison(Op.GE, 1.0, True, ">= 100%")),
        "scenarios": (ScenarioRef(1), ScenarioRef(2)),
    }  # fmt: skip
    base.update(kw)
    return CekuraGate(**base)


MODE_CASES = [
    pytest.param(
        gate(),
        "/test_framework/v1/scenarios/run_scenarios/",
        {"agent_id": 101, "frequency": 1, "name": "regate smoke REF", "scenarios": [1, 2]},
        id="voice-by-ids",
    ),
    pytest.param(
        gate(
            CekuraMode.TEXT,
            scenarios=(),
            tags=("smoke",),
            personalities=(3,),
            frequency=2,
            websocket_url="wss://x",
            websocket_headers=(("A", "b"),),
        ),
        "/test_framework/v1/scenarios/run_scenarios_text/",
        {
            "agent_id": 101,
            "frequency": 2,
            "name": "regate smoke REF",
            "tags": ["smoke"],
            "personality_ids": [3],
            "websocket_url": "wss://x",
            "websocket_headers": {"A": "b"},
        },
        id="text-by-tags",
    ),
    pytest.param(
        gate(scenarios=(), folder="Sales.Inbound", project=5, concurrency_limit=2),
        "/test_framework/v1/scenarios/run_scenarios/",
        {
            "agent_id": 101,
            "frequency": 1,
            "name": "regate smoke REF",
            "folder_path": "Sales.Inbound",
            "project_id": 5,
            "concurrency_limit": 2,
        },
        id="voice-by-folder",
    ),
    pytest.param(
        gate(
            CekuraMode.WEBSOCKET,
            scenarios=(ScenarioRef(1, "wss://a"), ScenarioRef(2)),
            websocket_url="wss://default",
        ),
        "/test_framework/v1/scenarios/run_scenarios_with_websockets/",
        {
            "agent": 101,
            "frequency": 1,
            "scenarios": [
                {"scenario": 1, "websocket_url": "wss://a"},
                {"scenario": 2, "websocket_url": "wss://default"},
            ],
        },
        id="websocket-objects-no-name",
    ),
    pytest.param(
        gate(CekuraMode.PIPECAT_V1, scenarios=(ScenarioRef(1, pipecat_room_url="https://r"),)),
        "/test_framework/v1/scenarios/run_scenarios_pipecat/",
        {"agent": 101, "scenarios": [{"scenario": 1, "pipecat_room_url": "https://r"}]},
        id="pipecat-v1",
    ),
    pytest.param(
        gate(CekuraMode.PIPECAT),
        "/test_framework/v1/scenarios-external/run_scenarios_pipecat_v2/",
        {
            "agent": 101,
            "frequency": 1,
            "name": "regate smoke REF",
            "scenarios": [{"scenario": 1}, {"scenario": 2}],
        },
        id="pipecat-v2-objects",
    ),
    pytest.param(
        gate(CekuraMode.LIVEKIT, test_profiles=(9,)),
        "/test_framework/v1/scenarios-external/run_scenarios_livekit_v2/",
        {
            "agent": 101,
            "frequency": 1,
            "name": "regate smoke REF",
            "test_profile_ids": [9],
            "scenarios": [{"scenario": 1}, {"scenario": 2}],
        },
        id="livekit-v2-objects",
    ),
    pytest.param(
        gate(CekuraMode.RETELL, retell_agent_id="ag_1"),
        "/test_framework/v1/scenarios-external/run_scenarios_retell_webrtc/",
        {
            "agent_id": 101,
            "frequency": 1,
            "name": "regate smoke REF",
            "scenarios": [1, 2],
            "retell_agent_id": "ag_1",
        },
        id="retell",
    ),
    pytest.param(
        gate(CekuraMode.VAPI, vapi_assistant_id="as_1"),
        "/test_framework/v1/scenarios-external/run_scenarios_vapi_webrtc/",
        {
            "agent_id": 101,
            "frequency": 1,
            "name": "regate smoke REF",
            "scenarios": [1, 2],
            "vapi_assistant_id": "as_1",
        },
        id="vapi-needs-assistant",
    ),
    pytest.param(
        gate(CekuraMode.ELEVENLABS, elevenlabs_agent_id="el"),
        "/test_framework/v1/scenarios-external/run_scenarios_elevenlabs/",
        {
            "agent_id": 101,
            "frequency": 1,
            "name": "regate smoke REF",
            "scenarios": [1, 2],
            "elevenlabs_agent_id": "el",
        },
        id="elevenlabs",
    ),
    pytest.param(
        gate(CekuraMode.SIP, sip_endpoint="sip:x@y"),
        "/test_framework/v1/scenarios-external/run_scenarios_sip/",
        {
            "agent_id": 101,
            "frequency": 1,
            "name": "regate smoke REF",
            "scenarios": [1, 2],
            "sip_endpoint": "sip:x@y",
        },
        id="sip",
    ),
    pytest.param(
        gate(CekuraMode.EMAIL, agent_email="a@b.c"),
        "/test_framework/v1/scenarios/run_scenarios_email/",
        {"agent_id": 101, "frequency": 1, "scenarios": [1, 2], "agent_email": "a@b.c"},
        id="email-no-name",
    ),
    pytest.param(
        gate(CekuraMode.CHIRP, mock_tool_names=()),
        "/test_framework/v1/scenarios/run_scenarios_chirp/",
        {
            "agent_id": 101,
            "frequency": 1,
            "name": "regate smoke REF",
            "scenarios": [1, 2],
            "mock_tool_names": [],
        },
        id="chirp-mock-none",
    ),
    pytest.param(
        gate(CekuraMode.JSON, scenarios=(), spec_json='{"version": "1", "scenarios": []}', channel="text"),
        "/test_framework/v1/scenarios/run_scenarios_json/",
        {
            "agent_id": 101,
            "name": "regate smoke REF",
            "channel": "text",
            "spec": {"version": "1", "scenarios": []},
        },
        id="json-spec",
    ),
]


@pytest.mark.parametrize(("spec", "path", "body"), MODE_CASES)
def test_each_mode_has_its_own_endpoint_and_body(spec: CekuraGate, path: str, body: dict[str, Any]) -> None:
    assert build_start(spec, "REF") == (path, body)


Handler = Callable[[httpx.Request], httpx.Response]


def provider(handler: Handler) -> CekuraProvider:
    client = httpx.AsyncClient(base_url="https://api.cekura.test", transport=httpx.MockTransport(handler))
    return CekuraProvider(client, Secret(KEY))


@pytest.mark.anyio
@pytest.mark.parametrize("status", [200, 201, 202])
async def test_any_2xx_starts_and_the_key_travels_only_in_its_header(status: int) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"id": 167, "status": "pending", "runs": [{"id": 1}, {"id": 2}]})

    started = await provider(handler).start(gate(), "abc")
    assert started == StartedResult("167", "pending", 2, "abc")
    request = seen[0]
    assert request.url.path.endswith("/") and request.method == "POST"
    assert request.headers["X-CEKURA-API-KEY"] == KEY
    assert KEY not in str(request.url)
    assert json.loads(request.content)["name"] == "regate smoke abc"


@pytest.mark.anyio
async def test_a_start_answer_without_id_falls_back_to_result_id_then_fails_loudly() -> None:
    ok = provider(lambda r: httpx.Response(200, json={"result_id": 9, "status": "pending"}))
    assert (await ok.start(gate(), "r")).result_id == "9"
    bad = provider(lambda r: httpx.Response(200, json={"status": "pending"}))
    with pytest.raises(StartOutcomeUnknown, match="no result id"):  # runs started; found again by name
        await bad.start(gate(), "r")


def _raise(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


START_ERRORS = [
    pytest.param(_raise(httpx.ConnectError("refused")), TransientError, id="connect-error-was-not-sent"),
    pytest.param(lambda r: httpx.Response(429, headers={"Retry-After": "3"}), RateLimited, id="429-rejected"),
    pytest.param(lambda r: httpx.Response(408), TransientError, id="408-not-processed"),
    pytest.param(_raise(httpx.ReadError("reset")), StartOutcomeUnknown, id="reset-after-send-is-unknown"),
    pytest.param(_raise(httpx.ReadTimeout("slow")), StartOutcomeUnknown, id="read-timeout-is-unknown"),
    pytest.param(lambda r: httpx.Response(502), StartOutcomeUnknown, id="5xx-is-unknown"),
    pytest.param(lambda r: httpx.Response(401, json={"detail": "Invalid API key."}), AuthError, id="401"),
    pytest.param(
        lambda r: httpx.Response(403, json={"detail": f"key {KEY} may not start runs"}),
        AuthError,
        id="403-echoing-the-key-is-masked",
    ),
    pytest.param(
        lambda r: httpx.Response(400, json={"agent_id": [f"bad agent for {KEY}"]}),
        RequestRejected,
        id="400-echoing-the-key-is-masked",
    ),
    pytest.param(
        lambda r: httpx.Response(400, json=["Invalid personalities provided."]),
        RequestRejected,
        id="400-bare-list",
    ),
    pytest.param(
        lambda r: httpx.Response(200, content=b"<html>"), StartOutcomeUnknown, id="2xx-not-json-is-unknown"
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("handler", "error"), START_ERRORS)
async def test_start_errors_say_whether_a_retry_is_safe(handler: Handler, error: type[Exception]) -> None:
    """Only failures proving the POST was not processed are retryable; the rest are StartOutcomeUnknown."""
    with pytest.raises(error) as info:
        await provider(handler).start(gate(), "r")
    if error is TransientError:
        assert not isinstance(info.value, StartOutcomeUnknown)
    assert KEY not in str(info.value)


POLL_ERRORS = [
    pytest.param(_raise(httpx.ReadError("reset")), TransientError, None, id="reset"),
    pytest.param(lambda r: httpx.Response(503, headers={"Retry-After": "4"}), TransientError, 4.0, id="503"),
    pytest.param(lambda r: httpx.Response(429, headers={"Retry-After": "2"}), RateLimited, 2.0, id="429"),
    pytest.param(lambda r: httpx.Response(403, json={"detail": "nope"}), AuthError, None, id="403"),
    pytest.param(
        lambda r: httpx.Response(404, json={"detail": "Not found."}), RequestRejected, None, id="404"
    ),
    pytest.param(
        lambda r: httpx.Response(302, headers={"Location": "https://evil.test/"}),
        RequestRejected,
        None,
        id="redirect-not-followed",
    ),
    pytest.param(
        lambda r: httpx.Response(200, content=b'{"id": 1, "sta'),
        ProtocolError,  # the poller asks again (tests/test_polling.py); the provider only says what it is
        None,
        id="truncated",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("handler", "error", "retry_after"), POLL_ERRORS)
async def test_poll_errors_map_to_the_error_tree(
    handler: Handler, error: type[Exception], retry_after: float | None
) -> None:
    with pytest.raises(error) as info:
        await provider(handler).poll(StartedResult("1", "pending", None, None))
    if retry_after is not None:
        assert getattr(info.value, "retry_after", None) == retry_after
    assert KEY not in str(info.value)


@pytest.mark.anyio
async def test_poll_reads_the_result_detail_with_a_trailing_slash() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/test_framework/v1/results/167/"
        return httpx.Response(200, json={"id": 167, "status": "running", "runs": {}})

    snapshot = await provider(handler).poll(StartedResult("167", "pending", None, None))
    assert snapshot.status == "running" and not snapshot.terminal


@pytest.mark.anyio
async def test_a_lost_start_is_found_again_by_its_unique_name() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET" and request.url.params["search"] == "ref1"
        return httpx.Response(200, json={"count": 2, "next": None, "previous": None, "results": [
            {"id": 5, "name": "regate other ref1x", "status": "running"},
            {"id": 6, "name": "regate smoke ref1", "status": "running"},
        ]})  # fmt: skip

    found = await provider(handler).find_started(gate(), "ref1")
    assert found is not None and found.result_id == "6"


@pytest.mark.anyio
async def test_cancel_ends_calls_and_accepts_an_empty_body() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, content=b"")

    await provider(handler).cancel(StartedResult("8", "running", None, None))
    assert paths == ["POST /test_framework/v1/results/8/end_calls/"]


@pytest.mark.anyio
async def test_a_probe_reads_only_the_count_of_runs_still_calling() -> None:
    """``GET runs-external/?result_id=&status__in=<calling>&page_size=1``: one run on the page, the count
    is the answer (the result detail would carry every run)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 37, "next": None, "previous": None, "results": [{"id": 1}]})

    assert await provider(handler).probe(StartedResult("167", "running", 100, "r")) == 37
    (request,) = seen
    assert request.url.path == "/test_framework/v1/runs-external/"
    assert dict(request.url.params) == {
        "result_id": "167",
        "status__in": "pending,in_queue,scaling_up,in_progress,running",
        "page_size": "1",
    }


@pytest.mark.anyio
async def test_a_probe_of_ended_calls_counts_the_runs_evaluating_or_terminal() -> None:
    """The other half of the run statuses (api-contracts §A5): the poller weighs one count against the
    other, which on a platform that ignores the filter add up to more than the result has."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 63, "next": None, "previous": None, "results": [{"id": 1}]})

    started = StartedResult("167", "running", 100, "r")
    assert await provider(handler).probe(started, ended=True) == 63
    (request,) = seen
    assert dict(request.url.params) == {
        "result_id": "167",
        "status__in": "evaluating,completed,failed,timeout,cancelled",
        "page_size": "1",
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(httpx.Response(404, json={"detail": "Not found."}), id="no-runs-list"),
        pytest.param(httpx.Response(403, json={"detail": "No permission."}), id="key-may-not-list-runs"),
        pytest.param(httpx.Response(400, json={"status__in": ["unknown filter"]}), id="filter-refused"),
        pytest.param(httpx.Response(200, json=[{"id": 1}]), id="a-bare-list-without-count"),
        pytest.param(httpx.Response(200, json={"count": -1, "results": []}), id="negative-count"),
    ],
)
async def test_a_probe_the_platform_cannot_answer_is_not_asked_again(answer: httpx.Response) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answer

    cekura = provider(handler)
    started = StartedResult("167", "running", 100, "r")
    with pytest.raises(ProbeUnsupported):
        await cekura.probe(started)
    with pytest.raises(ProbeUnsupported):
        await cekura.probe(started)
    assert len(calls) == 1


@pytest.mark.anyio
async def test_a_failing_probe_is_retried_like_a_poll_not_given_up() -> None:
    """A 503 is transient (retried within the budget), not a sign that the platform has no runs list."""
    answers = [httpx.Response(503), httpx.Response(200, json={"count": 0, "results": []})]
    cekura = provider(lambda r: answers.pop(0))
    started = StartedResult("167", "running", 100, "r")
    with pytest.raises(TransientError):
        await cekura.probe(started)
    assert await cekura.probe(started) == 0  # asked again, and answered
