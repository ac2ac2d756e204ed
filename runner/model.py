"""The neutral data model shared by providers, the gate and the reporters.

Providers map platform JSON into ``ResultSnapshot``/``RunRecord``/``MetricValue``; the orchestrator wraps the
last snapshot of each gate into a ``GateExecution``; ``gate.evaluate`` turns executions into one ``Verdict``
from which every report and the exit code are derived, so they cannot disagree.

Rates are fractions (0.0-1.0) everywhere in this model; durations are float seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from runner.exitcodes import ExitCode as ExitCode  # re-exported: the rest of regate reads it here


class MetricKind(StrEnum):
    """Normalised metric types (api-contracts §A7, §C-12)."""

    BINARY = "binary"  # legacy binary_* with score 5/0, or eval_type binary with passed
    CONTINUOUS = "continuous"  # score 0-5
    NUMERIC = "numeric"  # raw value in the metric's own unit
    ENUM = "enum"  # one label
    UNKNOWN = "unknown"  # a type we do not recognise: every aggregate on it is inconclusive


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One metric evaluated on one run.

    ``score``: BINARY 1.0/0.0 (mirrors ``passed``), CONTINUOUS the raw 0-5 score, NUMERIC the raw value,
    ENUM the platform's score if any. ``None`` when the platform gave nothing usable (e.g. a skipped metric).
    """

    metric_id: str | None
    name: str
    kind: MetricKind
    score: float | None
    passed: bool | None = None  # BINARY only
    label: str | None = None  # ENUM only
    explanation: str = ""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run (one simulated conversation / one test case) as the platform reported it."""

    run_id: str
    scenario: str  # human name; falls back to "scenario <id>"
    scenario_id: str | None
    personality: str | None
    status: str  # platform status, lowercase
    terminal: bool  # status is in the provider's terminal set
    success: bool | None  # the platform's per-run verdict; None = unknown (never a pass)
    infra_error: bool  # the run failed for infrastructure reasons (could not connect, timeout, ...)
    reasons: tuple[str, ...] = ()  # why it failed: error message, expected outcome, failing metrics
    metrics: tuple[MetricValue, ...] = ()
    expected_outcome_score: float | None = None  # 0-100 as the platform gives it
    duration_s: float | None = None
    transcript: str | None = None  # bounded excerpt (head and tail)
    url: str | None = None


class CaseKind(StrEnum):
    """Freeplay test-case kinds: a prompt completion or an agent trace (api-contracts §B2)."""

    COMPLETION = "completion"
    TRACE = "trace"


@dataclass(frozen=True, slots=True)
class TestCase:
    """One test case the platform handed back for the client to execute (Freeplay)."""

    __test__ = False  # not a pytest test class

    case_id: str
    kind: CaseKind
    label: str  # short human name, stable across runs (used in run names)
    target_input: str  # the JSON object given to the target on stdin / as the POST body (serialised)
    inputs_json: str  # what the recording sends back as `inputs` (completion) or `input` (trace), JSON


@dataclass(frozen=True, slots=True)
class TargetResult:
    """What the target under test produced for one test case."""

    case: TestCase
    ok: bool  # False: the target failed (non-zero exit, timeout, invalid output, HTTP error)
    output_json: str | None  # the output value, JSON-serialised (a string output is a JSON string)
    messages_json: str | None = None  # optional conversation the target returned, JSON array
    eval_results: tuple[tuple[str, bool | float], ...] = ()  # client-side evals the target returned
    error: str | None = None  # one line: why it failed
    stderr_tail: str | None = None  # bounded tail of the target's stderr (command targets)
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CriterionSummary:
    """One criterion of Freeplay's ``summary_statistics`` (api-contracts §B3.1, §C-13), all shapes kept.

    ``source`` is ``auto``, ``human`` or ``client``. Exactly what the platform gave is kept: pass/fail
    counts and average (shape a), a label histogram (shape b), or a scalar (shape c).
    """

    source: str
    name: str
    passed: int | None = None
    failed: int | None = None
    average: float | None = None
    histogram: tuple[tuple[str, int], ...] = ()
    scalar: float | None = None


@dataclass(frozen=True, slots=True)
class ResultSnapshot:
    """One poll of one result (a Cekura result, a Freeplay test run)."""

    result_id: str
    status: str  # platform status, lowercase
    terminal: bool
    succeeded: bool  # terminal AND the platform considers the batch finished normally (Cekura: completed)
    name: str | None = None
    url: str | None = None
    total_runs: int | None = None
    completed_runs: int | None = None
    success_runs: int | None = None
    failed_runs: int | None = None
    success_rate: float | None = None  # fraction 0-1, normalised by the provider
    runs: tuple[RunRecord, ...] = ()
    anomalies: tuple[str, ...] = ()  # contradictions found while mapping: they make the data inconclusive
    criteria: tuple[CriterionSummary, ...] = ()  # Freeplay evaluation summaries
    verdict_expected: bool = False  # the platform gives its own pass/fail (a Freeplay suite run)
    verdict_passed: bool | None = None  # that verdict; None = not given (never a pass)


class FailureKind(StrEnum):
    """Why a gate has no usable result. The value is the JUnit ``<error type=...>``."""

    INFRA = "InfraError"  # platform error, result status failed/timeout/cancelled, start outcome unknown
    TIMEOUT = "Timeout"  # per-gate or overall deadline
    AUTH = "AuthError"
    PROTOCOL = "ProtocolError"  # unparseable or contradictory data
    INTERRUPTED = "Interrupted"  # SIGINT/SIGTERM/SIGHUP
    INTERNAL = "InternalError"  # a bug in regate


@dataclass(frozen=True, slots=True)
class GateFailure:
    kind: FailureKind
    message: str  # one line, no secrets


@dataclass(frozen=True, slots=True)
class GateExecution:
    """What the orchestrator learned about one gate: the last snapshot, and a failure if it did not finish."""

    gate: str
    provider: str
    target: str  # what was tested, e.g. "agent 12" or "dataset golden-set"
    snapshot: ResultSnapshot | None
    failure: GateFailure | None
    duration_s: float
    share_url: str | None = None
    retries: tuple[ResultSnapshot, ...] = ()  # re-runs of the failed scenarios (retries: N), in order


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # JUnit <failure>: a breach on complete data
    INCONCLUSIVE = "inconclusive"  # JUnit <error type="GateInconclusive">: too little / unusable data
    ERROR = "error"  # JUnit <error type=<FailureKind>>: the gate did not finish


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One threshold check evaluated for one gate."""

    check_id: str  # stable name, e.g. "success_rate", "metric.Latency.p50", "max_failed_runs"
    expression: str  # the threshold as written, normalised, e.g. ">= 90%" or "p50 <= 2000"
    status: CheckStatus
    observed: float | None  # in the unit of the expression (fraction for rates)
    observed_text: str  # e.g. "85.0% (17/20 runs)" or "n/a"
    summary: str  # one line (<= 500 chars): observed vs required and counts
    details: str = ""  # multi-line body: which runs, why
    error_type: str | None = None  # for ERROR: the FailureKind value; for INCONCLUSIVE: "GateInconclusive"
    # change checks (drop/increase against a baseline): the baseline's value, the interval of the change and
    # the one-sided p-value of "current below baseline" (rates only)
    baseline: float | None = None
    interval: tuple[float, float] | None = None
    p_value: float | None = None


class RunOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # completed, platform verdict false
    INFRA_ERROR = "infra_error"
    INCOMPLETE = "incomplete"  # not terminal, or verdict unknown


@dataclass(frozen=True, slots=True)
class RunVerdict:
    record: RunRecord
    outcome: RunOutcome
    name: str  # unique within the gate and stable across runs: "<scenario> [<personality>] #NN"
    flaky: bool = False  # failed, and its scenario passed on retry (runner.flaky)


class GateStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class GateVerdict:
    name: str
    provider: str
    target: str
    status: GateStatus
    checks: tuple[CheckResult, ...]
    runs: tuple[RunVerdict, ...]
    execution: GateExecution
    reasons: tuple[str, ...] = ()  # "why it failed" lines for summaries, most important first
    blocking: bool = True  # False: its failure is a warning and never decides the exit code

    @property
    def advisory_failure(self) -> bool:
        """A non-blocking gate that did not pass: shown as a warning, not counted as a failure."""
        return not self.blocking and self.status is not GateStatus.PASSED


class VerdictStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # a regression
    INCOMPLETE = "incomplete"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The one source of truth for all reports and the exit code."""

    status: VerdictStatus
    exit_code: ExitCode
    gates: tuple[GateVerdict, ...]
    runner_errors: tuple[str, ...]  # runner-level problems (reported as one synthetic JUnit testcase)
    started_at: str  # ISO 8601 UTC, "2026-11-26T10:00:00Z"
    duration_s: float
    config_path: str
    version: str
    interrupted_by: str | None = None  # "SIGINT", "SIGTERM", "SIGHUP"
    shard: str | None = None  # "I/N" when this run was one shard of N (see ``regate merge``)
