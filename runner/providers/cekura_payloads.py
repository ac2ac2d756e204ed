"""Start-run request bodies for every Cekura mode (api-contracts §A3, §C-8): pure functions.

Each mode has its own endpoint and body shape; the SDK CLI's one-body-for-all is wrong for websocket,
livekit_v2, pipecat_v2 and vapi (§C-8), so bodies are built per mode as Cekura's own CI does.
``name`` carries regate's unique client reference where the body has a ``name`` field, so that a start
whose response was lost can be found again with ``GET results/?search=`` instead of being re-sent (a
duplicate start places billed calls twice).
"""

from __future__ import annotations

import json
from typing import Any

from runner.settings import VOICE_FAMILY, CekuraGate, CekuraMode

START_PATHS: dict[CekuraMode, str] = {
    CekuraMode.VOICE: "/test_framework/v1/scenarios/run_scenarios/",
    CekuraMode.TEXT: "/test_framework/v1/scenarios/run_scenarios_text/",
    CekuraMode.WEBSOCKET: "/test_framework/v1/scenarios/run_scenarios_with_websockets/",
    CekuraMode.PIPECAT_V1: "/test_framework/v1/scenarios/run_scenarios_pipecat/",
    CekuraMode.PIPECAT: "/test_framework/v1/scenarios-external/run_scenarios_pipecat_v2/",
    CekuraMode.LIVEKIT: "/test_framework/v1/scenarios-external/run_scenarios_livekit_v2/",
    CekuraMode.RETELL: "/test_framework/v1/scenarios-external/run_scenarios_retell_webrtc/",
    CekuraMode.VAPI: "/test_framework/v1/scenarios-external/run_scenarios_vapi_webrtc/",
    CekuraMode.ELEVENLABS: "/test_framework/v1/scenarios-external/run_scenarios_elevenlabs/",
    CekuraMode.SIP: "/test_framework/v1/scenarios-external/run_scenarios_sip/",
    CekuraMode.EMAIL: "/test_framework/v1/scenarios/run_scenarios_email/",
    CekuraMode.CHIRP: "/test_framework/v1/scenarios/run_scenarios_chirp/",
    CekuraMode.JSON: "/test_framework/v1/scenarios/run_scenarios_json/",
}

# Modes whose body has no ``name``: an ambiguous start of these cannot be found again.
_UNNAMED = frozenset({CekuraMode.WEBSOCKET, CekuraMode.PIPECAT_V1, CekuraMode.EMAIL})


def has_reference(mode: CekuraMode) -> bool:
    return mode not in _UNNAMED


def result_name(gate: CekuraGate, reference: str) -> str:
    return f"regate {gate.name} {reference}"


def _ids(gate: CekuraGate) -> list[int]:
    return [ref.id for ref in gate.scenarios]


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != () and value != []:
        body[key] = list(value) if isinstance(value, tuple) else value


def _voice_family(gate: CekuraGate, name: str) -> dict[str, Any]:
    body: dict[str, Any] = {"agent_id": gate.agent, "frequency": gate.frequency or 1, "name": name}
    if gate.scenarios:
        body["scenarios"] = _ids(gate)
    elif gate.tags:
        body["tags"] = list(gate.tags)
    elif gate.folder is not None:
        body["folder_path"] = gate.folder
    _put(body, "project_id", gate.project)
    _put(body, "personality_ids", gate.personalities)
    _put(body, "test_profile_ids", gate.test_profiles)
    _put(body, "concurrency_limit", gate.concurrency_limit)
    if gate.mode in (CekuraMode.TEXT, CekuraMode.CHIRP):
        _put(body, "websocket_url", gate.websocket_url)
    if gate.mode is CekuraMode.TEXT and gate.websocket_headers:
        body["websocket_headers"] = dict(gate.websocket_headers)
    if gate.mode is CekuraMode.ELEVENLABS:
        _put(body, "elevenlabs_agent_id", gate.elevenlabs_agent_id)
    if gate.mode is CekuraMode.SIP:
        _put(body, "sip_endpoint", gate.sip_endpoint)
    return body


def build_start(gate: CekuraGate, reference: str) -> tuple[str, dict[str, Any]]:
    """The path and JSON body that start ``gate`` on Cekura."""
    name = result_name(gate, reference)
    mode = gate.mode
    body: dict[str, Any]
    if mode in VOICE_FAMILY:
        body = _voice_family(gate, name)
    elif mode is CekuraMode.WEBSOCKET:
        body = {
            "agent": gate.agent,
            "scenarios": [
                {"scenario": ref.id, "websocket_url": ref.websocket_url or gate.websocket_url}
                for ref in gate.scenarios
            ],
            "frequency": gate.frequency or 1,
        }
    elif mode is CekuraMode.PIPECAT_V1:
        body = {
            "agent": gate.agent,
            "scenarios": [
                {"scenario": ref.id, "pipecat_room_url": ref.pipecat_room_url} for ref in gate.scenarios
            ],
        }
    elif mode in (CekuraMode.PIPECAT, CekuraMode.LIVEKIT):
        # pipecat_v2 declares no agent field; Cekura's own CI sends it anyway and DRF ignores extras.
        body = {
            "agent": gate.agent,
            "scenarios": [{"scenario": ref.id} for ref in gate.scenarios],
            "frequency": gate.frequency or 1,
            "name": name,
        }
        _put(body, "personality_ids", gate.personalities)
        _put(body, "test_profile_ids", gate.test_profiles)
        _put(body, "concurrency_limit", gate.concurrency_limit)
    elif mode in (CekuraMode.RETELL, CekuraMode.VAPI):
        body = {
            "agent_id": gate.agent,
            "scenarios": _ids(gate),
            "frequency": gate.frequency or 1,
            "name": name,
        }
        _put(body, "project_id", gate.project)
        _put(body, "concurrency_limit", gate.concurrency_limit)
        if mode is CekuraMode.RETELL:
            _put(body, "retell_agent_id", gate.retell_agent_id)
        else:
            body["vapi_assistant_id"] = gate.vapi_assistant_id
    elif mode is CekuraMode.EMAIL:
        body = {"agent_id": gate.agent, "scenarios": _ids(gate), "frequency": gate.frequency or 1}
        _put(body, "agent_email", gate.agent_email)
    else:  # JSON (tests-as-code)
        body = {"agent_id": gate.agent, "spec": json.loads(gate.spec_json or "{}"), "name": name}
        _put(body, "channel", gate.channel)
        _put(body, "frequency", gate.frequency)
        _put(body, "concurrency_limit", gate.concurrency_limit)
    if gate.mock_tool_names is not None:
        body["mock_tool_names"] = list(gate.mock_tool_names)
    return START_PATHS[mode], body
