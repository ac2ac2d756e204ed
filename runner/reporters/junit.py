"""JUnit XML report: ``render_junit(verdict) -> str``.

Layout (design.md §3): one ``<testsuite>`` per gate with ``<properties>``; one gate testcase per threshold
check (``regate.gates.<gate>``) carrying ``<failure type="ThresholdBreach">`` or ``<error>``; one run testcase
per run (``regate.runs.<gate>``), a failed run being ``<skipped type="regate.run-failure">`` so it is visible
but never fails a consumer; and, for runner-level problems, one synthetic suite ``regate`` with the testcase
``regate.runner`` / ``runner`` carrying ``<error type="RunnerError">``.

Freeplay gates have the same layout: evaluation checks (``evaluation.<criterion>.<aggregate>``) and the
suite verdict (``suite.passed``) are gate testcases like any other check; a run testcase is one test case,
its body showing the target's "output (excerpt)" and, for a target error, the error and the stderr tail
(see ``_junit_runs``). Their suites also get the properties ``test_run_id``, ``test_run_status``,
``criteria`` (how many evaluation criteria were recorded) and, for a suite run, ``suite_passed``.

A non-blocking gate (``blocking: false``) that did not pass has its failure and error testcases written as
``<skipped type="regate.non-blocking">`` whose message starts with ``non-blocking (<original type>):``, and
the suite property ``blocking=false``: visible, like pytest's xfail, but not a failure for any consumer.

Invariant: the document has ``failures + errors == 0`` exactly when ``verdict.exit_code == 0``. A non-zero
exit code that no gate explains gets the synthetic runner error; a zero exit code with a failure or error
anywhere is a contradiction inside regate and raises ``JUnitInvariantError`` (an ``AssertionError``): a red
report next to a green exit code would be worse than no report, and the CLI maps it to exit code 4.

The document is built with junit-xml (a runtime dependency): each suite as the library's element tree
(``TestSuite.build_xml_doc``), then post-processed and serialised by ElementTree, because junit-xml 1.9 has
verified traps (shared/junit/README.md). How each one is handled:

- ``disabled="0"`` is invalid under the Jenkins xUnit XSD: removed from ``<testsuites>`` and ``<testsuite>``.
- a failure/error without message and output is silently dropped (the test passes): every failure, error and
  skip is given a non-empty message, and the rendered counts are checked against the plan.
- U+FFFE/U+FFFF/lone surrogates give malformed XML, other control characters are deleted silently, ANSI
  fragments like ``[31m`` are left behind: every string goes through ``runner.textclean`` *before* the
  library sees it (visible escapes instead of silent deletion); a suite still holding a character XML
  forbids is refused (``JUnitInvariantError``), never written malformed.
- prettyprint turns newlines in ``message=`` into spaces: we never use its prettyprint (``ET.indent``
  instead), and messages are one line by construction anyway.
- a zero duration drops ``time``, float sums print as ``0.30000000000000004`` or ``1e-05``: every ``time`` is
  rewritten as ``%.3f`` from our own numbers (suite time = the gate's wall time, not the sum of its runs).
- a datetime timestamp is written with a space: we pass a ``2026-11-26T10:00:00`` string ourselves.
- ``<skipped>`` always gets ``type="skipped"``: rewritten to ``regate.run-failure`` (a failed run) or
  ``regate.non-blocking`` (see below).

A consumer trap too: xunitparser keeps one property dict for the whole document and asserts that no name
repeats, so property names are prefixed with their (unique) suite name: ``checkout.success_rate``.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

from junit_xml import TestCase, TestSuite

from runner.flaky import unstable_scenarios
from runner.model import (
    CheckResult,
    CheckStatus,
    ExitCode,
    GateStatus,
    GateVerdict,
    RunOutcome,
    Verdict,
    VerdictStatus,
)
from runner.reporters._format import (
    exit_meaning,
    format_rate,
    format_seconds,
    junit_timestamp,
    result_url,
    run_counts,
)
from runner.reporters._junit_runs import (
    FREEPLAY,
    MAX_REASONS,
    MESSAGE_LIMIT,
    NAME_LIMIT,
    RUN_FAILURE_TYPE,
    VALUE_LIMIT,
    Case,
    run_case,
)
from runner.textclean import excerpt, one_line

__all__ = ["RUN_FAILURE_TYPE", "JUnitInvariantError", "iter_junit", "render_junit"]

BREACH_TYPE = "ThresholdBreach"
NON_BLOCKING_TYPE = "regate.non-blocking"
RUNNER_ERROR_TYPE = "RunnerError"


@functools.cache
def _not_xml() -> re.Pattern[str]:
    """A character no XML 1.0 document may hold, even escaped (textclean escapes these and more before).
    Compiled on first use: its table for the first plane takes 10 ms to build."""
    return re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class JUnitInvariantError(AssertionError):
    """The verdict contradicts itself (exit code 0 with a failing check, ...): a bug in regate."""


@dataclass(slots=True)
class _Suite:
    name: str
    time: float | None
    properties: dict[str, str] = field(default_factory=dict)
    cases: list[Case] = field(default_factory=list)


def render_junit(verdict: Verdict) -> str:
    """Render ``verdict`` as a JUnit XML document (UTF-8 text with an XML declaration, trailing newline)."""
    return "".join(iter_junit(verdict))


def iter_junit(verdict: Verdict) -> Iterator[str]:
    """``render_junit`` in pieces, a suite at a time: the root's counts come from a first pass that
    keeps only numbers, then each suite is planned, built, checked and written on its own, so a
    report of 100,000 runs never holds more than one gate's elements (it held all of them twice, ~200 MB).
    """
    # Gate names are made unique after cutting them to length, since they build the classnames too.
    names = _unique([one_line(gate.name, NAME_LIMIT) or "(unnamed gate)" for gate in verdict.gates])
    tallies = [_gate_tally(gate, name) for gate, name in zip(verdict.gates, names, strict=True)]
    problems = _runner_problems(verdict, tallies)
    runner = _runner_suite(verdict, problems) if problems else None
    if runner is not None:
        tallies.append(_tally(runner))
    bad = sum(t["failure"] + t["error"] for t in tallies)
    if verdict.exit_code == ExitCode.OK and bad:
        raise JUnitInvariantError(
            f"exit code 0 but the report would hold {bad} failures/errors (gate statuses: "
            + ", ".join(f"{one_line(g.name, 100)}={g.status}" for g in verdict.gates)
            + f"; runner problems: {problems})"
        )
    unique_names = _unique([*names, *([runner.name] if runner is not None else [])])
    root = ET.Element("testsuites")
    _set_ordered(
        root,
        {
            "name": "regate",
            "tests": str(sum(t["tests"] for t in tallies)),
            "failures": str(sum(t["failure"] for t in tallies)),
            "errors": str(sum(t["error"] for t in tallies)),
            "time": format_seconds(verdict.duration_s),
        },
    )
    start = ET.tostring(root, encoding="unicode").removesuffix(" />")
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n{start}>'
    timestamp = junit_timestamp(verdict.started_at)
    for index, gate in enumerate(verdict.gates):
        suite = _gate_suite(gate, names[index])  # planned now: only one suite's cases live at a time
        if _tally(suite) != tallies[index]:
            raise JUnitInvariantError(f"suite {suite.name!r} holds {_tally(suite)}, counted {tallies[index]}")
        yield "\n  " + _suite_xml(suite, unique_names[index], timestamp)
    if runner is not None:
        yield "\n  " + _suite_xml(runner, unique_names[-1], timestamp)
    yield "\n</testsuites>\n"


# --- planning: Verdict -> suites and cases (all strings cleaned here) ------------------------------------


def _gate_suite(gate: GateVerdict, gate_name: str, *, runs: bool = True) -> _Suite:
    suite = _Suite(name=gate_name, time=gate.execution.duration_s, properties=_properties(gate))
    suite.cases.extend(_check_case(gate_name, check) for check in gate.checks)
    if gate.status != GateStatus.PASSED and not any(c.kind in ("failure", "error") for c in suite.cases):
        # The gate did not pass but no check says why (e.g. it timed out before any check could be
        # evaluated): without this case the gate's failure would be invisible in the report.
        suite.cases.append(_gate_status_case(gate_name, gate))
    if not gate.blocking:
        for case in suite.cases:
            if case.kind in ("failure", "error"):
                # Like pytest's xfail: visible, but never failing a consumer that reads the report.
                case.message = one_line(f"non-blocking ({case.type}): {case.message}", MESSAGE_LIMIT)
                case.kind, case.type = "skipped", NON_BLOCKING_TYPE
    if runs:
        suite.cases.extend(run_case(gate_name, run, result_url(gate), gate.provider) for run in gate.runs)
    return suite


def _gate_tally(gate: GateVerdict, gate_name: str) -> dict[str, int]:
    """``_tally`` of the gate's suite without planning its run testcases (a run that did not pass is a
    skip, see ``run_case``): the root's counts cost no run's text. Each suite written is checked
    against it."""
    tally = _tally(_gate_suite(gate, gate_name, runs=False))
    tally["tests"] += len(gate.runs)
    tally["skipped"] += sum(1 for run in gate.runs if run.outcome is not RunOutcome.PASSED)
    return tally


def _properties(gate: GateVerdict) -> dict[str, str]:
    snapshot = gate.execution.snapshot
    counts = run_counts(gate)
    values: dict[str, str | None] = {
        "provider": gate.provider,
        "target": gate.target,
        "result_id": snapshot.result_id if snapshot else None,
        "result_url": result_url(gate),
        "result_status": snapshot.status if snapshot else None,
        "success_rate": format_rate(snapshot.success_rate) if snapshot else None,
        "runs_total": _count_text(snapshot.total_runs if snapshot else None, len(gate.runs)),
        "runs_success": _count_text(snapshot.success_runs if snapshot else None, counts[RunOutcome.PASSED]),
        "runs_failed": _count_text(snapshot.failed_runs if snapshot else None, counts[RunOutcome.FAILED]),
        "gate_status": gate.status.value,
        "blocking": None if gate.blocking else "false",
        "flaky_scenarios": ", ".join(sorted({r.record.scenario for r in gate.runs if r.flaky})) or None,
        "retry_results": ", ".join(r.result_id for r in gate.execution.retries) or None,
        "unstable_scenarios": ", ".join(unstable_scenarios(gate.runs)) or None,
    }
    if snapshot is not None and snapshot.verdict_expected and not gate.runs:
        # A suite run the platform executed itself lists no test cases: no counts of ours to show.
        del values["runs_success"], values["runs_failed"]
    if snapshot is not None and gate.provider.strip().lower() == FREEPLAY:
        values["test_run_id"] = snapshot.result_id
        values["test_run_status"] = snapshot.status
        values["criteria"] = str(len(snapshot.criteria))
        if snapshot.verdict_expected:
            passed = snapshot.verdict_passed
            values["suite_passed"] = "unknown" if passed is None else str(passed).lower()
    failure = gate.execution.failure
    if failure is not None:
        values["gate_failure"] = f"{failure.kind.value}: {failure.message}"
    # Absent data is left out rather than written as a fake value; the XSD requires a value per property.
    return {name: one_line(value, VALUE_LIMIT) for name, value in values.items() if value is not None}


def _count_text(reported: int | None, derived: int) -> str:
    """The platform's count when it gave one, else the count of the runs we saw."""
    return str(reported if reported is not None else derived)


def _check_case(gate_name: str, check: CheckResult) -> Case:
    case = Case(classname=f"regate.gates.{gate_name}", name=one_line(check.check_id, NAME_LIMIT) or "check")
    if check.status == CheckStatus.PASSED:
        return case
    case.message = _check_message(check)
    case.body = _check_body(check)
    match check.status:
        case CheckStatus.FAILED:
            case.kind, case.type = "failure", BREACH_TYPE
        case CheckStatus.INCONCLUSIVE:
            case.kind, case.type = "error", _type(check.error_type, "GateInconclusive")
        case _:  # ERROR, and any status added later: fail closed
            case.kind, case.type = "error", _type(check.error_type, "InfraError")
    return case


def _type(value: str | None, default: str) -> str:
    return one_line(value or "", 100) or default


def _check_message(check: CheckResult) -> str:
    """One line with observed vs required; the expression is always in it, even when the summary is cut."""
    expression = one_line(check.expression, 200)
    summary = one_line(check.summary, MESSAGE_LIMIT)
    if not summary:
        observed = one_line(check.observed_text, 200) or "n/a"
        return one_line(
            f"{check.status.value}: observed {observed}, required {expression or 'n/a'}", MESSAGE_LIMIT
        )
    if not expression or expression in summary:
        return summary
    suffix = f" [required {expression}]"
    return one_line(summary, max(MESSAGE_LIMIT - len(suffix), 1)) + suffix


def _check_body(check: CheckResult) -> str:
    lines = [
        f"check: {one_line(check.check_id)}",
        f"status: {check.status.value}",
        f"required: {one_line(check.expression) or 'n/a'}",
        f"observed: {one_line(check.observed_text) or 'n/a'}",
    ]
    if check.summary:
        lines.append(f"summary: {one_line(check.summary, 2000)}")
    if check.details:
        lines += ["", excerpt(check.details, 4000, 4000)]
    return "\n".join(lines)


def _gate_status_case(gate_name: str, gate: GateVerdict) -> Case:
    failure = gate.execution.failure
    reasons = [one_line(r) for r in gate.reasons[:MAX_REASONS] if one_line(r)]
    if failure is not None:
        reasons.insert(0, one_line(f"{failure.kind.value}: {failure.message}"))
    message = one_line("; ".join(reasons), MESSAGE_LIMIT) or f"gate {gate.status.value} without a reason"
    case = Case(classname=f"regate.gates.{gate_name}", name="gate", time=gate.execution.duration_s)
    case.message, case.body = message, "\n".join(reasons) or message
    if gate.status == GateStatus.FAILED:
        case.kind, case.type = "failure", BREACH_TYPE
    else:
        case.kind, case.type = "error", failure.kind.value if failure else "InfraError"
    return case


def _runner_problems(verdict: Verdict, gate_tallies: list[dict[str, int]]) -> list[str]:
    problems = [p for p in (one_line(e) for e in verdict.runner_errors) if p]
    errors = sum(t["error"] for t in gate_tallies)
    failures = sum(t["failure"] for t in gate_tallies)
    if not verdict.gates:
        problems.append("no gates ran")
    if verdict.status == VerdictStatus.INTERRUPTED and errors == 0:
        problems.append(f"interrupted by {one_line(verdict.interrupted_by or '') or 'a signal'}")
    if verdict.exit_code != ExitCode.OK and not problems and failures + errors == 0:
        code = int(verdict.exit_code)
        problems.append(f"exit code {code} ({exit_meaning(verdict.exit_code)}) but no gate failed or errored")
    return problems


def _runner_suite(verdict: Verdict, problems: list[str]) -> _Suite:
    message = one_line("; ".join(problems), MESSAGE_LIMIT)
    body = "\n".join([*problems, f"exit code: {int(verdict.exit_code)} ({exit_meaning(verdict.exit_code)})"])
    case = Case("regate.runner", "runner", None, "error", RUNNER_ERROR_TYPE, message, body)
    return _Suite(
        name="regate", time=None, properties={"exit_code": str(int(verdict.exit_code))}, cases=[case]
    )


def _tally(suite: _Suite) -> dict[str, int]:
    """How many testcases, and of each kind, a planned suite holds."""
    kinds = [case.kind for case in suite.cases]
    return {"tests": len(kinds), **{kind: kinds.count(kind) for kind in ("failure", "error", "skipped")}}


def _unique(names: list[str]) -> list[str]:
    """Make names unique in order: the second "x" becomes "x (2)", deterministically, never colliding."""
    seen: set[str] = set()
    result = []
    for name in names:
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name} ({n})"
        seen.add(unique)
        result.append(unique)
    return result


# --- rendering: junit-xml builds, ElementTree repairs ------------------------------------------------------


def _library_case(case: Case) -> TestCase:
    tc = TestCase(name=case.name, classname=case.classname, elapsed_sec=case.time, stdout=case.stdout or None)
    # Never an empty message: junit-xml drops a failure with neither message nor output (trap 2).
    message = case.message or f"{case.kind} without message"
    if case.kind == "failure":
        tc.add_failure_info(message=message, output=case.body or None, failure_type=case.type)
    elif case.kind == "error":
        tc.add_error_info(message=message, output=case.body or None, error_type=case.type)
    elif case.kind == "skipped":
        tc.add_skipped_info(message=message, output=case.body or None)
    return tc


def _suite_xml(suite: _Suite, name: str, timestamp: str | None) -> str:
    """One suite, built by junit-xml, repaired and checked, indented as the second level of the document."""
    suite.name = name
    for case, unique_case in zip(suite.cases, _unique([c.name for c in suite.cases]), strict=True):
        case.name = unique_case
    library_suite = TestSuite(
        suite.name,
        [_library_case(case) for case in suite.cases],
        timestamp=timestamp,
        properties={f"{suite.name}.{key}": value for key, value in suite.properties.items()} or None,
    )
    # The library's element tree, not its string: ``to_xml_report_string`` serialises it, deletes
    # characters XML forbids, and we parsed that back to repair it. With every string cleaned beforehand
    # that round trip changed nothing and cost most of the JUnit's 6 s at 100,000 runs; the check below
    # keeps its guarantee (a well-formed document, or an error).
    element = library_suite.build_xml_doc()
    _repair(element, suite)
    ET.indent(element, space="  ", level=1)
    text = ET.tostring(element, encoding="unicode")
    bad = _not_xml().search(text)
    if bad is not None:
        raise JUnitInvariantError(f"suite {suite.name!r} holds U+{ord(bad.group()):04X}, which XML forbids")
    return text


def _set_ordered(element: ET.Element, values: dict[str, str | None]) -> None:
    """Replace all attributes by ``values`` (None = absent), in a fixed order for stable diffs."""
    element.attrib.clear()
    for key, value in values.items():
        if value is not None:
            element.set(key, value)


def _repair(element: ET.Element, suite: _Suite) -> None:
    case_elements = element.findall("testcase")
    counts = {kind: len(element.findall(f"testcase/{kind}")) for kind in ("failure", "error", "skipped")}
    expected = _tally(suite)
    if len(case_elements) != expected["tests"] or any(counts[k] != expected[k] for k in counts):
        raise JUnitInvariantError(f"junit-xml lost results in suite {suite.name!r}: {counts} != {expected}")
    _set_ordered(
        element,
        {
            "name": suite.name,
            "tests": str(len(suite.cases)),
            "failures": str(counts["failure"]),
            "errors": str(counts["error"]),
            "skipped": str(counts["skipped"]),
            "time": format_seconds(suite.time),
            "timestamp": element.get("timestamp"),
        },
    )
    for case, case_element in zip(suite.cases, case_elements, strict=True):
        _set_ordered(
            case_element,
            {"classname": case.classname, "name": case.name, "time": format_seconds(case.time)},
        )
        for skipped in case_element.findall("skipped"):
            skipped.set("type", case.type or RUN_FAILURE_TYPE)
