"""Validation of a parsed world YAML into ``World`` (format in ``world.py``).

Every problem is a ``SimulatorError`` naming the file and the key path (``agents[1].quality.success``), and
every id a world object refers to must exist, so the simulator never meets a dangling id at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from runner.errors import SimulatorError
from runner.simulator.freeplay_world import read_freeplay
from runner.simulator.world import (
    BINARY_TYPES,
    DEFAULT_TIMING,
    METRIC_STYLES,
    METRIC_TYPES,
    Agent,
    Metric,
    MetricDist,
    Personality,
    Project,
    Quality,
    Scenario,
    TestProfile,
    Timing,
    World,
)


class WorldReader:
    """Typed access to the parsed YAML with errors that name the file and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> SimulatorError:
        return SimulatorError(f"{self.source}: {key}: {message}", hint="fix the world file or omit --world")

    def mapping(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "must be a mapping")
        return value

    def items(self, raw: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
        value = raw.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        return [(f"{key}[{i}]", self.mapping(item, f"{key}[{i}]")) for i, item in enumerate(value)]

    def int_(self, raw: Mapping[str, Any], key: str, path: str, default: int | None = None) -> int:
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"{path}.{key}", "must be an integer")
        return value

    def str_(self, raw: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str):
            raise self.fail(f"{path}.{key}", "must be a string")
        return value

    def num(self, raw: Mapping[str, Any], key: str, path: str, default: float | None = None) -> float:
        value = raw.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.fail(f"{path}.{key}", "must be a number")
        return float(value)

    def prob(self, raw: Mapping[str, Any], key: str, path: str, default: float) -> float:
        value = self.num(raw, key, path, default)
        if not 0.0 <= value <= 1.0:
            raise self.fail(f"{path}.{key}", "must be a probability between 0 and 1")
        return value

    def range_(
        self, raw: Mapping[str, Any], key: str, path: str, default: tuple[float, float]
    ) -> tuple[float, float]:
        value = raw.get(key, list(default))
        ok = isinstance(value, list) and len(value) == 2
        if not ok or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            raise self.fail(f"{path}.{key}", "must be a [low, high] pair of numbers")
        low, high = float(value[0]), float(value[1])
        if not 0 <= low <= high:
            raise self.fail(f"{path}.{key}", "needs 0 <= low <= high")
        return low, high

    def ints(self, raw: Mapping[str, Any], key: str, path: str) -> tuple[int, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise self.fail(f"{path}.{key}", "must be a list of integers")
        return tuple(value)

    def strs(self, raw: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{path}.{key}", "must be a list of strings")
        return tuple(value)

    def unique(self, objs: list[Any], key: str) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for obj in objs:
            if obj.id in out:
                raise self.fail(key, f"duplicate id {obj.id}")
            out[obj.id] = obj
        return out

    def world(self, raw: Any) -> World:
        top = self.mapping(raw, "(top level)")
        known = {"metric_style", "api_keys", "page_size", "cost_per_run", "timing", "projects", "metrics"}
        known |= {"personalities", "test_profiles", "scenarios", "agents", "freeplay"}
        for key in top:
            if key not in known:
                raise self.fail(str(key), f"unknown key; expected one of {', '.join(sorted(known))}")
        style = self.str_(top, "metric_style", "world", "both")
        if style not in METRIC_STYLES:
            raise self.fail("metric_style", f"must be one of {', '.join(METRIC_STYLES)}")
        projects = self.unique(
            [Project(self.int_(p, "id", k), self.str_(p, "name", k)) for k, p in self.items(top, "projects")],
            "projects",
        )
        metrics = self.unique([self.metric(p, k) for k, p in self.items(top, "metrics")], "metrics")
        personalities = self.unique(
            [
                Personality(self.int_(p, "id", k), self.str_(p, "name", k), self.ints(p, "enabled", k))
                for k, p in self.items(top, "personalities")
            ],
            "personalities",
        )
        profiles = self.unique(
            [
                TestProfile(
                    self.int_(p, "id", k),
                    self.str_(p, "name", k),
                    self.int_(p, "project", k),
                    dict(self.mapping(p.get("information", {}), f"{k}.information")),
                )
                for k, p in self.items(top, "test_profiles")
            ],
            "test_profiles",
        )
        scenarios = self.unique([self.scenario(p, k) for k, p in self.items(top, "scenarios")], "scenarios")
        agents = self.unique([self.agent(p, k, metrics) for k, p in self.items(top, "agents")], "agents")
        self.check_refs(projects, scenarios, agents, profiles, personalities, metrics)
        page_size = self.int_(top, "page_size", "world", 10)
        if page_size < 1:
            raise self.fail("page_size", "must be >= 1")
        timing_raw = self.mapping(top.get("timing", {}), "timing")
        default = DEFAULT_TIMING
        timing = Timing(
            queue=self.range_(timing_raw, "queue", "timing", default.queue),
            start=self.range_(timing_raw, "start", "timing", default.start),
            evaluation=self.range_(timing_raw, "evaluation", "timing", default.evaluation),
            infra_fail_after=self.range_(timing_raw, "infra_fail_after", "timing", default.infra_fail_after),
            timeout_after=self.num(timing_raw, "timeout_after", "timing", default.timeout_after),
        )
        return World(
            source=self.source,
            projects=projects,
            agents=agents,
            scenarios=scenarios,
            personalities=personalities,
            test_profiles=profiles,
            metrics=metrics,
            api_keys=self.strs(top, "api_keys", "world"),
            metric_style=style,
            page_size=page_size,
            cost_per_run=self.num(top, "cost_per_run", "world", 0.25),
            timing=timing,
            freeplay=read_freeplay(self, top.get("freeplay")),
        )

    def metric(self, raw: Mapping[str, Any], key: str) -> Metric:
        name = self.str_(raw, "name", key)
        mtype = self.str_(raw, "type", key)
        if mtype not in METRIC_TYPES:
            raise self.fail(f"{key}.type", f"must be one of {', '.join(sorted(METRIC_TYPES))}")
        enum_values = self.strs(raw, "enum_values", key)
        if mtype == "enum" and not enum_values:
            raise self.fail(f"{key}.enum_values", "an enum metric needs enum_values")
        rubric = raw.get("rubric", False)
        if not isinstance(rubric, bool) or (rubric and mtype not in BINARY_TYPES):
            raise self.fail(f"{key}.rubric", "must be a boolean, and true only on binary metrics")
        slug = self.str_(raw, "slug", key, name.lower().replace(" ", "_"))
        return Metric(
            id=self.int_(raw, "id", key),
            name=name,
            type=mtype,
            slug=slug,
            enum_values=enum_values,
            unit=self.str_(raw, "unit", key, ""),
            rubric=rubric,
            description=self.str_(raw, "description", key, ""),
        )

    def scenario(self, raw: Mapping[str, Any], key: str) -> Scenario:
        agent = raw.get("agent")
        personality = raw.get("personality")
        return Scenario(
            id=self.int_(raw, "id", key),
            name=self.str_(raw, "name", key),
            project=self.int_(raw, "project", key),
            tags=self.strs(raw, "tags", key),
            folder=self.str_(raw, "folder", key, ""),
            expected_outcome_prompt=self.str_(raw, "expected_outcome_prompt", key, ""),
            instructions=self.str_(raw, "instructions", key, ""),
            agent=None if agent is None else self.int_(raw, "agent", key),
            personality=None if personality is None else self.int_(raw, "personality", key),
            metrics=self.ints(raw, "metrics", key),
        )

    def agent(self, raw: Mapping[str, Any], key: str, metrics: Mapping[int, Metric]) -> Agent:
        quality = self.quality(
            self.mapping(raw.get("quality", {}), f"{key}.quality"), f"{key}.quality", metrics
        )
        overrides: dict[int, Quality] = {}
        for sid, partial in self.mapping(raw.get("scenarios", {}), f"{key}.scenarios").items():
            path = f"{key}.scenarios.{sid}"
            try:
                scenario_id = int(sid)
            except (TypeError, ValueError):
                raise self.fail(path, "keys must be scenario ids") from None
            overrides[scenario_id] = self.quality(self.mapping(partial, path), path, metrics, base=quality)
        assistant = raw.get("assistant_id")
        inbound = raw.get("inbound_number")
        return Agent(
            id=self.int_(raw, "id", key),
            name=self.str_(raw, "name", key),
            project=self.int_(raw, "project", key),
            quality=quality,
            assistant_id=None if assistant is None else self.str_(raw, "assistant_id", key),
            inbound_number=None if inbound is None else self.str_(raw, "inbound_number", key),
            scenario_quality=overrides,
        )

    def quality(
        self, raw: Mapping[str, Any], key: str, metrics: Mapping[int, Metric], base: Quality | None = None
    ) -> Quality:
        base = base or Quality()
        known = {"success", "infra_error", "timeout", "duration", "metrics"}
        for k in raw:
            if k not in known:
                raise self.fail(f"{key}.{k}", f"unknown key; expected one of {', '.join(sorted(known))}")
        dists = dict(base.metrics)
        by_name = {m.name: m for m in metrics.values()}
        for name, spec in self.mapping(raw.get("metrics", {}), f"{key}.metrics").items():
            path = f"{key}.metrics.{name}"
            metric = by_name.get(name)
            if metric is None:
                raise self.fail(path, f"no metric named {name!r} in metrics")
            dists[metric.id] = self.dist(self.mapping(spec, path), path, metric)
        return replace(
            base,
            success=self.prob(raw, "success", key, base.success),
            infra_error=self.prob(raw, "infra_error", key, base.infra_error),
            timeout=self.prob(raw, "timeout", key, base.timeout),
            duration=self.range_(raw, "duration", key, base.duration),
            metrics=dists,
        )

    def dist(self, raw: Mapping[str, Any], key: str, metric: Metric) -> MetricDist:
        if metric.is_binary:
            return MetricDist(pass_prob=self.prob(raw, "pass", key, 1.0))
        if metric.type == "enum":
            weights = self.mapping(raw.get("weights"), f"{key}.weights")
            for label, w in weights.items():
                if label not in metric.enum_values or not isinstance(w, int | float) or w < 0:
                    raise self.fail(f"{key}.weights.{label}", "must be one of enum_values with a weight >= 0")
            if not any(weights.values()):
                raise self.fail(f"{key}.weights", "needs at least one positive weight")
            return MetricDist(weights=tuple((str(k), float(v)) for k, v in weights.items()))
        # Continuous scores live on 0-5 whatever the world says; numeric values are clipped only if asked.
        low, high = (0.0, 5.0) if metric.type == "continuous_qualitative" else (None, None)
        return MetricDist(
            mean=self.num(raw, "mean", key),
            sd=self.num(raw, "sd", key, 0.0),
            low=self.num(raw, "min", key) if "min" in raw else low,
            high=self.num(raw, "max", key) if "max" in raw else high,
        )

    def check_refs(
        self,
        projects: Mapping[int, Project],
        scenarios: Mapping[int, Scenario],
        agents: Mapping[int, Agent],
        profiles: Mapping[int, TestProfile],
        personalities: Mapping[int, Personality],
        metrics: Mapping[int, Metric],
    ) -> None:
        """Every id a world object refers to must exist, so the simulator never meets a dangling id."""
        for i, s in enumerate(scenarios.values()):
            key = f"scenarios[{i}]"
            if s.project not in projects:
                raise self.fail(f"{key}.project", f"no project with id {s.project}")
            if s.agent is not None and s.agent not in agents:
                raise self.fail(f"{key}.agent", f"no agent with id {s.agent}")
            if s.personality is not None and s.personality not in personalities:
                raise self.fail(f"{key}.personality", f"no personality with id {s.personality}")
            for m in s.metrics:
                if m not in metrics:
                    raise self.fail(f"{key}.metrics", f"no metric with id {m}")
        for i, a in enumerate(agents.values()):
            if a.project not in projects:
                raise self.fail(f"agents[{i}].project", f"no project with id {a.project}")
            for sid in a.scenario_quality:
                if sid not in scenarios:
                    raise self.fail(f"agents[{i}].scenarios.{sid}", f"no scenario with id {sid}")
        for i, t in enumerate(profiles.values()):
            if t.project not in projects:
                raise self.fail(f"test_profiles[{i}].project", f"no project with id {t.project}")
        for i, p in enumerate(personalities.values()):
            for pid in p.enabled:
                if pid not in projects:
                    raise self.fail(f"personalities[{i}].enabled", f"no project with id {pid}")
