"""End-to-end fixtures: a real `regate sim` subprocess on 127.0.0.1 and a helper to run the CLI.

Real time passes here (subprocesses), so the simulator runs hundreds of times faster than real and the
configs poll every few tens of milliseconds; every wait is bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

API_KEY = "e2e-secret-key-9f8e7d"  # the tests assert this never appears in any output
_logs: dict[int, Any] = {}


@dataclass
class Sim:
    process: subprocess.Popen[str]
    base_url: str

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/__sim/stats", timeout=5) as response:  # noqa: S310
            data: dict[str, Any] = json.loads(response.read())
            return data


def _regate() -> list[str]:
    return [sys.executable, "-m", "runner"]


def start_sim(*args: str) -> Sim:
    # stderr goes to a file, not a pipe: an unread pipe could fill up and stall the simulator.
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
    process = subprocess.Popen(
        [*_regate(), "sim", "--host", "127.0.0.1", "--port", "0", "--api-key", API_KEY, *args],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    _logs[process.pid] = log
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=20)
    except queue.Empty:
        stop(process)
        raise AssertionError("regate sim did not announce its address within 20 s") from None
    prefix = "regate sim listening on "
    assert line.startswith(prefix), line
    return Sim(process, line[len(prefix) :].strip())


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()
    log = _logs.pop(process.pid, None)
    if log is not None:
        log.close()


@pytest.fixture
def sim_factory() -> Iterator[Any]:
    started: list[Sim] = []

    def factory(*args: str) -> Sim:
        sim = start_sim(*args)
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        stop(sim.process)


def write_config(
    path: Path, base_url: str, gates: str, *, timeout: str = "60s", extra_defaults: str = ""
) -> Path:
    path.write_text(
        f"""version: 1
providers:
  cekura:
    base_url: {base_url}
    api_key: ${{E2E_CEKURA_KEY}}
defaults:
  timeout: {timeout}
  request_timeout: 5s
  concurrency: 4
  poll: {{initial: 50ms, max: 200ms, multiplier: 1.5, heartbeat: 30s}}
  retry: {{attempts: 4, base: 20ms, max: 200ms, budget: 200}}
{extra_defaults}gates:
{gates}""",
        encoding="utf-8",
    )
    return path


def cli_env(**extra: str) -> dict[str, str]:
    # No GITHUB_* from an outer runner: under GitHub Actions regate adds annotations and step outputs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({"E2E_CEKURA_KEY": API_KEY, "PYTHONUNBUFFERED": "1"}, **extra)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_regate(), *args],
        capture_output=True,
        text=True,
        env=env or cli_env(),
        timeout=timeout,
        check=False,
    )
