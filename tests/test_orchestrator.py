"""The orchestrator: concurrent gates on an injected clock, failures isolated per gate, deadlines that end
remote calls, ambiguous starts looked up instead of re-sent, and reports written before clean-up on a signal.

The provider is a scripted fake implementing the Provider protocol; time is a FakeClock, so nothing sleeps.
"""

from __future__ import annotations

import os
import random
import signal
from dataclasses import replace
from typing import Any

import pytest

from runner.clock import FakeClock
from runner.errors import AuthError, ProbeUnsupported, RateLimited, StartOutcomeUnknown, TransientError
from runner.model import FailureKind, GateExecution, ResultSnapshot, RunRecord
from runner.orchestrator import RunSummary, execute
from runner.providers.base import StartedResult
from runner.settings import (
    CekuraGate,
    CekuraMode,
    Config,
    Defaults,
    PollPolicy,
    ScenarioRef,
    SimulatorSettings,
)
from runner.thresholds import Comparison, Op, Thresholds


def spec(name: str, timeout: float = 600.0) -> CekuraGate:
    return CekuraGate(
        name=name, agent=101, mode=CekuraMode.VOICE, line=1, timeout=timeout, scenarios=(ScenarioRef(1),),
        thresholds=Thresholds(success_rate=Comparison(Op.GE, 1.0, True, ">= 100%")),
    )  # fmt: skip


def config(*gates: CekuraGate, **defaults: Any) -> Config:
    return Config(
        path="c.yaml", version=1, simulator=SimulatorSettings(), cekura=None,
        defaults=replace(Defaults(poll=PollPolicy(initial=5.0, maximum=10.0)), **defaults), gates=gates,
    )  # fmt: skip


def snap(result_id: str, status: str) -> ResultSnapshot:
    run = RunRecord("1", "s", "1", None, status, status == "completed", True, False)
    terminal = status in {"completed", "failed", "timeout", "cancelled"}
    return ResultSnapshot(result_id, status, terminal, status == "completed", runs=(run,), total_runs=1)


class FakeProvider:
    """Scripts per gate name: a list of statuses (or exceptions) returned by successive polls."""

    name = "cekura"

    def __init__(self, polls: dict[str, list[Any]], start_errors: dict[str, list[Exception]] | None = None,
                 found: dict[str, bool] | None = None) -> None:  # fmt: skip
        self.polls = polls
        self.start_errors = start_errors or {}
        self.found = found or {}
        self.starts: list[str] = []
        self.finds: list[str] = []
        self.cancelled: list[str] = []
        self.on_poll: Any = None

    def describe_target(self, gate: CekuraGate) -> str:
        return f"agent {gate.agent}"

    def can_find_again(self, gate: CekuraGate) -> bool:
        return True

    async def start(self, gate: CekuraGate, reference: str) -> StartedResult:
        self.starts.append(gate.name)
        errors = self.start_errors.get(gate.name)
        if errors:
            raise errors.pop(0)
        return StartedResult(gate.name, "pending", 1, reference)

    async def find_started(self, gate: CekuraGate, reference: str) -> StartedResult | None:
        self.finds.append(gate.name)
        return StartedResult(gate.name, "running", 1, reference) if self.found.get(gate.name) else None

    async def poll(self, started: StartedResult) -> ResultSnapshot:
        if self.on_poll is not None:
            self.on_poll(started)
        script = self.polls[started.result_id]
        item = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(item, Exception):
            raise item
        return snap(started.result_id, item)

    async def probe(self, started: StartedResult, *, ended: bool = False) -> int:
        raise ProbeUnsupported("scripted polls only")  # every poll reads the scripted snapshot

    async def share_link(self, started: StartedResult) -> str | None:
        return f"https://share.test/{started.result_id}"

    async def cancel(self, started: StartedResult) -> None:
        self.cancelled.append(started.result_id)

    async def aclose(self) -> None:
        return None


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def gate_started(self, gate: CekuraGate, target: str, started: StartedResult) -> None:
        self.lines.append(f"start {gate.name}")

    def snapshot(self, gate: CekuraGate, snapshot: ResultSnapshot) -> None:
        self.lines.append(f"{gate.name} {snapshot.status}")

    def retrying(self, gate: CekuraGate, error: TransientError, delay: float) -> None:
        self.lines.append(f"retry {gate.name}")

    def gate_done(self, gate: CekuraGate, execution: GateExecution) -> None:
        self.lines.append(f"done {gate.name}")

    def interrupted(self, signal_name: str) -> None:
        self.lines.append(f"interrupted {signal_name}")

    def note(self, gate: CekuraGate, text: str) -> None:
        self.lines.append(f"note {gate.name}: {text}")


async def run(
    cfg: Config, fake: FakeProvider, *, watch_signals: bool = False
) -> tuple[RunSummary, list[str]]:
    finished: list[RunSummary] = []
    recorder = Recorder()

    def on_finished(summary: RunSummary) -> None:
        recorder.lines.append(f"reports cancelled={list(fake.cancelled)}")
        finished.append(summary)

    summary = await execute(
        cfg, {"cekura": fake}, clock=FakeClock(), events=recorder, on_finished=on_finished,
        rng=random.Random(0), watch_signals=watch_signals,
    )  # fmt: skip
    assert finished == [summary]
    return summary, recorder.lines


def by_gate(summary: RunSummary) -> dict[str, GateExecution]:
    return {execution.gate: execution for execution in summary.executions}


@pytest.mark.anyio
async def test_every_gate_is_polled_to_a_terminal_status() -> None:
    fake = FakeProvider({"a": ["pending", "running", "completed"], "b": ["running", "failed"]})
    summary, lines = await run(config(spec("a"), spec("b")), fake)
    result = by_gate(summary)
    assert result["a"].snapshot is not None and result["a"].snapshot.status == "completed"
    assert result["b"].snapshot is not None and result["b"].snapshot.status == "failed"
    assert result["a"].failure is None and result["a"].share_url == "https://share.test/a"
    assert summary.interrupted_by is None and fake.cancelled == []
    assert lines.index("start a") < lines.index("done a") < lines.index("reports cancelled=[]")


@pytest.mark.anyio
async def test_a_gate_that_never_finishes_times_out_and_its_calls_are_ended() -> None:
    """Never hanging: the per-gate deadline ends the wait, keeps the last snapshot, and ends remote calls."""
    fake = FakeProvider({"slow": ["running"], "fast": ["completed"]})
    summary, _ = await run(config(spec("slow", timeout=60.0), spec("fast")), fake)
    slow = by_gate(summary)["slow"]
    assert slow.failure is not None and slow.failure.kind is FailureKind.TIMEOUT
    assert "deadline of 1m" in slow.failure.message and "last status: running" in slow.failure.message
    assert slow.snapshot is not None and slow.snapshot.status == "running"
    assert fake.cancelled == ["slow"]
    assert by_gate(summary)["fast"].failure is None


@pytest.mark.anyio
async def test_the_overall_deadline_bounds_every_gate() -> None:
    """Every gate stops at the overall deadline; reports are written, then all remote calls are ended."""
    fake = FakeProvider({"a": ["running"], "b": ["running"]})
    summary, lines = await run(config(spec("a"), spec("b"), overall_timeout=30.0), fake)
    assert "reports cancelled=[]" in lines  # at the overall deadline, reports come before the clean-up
    for execution in summary.executions:
        assert execution.failure is not None and execution.failure.kind is FailureKind.TIMEOUT
        assert "overall deadline" in execution.failure.message
    assert sorted(fake.cancelled) == ["a", "b"]


@pytest.mark.anyio
async def test_one_gates_bug_or_outage_never_cancels_the_others() -> None:
    fake = FakeProvider({"bug": [ValueError("boom")], "down": [TransientError("503")], "ok": ["completed"]})
    summary, _ = await run(config(spec("bug"), spec("down"), spec("ok")), fake)
    result = by_gate(summary)
    assert result["bug"].failure is not None and result["bug"].failure.kind is FailureKind.INTERNAL
    assert result["down"].failure is not None and result["down"].failure.kind is FailureKind.INFRA
    assert result["ok"].failure is None


@pytest.mark.anyio
async def test_an_auth_failure_stops_the_providers_later_gates_without_calls() -> None:
    fake = FakeProvider(
        {"a": ["completed"], "b": ["completed"]}, start_errors={"a": [AuthError("401 bad key")]}
    )
    summary, _ = await run(config(spec("a"), spec("b"), concurrency=1), fake)
    result = by_gate(summary)
    assert result["a"].failure is not None and result["a"].failure.kind is FailureKind.AUTH
    assert result["b"].failure is not None and result["b"].failure.kind is FailureKind.AUTH
    assert fake.starts == ["a"]


@pytest.mark.anyio
async def test_a_rate_limited_start_is_retried_after_retry_after() -> None:
    fake = FakeProvider({"a": ["completed"]}, start_errors={"a": [RateLimited("429", retry_after=3.0)]})
    summary, lines = await run(config(spec("a")), fake)
    assert by_gate(summary)["a"].failure is None
    assert fake.starts == ["a", "a"] and "retry a" in lines


@pytest.mark.anyio
@pytest.mark.parametrize("found", [True, False], ids=["found-again", "not-found"])
async def test_an_ambiguous_start_is_looked_up_never_re_sent(found: bool) -> None:
    """A start whose answer was lost is searched by its unique name; the POST is sent exactly once."""
    fake = FakeProvider(
        {"a": ["completed"]}, start_errors={"a": [StartOutcomeUnknown("connection lost")]}, found={"a": found}
    )
    summary, _ = await run(config(spec("a")), fake)
    execution = by_gate(summary)["a"]
    assert fake.starts == ["a"]
    if found:
        assert execution.failure is None and execution.snapshot is not None
    else:
        assert execution.failure is not None and execution.failure.kind is FailureKind.INFRA
        assert "does not start the runs again" in execution.failure.message
        assert fake.finds == ["a", "a", "a"]


@pytest.mark.anyio
async def test_sigterm_writes_reports_first_then_ends_remote_calls() -> None:
    """On SIGTERM: work stops, reports are written with unfinished gates as Interrupted, then end_calls."""
    fake = FakeProvider({"a": ["running"], "b": ["completed"]})
    polls = {"n": 0}

    def on_poll(started: StartedResult) -> None:
        polls["n"] += 1
        if polls["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    fake.on_poll = on_poll
    summary, lines = await run(config(spec("a"), spec("b")), fake, watch_signals=True)
    assert summary.interrupted_by == "SIGTERM"
    a = by_gate(summary)["a"]
    assert a.failure is not None and a.failure.kind is FailureKind.INTERRUPTED
    assert "reports cancelled=[]" in lines  # reports were written before any remote clean-up
    assert fake.cancelled == ["a"]


class ProbingProvider(FakeProvider):
    """Counts honestly: each result's single run calls for three probes, then has ended."""

    def __init__(self, polls: dict[str, list[Any]]) -> None:
        super().__init__(polls)
        self.probes: list[tuple[str, bool]] = []  # (result id, counted ended runs)

    async def probe(self, started: StartedResult, *, ended: bool = False) -> int:
        calling = sum(1 for result, was_ended in self.probes if result == started.result_id and not was_ended)
        self.probes.append((started.result_id, ended))
        return 0 if ended else int(calling < 3)


@pytest.mark.anyio
async def test_the_status_filter_is_checked_once_per_provider_not_once_per_gate() -> None:
    fake = ProbingProvider({"a": ["completed"], "b": ["completed"]})
    summary, _ = await run(config(spec("a"), spec("b"), concurrency=1), fake)
    assert all(e.snapshot is not None and e.snapshot.status == "completed" for e in summary.executions)
    assert [ended for result, ended in fake.probes if result == "a"] == [True, False, False, False, False]
    assert [ended for result, ended in fake.probes if result == "b"] == [False, False, False, False]
