"""The simulator's Freeplay store: test runs (suite runs are test runs too) and their recordings.

Pure state over the same injected clock as the Cekura side: no threads, sleeps or I/O. A test run is
``in-progress`` until every test case of its dataset has a recording visible at ``t`` AND every recording's
auto-evaluations are done (``evaluation`` seconds after it was recorded, drawn per recording); then it is
``complete`` -- or ``failed`` when the create request carried the ``fail`` fault (its evaluations never
produce grades). With the ``never`` fault the evaluations never finish and the run stays ``in-progress``.

Recordings are keyed by kind and client-chosen id (``completion:<id>``, ``trace:<id>``): recording the same
id again replaces its content (a retried request is not a second recording) but keeps its timing.
``runs/execute`` makes the server produce a recording for every case itself, each ``generate`` seconds after
the start (drawn per case), answering correctly with the suite's ``quality``.

Everything random comes from ``random.Random`` seeded with strings that start with the simulator's seed:
test-run ids from a per-instance stream (so the same seed and the same requests give the same ids), delays
from the run and recording identity, and execute answers from (suite, execution number, case).
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from runner.simulator.freeplay_evals import Grade, client_grade, grade
from runner.simulator.freeplay_world import FpCase, FpDataset, FpSuite, FreeplayWorld, derived_uuid

INF = math.inf
IN_PROGRESS = "in-progress"
Clock = Callable[[], float]
EvalPairs = tuple[tuple[str, bool | float], ...]


@dataclass(frozen=True, slots=True)
class FpRecording:
    key: str  # "completion:<id>", "trace:<id>" or "server:<case id>"
    kind: str  # completion | trace
    session_id: str
    case_id: str
    text: str  # the output text the evaluations read
    eval_results: EvalPairs
    recorded_at: float
    evaluated_at: float  # INF: the evaluations never finish


@dataclass(slots=True)
class FpRun:
    id: str
    project: str
    dataset: FpDataset
    name: str
    description: str
    created_at: float
    criteria: tuple[str, ...]  # criterion names evaluated (target_evaluation_ids may restrict them)
    include_outputs: bool = False
    flavor_name: str | None = None
    suite_id: str | None = None
    environment: str | None = None
    fate: str = "complete"  # complete | failed | never
    recordings: dict[str, FpRecording] = field(default_factory=dict)

    def case(self, case_id: str) -> FpCase | None:
        return next((c for c in self.dataset.cases if c.id == case_id.lower()), None)


class FreeplayState:
    """All Freeplay test runs of one simulator instance. Not thread-safe: callers serialise."""

    def __init__(self, world: FreeplayWorld, *, clock: Clock, seed: int = 0) -> None:
        self.world = world
        self.clock = clock
        self.seed = seed
        self.runs: dict[str, FpRun] = {}  # in creation order
        self.loose: set[str] = set()  # recordings without test_run_info (accepted, not evaluated)
        self._ids = random.Random(f"{seed}:freeplay-ids")  # noqa: S311 - simulation, not crypto
        self._executions: Counter[str] = Counter()

    def now(self) -> float:
        return self.clock()

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def _draw(self, key: str, span: tuple[float, float]) -> float:
        rng = random.Random(f"{self.seed}:{key}")  # noqa: S311 - simulation, not crypto
        return rng.uniform(*span)

    # -- mutations -------------------------------------------------------------------------------------------

    def create_run(
        self,
        dataset: FpDataset,
        *,
        name: str,
        description: str,
        criteria: tuple[str, ...],
        include_outputs: bool = False,
        flavor_name: str | None = None,
        suite_id: str | None = None,
        environment: str | None = None,
        fate: str = "complete",
    ) -> FpRun:
        run = FpRun(
            id=self.new_id(),
            project=dataset.project,
            dataset=dataset,
            name=name,
            description=description,
            created_at=self.now(),
            criteria=criteria,
            include_outputs=include_outputs,
            flavor_name=flavor_name,
            suite_id=suite_id,
            environment=environment,
            fate=fate,
        )
        self.runs[run.id] = run
        return run

    def record(
        self,
        run: FpRun,
        *,
        kind: str,
        record_id: str,
        session_id: str,
        case_id: str,
        text: str,
        eval_results: EvalPairs,
    ) -> FpRecording:
        key = f"{kind}:{record_id.lower()}"
        old = run.recordings.get(key)
        if old is not None:
            at, evaluated = old.recorded_at, old.evaluated_at
        else:
            at = self.now()
            delay = self._draw(f"fp-eval:{run.id}:{key}", self.world.timing.evaluation)
            evaluated = INF if run.fate == "never" else at + delay
        rec = FpRecording(key, kind, session_id.lower(), case_id.lower(), text, eval_results, at, evaluated)
        run.recordings[key] = rec
        return rec

    def update(self, run: FpRun, key: str, *, text: str | None, eval_results: EvalPairs) -> None:
        """Change a recording's text (None keeps it) and merge eval_results into its own; timing is kept."""
        rec = run.recordings[key]
        merged = tuple({**dict(rec.eval_results), **dict(eval_results)}.items())
        run.recordings[key] = replace(rec, text=rec.text if text is None else text, eval_results=merged)

    def holding(self, project: str, key: str) -> FpRun | None:
        """The project's test run holding the recording ``key``, if any."""
        return next((r for r in self.runs.values() if r.project == project and key in r.recordings), None)

    def execute(self, run: FpRun, suite: FpSuite) -> None:
        """The server produces every case's output itself (``runs/execute``)."""
        occurrence = self._executions[suite.id]
        self._executions[suite.id] += 1
        timing = self.world.timing
        for case in run.dataset.cases:
            what = f"fp-exec:{suite.id}:{occurrence}:{case.index}"
            good = random.Random(f"{self.seed}:{what}").random() < suite.quality  # noqa: S311
            at = run.created_at + self._draw(f"{what}:generate", timing.generate)
            evaluated = INF if run.fate == "never" else at + self._draw(f"{what}:eval", timing.evaluation)
            key = f"server:{case.id}"
            session = derived_uuid(run.id, case.id, "session")
            text = case.answer if good else case.bad_answer
            run.recordings[key] = FpRecording(
                key, run.dataset.kind, session, case.id, text, (), at, evaluated
            )

    # -- reading at an instant -------------------------------------------------------------------------------

    def visible(self, run: FpRun, t: float) -> list[FpRecording]:
        return [r for r in run.recordings.values() if r.recorded_at <= t]

    def status(self, run: FpRun, t: float | None = None) -> str:
        t = self.now() if t is None else t
        recorded = {r.case_id for r in self.visible(run, t)}
        if any(c.id not in recorded for c in run.dataset.cases):
            return IN_PROGRESS
        if any(r.evaluated_at > t for r in run.recordings.values()):
            return IN_PROGRESS
        return "failed" if run.fate == "failed" else "complete"

    def sessions_count(self, run: FpRun, t: float) -> int:
        return len({r.session_id for r in self.visible(run, t)})

    def auto_grades(self, run: FpRun, t: float) -> list[tuple[str, Grade]]:
        """(criterion, grade) for every recording whose evaluations are done at ``t``, criteria in order."""
        if run.fate == "failed":
            return []
        done = [r for r in run.recordings.values() if r.evaluated_at <= t]
        out: list[tuple[str, Grade]] = []
        for name in run.criteria:
            criterion = self.world.criteria[name]
            for rec in done:
                case = run.case(rec.case_id)
                if case is not None:
                    out.append((name, grade(criterion, case, rec.text)))
        return out

    def client_grades(self, run: FpRun, t: float) -> list[tuple[str, Grade]]:
        """(name, grade) for every eval_results value of the recordings visible at ``t``."""
        return [(name, client_grade(v)) for rec in self.visible(run, t) for name, v in rec.eval_results]
