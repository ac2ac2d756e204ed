"""Run and result lifecycle over simulated time: statuses, counters, concurrency, determinism, quality."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from runner.simulator.state import TERMINAL, Timeline

LATE = 10_000.0  # simulated seconds after which every default-world run has finished
RUN_ORDER = ["pending", "in_queue", "running", "evaluating", "completed"]


def world_with(world, agent_id=101, **quality):
    """The world with one agent's quality replaced (and its per-scenario overrides dropped)."""
    agent = world.agents[agent_id]
    changed = replace(agent, quality=replace(agent.quality, **quality), scenario_quality={})
    return replace(world, agents={**world.agents, agent_id: changed})


def start(api, **body):
    response = api.start("run_scenarios", {"agent_id": 101, "scenarios": [201, 202], **body})
    assert response.status == 201, response.body
    return response.json()["id"]


@pytest.mark.parametrize(
    ("t", "status"),
    [(0, "pending"), (1, "in_queue"), (3, "running"), (7, "evaluating"), (9, "completed"), (99, "completed")],
    ids=lambda v: str(v),
)
def test_timeline_status_is_a_function_of_time(t, status):
    """pending -> in_queue -> running -> evaluating -> completed at the timeline's instants."""
    assert (
        Timeline(queued_at=1, started_at=3, eval_at=7, finished_at=9, final="completed").status_at(t)
        == status
    )


def test_result_progresses_with_counters_and_percent_success_rate(api, clock):
    """Each GET shows the state at the clock's time: statuses only move forward, counters are integers,
    success_rate is 100 x success/total and the result completes when every run is terminal."""
    rid = start(api, frequency=3)
    seen = []
    previous = {}
    while True:
        detail = api.result(rid)
        runs = detail["runs"]
        for key, run in runs.items():
            assert key == str(run["id"])
            assert RUN_ORDER.index(run["status"]) >= RUN_ORDER.index(previous.get(key, "pending"))
            previous[key] = run["status"]
        for counter in (
            "total_runs_count",
            "completed_runs_count",
            "success_runs_count",
            "failed_runs_count",
        ):
            assert type(detail[counter]) is int
        assert detail["success_rate"] == pytest.approx(100 * detail["success_runs_count"] / 6, abs=0.01)
        seen.append(detail["status"])
        if detail["status"] in TERMINAL:
            break
        clock.advance(1)
    assert seen[0] == "pending" and seen[-1] == "completed"
    assert {"in_queue", "running"} <= set(seen)
    assert detail["completed_runs_count"] == detail["total_runs_count"] == 6
    assert detail["success_rate"] == 100.0 and detail["successful_calls"] == sorted(int(k) for k in runs)


def test_completed_runs_carry_their_evaluation(api, clock):
    """A completed run has success, expected outcome 0-100 with ✅/❌ lines, metrics, transcript, duration."""
    rid = start(api)
    clock.now = LATE
    run = next(iter(api.result(rid)["runs"].values()))
    assert run["status"] == "completed" and run["success"] is True and run["error_message"] == ""
    assert run["expected_outcome"]["score"] == 100
    assert all(line.startswith("✅") for line in run["expected_outcome"]["explanation"])
    assert {m["name"] for m in run["evaluation"]["metrics"]} >= {"Latency", "Greeting", "Sentiment"}
    assert run["transcript"].startswith("[00:0") and "Main Agent: " in run["transcript"]
    minutes, seconds = run["duration"].split(":")
    assert 30 <= int(minutes) * 60 + int(seconds) <= 120
    assert (
        run["scenario_name"] == "Greeting and identity check" and run["personality_name"] == "Calm customer"
    )


def test_concurrency_limit_caps_runs_past_the_queue(api, clock):
    """With concurrency_limit N, at most N runs of the result are running/evaluating at any instant
    (checked at, and just before, every instant a run changes status), and the batch still finishes."""
    rid = start(api, frequency=4, concurrency_limit=2)
    timelines = [api.app.state.runs[int(k)].timeline for k in api.result(rid)["runs"]]
    instants = {t for tl in timelines for t in (tl.queued_at, tl.started_at, tl.eval_at, tl.finished_at)}
    peak = 0
    for t in sorted(instants | {t - 0.001 for t in instants}):
        clock.now = t
        statuses = [r["status"] for r in api.result(rid)["runs"].values()]
        active = sum(s in ("running", "evaluating") for s in statuses)
        assert active <= 2, (t, statuses)
        peak = max(peak, active)
    assert peak == 2
    assert api.result(rid)["status"] == "completed"


def test_outcomes_are_deterministic_by_seed(make_app, clock):
    """Same seed and same requests give byte-identical results; another seed gives other outcomes."""
    bodies = []
    for seed in (3, 3, 4):
        api = make_app(seed=seed)
        rid = api.start("run_scenarios", {"agent_id": 102, "tags": ["refunds"], "frequency": 5}).json()["id"]
        clock.now = LATE
        bodies.append(json.dumps(api.result(rid), sort_keys=True))
        clock.now = 0.0
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]


def test_outcomes_do_not_depend_on_the_order_of_concurrent_starts(make_app, clock):
    """Gates started concurrently get the same outcomes whichever start arrives first: a run's outcome is
    keyed by what it is (agent, endpoint, scenario, personality, test profile, repeat), not by result id."""

    def outcomes(order):
        api = make_app(seed=5)
        ids = {a: api.start("run_scenarios", {"agent_id": a, "tags": ["smoke"]}).json()["id"] for a in order}
        clock.now = LATE
        seen = {
            a: [(r["scenario"], r["success"], r["expected_outcome"], r["evaluation"], r["duration"])
                for r in api.result(rid)["runs"].values()]
            for a, rid in ids.items()
        }  # fmt: skip
        clock.now = 0.0
        return seen

    assert outcomes((101, 102)) == outcomes((102, 101))


def test_regressed_agent_is_clearly_worse(api, clock):
    """On the same scenarios, agent 102 has a much lower success rate and much higher latency than 101."""
    body = {"scenarios": list(range(201, 209)), "frequency": 5}
    good = api.start("run_scenarios", {"agent_id": 101, **body}).json()["id"]
    bad = api.start("run_scenarios", {"agent_id": 102, **body}).json()["id"]
    clock.now = LATE
    g, b = api.result(good), api.result(bad)
    assert g["success_rate"] >= 90 and b["success_rate"] <= 70
    assert b["latency_data"]["p50"] > 2 * g["latency_data"]["p50"]
    assert b["failed_infrastructure_runs"] and not g["failed_infrastructure_runs"]
    assert g["status"] == b["status"] == "completed"  # failed runs do not make the result fail
    reasons = b["failed_reasons"]
    assert reasons["total_failed_runs"] == b["failed_runs_count"] == 40 - b["success_runs_count"]


def test_infrastructure_failures(make_app, world, clock):
    """A run that cannot connect ends 'failed' with an error message and no evaluation; a result whose
    runs all failed to connect is 'failed'; runs that never connect end 'timeout'."""
    api = make_app(app_world=world_with(world, infra_error=1.0))
    rid = start(api)
    clock.now = LATE
    detail = api.result(rid)
    assert detail["status"] == "failed"
    run = next(iter(detail["runs"].values()))
    assert run["status"] == "failed" and run["success"] is False and run["error_message"]
    assert run["evaluation"] is None and run["transcript"] == ""
    assert sorted(detail["failed_infrastructure_runs"]) == sorted(int(k) for k in detail["runs"])

    api = make_app(app_world=world_with(world, timeout=1.0))
    rid = start(api)
    assert api.result(rid)["status"] == "pending"
    clock.advance(world.timing.timeout_after + 10)
    assert api.result(rid)["status"] == "timeout"


def test_end_calls_cancels_in_flight_runs(api, clock):
    """end_calls answers 200 with an empty body; unfinished runs become cancelled, finished ones stay."""
    rid = start(api, frequency=2, concurrency_limit=1)
    clock.now = 120.0
    before = {k: r["status"] for k, r in api.result(rid)["runs"].items()}
    assert "completed" in before.values() and set(before.values()) - TERMINAL
    response = api.post(f"/test_framework/v1/results/{rid}/end_calls/")
    assert (response.status, response.body) == (200, b"")
    clock.now = LATE
    detail = api.result(rid)
    assert detail["status"] == "cancelled"
    for key, run in detail["runs"].items():
        assert run["status"] == ("completed" if before[key] == "completed" else "cancelled")
        if before[key] in ("pending", "in_queue"):
            assert run["executed_at"] is None  # cancelled before its call started
    assert detail["completed_runs_count"] == 4 and detail["success_runs_count"] == list(
        before.values()
    ).count("completed")


def test_end_calls_on_a_finished_result_changes_nothing(api, clock):
    rid = start(api)
    clock.now = LATE
    assert api.post(f"/test_framework/v1/results/{rid}/end_calls").status == 200
    assert api.result(rid)["status"] == "completed"


def test_rerun_creates_a_new_result_with_the_same_runs(api, clock):
    """rerun returns a new result (200, runs as an array) re-executing every run of the original."""
    rid = start(api, frequency=2, name="nightly")
    clock.now = LATE
    response = api.post(f"/test_framework/v1/results/{rid}/rerun/", {})
    assert response.status == 200
    new = response.json()
    assert new["id"] != rid and new["status"] == "pending" and new["name"] == "nightly"
    assert [r["scenario"] for r in new["runs"]] == [r["scenario"] for r in api.result(rid)["runs"].values()]
    clock.now = 2 * LATE
    assert api.result(new["id"])["status"] == "completed"
