"""After the verdict: carry out each gate's ``write_back`` through its provider (``runner.writeback``).

Runs only for a verdict that was not interrupted, once the reports are written, so that neither a slow
platform nor a failed write can delay or change what the reports and the exit code say. Gates without a
result (a start that failed) have no runs to annotate and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from runner.model import Verdict
from runner.providers.base import Provider
from runner.providers.cekura import CekuraProvider
from runner.settings import Config, WriteBackSpec
from runner.writeback import (
    AnnotatePolicy,
    MetricExpectation,
    PromotePolicy,
    WriteBackReport,
    plan_write_back,
    runs_of,
    write_back,
)

__all__ = ["write_back_gates"]


def _policies(spec: WriteBackSpec) -> tuple[AnnotatePolicy | None, PromotePolicy | None]:
    annotate = AnnotatePolicy(spec.evaluation_status, spec.mark_reviewed) if spec.annotate else None
    promote = None
    if spec.promote is not None:
        metrics = tuple(MetricExpectation(metric, value) for metric, value in spec.metrics)
        promote = PromotePolicy(spec.promote, metrics, spec.project)
    return annotate, promote


async def write_back_gates(
    config: Config,
    verdict: Verdict,
    providers: Mapping[str, Provider],
    ci: Mapping[str, str],
    *,
    secrets: Iterable[str] = (),
) -> list[WriteBackReport]:
    """One report per gate that has ``write_back`` and runs to write to, in config order."""
    specs = {gate.name: gate for gate in config.gates}
    secrets = tuple(secrets)
    reports = []
    for gate in verdict.gates:
        spec = specs.get(gate.name)
        write = getattr(spec, "write_back", None)
        provider = providers.get(gate.provider)
        if write is None or not gate.runs or not isinstance(provider, CekuraProvider):
            continue
        annotate, promote = _policies(write)
        plan = plan_write_back(
            gate.name, gate.status.value, runs_of(gate), ci, annotate=annotate, promote=promote,
            blocking=gate.blocking, secrets=secrets,
        )  # fmt: skip
        reports.append(await write_back(provider, plan, secrets=secrets))
    return reports
