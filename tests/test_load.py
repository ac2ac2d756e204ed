"""Load: 500 gates in flight at once against the simulator with a 10 % mixed fault rate.

Every gate must reach the same verdict as without faults (no task lost, no verdict changed by a transient
fault), and memory must stay bounded. In-process (MockTransport, FakeClock), so it measures regate's and
the simulator's logic, not the machine: speed is for the benchmark script, not for this test.
"""

from __future__ import annotations

import random
import tracemalloc
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from runner.clock import FakeClock
from runner.config import load_config
from runner.gate import evaluate_gate
from runner.model import GateStatus, ResultSnapshot
from runner.orchestrator import execute
from runner.providers.base import StartedResult
from runner.providers.cekura import CekuraProvider
from runner.settings import Config, Secret
from runner.simulator.app import SimApp
from runner.simulator.faults import FaultInjector, parse_faults
from runner.simulator.transport import mock_transport
from runner.simulator.world import load_world

KEY = "load-test-key-0000"
GATES = 500
FAULTS = (
    "start:429=1@0.1;actions:503@0.1;"
    "results:503@0.05;results:429=2@0.04;results:reset@0.03;results:truncated@0.03;"
    "runlist:503@0.05;runlist:429=1@0.03;runlist:reset@0.03"  # the progress probes fail as often
)
MEMORY_LIMIT = 256 * 1024 * 1024  # traced Python allocations at peak, for 500 gates


class Quiet:
    def gate_started(self, *args: object) -> None: ...
    def snapshot(self, *args: object) -> None: ...
    def retrying(self, *args: object) -> None: ...
    def gate_done(self, *args: object) -> None: ...
    def interrupted(self, *args: object) -> None: ...
    def note(self, *args: object) -> None: ...


def make_config(tmp_path: Path) -> Config:
    gates = "".join(
        f"\n  - {{name: g{i:03d}, agent: {101 + i % 2}, scenarios: [{201 + i % 8}], frequency: 2}}"
        for i in range(GATES)
    )
    path = tmp_path / "load.yaml"
    path.write_text(
        f"""version: 1
providers:
  cekura: {{base_url: "http://127.0.0.1:9", api_key: "{KEY}"}}
defaults:
  timeout: 1h
  poll: {{initial: 5s, max: 20s}}
  retry: {{attempts: 4, budget: 40}}
  thresholds: {{success_rate: ">= 50%"}}
gates:{gates}
""",
        encoding="utf-8",
    )
    config = load_config(str(path), {})
    # The config caps concurrency at 64 today; the orchestrator itself is what is measured here.
    return replace(config, defaults=replace(config.defaults, concurrency=GATES))


async def run(config: Config, faults: str | None) -> tuple[dict[str, GateStatus], dict[str, bool], float]:
    """Run every gate; return verdicts, whether each gate's data equals the platform's truth, and the
    number of faults injected."""
    clock = FakeClock()
    start = clock.now()
    app = SimApp(load_world(None), clock=lambda: clock.now() - start, seed=11, faults=parse_faults(faults),
                 api_keys=[KEY])  # fmt: skip
    client = httpx.AsyncClient(base_url="http://sim.test", transport=mock_transport(app))
    provider = CekuraProvider(client, Secret(KEY))
    summary = await execute(
        config, {"cekura": provider}, clock=clock, events=Quiet(), on_finished=lambda s: None,
        rng=random.Random(5), watch_signals=False,
    )  # fmt: skip
    stats = app.stats()
    injected = sum(stats["faults"].values()) / stats["total"]  # the share of requests that were faulted
    # The platform's truth: read every result again with faults switched off.
    app.faults = FaultInjector(None, 0)
    truth: dict[str, bool] = {}
    for execution in summary.executions:
        snapshot = execution.snapshot
        assert snapshot is not None, execution.failure
        real = await provider.poll(StartedResult(snapshot.result_id, "", None, None))
        truth[execution.gate] = _outcomes(real) == _outcomes(snapshot) and real.status == snapshot.status
    await provider.aclose()
    by_name = {gate.name: gate for gate in config.gates}
    verdicts = {e.gate: evaluate_gate(e, by_name[e.gate].thresholds).status for e in summary.executions}
    return verdicts, truth, injected


def _outcomes(snapshot: ResultSnapshot) -> list[tuple[str, bool | None]]:
    return sorted((run.run_id, run.success) for run in snapshot.runs)


@pytest.mark.anyio
async def test_500_gates_under_a_mixed_fault_rate_all_reach_a_correct_verdict(tmp_path: Path) -> None:
    """Each gate's verdict rests on exactly the platform's data for its result (re-read afterwards without
    faults), and the verdicts per agent and scenario are the ones a fault-free run gives. (Which gate
    gets which of two identical agent×scenario outcome sequences depends on the order starts arrive in,
    so verdicts are compared per group, not per gate.)"""
    config = make_config(tmp_path)
    clean, _, _ = await run(config, None)
    tracemalloc.start()
    try:
        faulty, truth, injected = await run(config, FAULTS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(faulty) == GATES  # no task lost
    assert all(truth.values()), [gate for gate, ok in truth.items() if not ok]  # no data lost or garbled
    assert _by_group(faulty) == _by_group(clean)
    assert injected >= 0.08  # about one request in ten really failed
    assert {GateStatus.PASSED, GateStatus.FAILED} <= set(clean.values())  # both agents, both verdicts
    assert peak < MEMORY_LIMIT, f"peak traced memory {peak / 2**20:.0f} MiB"


def _by_group(verdicts: dict[str, GateStatus]) -> Counter[tuple[int, GateStatus]]:
    return Counter((int(name[1:]) % 8, status) for name, status in verdicts.items())  # agent×scenario
