"""Freeplay test suites in the simulator: client-orchestrated runs (B5.1, B5.2) and server-side execution."""

from __future__ import annotations

import pytest
from fp_support import AGENT_SUITE, FAQ_SUITE, LATE, REGRESSED_SUITE, FpApi, load_target, new_id


@pytest.fixture
def fp(make_app):
    return FpApi(make_app().app)


def runs_path(suite):
    return f"test-suites/{suite}/runs"


def all_cases(fp, suite, run_id, page_size):
    """Page through B5.2 like the SDK: until has_next is false."""
    cases, page = [], 1
    while True:
        query = {"page": str(page), "page_size": str(page_size)}
        response = fp.call("GET", f"{runs_path(suite)}/{run_id}/test-cases", query=query)
        assert response.status == 200, response.body
        data = response.json()
        assert data["pagination"]["page"] == page and data["pagination"]["page_size"] == page_size
        cases.extend(data["data"])
        if not data["pagination"]["has_next"]:
            return cases
        page += 1


def test_client_orchestrated_prompt_suite_run(fp, clock):
    """runs -> page the test cases -> record with the suite run id as test_run_id -> results pass."""
    created = fp.call("POST", runs_path(FAQ_SUITE), {"is_sdk": True, "environment": "staging", "name": "ci"})
    assert created.status == 201
    run = created.json()
    assert set(run) == {"run_id", "suite_id", "target_type", "total_test_cases", "prompt_template"}
    assert (run["suite_id"], run["target_type"], run["total_test_cases"]) == (FAQ_SUITE, "prompt", 9)
    template = run["prompt_template"]
    assert (
        template["prompt_template_name"] == "support-answer"
        and template["content"][-1]["content"] == "{{question}}"
    )
    cases = all_cases(fp, FAQ_SUITE, run["run_id"], page_size=4)
    assert len(cases) == 9 and len({c["test_case_id"] for c in cases}) == 9
    assert all(c["test_case_type"] == "completion" and "output" not in c for c in cases)
    results_path = f"{runs_path(FAQ_SUITE)}/{run['run_id']}/results"
    before = fp.call("GET", results_path).json()
    assert (before["status"], before["passed"], before["eval_results"]) == ("in-progress", None, None)
    target = load_target()
    answers = {c["test_case_id"]: target.answer({**c, "kind": "completion"})["output"] for c in cases}
    fp.record_answers(run["run_id"], cases, answers)
    clock.now = LATE
    after = fp.call("GET", results_path).json()
    assert (after["status"], after["passed"]) == ("complete", True)
    assert after["eval_results"] == {
        "Answer Accuracy": 1.0,
        "Helpfulness": 5.0,
        "Faithfulness": 1.0,
        "Tone": 1.0,
    }
    assert set(after["summary_statistics"]) == {"auto_evaluation", "human_evaluation", "client_evaluation"}
    listed = fp.call("GET", "test-runs").json()["test_runs"][0]
    assert (listed["id"], listed["name"], listed["environment"]) == (run["run_id"], "ci", "staging")
    assert fp.run(run["run_id"])["status"] == "complete"  # a suite run is a test run


def test_agent_suite_has_trace_cases_and_no_prompt_template(fp):
    run = fp.call("POST", runs_path(AGENT_SUITE), {"is_sdk": True}).json()
    assert (run["target_type"], run["prompt_template"], run["total_test_cases"]) == ("agent", None, 5)
    cases = all_cases(fp, AGENT_SUITE, run["run_id"], page_size=50)
    assert [c["test_case_type"] for c in cases] == ["trace"] * 5


def test_paging_defaults_and_limits(fp):
    run_id = fp.call("POST", runs_path(FAQ_SUITE), {}).json()["run_id"]
    data = fp.call("GET", f"{runs_path(FAQ_SUITE)}/{run_id}/test-cases").json()
    assert data["pagination"] == {"page": 1, "page_size": 30, "has_next": False} and len(data["data"]) == 9
    beyond = fp.call("GET", f"{runs_path(FAQ_SUITE)}/{run_id}/test-cases", query={"page": "5"}).json()
    assert beyond["data"] == [] and beyond["pagination"]["has_next"] is False
    for value in ("x", "0", "²", "-1"):
        bad = fp.call("GET", f"{runs_path(FAQ_SUITE)}/{run_id}/test-cases", query={"page_size": value})
        assert bad.status == 400, value


@pytest.mark.parametrize(
    ("suite", "passed"),
    [
        pytest.param(FAQ_SUITE, True, id="good-suite"),
        pytest.param(REGRESSED_SUITE, False, id="regressed-suite"),
    ],
)
def test_execute_runs_server_side_then_completes_with_a_verdict(fp, clock, suite, passed):
    """runs/execute answers 201 with the results object, in-progress and passed null; the server produces
    every output itself; once evaluated the run is complete and passed follows the suite's thresholds."""
    response = fp.call("POST", f"{runs_path(suite)}/execute", {"environment": "prod"})
    assert response.status == 201
    first = response.json()
    assert set(first) == {"run_id", "suite_id", "status", "passed", "eval_results", "summary_statistics"}
    assert (first["status"], first["passed"], first["suite_id"]) == ("in-progress", None, suite)
    path = f"{runs_path(suite)}/{first['run_id']}/results"
    statuses = []
    for t in range(0, 30):
        clock.now = t
        statuses.append(fp.call("GET", path).json()["status"])
    assert statuses[0] == "in-progress" and statuses[-1] == "complete"
    done = fp.call("GET", path).json()
    assert done["passed"] is passed
    accuracy = done["summary_statistics"]["auto_evaluation"]["Answer Accuracy"]
    assert accuracy["pass"] + accuracy["fail"] == 9
    assert (accuracy["fail"] == 0) is passed
    assert fp.run(first["run_id"])["sessions_count"] == 9


def test_suite_lookups_are_404(fp):
    """An unknown suite, and a run of another suite, are 404 with a message."""
    unknown = fp.call("POST", runs_path(new_id()), {})
    assert (unknown.status, unknown.json()) == (404, {"message": "Test suite not found"})
    run_id = fp.call("POST", runs_path(FAQ_SUITE), {}).json()["run_id"]
    other = fp.call("GET", f"{runs_path(AGENT_SUITE)}/{run_id}/results")
    assert (other.status, other.json()) == (404, {"message": "Test suite run not found"})
    plain = fp.create()["test_run_id"]
    assert fp.call("GET", f"{runs_path(FAQ_SUITE)}/{plain}/test-cases").status == 404
    assert fp.call("POST", runs_path(FAQ_SUITE), {"is_sdk": "yes"}).status == 400
