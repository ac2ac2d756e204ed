"""Routing and HTTP semantics of SimApp: paths, aliases, auth, list, runs, actions, test sets, stats."""

from __future__ import annotations

import json

import pytest

LATE = 10_000.0


@pytest.fixture
def done(api, clock):
    """A finished result of agent 101 with 4 runs: (result id, [run ids])."""
    rid = api.start(
        "run_scenarios", {"agent_id": 101, "scenarios": [201, 202], "frequency": 2, "name": "base"}
    )
    clock.now = LATE
    result_id = rid.json()["id"]
    return result_id, [int(k) for k in api.result(result_id)["runs"]]


def route_table(rid, run_id):
    """(method, path with slash, body, query) for every API route except the starts (test_sim_modes)."""
    evaluate = {"run_ids": [str(run_id)], "metric_ids": ["504"]}
    return [
        ("GET", f"/test_framework/v1/results/{rid}/", None, None),
        ("GET", f"/test_framework/v1/results-external/{rid}/", None, None),
        ("GET", f"/test_framework/v2/results/{rid}/", None, None),
        ("GET", "/test_framework/v1/results/", None, None),
        ("GET", "/test_framework/v2/results-external/", None, None),
        ("POST", f"/test_framework/v1/results/{rid}/end_calls/", None, None),
        (
            "POST",
            f"/test_framework/v1/results-external/{rid}/create_shareable_link_token/",
            {"expire_at": None},
            None,
        ),
        ("POST", f"/test_framework/v1/results/{rid}/rerun/", {}, None),
        ("POST", f"/test_framework/v1/results/{rid}/evaluate_metrics/", evaluate, None),
        ("GET", "/test_framework/v1/runs-external/", None, {"result_id": str(rid)}),
        ("GET", "/test_framework/v2/runs/", None, {"result_id": str(rid), "status__in": "running"}),
        ("GET", "/test_framework/v1/runs/bulk/", None, {"run_ids": str(run_id)}),
        ("GET", "/test_framework/v1/runs-external/bulk/", None, {"ids": str(run_id)}),
        ("GET", "/test_framework/v2/runs/bulk/", None, {"run_ids": str(run_id)}),
        ("GET", f"/test_framework/v1/runs-external/{run_id}/", None, None),
        ("PATCH", f"/test_framework/v1/runs-external/{run_id}/", {"feedback": "ok"}, None),
        (
            "POST",
            "/test_framework/test-sets/create_from_run/",
            {"run_id": run_id, "metrics": [{"metric": 501}]},
            None,
        ),
    ]


def test_every_route_accepts_both_slash_forms_and_never_redirects(api, done):
    """Each route answers 2xx with and without its trailing slash, and never with a redirect."""
    rid, runs = done
    for method, path, body, query in route_table(rid, runs[0]):
        for form in (path, path.rstrip("/")):
            response = api.call(method, form, body, query=query)
            assert 200 <= response.status < 300, (method, form, response.body)
            assert not any(name.lower() == "location" for name, _ in response.headers)


@pytest.mark.parametrize(
    ("headers", "keys", "status", "detail"),
    [
        pytest.param(
            {"x-cekura-api-key": ""}, (), 401, "Authentication credentials were not provided.", id="none"
        ),
        pytest.param(
            {"x-cekura-api-key": "  "}, (), 401, "Authentication credentials were not provided.", id="blank"
        ),
        pytest.param({"x-cekura-api-key": "anything"}, (), 200, None, id="any-key-without-a-list"),
        pytest.param(
            {"x-cekura-api-key": "wrong-key-123"}, ("good",), 401, "Invalid API key.", id="wrong-key"
        ),
        pytest.param({"x-cekura-api-key": "good"}, ("good",), 200, None, id="listed-key"),
        pytest.param(
            {"x-cekura-api-key": "", "authorization": "Bearer good"}, ("good",), 200, None, id="bearer"
        ),
        pytest.param(
            {"x-cekura-api-key": "", "authorization": "Bearer wrong-key-123"},
            ("good",),
            401,
            "Invalid API key.",
            id="wrong-bearer",
        ),
        pytest.param(
            {"x-cekura-api-key": "", "authorization": "Basic good"},
            ("good",),
            401,
            "Authentication credentials were not provided.",
            id="not-bearer",
        ),
    ],
)
def test_authentication(make_app, headers, keys, status, detail):
    """X-CEKURA-API-KEY (or a Bearer token) is required; with a key list only listed keys pass; the 401 body
    is DRF's and never echoes the key."""
    api = make_app(api_keys=keys)
    response = api.get("/test_framework/v1/results/", headers=headers)
    assert response.status == status
    if detail:
        assert response.json() == {"detail": detail}
        assert b"wrong-key-123" not in response.body


def test_unknown_ids_and_paths_are_404_and_wrong_methods_405(api, done):
    rid, _ = done
    for path in ("/test_framework/v1/results/999999/", f"/test_framework/v1/runs-external/{rid}/", "/nope/"):
        response = api.get(path)
        assert (response.status, response.json()) == (404, {"detail": "Not found."})
    response = api.call("DELETE", f"/test_framework/v1/results/{rid}/")
    assert response.status == 405 and ("Allow", "GET") in response.headers
    assert api.post("/test_framework/v1/scenarios/run_scenarios_fax/", {}).status == 404


def test_list_paginates_with_absolute_links(api):
    """Newest first, page_size 10 by default, absolute next/previous keeping the other query parameters."""
    ids = [api.start("run_scenarios", {"agent_id": 101, "scenarios": [201]}).json()["id"] for _ in range(12)]
    first = api.get("/test_framework/v1/results/", query={"agent_id": "101"}).json()
    assert first["count"] == 12 and first["previous"] is None
    assert [r["id"] for r in first["results"]] == ids[::-1][:10]
    assert first["next"] == "http://sim.test/test_framework/v1/results/?agent_id=101&page=2"
    second = api.get("/test_framework/v1/results/", query={"agent_id": "101", "page": "2"}).json()
    assert [r["id"] for r in second["results"]] == ids[1::-1] and second["next"] is None
    assert second["previous"] == "http://sim.test/test_framework/v1/results/?agent_id=101"
    item = second["results"][0]
    assert (
        isinstance(item["runs"], list)
        and item["total_runs_count"] == 1
        and item["agent_name"] == "support-bot"
    )
    small = api.get("/test_framework/v1/results/", query={"page_size": "5", "page": "3"}).json()
    assert len(small["results"]) == 2
    assert api.get("/test_framework/v1/results/", query={"page": "4"}).json() == {"detail": "Invalid page."}


def test_list_filters(api):
    """search matches the name (case-insensitive substring); agent_id, project_id and scenarios filter."""
    api.start("run_scenarios", {"agent_id": 101, "scenarios": [201], "name": "PR-7 regate"})
    api.start("run_scenarios", {"agent_id": 102, "scenarios": [205], "name": "nightly"})

    def names(**query):
        return [r["name"] for r in api.get("/test_framework/v1/results", query=query).json()["results"]]

    assert names(search="pr-7") == ["PR-7 regate"]
    assert names(agent_id="102") == ["nightly"]
    assert names(project_id="1") == ["nightly", "PR-7 regate"]
    assert names(scenarios="205,999") == ["nightly"]
    assert api.get("/test_framework/v1/results/", query={"scenarios": "[205]"}).status == 400


def test_runs_bulk_takes_run_ids_or_ids_as_comma_separated(api, done):
    """run_ids or ids, comma-separated, give a bare array of Run objects; a JSON array is a 400."""
    _, runs = done
    for param in ("run_ids", "ids"):
        response = api.get("/test_framework/v1/runs/bulk/", query={param: f"{runs[1]},{runs[0]},424242"})
        assert [r["id"] for r in response.json()] == sorted(runs[:2])
        assert response.json()[0]["result_id"] and "evaluation" in response.json()[0]
    assert api.get("/test_framework/v1/runs/bulk/", query={"run_ids": json.dumps(runs)}).status == 400
    assert api.get("/test_framework/v1/runs/bulk/").json() == {"run_ids": ["This field is required."]}


def test_the_runs_list_filters_by_result_and_status_and_counts_before_paging(api, clock):
    """``GET runs-external/``: a scope (result_id, agent_id or project_id) is required; ``status__in``
    (comma-separated) and ``status`` filter; ``count`` counts every match, ``page_size`` bounds the page."""
    body = {"agent_id": 101, "scenarios": [201, 202], "frequency": 2}
    first = api.start("run_scenarios", body).json()["id"]
    api.start("run_scenarios", {"agent_id": 101, "scenarios": [201], "frequency": 1})
    path = "/test_framework/v1/runs-external/"

    def listed(**query: str) -> dict:
        response = api.get(path, query=query)
        assert response.status == 200, response.json()
        return response.json()

    calling = "pending,in_queue,scaling_up,in_progress,running"
    assert listed(result_id=str(first))["count"] == 4
    assert listed(result_id=str(first), status__in=calling)["count"] == 4  # nothing has ended yet
    page = listed(result_id=str(first), status__in=calling, page_size="1")
    assert page["count"] == 4 and len(page["results"]) == 1 and page["next"]
    assert listed(agent_id="101")["count"] == 5
    clock.now = LATE
    assert listed(result_id=str(first), status__in=calling)["count"] == 0
    assert (
        listed(result_id=str(first), status="completed")["count"]
        + listed(result_id=str(first), status__in="failed,timeout,cancelled")["count"]
        == 4
    )
    assert api.get(path).status == 400  # no scope
    assert api.get(path, query={"result_id": "x"}).status == 400


def test_patch_run_writes_only_writable_fields(api, done):
    """Writable fields change the run (and the result's counters); read-only or invalid values are 400."""
    rid, runs = done
    path = f"/test_framework/v1/runs-external/{runs[0]}/"
    changes = {
        "success": False,
        "evaluation_status": "reviewed_failure",
        "is_reviewed": True,
        "feedback": "bad",
        "error_message": "manual",
        "scenario_instructions": "x",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
    }
    response = api.patch(path, changes)
    assert response.status == 200
    assert {k: response.json()[k] for k in changes} == changes
    assert api.result(rid)["success_runs_count"] == 3 and api.result(rid)["success_rate"] == 75.0
    for body, field in [
        ({"status": "completed"}, "status"),
        ({"success": "yes"}, "success"),
        ({"trace_id": "xyz"}, "trace_id"),
        ({"evaluation_status": "great"}, "evaluation_status"),
    ]:
        response = api.patch(path, body)
        assert response.status == 400 and field in response.json()
    assert api.patch("/test_framework/v1/runs-external/1/", {"feedback": "x"}).status == 404


def test_create_test_set_from_run(api, done):
    """create_from_run needs run_id and metrics, returns a TestSetDetail, and returns the same set again."""
    _, runs = done
    body = {
        "run_id": runs[0],
        "metrics": [{"metric": 501, "expected_value": 5}, {"metric": 505}],
        "name": "gold",
    }
    first = api.post("/test_framework/test-sets/create_from_run/", body)
    assert first.status == 200
    ts = first.json()
    assert ts["source_model"] == "Run" and ts["source_id"] == str(runs[0]) and ts["agent"] == 101
    assert [(r["metric"], r["expected_value"]) for r in ts["metric_reviews"]] == [(501, 5), (505, None)]
    assert ts["transcript"] and ts["duration"] != "00:00"
    again = api.post("/test_framework/test-sets/create_from_run/", {**body, "name": "other"}).json()
    assert again["id"] == ts["id"] and again["name"] == "gold"
    bad = [
        ({"run_id": runs[0]}, {"metrics": ["This field is required."]}),
        (
            {"run_id": 1, "metrics": [{"metric": 501}]},
            {"run_id": ['Invalid pk "1" - object does not exist.']},
        ),
        (
            {"run_id": runs[0], "metrics": [{"metric": 9}]},
            {"metrics": [{"metric": ['Invalid pk "9" - object does not exist.']}]},
        ),
    ]
    for body, expected in bad:
        response = api.post("/test_framework/test-sets/create_from_run/", body)
        assert (response.status, response.json()) == (400, expected)


def test_shareable_link_and_evaluate_metrics(api, done):
    rid, runs = done
    share = api.post(
        f"/test_framework/v1/results/{rid}/create_shareable_link_token/",
        {"expire_at": "2030-01-01T00:00:00Z"},
    )
    token = share.json()["token"]
    assert share.status == 200 and token in share.json()["shareable_link"]
    assert (
        api.post(
            f"/test_framework/v1/results/{rid}/create_shareable_link_token/", {"expire_at": "soon"}
        ).status
        == 400
    )
    evaluated = api.post(
        f"/test_framework/v1/results/{rid}/evaluate_metrics/", {"run_ids": runs, "metric_ids": [504]}
    )
    assert evaluated.status == 200 and evaluated.json()["id"] == rid
    wrong = api.post(
        f"/test_framework/v1/results/{rid}/evaluate_metrics/", {"run_ids": [1], "metric_ids": [504]}
    )
    assert wrong.status == 400


@pytest.mark.parametrize(
    ("style", "present", "absent"),
    [
        ("legacy", {"type", "score", "score_normalized"}, {"eval_type", "passed"}),
        ("new", {"type", "eval_type", "passed"}, {"score", "score_normalized"}),
        ("both", {"type", "eval_type", "passed", "score", "score_normalized"}, set()),
    ],
)
def test_binary_metric_style_switch(make_app, clock, style, present, absent):
    """Binary metrics are emitted legacy (type + score 5/0), new (eval_type binary + passed) or both."""
    api = make_app(metric_style=style)
    rid = api.start("run_scenarios", {"agent_id": 101, "scenarios": [201]}).json()["id"]
    clock.now = LATE
    metrics = next(iter(api.result(rid)["runs"].values()))["evaluation"]["metrics"]
    binary = [m for m in metrics if m["name"] in ("Policy Adherence", "Greeting", "Tone")]
    assert len(binary) == 3
    for item in binary:
        assert present <= item.keys() and not absent & item.keys()
        if "score" in item:
            assert item["score"] in (0, 5)
        if style == "legacy":
            assert item["type"] in ("binary_workflow_adherence", "binary_qualitative")
    sentiment = next(m for m in metrics if m["name"] == "Sentiment")
    assert sentiment["enum"] in ("positive", "neutral", "negative")


def test_stats_count_requests_per_route_and_need_no_auth(api, done):
    """/__sim/stats counts API requests per method and route template (not its own), without auth."""
    rid, _ = done
    api.get(f"/test_framework/v1/results/{rid}")
    api.get(f"/test_framework/v1/results/{rid}/")
    api.get("/__sim/health", headers={"x-cekura-api-key": ""})
    stats = api.get("/__sim/stats", headers={"x-cekura-api-key": ""}).json()
    assert stats["requests"] == {
        "GET /test_framework/v1/results/{id}/": 3,  # two here, one in the fixture
        "POST /test_framework/v1/scenarios/run_scenarios/": 1,
    }
    assert stats["total"] == 4 and stats["faults"] == {} and stats["results"] == 1 and stats["runs"] == 4
