"""Freeplay routing and HTTP semantics of SimApp: paths, slashes, auth, 404/405/400 bodies, list, stats."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from fp_support import FAQ_SUITE, KEY, LATE, PROJECT, ROOT, FpApi, new_id

from runner.simulator.app import SimApp
from runner.simulator.faults import parse_faults
from runner.simulator.freeplay_world import FpProject
from runner.simulator.server import SimServer


@pytest.fixture
def fp(make_app):
    return FpApi(make_app().app)


@pytest.fixture
def recorded(fp, clock):
    """A complete test run (every case answered with its reference output) and a client suite run."""
    run = fp.create(include_outputs=True)
    answers = {c["test_case_id"]: c["output"] for c in run["test_cases"]}
    fp.record_answers(run["test_run_id"], run["test_cases"], answers)
    suite_run = fp.call("POST", f"test-suites/{FAQ_SUITE}/runs", {"is_sdk": True}).json()
    clock.now = LATE
    return run, suite_run


def route_table(run_id, case_id, suite_run_id):
    """(method, path without slash, body, query, expected status) for every Freeplay route."""
    completion = {"messages": [{"role": "assistant", "content": "hi"}]}
    trace_id = new_id()
    sessions = f"{ROOT}/sessions/{new_id()}"
    return [
        ("POST", f"{ROOT}/test-runs", {"dataset_name": "support-faq"}, None, 201),
        ("GET", f"{ROOT}/test-runs", None, {"page": "1", "page_size": "5"}, 200),
        ("GET", f"{ROOT}/test-runs/id/{run_id}", None, None, 200),
        ("POST", f"{sessions}/completions", {**completion, "completion_id": case_id}, None, 201),
        ("POST", f"{ROOT}/completions/{case_id}", {"eval_results": {"ok": True}}, None, 200),
        ("POST", f"{sessions}/traces/id/{trace_id}", {"input": "q", "output": "a"}, None, 201),
        ("PATCH", f"{sessions}/traces/id/{trace_id}", {"feedback": "fine"}, None, 200),
        ("POST", f"{ROOT}/test-suites/{FAQ_SUITE}/runs", {"is_sdk": True}, None, 201),
        ("POST", f"{ROOT}/test-suites/{FAQ_SUITE}/runs/execute", {}, None, 201),
        ("GET", f"{ROOT}/test-suites/{FAQ_SUITE}/runs/{suite_run_id}/test-cases", None, None, 200),
        ("GET", f"{ROOT}/test-suites/{FAQ_SUITE}/runs/{suite_run_id}/results", None, None, 200),
    ]


def test_every_route_answers_with_and_without_a_trailing_slash(fp, recorded):
    """The contract's paths have no trailing slash; the simulator also accepts one, and never redirects."""
    run, suite_run = recorded
    case_id = run["test_cases"][0]["test_case_id"]
    for method, path, body, query, status in route_table(run["test_run_id"], case_id, suite_run["run_id"]):
        for form in (path, path + "/"):
            response = fp.call(method, form, body, query=query)
            assert response.status == status, (method, form, response.body)
            assert not any(name.lower() == "location" for name, _ in response.headers)


@pytest.mark.parametrize(
    ("headers", "keys", "status"),
    [
        pytest.param({}, (), 401, id="no-header"),
        pytest.param({"authorization": "Bearer "}, (), 401, id="empty-bearer"),
        pytest.param({"authorization": "Token abc"}, (), 401, id="wrong-scheme"),
        pytest.param({"x-cekura-api-key": "abc"}, (), 401, id="cekura-header-is-not-freeplay-auth"),
        pytest.param({"authorization": "Bearer anything"}, (), 200, id="any-key-without-a-list"),
        pytest.param({"authorization": "bearer good"}, ("good",), 200, id="scheme-case-insensitive"),
        pytest.param({"authorization": "Bearer bad"}, ("good",), 401, id="key-not-in-the-list"),
    ],
)
def test_bearer_authentication(make_app, headers, keys, status):
    """Every Freeplay route wants ``Authorization: Bearer <key>``; a refusal has Freeplay's message body."""
    fp = FpApi(make_app(api_keys=keys).app)
    response = fp.call("GET", "test-runs", key=None, headers=headers)
    assert response.status == status, response.body
    if status == 401:
        assert response.json() == {"message": "Requests must be authenticated with a valid API key."}


def test_unknown_project_path_and_method(fp):
    """404 ``Project not found`` for an unknown project; 404/405 with a message for unknown paths/methods."""
    other = f"/api/v2/projects/{new_id()}/test-runs"
    assert (fp.call("GET", other).status, fp.call("GET", other).json()) == (
        404,
        {"message": "Project not found"},
    )
    assert fp.call("GET", "/api/v2/projects/not-a-uuid/test-runs").json() == {"message": "Project not found"}
    missing = fp.call("GET", "datasets")
    assert (missing.status, missing.json()) == (404, {"message": "Not found"})
    wrong = fp.call("DELETE", "test-runs")
    assert wrong.status == 405 and ("Allow", "GET, POST") in wrong.headers
    assert "message" in wrong.json()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param("sessions/456/completions", "Session ID 456 is not a valid uuid4 format.", id="session"),
        pytest.param(
            f"sessions/{PROJECT}/traces/id/789", "Trace ID 789 is not a valid uuid4 format.", id="trace"
        ),
    ],
)
def test_non_uuid_ids_are_400(fp, path, message):
    body = {"messages": [{"role": "assistant", "content": "x"}], "input": "q", "output": "a"}
    response = fp.call("POST", path, body)
    assert (response.status, response.json()) == (400, {"message": message})


def test_bad_bodies_are_400_with_a_message(fp):
    """A body that is not a JSON object is a 400 ``{"message"}``; a non-JSON content type is a 415."""
    for raw in (b"{nope", b"[1, 2]"):
        response = fp.call("POST", "test-runs", raw=raw)
        assert response.status == 400 and set(response.json()) == {"message"}
    response = fp.call("POST", "test-runs", raw=b"a=b", headers={"content-type": "text/plain"})
    assert response.status == 415


def test_list_test_runs_newest_first_with_paging(fp, recorded, clock):
    """GET test-runs: ``{"test_runs": [...]}`` newest first, every B4 field, page/page_size respected."""
    run, suite_run = recorded
    clock.now = LATE + 60
    newest = fp.create("support-agent-traces", test_run_name="third", test_run_description="d")
    items = fp.call("GET", "test-runs").json()["test_runs"]
    assert [i["id"] for i in items] == [newest["test_run_id"], suite_run["run_id"], run["test_run_id"]]
    first = items[2]
    assert set(first) == {
        "id",
        "created_at",
        "details_url",
        "test_list_info",
        "prompt_name",
        "prompt_version",
        "environment",
        "sessions_count",
        "status",
        "name",
        "description",
    }
    assert first["status"] == "complete" and first["sessions_count"] == len(run["test_cases"])
    assert first["test_list_info"]["name"] == "support-faq"
    assert first["details_url"] == f"http://sim.test/projects/{PROJECT}/test-runs/{run['test_run_id']}"
    assert isinstance(first["created_at"], int)
    assert items[0]["name"] == "third" and items[0]["status"] == "in-progress"
    page2 = fp.call("GET", "test-runs", query={"page": "2", "page_size": "2"}).json()["test_runs"]
    assert [i["id"] for i in page2] == [run["test_run_id"]]
    assert fp.call("GET", "test-runs", query={"page": "9"}).json() == {"test_runs": []}
    bad = fp.call("GET", "test-runs", query={"page": "0"})
    assert bad.status == 400 and "page" in bad.json()["message"]


def test_runs_of_another_project_are_not_found(make_app, world):
    """A run id only exists within its project: another project's GET is a 404."""
    other = new_id()
    fw = world.freeplay
    app_world = replace(world, freeplay=replace(fw, projects={**fw.projects, other: FpProject(other, "B")}))
    fp = FpApi(make_app(app_world=app_world).app)
    run_id = fp.create()["test_run_id"]
    response = fp.call("GET", f"/api/v2/projects/{other}/test-runs/id/{run_id}")
    assert (response.status, response.json()) == (404, {"message": "Test run not found"})
    assert fp.call("GET", f"/api/v2/projects/{other}/test-runs").json() == {"test_runs": []}


def test_stats_count_freeplay_routes_by_template(fp, recorded):
    """/__sim/stats counts Freeplay requests per method and route template, and the test runs."""
    stats = fp.call("GET", "/__sim/stats", key=None).json()
    assert stats["requests"]["POST /api/v2/projects/{project_id}/test-runs"] == 1
    assert stats["requests"]["POST /api/v2/projects/{project_id}/sessions/{session_id}/completions"] == 9
    assert stats["requests"]["POST /api/v2/projects/{project_id}/test-suites/{suite_id}/runs"] == 1
    assert stats["test_runs"] == 2
    fp.call("GET", "nowhere")
    assert fp.call("GET", "/__sim/stats").json()["requests"]["GET (unmatched)"] == 1


def test_cekura_routes_are_unaffected(make_app):
    """The Cekura API keeps its own auth header and DRF bodies next to Freeplay."""
    api = make_app()
    assert api.get("/test_framework/v1/results/").status == 200
    assert FpApi(api.app).call("GET", "test-runs", key=KEY).status == 200
    assert api.get("/api/v2/nothing").json() == {"message": "Not found"}


def test_freeplay_over_a_loopback_socket(world, clock):
    """A real HTTP client with a Bearer key: create, record (PATCH too), poll; drop resets the connection."""
    app = SimApp(world, clock=clock, faults=parse_faults("fp-create:drop@#2"))
    with (
        SimServer(app, "127.0.0.1", 0) as server,
        httpx.Client(
            base_url=f"{server.base_url}/api/v2/projects/{PROJECT}",
            headers={"Authorization": f"Bearer {KEY}"},
        ) as client,
    ):
        run = client.post(
            "/test-runs", json={"dataset_name": "support-agent-traces", "include_outputs": True}
        )
        assert run.status_code == 201
        run_id = run.json()["test_run_id"]
        for case in run.json()["trace_test_cases"]:
            path = f"/sessions/{new_id()}/traces/id/{new_id()}"
            info = {"test_run_id": run_id, "test_case_id": case["test_case_id"]}
            body = {"input": case["input"], "output": "draft", "test_run_info": info}
            assert client.post(path, json=body).status_code == 201
            assert client.patch(path, json={"output": case["output"]}).status_code == 200
        clock.now = LATE
        detail = client.get(f"/test-runs/id/{run_id}").json()
        assert detail["status"] == "complete"
        assert detail["summary_statistics"]["auto_evaluation"]["Answer Accuracy"]["fail"] == 0
        with pytest.raises(httpx.TransportError):
            client.post("/test-runs", json={"dataset_name": "support-faq", "test_run_name": "dropped"})
        names = [r["name"] for r in client.get("/test-runs").json()["test_runs"]]
        assert names[0] == "dropped"
