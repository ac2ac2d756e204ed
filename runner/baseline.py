"""Baselines: the runs each gate's change checks compare with, and ``regate baseline save``.

A baseline is a regate JSON report (``baseline.report``: read before anything starts) or a platform result
(``baseline.result``: a Cekura result / Freeplay test run, fetched through the provider at run time).

What counts as missing (``on_missing`` decides: pass, fail or inconclusive): the report file does not
exist, the gate is not in it, or the platform says the result does not exist. What is *unreadable* (always
inconclusive, whatever ``on_missing`` says, because a baseline that exists may well say "regression"):
the result could not be fetched (network, rate limit), is not finished, or has no runs. A report file
that exists but is not a whole regate report is a usage error (exit 2) before anything starts: it is a
broken input, not a missing one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from runner.change_checks import Baseline, MissingBaseline
from runner.errors import ProviderError, RequestRejected, UsageError
from runner.gate import Judging
from runner.merge import load_report, read_gates
from runner.model import RunVerdict, VerdictStatus
from runner.providers.base import Provider, StartedResult
from runner.reporters import write_atomic
from runner.runs import name_runs
from runner.settings import BaselineSpec, Config, GateSpec

__all__ = ["BaselineData", "fetch_result_baselines", "judging_of", "load_report_baselines", "save_baseline"]

BaselineData = Baseline | MissingBaseline


def judging_of(config: Config, baselines: Mapping[str, BaselineData]) -> dict[str, Judging]:
    """How each gate is judged: blocking or not, its statistics, and its baseline (None: not loaded yet)."""
    return {
        gate.name: Judging(
            blocking=gate.blocking,
            statistics=gate.statistics,
            baseline=baselines.get(gate.name),
            flaky=getattr(gate, "flaky", "pass"),  # Freeplay gates have no retries
        )
        for gate in config.gates
    }


def load_report_baselines(config: Config) -> dict[str, BaselineData]:
    """The baselines of the gates whose ``baseline.report`` names a file; each file is read once."""
    documents: dict[str, dict[str, RunVerdictsByGate] | None] = {}
    found: dict[str, BaselineData] = {}
    for gate in config.gates:
        spec = gate.baseline
        if spec is None or spec.report is None:
            continue
        if spec.report not in documents:
            documents[spec.report] = _read(Path(spec.report))
        gates = documents[spec.report]
        source = f"report {spec.report}"
        if gates is None:
            found[gate.name] = MissingBaseline(source, "the file does not exist", spec.on_missing)
        elif gate.name not in gates:
            found[gate.name] = MissingBaseline(source, f"gate {gate.name!r} is not in it", spec.on_missing)
        else:
            started, runs = gates[gate.name]
            found[gate.name] = Baseline(f"{source} of {started}", runs)
    return found


RunVerdictsByGate = tuple[str, tuple[RunVerdict, ...]]  # (started_at of the report, the gate's runs)


def _read(path: Path) -> dict[str, RunVerdictsByGate] | None:
    if not path.exists():
        return None
    try:
        document = load_report(path)
    except UsageError as exc:
        raise UsageError(
            f"baseline.report: {exc.message}", hint="point it at a report blessed with: regate baseline save"
        ) from None
    if document.get("shard"):
        raise UsageError(
            f"{path} is one shard's report", hint="use the merged report (regate merge) as baseline"
        )
    started = str(document.get("started_at", "?"))
    return {gate.name: (started, gate.runs) for gate in read_gates(document, path)}


async def fetch_result_baselines(
    config: Config, providers: Mapping[str, Provider]
) -> dict[str, BaselineData]:
    """The baselines of the gates whose ``baseline.result`` names a platform result, fetched now."""
    found: dict[str, BaselineData] = {}
    for gate in config.gates:
        spec = gate.baseline
        if spec is not None and spec.result is not None:
            found[gate.name] = await _fetch(gate, spec, providers[gate.provider])
    return found


async def _fetch(gate: GateSpec, spec: BaselineSpec, provider: Provider) -> BaselineData:
    source = f"{gate.provider} result {spec.result}"
    try:
        snapshot = await provider.poll(StartedResult(str(spec.result), "", None, None))
    except RequestRejected as exc:
        if exc.status == 404:
            return MissingBaseline(source, "the platform has no such result", spec.on_missing)
        return MissingBaseline(
            source, f"could not be fetched: {exc.message}", spec.on_missing, unreadable=True
        )
    except ProviderError as exc:
        return MissingBaseline(
            source, f"could not be fetched: {exc.message}", spec.on_missing, unreadable=True
        )
    if not snapshot.terminal:
        return MissingBaseline(
            source, f"it is not finished (status {snapshot.status})", spec.on_missing, True
        )
    runs = name_runs(snapshot.runs)
    if not runs:
        return MissingBaseline(source, "it lists no runs", spec.on_missing, unreadable=True)
    return Baseline(source, runs)


def save_baseline(report: Path, to: Path, *, allow_failed: bool = False) -> str:
    """Bless ``report`` as a baseline: check it is whole and final, then copy it atomically to ``to``.

    A report that did not pass is refused unless ``allow_failed`` (a baseline is what "good" looks like);
    an interrupted or incomplete one always is (its gates have runs without a verdict).
    """
    document = load_report(report)
    gates = read_gates(document, report)
    if document.get("shard"):
        raise UsageError(f"{report} is one shard's report", hint="merge the shards first (regate merge)")
    status = document.get("status")
    if status in (VerdictStatus.INCOMPLETE.value, VerdictStatus.INTERRUPTED.value):
        raise UsageError(
            f"{report} is {status}: a baseline needs a finished run", hint="bless a complete run"
        )
    if status != VerdictStatus.PASSED.value and not allow_failed:
        raise UsageError(
            f"{report} did not pass (status {status})",
            hint="a baseline is what good looks like; pass --allow-failed to bless it anyway",
        )
    if not any(gate.runs for gate in gates):
        raise UsageError(f"{report} has no runs to compare with")
    write_atomic(to, json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
    runs = sum(len(gate.runs) for gate in gates)
    return f"{len(gates)} gate(s), {runs} run(s), started {document.get('started_at')}"
