"""The Freeplay part of a simulator world: projects, evaluation criteria, datasets and test suites.

It is the ``freeplay:`` section of a world YAML (the rest of the format is in ``world.py``)::

    freeplay:
      summary_shape: pass_fail      # default per-criterion shape: pass_fail | histogram | scalar (§C-13)
      client_shape: pass_fail       # shape of client_evaluation entries (from recorded eval_results)
      doc_aliases: false            # also emit the documented test-case keys id/values/metadata (§C-14)
      timing:                       # simulated seconds, [low, high] drawn uniformly per test case
        generate: [1, 4]            # runs/execute: until the server has produced a case's output
        evaluation: [3, 8]          # from a recording until its auto-evaluations are done
      projects: [{id: UUID, name}]
      criteria: [{id: UUID, name, rule, shape?, phrases?, pass_at?, length?, penalty?}]
      datasets: [{name, project: UUID, kind: completion|trace, id?: UUID, criteria?: [names],
                  prompt?: {name, version}, cases: [CASE]}]
      suites:   [{id: UUID, name, project: UUID, dataset: name, quality?: P, pass?: {criterion: PASS}}]

    CASE: variables: {...} (completion) | input: any JSON (trace), answer: the reference output,
          expected: [keywords], forbidden?: [phrases], bad_answer?: text, history?: [messages],
          metadata?: {...}, id?: UUID (default: derived from the dataset id and the case's position)
    PASS: {pass_rate: R} (share of passing recordings >= R) | {average: X} (mean score >= X)

Evaluation rules (``freeplay_evals.py``) are pure functions of a recorded output's text and its test case's
hidden ``expected``/``forbidden`` lists, which the API never sends (only ``answer``, as the stored output when
``include_outputs`` is set). A suite's ``quality`` is the chance that ``runs/execute`` answers a case with its
``answer`` (else its ``bad_answer``); its ``pass`` thresholds decide the run's ``passed`` verdict.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.simulator.world_loader import WorldReader

RULES = ("keywords", "scale", "forbidden", "penalty")
SHAPES = ("pass_fail", "histogram", "scalar")
KINDS = ("completion", "trace")
MEASURES = ("pass_rate", "average")
GENERIC_BAD_ANSWER = "Sorry, I can't help with that."
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NAMESPACE = uuid.UUID("0b7c9e52-6a1d-4f0e-9c3b-5d2e8f1a7c40")


def is_uuid(text: object) -> bool:
    """A canonical UUID string (any version; compared case-insensitively)."""
    return isinstance(text, str) and _UUID.fullmatch(text.lower()) is not None


def derived_uuid(*parts: object) -> str:
    """A stable UUID v4-shaped id derived from ``parts``."""
    raw = bytearray(uuid.uuid5(_NAMESPACE, ":".join(str(p) for p in parts)).bytes)
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


@dataclass(frozen=True, slots=True)
class FpProject:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class FpCriterion:
    """One auto-evaluation. ``rule``: keywords (pass = every expected keyword present), scale (1-5 from
    keyword coverage and answer length), forbidden (yes/no: no forbidden phrase), penalty (0-1, minus
    ``penalty`` per rude phrase)."""

    id: str
    name: str
    rule: str
    shape: str
    phrases: tuple[str, ...] = ()
    pass_at: float = 0.0  # scale and penalty: a score >= pass_at passes
    length: tuple[int, int] = (40, 400)  # scale: answer length band (characters) worth one point
    penalty: float = 0.25


@dataclass(frozen=True, slots=True)
class FpCase:
    id: str
    index: int
    variables: Mapping[str, Any] | None  # completion cases
    input: Any  # trace cases
    answer: str
    expected: tuple[str, ...]
    forbidden: tuple[str, ...] = ()
    bad_answer: str = GENERIC_BAD_ANSWER
    history: tuple[Mapping[str, Any], ...] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FpDataset:
    id: str
    name: str
    project: str
    kind: str  # completion | trace
    cases: tuple[FpCase, ...]
    criteria: tuple[str, ...]  # criterion names evaluated on its recordings
    prompt_name: str | None = None
    prompt_version: str | None = None

    @property
    def target_type(self) -> str:
        return "prompt" if self.kind == "completion" else "agent"


@dataclass(frozen=True, slots=True)
class FpSuite:
    id: str
    name: str
    project: str
    dataset: str  # dataset name
    quality: float = 1.0
    thresholds: tuple[tuple[str, str, float], ...] = ()  # (criterion, measure, value)


@dataclass(frozen=True, slots=True)
class FpTiming:
    generate: tuple[float, float] = (1.0, 4.0)
    evaluation: tuple[float, float] = (3.0, 8.0)


@dataclass(frozen=True, slots=True)
class FreeplayWorld:
    projects: Mapping[str, FpProject] = field(default_factory=dict)
    criteria: Mapping[str, FpCriterion] = field(default_factory=dict)  # by name
    datasets: Mapping[tuple[str, str], FpDataset] = field(default_factory=dict)  # by (project, name)
    suites: Mapping[str, FpSuite] = field(default_factory=dict)
    timing: FpTiming = field(default_factory=FpTiming)
    client_shape: str = "pass_fail"
    doc_aliases: bool = False

    def criterion_by_id(self, criterion_id: str) -> FpCriterion | None:
        return next((c for c in self.criteria.values() if c.id == criterion_id.lower()), None)


# -- reading the YAML section --------------------------------------------------------------------------


def read_freeplay(r: WorldReader, raw: Any) -> FreeplayWorld:
    """Validate the ``freeplay:`` section; errors name the key path like the rest of the world."""
    if raw is None:
        return FreeplayWorld()
    top = r.mapping(raw, "freeplay")
    known = {"summary_shape", "client_shape", "doc_aliases", "timing", "projects", "criteria"}
    known |= {"datasets", "suites"}
    for key in top:
        if key not in known:
            raise r.fail(f"freeplay.{key}", f"unknown key; expected one of {', '.join(sorted(known))}")
    default_shape = _choice(r, top, "summary_shape", "freeplay", SHAPES, "pass_fail")
    projects: dict[str, FpProject] = {}
    for key, p in r.items(top, "projects"):
        project = FpProject(_uuid(r, p, "id", f"freeplay.{key}"), r.str_(p, "name", f"freeplay.{key}"))
        if project.id in projects:
            raise r.fail(f"freeplay.{key}.id", f"duplicate id {project.id}")
        projects[project.id] = project
    criteria: dict[str, FpCriterion] = {}
    for key, c in r.items(top, "criteria"):
        criterion = _criterion(r, c, f"freeplay.{key}", default_shape)
        if criterion.name in criteria or any(o.id == criterion.id for o in criteria.values()):
            raise r.fail(f"freeplay.{key}", f"duplicate criterion {criterion.name!r} or id {criterion.id}")
        criteria[criterion.name] = criterion
    datasets: dict[tuple[str, str], FpDataset] = {}
    for key, d in r.items(top, "datasets"):
        dataset = _dataset(r, d, f"freeplay.{key}", projects, criteria)
        if (dataset.project, dataset.name) in datasets:
            raise r.fail(f"freeplay.{key}.name", f"duplicate dataset {dataset.name!r} in its project")
        datasets[(dataset.project, dataset.name)] = dataset
    suites: dict[str, FpSuite] = {}
    for key, s in r.items(top, "suites"):
        suite = _suite(r, s, f"freeplay.{key}", datasets, criteria)
        if suite.id in suites:
            raise r.fail(f"freeplay.{key}.id", f"duplicate id {suite.id}")
        suites[suite.id] = suite
    timing_raw = r.mapping(top.get("timing", {}), "freeplay.timing")
    default = FpTiming()
    timing = FpTiming(
        generate=r.range_(timing_raw, "generate", "freeplay.timing", default.generate),
        evaluation=r.range_(timing_raw, "evaluation", "freeplay.timing", default.evaluation),
    )
    aliases = top.get("doc_aliases", False)
    if not isinstance(aliases, bool):
        raise r.fail("freeplay.doc_aliases", "must be a boolean")
    return FreeplayWorld(
        projects=projects,
        criteria=criteria,
        datasets=datasets,
        suites=suites,
        timing=timing,
        client_shape=_choice(r, top, "client_shape", "freeplay", SHAPES, "pass_fail"),
        doc_aliases=aliases,
    )


def _uuid(r: WorldReader, raw: Mapping[str, Any], key: str, path: str) -> str:
    value = r.str_(raw, key, path)
    if not is_uuid(value):
        raise r.fail(f"{path}.{key}", "must be a UUID such as 0b7c9e52-6a1d-4f0e-9c3b-5d2e8f1a7c40")
    return value.lower()


def _choice(
    r: WorldReader, raw: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...], default: str
) -> str:
    value = r.str_(raw, key, path, default)
    if value not in choices:
        raise r.fail(f"{path}.{key}", f"must be one of {', '.join(choices)}")
    return value


def _criterion(r: WorldReader, raw: Mapping[str, Any], path: str, default_shape: str) -> FpCriterion:
    rule = _choice(r, raw, "rule", path, RULES, "")
    length = r.range_(raw, "length", path, (40.0, 400.0))
    return FpCriterion(
        id=_uuid(r, raw, "id", path),
        name=r.str_(raw, "name", path),
        rule=rule,
        shape=_choice(r, raw, "shape", path, SHAPES, default_shape),
        phrases=tuple(p.lower() for p in r.strs(raw, "phrases", path)),
        pass_at=r.num(raw, "pass_at", path, {"scale": 4.0, "penalty": 0.75}.get(rule, 0.0)),
        length=(int(length[0]), int(length[1])),
        penalty=r.num(raw, "penalty", path, 0.25),
    )


def _case(r: WorldReader, raw: Mapping[str, Any], path: str, kind: str, dataset_id: str, i: int) -> FpCase:
    if kind == "completion":
        variables: Mapping[str, Any] | None = dict(r.mapping(raw.get("variables"), f"{path}.variables"))
        value = None
    else:
        if "input" not in raw or raw["input"] is None:
            raise r.fail(f"{path}.input", "a trace case needs an input")
        variables, value = None, raw["input"]
    history = raw.get("history")
    if history is not None and not (isinstance(history, list) and all(isinstance(m, dict) for m in history)):
        raise r.fail(f"{path}.history", "must be a list of message objects")
    return FpCase(
        id=_uuid(r, raw, "id", path) if "id" in raw else derived_uuid(dataset_id, i),
        index=i,
        variables=variables,
        input=value,
        answer=r.str_(raw, "answer", path),
        expected=r.strs(raw, "expected", path),
        forbidden=r.strs(raw, "forbidden", path),
        bad_answer=r.str_(raw, "bad_answer", path, GENERIC_BAD_ANSWER),
        history=None if history is None else tuple(history),
        metadata=dict(r.mapping(raw.get("metadata", {}), f"{path}.metadata")),
    )


def _dataset(
    r: WorldReader,
    raw: Mapping[str, Any],
    path: str,
    projects: Mapping[str, FpProject],
    criteria: Mapping[str, FpCriterion],
) -> FpDataset:
    name = r.str_(raw, "name", path)
    project = _uuid(r, raw, "project", path)
    if project not in projects:
        raise r.fail(f"{path}.project", f"no Freeplay project with id {project}")
    kind = _choice(r, raw, "kind", path, KINDS, "")
    dataset_id = _uuid(r, raw, "id", path) if "id" in raw else derived_uuid(project, name)
    cases = tuple(
        _case(r, c, f"{path}.{k}", kind, dataset_id, i) for i, (k, c) in enumerate(r.items(raw, "cases"))
    )
    if not cases:
        raise r.fail(f"{path}.cases", "a dataset needs at least one case")
    names = r.strs(raw, "criteria", path) or tuple(criteria)
    for n in names:
        if n not in criteria:
            raise r.fail(f"{path}.criteria", f"no criterion named {n!r}")
    prompt = r.mapping(raw.get("prompt", {}), f"{path}.prompt")
    version = prompt.get("version")
    return FpDataset(
        id=dataset_id,
        name=name,
        project=project,
        kind=kind,
        cases=cases,
        criteria=names,
        prompt_name=r.str_(prompt, "name", f"{path}.prompt") if prompt else None,
        prompt_version=None if version is None else str(version),
    )


def _suite(
    r: WorldReader,
    raw: Mapping[str, Any],
    path: str,
    datasets: Mapping[tuple[str, str], FpDataset],
    criteria: Mapping[str, FpCriterion],
) -> FpSuite:
    project = _uuid(r, raw, "project", path)
    dataset = r.str_(raw, "dataset", path)
    if (project, dataset) not in datasets:
        raise r.fail(f"{path}.dataset", f"no dataset named {dataset!r} in project {project}")
    thresholds: list[tuple[str, str, float]] = []
    for name, spec in r.mapping(raw.get("pass", {}), f"{path}.pass").items():
        where = f"{path}.pass.{name}"
        if name not in criteria:
            raise r.fail(where, f"no criterion named {name!r}")
        spec = r.mapping(spec, where)
        if len(spec) != 1 or next(iter(spec)) not in MEASURES:
            raise r.fail(where, "must be {pass_rate: R} or {average: X}")
        measure = next(iter(spec))
        thresholds.append((str(name), measure, r.num(spec, measure, where)))
    return FpSuite(
        id=_uuid(r, raw, "id", path),
        name=r.str_(raw, "name", path),
        project=project,
        dataset=dataset,
        quality=r.prob(raw, "quality", path, 1.0),
        thresholds=tuple(thresholds),
    )
