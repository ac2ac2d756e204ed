"""The simulator's write-back endpoints (api-contracts §A10, §A11): ``GET``/``PATCH runs-external/{id}/`` and
``POST test-sets/create_from_run/``. Writes are recorded in the state (``run_updates``, ``test_sets``) and
counted by ``stats()``; they need the API key and obey fault injection like every other route."""

from __future__ import annotations

import pytest

LATE = 10_000.0
CREATE = "/test_framework/test-sets/create_from_run/"


def run_path(run_id: int) -> str:
    return f"/test_framework/v1/runs-external/{run_id}/"


@pytest.fixture
def runs(api, clock):
    """The run ids of a finished result of agent 101 (2 scenarios x 2)."""
    rid = api.start("run_scenarios", {"agent_id": 101, "scenarios": [201, 202], "frequency": 2}).json()["id"]
    clock.now = LATE
    return sorted(int(k) for k in api.result(rid)["runs"])


def test_patch_is_recorded_counted_and_read_back(api, runs):
    """A valid PATCH replaces the fields, is logged in order, counted in stats, and answers the full run."""
    first = api.patch(run_path(runs[0]), {"feedback": "one"})
    second = api.patch(run_path(runs[0]), {"feedback": "two", "is_reviewed": True})
    assert first.status == second.status == 200
    run = second.json()
    assert run["id"] == runs[0] and run["feedback"] == "two" and run["is_reviewed"] is True
    assert {"status", "success", "evaluation", "transcript", "result_id", "evaluation_status"} <= run.keys()
    assert api.get(run_path(runs[0])).json()["feedback"] == "two"
    assert api.app.state.run_updates == [
        (runs[0], {"feedback": "one"}),
        (runs[0], {"feedback": "two", "is_reviewed": True}),
    ]
    assert api.app.stats()["run_updates"] == 2
    assert api.app.stats()["requests"]["PATCH /test_framework/v1/runs-external/{id}/"] == 2


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param({"status": "completed"}, {"status": ["This field is read-only."]}, id="read-only"),
        pytest.param(
            {"feedback": "ok", "scenario_name": "x"}, {"scenario_name": ["This field is read-only."]},
            id="one-bad-field-spoils-all",
        ),
        pytest.param({"frobnicate": 1}, {"frobnicate": ["This field is read-only."]}, id="unknown"),
        pytest.param(
            {"evaluation_status": "passed"}, {"evaluation_status": ['"passed" is not a valid choice.']},
            id="evaluation-status-enum",
        ),
        pytest.param(
            {"trace_id": "0AF7651916CD43DD8448EB211C80319C"},
            {"trace_id": ["Enter a valid trace id: 32 lowercase hex characters."]},
            id="trace-id-hex",
        ),
        pytest.param({"feedback": None}, {"feedback": ["This field may not be null."]}, id="null"),
        pytest.param({"is_reviewed": "yes"}, {"is_reviewed": ["Must be a valid boolean."]}, id="bool"),
    ],
)  # fmt: skip
def test_patch_refuses_what_is_not_writable(api, runs, body, error):
    """Anything but the writable fields of §A10 is a DRF 400, and nothing of the request is applied."""
    response = api.patch(run_path(runs[0]), body)
    assert (response.status, response.json()) == (400, error)
    assert api.app.state.run_updates == [] and api.get(run_path(runs[0])).json()["feedback"] == ""


def test_create_from_run_is_recorded_once(api, runs):
    """The first POST creates the run's set; the next returns it unchanged (§A11), so stats count one."""
    body = {"run_id": runs[1], "metrics": [{"metric": 501, "expected_value": 5}], "name": "regate smoke"}
    first = api.post(CREATE, body).json()
    again = api.post(CREATE, {**body, "metrics": [{"metric": 505}], "name": "other"}).json()
    assert again == first and first["source_id"] == str(runs[1]) and first["name"] == "regate smoke"
    assert api.app.stats()["test_sets"] == 1
    assert api.app.state.test_sets[runs[1]].reviews == ((501, "", 5),)
    api.post(CREATE, {**body, "run_id": runs[2]})
    assert api.app.stats()["test_sets"] == 2


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param({"metrics": [{"metric": 501}]}, {"run_id": ["This field is required."]}, id="no-run"),
        pytest.param(
            {"run_id": 1, "metrics": [{"metric": 501}]},
            {"run_id": ['Invalid pk "1" - object does not exist.']},
            id="unknown-run",
        ),
        pytest.param(
            {"run_id": "RUN", "metrics": []},
            {"metrics": {"non_field_errors": ["This list may not be empty."]}},
            id="no-metrics",
        ),
        pytest.param(
            {"run_id": "RUN", "metrics": [{"expected_value": 5}]},
            {"metrics": [{"metric": ["This field is required."]}]}, id="metric-id",
        ),
        pytest.param(
            {"run_id": "RUN", "metrics": [{"metric": 501}], "name": "n" * 256},
            {"name": ["Ensure this field has no more than 255 characters."]}, id="long-name",
        ),
        pytest.param(
            {"run_id": "RUN", "metrics": [{"metric": 501}], "project": "one"},
            {"project": ["A valid integer is required."]}, id="project",
        ),
    ],
)  # fmt: skip
def test_create_from_run_validates_its_body(api, runs, body, error):
    """run_id and metrics are required, metrics need a metric id each, name is at most 255 characters."""
    body = {**body, "run_id": runs[0]} if body.get("run_id") == "RUN" else body
    response = api.post(CREATE, body)
    assert (response.status, response.json()) == (400, error)
    assert api.app.stats()["test_sets"] == 0


def test_both_need_the_api_key(make_app):
    """Without a key: 401, nothing recorded."""
    api = make_app(api_keys=("good-key-123",))
    key = {"x-cekura-api-key": "good-key-123"}
    rid = api.start("run_scenarios", {"agent_id": 101, "scenarios": [201]}, headers=key).json()["id"]
    run_id = int(next(iter(api.get(f"/test_framework/v1/results/{rid}/", headers=key).json()["runs"])))
    for method, path, body in [
        ("GET", run_path(run_id), None),
        ("PATCH", run_path(run_id), {"feedback": "x"}),
        ("POST", CREATE, {"run_id": run_id, "metrics": [{"metric": 501}]}),
    ]:
        response = api.call(method, path, body, headers={"x-cekura-api-key": ""})
        assert response.status == 401, (method, path)
    assert api.app.stats()["run_updates"] == api.app.stats()["test_sets"] == 0


@pytest.mark.parametrize(
    ("faults", "method", "status", "recorded"),
    [
        pytest.param("runs:500@#1", "PATCH", 500, 0, id="patch-500-not-processed"),
        pytest.param("runs:429=3@#1", "PATCH", 429, 0, id="patch-429"),
        pytest.param("runs:drop@#1", "PATCH", 0, 1, id="patch-dropped-after-processing"),
        pytest.param("testsets:503@#1", "POST", 503, 0, id="create-503-not-processed"),
        pytest.param("testsets:drop@#1", "POST", 0, 1, id="create-dropped-after-processing"),
        pytest.param("testsets:malformed@#1", "POST", 200, 1, id="create-garbled-answer"),
    ],
)  # fmt: skip
def test_fault_injection(make_app, clock, faults, method, status, recorded):
    """``runs`` covers GET/PATCH of a run, ``testsets`` create_from_run; refusing faults leave no trace,
    processing ones (drop, malformed) record the write the client could not see."""
    api = make_app(faults=faults)
    rid = api.start("run_scenarios", {"agent_id": 101, "scenarios": [201]}).json()["id"]
    clock.now = LATE
    run_id = int(next(iter(api.result(rid)["runs"])))
    if method == "PATCH":
        response = api.patch(run_path(run_id), {"feedback": "x"})
        count = api.app.stats()["run_updates"]
    else:
        response = api.post(CREATE, {"run_id": run_id, "metrics": [{"metric": 501}]})
        count = api.app.stats()["test_sets"]
    reset = response.reset or response.reset_after_processing
    assert (0 if reset else response.status) == status
    assert count == recorded
    assert sum(api.app.stats()["faults"].values()) == 1
