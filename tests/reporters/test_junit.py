"""Specification of the JUnit report: valid for the strictest consumer, counted alike by every parser, and
red exactly when the exit code is."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from runner.model import CheckStatus, ExitCode, GateStatus, Verdict, VerdictStatus
from runner.reporters.junit import RUN_FAILURE_TYPE, JUnitInvariantError, iter_junit, render_junit

from . import factories as f
from .xml_support import (
    counts_by_elements,
    counts_by_junitparser,
    counts_by_xunitparser,
    jenkins_schema,
    parse,
)

FIXTURES = pytest.mark.parametrize("make", list(f.ALL_VERDICTS.values()), ids=list(f.ALL_VERDICTS))


@FIXTURES
def test_validates_against_the_unmodified_jenkins_xsd(make: Callable[[], Verdict]) -> None:
    """Jenkins' xUnit plugin skips files that fail its XSD, so every report must pass it."""
    jenkins_schema().validate(render_junit(make()))


@FIXTURES
def test_junitparser_and_xunitparser_agree_on_counts(make: Callable[[], Verdict]) -> None:
    """Both parsers see the same tests, failures, errors and skips as the elements and attributes say."""
    xml = render_junit(make())
    expected = counts_by_elements(xml)
    assert counts_by_junitparser(xml) == expected
    assert counts_by_xunitparser(xml) == expected
    root = parse(xml)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == (
        str(expected.tests),
        str(expected.failures),
        str(expected.errors),
    )


@FIXTURES
def test_the_report_is_written_a_suite_at_a_time(make: Callable[[], Verdict]) -> None:
    """``iter_junit`` (what ``write_reports`` writes) is ``render_junit`` in pieces: the declaration and
    root, one piece per suite (gates, then the runner's if any) and the closing tag, so 100,000 run
    testcases are never all in memory as elements."""
    verdict = make()
    pieces = list(iter_junit(verdict))
    assert "".join(pieces) == render_junit(verdict)
    suites = len(parse(render_junit(verdict)).findall("testsuite"))
    assert len(pieces) == suites + 2
    assert all(piece.startswith("\n  <testsuite ") for piece in pieces[1:-1])


@FIXTURES
def test_red_exactly_when_the_exit_code_is_non_zero(make: Callable[[], Verdict]) -> None:
    """failures + errors == 0 if and only if exit code == 0 (design.md §3)."""
    verdict = make()
    counts = counts_by_elements(render_junit(verdict))
    assert (counts.failures + counts.errors == 0) == (verdict.exit_code == ExitCode.OK)


@FIXTURES
def test_names_are_unique_per_suite_and_rendering_is_deterministic(make: Callable[[], Verdict]) -> None:
    """Same verdict, same bytes; no duplicate testcase or suite names; no run ids in names."""
    verdict = make()
    xml = render_junit(verdict)
    assert render_junit(verdict) == xml
    root = parse(xml)
    suite_names = [suite.get("name") for suite in root.iter("testsuite")]
    assert len(set(suite_names)) == len(suite_names)
    for suite in root.iter("testsuite"):
        names = [case.get("name") for case in suite.iter("testcase")]
        assert len(set(names)) == len(names), suite.get("name")
        assert not any(re.search(r"\brun-\d+\b", name or "") for name in names)


@FIXTURES
def test_junit_xml_traps_are_repaired(make: Callable[[], Verdict]) -> None:
    """No disabled=, every time is %.3f, ISO timestamp, every result has a message, one result per case."""
    xml = render_junit(make())
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    assert xml.endswith("\n")
    root = parse(xml)
    assert root.get("time") == "0.300"  # 0.1 + 0.2, not 0.30000000000000004
    for element in root.iter():
        assert "disabled" not in element.attrib
        if element.tag in ("testsuites", "testsuite", "testcase"):
            assert re.fullmatch(r"\d+\.\d{3}", element.get("time", "")), element.attrib
    for suite in root.iter("testsuite"):
        assert suite.get("timestamp") == "2026-11-26T10:00:00"
    for case in root.iter("testcase"):
        results = [child for child in case if child.tag in ("failure", "error", "skipped")]
        assert len(results) <= 1, case.attrib  # never skipped and failure on one testcase
        for result in results:
            message = result.get("message") or ""
            assert message.strip() and len(message) <= 500 and "\n" not in message


def test_layout_of_a_regression() -> None:
    """One suite per gate with properties, a testcase per check and per run, classnames by kind."""
    root = parse(render_junit(f.v_regression()))
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert list(suites) == ["checkout-agent", "support-agent"]
    support = suites["support-agent"]
    properties = {p.get("name"): p.get("value") for p in support.iter("property")}
    assert properties == {
        "support-agent.provider": "cekura",
        "support-agent.target": "agent 12",
        "support-agent.result_id": "res-42",
        "support-agent.result_url": "https://app.example.test/results/42",
        "support-agent.result_status": "completed",
        "support-agent.success_rate": "80%",
        "support-agent.runs_total": "10",
        "support-agent.runs_success": "8",
        "support-agent.runs_failed": "2",
        "support-agent.gate_status": "failed",
        "support-agent.unstable_scenarios": "Refund request",  # it both passed and failed
    }
    cases = [(c.get("classname"), c.get("name")) for c in support.iter("testcase")]
    assert cases[:3] == [
        ("regate.gates.support-agent", "success_rate"),
        ("regate.gates.support-agent", "metric.Latency.p50"),
        ("regate.runs.support-agent", "Refund request [Angry caller] #01"),
    ]
    assert len(cases) == 2 + 10


@pytest.mark.parametrize(
    ("status", "error_type", "tag", "junit_type"),
    [
        pytest.param(CheckStatus.PASSED, None, None, None, id="passed-is-plain"),
        pytest.param(CheckStatus.FAILED, None, "failure", "ThresholdBreach", id="failed-is-failure"),
        pytest.param(CheckStatus.INCONCLUSIVE, None, "error", "GateInconclusive", id="inconclusive-default"),
        pytest.param(
            CheckStatus.INCONCLUSIVE, "GateInconclusive", "error", "GateInconclusive", id="inconclusive"
        ),
        pytest.param(CheckStatus.ERROR, "Timeout", "error", "Timeout", id="error-named-by-kind"),
        pytest.param(CheckStatus.ERROR, None, "error", "InfraError", id="error-default-infra"),
    ],
)
def test_check_status_maps_to_junit_result(
    status: CheckStatus, error_type: str | None, tag: str | None, junit_type: str | None
) -> None:
    """Each check status becomes exactly one JUnit result type (or none for a pass)."""
    gate_status = GateStatus.PASSED if status == CheckStatus.PASSED else GateStatus.FAILED
    check = f.check(status=status, error_type=error_type)
    exit_code = ExitCode.OK if status == CheckStatus.PASSED else ExitCode.REGRESSION
    verdict = f.verdict(f.gate(status=gate_status, checks=(check,)), exit_code=exit_code)
    case = parse(render_junit(verdict)).find("testsuite/testcase")
    assert case is not None
    results = list(case)
    if tag is None:
        assert results == []
    else:
        assert [(r.tag, r.get("type")) for r in results] == [(tag, junit_type)]


def test_breach_message_is_one_line_with_observed_and_required() -> None:
    """The expression is in the message even when the summary omits it or is too long to fit."""
    root = parse(render_junit(f.v_regression()))
    messages = {
        c.get("name"): c.find("failure") for c in root.iter("testcase") if c.find("failure") is not None
    }
    latency = messages["metric.Latency.p50"]
    assert latency is not None
    assert latency.get("message") == "Latency p50 is 3100 ms [required p50 <= 2000]"
    assert "observed: 3100 ms" in (latency.text or "")
    long_summary = f.check(status=CheckStatus.FAILED, summary="x" * 2000, expression="<= 2")
    verdict = f.verdict(
        f.gate(status=GateStatus.FAILED, checks=(long_summary,)), exit_code=ExitCode.REGRESSION
    )
    failure = parse(render_junit(verdict)).find("testsuite/testcase/failure")
    assert failure is not None
    message = failure.get("message") or ""
    assert len(message) == 500 and message.endswith("[required <= 2]")


def test_failed_runs_are_visible_skips_with_reasons_transcript_and_url() -> None:
    """A failed run never fails a consumer but carries why it failed and where to look."""
    root = parse(render_junit(f.v_regression()))
    skips = [c for c in root.iter("testcase") if c.find("skipped") is not None]
    assert [c.get("name") for c in skips] == [
        "Refund request [Angry caller] #20",
        "Refund request [Angry caller] #03",
        "Refund request [Angry caller] #07",
    ]
    skipped = skips[1].find("skipped")
    assert skipped is not None
    assert skipped.get("type") == RUN_FAILURE_TYPE
    assert skipped.get("message") == "run failed: Politeness failed: rude; expected outcome: refund issued"
    body = skipped.text or ""
    for expected in (
        "Politeness: score 0 — rude",
        "https://app.example.test/runs/3",
        "agent: no.\nuser: please",
    ):
        assert expected in body


def test_a_run_without_its_own_page_points_at_its_result() -> None:
    """Cekura runs have no URL of their own: the body names the gate's result URL instead."""
    verdict = f.v_regression()
    gate = verdict.gates[0]
    runs = tuple(replace(run, record=replace(run.record, url=None)) for run in gate.runs)
    verdict = replace(verdict, gates=(replace(gate, runs=runs), *verdict.gates[1:]))
    skipped = parse(render_junit(verdict)).find("testsuite/testcase/skipped")
    assert skipped is not None
    assert "result url: https://app.example.test/results/42" in (skipped.text or "")


def test_infra_error_and_incomplete_runs_are_skips_too() -> None:
    root = parse(render_junit(f.v_errored()))
    messages = [s.get("message") for s in root.iter("skipped")]
    assert messages == [
        "run hit an infrastructure error: could not connect to agent",
        "run incomplete (status running)",
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(f.v_no_gates, "no gates ran", id="no-gates"),
        pytest.param(f.v_interrupted, "interrupted by SIGTERM", id="interrupted-after-gates-passed"),
        pytest.param(f.v_unexplained_exit_code, "exit code 3 (incomplete: no verdict possible)", id="exit-3"),
        pytest.param(
            f.v_runner_error, "could not end remote call res-42: connection reset; RED", id="errors"
        ),
    ],
)
def test_runner_level_problems_become_one_synthetic_error(make: Callable[[], Verdict], message: str) -> None:
    """What no gate explains is reported by the testcase regate.runner / runner in the suite regate."""
    root = parse(render_junit(make()))
    runner = [c for c in root.iter("testcase") if c.get("classname") == "regate.runner"]
    assert len(runner) == 1 and runner[0].get("name") == "runner"
    error = runner[0].find("error")
    assert error is not None and error.get("type") == "RunnerError"
    assert (error.get("message") or "").startswith(message)


def test_interruption_explained_by_a_gate_needs_no_runner_error() -> None:
    root = parse(render_junit(f.v_interrupted_gate_error()))
    assert [c for c in root.iter("testcase") if c.get("classname") == "regate.runner"] == []


def test_gate_that_failed_without_any_check_is_still_red() -> None:
    """A gate that timed out before any check gets a "gate" testcase with its failure kind."""
    root = parse(render_junit(f.v_timed_out_without_checks()))
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "slow-agent")
    case = suite.find("testcase")
    assert case is not None and case.get("name") == "gate"
    error = case.find("error")
    assert error is not None
    assert (error.get("type"), error.get("message")) == (
        "Timeout",
        "Timeout: no result within 10m; gate timed out",
    )


def test_synthetic_suite_and_duplicate_names_are_deduplicated() -> None:
    """A gate named "regate" keeps its name; the synthetic suite and repeated run names get " (2)"."""
    root = parse(render_junit(f.v_runner_error()))
    assert [s.get("name") for s in root.iter("testsuite")] == ["regate", "regate (2)"]
    hostile = parse(render_junit(f.v_hostile()))
    names = [c.get("name") for c in hostile.iter("testcase")]
    assert "duplicate" in names and "duplicate (2)" in names


def test_hostile_strings_are_cleaned_and_emoji_survive() -> None:
    """ANSI gone, control characters visible, markup inert, emoji intact, 1 MB transcript bounded."""
    xml = render_junit(f.v_hostile())
    assert not re.search("[\x00-\x08\x0b-\x1f\ufffe\uffff\ud800-\udfff]", xml)
    assert "[31m" not in xml and "[1;32m" not in xml
    assert "<script>" not in xml  # only as &lt;script&gt;
    root = parse(xml)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == f"hostile {f.EMOJI}"
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    message = failure.get("message") or ""
    for visible in (
        "\\x00",
        "\\x07",
        "\\x1B",
        "\\uFFFE",
        "\\uD800",
        "🎉👩\u200d💻",
        "]]>",
        "<script>",
        " ⏎ ",
    ):
        assert visible in message, visible
    assert len(xml.encode("utf-8")) < 64 * 1024
    assert "characters omitted" in xml


def test_exit_code_zero_with_a_failure_is_a_bug_not_a_report() -> None:
    """A green exit code next to a red report is refused with JUnitInvariantError (an AssertionError)."""
    lying = dataclasses.replace(f.v_regression(), exit_code=ExitCode.OK)
    with pytest.raises(JUnitInvariantError, match="exit code 0"):
        render_junit(lying)
    empty = dataclasses.replace(f.v_no_gates(), exit_code=ExitCode.OK, status=VerdictStatus.PASSED)
    with pytest.raises(AssertionError):
        render_junit(empty)


def test_a_character_xml_forbids_is_a_bug_not_a_malformed_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every string is cleaned before junit-xml sees it; should one slip through uncleaned (a bug), the
    suite is refused rather than written as a document no parser reads."""
    import runner.reporters.junit as junit

    monkeypatch.setattr(junit, "one_line", lambda text, limit=0: str(text))  # cleaning skipped: the bug
    verdict = f.v_all_passed()
    bad = dataclasses.replace(verdict, gates=(dataclasses.replace(verdict.gates[0], name="gate\x00"),))
    with pytest.raises(JUnitInvariantError, match="U\\+0000"):
        render_junit(bad)
