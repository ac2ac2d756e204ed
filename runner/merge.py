"""``regate merge``: shard reports (``report.json`` of ``regate run --shard I/N``) back into one verdict.

The JSON report holds every field of the verdict, so each shard's gates are read back as they were
judged; the merged verdict's exit code follows the same rules as one run (``gate.exit_code_for``). Fail
closed: reports of different configs or shard counts are refused (exit 2); a missing shard makes the
merged verdict incomplete (exit 3), never a pass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.errors import UsageError
from runner.gate import STATUS_FOR_CODE, exit_code_for
from runner.model import (
    CheckResult,
    CheckStatus,
    CriterionSummary,
    ExitCode,
    FailureKind,
    GateExecution,
    GateFailure,
    GateStatus,
    GateVerdict,
    MetricKind,
    MetricValue,
    ResultSnapshot,
    RunOutcome,
    RunRecord,
    RunVerdict,
    Verdict,
)
from runner.reporters.json_report import SCHEMA_VERSION


def _metric(d: Mapping[str, Any]) -> MetricValue:
    return MetricValue(d["metric_id"], d["name"], MetricKind(d["kind"]), d["score"], d["passed"], d["label"],
                       d["explanation"])  # fmt: skip


def _run(d: Mapping[str, Any]) -> RunVerdict:
    record = RunRecord(
        run_id=d["run_id"], scenario=d["scenario"], scenario_id=d["scenario_id"],
        personality=d["personality"],
        status=d["status"], terminal=d["terminal"], success=d["success"], infra_error=d["infra_error"],
        reasons=tuple(d["reasons"]), metrics=tuple(_metric(m) for m in d["metrics"]),
        expected_outcome_score=d["expected_outcome_score"], duration_s=d["duration_s"],
        transcript=d["transcript"], url=d["url"],
    )  # fmt: skip
    return RunVerdict(record, RunOutcome(d["outcome"]), d["name"], flaky=d.get("flaky", False) is True)


def _snapshot(d: Mapping[str, Any], runs: tuple[RunRecord, ...]) -> ResultSnapshot:
    criteria = tuple(
        CriterionSummary(
            c["source"],
            c["name"],
            c["passed"],
            c["failed"],
            c["average"],
            tuple((label, count) for label, count in c["histogram"].items()),
            c["scalar"],
        )
        for c in d["criteria"]
    )
    return ResultSnapshot(
        result_id=d["result_id"], status=d["status"], terminal=d["terminal"], succeeded=d["succeeded"],
        name=d["name"], url=d["url"], total_runs=d["total_runs"], completed_runs=d["completed_runs"],
        success_runs=d["success_runs"], failed_runs=d["failed_runs"], success_rate=d["success_rate"],
        runs=runs, anomalies=tuple(d["anomalies"]), criteria=criteria,
        verdict_expected=d["verdict_expected"], verdict_passed=d["verdict_passed"],
    )  # fmt: skip


def _check(d: Mapping[str, Any]) -> CheckResult:
    interval = d.get("interval")
    return CheckResult(d["check_id"], d["expression"], CheckStatus(d["status"]), d["observed"],
                       d["observed_text"], d["summary"], d["details"], d["error_type"],
                       baseline=d.get("baseline"), p_value=d.get("p_value"),
                       interval=(float(interval[0]), float(interval[1])) if interval else None)  # fmt: skip


def _gate(d: Mapping[str, Any]) -> GateVerdict:
    runs = tuple(_run(r) for r in d["runs"])
    e = d["execution"]
    failure = (
        None
        if e["failure"] is None
        else GateFailure(FailureKind(e["failure"]["kind"]), e["failure"]["message"])
    )
    snapshot = None if e["result"] is None else _snapshot(e["result"], tuple(r.record for r in runs))
    retries = tuple(
        _snapshot(r, tuple(_run(run).record for run in r["runs"])) for r in e.get("retries") or ()
    )
    execution = GateExecution(e["gate"], e["provider"], e["target"], snapshot, failure, e["duration_s"],
                              e["share_url"], retries)  # fmt: skip
    checks = tuple(_check(c) for c in d["checks"])
    return GateVerdict(
        d["name"],
        d["provider"],
        d["target"],
        GateStatus(d["status"]),
        checks,
        runs,
        execution,
        tuple(d["reasons"]),
        blocking=d.get("blocking", True) is not False,  # absent: blocking, the stricter reading
    )


def load_report(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise UsageError(
            f"{path} is not a JSON report", hint="give the report.json files of the shards"
        ) from None
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        raise UsageError(f"{path} is not a regate JSON report of schema version {SCHEMA_VERSION}")
    return document


def read_gates(document: Mapping[str, Any], path: Path) -> tuple[GateVerdict, ...]:
    """The gates of a report as they were judged; a report that is not whole is a usage error, not a bug."""
    try:
        return tuple(_gate(g) for g in document["gates"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UsageError(
            f"{path} is not a complete regate report ({type(exc).__name__}: {exc})",
            hint="give a report.json written by regate, unedited",
        ) from None


def _shard(document: Mapping[str, Any], path: Path) -> tuple[int, int]:
    shard = document.get("shard")
    try:
        index, count = (int(part) for part in str(shard).split("/"))
    except ValueError:
        raise UsageError(f"{path} is not a shard report (run with --shard I/N)") from None
    return index, count


def merge(paths: Sequence[Path]) -> Verdict:
    """One verdict from the shard reports at ``paths``."""
    if not paths:
        raise UsageError("no reports to merge")
    documents = [(path, load_report(path)) for path in paths]
    configs = {document["config_path"] for _, document in documents}
    if len(configs) > 1:
        raise UsageError("the reports come from different configs: " + ", ".join(sorted(configs)))
    shards = [_shard(document, path) for path, document in documents]
    counts = {count for _, count in shards}
    if len(counts) > 1:
        raise UsageError(
            "the reports come from different shard counts: " + ", ".join(map(str, sorted(counts)))
        )
    (count,) = counts
    seen = sorted(index for index, _ in shards)
    if len(seen) != len(set(seen)):
        raise UsageError("a shard is given twice: " + ", ".join(f"{i}/{count}" for i in seen))
    missing = [i for i in range(1, count + 1) if i not in seen]
    gates = tuple(gate for path, document in documents for gate in read_gates(document, path))
    errors = [e for _, document in documents for e in document["runner_errors"]]
    errors += [f"shard {i}/{count} is missing: its gates have no verdict" for i in missing]
    interrupted = next((d["interrupted_by"] for _, d in documents if d["interrupted_by"]), None)
    internal = any(d["exit_code"] == ExitCode.INTERNAL for _, d in documents)
    code = exit_code_for(gates, runner_errors=errors, interrupted_by=interrupted, internal_error=internal)
    return Verdict(
        status=STATUS_FOR_CODE[code], exit_code=code, gates=gates, runner_errors=tuple(errors),
        started_at=min(d["started_at"] for _, d in documents),
        duration_s=max(d["duration_s"] for _, d in documents),
        config_path=configs.pop(), version=documents[0][1]["tool"]["version"], interrupted_by=interrupted,
    )  # fmt: skip
