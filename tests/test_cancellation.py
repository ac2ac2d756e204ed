"""Signals at any point of a run: the reports are always complete, valid and consistent, remote calls are
ended, and the exit code is 130/143 (design.md §2, §7; issue: reliability and security).

The CLI runs in-process with a scripted provider in place of the platform (``open_providers`` is
replaced), so a signal can be sent from inside a precise phase: while the config loads, while providers
open, at the start request, at the share link, at the n-th poll, or while the reports are written.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from runner import cli, cli_common, cli_run
from runner.providers.base import StartedResult
from tests.test_orchestrator import FakeProvider

CONFIG = """version: 1
providers: {cekura: {base_url: simulator}}
defaults: {poll: {initial: 20ms, max: 50ms}, retry: {base: 10ms, max: 20ms}}
gates:
  - {name: a, agent: 101, tags: [smoke]}
  - {name: b, agent: 101, tags: [smoke]}
"""
PHASES = ("config", "providers", "start", "share", "poll1", "poll3", "report")
SIGNALS = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _kill(sig: int) -> None:
    os.kill(os.getpid(), sig)


class Scripted(FakeProvider):
    """Sends ``sig`` to this process when the run reaches ``phase``."""

    def __init__(self, phase: str, sig: int) -> None:
        super().__init__({"a": ["running", "completed"], "b": ["running", "running", "running", "completed"]})
        self.phase, self.sig, self.poll_count = phase, sig, 0

    async def start(self, gate: Any, reference: str) -> StartedResult:
        if self.phase == "start":
            _kill(self.sig)
        return await super().start(gate, reference)

    async def share_link(self, started: StartedResult) -> str | None:
        if self.phase == "share":
            _kill(self.sig)
        return None

    async def poll(self, started: StartedResult) -> Any:
        self.poll_count += 1
        if self.phase == f"poll{self.poll_count}":
            _kill(self.sig)
        return await super().poll(started)


def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phase: str, sig: int) -> tuple[int, Scripted]:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    provider = Scripted(phase, sig)
    real_load = cli_common.load_config

    def load(path: str, env: Mapping[str, str]) -> Any:
        if phase == "config":
            _kill(sig)
        return real_load(path, env)

    @asynccontextmanager
    async def providers(config: Any) -> AsyncIterator[Mapping[str, Any]]:
        if phase == "providers":
            _kill(sig)
            await anyio.lowlevel.checkpoint()
        yield {"cekura": provider}

    real_write = cli_run.write_reports

    def write(verdict: Any, paths: Any) -> Any:
        if phase == "report":
            _kill(sig)
        return real_write(verdict, paths)

    monkeypatch.setattr(cli_common, "load_config", load)
    monkeypatch.setattr(cli_run, "open_providers", providers)
    monkeypatch.setattr(cli_run, "write_reports", write)
    code = cli.main(["run", str(config), "--out", str(tmp_path / "out"), "--quiet"], env={})
    return code, provider


def check_reports(out: Path, code: int) -> dict[str, Any]:
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    root = ET.parse(out / "junit.xml").getroot()  # noqa: S314 - our own output
    broken = len(root.findall(".//failure")) + len(root.findall(".//error"))
    assert report["exit_code"] == code
    assert (broken == 0) == (code == 0)
    assert (out / "summary.md").read_text(encoding="utf-8").startswith("## ")
    assert not list(out.glob("*.tmp*")) and not list(out.glob(".*"))  # no half-written leftovers
    return report


@pytest.mark.parametrize("sig", sorted(SIGNALS), ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("phase", PHASES)
def test_a_signal_in_any_phase_leaves_complete_consistent_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phase: str, sig: int
) -> None:
    """Every phase × signal, exhaustively: any signal gives 130/143 with reports that say so (unfinished
    gates as errors, their remote calls ended); one that arrives while the reports are being written gets
    them written again as interrupted, so that the reports and the exit code always agree."""
    code, provider = run_cli(tmp_path, monkeypatch, phase, sig)
    report = check_reports(tmp_path / "out", code)
    if phase == "report":
        # The signal came while the reports were written: they are written again as interrupted, and
        # the gates keep the results they had reached.
        assert {gate["status"] for gate in report["gates"]} == {"passed"}
    assert code == SIGNALS[sig]
    assert report["interrupted_by"] == signal.Signals(sig).name
    unfinished = {
        gate["name"]
        for gate in report["gates"]
        if gate["execution"]["result"] is not None and not gate["execution"]["result"]["terminal"]
    }
    assert unfinished <= set(provider.cancelled)  # remote calls of every unfinished result were ended
    if phase in ("config", "providers"):
        assert report["gates"] == [] and "before any gate started" in report["runner_errors"][0]


def test_a_second_signal_cuts_the_remote_clean_up_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first SIGINT writes the reports and starts ending remote calls; a second one does not wait for
    a slow platform: the clean-up is cancelled and regate exits at once with the first signal's code."""
    seen: list[str] = []

    class SlowToCancel(Scripted):
        async def cancel(self, started: StartedResult) -> None:
            seen.append("cancel")
            _kill(signal.SIGINT)  # the user presses Ctrl-C again
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                seen.append("clean-up cut short")
                raise

    monkeypatch.setattr(sys.modules[__name__], "Scripted", SlowToCancel)
    code, _ = run_cli(tmp_path, monkeypatch, "poll1", signal.SIGINT)
    assert code == 130
    assert seen.count("cancel") == seen.count("clean-up cut short") >= 1  # every slow end_calls was cut
    check_reports(tmp_path / "out", code)
