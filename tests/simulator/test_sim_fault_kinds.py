"""The fault kinds of the reliability matrix (runner.simulator.faults): what each does to the answer.

Auth refusals (401/403) and ``vanish`` (404) refuse like a gateway, before anything is processed; the body
faults ``empty``, ``strings``, ``runs_list``, ``backwards`` and ``contradict`` rewrite a processed 2xx
answer; ``cut`` breaks a processed answer off half-way through its body; ``429=date:S`` dates its
Retry-After. The ``make_app``/``clock`` fixtures come from this folder's conftest.
"""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
from fp_support import FpApi

from runner.errors import UsageError
from runner.simulator.app import SimApp
from runner.simulator.faults import Fault, FaultKind, parse_faults, refusal
from runner.simulator.server import SimServer
from runner.simulator.transport import mock_transport

BODY = {"agent_id": 101, "scenarios": [201, 202], "name": "kinds"}
RESULTS = "/test_framework/v1/results/"
START = "/test_framework/v1/scenarios/run_scenarios/"
KEY_HEADER = {"X-CEKURA-API-KEY": "k"}
LATE = 10_000.0


def started(api) -> int:
    response = api.start("run_scenarios", BODY)
    assert response.status == 201, response.body
    rid: int = response.json()["id"]
    return rid


# -- grammar ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kind", "arg"),
    [
        pytest.param("results:429=date:3@#2", "429", "date:3", id="429-http-date"),
        pytest.param("results:429=date:0.5", "429", "date:0.5", id="429-http-date-fraction"),
        pytest.param("results:401@#3", "401", None, id="401"),
        pytest.param("fp-results:403", "403", None, id="403"),
        pytest.param("results:vanish@#4-", "vanish", None, id="vanish"),
        pytest.param("start:cut@#1", "cut", None, id="cut"),
        pytest.param("results:empty@50%", "empty", None, id="empty"),
        pytest.param("results:strings", "strings", None, id="strings"),
        pytest.param("results:runs_list", "runs_list", None, id="runs-list"),
        pytest.param("results:backwards@#3", "backwards", None, id="backwards"),
        pytest.param("list:contradict", "contradict", None, id="contradict"),
    ],
)
def test_the_new_kinds_parse(spec, kind, arg):
    (rule,) = parse_faults(spec).rules
    assert (rule.fault.kind.value, rule.fault.arg) == (kind, arg)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("results:429=date:", "needs a number of seconds", id="date-without-seconds"),
        pytest.param("results:429=date:-1", "needs a number of seconds", id="date-negative"),
        pytest.param("results:429=later:3", "needs a number of seconds", id="unknown-form"),
        pytest.param("results:vanish=3", "takes no argument", id="argument-on-vanish"),
        pytest.param("results:strings=x", "takes no argument", id="argument-on-strings"),
    ],
)
def test_bad_arguments_of_the_new_kinds_are_usage_errors(spec, message):
    with pytest.raises(UsageError) as info:
        parse_faults(spec)
    assert message in info.value.message and info.value.hint


def test_retry_after_seconds_in_either_form():
    assert Fault(FaultKind.TOO_MANY, "date:3").seconds == 3.0
    assert Fault(FaultKind.TOO_MANY, "date:3").http_date
    assert not Fault(FaultKind.TOO_MANY, "3").http_date
    assert not Fault(FaultKind.TOO_MANY).http_date


# -- 429 with an HTTP date ---------------------------------------------------------------------------------


def test_429_date_is_an_http_date_rounded_up_from_now():
    """Retry-After: an IMF-fixdate S seconds after ``now``, rounded up to a whole second (never earlier)."""
    response = refusal(Fault(FaultKind.TOO_MANY, "date:3"), now=1_767_225_600.25)
    assert response.status == 429
    assert dict(response.headers)["Retry-After"] == "Thu, 01 Jan 2026 00:00:04 GMT"
    assert response.json() == {"detail": "Request was throttled. Expected available in 3 seconds."}
    freeplay = refusal(Fault(FaultKind.TOO_MANY, "date:2"), freeplay=True, now=1_767_225_600.0)
    assert dict(freeplay.headers)["Retry-After"] == "Thu, 01 Jan 2026 00:00:02 GMT"
    assert "message" in freeplay.json()


def test_429_date_through_the_app_is_seconds_ahead_of_the_wall_clock(make_app):
    api = make_app(faults="list:429=date:5@#1")
    before = time.time()
    response = api.get(RESULTS)
    when = email.utils.parsedate_to_datetime(dict(response.headers)["Retry-After"]).timestamp()
    assert response.status == 429 and before + 5 <= when <= time.time() + 6
    assert api.get(RESULTS).status == 200


# -- refusals: 401, 403, vanish --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "body"),
    [
        pytest.param("401", 401, {"detail": "Invalid API key."}, id="401"),
        pytest.param("403", 403, {"detail": "You do not have permission to perform this action."}, id="403"),
        pytest.param("vanish", 404, {"detail": "Not found."}, id="vanish"),
    ],
)
def test_refusals_answer_the_platforms_error_without_processing(make_app, kind, status, body):
    """A refused start creates nothing; the same request afterwards goes through normally."""
    api = make_app(faults=f"start:{kind}@#1")
    response = api.start("run_scenarios", BODY)
    assert (response.status, response.json()) == (status, body)
    assert api.app.state.results == {}
    assert api.start("run_scenarios", BODY).status == 201
    assert api.app.stats()["faults"] == {kind: 1}


def test_vanish_makes_an_existing_result_404_then_it_is_back(make_app):
    api = make_app(faults="results:vanish@#2")
    rid = started(api)
    assert api.get(f"{RESULTS}{rid}/").status == 200
    gone = api.get(f"{RESULTS}{rid}/")
    assert (gone.status, gone.json()) == (404, {"detail": "Not found."})
    assert api.get(f"{RESULTS}{rid}/").status == 200


def test_freeplay_refusals_have_message_bodies(make_app):
    fp = FpApi(make_app(faults="fp-list:401@#1;fp-list:403@#2;fp-list:vanish@#3").app)
    answers = [fp.call("GET", "test-runs") for _ in range(4)]
    assert [(a.status, a.json()) for a in answers[:3]] == [
        (401, {"message": "Requests must be authenticated with a valid API key."}),
        (403, {"message": "Forbidden"}),
        (404, {"message": "Not found"}),
    ]
    assert answers[3].status == 200


# -- body faults -----------------------------------------------------------------------------------------


def test_empty_is_a_2xx_without_a_body_and_leaves_errors_alone(make_app):
    api = make_app(faults="results:empty")
    rid = started(api)
    response = api.get(f"{RESULTS}{rid}/")
    assert (response.status, response.body) == (200, b"")
    assert api.get(f"{RESULTS}999999/").json() == {"detail": "Not found."}
    assert api.app.stats()["faults"] == {"empty": 1}


def test_malformed_is_an_html_page_with_an_html_content_type(make_app):
    """``malformed`` is the "HTML instead of JSON" fault: a proxy or login page in a 2xx answer."""
    api = make_app(faults="results:malformed")
    rid = started(api)
    response = api.get(f"{RESULTS}{rid}/")
    assert response.status == 200 and response.body.startswith(b"<html>")
    assert dict(response.headers)["Content-Type"] == "text/html"


def test_strings_turns_counters_and_success_rate_into_strings(make_app, clock):
    """Same numbers, JSON strings: the detail, and every item of the results list."""
    api = make_app(faults="results:strings;list:strings")
    rid = started(api)
    clock.now = LATE
    plain = api.app.render.detail(api.app.state.results[rid])
    detail = api.result(rid)
    counters = [k for k in plain if k.endswith("_count")] + ["success_rate"]
    assert len(counters) >= 5
    for key in counters:
        assert detail[key] == str(plain[key]), key
    assert isinstance(detail["runs"], dict)  # nothing else changes
    (item,) = api.get(RESULTS).json()["results"]
    assert item["success_rate"] == str(plain["success_rate"]) and isinstance(item["total_runs_count"], str)


def test_runs_list_turns_the_detail_runs_map_into_a_list(make_app, clock):
    api = make_app(faults="results:runs_list@#1")
    rid = started(api)
    clock.now = LATE
    as_list = api.result(rid)["runs"]
    as_map = api.result(rid)["runs"]
    assert isinstance(as_list, list) and isinstance(as_map, dict)
    assert as_list == list(as_map.values())


@pytest.mark.parametrize(
    ("at", "real", "shown"),
    [
        pytest.param(0.0, "pending", "pending", id="pending-stays"),
        pytest.param(2.5, "in_queue", "pending", id="in-queue-to-pending"),
        pytest.param(6.0, "running", "in_queue", id="running-to-in-queue"),
        pytest.param(LATE, "completed", "evaluating", id="completed-to-evaluating"),
    ],
)
def test_backwards_moves_the_status_one_step_back(make_app, clock, at, real, shown):
    api = make_app(faults="results:backwards@#1")
    rid = started(api)
    clock.now = at
    assert api.app.render.detail(api.app.state.results[rid])["status"] == real
    assert api.result(rid)["status"] == shown
    assert api.result(rid)["status"] == real  # only the scheduled request went back


def test_backwards_on_freeplay_returns_a_complete_run_to_in_progress(make_app, clock):
    fp = FpApi(make_app(faults="fp-results:backwards@#2").app)
    run_id = fp.call("POST", "test-runs", {"dataset_name": "support-faq"}).json()["test_run_id"]
    assert fp.call("GET", f"test-runs/id/{run_id}").json()["status"] == "in-progress"  # not recorded yet
    for case in fp.app.freeplay.state.runs[run_id].dataset.cases:
        fp.app.freeplay.state.record(
            fp.app.freeplay.state.runs[run_id], kind="completion", record_id=case.id,
            session_id=case.id, case_id=case.id, text=case.answer, eval_results=(),
        )  # fmt: skip
    clock.now = LATE
    assert fp.call("GET", f"test-runs/id/{run_id}").json()["status"] == "in-progress"
    assert fp.call("GET", f"test-runs/id/{run_id}").json()["status"] == "complete"


def test_contradict_makes_success_rate_disagree_with_the_counts(make_app, clock):
    """0.0 when every run succeeded, 100.0 otherwise; counters untouched."""
    api = make_app(faults="results:contradict")
    rid = started(api)
    clock.now = LATE
    plain = api.app.render.detail(api.app.state.results[rid])
    detail = api.result(rid)
    assert plain["success_runs_count"] == plain["total_runs_count"] == 2 and plain["success_rate"] == 100.0
    assert detail["success_rate"] == 0.0 and detail["success_runs_count"] == 2
    regressed = make_app(faults="results:contradict")
    body = {**BODY, "agent_id": 102, "scenarios": [201, 202, 203, 204, 205]}
    rid = regressed.start("run_scenarios", body).json()["id"]
    clock.now = 2 * LATE
    plain = regressed.app.render.detail(regressed.app.state.results[rid])
    assert plain["success_runs_count"] < plain["total_runs_count"]  # the regressed agent fails some
    assert regressed.result(rid)["success_rate"] == 100.0


def test_body_faults_are_deterministic_for_a_seed(make_app, clock):
    """The same spec and seed fault the same requests with the same answers."""
    bodies = []
    for _ in range(2):
        api = make_app(seed=5, faults="results:backwards@0.5;results:strings@0.5")
        rid = started(api)
        bodies.append([api.get(f"{RESULTS}{rid}/").body for _ in range(12)])
    assert bodies[0] == bodies[1]


# -- cut: a response broken off half-way -----------------------------------------------------------------


def test_cut_processes_the_request_and_breaks_the_answer_off(make_app):
    api = make_app(faults="start:cut@#1")
    response = api.start("run_scenarios", BODY)
    assert response.cut and response.status == 201
    assert len(api.app.state.results) == 1  # the start took effect


def test_cut_over_the_mock_transport_is_a_remote_protocol_error(make_app):
    api = make_app(faults="start:cut@#1")
    with (
        httpx.Client(transport=mock_transport(api.app), base_url="http://sim.test") as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.post(
            "/test_framework/v1/scenarios/run_scenarios/", json=BODY, headers={"X-CEKURA-API-KEY": "k"}
        )
    assert len(api.app.state.results) == 1


def test_cut_over_tcp_sends_the_status_then_resets_mid_body(world, clock):
    """Over a real socket the client sees the status line and part of the body, then the connection
    breaks: httpx raises a transport error while reading the body, and the result exists."""
    app = SimApp(world, clock=clock, faults=parse_faults("start:cut@#1"))
    with SimServer(app, "127.0.0.1", 0) as server, httpx.Client(base_url=server.base_url) as client:
        request = client.build_request(
            "POST",
            "/test_framework/v1/scenarios/run_scenarios/",
            json=BODY,
            headers={"X-CEKURA-API-KEY": "k"},
        )
        response = client.send(request, stream=True)
        assert response.status_code == 201
        with pytest.raises(httpx.TransportError):
            response.read()
        response.close()
        assert client.get(RESULTS, headers=KEY_HEADER).json()["count"] == 1
