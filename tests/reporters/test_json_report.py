"""Specification of the JSON report: complete, versioned, stable, and always valid UTF-8 JSON."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from runner.model import CheckResult, MetricKind, MetricValue, ResultSnapshot, RunOutcome, RunRecord, Verdict
from runner.reporters.json_report import SCHEMA_VERSION, iter_json, render_json, verdict_to_dict

from . import factories as f

FIXTURES = pytest.mark.parametrize("make", list(f.ALL_VERDICTS.values()), ids=list(f.ALL_VERDICTS))


@FIXTURES
def test_round_trips_as_utf8_json_with_schema_version(make: Callable[[], Verdict]) -> None:
    """The text encodes as UTF-8, parses back, starts with schema_version 1 and ends with a newline."""
    verdict = make()
    text = render_json(verdict)
    document = json.loads(text.encode("utf-8"))
    assert text.endswith("}\n")
    assert next(iter(document)) == "schema_version"
    assert document["schema_version"] == SCHEMA_VERSION == 1
    assert document["tool"] == {"name": "regate", "version": "0.1.0"}
    assert document["exit_code"] == int(verdict.exit_code)
    assert document["status"] == verdict.status.value
    assert [g["name"] for g in document["gates"]] == [g.name for g in verdict.gates]
    assert render_json(verdict) == text  # deterministic


@FIXTURES
def test_the_report_is_written_a_gate_at_a_time(make: Callable[[], Verdict]) -> None:
    """``iter_json`` (what ``write_reports`` writes) is ``render_json`` in pieces: the head, one piece per
    gate and the tail, so a report of 1,000 gates is never whole in memory, text or dicts; and the pieces
    are the document ``verdict_to_dict`` describes."""
    verdict = make()
    pieces = list(iter_json(verdict))
    assert "".join(pieces) == render_json(verdict)
    assert len(pieces) == (len(verdict.gates) + 2 if verdict.gates else 1)
    assert json.loads(render_json(verdict)) == verdict_to_dict(verdict)


def test_top_level_fields() -> None:
    document = json.loads(render_json(f.v_interrupted()))
    assert {k: document[k] for k in ("started_at", "config_path", "interrupted_by", "runner_errors")} == {
        "started_at": "2026-11-26T10:00:00Z",
        "config_path": "configs/demo.yaml",
        "interrupted_by": "SIGTERM",
        "runner_errors": [],
    }
    assert document["exit_code_name"] == "SIGTERM"
    assert math.isclose(document["duration_s"], 0.3)


def _keys(value: dict[str, Any]) -> set[str]:
    return set(value)


@pytest.mark.parametrize(
    ("model", "locate"),
    [
        pytest.param(RunRecord, lambda d: d["gates"][1]["runs"][2], id="run-record"),
        pytest.param(MetricValue, lambda d: d["gates"][1]["runs"][2]["metrics"][1], id="metric-value"),
        pytest.param(CheckResult, lambda d: d["gates"][1]["checks"][0], id="check-result"),
        pytest.param(ResultSnapshot, lambda d: d["gates"][1]["execution"]["result"], id="result-snapshot"),
    ],
)
def test_every_model_field_is_in_the_report(model: type, locate: Callable[[dict[str, Any]], Any]) -> None:
    """Merge and baseline comparison need everything: a field added to the model must be added here too."""
    document = json.loads(render_json(f.v_regression()))
    names = {field.name for field in dataclasses.fields(model)}
    names.discard("runs")  # a snapshot's runs are the gate's runs (RunRecord), not repeated
    assert names <= _keys(locate(document))


def test_a_failing_gate_in_detail() -> None:
    document = json.loads(render_json(f.v_regression()))
    gate = document["gates"][1]
    assert (gate["name"], gate["provider"], gate["target"], gate["status"]) == (
        "support-agent",
        "cekura",
        "agent 12",
        "failed",
    )
    assert gate["result_url"] == "https://app.example.test/results/42"
    assert gate["execution"]["share_url"] == "https://app.example.test/share/abc"
    assert gate["execution"]["result"]["success_rate"] == 0.8
    assert gate["run_outcomes"] == {"passed": 8, "failed": 2, "infra_error": 0, "incomplete": 0}
    assert gate["checks"][1]["check_id"] == "metric.Latency.p50"
    run = gate["runs"][2]
    assert (run["name"], run["outcome"], run["run_id"]) == (
        "Refund request [Angry caller] #03",
        "failed",
        "run-3",
    )
    assert run["metrics"][1] == {
        "metric_id": "m-2",
        "name": "Politeness",
        "kind": "binary",
        "score": 0.0,
        "passed": False,
        "label": None,
        "explanation": "rude",
    }
    assert document["totals"]["runs_failed"] == 3  # 1 tolerated in checkout-agent, 2 in support-agent


def test_gate_failure_is_reported() -> None:
    document = json.loads(render_json(f.v_errored()))
    assert document["gates"][0]["execution"]["failure"] == {
        "kind": "Timeout",
        "message": "gate timed out after 30m with 3/10 runs finished",
    }


def test_hostile_strings_are_cleaned_and_emoji_kept_unescaped() -> None:
    """ensure_ascii=False keeps emoji readable; lone surrogates (unencodable) become visible escapes."""
    text = render_json(f.v_hostile())
    assert "🎉👩\u200d💻" in text
    assert "\\uD800" in json.loads(text)["gates"][0]["target"]
    assert "\x1b" not in json.loads(text)["gates"][0]["target"]


def test_non_finite_numbers_become_null() -> None:
    """NaN is not JSON; a number we cannot show is a missing number."""
    broken = f.check(observed=math.nan)
    verdict = f.verdict(f.gate(checks=(broken,)))
    verdict = dataclasses.replace(verdict, duration_s=math.inf)
    document = json.loads(render_json(verdict))
    assert document["duration_s"] is None
    assert document["gates"][0]["checks"][0]["observed"] is None


def test_each_run_is_one_line_of_the_document_shared_metrics_or_not() -> None:
    """Runs are written as text spliced from their fields and each metric value's text, made once per
    gate: every line is still exactly the run ``verdict_to_dict`` describes, in its key order, whether its
    metrics are shared with other runs, its own, non-finite, or absent."""
    shared = MetricValue("m-1", "Tone \x07", MetricKind.ENUM, None, None, "calm", "")
    own = MetricValue("m-2", "Latency", MetricKind.NUMERIC, math.nan, None, None, 'why: "slow"\n')
    runs = (
        f.run(1, metrics=(shared, own), transcript="agent: hi\r\nuser: \x1b[31mbye ✅"),
        f.run(2, RunOutcome.FAILED, metrics=(shared,), reasons=('a "quoted" reason',)),
        f.run(3, metrics=()),
        f.run(4, metrics=(own, shared, shared)),
    )
    verdict = f.verdict(f.gate(runs=runs))
    text = render_json(verdict)
    expected = verdict_to_dict(verdict)["gates"][0]["runs"]
    lines = [line.strip().rstrip(",") for line in text.splitlines() if line.lstrip().startswith('{"name"')]
    assert lines == [json.dumps(run, ensure_ascii=False, separators=(", ", ": ")) for run in expected]
    assert expected[0]["metrics"][1]["score"] is None  # NaN is not JSON
    assert expected[2]["metrics"] == []


def test_a_metric_value_shared_by_runs_is_rendered_for_each_run_as_its_own_dict() -> None:
    """The mapping shares equal metric values between runs; the report renders each once per gate, and
    every run still gets the same JSON as if nothing were shared, in a dict of its own."""
    shared = MetricValue("m-1", "Politeness\x1b[31m", MetricKind.BINARY, 1.0, True, None, "")
    alone = MetricValue("m-2", "Latency", MetricKind.NUMERIC, 812.5, None, None, "")
    runs = tuple(f.run(i, metrics=(shared, alone) if i % 2 else (shared,)) for i in range(1, 5))
    document = verdict_to_dict(f.verdict(f.gate(runs=runs)))
    expected = {
        "metric_id": "m-1",
        "name": "Politeness",  # the terminal escape is cleaned out
        "kind": "binary",
        "score": 1.0,
        "passed": True,
        "label": None,
        "explanation": "",
    }
    rendered = [run["metrics"] for run in document["gates"][0]["runs"]]
    assert [metrics[0] for metrics in rendered] == [expected] * 4
    assert [len(metrics) for metrics in rendered] == [2, 1, 2, 1]
    assert rendered[0][1]["score"] == 812.5
    rendered[0][0]["name"] = "changed"
    assert rendered[1][0]["name"] == "Politeness"  # not one dict shared between runs
    written = json.loads(render_json(f.verdict(f.gate(runs=runs))))
    assert written["gates"][0]["runs"][3]["metrics"] == [expected]
