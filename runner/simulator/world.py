"""The simulator's world: what exists on the simulated platform and how good each agent is.

A world is a YAML file (the default ships as package data, ``worlds/default.yaml``)::

    metric_style: both            # both | legacy | new: how binary metrics are emitted (api-contracts §A7)
    api_keys: [k1, k2]            # optional; absent = any non-empty key is accepted
    page_size: 10                 # default page size of list endpoints
    cost_per_run: 0.25            # credits, for run_scenarios_json?dry_run=true plans
    timing:                       # simulated seconds, [low, high] ranges drawn uniformly
      queue: [1, 3]               # pending -> in_queue
      start: [1, 4]               # in_queue -> running (when a concurrency slot is free)
      evaluation: [3, 8]          # evaluating -> completed
      infra_fail_after: [2, 10]   # running -> failed for an infrastructure error
      timeout_after: 300          # in_queue -> timeout for a run that never connects
    projects: [{id, name}]
    metrics:  [{id, name, type, slug?, enum_values?, unit?, rubric?, description?}]
    personalities: [{id, name, enabled: [project ids]}]
    test_profiles: [{id, name, project, information?}]
    scenarios: [{id, name, project, tags?, folder?, expected_outcome_prompt?, instructions?,
                 agent?, personality?, metrics?}]
    agents: [{id, name, project, assistant_id?, inbound_number?, quality: QUALITY,
              scenarios?: {scenario id: partial QUALITY}}]
    freeplay: {...}               # optional: the Freeplay side (format in freeplay_world.py)

    QUALITY: success (P(success | connected)), infra_error (P(run fails to connect)),
             timeout (P(run never connects)), duration [low, high] seconds,
             metrics: {metric name: {pass: P} | {mean, sd, min?, max?} | {weights: {label: w}}}

Scenarios are project-scoped: a scenario without ``agent`` may be run by any agent of its project, which is
how the default world lets a good and a regressed agent run the very same scenarios.

Metric ``type`` is one of ``binary_workflow_adherence``, ``binary_qualitative`` (legacy binary, score 5/0),
``binary`` (new style, ``passed``), ``continuous_qualitative`` (0-5), ``numeric`` (raw, in ``unit``), ``enum``
(one of ``enum_values``). ``rubric: true`` binary metrics decide the run's ``success`` together with the
expected outcome.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from runner.errors import SimulatorError
from runner.simulator.freeplay_world import FreeplayWorld

BINARY_TYPES = frozenset({"binary_workflow_adherence", "binary_qualitative", "binary"})
METRIC_TYPES = BINARY_TYPES | {"continuous_qualitative", "numeric", "enum"}
METRIC_STYLES = ("both", "legacy", "new")


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Metric:
    id: int
    name: str
    type: str  # one of METRIC_TYPES
    slug: str
    enum_values: tuple[str, ...] = ()
    unit: str = ""
    rubric: bool = False  # a failing value makes the run fail (binary metrics only)
    description: str = ""

    @property
    def is_binary(self) -> bool:
        return self.type in BINARY_TYPES


@dataclass(frozen=True, slots=True)
class Personality:
    id: int
    name: str
    enabled: tuple[int, ...]  # project ids where it may be used


@dataclass(frozen=True, slots=True)
class TestProfile:
    __test__ = False  # not a pytest test class, despite the name

    id: int
    name: str
    project: int
    information: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    id: int
    name: str
    project: int
    tags: tuple[str, ...] = ()
    folder: str = ""  # dot-separated, e.g. "Sales.Inbound"
    expected_outcome_prompt: str = ""
    instructions: str = ""
    agent: int | None = None  # None = usable by every agent of the project
    personality: int | None = None  # default personality when the request names none
    metrics: tuple[int, ...] = ()  # metrics evaluated on its runs; () = every metric of the world

    def in_folder(self, path: str) -> bool:
        return self.folder == path or self.folder.startswith(path + ".")


@dataclass(frozen=True, slots=True)
class MetricDist:
    """How one agent scores on one metric: binary ``pass_prob``, numeric/continuous normal(mean, sd)
    clipped to [low, high], enum ``weights``."""

    pass_prob: float | None = None
    mean: float | None = None
    sd: float = 0.0
    low: float | None = None
    high: float | None = None
    weights: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Quality:
    success: float = 1.0
    infra_error: float = 0.0
    timeout: float = 0.0
    duration: tuple[float, float] = (30.0, 120.0)
    metrics: Mapping[int, MetricDist] = field(default_factory=dict)  # by metric id


@dataclass(frozen=True, slots=True)
class Agent:
    id: int
    name: str
    project: int
    quality: Quality
    assistant_id: str | None = None
    inbound_number: str | None = None
    scenario_quality: Mapping[int, Quality] = field(default_factory=dict)  # already merged over quality

    def quality_for(self, scenario_id: int) -> Quality:
        return self.scenario_quality.get(scenario_id, self.quality)


@dataclass(frozen=True, slots=True)
class Timing:
    queue: tuple[float, float] = (1.0, 3.0)
    start: tuple[float, float] = (1.0, 4.0)
    evaluation: tuple[float, float] = (3.0, 8.0)
    infra_fail_after: tuple[float, float] = (2.0, 10.0)
    timeout_after: float = 300.0


DEFAULT_TIMING = Timing()


@dataclass(frozen=True, slots=True)
class World:
    source: str
    projects: Mapping[int, Project]
    agents: Mapping[int, Agent]
    scenarios: Mapping[int, Scenario]
    personalities: Mapping[int, Personality]
    test_profiles: Mapping[int, TestProfile]
    metrics: Mapping[int, Metric]
    api_keys: tuple[str, ...] = ()  # () = any non-empty key
    metric_style: str = "both"
    page_size: int = 10
    cost_per_run: float = 0.25
    timing: Timing = field(default_factory=Timing)
    freeplay: FreeplayWorld = field(default_factory=FreeplayWorld)

    def metric_by_ref(self, ref: int | str) -> Metric | None:
        """A metric by id, slug or name (the JSON spec refers to metrics by id or slug)."""
        if isinstance(ref, int):
            return self.metrics.get(ref)
        return next((m for m in self.metrics.values() if ref in (m.slug, m.name)), None)


def load_world(path: str | None) -> World:
    """Load and validate a world; ``None`` loads the packaged default. Raises SimulatorError naming the
    file and the key path of the first problem."""
    if path is None:
        source = "default world (runner/simulator/worlds/default.yaml)"
        text = (
            importlib.resources.files("runner.simulator").joinpath("worlds/default.yaml").read_text("utf-8")
        )
    else:
        source = path
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise SimulatorError(f"cannot read world file {path}: {exc.strerror}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # one line: "file:line: not valid YAML: problem"
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SimulatorError(f"{where}: not valid YAML: {problem}") from exc
    from runner.simulator.world_loader import WorldReader  # the reader needs these dataclasses

    return WorldReader(source).world(raw)
