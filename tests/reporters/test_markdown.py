"""Specification of the Markdown summary: verdict first, a row per gate, why it failed, bounded, inert."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest

from runner.model import CheckStatus, ExitCode, GateStatus, RunOutcome, Verdict, VerdictStatus
from runner.reporters.markdown import escape_cell, headline, render_markdown

from . import factories as f

FIXTURES = pytest.mark.parametrize("make", list(f.ALL_VERDICTS.values()), ids=list(f.ALL_VERDICTS))


@pytest.mark.parametrize(
    ("make", "first_line"),
    [
        pytest.param(f.v_all_passed, "## ✅ regate: PASSED — exit code 0 (every gate passed)", id="passed"),
        pytest.param(
            f.v_regression,
            "## ❌ regate: FAILED — exit code 1 (regression: a gate failed its thresholds)",
            id="regression",
        ),
        pytest.param(
            f.v_errored,
            "## ⚠️ regate: INCOMPLETE — exit code 3 (incomplete: no verdict possible)",
            id="incomplete",
        ),
        pytest.param(
            f.v_interrupted, "## ⚠️ regate: INTERRUPTED — exit code 143 (interrupted by SIGTERM)", id="sigterm"
        ),
    ],
)
def test_verdict_line_comes_first(make: Callable[[], Verdict], first_line: str) -> None:
    """The first line says pass/fail, the status and the exit code; the console headline matches it."""
    verdict = make()
    assert render_markdown(verdict).splitlines()[0] == first_line
    assert first_line == f"## {headline(verdict)}"


@FIXTURES
def test_one_table_row_per_gate(make: Callable[[], Verdict]) -> None:
    verdict = make()
    lines = render_markdown(verdict).splitlines()
    if not verdict.gates:
        assert "No gate ran, so no verdict is possible." in lines
        return
    start = lines.index("| Gate | Target | Status | Success rate | Runs passed | Result |")
    rows = lines[start + 2 : start + 2 + len(verdict.gates)]
    assert all(row.startswith("| ") and row.endswith(" |") for row in rows)
    assert lines[start + 2 + len(verdict.gates) :][:1] in ([], [""])  # the table ends after the gates


def test_regression_rows_and_why_it_failed() -> None:
    """Each failed check shows observed vs required; failing runs of the failed gate show their top reason."""
    text = render_markdown(f.v_regression())
    assert (
        "| support-agent | agent 12 | ❌ failed | 80% [49–94] | 8/10 | "  # 95% Wilson interval of 8/10
        "[result](https://app.example.test/results/42) |" in text
    )
    assert "### Why it failed" in text
    assert (
        "| support-agent | metric.Latency.p50 | ❌ failed | 3100 ms | p50 &lt;= 2000 | "
        "Latency p50 is 3100 ms |" in text
    )
    assert "#### Failing runs of support-agent (2 of 10)" in text
    assert "| Refund request \\[Angry caller\\] #03 | failed | Politeness failed: rude |" in text
    # The run tolerated by the passing gate is not listed as a reason for failure.
    assert "Failing runs of checkout-agent" not in text


def test_all_passed_has_no_why_it_failed() -> None:
    assert "Why it failed" not in render_markdown(f.v_all_passed())


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(
            f.v_errored, "| voice-agent | success\\_rate | ⚠️ error (Timeout) | n/a |", id="error-check"
        ),
        pytest.param(
            f.v_inconclusive,
            "| sentiment | metric.Sentiment.rate(positive) | ⚠️ inconclusive (GateInconclusive) |",
            id="inconclusive-check",
        ),
        pytest.param(
            f.v_timed_out_without_checks,
            "| slow-agent | — | ⚠️ error | — | — | Timeout: no result within 10m; gate timed out |",
            id="gate-without-checks",
        ),
        pytest.param(f.v_runner_error, "- ⚠️ could not end remote call res-42: connection reset", id="runner"),
    ],
)
def test_non_regression_problems_are_explained(make: Callable[[], Verdict], expected: str) -> None:
    assert expected in render_markdown(make())


def test_a_non_zero_exit_code_that_no_gate_explains_is_said_aloud() -> None:
    """Every gate passed but the exit code is 3: the summary must not look green."""
    text = render_markdown(f.v_unexplained_exit_code())
    assert "⚠️ Every gate passed, but the run did not complete normally (exit code 3)" in text


def test_failing_runs_are_bounded_per_gate() -> None:
    """Only max_runs failing runs per gate are listed, then a pointer to report.json."""
    runs = tuple(f.run(i, RunOutcome.FAILED, reasons=(f"reason {i}",)) for i in range(1, 31))
    failing = f.gate("many", GateStatus.FAILED, checks=(f.check(status=CheckStatus.FAILED),), runs=runs)
    verdict = f.verdict(failing, status=VerdictStatus.FAILED, exit_code=ExitCode.REGRESSION)
    text = render_markdown(verdict, max_runs=5)
    assert text.count("| failed | reason ") == 5
    assert "… and 25 more failing run(s): see report.json." in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("a|b", "a\\|b", id="pipe"),
        pytest.param("a\nb", "a ⏎ b", id="newline"),
        pytest.param("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;", id="html"),
        pytest.param("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))", id="link"),
        pytest.param(
            "*bold* _em_ ~~s~~ `code`", "\\*bold\\* \\_em\\_ \\~\\~s\\~\\~ \\`code\\`", id="emphasis"
        ),
        pytest.param("&amp;", "&amp;amp;", id="entity"),
        pytest.param("back\\slash", "back\\\\slash", id="backslash"),
        pytest.param("🎉 ok", "🎉 ok", id="emoji"),
    ],
)
def test_escape_cell(raw: str, expected: str) -> None:
    """Remote text in a cell is one inert line: no table break, no HTML, no link, no emphasis."""
    assert escape_cell(raw) == expected


def _bare_pipes(line: str) -> int:
    """Cell separators of a table row: pipes not taken by a backslash escape."""
    return sum(1 for token in re.findall(r"\\.|\|", line) if token == "|")


def test_hostile_strings_are_inert_and_emoji_survive() -> None:
    """No raw HTML or control characters, and every table row keeps its number of cells."""
    text = render_markdown(f.v_hostile())
    assert "<script>" not in text
    assert "\x1b" not in text and "\x00" not in text and "\ud800" not in text
    assert "hostile 🎉" in text
    tables = [line for line in text.splitlines() if line.startswith("| ")]
    header_cells = {"| Gate | Target": 7, "| Gate | Check": 7, "| Run | Outcome": 5}
    expected = 0
    for line in tables:
        expected = next((n for prefix, n in header_cells.items() if line.startswith(prefix)), expected)
        assert _bare_pipes(line) == expected, line


def test_only_http_links_are_made() -> None:
    """A javascript: URL from the platform is shown as text, never as a link."""
    gate = f.gate()
    snapshot = gate.execution.snapshot
    assert snapshot is not None
    execution = dataclasses.replace(
        gate.execution, snapshot=dataclasses.replace(snapshot, url="javascript:alert(1)")
    )
    text = render_markdown(f.verdict(dataclasses.replace(gate, execution=execution)))
    assert "](javascript" not in text
    assert "javascript:alert(1)" in text


def test_size_is_capped_with_a_note() -> None:
    """A huge summary is cut at a line boundary below max_bytes and says where the rest is."""
    runs = tuple(f.run(i, RunOutcome.FAILED, reasons=("x" * 290,)) for i in range(1, 3001))
    failing = f.gate("huge", GateStatus.FAILED, checks=(f.check(status=CheckStatus.FAILED),), runs=runs)
    verdict = f.verdict(failing, status=VerdictStatus.FAILED, exit_code=ExitCode.REGRESSION)
    text = render_markdown(verdict, max_runs=10_000, max_bytes=64 * 1024)
    assert len(text.encode("utf-8")) <= 64 * 1024
    assert text.endswith("_… summary truncated at 64 KiB: see report.json for the complete report._\n")
    assert text.splitlines()[0].startswith("## ❌ regate: FAILED")
    default = render_markdown(verdict, max_runs=10_000)
    assert 500 * 1024 < len(default.encode("utf-8")) <= 512 * 1024
