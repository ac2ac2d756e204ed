"""Fault injection on the Freeplay routes: the fp-* endpoint groups, every fault kind, and run fates."""

from __future__ import annotations

import json

import pytest
from fp_support import FAQ_SUITE, LATE, FpApi, new_id

from runner.errors import UsageError
from runner.simulator.faults import parse_faults


def fp_app(make_app, faults, **kw):
    return FpApi(make_app(faults=faults, **kw).app)


@pytest.mark.parametrize("group", ["fp-create", "fp-results", "fp-record", "fp-list", "fp-cases"])
def test_freeplay_groups_parse(group):
    (rule,) = parse_faults(f"{group}:503@#2").rules
    assert (rule.group, rule.fault.kind.value, rule.first) == (group, "503", 2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            "fp-results:fail", "'fail' applies to the fp-create group only", id="fail-outside-create"
        ),
        pytest.param("fp-record:never", "'never' applies to the fp-create or start group only", id="never"),
        pytest.param("fp-create:429=soon", "needs a number of seconds", id="bad-retry-after"),
        pytest.param("fp-nope:503", "unknown endpoint group 'fp-nope'", id="unknown-group"),
    ],
)
def test_freeplay_fault_rules_are_checked(spec, message):
    with pytest.raises(UsageError) as info:
        parse_faults(spec)
    assert message in info.value.message


def test_each_group_covers_its_routes(make_app):
    """Each route is faulted by its own group only: a 503 on every request of that group."""
    groups = {
        "fp-create": ("POST", "test-runs", {"dataset_name": "support-faq"}),
        "fp-list": ("GET", "test-runs", None),
        "fp-record": (
            "POST",
            f"sessions/{new_id()}/completions",
            {"messages": [{"role": "user", "content": "x"}]},
        ),
    }
    for group, (method, path, body) in groups.items():
        fp = fp_app(make_app, f"{group}:503")
        assert fp.call(method, path, body).status == 503
        others = [g for g in groups if g != group]
        for other in others:
            m, p, b = groups[other]
            assert fp.call(m, p, b).status in (200, 201)
    fp = fp_app(make_app, "fp-results:503;fp-cases:502")
    run_id = fp.call("POST", f"test-suites/{FAQ_SUITE}/runs", {}).json()["run_id"]
    assert fp.call("GET", f"test-runs/id/{run_id}").status == 503
    assert fp.call("GET", f"test-suites/{FAQ_SUITE}/runs/{run_id}/results").status == 503
    assert fp.call("GET", f"test-suites/{FAQ_SUITE}/runs/{run_id}/test-cases").status == 502


def test_429_has_a_message_body_with_or_without_retry_after(make_app):
    fp = fp_app(make_app, "fp-list:429=3@#1;fp-list:429=none@#2")
    first, second, third = (fp.call("GET", "test-runs") for _ in range(3))
    assert first.status == 429 and ("Retry-After", "3") in first.headers and "message" in first.json()
    assert second.status == 429 and not any(k == "Retry-After" for k, _ in second.headers)
    assert second.json() == {"message": "Too many requests."}
    assert third.status == 200
    assert fp.app.stats()["faults"] == {"429": 2}


def test_refusing_faults_answer_before_auth_and_do_not_create(make_app):
    fp = fp_app(make_app, "fp-create:500@#1;fp-create:reset@#2")
    assert fp.call("POST", "test-runs", {"dataset_name": "support-faq"}, key=None).status == 500
    assert fp.call("POST", "test-runs", {"dataset_name": "support-faq"}).reset
    assert fp.call("GET", "test-runs").json() == {"test_runs": []}


def test_drop_on_create_stores_the_run_then_resets(make_app):
    """drop: the run exists (a client must look it up, not re-create it blindly) but no answer arrives."""
    fp = fp_app(make_app, "fp-create:drop@#1")
    response = fp.call("POST", "test-runs", {"dataset_name": "support-faq", "test_run_name": "ref-123"})
    assert response.reset_after_processing and not response.reset
    listed = fp.call("GET", "test-runs").json()["test_runs"]
    assert [r["name"] for r in listed] == ["ref-123"]


def test_mangling_faults_on_freeplay_answers(make_app):
    fp = fp_app(
        make_app,
        "fp-results:missing@#1;fp-results:unknown_status=paused@#2;fp-list:missing=name;fp-results:truncated@#3",
    )
    run_id = fp.create()["test_run_id"]
    assert "status" not in fp.call("GET", f"test-runs/id/{run_id}").json()
    assert fp.call("GET", f"test-runs/id/{run_id}").json()["status"] == "paused"
    body = fp.call("GET", f"test-runs/id/{run_id}").body
    with pytest.raises(ValueError):
        json.loads(body)
    assert all("name" not in r for r in fp.call("GET", "test-runs").json()["test_runs"])


def test_slow_and_star_rules_count_freeplay_requests(make_app):
    fp = fp_app(make_app, "*:slow=7@#2")
    assert fp.call("GET", "test-runs").delay == 0
    assert fp.call("GET", "test-runs").delay == 7.0


def test_fail_fault_makes_the_run_end_failed(make_app, clock):
    """fail: the run is created and recorded as usual but ends ``failed`` with no auto evaluations."""
    fp = fp_app(make_app, "fp-create:fail@#1")
    run = fp.create(include_outputs=True)
    fp.record_answers(
        run["test_run_id"], run["test_cases"], {c["test_case_id"]: c["output"] for c in run["test_cases"]}
    )
    assert fp.run(run["test_run_id"])["status"] == "in-progress"
    clock.now = LATE
    detail = fp.run(run["test_run_id"])
    assert detail["status"] == "failed" and detail["summary_statistics"]["auto_evaluation"] == {}
    assert fp.app.stats()["faults"] == {"fail": 1}


def test_never_fault_keeps_the_run_in_progress(make_app, clock):
    fp = fp_app(make_app, "fp-create:never@#1")
    response = fp.call("POST", f"test-suites/{FAQ_SUITE}/runs/execute", {})
    run_id = response.json()["run_id"]
    clock.now = 100 * LATE
    results = fp.call("GET", f"test-suites/{FAQ_SUITE}/runs/{run_id}/results").json()
    assert (results["status"], results["passed"]) == ("in-progress", None)
    assert fp.run(run_id)["sessions_count"] == 9  # the outputs exist; their evaluations never finish


def test_a_fate_fault_on_a_rejected_create_is_not_counted(make_app):
    fp = fp_app(make_app, "fp-create:fail@#1")
    assert fp.call("POST", "test-runs", {"dataset_name": "nope"}).status == 404
    assert fp.app.stats()["faults"] == {}
