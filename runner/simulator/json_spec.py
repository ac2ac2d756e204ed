"""``run_scenarios_json`` (tests-as-code, api-contracts §A3.4): the request body and the test-suite spec.

Spec (schema https://docs.cekura.ai/schemas/test-suite/v1.json, the parts the simulator checks)::

    {"version": "1",
     "suite": {"name": str, "description": str},
     "defaults": {"frequency": int>=1, "concurrency_limit": int>=1, "metrics": [id|slug],
                  "personality": id|name, "test_profile": id|name, "tags": [str]},
     "scenarios": [  # 1..200
        {"key": str, "name": str, "instructions": str | "conditional_actions": [...],
         "expected_outcome": str, "metrics": [id|slug], "personality": id|name,
         "test_profile": id|name, "tags": [str], "frequency": int>=1}]}

Spec errors are all reported at once, keyed by their location (``{"scenarios[3].metrics[1]": [msg]}``).
Each spec scenario becomes a simulator scenario whose id is stable per (agent, key), so repeated starts of
the same suite report the same scenario ids. ``?dry_run=true`` creates nothing and returns the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.simulator.state import RunPlan, SimState, StartSpec
from runner.simulator.validate import Fields, Invalid, as_int, check_run_count
from runner.simulator.world import Agent, Scenario

CHANNELS: dict[str, tuple[str, bool]] = {  # channel -> (run_type, run_as_text)
    "voice": ("Voice", False),
    "text": ("Text", True),
    "elevenlabs": ("ElevenLabs", False),
    "livekit_v2": ("LiveKit", False),
    "pipecat_v2": ("Pipecat", False),
}
MAX_SCENARIOS = 200


def parse_json_start(f: Fields, state: SimState, *, dry_run: bool) -> StartSpec | dict[str, Any]:
    """Validate a run_scenarios_json body; return the StartSpec, or the plan when ``dry_run``."""
    spec = f.obj("spec")
    if f.has("file"):
        f.fail("file", 'Multipart upload is not supported by the simulator; send the spec as JSON in "spec".')
    agent_id = f.int_("agent_id")
    name = f.str_("name", max_length=255)
    channel = f.choice("channel", tuple(CHANNELS)) or "voice"
    for key, wanted in (("livekit_data", "livekit_v2"), ("pipecat_data", "pipecat_v2")):
        if f.obj(key) is not None and channel != wanted:
            f.fail(key, f"Only allowed with channel {wanted}.")
    frequency = f.int_("frequency", min_value=1)
    limit = f.int_("concurrency_limit", min_value=1)
    f.check()
    if spec is None and not f.has("file"):
        raise Invalid({"spec": ["This field is required."]})
    if agent_id is None:
        raise Invalid({"agent_id": ["This field is required."]})
    agent = state.world.agents.get(agent_id)
    if agent is None:
        raise Invalid({"agent_id": [f'Invalid pk "{agent_id}" - object does not exist.']})
    checker = _SpecChecker(state, agent)
    entries = checker.check(spec or {})
    defaults = spec.get("defaults") if isinstance(spec, dict) else None
    defaults = defaults if isinstance(defaults, dict) else {}
    counts = [
        frequency or as_int(e.get("frequency")) or as_int(defaults.get("frequency")) or 1 for _, e in entries
    ]
    total = sum(counts)
    check_run_count(total)
    suite = (spec or {}).get("suite")
    suite_name = suite.get("name") if isinstance(suite, dict) else None
    name = name or (suite_name if isinstance(suite_name, str) else "") or "JSON test suite"
    if dry_run:
        cost = round(total * state.world.cost_per_run, 2)
        plan = {
            "channel": channel,
            "scenario_count": len(entries),
            "total_runs": total,
            "estimated_cost": cost,
        }
        return {"dry_run": True, "valid": True, "plan": {**plan, "agent": agent.id, "name": name}}

    runs: list[RunPlan] = []
    for (template, entry), count in zip(entries, counts, strict=True):
        ref = entry.get("key")
        scenario = state.adhoc_scenario(agent.id, ref if isinstance(ref, str) else template.name, template)
        runs += [RunPlan(scenario.id, scenario.personality, checker.profile(entry, defaults))] * count
    limit = limit or as_int(defaults.get("concurrency_limit"))
    run_type, as_text = CHANNELS[channel]
    settings = {"channel": channel, "frequency": frequency, "concurrency_limit": limit}
    settings = {k: v for k, v in settings.items() if v is not None}
    return StartSpec(agent.id, name, "run_scenarios_json", run_type, as_text, tuple(runs), limit, settings)


class _SpecChecker:
    def __init__(self, state: SimState, agent: Agent) -> None:
        self.state = state
        self.agent = agent
        self.errors: dict[str, list[str]] = {}

    def fail(self, where: str, message: str) -> None:
        self.errors.setdefault(where, []).append(message)

    def check(self, spec: Mapping[str, Any]) -> list[tuple[Scenario, Mapping[str, Any]]]:
        if spec.get("version") != "1":
            self.fail("version", 'Must be "1".')
        defaults = spec.get("defaults", {})
        if not isinstance(defaults, dict):
            self.fail("defaults", "Must be an object.")
            defaults = {}
        self.positive(defaults, "frequency", "defaults.frequency")
        self.positive(defaults, "concurrency_limit", "defaults.concurrency_limit")
        default_metrics = self.metrics(defaults, "defaults")
        default_personality = self.personality(defaults, "defaults")
        self.profile_ref(defaults, "defaults")
        scenarios = spec.get("scenarios")
        if not isinstance(scenarios, list) or not 1 <= len(scenarios) <= MAX_SCENARIOS:
            self.fail("scenarios", f"Must be a list of 1 to {MAX_SCENARIOS} scenarios.")
            scenarios = []
        entries: list[tuple[Scenario, Mapping[str, Any]]] = []
        keys: set[str] = set()
        for i, entry in enumerate(scenarios):
            where = f"scenarios[{i}]"
            if not isinstance(entry, dict):
                self.fail(where, "Must be an object.")
                continue
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip():
                self.fail(f"{where}.name", "This field is required.")
            instructions = entry.get("instructions")
            if not isinstance(instructions, str) and not isinstance(entry.get("conditional_actions"), list):
                self.fail(where, "Provide instructions or conditional_actions.")
            key = entry.get("key", name)
            if isinstance(key, str) and key in keys:
                self.fail(f"{where}.key", f'Duplicate key "{key}".')
            keys.add(str(key))
            outcome = entry.get("expected_outcome", "")
            if not isinstance(outcome, str):
                self.fail(f"{where}.expected_outcome", "Must be a string.")
            tags = entry.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                self.fail(f"{where}.tags", "Must be a list of strings.")
                tags = []
            self.positive(entry, "frequency", f"{where}.frequency")
            self.profile_ref(entry, where)
            template = Scenario(
                id=0,
                name=str(name),
                project=self.agent.project,
                tags=tuple(tags),
                expected_outcome_prompt=outcome if isinstance(outcome, str) else "",
                instructions=instructions if isinstance(instructions, str) else "",
                personality=self.personality(entry, where) or default_personality,
                metrics=tuple(dict.fromkeys(self.metrics(entry, where) + default_metrics)),
            )
            entries.append((template, entry))
        if self.errors:
            raise Invalid(self.errors)
        return entries

    def positive(self, obj: Mapping[str, Any], key: str, where: str) -> None:
        if key in obj and ((value := as_int(obj[key])) is None or value < 1):
            self.fail(where, "Must be an integer >= 1.")

    def metrics(self, obj: Mapping[str, Any], where: str) -> tuple[int, ...]:
        refs = obj.get("metrics", [])
        if not isinstance(refs, list):
            self.fail(f"{where}.metrics", "Must be a list of metric ids or slugs.")
            return ()
        out = []
        for j, ref in enumerate(refs):
            metric = self.state.world.metric_by_ref(ref) if isinstance(ref, int | str) else None
            if metric is None:
                self.fail(f"{where}.metrics[{j}]", f'Unknown metric "{ref}".')
            else:
                out.append(metric.id)
        return tuple(out)

    def personality(self, obj: Mapping[str, Any], where: str) -> int | None:
        ref = obj.get("personality")
        if ref is None:
            return None
        for p in self.state.world.personalities.values():
            if ref in (p.id, p.name) and self.agent.project in p.enabled:
                return p.id
        self.fail(f"{where}.personality", f'Unknown or disabled personality "{ref}".')
        return None

    def profile_ref(self, obj: Mapping[str, Any], where: str) -> None:
        if obj.get("test_profile") is not None and self.profile(obj, {}) is None:
            self.fail(f"{where}.test_profile", f'Unknown test profile "{obj["test_profile"]}".')

    def profile(self, entry: Mapping[str, Any], defaults: Mapping[str, Any]) -> int | None:
        ref = entry.get("test_profile", defaults.get("test_profile"))
        profiles = self.state.world.test_profiles.values()
        return next(
            (t.id for t in profiles if ref in (t.id, t.name) and t.project == self.agent.project), None
        )
