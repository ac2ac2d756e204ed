"""The simulator's store and run lifecycle: a pure state machine over an injected clock.

No threads, sleeps or I/O here. Time is whatever ``clock()`` returns (simulated seconds), so tests drive it
with a mutable float and the server drives it with a scaled monotonic clock.

Each run's whole timeline is computed when its result is created (outcome draws are deterministic, see
``outcomes.py``), and its status at time ``t`` is a pure function of that timeline::

    pending -queue-> in_queue -start (+ wait for a slot)-> running -talk-> evaluating -eval-> completed
                        |                                      `-fail_after-> failed    (infrastructure)
                        `-timeout_after-> timeout                                     (never connected)
    any non-terminal status --end_calls--> cancelled

``concurrency_limit`` N is honoured by list scheduling: in index order, each run waits for the earliest of N
slots to free up, so at most N runs of a result are ``running``/``evaluating`` at any instant.

A result's status derives from its runs: all terminal => ``completed`` (even with unsuccessful runs),
``failed``/``timeout`` only when no run connected at all, ``cancelled`` after end_calls stopped a run.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from runner.simulator.outcomes import Outcome, RunKind, draw_outcome
from runner.simulator.world import Metric, Scenario, World

TERMINAL = frozenset({"completed", "failed", "timeout", "cancelled"})
INF = math.inf

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """One run to perform: what the start request expanded to."""

    scenario_id: int
    personality_id: int | None = None
    test_profile_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # per-run request data, e.g. websocket_url


@dataclass(frozen=True, slots=True)
class StartSpec:
    """A validated start request (built by ``modes.py``)."""

    agent_id: int
    name: str
    mode: str  # the endpoint name, e.g. "run_scenarios_text"
    run_type: str  # e.g. "Voice", "Text", "WebSocket"
    run_as_text: bool
    runs: tuple[RunPlan, ...]
    concurrency_limit: int | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # the result's run_settings snapshot
    mock_tool_names: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    queued_at: float
    started_at: float  # INF when the run never starts
    eval_at: float  # running -> evaluating (== finished_at when there is no evaluation)
    finished_at: float  # -> final
    final: str  # completed | failed | timeout

    def status_at(self, t: float) -> str:
        if t < self.queued_at:
            return "pending"
        if t >= self.finished_at:
            return self.final
        if t < self.started_at:
            return "in_queue"
        return "running" if t < self.eval_at else "evaluating"


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    result_id: int
    index: int
    plan: RunPlan
    outcome: Outcome
    timeline: Timeline
    overrides: Mapping[str, Any] = field(default_factory=dict)  # fields written by PATCH


@dataclass(frozen=True, slots=True)
class ResultRecord:
    id: int
    spec: StartSpec
    created_at: float
    run_ids: tuple[int, ...]
    cancelled_at: float | None = None
    stalled: bool = False  # fault "never": the runs never finish


@dataclass(frozen=True, slots=True)
class TestSet:
    __test__ = False  # not a pytest test class

    id: int
    run_id: int
    name: str
    project: int | None
    reviews: tuple[tuple[int, str, Any], ...]  # (metric id, feedback, expected value)
    created_at: float


@dataclass(frozen=True, slots=True)
class RunState:
    """A run as seen at one instant."""

    record: RunRecord
    status: str
    success: bool
    at: float  # the instant the run's timeline was read at (the cancellation time, once cancelled)

    @property
    def executed(self) -> bool:
        """The call had started (before any cancellation)."""
        return self.record.timeline.started_at <= self.at

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def evaluated(self) -> bool:
        """The call happened and its evaluation is available."""
        return self.status == "completed" and self.record.outcome.kind is RunKind.CONNECTED


class SimState:
    """All results, runs and test sets of one simulator instance."""

    def __init__(self, world: World, *, clock: Clock, seed: int = 0) -> None:
        self.world = world
        self.clock = clock
        self.seed = seed
        self.results: dict[int, ResultRecord] = {}
        self.runs: dict[int, RunRecord] = {}
        self.test_sets: dict[int, TestSet] = {}  # by run id
        self.run_updates: list[tuple[int, Mapping[str, Any]]] = []  # every PATCH applied, in order
        self.adhoc: dict[int, Scenario] = {}  # scenarios created by run_scenarios_json
        self._adhoc_keys: dict[tuple[int, str], int] = {}
        self._adhoc_refs: dict[int, str] = {}  # ad-hoc scenario id -> "json:<agent>:<key>", order-free
        self._occurrences: Counter[str] = Counter()  # runs created so far per outcome key
        # Distinct id ranges: a client mixing up result and run ids gets a 404, not someone else's data.
        self._next = {"result": 1001, "run": 20001, "test_set": 7001, "scenario": 9001}

    def now(self) -> float:
        return self.clock()

    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    # -- lookups ---------------------------------------------------------------------------------------------

    def scenario(self, scenario_id: int) -> Scenario | None:
        return self.world.scenarios.get(scenario_id) or self.adhoc.get(scenario_id)

    def metrics_for(self, scenario: Scenario) -> tuple[Metric, ...]:
        ids = scenario.metrics or tuple(self.world.metrics)
        return tuple(self.world.metrics[i] for i in ids)

    def adhoc_scenario(self, agent_id: int, key: str, template: Scenario) -> Scenario:
        """The scenario a JSON spec entry stands for; the same (agent, key) keeps its id across starts."""
        sid = self._adhoc_keys.get((agent_id, key))
        if sid is None:
            sid = self._new_id("scenario")
            self._adhoc_keys[(agent_id, key)] = sid
            self._adhoc_refs[sid] = f"json:{agent_id}:{key}"
        scenario = replace(template, id=sid)
        self.adhoc[sid] = scenario
        return scenario

    def run_state(self, run: RunRecord, now: float | None = None) -> RunState:
        now = self.now() if now is None else now
        cancelled_at = self.results[run.result_id].cancelled_at
        # After end_calls the run is frozen as it was at that instant; anything unfinished is cancelled.
        t = now if cancelled_at is None else min(now, cancelled_at)
        status = run.timeline.status_at(t)
        if cancelled_at is not None and now >= cancelled_at and status not in TERMINAL:
            status = "cancelled"
        success = status == "completed" and run.outcome.success
        success = bool(run.overrides.get("success", success))
        return RunState(run, status, success, t)

    def run_states(self, result: ResultRecord, now: float | None = None) -> list[RunState]:
        now = self.now() if now is None else now
        return [self.run_state(self.runs[rid], now) for rid in result.run_ids]

    def result_status(self, states: list[RunState]) -> str:
        """A result's status, derived from its runs' statuses at one instant."""
        statuses = {s.status for s in states}
        if statuses <= TERMINAL:
            if "cancelled" in statuses:
                return "cancelled"
            if statuses <= {"failed", "timeout"}:  # nothing connected: an infrastructure failure
                return "timeout" if statuses == {"timeout"} else "failed"
            return "completed"
        if statuses == {"pending"}:
            return "pending"
        if statuses <= {"pending", "in_queue"}:
            return "in_queue"
        if statuses - TERMINAL == {"evaluating"}:
            return "evaluating"
        return "running"

    # -- mutations -------------------------------------------------------------------------------------------

    def create_result(self, spec: StartSpec, *, stalled: bool = False) -> ResultRecord:
        agent = self.world.agents[spec.agent_id]
        result_id = self._new_id("result")
        created = self.now()
        slots: list[float] = []  # finish times of the runs holding a concurrency slot
        run_ids: list[int] = []
        for index, plan in enumerate(spec.runs):
            scenario = self.scenario(plan.scenario_id)
            if scenario is None:  # modes.py validated the ids; this would be a simulator bug
                raise KeyError(f"unknown scenario {plan.scenario_id}")
            personality_id = plan.personality_id
            # Keyed on what the run is, not on result ids, so concurrent starts cannot swap outcomes.
            ref = self._adhoc_refs.get(scenario.id, str(scenario.id))
            what = f"{agent.id}:{spec.mode}:{ref}:{personality_id}:{plan.test_profile_id}"
            occurrence = self._occurrences[what]
            self._occurrences[what] += 1
            outcome = draw_outcome(
                seed=self.seed,
                key=f"{what}:{occurrence}",
                agent=agent,
                scenario=scenario,
                personality=None if personality_id is None else self.world.personalities.get(personality_id),
                metrics=self.metrics_for(scenario),
                timing=self.world.timing,
            )
            timeline = self._schedule(outcome, created, slots, spec.concurrency_limit, stalled)
            run = RunRecord(self._new_id("run"), result_id, index, plan, outcome, timeline)
            self.runs[run.id] = run
            run_ids.append(run.id)
        result = ResultRecord(result_id, spec, created, tuple(run_ids), stalled=stalled)
        self.results[result_id] = result
        return result

    def _schedule(
        self, outcome: Outcome, created: float, slots: list[float], limit: int | None, stalled: bool
    ) -> Timeline:
        queued = created + outcome.queue_delay
        if outcome.kind is RunKind.TIMEOUT:  # never dialled in: holds no slot, times out in the queue
            finished = INF if stalled else queued + self.world.timing.timeout_after
            return Timeline(queued, INF, finished, finished, "timeout")
        start = queued + outcome.start_delay
        if limit is not None and len(slots) >= limit:
            start = max(start, heapq.heappop(slots))
        if stalled:
            eval_at = finished = INF
        elif outcome.kind is RunKind.INFRA:
            eval_at = finished = start + outcome.fail_after
        else:
            eval_at = start + outcome.talk_time
            finished = eval_at + outcome.eval_time
        if limit is not None:
            heapq.heappush(slots, finished)
        final = "completed" if outcome.kind is RunKind.CONNECTED else "failed"
        return Timeline(queued, start, eval_at, finished, final)

    def end_calls(self, result_id: int) -> None:
        """Stop the result's in-flight runs; a finished result is left as it is."""
        result = self.results[result_id]
        if result.cancelled_at is not None:
            return
        now = self.now()
        if all(s.terminal for s in self.run_states(result, now)):
            return
        self.results[result_id] = replace(result, cancelled_at=now)

    def rerun(self, result_id: int) -> ResultRecord:
        """A new result re-executing every run of the old one (new outcomes: the calls happen again)."""
        return self.create_result(self.results[result_id].spec)

    def patch_run(self, run_id: int, changes: Mapping[str, Any]) -> RunRecord:
        """Apply a validated PATCH (fields are replaced, as the platform does) and log it."""
        self.run_updates.append((run_id, dict(changes)))
        run = self.runs[run_id]
        run = replace(run, overrides={**run.overrides, **changes})
        self.runs[run_id] = run
        return run

    def test_set_for(
        self, run_id: int, name: str, project: int | None, reviews: tuple[tuple[int, str, Any], ...]
    ) -> TestSet:
        """The run's test set, created on first call; later calls return the existing one unchanged."""
        existing = self.test_sets.get(run_id)
        if existing is not None:
            return existing
        test_set = TestSet(
            self._new_id("test_set"), run_id, name or str(run_id), project, reviews, self.now()
        )
        self.test_sets[run_id] = test_set
        return test_set
