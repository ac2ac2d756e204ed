"""JSON report: ``render_json(verdict) -> str``, the machine-readable twin of the other reports.

It is the input of ``merge`` and of baseline comparison, so it holds every field of the model plus raw ids,
and its shape only changes together with ``SCHEMA_VERSION``. Rules:

- keys appear in the fixed order written below (not sorted: ``schema_version`` first helps humans and
  streaming readers), lists keep the verdict's order, so equal verdicts give byte-identical files;
- every string is passed through ``clean_text`` like in the other reports: a lone surrogate could not even be
  encoded as UTF-8, and ANSI codes or control characters are noise for a diff;
- NaN and infinities (not valid JSON) become ``null``, like any other missing number;
- rates are fractions (0-1) and durations float seconds, as in the model.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from runner.flaky import unstable_scenarios
from runner.model import (
    CheckResult,
    CriterionSummary,
    GateExecution,
    GateVerdict,
    MetricValue,
    ResultSnapshot,
    RunOutcome,
    RunVerdict,
    Verdict,
)
from runner.reporters._format import exit_meaning, finite_or_none, result_url, run_counts
from runner.runs import name_runs
from runner.textclean import clean_text, excerpt

__all__ = ["SCHEMA_VERSION", "TOOL_NAME", "iter_json", "render_json", "verdict_to_dict"]

SCHEMA_VERSION = 1
TOOL_NAME = "regate"

# JSON values are built as plain dicts/lists; Any is confined to this module's output type.
JSONObject = dict[str, Any]


def render_json(verdict: Verdict) -> str:
    """Render ``verdict`` as UTF-8 JSON text (``ensure_ascii=False``) with a trailing newline: indented down
    to each gate's lists, and one line per check, run and snapshot below that. Python's encoder is only fast
    without ``indent`` (its C encoder); a report of 100,000 runs takes seconds this way instead of a minute,
    and a run per line still reads and diffs well."""
    return "".join(iter_json(verdict))


def iter_json(verdict: Verdict) -> Iterator[str]:
    """``render_json`` in pieces, a gate at a time: only one gate's dict is ever built, so the report of
    1,000 gates of 100 runs (125 MB of JSON, several times that as dicts) is never whole in memory."""
    parts = ["{\n"]
    for key, item in _clean(_head(verdict)).items():
        parts.append(f"  {_compact(key)}: ")
        _write(item, 1, parts)
        parts.append(",\n")
    if not verdict.gates:
        parts.append('  "gates": []\n}\n')
        yield "".join(parts)
        return
    parts.append('  "gates": [\n')
    yield "".join(parts)
    last = len(verdict.gates) - 1
    for index, gate in enumerate(verdict.gates):
        parts = ["    "]
        document = _gate_head(gate)
        metrics: _EncodedMemo = {}
        document["runs"] = [_run_json(run, metrics) for run in gate.runs]
        _write(document, 2, parts)
        parts.append(",\n" if index < last else "\n")
        yield "".join(parts)
    yield "  ]\n}\n"


_PRETTY_DEPTH = 4  # document > gates > gate > runs/checks: indented; each run/check is one line
_compact = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


class _Encoded(str):
    """A value already encoded as it is written (``_compact``): ``_write`` takes it as it is."""

    __slots__ = ()


def _write(value: Any, depth: int, parts: list[str]) -> None:
    if type(value) is _Encoded:
        parts.append(value)
        return
    pad = "  " * depth
    if depth >= _PRETTY_DEPTH or not isinstance(value, dict | list) or not value:
        parts.append(_compact(value))
        return
    inner = pad + "  "
    if isinstance(value, dict):
        parts.append("{\n")
        for index, (key, item) in enumerate(value.items()):
            parts.append(f"{inner}{_compact(key)}: ")
            _write(item, depth + 1, parts)
            parts.append(",\n" if index < len(value) - 1 else "\n")
        parts.append(pad + "}")
        return
    parts.append("[\n")
    for index, item in enumerate(value):
        parts.append(inner)
        _write(item, depth + 1, parts)
        parts.append(",\n" if index < len(value) - 1 else "\n")
    parts.append(pad + "]")


def verdict_to_dict(verdict: Verdict) -> JSONObject:
    """The report as a JSON-ready dict (strings cleaned, non-finite floats as None)."""
    cleaned: JSONObject = _clean(_head(verdict))
    return {**cleaned, "gates": [_gate(gate) for gate in verdict.gates]}


def _head(verdict: Verdict) -> JSONObject:
    """Every key of the report before ``gates``, in order."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": verdict.version},
        "status": verdict.status.value,
        "exit_code": int(verdict.exit_code),
        "exit_code_name": verdict.exit_code.name,
        "exit_meaning": exit_meaning(verdict.exit_code),
        "started_at": verdict.started_at,
        "duration_s": verdict.duration_s,
        "config_path": verdict.config_path,
        "interrupted_by": verdict.interrupted_by,
        "shard": verdict.shard,
        "runner_errors": list(verdict.runner_errors),
        "totals": _totals(verdict),
    }


def _totals(verdict: Verdict) -> JSONObject:
    statuses = [gate.status.value for gate in verdict.gates]
    runs = [run for gate in verdict.gates for run in gate.runs]
    return {
        "gates": len(verdict.gates),
        "gates_passed": statuses.count("passed"),
        "gates_failed": statuses.count("failed"),
        "gates_error": statuses.count("error"),
        "gates_warned": sum(1 for gate in verdict.gates if gate.advisory_failure),  # non-blocking, not passed
        "runs": len(runs),
        **{f"runs_{outcome.value}": sum(1 for r in runs if r.outcome == outcome) for outcome in RunOutcome},
    }


def _gate(gate: GateVerdict) -> JSONObject:
    """One gate, cleaned (its runs as they are built: the generic ``_clean`` walk over 100,000 runs was
    a good part of writing the report)."""
    document = _gate_head(gate)
    metrics: _MetricMemo = {}
    document["runs"] = [_run(run, metrics) for run in gate.runs]
    return document


def _gate_head(gate: GateVerdict) -> JSONObject:
    """``_gate`` without its runs."""
    counts = run_counts(gate)
    document: JSONObject = _clean(
        {
            "name": gate.name,
            "provider": gate.provider,
            "target": gate.target,
            "status": gate.status.value,
            "blocking": gate.blocking,
            "flaky_scenarios": sorted({run.record.scenario for run in gate.runs if run.flaky}),
            "unstable_scenarios": list(unstable_scenarios(gate.runs)),  # both passed and failed
            "reasons": list(gate.reasons),
            "result_url": result_url(gate),
            "run_outcomes": {outcome.value: counts[outcome] for outcome in RunOutcome},
            "execution": _execution(gate.execution),
            "checks": [_check(check) for check in gate.checks],
        }
    )
    return document


def _execution(execution: GateExecution) -> JSONObject:
    failure = execution.failure
    metrics: _MetricMemo = {}
    return {
        "gate": execution.gate,
        "provider": execution.provider,
        "target": execution.target,
        "duration_s": execution.duration_s,
        "share_url": execution.share_url,
        "failure": None if failure is None else {"kind": failure.kind.value, "message": failure.message},
        # The snapshot's runs are not repeated here: they are the records inside ``runs`` of the gate.
        "result": None if execution.snapshot is None else _snapshot(execution.snapshot),
        # re-runs of the failed scenarios (retries: N): each with its own runs, which the gate's runs do not
        # repeat (a run of the gate that failed and passed here is marked "flaky" there)
        "retries": [
            {**_snapshot(retry), "runs": [_run(run, metrics) for run in name_runs(retry.runs)]}
            for retry in execution.retries
        ],
    }


def _snapshot(snapshot: ResultSnapshot) -> JSONObject:
    return {
        "result_id": snapshot.result_id,
        "name": snapshot.name,
        "status": snapshot.status,
        "terminal": snapshot.terminal,
        "succeeded": snapshot.succeeded,
        "url": snapshot.url,
        "total_runs": snapshot.total_runs,
        "completed_runs": snapshot.completed_runs,
        "success_runs": snapshot.success_runs,
        "failed_runs": snapshot.failed_runs,
        "success_rate": snapshot.success_rate,
        "run_count": len(snapshot.runs),
        "anomalies": list(snapshot.anomalies),
        "criteria": [_criterion(c) for c in snapshot.criteria],
        "verdict_expected": snapshot.verdict_expected,
        "verdict_passed": snapshot.verdict_passed,
    }


def _criterion(criterion: CriterionSummary) -> JSONObject:
    return {
        "source": criterion.source,
        "name": criterion.name,
        "passed": criterion.passed,
        "failed": criterion.failed,
        "average": finite_or_none(criterion.average),
        "histogram": {label: count for label, count in criterion.histogram},
        "scalar": finite_or_none(criterion.scalar),
    }


def _check(check: CheckResult) -> JSONObject:
    return {
        "check_id": check.check_id,
        "expression": check.expression,
        "status": check.status.value,
        "observed": check.observed,
        "observed_text": check.observed_text,
        "summary": check.summary,
        "details": check.details,
        "error_type": check.error_type,
        "baseline": check.baseline,  # change checks: the baseline's value, the change's interval, p-value
        "interval": list(check.interval) if check.interval is not None else None,
        "p_value": check.p_value,
    }


# A gate's metric values by identity (each kept with its rendering, so that its id stays its own): the
# mapping shares equal values between runs (``cekura_map.map_metric``), so a gate of 100 runs holds a few
# dozen distinct ones among 600, and each was rendered (seven strings cleaned) for every run.
_MetricMemo = dict[int, tuple[MetricValue, JSONObject]]


def _run(run: RunVerdict, metrics: _MetricMemo) -> JSONObject:
    """One run, every string cleaned and number made finite here (it is never passed to ``_clean``)."""
    document = _run_head(run)
    record = run.record
    document["metrics"] = [_rendered(metric, metrics) for metric in record.metrics]
    document["transcript"] = _maybe_text(record.transcript)
    return document


# ``_MetricMemo`` for the report's text: each distinct metric value of a gate encoded once.
_EncodedMemo = dict[int, tuple[MetricValue, str]]


def _run_json(run: RunVerdict, metrics: _EncodedMemo) -> _Encoded:
    """``_compact(_run(run, ...))``, with each metric value's text made once per gate and joined: a gate's
    100 runs share a few dozen values among their 600 metrics, and encoding each again was most of the
    time spent writing the report. The last two keys are spliced after the others, in the same order."""
    head = _run_head_json(run)
    encoded = []
    for metric in run.record.metrics:
        found = metrics.get(id(metric))
        if found is None:
            found = metrics[id(metric)] = (metric, _compact(_metric(metric)))
        encoded.append(found[1])
    # A passed run keeps no transcript: "null" without a trip through the encoder, 100,000 times over
    transcript = "null" if run.record.transcript is None else _compact(_text(run.record.transcript))
    return _Encoded(f'{head}, "metrics": [{", ".join(encoded)}], "transcript": {transcript}}}')


def _run_head_json(run: RunVerdict) -> str:
    """``_compact(_run_head(run))`` without its closing brace, written field by field: building the dict
    and a new C encoder for each of 100,000 runs took twice as long. Each value is encoded as the encoder
    encodes it (strings by ``_compact``'s own path for a str, floats by ``float.__repr__``); a test pins
    every line equal to ``json.dumps`` of the dict."""
    record = run.record
    reasons = ", ".join([_compact(_text(reason)) for reason in record.reasons])
    return (
        f'{{"name": {_compact(_text(run.name))}, "outcome": {_OUTCOMES[run.outcome]}, '
        f'"flaky": {_flag(run.flaky)}, "run_id": {_compact(_text(record.run_id))}, '
        f'"scenario": {_compact(_text(record.scenario))}, "scenario_id": {_string(record.scenario_id)}, '
        f'"personality": {_string(record.personality)}, "status": {_compact(_text(record.status))}, '
        f'"terminal": {_flag(record.terminal)}, "success": {_flag(record.success)}, '
        f'"infra_error": {_flag(record.infra_error)}, "reasons": [{reasons}], '
        f'"expected_outcome_score": {_number(record.expected_outcome_score)}, '
        f'"duration_s": {_number(record.duration_s)}, "url": {_string(record.url)}'
    )


_OUTCOMES = {outcome: _compact(outcome.value) for outcome in RunOutcome}
_FLAGS = {True: "true", False: "false", None: "null"}


def _flag(value: bool | None) -> str:
    return _FLAGS[value] if value is None or type(value) is bool else _compact(value)


def _string(value: str | None) -> str:
    return "null" if value is None else _compact(_text(value))


def _number(value: float | None) -> str:
    value = finite_or_none(value)
    if value is None:
        return "null"
    return float.__repr__(value) if type(value) is float else _compact(value)


def _run_head(run: RunVerdict) -> JSONObject:
    """``_run`` up to its metrics (never empty: it starts with the run's name). ``_run_head_json`` writes
    the same fields as text: change both together (the report tests compare them byte for byte)."""
    record = run.record
    return {
        "name": _text(run.name),
        "outcome": run.outcome.value,
        "flaky": run.flaky,
        "run_id": _text(record.run_id),
        "scenario": _text(record.scenario),
        "scenario_id": _maybe_text(record.scenario_id),
        "personality": _maybe_text(record.personality),
        "status": _text(record.status),
        "terminal": record.terminal,
        "success": record.success,
        "infra_error": record.infra_error,
        "reasons": [_text(reason) for reason in record.reasons],
        "expected_outcome_score": finite_or_none(record.expected_outcome_score),
        "duration_s": finite_or_none(record.duration_s),
        "url": _maybe_text(record.url),
    }


def _rendered(metric: MetricValue, memo: _MetricMemo) -> JSONObject:
    """``_metric``, rendered once per metric value of a gate; each run gets its own copy of the dict."""
    found = memo.get(id(metric))
    if found is None:
        found = memo[id(metric)] = (metric, _metric(metric))
    return dict(found[1])


def _metric(metric: MetricValue) -> JSONObject:
    return {
        "metric_id": _maybe_text(metric.metric_id),
        "name": _text(metric.name),
        "kind": metric.kind.value,
        "score": finite_or_none(metric.score),
        "passed": metric.passed,
        "label": _maybe_text(metric.label),
        "explanation": _text(metric.explanation),
    }


_MAX_STRING = 20_000  # characters of any one remote string (transcripts are excerpts already)


_SHORT = 200  # characters: names, statuses, labels and keys, repeated on every run (see ``_clean_text``)
_clean_short = functools.lru_cache(maxsize=8192)(clean_text)


def _clean_text(text: str) -> str:
    """``clean_text``, remembered for short texts: 100,000 runs repeat a few hundred names, statuses and
    keys, and each was cleaned again (two regular-expression scans) for every run."""
    return _clean_short(text) if len(text) <= _SHORT else clean_text(text)


def _text(value: str) -> str:
    """A string as every report shows it: cleaned, and bounded to ``_MAX_STRING`` characters."""
    if len(value) <= _SHORT:  # most strings: ``_clean_text`` inlined, a call fewer on 2.5 million strings
        return _clean_short(value)
    if len(value) > _MAX_STRING:
        return excerpt(value, _MAX_STRING // 2, _MAX_STRING // 2)
    return clean_text(value)


def _maybe_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _clean(value: Any) -> Any:
    """Clean and bound every string and drop non-finite floats, recursively. Keys are cleaned too: some
    come from the platform (histogram labels)."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, Mapping):
        return {_clean_text(str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_clean(item) for item in value]
    raise TypeError(f"not JSON data: {type(value).__name__}")
