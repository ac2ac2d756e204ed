"""The Freeplay pipeline in-process: config → orchestrator → target → Freeplay provider → simulator → gate.

The simulator answers through ``httpx.MockTransport`` and its clock is the orchestrator's FakeClock, so
evaluation delays pass as fast as regate polls; the target is the shipped example agent, run as a real
subprocess per test case (that is the point: the protocol end to end).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import httpx
import pytest

from runner.clock import FakeClock
from runner.config import load_config
from runner.gate import evaluate_gate
from runner.model import FailureKind, GateExecution, GateStatus, RunOutcome
from runner.orchestrator import RunSummary, execute
from runner.providers.freeplay import FreeplayProvider
from runner.runs import name_runs
from runner.settings import Config, Secret
from runner.simulator.app import SimApp
from runner.simulator.faults import parse_faults
from runner.simulator.transport import mock_transport
from runner.simulator.world import load_world

KEY = "fp-pipeline-key-4242"
PROJECT = "6f1c2a3b-8d4e-4f5a-9b6c-7d8e9f0a1b2c"
SUITE_GOOD = "5b2e9c4a-7d1f-4e3a-9c8b-1a2b3c4d5e01"
SUITE_BAD = "5b2e9c4a-7d1f-4e3a-9c8b-1a2b3c4d5e03"
TARGET = Path(__file__).resolve().parents[1] / "configs" / "examples" / "support_target.py"
EVALS = '{Answer Accuracy: "pass_rate >= 90%", Helpfulness: "mean >= 4"}'


def make_config(tmp_path: Path, gates: str) -> Config:
    path = tmp_path / "fp.yaml"
    path.write_text(
        f"""version: 1
providers:
  freeplay: {{base_url: "http://127.0.0.1:9", api_key: "{KEY}"}}
defaults:
  timeout: 30m
  poll: {{initial: 5s, max: 20s}}
gates:{gates}""",
        encoding="utf-8",
    )
    return load_config(str(path), {})


def dataset_gate(
    name: str, *, mode: str = "good", command: str | None = None, dataset: str = "support-faq"
) -> str:
    cmd = command or f"[{sys.executable!r}, {str(TARGET)!r}]"
    return f"""
  - name: {name}
    provider: freeplay
    project: {PROJECT}
    dataset: {dataset}
    target: {{command: {cmd}, env: {{SUPPORT_TARGET_MODE: {mode}}}, timeout: 30s}}
    thresholds: {{evaluations: {EVALS}}}
"""


class Quiet:
    def gate_started(self, *args: object) -> None: ...
    def snapshot(self, *args: object) -> None: ...
    def retrying(self, *args: object) -> None: ...
    def gate_done(self, *args: object) -> None: ...
    def interrupted(self, *args: object) -> None: ...
    def note(self, *args: object) -> None: ...


async def run(config: Config, faults: str | None = None) -> tuple[dict[str, GateExecution], SimApp]:
    clock = FakeClock()
    start = clock.now()
    app = SimApp(load_world(None), clock=lambda: clock.now() - start, seed=3, faults=parse_faults(faults),
                 api_keys=[KEY])  # fmt: skip
    client = httpx.AsyncClient(base_url="http://sim.test", transport=mock_transport(app))
    provider = FreeplayProvider(client, Secret(KEY))
    summary: RunSummary = await execute(
        config, {"freeplay": provider}, clock=clock, events=Quiet(), on_finished=lambda s: None,
        rng=random.Random(1), watch_signals=False,
    )  # fmt: skip
    await provider.aclose()
    return {e.gate: e for e in summary.executions}, app


def judged(config: Config, execution: GateExecution) -> GateStatus:
    spec = next(g for g in config.gates if g.name == execution.gate)
    return evaluate_gate(execution, spec.thresholds).status


@pytest.mark.anyio
async def test_a_dataset_is_run_recorded_evaluated_and_gated(tmp_path: Path) -> None:
    """The good agent passes and the regressed one fails on evaluations; every case is a run record."""
    config = make_config(tmp_path, dataset_gate("good") + dataset_gate("bad", mode="regressed"))
    executions, app = await run(config)
    for name, expected in (("good", GateStatus.PASSED), ("bad", GateStatus.FAILED)):
        execution = executions[name]
        assert execution.failure is None, execution.failure
        snapshot = execution.snapshot
        assert snapshot is not None and snapshot.status == "complete"
        assert len(snapshot.runs) == snapshot.total_runs == 9
        assert {c.name for c in snapshot.criteria} >= {"Answer Accuracy", "Helpfulness", "Faithfulness"}
        assert judged(config, execution) is expected, name
    recordings = sum(n for route, n in app.stats()["requests"].items() if route.endswith("/completions"))
    assert recordings == 18  # exactly one recording per case per run


@pytest.mark.anyio
async def test_agent_traces_are_recorded_as_traces(tmp_path: Path) -> None:
    config = make_config(tmp_path, dataset_gate("traces", dataset="support-agent-traces"))
    executions, app = await run(config)
    execution = executions["traces"]
    assert execution.failure is None and judged(config, execution) is GateStatus.PASSED
    assert any("/traces/id/" in route for route in app.stats()["requests"])


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("command", "reason"),
    [
        pytest.param(f"[{sys.executable!r}, -c, 'raise SystemExit(3)']", "exited with code 3", id="crash"),
        pytest.param(f"[{sys.executable!r}, -c, 'import os, signal; os.kill(os.getpid(), signal.SIGKILL)']",
                     "killed by SIGKILL", id="killed"),
        pytest.param(f"[{sys.executable!r}, -c, 'print()']", "empty output", id="no-output"),
    ],
)  # fmt: skip
async def test_a_broken_target_fails_the_gate_with_every_case_accounted_for(
    tmp_path: Path, command: str, reason: str
) -> None:
    config = make_config(tmp_path, dataset_gate("broken", command=command))
    executions, _ = await run(config)
    execution = executions["broken"]
    assert execution.failure is None  # the run itself finished: the cases were recorded as errors
    snapshot = execution.snapshot
    assert snapshot is not None and len(snapshot.runs) == 9
    verdicts = name_runs(snapshot.runs)
    assert {v.outcome for v in verdicts} == {RunOutcome.INFRA_ERROR}
    assert all(reason in v.record.reasons[0] for v in verdicts)
    assert judged(config, execution) is GateStatus.FAILED  # max_target_errors: 0 is implied


@pytest.mark.anyio
async def test_suites_server_side_and_client_side(tmp_path: Path) -> None:
    target = f"[{sys.executable!r}, {str(TARGET)!r}]"
    gates = f"""
  - {{name: server-good, provider: freeplay, project: {PROJECT}, suite: {SUITE_GOOD}}}
  - {{name: server-bad, provider: freeplay, project: {PROJECT}, suite: {SUITE_BAD}}}
  - name: client
    provider: freeplay
    project: {PROJECT}
    suite: {SUITE_GOOD}
    suite_execution: client
    target: {{command: {target}, timeout: 30s}}
"""
    config = make_config(tmp_path, gates)
    executions, _ = await run(config)
    assert {name: judged(config, e) for name, e in executions.items()} == {
        "server-good": GateStatus.PASSED,
        "server-bad": GateStatus.FAILED,
        "client": GateStatus.PASSED,
    }
    client = executions["client"].snapshot
    assert client is not None and client.verdict_passed is True and len(client.runs) == 9


@pytest.mark.anyio
async def test_a_dropped_create_is_never_re_sent(tmp_path: Path) -> None:
    """`fp-create:drop@#1`: the run is created but its test cases are lost with the answer. regate finds
    it by name, says so, and does not create a second run."""
    config = make_config(tmp_path, dataset_gate("faq"))
    executions, app = await run(config, faults="fp-create:drop@#1")
    execution = executions["faq"]
    assert execution.failure is not None and execution.failure.kind is FailureKind.INFRA
    assert "does not create a second run" in execution.failure.message
    creates = sum(
        n
        for route, n in app.stats()["requests"].items()
        if route.startswith("POST") and route.endswith("/test-runs")
    )
    assert creates == 1


@pytest.mark.anyio
async def test_transient_faults_on_results_and_recordings_do_not_change_the_verdict(tmp_path: Path) -> None:
    config = make_config(tmp_path, dataset_gate("good") + dataset_gate("bad", mode="regressed"))
    clean, _ = await run(config)
    faulty, app = await run(config, faults="fp-results:503@0.3;fp-record:429=1@0.2;fp-record:reset@0.1")
    assert {n: judged(config, e) for n, e in faulty.items()} == {
        n: judged(config, e) for n, e in clean.items()
    }
    assert sum(app.stats()["faults"].values()) > 0
