"""Specification of the reports for Freeplay gates: evaluations, the suite verdict and test cases.

Evaluation checks and ``suite.passed`` are gate testcases like any threshold check; a test case is a run
testcase whose body shows the target's output (and, for a target error, the error and stderr tail). The
Markdown summary shows every recorded criterion with the checks on it, observed vs required. The XSD,
consumer-count and red-iff-non-zero invariants are checked for the Freeplay fixtures by the parametrized
tests of ``test_junit.py`` (they are in ``ALL_VERDICTS``); here the layout and the agreement of the reports
on verdicts made by the real gate.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from runner.gate import evaluate
from runner.model import CheckStatus, CriterionSummary, ExitCode, GateStatus, ResultSnapshot
from runner.reporters import render_json, render_junit, render_markdown
from runner.thresholds import Aggregate, Thresholds
from tests.test_gate import at_least
from tests.test_gate_freeplay import (
    ACCURACY_90,
    cases,
    evaluation,
    fp_execution,
    fp_snapshot,
    server_suite,
)

from . import factories as f
from .xml_support import (
    counts_by_elements,
    counts_by_junitparser,
    counts_by_xunitparser,
    jenkins_schema,
    parse,
)

# --- JUnit ----------------------------------------------------------------------------------------


def _suite(xml: str, name: str) -> Any:
    return next(s for s in parse(xml).iter("testsuite") if s.get("name") == name)


def test_junit_layout_of_a_dataset_gate() -> None:
    """Checks first (evaluations as gate testcases), then one testcase per test case; Freeplay properties."""
    suite = _suite(render_junit(f.v_freeplay()), "golden-set")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert {
        k: properties[f"golden-set.{k}"] for k in ("provider", "test_run_id", "test_run_status", "criteria")
    } == {
        "provider": "freeplay",
        "test_run_id": "7d1e0c6a-0000-4000-8000-000000000001",
        "test_run_status": "complete",
        "criteria": "3",
    }
    assert "golden-set.suite_passed" not in properties
    cases_ = [(c.get("classname"), c.get("name")) for c in suite.iter("testcase")]
    assert cases_[:4] == [
        ("regate.gates.golden-set", "evaluation.auto:Answer Accuracy.pass_rate"),
        ("regate.gates.golden-set", "evaluation.Faithfulness.rate(yes)"),
        ("regate.gates.golden-set", "max_target_errors"),
        ("regate.runs.golden-set", "Refund question #01"),
    ]
    assert len(cases_) == 3 + 9
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("type") == "ThresholdBreach"
    assert failure.get("message") == (
        "evaluation.auto:Answer Accuracy.pass_rate 75.0% (6/8 auto evaluations) — required pass_rate >= 90%"
    )
    assert "auto:Answer Accuracy: pass 6, fail 2, average 0.85" in (failure.text or "")


def test_junit_target_error_shows_the_error_and_the_stderr_tail_on_their_own_lines() -> None:
    suite = _suite(render_junit(f.v_freeplay()), "golden-set")
    case = next(c for c in suite.iter("testcase") if c.get("name") == "Edge case #09")
    skipped = case.find("skipped")
    assert skipped is not None and skipped.get("type") == "regate.run-failure"
    assert (skipped.get("message") or "").startswith(
        "target error: target exited with status 1; stderr (tail)"
    )
    body = skipped.text or ""
    assert (
        "reasons:\n  - target exited with status 1\n  - stderr (tail):\n"
        "    Traceback (most recent call last):\n    ValueError: no answer for case 9"
    ) in body
    assert "test case id: tc-0009" in body
    assert "platform status" not in body  # the status of a test case is regate's, not Freeplay's
    assert "result url: https://app.freeplay.example/projects/p/test-runs/7d1e" in body


def test_junit_output_excerpt_is_labelled_by_provider() -> None:
    """Freeplay shows the target's output; Cekura keeps its transcript. A passed case shows it as stdout."""
    failed = dataclasses.replace(
        f.fp_case(3, error="bad JSON on stdout"),
        record=dataclasses.replace(
            f.fp_case(3).record, success=False, infra_error=True, reasons=("bad JSON",)
        ),
    )
    gate = f.freeplay_gate(
        "g", GateStatus.FAILED, (f.check(status=CheckStatus.FAILED),), (f.fp_case(1), failed)
    )
    xml = render_junit(f.verdict(gate, exit_code=ExitCode.REGRESSION))
    body = parse(xml).find("testsuite/testcase/skipped")
    assert body is not None
    assert 'output (excerpt):\n{"answer": "refund within 30 days (3)"}' in (body.text or "")
    assert "client eval results:\n  - format_ok: true\n  - length: 42" in (body.text or "")
    system_out = parse(xml).find("testsuite/testcase/system-out")
    assert system_out is not None
    assert (system_out.text or "") == 'output (excerpt):\n{"answer": "refund within 30 days (1)"}'
    cekura = render_junit(f.v_regression())
    assert "transcript (excerpt):" in cekura and "output (excerpt)" not in cekura
    assert "system-out" not in cekura


def test_junit_passed_output_is_bounded() -> None:
    long_output = dataclasses.replace(f.fp_case(1).record, transcript="x" * 50_000)
    case = dataclasses.replace(f.fp_case(1), record=long_output)
    xml = render_junit(f.verdict(f.freeplay_gate("g", GateStatus.PASSED, (f.check(),), (case,))))
    system_out = parse(xml).find("testsuite/testcase/system-out")
    assert system_out is not None and len(system_out.text or "") < 1200
    jenkins_schema().validate(xml)


def test_junit_server_suite_has_its_verdict_and_no_run_testcases() -> None:
    suite = _suite(render_junit(f.v_freeplay()), "release-suite")
    assert [(c.get("classname"), c.get("name")) for c in suite.iter("testcase")] == [
        ("regate.gates.release-suite", "suite.passed")
    ]
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["release-suite.suite_passed"] == "false"
    assert properties["release-suite.runs_total"] == "10"
    assert "release-suite.runs_success" not in properties  # we never saw the cases: no counts of ours
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == "suite.passed false (platform verdict, 10 test cases) — required passed"


# --- JSON -----------------------------------------------------------------------------------------


def test_json_holds_every_criterion_field_and_the_suite_verdict() -> None:
    document = json.loads(render_json(f.v_freeplay()))
    dataset, suite = document["gates"]
    criterion = dataset["execution"]["result"]["criteria"][1]
    assert {field.name for field in dataclasses.fields(CriterionSummary)} <= set(criterion)
    assert criterion["histogram"] == {"no": 1, "yes": 7}
    assert [c["check_id"] for c in dataset["checks"]] == [
        "evaluation.auto:Answer Accuracy.pass_rate",
        "evaluation.Faithfulness.rate(yes)",
        "max_target_errors",
    ]
    result = suite["execution"]["result"]
    assert (result["verdict_expected"], result["verdict_passed"], result["run_count"]) == (True, False, 0)
    assert suite["checks"][0]["check_id"] == "suite.passed"


# --- Markdown -------------------------------------------------------------------------------------


def test_markdown_shows_each_criterion_observed_vs_required() -> None:
    text = render_markdown(f.v_freeplay())
    assert "### Evaluations" in text
    assert text.index("### Evaluations") < text.index("### Why it failed")
    assert (
        "| golden-set | Answer Accuracy | auto | pass 6, fail 2, average 0.85 | pass\\_rate &gt;= 90% | "
        "❌ 75.0% (6/8 auto evaluations) |" in text
    )
    assert (
        "| golden-set | Faithfulness | human | no: 1, yes: 7 | rate(yes) &gt;= 80% | "
        "✅ 87.5% (7/8 human evaluations) |" in text
    )
    assert "| golden-set | format\\_ok | client | pass 8, fail 0 | — | — |" in text
    assert "| release-suite | suite release-suite | ❌ failed | n/a | n/a |" in text


def test_markdown_lists_failing_test_cases_with_their_error() -> None:
    text = render_markdown(f.v_freeplay())
    assert "#### Failing test cases of golden-set (1 of 9)" in text
    assert "| Edge case #09 | target error | target exited with status 1 | — |" in text


def test_markdown_evaluations_are_shown_when_everything_passed_and_stay_inert() -> None:
    assert "### Evaluations" in render_markdown(f.v_freeplay_passed())
    assert "### Evaluations" not in render_markdown(f.v_all_passed())
    hostile = CriterionSummary("auto", f"| {f.HOSTILE}", histogram=((f"<b>{f.HOSTILE}", 2),))
    gate = f.freeplay_gate("g", GateStatus.PASSED, (f.check(),), (f.fp_case(1),))
    snapshot = gate.execution.snapshot
    assert snapshot is not None
    execution = dataclasses.replace(
        gate.execution, snapshot=dataclasses.replace(snapshot, criteria=(hostile,))
    )
    text = render_markdown(f.verdict(dataclasses.replace(gate, execution=execution)))
    row = next(line for line in text.splitlines() if line.startswith("| g | \\|"))
    assert sum(1 for token in re.findall(r"\\.|\|", row) if token == "|") == 7
    assert "<b>" not in text and "<script>" not in text


def test_markdown_evaluation_rows_are_bounded() -> None:
    many = tuple(CriterionSummary("auto", f"c{i}", scalar=1.0) for i in range(80))
    gate = f.freeplay_gate("g", GateStatus.PASSED, (f.check(),), (f.fp_case(1),))
    snapshot = gate.execution.snapshot
    assert snapshot is not None
    execution = dataclasses.replace(gate.execution, snapshot=dataclasses.replace(snapshot, criteria=many))
    text = render_markdown(f.verdict(dataclasses.replace(gate, execution=execution)))
    assert text.count("| g | c") == 50
    assert "| g | … and 30 more: see report.json | — | — | — | — |" in text


# --- the reports agree, on verdicts made by the real gate -----------------------------------------


def _verdict(*pairs: tuple[ResultSnapshot, Thresholds]) -> Any:
    return evaluate(
        [(fp_execution(snap), thresholds) for snap, thresholds in pairs],
        started_at="2026-11-26T10:00:00Z",
        duration_s=2.0,
        config_path="regate.yaml",
        version="0.1.0",
    )


FAITHFUL = Thresholds(evaluations=(evaluation("Faithfulness", Aggregate.PASS_RATE, at_least(80)),))
GATE_VERDICTS = {
    "dataset-breach": _verdict((fp_snapshot(*cases(8, errors=1)), Thresholds(evaluations=(ACCURACY_90,)))),
    "dataset-pass": _verdict((fp_snapshot(*cases(8)), FAITHFUL)),
    "suite-pass": _verdict((server_suite(True), FAITHFUL)),
    "suite-fail": _verdict((server_suite(False), Thresholds())),
    "suite-null": _verdict((server_suite(None), Thresholds(max_target_errors=0))),
    "target-errors": _verdict((fp_snapshot(*cases(5, errors=2)), Thresholds(max_target_errors=1))),
}


@pytest.mark.parametrize("verdict", list(GATE_VERDICTS.values()), ids=list(GATE_VERDICTS))
def test_reports_of_real_freeplay_verdicts_agree(verdict: Any) -> None:
    """Valid JUnit, counted alike by every consumer, red iff the exit code is; JSON and Markdown agree."""
    xml = render_junit(verdict)
    jenkins_schema().validate(xml)
    counts = counts_by_elements(xml)
    assert counts_by_junitparser(xml) == counts == counts_by_xunitparser(xml)
    assert (counts.failures + counts.errors == 0) == (verdict.exit_code == ExitCode.OK)
    bad = {c.check_id for g in verdict.gates for c in g.checks if c.status is not CheckStatus.PASSED}
    red = {
        c.get("name")
        for c in parse(xml).iter("testcase")
        if c.find("failure") is not None or c.find("error") is not None
    }
    assert red - {"runner"} == bad
    document = json.loads(render_json(verdict))
    assert document["exit_code"] == int(verdict.exit_code)
    assert {c["check_id"] for g in document["gates"] for c in g["checks"] if c["status"] != "passed"} == bad
    markdown = render_markdown(verdict)
    for check_id in bad:
        assert check_id.replace("_", "\\_") in markdown


def test_a_passing_server_suite_is_green_in_every_report() -> None:
    verdict = GATE_VERDICTS["suite-pass"]
    assert verdict.exit_code is ExitCode.OK
    assert render_markdown(verdict).startswith("## ✅ regate: PASSED")
    assert counts_by_elements(render_junit(verdict)).tests == 2  # suite.passed and the evaluation check
