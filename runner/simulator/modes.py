"""The run-start endpoints (api-contracts §A3): one strict body schema per mode, and run-count expansion.

Each ``run_scenarios*`` endpoint validates its own body (DRF field errors first, then view-level checks as
bare arrays) and expands it into a ``StartSpec``:

- voice family (run_scenarios, _text, _elevenlabs, _sip, _chirp): exactly one of scenarios/tags/folder_path;
  runs = scenarios x frequency x max(1, personalities) x max(1, test profiles);
- websocket, livekit_v2, pipecat_v2, retell, vapi, email: runs = scenarios x frequency; personalities and
  test profiles given to livekit_v2/pipecat_v2 are validated and assigned round-robin (they do not multiply);
- pipecat v1: one run per ``scenarios[]`` entry;
- json: one run per spec scenario x frequency (body ``frequency`` > scenario ``frequency`` > defaults > 1).

A run without an explicit personality gets its scenario's default personality, else the project's first
enabled one. Each parser below reads exactly the fields its OpenAPI schema declares (others are ignored, as
DRF does), so a body built for another mode fails loudly, e.g. ``agent_id`` + integer ``scenarios`` sent to
run_scenarios_with_websockets (api-contracts §C-8).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runner.simulator.json_spec import parse_json_start
from runner.simulator.state import RunPlan, SimState, StartSpec
from runner.simulator.validate import Fields, Invalid, check_run_count, reject
from runner.simulator.world import Agent, Scenario

_PHONE = re.compile(r"^\+[1-9]\d{1,14}$")
_WS_URL = re.compile(r"^wss?://\S+$")


def invalid_pk(value: object) -> str:
    return f'Invalid pk "{value}" - object does not exist.'


@dataclass(frozen=True, slots=True)
class Mode:
    endpoint: str
    status: int  # declared success code (§A1.5)
    run_type: str
    run_as_text: bool
    parse: Callable[[Fields, SimState, Mode], StartSpec]
    full_result: bool = False  # email answers with the list-item serializer instead of the summary


# -- shared pieces -------------------------------------------------------------------------------------------


def _agent(state: SimState, key: str, agent_id: int | None, scenario_ids: Sequence[int] = ()) -> Agent:
    """The agent under test: by id, else the agent the scenarios belong to (A3.3 "required if the scenarios
    have no agent")."""
    if agent_id is not None:
        agent = state.world.agents.get(agent_id)
        if agent is None:
            raise Invalid({key: [invalid_pk(agent_id)]})
        return agent
    owners = {s.agent for sid in scenario_ids if (s := state.scenario(sid)) is not None}
    if len(owners) == 1 and (owner := owners.pop()) is not None:
        return state.world.agents[owner]
    raise Invalid({key: ["This field is required when the scenarios have no agent."]})


def _by_assistant(state: SimState, assistant_id: str | None) -> int | None:
    if assistant_id is None:
        return None
    return next((a.id for a in state.world.agents.values() if a.assistant_id == assistant_id), None)


def _scenarios(state: SimState, agent: Agent, ids: Sequence[int], key: str = "scenarios") -> list[Scenario]:
    out = []
    for sid in ids:
        scenario = state.scenario(sid)
        if scenario is None:
            raise Invalid({key: [invalid_pk(sid)]})
        if scenario.project != agent.project or scenario.agent not in (None, agent.id):
            raise reject(f"Scenario {sid} does not belong to agent {agent.id}.")
        out.append(scenario)
    if not out:
        raise reject("No scenarios selected.")
    return out


def _personalities(state: SimState, agent: Agent, ids: Sequence[int]) -> list[int]:
    for pid in ids:
        personality = state.world.personalities.get(pid)
        if personality is None or agent.project not in personality.enabled:
            raise reject("Invalid personalities provided.")
    return list(dict.fromkeys(ids))


def _test_profiles(state: SimState, agent: Agent, ids: Sequence[int]) -> list[int]:
    for tid in ids:
        profile = state.world.test_profiles.get(tid)
        if profile is None or profile.project != agent.project:
            raise reject("Invalid test profiles provided.")
    return list(dict.fromkeys(ids))


def default_personality(state: SimState, scenario: Scenario) -> int | None:
    if scenario.personality is not None:
        return scenario.personality
    enabled = (p.id for p in state.world.personalities.values() if scenario.project in p.enabled)
    return next(enabled, None)


def _merged(f: Fields, many: str, one: str | None) -> list[int]:
    ids = f.int_list(many) or []
    single = f.int_(one) if one else None
    return ids + ([single] if single is not None else [])


def _url(f: Fields, key: str, *, required: bool = False) -> str | None:
    value = f.str_(key, required=required, nullable=not required, blank=not required)
    if value is not None and not _WS_URL.match(value):
        f.fail(key, "Enter a valid URL (ws:// or wss://).")
        return None
    return value


def _phone(f: Fields, key: str) -> str | None:
    value = f.str_(key)
    if value is not None and not _PHONE.match(value):
        f.fail(key, "Enter a valid phone number.")
        return None
    return value


def _settings(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _spec(
    agent: Agent,
    name: str | None,
    mode: Mode,
    runs: list[RunPlan],
    limit: int | None,
    settings: dict[str, Any],
    mock: list[str] | None,
    run_type: str | None = None,
) -> StartSpec:
    return StartSpec(
        agent_id=agent.id,
        name=name or "",
        mode=mode.endpoint,
        run_type=run_type or mode.run_type,
        run_as_text=mode.run_as_text,
        runs=tuple(runs),
        concurrency_limit=limit,
        settings=settings,
        mock_tool_names=None if mock is None else tuple(mock),
    )


# -- voice family --------------------------------------------------------------------------------------------

_VOICE_EXTRAS: dict[str, tuple[str, ...]] = {
    "run_scenarios": ("personality_id", "mode"),
    "run_scenarios_text": ("websocket_url", "websocket_headers"),
    "run_scenarios_elevenlabs": ("personality_id", "mode", "elevenlabs_agent_id"),  # + elevenlabs_data: any
    "run_scenarios_sip": ("personality_id", "mode", "sip_endpoint"),
    "run_scenarios_chirp": ("personality_id", "mode", "websocket_url"),
}


def _voice(f: Fields, state: SimState, mode: Mode) -> StartSpec:
    extras = _VOICE_EXTRAS[mode.endpoint]
    agent_id = f.int_("agent_id")
    assistant_id = f.str_("assistant_id")
    scenario_ids = f.int_list("scenarios")
    tags = f.str_list("tags")
    folder = f.str_("folder_path")
    project_id = f.int_("project_id")
    frequency = f.int_("frequency", min_value=1) or 1
    name = f.str_("name", max_length=255) or ""
    single = "personality_id" in extras
    personality_ids = _merged(f, "personality_ids", "personality_id" if single else None)
    profile_ids = _merged(f, "test_profile_ids", "test_profile_id" if single else None)
    limit = f.int_("concurrency_limit", min_value=1)
    _phone(f, "outbound_phone_number")
    _phone(f, "agent_number")
    number_mode = f.choice("mode", ("same_number", "different_numbers")) if "mode" in extras else None
    mock = f.str_list("mock_tool_names")
    websocket_url = _url(f, "websocket_url") if "websocket_url" in extras else None
    if "websocket_headers" in extras:
        f.obj("websocket_headers")
    for key in ("elevenlabs_agent_id", "sip_endpoint"):
        if key in extras:
            f.str_(key)
    f.check()

    agent = _voice_agent(state, agent_id, assistant_id)
    if sum(s is not None for s in (scenario_ids, tags, folder)) != 1:
        raise reject("Provide exactly one of scenarios, tags or folder_path.")
    if scenario_ids is not None:
        scenarios = _scenarios(state, agent, scenario_ids)
    elif tags is not None:
        scenarios = [s for s in _project_scenarios(state, agent) if set(tags) & set(s.tags)]
        if not scenarios:
            raise reject(f"No scenarios found with tags: {', '.join(tags) or '(none)'}.")
    else:
        if project_id is None:
            raise Invalid({"project_id": ["This field is required when folder_path is given."]})
        if project_id not in state.world.projects:
            raise Invalid({"project_id": [invalid_pk(project_id)]})
        in_folder = (s for s in _project_scenarios(state, agent) if s.project == project_id)
        scenarios = [s for s in in_folder if s.in_folder(folder or "")]
        if not scenarios:
            raise reject(f'No scenarios found in folder "{folder}".')
    personalities = _personalities(state, agent, personality_ids)
    profiles = _test_profiles(state, agent, profile_ids)
    check_run_count(len(scenarios) * frequency * max(1, len(personalities)) * max(1, len(profiles)))
    runs = [
        RunPlan(s.id, p, t, {"websocket_url": websocket_url} if websocket_url else {})
        for s in scenarios
        for p in _or_default(personalities, default_personality(state, s))
        for t in _or_default(profiles, None)
        for _ in range(frequency)
    ]
    run_type = "WebSocket" if mode.endpoint == "run_scenarios_text" and websocket_url else mode.run_type
    settings = _settings(
        frequency=frequency,
        concurrency_limit=limit,
        personality_ids=personalities or None,
        test_profile_ids=profiles or None,
        mode=number_mode or ("same_number" if "mode" in extras else None),
        tags=tags,
        folder_path=folder,
    )
    return _spec(agent, name, mode, runs, limit, settings, mock, run_type)


def _or_default(ids: list[int], default: int | None) -> list[int | None]:
    """The ids given in the request, or the one default a run gets when none were given."""
    return list(ids) if ids else [default]


def _project_scenarios(state: SimState, agent: Agent) -> list[Scenario]:
    return [
        s
        for s in state.world.scenarios.values()
        if s.project == agent.project and s.agent in (None, agent.id)
    ]


def _voice_agent(state: SimState, agent_id: int | None, assistant_id: str | None) -> Agent:
    """Voice-family bodies name the agent by ``agent_id`` or by the provider's ``assistant_id``."""
    if agent_id is None and assistant_id is None:
        raise Invalid({"agent_id": ["This field is required."]})
    if agent_id is None:
        agent_id = _by_assistant(state, assistant_id)
        if agent_id is None:
            raise Invalid({"assistant_id": ["No agent found with this assistant_id."]})
    return _agent(state, "agent_id", agent_id)


# -- per-scenario object modes -------------------------------------------------------------------------------


def _objects(f: Fields, state: SimState, mode: Mode) -> StartSpec:
    """websocket, pipecat (v1), pipecat_v2 and livekit_v2: ``scenarios`` is a list of objects."""
    endpoint = mode.endpoint

    def item(sub: Fields) -> RunPlan:
        sid = sub.int_("scenario", required=True, nullable=False)
        details: dict[str, Any] = {}
        if endpoint == "run_scenarios_with_websockets":
            details["websocket_url"] = _url(sub, "websocket_url", required=True)
        if endpoint == "run_scenarios_pipecat":
            details["pipecat_room_url"] = sub.str_(
                "pipecat_room_url", required=True, nullable=False, blank=False
            )
            sub.str_("pipecat_token")
        return RunPlan(sid or 0, details=details)

    items = f.obj_list("scenarios", item, required=True)
    agent_id = f.int_("agent")
    is_v2 = endpoint in ("run_scenarios_pipecat_v2", "run_scenarios_livekit_v2")
    if endpoint == "run_scenarios_with_websockets":
        frequency = f.int_("frequency", required=True, nullable=False, min_value=1, max_value=100)
    elif is_v2:
        frequency = f.int_("frequency", min_value=1, max_value=100)
    else:
        frequency = 1
    name = f.str_("name", max_length=255) if is_v2 else None
    personality_ids = _merged(f, "personality_ids", "personality_id") if is_v2 else []
    profile_ids = _merged(f, "test_profile_ids", "test_profile_id") if is_v2 else []
    limit = f.int_("concurrency_limit", min_value=1) if is_v2 else None
    data_key = {"run_scenarios_pipecat_v2": "pipecat_data", "run_scenarios_livekit_v2": "livekit_data"}
    if endpoint in data_key:
        f.obj(data_key[endpoint])
    mock = f.str_list("mock_tool_names")
    f.check()

    items = items or []  # never None here: the field is required, so f.check() raised
    agent = _agent(state, "agent", agent_id, [i.scenario_id for i in items])
    scenarios = _scenarios(state, agent, [i.scenario_id for i in items])
    personalities = _personalities(state, agent, personality_ids)
    profiles = _test_profiles(state, agent, profile_ids)
    runs: list[RunPlan] = []
    for scenario, plan in zip(scenarios, items, strict=True):
        for _ in range(frequency or 1):
            n = len(runs)
            personality = personalities[n % len(personalities)] if personalities else None
            runs.append(
                RunPlan(
                    scenario.id,
                    personality or default_personality(state, scenario),
                    profiles[n % len(profiles)] if profiles else None,
                    {k: v for k, v in plan.details.items() if v is not None},
                )
            )
    check_run_count(len(runs))
    settings = _settings(
        frequency=frequency,
        concurrency_limit=limit,
        personality_ids=personalities or None,
        test_profile_ids=profiles or None,
    )
    return _spec(agent, name, mode, runs, limit, settings, mock)


# -- integer-list modes: retell, vapi, email -----------------------------------------------------------------


def _id_list(f: Fields, state: SimState, mode: Mode) -> StartSpec:
    endpoint = mode.endpoint
    scenario_ids = f.int_list("scenarios", required=True, nullable=False)
    agent_id = f.int_("agent_id")
    assistant: str | None = None
    if endpoint == "run_scenarios_email":
        frequency = f.int_("frequency", required=True, nullable=False, min_value=1, max_value=100)
        f.email("agent_email")
        name, limit = None, None
    else:
        f.int_("project_id")
        frequency = f.int_("frequency", min_value=1)
        name = f.str_("name", max_length=255)
        limit = f.int_("concurrency_limit", min_value=1)
        if endpoint == "run_scenarios_vapi_webrtc":
            assistant = f.str_("vapi_assistant_id", required=True, nullable=False, blank=False)
        else:
            assistant = f.str_("retell_agent_id")
    mock = f.str_list("mock_tool_names")
    f.check()

    scenario_ids = scenario_ids or []  # never None here: required
    if agent_id is None:
        agent_id = _by_assistant(state, assistant)
    agent = _agent(state, "agent_id", agent_id, scenario_ids)
    scenarios = _scenarios(state, agent, scenario_ids)
    check_run_count(len(scenarios) * (frequency or 1))
    runs = [RunPlan(s.id, default_personality(state, s)) for s in scenarios for _ in range(frequency or 1)]
    settings = _settings(frequency=frequency or 1, concurrency_limit=limit)
    return _spec(agent, name, mode, runs, limit, settings, mock)


def _json(f: Fields, state: SimState, mode: Mode) -> StartSpec:
    """run_scenarios_json without ``?dry_run`` (the app answers dry runs with ``parse_json_start``)."""
    spec = parse_json_start(f, state, dry_run=False)
    if not isinstance(spec, StartSpec):  # only a dry run returns a plan
        raise TypeError("run_scenarios_json parsed as a dry run")
    return spec


MODES: dict[str, Mode] = {
    m.endpoint: m
    for m in (
        Mode("run_scenarios", 201, "Voice", False, _voice),
        Mode("run_scenarios_text", 201, "Text", True, _voice),
        Mode("run_scenarios_with_websockets", 201, "WebSocket", False, _objects),
        Mode("run_scenarios_pipecat", 200, "Pipecat", False, _objects),
        Mode("run_scenarios_pipecat_v2", 200, "Pipecat", False, _objects),
        Mode("run_scenarios_livekit_v2", 200, "LiveKit", False, _objects),
        Mode("run_scenarios_retell_webrtc", 200, "Retell", False, _id_list),
        Mode("run_scenarios_vapi_webrtc", 200, "Vapi", False, _id_list),
        Mode("run_scenarios_elevenlabs", 200, "ElevenLabs", False, _voice),
        Mode("run_scenarios_sip", 200, "SIP", False, _voice),
        Mode("run_scenarios_email", 200, "Email", True, _id_list, full_result=True),
        Mode("run_scenarios_chirp", 200, "Chirp", False, _voice),
        Mode("run_scenarios_json", 200, "Voice", False, _json),
    )
}
