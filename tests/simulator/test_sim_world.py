"""The world file: the default world's contents, and clear errors for a broken world."""

from __future__ import annotations

import textwrap

import pytest

from runner.errors import SimulatorError
from runner.simulator.world import load_world


def test_default_world_has_a_good_and_a_regressed_agent(world):
    """Agents 101 and 102 exist, share a project, and 102 is clearly worse on success and latency."""
    good, bad = world.agents[101], world.agents[102]
    assert (good.name, bad.name) == ("support-bot", "support-bot-regressed")
    assert good.project == bad.project
    assert good.quality.success >= 0.95 and 0.4 <= bad.quality.success <= 0.6
    assert bad.quality.infra_error > 0 == good.quality.infra_error
    latency = next(m.id for m in world.metrics.values() if m.name == "Latency")
    assert bad.quality.metrics[latency].mean > 2 * good.quality.metrics[latency].mean


def test_default_world_covers_every_metric_type(world):
    """Every metric type of api-contracts §A7 appears, with the names the demo configs use."""
    by_name = {m.name: m for m in world.metrics.values()}
    assert by_name["Latency"].type == "numeric" and by_name["Latency"].unit == "ms"
    assert by_name["Customer Satisfaction"].type == "continuous_qualitative"
    assert by_name["Policy Adherence"].type == "binary_workflow_adherence"
    assert by_name["Greeting"].type == "binary"
    assert by_name["Sentiment"].enum_values == ("positive", "neutral", "negative")
    assert {m.type for m in world.metrics.values()} == {
        "binary_workflow_adherence",
        "binary_qualitative",
        "binary",
        "continuous_qualitative",
        "numeric",
        "enum",
    }


def test_default_world_scenarios_are_shared_and_tagged(world):
    """6-10 project-scoped scenarios (no owning agent), tagged smoke/billing/refunds, with folders."""
    scenarios = list(world.scenarios.values())
    assert 6 <= len(scenarios) <= 10
    assert all(s.agent is None and s.project == world.agents[101].project for s in scenarios)
    tags = {t for s in scenarios for t in s.tags}
    assert {"smoke", "billing", "refunds"} <= tags
    assert any(s.folder == "Sales.Inbound" for s in scenarios)
    enabled = [p for p in world.personalities.values() if 1 in p.enabled]
    assert 2 <= len(enabled) <= 3


def test_scenario_quality_overrides_merge_over_the_agent(world):
    """A per-scenario override changes only the keys it names."""
    bad = world.agents[102]
    refund = bad.quality_for(207)
    assert refund.success == 0.2
    assert refund.infra_error == bad.quality.infra_error
    assert bad.quality_for(201) is bad.quality


GOOD_WORLD = """
projects: [{id: 1, name: P}]
metrics: [{id: 5, name: Latency, type: numeric, unit: ms}]
scenarios: [{id: 2, name: S, project: 1}]
agents: [{id: 1, name: A, project: 1, quality: {success: 0.9, metrics: {Latency: {mean: 100, sd: 5}}}}]
"""

BAD_WORLDS = [
    pytest.param("projects: [", "not valid YAML", id="invalid-yaml"),
    pytest.param("- just a list", "(top level): must be a mapping", id="not-a-mapping"),
    pytest.param(GOOD_WORLD + "agentz: []", "agentz: unknown key", id="unknown-top-level-key"),
    pytest.param(GOOD_WORLD + "metric_style: fancy", "metric_style: must be one of", id="bad-metric-style"),
    pytest.param(
        GOOD_WORLD.replace("type: numeric", "type: percent"),
        "metrics[0].type: must be one of",
        id="bad-metric-type",
    ),
    pytest.param(
        GOOD_WORLD.replace("type: numeric, unit: ms", "type: enum"),
        "metrics[0].enum_values: an enum metric needs",
        id="enum-without-values",
    ),
    pytest.param(
        GOOD_WORLD.replace("success: 0.9", "success: 90"),
        "agents[0].quality.success: must be a probability",
        id="probability-above-one",
    ),
    pytest.param(
        GOOD_WORLD.replace("{Latency:", "{Latncy:"),
        "agents[0].quality.metrics.Latncy: no metric named",
        id="unknown-metric-in-quality",
    ),
    pytest.param(
        GOOD_WORLD.replace("name: S, project: 1", "name: S, project: 9"),
        "scenarios[0].project: no project with id 9",
        id="dangling-project",
    ),
    pytest.param(
        GOOD_WORLD.replace(
            "scenarios: [{id: 2, name: S, project: 1}]",
            "scenarios: [{id: 2, name: S, project: 1}, {id: 2, name: T, project: 1}]",
        ),
        "scenarios: duplicate id 2",
        id="duplicate-id",
    ),
    pytest.param(
        GOOD_WORLD.replace("id: 2, name: S", "id: two, name: S"),
        "scenarios[0].id: must be an integer",
        id="non-integer-id",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_WORLDS)
def test_bad_world_names_the_file_and_the_key(tmp_path, text, expected):
    """A broken world is a SimulatorError whose one-line message starts with the file and names the key."""
    path = tmp_path / "world.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(SimulatorError) as info:
        load_world(str(path))
    assert info.value.message.startswith(str(path))
    assert expected in info.value.message
    assert "\n" not in info.value.message


def test_a_minimal_world_loads_with_defaults(tmp_path):
    """Everything but projects/scenarios/agents has a default."""
    path = tmp_path / "world.yaml"
    path.write_text(GOOD_WORLD)
    world = load_world(str(path))
    assert world.metric_style == "both" and world.page_size == 10 and world.api_keys == ()
    assert world.agents[1].quality.metrics[5].mean == 100


def test_missing_world_file_is_a_simulator_error(tmp_path):
    with pytest.raises(SimulatorError, match="cannot read world file"):
        load_world(str(tmp_path / "nope.yaml"))
