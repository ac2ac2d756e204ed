"""Markdown summary: ``render_markdown(verdict) -> str`` (GitHub-flavoured, for ``$GITHUB_STEP_SUMMARY``).

Order: the verdict line first (✅/❌/⚠️, status, exit code), runner errors, one table row per gate, then
"Evaluations" (Freeplay: each recorded criterion with the checks on it, observed vs required), then
"why it failed": every failed, inconclusive or errored check with observed vs required, and up to
``max_runs`` failing runs (Freeplay: test cases) per gate with their top reason.

Remote text is never trusted as Markdown: each cell is one line, bounded, with Markdown punctuation
backslash-escaped and ``<``/``>``/``&`` written as entities, so a scenario named ``<script>`` or ``[x](y)``
shows as text. Links are made only from http(s) URLs. The whole summary is capped (``max_bytes``, default
512 KiB, GitHub refuses more than 1 MiB per step) at a line boundary with a note pointing at report.json.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from runner.evaluations import criterion_of, describe_criterion
from runner.flaky import unstable_scenarios
from runner.model import CheckResult, CheckStatus, ExitCode, GateStatus, GateVerdict, RunOutcome, Verdict
from runner.reporters._format import exit_meaning, format_rate, result_url, run_counts, verdict_symbol
from runner.stats import wilson_interval
from runner.textclean import one_line

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_RUNS", "escape_cell", "headline", "render_markdown"]

DEFAULT_MAX_BYTES = 512 * 1024
DEFAULT_MAX_RUNS = 10
_CELL_LIMIT = 300
_MAX_CRITERIA = 50  # criteria listed per gate in the Evaluations table
_TRUNCATION_NOTE = "\n_… summary truncated at {kib} KiB: see report.json for the complete report._\n"

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can open emphasis,
# code, links or strikethrough inside a line, or end a table cell. "<", ">" and "&" become entities (no raw
# HTML). Block syntax ("# ", "- ") cannot start inside a table cell, and elsewhere remote text never starts
# a line (see _heading), so "#", "+", "-", "(" stay readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_GATE_SYMBOLS = {GateStatus.PASSED: "✅", GateStatus.FAILED: "❌", GateStatus.ERROR: "⚠️"}
_CHECK_SYMBOLS = {CheckStatus.FAILED: "❌", CheckStatus.INCONCLUSIVE: "⚠️", CheckStatus.ERROR: "⚠️"}


def escape_cell(text: str, limit: int = _CELL_LIMIT) -> str:
    """Remote text as one inert line of a table cell (cleaned, bounded, Markdown and HTML escaped)."""
    line = one_line(text, limit)
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line)


def _link(url: str | None, label: str) -> str:
    """A Markdown link for an http(s) URL; anything else (javascript:, relative, junk) is shown as text."""
    if not url:
        return "—"
    cleaned = one_line(url, 2000)
    try:
        scheme = urlsplit(cleaned).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https"):
        return escape_cell(cleaned, 100)
    # Percent-encode what could end the link destination or the table cell; keep URL syntax characters.
    safe_url = quote(cleaned, safe=":/?#@!$'*+;=%&,.-_~")
    return f"[{label}]({safe_url})"


def render_markdown(
    verdict: Verdict, *, max_runs: int = DEFAULT_MAX_RUNS, max_bytes: int = DEFAULT_MAX_BYTES
) -> str:
    """Render the summary; the result ends with a newline and is at most ``max_bytes`` UTF-8 bytes."""
    lines = _heading(verdict)
    lines += _gate_table(verdict)
    lines += _against_baseline(verdict)
    lines += _evaluations(verdict)
    lines += _why_it_failed(verdict, max_runs)
    return _cap("\n".join(lines).rstrip() + "\n", max_bytes)


def _heading(verdict: Verdict) -> list[str]:
    lines = [f"## {headline(verdict)}", ""]
    facts = [f"{len(verdict.gates)} gate(s)", f"{verdict.duration_s:.1f} s"]
    if verdict.interrupted_by:
        facts.append(f"interrupted by {escape_cell(verdict.interrupted_by, 50)}")
    facts.append(f"config {escape_cell(verdict.config_path, 200)}")
    facts.append(f"regate {escape_cell(verdict.version, 50)}")
    lines += [" · ".join(facts), ""]
    if verdict.runner_errors:
        lines.append("**Runner errors:**")
        lines += [f"- ⚠️ {escape_cell(error, 500)}" for error in verdict.runner_errors]
        lines.append("")
    for gate in verdict.gates:
        unstable = unstable_scenarios(gate.runs)
        if unstable:
            names = escape_cell(", ".join(unstable), 300)
            lines += [f"〰️ {escape_cell(gate.name, 100)}: unstable (both passed and failed): {names}", ""]
        flaky = sorted({run.record.scenario for run in gate.runs if run.flaky})
        if flaky:
            counted = (
                "passed" if all(r.outcome is RunOutcome.PASSED for r in gate.runs if r.flaky) else "failed"
            )
            names = escape_cell(", ".join(flaky), 300)
            lines += [
                f"⚠️ {escape_cell(gate.name, 100)}: {len(flaky)} flaky scenario(s), failed and then passed on"
                f" retry ({names}); counted as {counted}.",
                "",
            ]
    advisory = [gate.name for gate in verdict.gates if gate.advisory_failure]
    if advisory:
        names = escape_cell(", ".join(advisory), 300)
        lines += [
            f"⚠️ {len(advisory)} non-blocking gate(s) did not pass ({names}): they never fail the step.",
            "",
        ]
    if not verdict.gates:
        lines += ["No gate ran, so no verdict is possible.", ""]
    elif (
        verdict.exit_code != ExitCode.OK
        and not verdict.runner_errors
        and not verdict.interrupted_by
        and all(gate.status == GateStatus.PASSED for gate in verdict.gates)
    ):
        # Mirrors the JUnit report's synthetic runner error: a red exit code is always explained.
        code = int(verdict.exit_code)
        lines += [f"⚠️ Every gate passed, but the run did not complete normally (exit code {code}).", ""]
    return lines


def _gate_table(verdict: Verdict) -> list[str]:
    if not verdict.gates:
        return []
    lines = [
        "| Gate | Target | Status | Success rate | Runs passed | Result |",
        "|---|---|---|---|---|---|",
    ]
    for gate in verdict.gates:
        passed = run_counts(gate)[RunOutcome.PASSED]
        lines.append(
            "| "
            + " | ".join(
                [
                    escape_cell(gate.name, 100),
                    escape_cell(gate.target, 100),
                    _gate_status(gate),
                    _rate_cell(gate),
                    f"{passed}/{len(gate.runs)}" if gate.runs or not _platform_run(gate) else "n/a",
                    _link(result_url(gate), "result"),
                ]
            )
            + " |"
        )
    return [*lines, ""]


def _gate_status(gate: GateVerdict) -> str:
    if gate.advisory_failure:
        return f"⚠️ {gate.status.value} (non-blocking)"
    return f"{_GATE_SYMBOLS.get(gate.status, '⚠️')} {gate.status.value}"


def _rate_cell(gate: GateVerdict) -> str:
    """The platform's success rate, with the 95% Wilson interval of the runs we judged: ``82% [71–90]``."""
    snapshot = gate.execution.snapshot
    shown = format_rate(snapshot.success_rate if snapshot else None)
    judged = [run for run in gate.runs if run.outcome is not RunOutcome.INCOMPLETE]
    if not judged or shown == "n/a":
        return shown
    passed = sum(run.outcome is RunOutcome.PASSED for run in judged)
    low, high = _bounds(passed, len(judged))
    return f"{shown} [{low}–{high}]"


def _bounds(passed: int, total: int) -> tuple[int, int]:
    interval = wilson_interval(passed, total)
    return round(interval.low * 100), round(interval.high * 100)


CHANGE_SUFFIXES = (".drop", ".increase")  # ids of change checks (runner.threshold_change)


def _against_baseline(verdict: Verdict) -> list[str]:
    """Every change check, passed or not, with its one-sentence reason: a drop that was too small to be
    sure of is worth seeing even when it did not fail the gate."""
    rows = []
    for gate in verdict.gates:
        for check in gate.checks:
            if not check.check_id.endswith(CHANGE_SUFFIXES):
                continue
            symbol = "✅" if check.status == CheckStatus.PASSED else _CHECK_SYMBOLS.get(check.status, "⚠️")
            before, _, why = check.summary.partition(" — ")
            moved = before.removeprefix(check.check_id).strip() or "n/a"
            cells = [gate.name, check.check_id, f"{symbol} {check.status.value}", moved, why or check.summary]
            rows.append("| " + " | ".join(escape_cell(cell, 400) for cell in cells) + " |")
    if not rows:
        return []
    head = [
        "### Against the baseline",
        "",
        "| Gate | Check | Result | Baseline → current | Why |",
        "|---|---|---|---|---|",
    ]
    return [*head, *rows, ""]


def _platform_run(gate: GateVerdict) -> bool:
    """A suite run the platform executed itself: its test cases are not listed, only its verdict."""
    snapshot = gate.execution.snapshot
    return snapshot is not None and snapshot.verdict_expected and not snapshot.runs


def _evaluations(verdict: Verdict) -> list[str]:
    """Per gate, each recorded criterion with the checks on it: observed vs required, readable at a glance.

    One row per (criterion, check); a criterion no check reads gets one row with its recorded values only.
    Checks whose criterion cannot be resolved (absent, ambiguous) are in "Why it failed" instead.
    """
    rows = [row for gate in verdict.gates for row in _evaluation_rows(gate)]
    if not rows:
        return []
    head = [
        "### Evaluations",
        "",
        "| Gate | Criterion | Source | Recorded | Required | Observed |",
        "|---|---|---|---|---|---|",
    ]
    return [*head, *rows, ""]


def _evaluation_rows(gate: GateVerdict) -> list[str]:
    snapshot = gate.execution.snapshot
    if snapshot is None or not snapshot.criteria:
        return []
    name = escape_cell(gate.name, 100)
    targeted: dict[int, list[CheckResult]] = {}
    for check in gate.checks:
        found = criterion_of(check.check_id, snapshot.criteria)
        if found is not None:
            targeted.setdefault(snapshot.criteria.index(found), []).append(check)
    rows = []
    for index, criterion in enumerate(snapshot.criteria[:_MAX_CRITERIA]):
        cells = [name, escape_cell(criterion.name, 100), escape_cell(criterion.source, 20)]
        cells.append(escape_cell(describe_criterion(criterion), 150))
        if index not in targeted:
            rows.append("| " + " | ".join([*cells, "—", "—"]) + " |")
        for check in targeted.get(index, []):
            symbol = "✅" if check.status == CheckStatus.PASSED else _CHECK_SYMBOLS.get(check.status, "⚠️")
            observed = check.observed_text if check.observed is not None else check.status.value
            result = [escape_cell(check.expression, 100), f"{symbol} {escape_cell(observed, 150)}"]
            rows.append("| " + " | ".join([*cells, *result]) + " |")
    if len(snapshot.criteria) > _MAX_CRITERIA:
        more = len(snapshot.criteria) - _MAX_CRITERIA
        rows.append(f"| {name} | … and {more} more: see report.json | — | — | — | — |")
    return rows


def _why_it_failed(verdict: Verdict, max_runs: int) -> list[str]:
    rows = [row for gate in verdict.gates for row in _failure_rows(gate)]
    # Runs tolerated by a passing gate are in the JUnit and JSON reports; here they would only distract.
    run_sections = [
        line
        for gate in verdict.gates
        if gate.status != GateStatus.PASSED
        for line in _failing_runs(gate, max_runs)
    ]
    if not rows and not run_sections:
        return []
    not_passed = [gate for gate in verdict.gates if gate.status != GateStatus.PASSED]
    advisory_only = bool(not_passed) and all(not gate.blocking for gate in not_passed)
    title = "### Non-blocking gates that did not pass (warnings)" if advisory_only else "### Why it failed"
    lines = [title, ""]
    if rows:
        lines += ["| Gate | Check | Result | Observed | Required | Details |", "|---|---|---|---|---|---|"]
        lines += [*rows, ""]
    return lines + run_sections


def _failure_rows(gate: GateVerdict) -> list[str]:
    name = escape_cell(gate.name, 100) + (" (non-blocking)" if not gate.blocking else "")
    rows = []
    for check in gate.checks:
        if check.status == CheckStatus.PASSED:
            continue
        result = f"{_CHECK_SYMBOLS.get(check.status, '⚠️')} {check.status.value}"
        if check.error_type and check.status != CheckStatus.FAILED:
            result += f" ({escape_cell(check.error_type, 50)})"
        cells = [
            name,
            escape_cell(check.check_id, 100),
            result,
            escape_cell(check.observed_text or "n/a", 100),
            escape_cell(check.expression or "n/a", 100),
            escape_cell(check.summary),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    if gate.status != GateStatus.PASSED and not rows:
        # A gate that did not pass without a failing check (e.g. it timed out first): say why it failed.
        failure = gate.execution.failure
        reasons = [f"{failure.kind.value}: {failure.message}"] if failure else []
        reasons += list(gate.reasons)
        detail = "; ".join(reasons) or f"gate {gate.status.value}"
        status = f"{_GATE_SYMBOLS.get(gate.status, '⚠️')} {gate.status.value}"
        rows.append(f"| {name} | — | {status} | — | — | {escape_cell(detail)} |")
    return rows


def _failing_runs(gate: GateVerdict, max_runs: int) -> list[str]:
    failing = [run for run in gate.runs if run.outcome != RunOutcome.PASSED]
    if not failing:
        return []
    shown = failing[: max(max_runs, 0)]
    freeplay = gate.provider.strip().lower() == "freeplay"
    what = "test cases" if freeplay else "runs"
    title = f"#### Failing {what} of {escape_cell(gate.name, 100)} ({len(failing)} of {len(gate.runs)})"
    lines = [title, ""]
    if shown:
        lines += ["| Run | Outcome | Top reason | Link |", "|---|---|---|---|"]
        for run in shown:
            reason = run.record.reasons[0] if run.record.reasons else f"platform status {run.record.status}"
            cells = [
                escape_cell(run.name, 150),
                "target error"
                if freeplay and run.outcome == RunOutcome.INFRA_ERROR
                else run.outcome.value.replace("_", " "),
                escape_cell(reason),
                _link(run.record.url, "run"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if len(failing) > len(shown):
        unit = "test case(s)" if freeplay else "run(s)"
        lines += [f"… and {len(failing) - len(shown)} more failing {unit}: see report.json.", ""]
    return lines


def _cap(text: str, max_bytes: int) -> str:
    """Cut at a line boundary so that the text plus the note fits in ``max_bytes`` UTF-8 bytes."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    note = _TRUNCATION_NOTE.format(kib=max_bytes // 1024)
    budget = max_bytes - len(note.encode("utf-8"))
    if budget <= 0:
        raise ValueError(f"max_bytes={max_bytes} is too small for the truncation note")
    cut = data[:budget]
    newline = cut.rfind(b"\n")
    kept = cut[: newline + 1] if newline >= 0 else b""
    return kept.decode("utf-8") + note


def headline(verdict: Verdict) -> str:
    """The verdict line without Markdown ("❌ regate: FAILED — exit code 1 (...)"), also for the console."""
    return (
        f"{verdict_symbol(verdict)} regate: {verdict.status.value.upper()} — exit code "
        f"{int(verdict.exit_code)} ({exit_meaning(verdict.exit_code)})"
    )
