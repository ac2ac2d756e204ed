"""Faults as a client meets them: through SimApp and through httpx with the in-process transport."""

from __future__ import annotations

import json

import httpx
import pytest

from runner.simulator.transport import mock_transport

LATE = 10_000.0
BODY = {"agent_id": 101, "scenarios": [201, 202], "name": "faulty"}


def started(api):
    response = api.start("run_scenarios", BODY)
    assert response.status == 201, response.body
    return response.json()["id"]


def test_429_carries_retry_after_and_is_not_processed(make_app):
    api = make_app(faults="start:429=3@#1")
    response = api.start("run_scenarios", BODY)
    assert response.status == 429 and ("Retry-After", "3") in response.headers
    assert response.json() == {"detail": "Request was throttled. Expected available in 3 seconds."}
    assert api.app.state.results == {}
    assert api.start("run_scenarios", BODY).status == 201  # only the first request was scheduled


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_5xx_answers_an_html_page_without_processing(make_app, code):
    api = make_app(faults=f"start:{code}@#1")
    response = api.start("run_scenarios", BODY)
    assert response.status == code and ("Content-Type", "text/html") in response.headers
    assert str(code).encode() in response.body and api.app.state.results == {}


def test_reset_drops_the_request_unprocessed(make_app):
    api = make_app(faults="start:reset@#1")
    response = api.start("run_scenarios", BODY)
    assert response.reset and not response.reset_after_processing
    assert api.app.state.results == {}


def test_drop_after_start_stores_the_result_then_resets(make_app):
    """The start takes effect (runs exist and progress) although the client never gets an answer:
    a client that retried blindly would create a second, billed, batch."""
    api = make_app(faults="start:drop@#1")
    response = api.start("run_scenarios", BODY)
    assert response.reset_after_processing
    found = api.get("/test_framework/v1/results/", query={"search": "faulty"}).json()
    assert found["count"] == 1 and len(found["results"][0]["runs"]) == 2


def test_slow_sets_a_delay_in_simulated_seconds(make_app):
    api = make_app(faults="results:slow=12")
    rid = started(api)
    response = api.get(f"/test_framework/v1/results/{rid}/")
    assert response.status == 200 and response.delay == 12.0 and response.json()["id"] == rid


def test_malformed_and_truncated_bodies_are_not_json(make_app):
    api = make_app(faults="results:malformed@#1;results:truncated@#2")
    rid = started(api)
    malformed = api.get(f"/test_framework/v1/results/{rid}/")
    truncated = api.get(f"/test_framework/v1/results/{rid}/")
    intact = api.get(f"/test_framework/v1/results/{rid}/")
    for response in (malformed, truncated):
        assert response.status == 200
        with pytest.raises(ValueError):
            json.loads(response.body)
    assert intact.body.startswith(truncated.body) and len(truncated.body) < len(intact.body)


@pytest.mark.parametrize(
    ("spec", "path_kind", "check"),
    [
        pytest.param(
            "results:missing", "detail", lambda d: "status" not in d and "runs" in d, id="missing-status"
        ),
        pytest.param("results:missing=runs", "detail", lambda d: "runs" not in d, id="missing-runs"),
        pytest.param("start:missing=id", "start", lambda d: "id" not in d, id="start-missing-id"),
        pytest.param(
            "list:missing=status", "list", lambda d: "status" not in d["results"][0], id="list-items"
        ),
        pytest.param("runs:missing=success", "bulk", lambda d: "success" not in d[0], id="bulk-items"),
        pytest.param(
            "results:unknown_status=paused", "detail", lambda d: d["status"] == "paused", id="unknown-status"
        ),
    ],
)
def test_field_faults_rewrite_the_2xx_json(make_app, spec, path_kind, check):
    api = make_app(faults=spec)
    response = api.start("run_scenarios", BODY)
    if path_kind != "start":
        rid = response.json()["id"]
        run_id = response.json()["runs"][0]["id"]
        response = {
            "detail": lambda: api.get(f"/test_framework/v1/results/{rid}/"),
            "list": lambda: api.get("/test_framework/v1/results/"),
            "bulk": lambda: api.get("/test_framework/v1/runs/bulk/", query={"run_ids": str(run_id)}),
        }[path_kind]()
    assert 200 <= response.status < 300
    assert check(response.json())


def test_field_faults_leave_errors_alone(make_app):
    """A mangling fault applies to 2xx JSON answers only, and only applied faults are counted."""
    api = make_app(faults="results:malformed")
    response = api.get("/test_framework/v1/results/424242/")
    assert (response.status, response.json()) == (404, {"detail": "Not found."})
    assert api.app.stats()["faults"] == {}


def test_never_finishing_result(make_app, clock):
    """start:never creates a result whose runs never reach a terminal status; other starts are normal."""
    api = make_app(faults="start:never@#1")
    stuck, normal = started(api), started(api)
    clock.now = 100 * LATE
    assert api.result(stuck)["status"] == "running"
    assert api.result(normal)["status"] == "completed"


def test_faults_precede_authentication_and_are_counted(make_app):
    """A refusing fault answers before auth is checked (like a gateway); stats count faults by kind."""
    api = make_app(faults="list:503@#1;list:429@#2")
    assert api.get("/test_framework/v1/results/", headers={"x-cekura-api-key": ""}).status == 503
    assert api.get("/test_framework/v1/results/").status == 429
    assert api.get("/test_framework/v1/results/", headers={"x-cekura-api-key": ""}).status == 401
    assert api.app.stats()["faults"] == {"429": 1, "503": 1}


def test_httpx_client_over_the_mock_transport(make_app, clock):
    """A plain httpx client works against the app in-process; resets surface as httpx.ReadError, and a
    dropped start still created its result."""
    api = make_app(faults="start:drop@#2;results:reset@#2")
    headers = {"X-CEKURA-API-KEY": "k"}
    with httpx.Client(
        transport=mock_transport(api.app), base_url="http://sim.test", headers=headers
    ) as client:
        start = client.post("/test_framework/v1/scenarios/run_scenarios/", json=BODY)
        assert start.status_code == 201
        rid = start.json()["id"]
        with pytest.raises(httpx.ReadError):
            client.post("/test_framework/v1/scenarios/run_scenarios/", json=BODY)
        assert client.get("/test_framework/v1/results/", params={"search": "faulty"}).json()["count"] == 2
        assert client.get(f"/test_framework/v1/results/{rid}/").status_code == 200
        with pytest.raises(httpx.ReadError):
            client.get(f"/test_framework/v1/results/{rid}/")
        clock.now = LATE
        detail = client.get(f"/test_framework/v1/results/{rid}/").json()
        assert detail["status"] == "completed" and detail["success_rate"] == 100.0
        bulk = client.get("/test_framework/v1/runs/bulk/", params={"run_ids": ",".join(detail["runs"])})
        assert len(bulk.json()) == 2


@pytest.mark.anyio
async def test_async_httpx_client_over_the_mock_transport(api):
    async with httpx.AsyncClient(transport=mock_transport(api.app), base_url="http://sim.test") as client:
        response = await client.get("/test_framework/v1/results/", headers={"X-CEKURA-API-KEY": "k"})
    assert response.status_code == 200 and response.json()["count"] == 0
