"""The whole pipeline in-process: config → orchestrator → Cekura provider → simulator → gate.

The provider talks to the simulator through ``httpx.MockTransport``; the orchestrator's FakeClock also
drives the simulator's clock, so runs progress exactly as fast as regate polls and nothing sleeps.
Because the simulator validates every start body strictly per mode, these tests pin that the payloads
regate builds from a config are the ones the platform accepts, for every mode in the contract.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from runner.clock import FakeClock
from runner.config import load_config
from runner.errors import StartOutcomeUnknown
from runner.gate import evaluate_gate
from runner.model import FailureKind, GateStatus
from runner.orchestrator import RunSummary, execute
from runner.providers.cekura import CekuraProvider
from runner.settings import Config, ScenarioRef, Secret
from runner.simulator.app import SimApp
from runner.simulator.faults import parse_faults
from runner.simulator.transport import mock_transport
from runner.simulator.world import load_world
from tests.test_cekura_provider import gate

KEY = "pipeline-key-31337"

GATES = """
  - {name: voice, agent: 101, mode: voice, tags: [smoke], personalities: [301, 302], test_profiles: [401]}
  - {name: text, agent: 101, mode: text, folder: Billing.Refunds, project: 1, frequency: 2}
  - {name: elevenlabs, agent: 101, mode: elevenlabs, scenarios: [201], elevenlabs_agent_id: el-1}
  - {name: sip, agent: 101, mode: sip, scenarios: [201, 202], sip_endpoint: "sip:bot@example.com"}
  - {name: chirp, agent: 101, mode: chirp, scenarios: [201], websocket_url: "wss://chirp.example.com/pcm"}
  - name: websocket
    agent: 101
    mode: websocket
    websocket_url: wss://agent.example.com/ws
    scenarios: [201, {id: 202, websocket_url: "wss://agent.example.com/ws?v=b"}]
  - name: pipecat_v1
    agent: 101
    mode: pipecat_v1
    scenarios: [{id: 201, pipecat_room_url: "https://x.daily.co/a"}]
  - {name: pipecat, agent: 101, mode: pipecat, scenarios: [201, 202]}
  - {name: livekit, agent: 101, mode: livekit, scenarios: [201], frequency: 3}
  - {name: retell, agent: 101, mode: retell, scenarios: [201], retell_agent_id: ret-1}
  - {name: vapi, agent: 101, mode: vapi, scenarios: [201], vapi_assistant_id: vapi-1}
  - {name: email, agent: 101, mode: email, scenarios: [201, 208], agent_email: "bot@example.com"}
  - name: json
    agent: 101
    mode: json
    channel: text
    spec:
      version: "1"
      scenarios:
        - {key: hello, name: Say hello, instructions: Say hi., metrics: [502]}
        - {key: refund, name: Refund please, instructions: Ask for a refund., metrics: [504]}
"""

# Expected run counts per gate, from the contract's expansion rules (§A2).
RUNS = {
    "voice": 3 * 2 * 1, "text": 3 * 2, "elevenlabs": 1, "sip": 2, "chirp": 1, "websocket": 2,
    "pipecat_v1": 1, "pipecat": 2, "livekit": 3, "retell": 1, "vapi": 1, "email": 2, "json": 2,
}  # fmt: skip


def make_config(tmp_path: Path, gates: str, thresholds: str = 'success_rate: ">= 0%"') -> Config:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        f"""version: 1
providers:
  cekura: {{base_url: "http://127.0.0.1:9", api_key: "{KEY}"}}
defaults:
  timeout: 30m
  poll: {{initial: 5s, max: 20s}}
  thresholds: {{{thresholds}}}
gates:{gates}""",
        encoding="utf-8",
    )
    return load_config(str(path), {})


def sim_provider(clock: FakeClock, faults: str | None = None, seed: int = 7) -> tuple[CekuraProvider, SimApp]:
    start = clock.now()
    app = SimApp(
        load_world(None), clock=lambda: clock.now() - start, seed=seed, faults=parse_faults(faults),
        api_keys=[KEY],
    )  # fmt: skip
    client = httpx.AsyncClient(base_url="http://sim.test", transport=mock_transport(app))
    return CekuraProvider(client, Secret(KEY)), app


class Quiet:
    def gate_started(self, *args: object) -> None: ...
    def snapshot(self, *args: object) -> None: ...
    def retrying(self, *args: object) -> None: ...
    def gate_done(self, *args: object) -> None: ...
    def interrupted(self, *args: object) -> None: ...
    def note(self, *args: object) -> None: ...


async def run(config: Config, provider: CekuraProvider, clock: FakeClock) -> RunSummary:
    return await execute(
        config, {"cekura": provider}, clock=clock, events=Quiet(), on_finished=lambda s: None,
        rng=random.Random(1), watch_signals=False,
    )  # fmt: skip


@pytest.mark.anyio
async def test_every_mode_starts_polls_and_completes_against_the_simulator(tmp_path: Path) -> None:
    """Each mode's body is accepted by the strict simulator, expands to the contract's run count, and its
    result is polled to `completed` with counters that agree with the runs (no anomalies)."""
    config = make_config(tmp_path, GATES)
    clock = FakeClock()
    provider, _ = sim_provider(clock)
    summary = await run(config, provider, clock)
    by_name = {execution.gate: execution for execution in summary.executions}
    assert set(by_name) == set(RUNS)
    for name, expected_runs in RUNS.items():
        execution = by_name[name]
        assert execution.failure is None, (name, execution.failure)
        snapshot = execution.snapshot
        assert snapshot is not None and snapshot.status == "completed", name
        assert snapshot.total_runs == expected_runs == len(snapshot.runs), name
        assert snapshot.anomalies == (), (name, snapshot.anomalies)
        assert execution.share_url is not None and execution.share_url.startswith("http"), name
        verdict = evaluate_gate(execution, config.gates[0].thresholds)
        assert verdict.status is GateStatus.PASSED, (name, [c.summary for c in verdict.checks])


@pytest.mark.anyio
async def test_the_regressed_agent_fails_and_the_good_one_passes_on_the_same_thresholds(
    tmp_path: Path,
) -> None:
    gates = """
  - {name: good, agent: 101, tags: [refunds, smoke], frequency: 3}
  - {name: bad, agent: 102, tags: [refunds, smoke], frequency: 3}
"""
    thresholds = 'success_rate: ">= 80%", metrics: {Latency: "p50 <= 1500"}'
    config = make_config(tmp_path, gates, thresholds)
    clock = FakeClock()
    provider, _ = sim_provider(clock)
    summary = await run(config, provider, clock)
    statuses = {
        execution.gate: evaluate_gate(execution, config.gates[0].thresholds).status
        for execution in summary.executions
    }
    assert statuses == {"good": GateStatus.PASSED, "bad": GateStatus.FAILED}


@pytest.mark.anyio
async def test_a_start_whose_connection_dropped_is_found_again_not_re_sent(tmp_path: Path) -> None:
    """`start:drop@#1`: the simulator stores the start, then resets the connection. regate must find the
    result by its unique name and gate it, and the simulator must have seen exactly one start."""
    config = make_config(tmp_path, "\n  - {name: smoke, agent: 101, tags: [smoke]}\n")
    clock = FakeClock()
    provider, app = sim_provider(clock, faults="start:drop@#1")
    summary = await run(config, provider, clock)
    (execution,) = summary.executions
    assert execution.failure is None and execution.snapshot is not None
    assert execution.snapshot.status == "completed"
    starts = {route: n for route, n in app.stats()["requests"].items() if "run_scenarios" in route}
    assert sum(starts.values()) == 1, starts


@pytest.mark.anyio
async def test_an_unnamed_mode_whose_start_dropped_fails_closed_without_a_second_start(
    tmp_path: Path,
) -> None:
    """Websocket bodies have no name to search by: the gate is an InfraError, and nothing is re-sent."""
    gates = "\n  - {name: ws, agent: 101, mode: websocket, websocket_url: 'wss://a.test', scenarios: [201]}\n"
    config = make_config(tmp_path, gates)
    clock = FakeClock()
    provider, app = sim_provider(clock, faults="start:drop@#1")
    summary = await run(config, provider, clock)
    (execution,) = summary.executions
    assert execution.failure is not None and execution.failure.kind is FailureKind.INFRA
    assert "does not start them twice" in execution.failure.message
    starts = {route: n for route, n in app.stats()["requests"].items() if "run_scenarios" in route}
    assert sum(starts.values()) == 1, starts


@pytest.mark.anyio
async def test_results_that_never_finish_time_out_and_their_calls_are_ended(tmp_path: Path) -> None:
    config = make_config(tmp_path, "\n  - {name: stuck, agent: 101, tags: [smoke], timeout: 10m}\n")
    clock = FakeClock()
    provider, app = sim_provider(clock, faults="start:never")
    summary = await run(config, provider, clock)
    (execution,) = summary.executions
    assert execution.failure is not None and execution.failure.kind is FailureKind.TIMEOUT
    assert any("end_calls" in route for route in app.stats()["requests"])


@pytest.mark.anyio
@pytest.mark.parametrize(
    "faults",
    [
        # polls are progress probes (runlist) and reads of the whole result (results): both get faults
        pytest.param("results:429=3@0.3;runlist:429=3@0.3", id="429-with-retry-after"),
        pytest.param("results:503@0.3;results:502@0.1;runlist:503@0.3", id="5xx"),
        pytest.param("results:reset@0.3;runlist:reset@0.3", id="connection-reset"),
        pytest.param(
            "results:truncated@0.2;results:malformed@0.2;runlist:truncated@0.2;runlist:malformed@0.2",
            id="garbled-polls",
        ),
        pytest.param("start:429=2@#1;results:slow=3@0.5;runlist:slow=3@0.5", id="start-429-then-slow"),
    ],
)
async def test_transient_faults_do_not_change_the_verdict(tmp_path: Path, faults: str) -> None:
    gates = "\n  - {name: good, agent: 101, tags: [smoke]}\n  - {name: bad, agent: 102, tags: [refunds]}\n"
    config = make_config(tmp_path, gates, 'success_rate: ">= 80%"')
    clean_clock, faulty_clock = FakeClock(), FakeClock()
    clean = await run(config, sim_provider(clean_clock)[0], clean_clock)
    provider, app = sim_provider(faulty_clock, faults=faults)
    faulty = await run(config, provider, faulty_clock)

    def outcome(summary: RunSummary) -> dict[str, tuple[GateStatus, tuple[str, ...]]]:
        return {
            e.gate: (
                evaluate_gate(e, config.gates[0].thresholds).status,
                tuple(sorted((r.scenario, str(r.success)) for r in (e.snapshot.runs if e.snapshot else ()))),
            )
            for e in summary.executions
        }

    assert outcome(faulty) == outcome(clean)
    assert outcome(clean)["good"][0] is GateStatus.PASSED and outcome(clean)["bad"][0] is GateStatus.FAILED
    assert sum(app.stats()["faults"].values()) > 0


@pytest.mark.anyio
async def test_the_adapter_alone_starts_and_reads_a_result() -> None:
    """Start, then poll once after the simulated runs have had time to finish."""
    clock = FakeClock(start=0.0)
    provider, _ = sim_provider(clock)
    started = await provider.start(gate(scenarios=(ScenarioRef(201), ScenarioRef(202))), "ref")
    assert started.run_count == 2 and started.status == "pending"
    clock.advance(600)
    snapshot = await provider.poll(started)
    assert snapshot.terminal and snapshot.status == "completed" and len(snapshot.runs) == 2
    assert {run.scenario for run in snapshot.runs} == {"Greeting and identity check", "Check order status"}


@pytest.mark.anyio
async def test_a_dropped_start_surfaces_as_unknown_never_as_retryable() -> None:
    clock = FakeClock(start=0.0)
    provider, _ = sim_provider(clock, faults="start:drop@#1")
    with pytest.raises(StartOutcomeUnknown):
        await provider.start(gate(scenarios=(ScenarioRef(201),)), "ref")
    found = await provider.find_started(gate(scenarios=(ScenarioRef(201),)), "ref")
    assert found is not None and found.result_id.isdigit()


@pytest.mark.anyio
async def test_a_platform_that_keeps_answering_garbage_ends_as_an_infra_error(tmp_path: Path) -> None:
    """Garbled polls are asked again, but only within the retry budget: never a pass, never a hang."""
    config = make_config(tmp_path, "\n  - {name: smoke, agent: 101, tags: [smoke]}\n")
    clock = FakeClock()
    provider, _ = sim_provider(clock, faults="results:malformed")
    summary = await run(config, provider, clock)
    (execution,) = summary.executions
    assert execution.failure is not None and execution.failure.kind is FailureKind.INFRA
    assert "polling kept failing" in execution.failure.message and "not JSON" in execution.failure.message


@pytest.mark.anyio
async def test_a_platform_failing_every_request_sees_a_bounded_request_rate(tmp_path: Path) -> None:
    """Ten gates against results that always answer 503: once the provider's breaker opens, the platform
    sees at most one request per cooldown, however many gates wait; and every gate fails closed."""
    gates = "".join(f"\n  - {{name: g{i}, agent: 101, tags: [smoke]}}" for i in range(10)) + "\n"
    config = make_config(tmp_path, gates)
    config = replace(config, defaults=replace(config.defaults, concurrency=10))  # all wait at once
    clock = FakeClock()
    started = clock.now()
    provider, app = sim_provider(clock, faults="results:503;runlist:503")  # details and probes alike
    summary = await run(config, provider, clock)
    assert all(
        e.failure is not None and e.failure.kind in (FailureKind.INFRA, FailureKind.TIMEOUT)
        for e in summary.executions
    )
    polls = sum(
        n
        for route, n in app.stats()["requests"].items()
        if route.startswith("GET") and ("results/{id}" in route or route.endswith("runs-external/"))
    )
    retry = config.defaults.retry
    windows = (clock.now() - started) / retry.breaker_cooldown
    assert polls <= retry.breaker_threshold + windows + 1
