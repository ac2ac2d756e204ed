"""Run-start endpoints (api-contracts §A3): per-mode body schemas, status codes and run-count expansion."""

from __future__ import annotations

import pytest

from runner.simulator.modes import MODES

WS = "wss://agent.example.test/ws"
SPEC = {
    "version": "1",
    "suite": {"name": "checkout suite"},
    "scenarios": [
        {
            "key": "refund",
            "name": "Refund please",
            "instructions": "Ask for a refund.",
            "metrics": ["latency"],
        },
        {"key": "hello", "name": "Say hello", "instructions": "Say hi.", "frequency": 2, "metrics": [502]},
    ],
}

EXPANSION = [
    pytest.param(
        "run_scenarios",
        {
            "agent_id": 101,
            "scenarios": [201, 202],
            "frequency": 2,
            "personality_ids": [301, 302],
            "test_profile_ids": [401],
        },
        201,
        8,
        id="voice-multipliers",
    ),
    pytest.param(
        "run_scenarios",
        {
            "agent_id": 101,
            "scenarios": [201],
            "personality_ids": [301],
            "personality_id": 302,
            "test_profile_ids": [401, 402],
        },
        201,
        4,
        id="voice-single-ids-merge",
    ),
    pytest.param(
        "run_scenarios_text",
        {"agent_id": 101, "tags": ["refunds"], "personality_ids": [301, 302, 303]},
        201,
        9,
        id="text-tags",
    ),
    pytest.param(
        "run_scenarios_text",
        {"agent_id": 101, "scenarios": [201], "personality_id": 302},
        201,
        1,
        id="text-ignores-undeclared-personality_id",
    ),
    pytest.param(
        "run_scenarios_elevenlabs",
        {"agent_id": 101, "folder_path": "Billing", "project_id": 1},
        200,
        5,
        id="elevenlabs-folder",
    ),
    pytest.param(
        "run_scenarios_sip",
        {"agent_id": 101, "scenarios": [201, 202], "test_profile_ids": [401, 402]},
        200,
        4,
        id="sip-test-profiles",
    ),
    pytest.param(
        "run_scenarios_chirp",
        {"assistant_id": "asst_support_bot", "tags": ["smoke"]},
        200,
        3,
        id="chirp-by-assistant-id",
    ),
    pytest.param(
        "run_scenarios_with_websockets",
        {
            "agent": 101,
            "frequency": 3,
            "scenarios": [{"scenario": 201, "websocket_url": WS}, {"scenario": 202, "websocket_url": WS}],
        },
        201,
        6,
        id="websocket",
    ),
    pytest.param(
        "run_scenarios_pipecat",
        {
            "agent": 101,
            "scenarios": [
                {"scenario": 201, "pipecat_room_url": "https://x.daily.co/a"},
                {"scenario": 201, "pipecat_room_url": "https://x.daily.co/b"},
            ],
        },
        200,
        2,
        id="pipecat-v1-per-entry",
    ),
    pytest.param(
        "run_scenarios_pipecat_v2",
        {
            "agent": 101,
            "frequency": 2,
            "personality_ids": [301, 302],
            "scenarios": [{"scenario": 201}, {"scenario": 202}],
        },
        200,
        4,
        id="pipecat-v2-no-multiplier",
    ),
    pytest.param(
        "run_scenarios_livekit_v2",
        {"agent": 101, "scenarios": [{"scenario": 205}], "frequency": 3},
        200,
        3,
        id="livekit-v2",
    ),
    pytest.param(
        "run_scenarios_retell_webrtc", {"agent_id": 101, "scenarios": [201, 202, 203]}, 200, 3, id="retell"
    ),
    pytest.param(
        "run_scenarios_retell_webrtc",
        {"retell_agent_id": "asst_support_bot", "scenarios": [201]},
        200,
        1,
        id="retell-by-retell-agent-id",
    ),
    pytest.param(
        "run_scenarios_vapi_webrtc",
        {"agent_id": 102, "vapi_assistant_id": "vapi-1", "scenarios": [201], "frequency": 2},
        200,
        2,
        id="vapi",
    ),
    pytest.param(
        "run_scenarios_email", {"agent_id": 101, "scenarios": [201, 202], "frequency": 2}, 200, 4, id="email"
    ),
    pytest.param("run_scenarios_json", {"agent_id": 101, "spec": SPEC}, 200, 3, id="json-spec"),
    pytest.param(
        "run_scenarios_json",
        {"agent_id": 101, "spec": SPEC, "frequency": 2},
        200,
        4,
        id="json-body-frequency-overrides",
    ),
]


@pytest.mark.parametrize(("endpoint", "body", "status", "runs"), EXPANSION)
def test_start_expands_runs_and_answers_the_declared_code(api, endpoint, body, status, runs):
    """Each mode answers its declared 2xx with a pending result whose runs array has the expected size."""
    response = api.start(endpoint, body)
    assert response.status == status, response.body
    result = response.json()
    assert isinstance(result["id"], int) and result["status"] == "pending" and result["success_rate"] == 0
    assert isinstance(result["runs"], list) and len(result["runs"]) == runs
    assert {r["status"] for r in result["runs"]} == {"pending"}
    assert api.result(result["id"])["total_runs_count"] == runs


def test_every_mode_is_served_under_v1_external_and_v2(api):
    """scenarios/, scenarios-external/ (v1) and v2 scenarios/ all start runs, with or without the slash."""
    body = {"agent_id": 101, "scenarios": [201]}
    for prefix in (
        "/test_framework/v1/scenarios",
        "/test_framework/v1/scenarios-external",
        "/test_framework/v2/scenarios",
    ):
        for slash in ("/", ""):
            response = api.post(f"{prefix}/run_scenarios_sip{slash}", body)
            assert response.status == 200, (prefix, slash)
    assert len(MODES) == 13


def test_email_start_returns_the_full_result_item(api):
    """Email answers with the list-item serializer (counters included) instead of the summary."""
    result = api.start("run_scenarios_email", {"agent_id": 101, "scenarios": [201], "frequency": 1}).json()
    assert result["total_runs_count"] == 1 and result["agent_name"] == "support-bot"
    assert isinstance(result["runs"], list)


def test_voice_name_settings_and_run_type_are_stored(api):
    """The name labels the result, run_settings snapshots the overrides, text + websocket_url is WebSocket."""
    rid = api.start(
        "run_scenarios_text",
        {
            "agent_id": 101,
            "scenarios": [201],
            "name": "PR #42",
            "frequency": 2,
            "websocket_url": WS,
            "concurrency_limit": 1,
        },
    ).json()["id"]
    detail = api.result(rid)
    assert detail["name"] == "PR #42" and detail["run_as_text"] is True and detail["run_type"] == "WebSocket"
    assert detail["run_settings"] == {"frequency": 2, "concurrency_limit": 1}


INVALID = [
    pytest.param(
        "run_scenarios",
        {"agent_id": 101},
        ["Provide exactly one of scenarios, tags or folder_path."],
        id="voice-no-selector",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [201], "tags": ["smoke"]},
        ["Provide exactly one of scenarios, tags or folder_path."],
        id="voice-two-selectors",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [201, "x"]},
        {"scenarios": {"1": ["A valid integer is required."]}},
        id="voice-non-integer-scenario",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": "all"},
        {"scenarios": ['Expected a list of items but got type "str".']},
        id="voice-scenarios-not-a-list",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [999]},
        {"scenarios": ['Invalid pk "999" - object does not exist.']},
        id="voice-unknown-scenario",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 999, "scenarios": [201]},
        {"agent_id": ['Invalid pk "999" - object does not exist.']},
        id="voice-unknown-agent",
    ),
    pytest.param(
        "run_scenarios", {"scenarios": [201]}, {"agent_id": ["This field is required."]}, id="voice-no-agent"
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [201], "personality_ids": [304]},
        ["Invalid personalities provided."],
        id="voice-disabled-personality",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [201], "personality_id": 999},
        ["Invalid personalities provided."],
        id="voice-unknown-personality",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [201], "test_profile_ids": [999]},
        ["Invalid test profiles provided."],
        id="voice-unknown-test-profile",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [201], "frequency": 0},
        {"frequency": ["Ensure this value is greater than or equal to 1."]},
        id="voice-frequency-zero",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "folder_path": "Billing"},
        {"project_id": ["This field is required when folder_path is given."]},
        id="voice-folder-no-project",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [201], "mode": "both"},
        {"mode": ['"both" is not a valid choice.']},
        id="voice-bad-mode",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [201], "agent_number": "555-0100"},
        {"agent_number": ["Enter a valid phone number."]},
        id="voice-bad-phone",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "tags": ["nope"]},
        ["No scenarios found with tags: nope."],
        id="voice-tags-match-nothing",
    ),
    pytest.param(
        "run_scenarios",
        {"agent_id": 101, "scenarios": [201], "frequency": 2000},
        ["Too many runs requested (2000); the simulator allows at most 1000."],
        id="voice-too-many-runs",
    ),
    pytest.param(
        "run_scenarios_text",
        {"agent_id": 101, "scenarios": [201], "websocket_url": "http://x"},
        {"websocket_url": ["Enter a valid URL (ws:// or wss://)."]},
        id="text-http-websocket-url",
    ),
    pytest.param(
        "run_scenarios_with_websockets",
        {"agent_id": 101, "scenarios": [201]},
        {
            "scenarios": [{"non_field_errors": ["Invalid data. Expected a dictionary, but got int."]}],
            "frequency": ["This field is required."],
        },
        id="websocket-sdk-cli-body",
    ),
    pytest.param(
        "run_scenarios_with_websockets",
        {"agent": 101, "frequency": 1, "scenarios": [{"scenario": 201}]},
        {"scenarios": [{"websocket_url": ["This field is required."]}]},
        id="websocket-missing-url",
    ),
    pytest.param(
        "run_scenarios_with_websockets",
        {"agent": 101, "frequency": 101, "scenarios": [{"scenario": 201, "websocket_url": WS}]},
        {"frequency": ["Ensure this value is less than or equal to 100."]},
        id="websocket-frequency-101",
    ),
    pytest.param(
        "run_scenarios_with_websockets",
        {"frequency": 1, "scenarios": [{"scenario": 201, "websocket_url": WS}]},
        {"agent": ["This field is required when the scenarios have no agent."]},
        id="websocket-no-agent",
    ),
    pytest.param(
        "run_scenarios_pipecat_v2",
        {"agent": 101, "scenarios": [201]},
        {"scenarios": [{"non_field_errors": ["Invalid data. Expected a dictionary, but got int."]}]},
        id="pipecat-v2-integer-scenarios",
    ),
    pytest.param(
        "run_scenarios_pipecat",
        {"agent": 101, "scenarios": [{"scenario": 201}]},
        {"scenarios": [{"pipecat_room_url": ["This field is required."]}]},
        id="pipecat-v1-no-room",
    ),
    pytest.param(
        "run_scenarios_livekit_v2",
        {"agent": 101, "scenarios": []},
        {"scenarios": {"non_field_errors": ["This list may not be empty."]}},
        id="livekit-empty-scenarios",
    ),
    pytest.param(
        "run_scenarios_vapi_webrtc",
        {"agent_id": 101, "scenarios": [201]},
        {"vapi_assistant_id": ["This field is required."]},
        id="vapi-no-assistant",
    ),
    pytest.param(
        "run_scenarios_email",
        {"agent_id": 101, "scenarios": [201]},
        {"frequency": ["This field is required."]},
        id="email-no-frequency",
    ),
    pytest.param(
        "run_scenarios_email",
        {"agent_id": 101, "scenarios": [201], "frequency": 1, "agent_email": "bot"},
        {"agent_email": ["Enter a valid email address."]},
        id="email-bad-address",
    ),
    pytest.param(
        "run_scenarios_json", {"agent_id": 101}, {"spec": ["This field is required."]}, id="json-no-spec"
    ),
    pytest.param(
        "run_scenarios_json",
        {"agent_id": 101, "spec": SPEC, "channel": "fax"},
        {"channel": ['"fax" is not a valid choice.']},
        id="json-bad-channel",
    ),
    pytest.param(
        "run_scenarios",
        [201],
        {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        id="body-not-an-object",
    ),
]


@pytest.mark.parametrize(("endpoint", "body", "expected"), INVALID)
def test_invalid_bodies_get_drf_style_400s(api, endpoint, body, expected):
    """Field errors are {"field": [msg]}; view-level errors are a bare array; nothing is created."""
    response = api.start(endpoint, body)
    assert response.status == 400
    assert response.json() == expected
    assert api.app.state.results == {}


def test_unparseable_json_is_a_400_with_detail(api):
    response = api.start("run_scenarios", raw=b'{"agent_id": 101,')
    assert response.status == 400 and response.json()["detail"].startswith("JSON parse error")


def test_non_json_content_type_is_415(api):
    response = api.start("run_scenarios", raw=b"agent_id=101", headers={"content-type": "text/plain"})
    assert response.status == 415


def test_json_spec_errors_are_reported_at_once_by_location(api):
    """All spec problems come back together, keyed like scenarios[0].metrics[1]."""
    spec = {
        "version": "2",
        "scenarios": [
            {"name": "a", "instructions": "x", "metrics": ["latency", "nope"]},
            {"instructions": "y", "personality": 304},
        ],
    }
    response = api.start("run_scenarios_json", {"agent_id": 101, "spec": spec})
    assert response.status == 400
    assert response.json() == {
        "version": ['Must be "1".'],
        "scenarios[0].metrics[1]": ['Unknown metric "nope".'],
        "scenarios[1].name": ["This field is required."],
        "scenarios[1].personality": ['Unknown or disabled personality "304".'],
    }


def test_json_dry_run_plans_without_creating_anything(api):
    response = api.start("run_scenarios_json", {"agent_id": 101, "spec": SPEC}, query={"dry_run": "true"})
    assert response.status == 200
    assert response.json() == {
        "dry_run": True,
        "valid": True,
        "plan": {
            "channel": "voice",
            "scenario_count": 2,
            "total_runs": 3,
            "estimated_cost": 0.75,
            "agent": 101,
            "name": "checkout suite",
        },
    }
    assert api.app.state.results == {} and api.app.state.adhoc == {}


def test_json_scenarios_keep_their_ids_and_metrics(api, clock):
    """Spec scenarios get ids stable per (agent, key); runs evaluate only the metrics the spec lists."""
    first = api.start("run_scenarios_json", {"agent_id": 101, "spec": SPEC, "channel": "text"}).json()
    second = api.start("run_scenarios_json", {"agent_id": 101, "spec": SPEC}).json()
    assert [r["scenario"] for r in first["runs"]] == [r["scenario"] for r in second["runs"]]
    assert first["name"] == "checkout suite" and first["run_as_text"] is True
    clock.now = 10_000
    runs = list(api.result(first["id"])["runs"].values())
    assert runs[0]["scenario_name"] == "Refund please"
    assert [m["name"] for m in runs[0]["evaluation"]["metrics"]] == ["Latency"]
    assert [m["name"] for m in runs[1]["evaluation"]["metrics"]] == ["Greeting"]
