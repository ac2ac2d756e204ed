"""Hostile remote text through the real gate into every report: valid, consistent and bounded output.

Verdicts here are not hand-built: executions whose runs, metrics, criteria and failures carry hostile text
(megabytes of transcript, XML-illegal characters, lone surrogates, NUL, ESC sequences, bidirectional marks,
Arabic and Hebrew, emoji and ZWJ sequences, ``]]>``, ``<script>``, ``::set-output``, ``%0A``, JSON nested
in explanations, NaN and infinities) go through ``runner.gate.evaluate``, as in a real run, and the reports
are rendered from the resulting ``Verdict``. Whatever the text:

- JUnit is well-formed XML that junitparser and xunitparser count exactly as its elements say, valid
  against the Jenkins xUnit XSD, with ``failures + errors == 0`` exactly when the exit code is 0, and
  every field within its documented bound (names 300 characters, messages one line of 500, property
  values 1000, bodies excerpted);
- the JSON report is UTF-8 text that ``json.loads`` turns back into exactly ``verdict_to_dict``;
- the Markdown summary stays under its cap, and remote text can neither add table columns nor raw HTML;
- a GitHub annotation is one line, and escaped remote text never starts a workflow command.

Bounds on size: a run's JUnit testcase depends only on the head and tail of its transcript, so a 5 MB
transcript costs what a 20 KB one does (``test_junit_size_does_not_grow_with_transcripts``), and 50 failed
runs with huge hostile transcripts stay under 2 MiB. Why 2 MiB: a failed run's testcase holds at most a
3000-character transcript excerpt, a 500-character message and its reasons (here two, each at most 4000
characters), i.e. about 8 KB, 16 KB if every character were a multi-byte or escaped one -- 50 runs are
0.4-0.8 MB (measured: about 0.4 MB). 2 MiB leaves room for format changes and still fails on any unbounded
copy, since a single untruncated 5 MB transcript exceeds it. (A full 50 x 5 MB render is not run: the
reporters clean each text whole before cutting it, about 0.35 s per 5 MB, so it would take ~20 s.)
"""

from __future__ import annotations

import io
import json
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import ThresholdSyntaxError
from runner.gate import evaluate
from runner.model import (
    CriterionSummary,
    ExitCode,
    FailureKind,
    GateExecution,
    GateFailure,
    MetricKind,
    MetricValue,
    ResultSnapshot,
    RunRecord,
    Verdict,
)
from runner.providers.cekura_map import map_result
from runner.providers.freeplay_map import map_criteria
from runner.reporters import render_json, render_junit, render_markdown
from runner.reporters._junit_runs import MESSAGE_LIMIT, NAME_LIMIT, VALUE_LIMIT
from runner.reporters.github import annotation
from runner.reporters.json_report import verdict_to_dict
from runner.reporters.markdown import DEFAULT_MAX_BYTES
from runner.textclean import clean_text, escape_workflow_command, one_line
from runner.thresholds import Thresholds, compile_thresholds
from tests.property.strategies import (
    FRAGMENTS,
    NO_SHRINK,
    PROFILE,
    STATUSES,
    as_received,
    big_text,
    hostile_text,
    result_json,
)
from tests.reporters.xml_support import (
    counts_by_elements,
    counts_by_junitparser,
    counts_by_xunitparser,
    jenkins_schema,
)

STARTED_AT = "2026-11-26T10:00:00Z"
# A run testcase's body: the headline lines, up to 20 reasons of at most 4000 characters each (head and
# tail excerpts), up to 20 metric lines, a URL of 1000 and the transcript excerpt of 3000 characters.
BODY_LIMIT = 20 * (4000 + 100) + 20 * 600 + 1000 + 3000 + 2000
JUNIT_BOUND_50_RUNS = 2 * 1024 * 1024

# --- strategies: executions with hostile text -----------------------------------------------------------

floats_any = st.floats(allow_nan=True, allow_infinity=True)
# Durations as a clock can produce them, plus the non-finite values a bug could: not 10^13 seconds, whose
# "time" attribute overflows xunitparser's timedelta (a reader's limit, not a report's fault).
durations = st.one_of(st.floats(-1e3, 1e7), st.sampled_from((math.nan, math.inf, -math.inf)))
# Up to ~6000 characters: beyond every one-line bound (500) and reason excerpt (2000 + 2000). Megabytes are
# exercised by the size tests below, not drawn here (they would only make the properties slow).
texts = st.one_of(hostile_text(), big_text(300))
urls = st.one_of(
    st.none(),
    st.sampled_from(("https://app.example.test/runs/1", "javascript:alert(1)", "https://x.test/a b)|[c]")),
    hostile_text(),
)


def metrics(healthy: bool) -> st.SearchStrategy[MetricValue]:
    return st.builds(
        MetricValue,
        metric_id=st.one_of(st.none(), st.integers(1, 99).map(str), hostile_text(8)),
        name=st.one_of(st.sampled_from(("Latency", "Tone")), hostile_text(20)),
        kind=st.sampled_from(list(MetricKind)),
        score=st.one_of(st.none(), st.floats(0, 5)) if healthy else st.one_of(st.none(), floats_any),
        passed=st.one_of(st.none(), st.booleans()),
        label=st.one_of(st.none(), hostile_text(10)),
        explanation=texts,
    )


# How a gate's data looks: every run succeeded (exit 0 reachable), every run finished with a verdict
# (exit 1 reachable), or anything at all (errors, contradictions, runs without a verdict: exit 3).
PASSING, FINISHED, ANYTHING = "passing", "finished", "anything"


@st.composite
def records(draw: st.DrawFn, index: int, health: str) -> RunRecord:
    """A run with hostile text in every text field; its status and verdict as ``health`` allows."""
    finished = health != ANYTHING or draw(st.booleans())
    if health == PASSING:
        success: bool | None = True
    else:
        success = draw(st.booleans()) if finished else draw(st.none() | st.booleans())
    some_status = st.one_of(st.sampled_from(("failed", "running")), hostile_text(10))
    return RunRecord(
        run_id=f"run-{index}" if health != ANYTHING else draw(st.just(f"run-{index}") | hostile_text(12)),
        scenario=draw(texts),
        scenario_id=draw(st.one_of(st.none(), st.just(str(index)), hostile_text(8))),
        personality=draw(st.one_of(st.none(), hostile_text())),
        status="completed" if finished else draw(some_status),
        terminal=finished or draw(st.booleans()),
        success=success,
        infra_error=not finished and draw(st.booleans()),
        reasons=tuple(draw(st.lists(texts, max_size=3))),
        metrics=tuple(draw(st.lists(metrics(health != ANYTHING), max_size=3))),
        expected_outcome_score=draw(st.one_of(st.none(), floats_any)),
        duration_s=draw(st.one_of(st.none(), durations)),
        transcript=draw(st.one_of(st.none(), texts, big_text(1_000))),
        url=draw(urls),
    )


criteria = st.builds(
    CriterionSummary,
    source=st.sampled_from(("auto", "human", "client")),
    name=hostile_text(15),
    passed=st.one_of(st.none(), st.integers(0, 20)),
    failed=st.one_of(st.none(), st.integers(0, 20)),
    average=st.one_of(st.none(), floats_any),
    histogram=st.lists(st.tuples(hostile_text(8), st.integers(0, 9)), max_size=3).map(tuple),
    scalar=st.one_of(st.none(), floats_any),
)


@st.composite
def executions(draw: st.DrawFn, *, healthy_only: bool = False) -> tuple[GateExecution, Thresholds]:
    """One gate: a snapshot (consistent and terminal unless ANYTHING goes), maybe a failure, and
    thresholds that name the runs' own (hostile) metric and criterion names."""
    health = draw(st.sampled_from((PASSING, FINISHED) if healthy_only else (PASSING, FINISHED, ANYTHING)))
    healthy = health != ANYTHING
    runs = tuple(draw(records(i, health)) for i in range(draw(st.integers(1 if healthy else 0, 5))))
    success = sum(1 for run in runs if run.success is True)
    if healthy or draw(st.booleans()):
        counters: dict[str, Any] = {
            "total_runs": len(runs),
            "completed_runs": len(runs),
            "success_runs": success,
            "failed_runs": len(runs) - success,
            "success_rate": success / len(runs) if runs else None,
        }
    else:
        counters = {
            key: draw(st.one_of(st.none(), st.integers(-5, 50)))
            for key in ("total_runs", "completed_runs", "success_runs", "failed_runs")
        } | {"success_rate": draw(st.one_of(st.none(), floats_any))}
    suite = not healthy and draw(st.booleans())
    snapshot = ResultSnapshot(
        result_id=draw(st.one_of(st.just("42"), hostile_text(10))),
        status="completed" if healthy else draw(st.sampled_from(("completed", "failed")) | hostile_text(8)),
        terminal=healthy or draw(st.booleans()),
        succeeded=healthy or draw(st.booleans()),
        name=draw(st.one_of(st.none(), hostile_text())),
        url=draw(urls),
        runs=runs,
        anomalies=() if healthy else tuple(draw(st.lists(hostile_text(), max_size=2))),
        criteria=tuple(draw(st.lists(criteria, max_size=3))),
        verdict_expected=suite,
        verdict_passed=draw(st.one_of(st.none(), st.booleans())) if suite else None,
        **counters,
    )
    failure = None
    if not healthy and draw(st.booleans()):
        failure = GateFailure(draw(st.sampled_from(list(FailureKind))), draw(texts))
    execution = GateExecution(
        gate=draw(st.one_of(st.sampled_from(("smoke", "checkout.v2")), hostile_text(20))),
        provider=draw(st.sampled_from(("cekura", "freeplay", " FreePlay ", "other"))),
        target=draw(hostile_text()),
        snapshot=snapshot if healthy else draw(st.one_of(st.none(), st.just(snapshot))),
        failure=failure,
        duration_s=draw(durations),
        share_url=draw(urls),
    )
    return execution, draw(thresholds_for(snapshot, healthy))


@st.composite
def thresholds_for(draw: st.DrawFn, snapshot: ResultSnapshot, healthy: bool) -> Thresholds:
    """Thresholds over the snapshot's own names; a healthy gate always has a success_rate check, and
    often nothing that could be inconclusive, so that it can pass (or fail) cleanly."""
    raw: dict[str, Any] = {}
    if healthy or draw(st.booleans()):
        raw["success_rate"] = draw(st.sampled_from((">= 50%", "> 0.99", ">= 100%", "== 0%")))
    if draw(st.booleans()):
        raw["max_failed_runs"] = draw(st.integers(0, 3))
    names = sorted({m.name for run in snapshot.runs for m in run.metrics if m.name.strip()})
    with_metrics: bool = draw(st.booleans()) and not (healthy and draw(st.booleans()))
    if names and with_metrics:
        checks = st.sampled_from(("mean >= 1", "p95 <= 4", "pass_rate >= 50%", "rate(positive, 'a b') > 10%"))
        raw["metrics"] = {name: draw(checks) for name in draw(st.lists(st.sampled_from(names), max_size=2))}
    if snapshot.criteria and not healthy and draw(st.booleans()):
        raw["evaluations"] = {
            f"{c.source}:{c.name}": draw(st.sampled_from(("pass_rate >= 50%", "mean >= 0.5", "count >= 1")))
            for c in snapshot.criteria
        }
    try:
        return compile_thresholds(raw)
    except ThresholdSyntaxError:  # a hostile name the language rejects: keep the other checks
        raw.pop("evaluations", None)
        raw.pop("metrics", None)
        return compile_thresholds(raw)


@st.composite
def verdicts(draw: st.DrawFn) -> Verdict:
    """A verdict from the real ``evaluate``, over zero to three hostile gates. Gate names are unique after
    cleaning and cutting, as the config guarantees for the names it accepts (but see
    test_long_gate_names_sharing_a_prefix_give_unique_testcases)."""
    clean = draw(st.booleans())  # a run that ended normally (no signal, no runner error), healthy gates only
    gates = draw(
        st.lists(
            executions(healthy_only=clean),
            min_size=1 if clean else 0,
            max_size=3,
            unique_by=lambda e: one_line(e[0].gate, NAME_LIMIT),
        )
    )
    signals = st.none() | st.sampled_from(("SIGINT", "SIGTERM")) | hostile_text(6)
    return evaluate(
        gates,
        started_at=draw(st.one_of(st.just(STARTED_AT), hostile_text(10))),
        duration_s=draw(durations),
        config_path=draw(st.one_of(st.just("configs/ci.yaml"), hostile_text())),
        version=draw(st.one_of(st.just("0.1.0"), hostile_text(8))),
        interrupted_by=None if clean else draw(signals),
        runner_errors=() if clean else tuple(draw(st.lists(texts, max_size=2))),
        internal_error=not clean and draw(st.booleans()),
    )


MOSTLY_COMPLETED = st.sampled_from(("completed",) * 24 + STATUSES)


@st.composite
def mapped_verdicts(draw: st.DrawFn) -> Verdict:
    """A verdict over Cekura results as a hostile platform sends them, through the real mapping."""
    executions = []
    for index in range(draw(st.integers(1, 2))):
        snapshot = map_result(as_received(draw(result_json(MOSTLY_COMPLETED))), url=draw(urls))
        execution = GateExecution(f"gate-{index}", "cekura", "agent 1", snapshot, None, 1.5)
        executions.append((execution, compile_thresholds({"success_rate": ">= 50%", "max_failed_runs": 2})))
    return evaluate(executions, started_at=STARTED_AT, duration_s=3.0, config_path="ci.yaml", version="0.1.0")


# --- what every report must satisfy ---------------------------------------------------------------------


def assert_junit(verdict: Verdict, xml: str) -> None:
    """Well-formed, counted alike by every reader, consistent with the exit code, every field bounded."""
    root = ET.fromstring(xml.encode("utf-8"))  # noqa: S314 - our own output
    elements = counts_by_elements(xml)
    assert counts_by_junitparser(xml) == elements
    assert counts_by_xunitparser(xml) == elements
    assert (elements.failures + elements.errors == 0) == (verdict.exit_code == ExitCode.OK)
    assert root.get("failures") == str(elements.failures) and root.get("errors") == str(elements.errors)
    assert "<script" not in xml and "\x1b" not in xml
    names: set[tuple[str, str]] = set()
    for suite in root.iter("testsuite"):
        assert len(suite.get("name", "")) <= NAME_LIMIT + 10
        for prop in suite.iter("property"):
            assert len(prop.get("value", "")) <= VALUE_LIMIT
        for case in suite.iter("testcase"):
            key = (case.get("classname", ""), case.get("name", ""))
            assert key not in names, f"duplicate testcase {key}"
            names.add(key)
            assert len(key[1]) <= NAME_LIMIT + 10 and len(key[0]) <= NAME_LIMIT + 30
            for result in case:
                if result.tag in ("failure", "error", "skipped"):
                    message = result.get("message", "")
                    assert message and len(message) <= MESSAGE_LIMIT and "\n" not in message
                    assert len(result.text or "") <= BODY_LIMIT
                elif result.tag == "system-out":
                    assert len(result.text or "") <= 1100


def assert_json(verdict: Verdict, text: str) -> None:
    """UTF-8 JSON that reads back as exactly the report's dict (no NaN, no lone surrogate, no ANSI), each
    run's line byte for byte as ``json.dumps`` writes that run's dict (runs are spliced from pieces, and
    ``==`` alone would take ``1`` for ``true``)."""
    text.encode("utf-8")
    document = json.loads(text)
    expected = verdict_to_dict(verdict)
    assert document == expected
    # split at "\n" only: splitlines() also splits at the U+2028 and U+2029 JSON text may hold raw
    lines = [
        line.strip().removesuffix(",") for line in text.split("\n") if line.lstrip().startswith('{"name": ')
    ]
    runs = [run for gate in expected["gates"] for run in gate["runs"]]
    assert lines == [json.dumps(run, ensure_ascii=False, separators=(", ", ": ")) for run in runs]
    assert document["exit_code"] == int(verdict.exit_code)
    assert "\x1b" not in text


_UNESCAPED_PIPE = re.compile(r"(?<!\\)(?:\\\\)*\|")


def assert_markdown(text: str) -> None:
    """Under the cap, no raw HTML from remote text, and every table row has its header's column count."""
    assert len(text.encode("utf-8")) <= DEFAULT_MAX_BYTES
    assert text.startswith("## ")
    assert "<script" not in text and "<img" not in text and "\x1b" not in text
    columns = None
    lines = text.split("\n")
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        if not line.startswith("|"):
            columns = None
        elif columns is None and following.startswith("|---"):
            columns = len(_UNESCAPED_PIPE.findall(line))
        elif columns is not None:
            assert len(_UNESCAPED_PIPE.findall(line)) == columns, line[:300]


# The verdict generators are large: shrinking a counterexample takes minutes, so the raw one is reported.
@settings(PROFILE, max_examples=35, phases=NO_SHRINK)
@given(verdict=verdicts())
def test_hostile_verdicts_render_valid_consistent_reports(verdict: Verdict) -> None:
    """Every report renders from any verdict over hostile text, and each is valid and consistent with the
    exit code (see the module docstring for what each report promises)."""
    assert_junit(verdict, render_junit(verdict))
    assert_json(verdict, render_json(verdict))
    assert_markdown(render_markdown(verdict))


@settings(PROFILE, max_examples=25, phases=NO_SHRINK)
@given(verdict=st.one_of(verdicts(), mapped_verdicts()))
def test_hostile_junit_validates_against_the_jenkins_xsd(verdict: Verdict) -> None:
    """The default JUnit output validates against the unmodified Jenkins xUnit XSD, whatever the text."""
    schema = jenkins_schema()  # skips when ../shared/junit is not checked out
    schema.validate(io.BytesIO(render_junit(verdict).encode("utf-8")))


@settings(PROFILE, max_examples=25, phases=NO_SHRINK)
@given(verdict=mapped_verdicts())
def test_platform_payloads_render_valid_consistent_reports(verdict: Verdict) -> None:
    """Cekura results as a hostile platform sends them, through the real mapping and gate: same report
    properties as above (the mapping bounds transcripts; the reporters bound everything else)."""
    assert_junit(verdict, render_junit(verdict))
    assert_json(verdict, render_json(verdict))
    assert_markdown(render_markdown(verdict))


# --- size ------------------------------------------------------------------------------------------------

FIVE_MB = 5 * 1024 * 1024
HOSTILE_LINE = "".join(FRAGMENTS) + "\n"  # every fragment, nested JSON included: ~1.6 KB a line


def transcript(size: int) -> str:
    """About ``size`` characters of whole hostile lines: transcripts of any size share head and tail."""
    return HOSTILE_LINE * max(size // len(HOSTILE_LINE), 1)


def failing_runs_verdict(count: int, text: str) -> Verdict:
    """``count`` failed runs, each with ``text`` as transcript and a hostile reason, in one failing gate."""
    runs = tuple(
        RunRecord(
            run_id=f"run-{i}",
            scenario=f"scenario {i} \u202eשלום🎉",
            scenario_id=str(i),
            personality="Angry caller",
            status="completed",
            terminal=True,
            success=False,
            infra_error=False,
            reasons=("::set-output name=x::y %0A <script>", HOSTILE_LINE * 3),
            transcript=text,
        )
        for i in range(count)
    )
    snapshot = ResultSnapshot(
        "42", "completed", True, True, total_runs=count, completed_runs=count, success_runs=0,
        failed_runs=count, success_rate=0.0, runs=runs,
    )  # fmt: skip
    execution = GateExecution("smoke", "cekura", "agent 1", snapshot, None, 60.0)
    thresholds = compile_thresholds({"success_rate": ">= 90%"})
    return evaluate(
        [(execution, thresholds)], started_at=STARTED_AT, duration_s=60.0, config_path="c", version="0"
    )


def test_junit_size_does_not_grow_with_transcripts() -> None:
    """A run's testcase holds only the head and tail of its transcript: two runs with 5 MB transcripts
    give the same document as with 20 KB ones, up to the digits of the "N characters omitted" counts."""
    small = render_junit(failing_runs_verdict(2, transcript(20_000)))
    huge = render_junit(failing_runs_verdict(2, transcript(FIVE_MB)))
    assert abs(len(huge.encode("utf-8")) - len(small.encode("utf-8"))) <= 2 * 8
    assert len(huge.encode("utf-8")) < 64 * 1024


def test_fifty_runs_with_huge_transcripts_give_a_junit_file_of_bounded_size() -> None:
    """50 failed runs, each with a hostile transcript far beyond its excerpt: the JUnit file is under
    2 MiB (with the test above: also for 5 MB transcripts, whose testcases are the same size), valid, and
    each run is one skipped testcase."""
    verdict = failing_runs_verdict(50, transcript(100_000))
    xml = render_junit(verdict)
    assert len(xml.encode("utf-8")) < JUNIT_BOUND_50_RUNS
    assert_junit(verdict, xml)
    assert counts_by_elements(xml).skipped == 50
    assert len(render_markdown(verdict).encode("utf-8")) <= DEFAULT_MAX_BYTES


def test_text_survives_where_it_is_legal() -> None:
    """Emoji (ZWJ sequences too), right-to-left text and markup characters are kept, not deleted: only
    what XML cannot hold is replaced, visibly."""
    name = "👩\u200d💻 \u202eשלום مرحبا ]]> & <b>"
    runs = (
        RunRecord("r1", name, "1", None, "completed", True, False, False, reasons=("bad\x00\ufffe\ud800",)),
    )
    snapshot = ResultSnapshot(
        "1", "completed", True, True, total_runs=1, success_runs=0, success_rate=0.0, runs=runs
    )
    verdict = evaluate(
        [(GateExecution("g", "cekura", "t", snapshot, None, 1.0), compile_thresholds({"success_rate": 1}))],
        started_at=STARTED_AT,
        duration_s=1.0,
        config_path="c",
        version="0",
    )
    xml = render_junit(verdict)
    parsed = ET.fromstring(xml.encode("utf-8"))  # noqa: S314 - our own output
    assert any(case.get("name", "").startswith(name) for case in parsed.iter("testcase"))
    assert "\\x00" in xml and "\\uFFFE" in xml and "\\uD800" in xml
    assert name in json.loads(render_json(verdict))["gates"][0]["runs"][0]["scenario"]


def test_a_huge_transcript_gives_a_json_report_of_bounded_size() -> None:
    """The JSON report bounds what it copies: one run with a 5 MB transcript gives a report under 1 MiB."""
    text = render_json(failing_runs_verdict(1, transcript(FIVE_MB)))
    assert len(text.encode("utf-8")) < 1024 * 1024


def test_a_platform_with_huge_names_gives_a_json_report_of_bounded_size() -> None:
    """6 runs whose names are 150 KB each, as a platform sends them: the JSON report stays under 1 MiB
    (as JUnit and Markdown do)."""
    huge = "N" * 150_000
    runs = [
        {"id": i, "scenario_name": huge, "personality_name": huge, "status": "completed", "success": False,
         "evaluation": {"metrics": [{"id": 1, "name": huge, "type": "binary", "passed": False}]}}
        for i in range(6)
    ]  # fmt: skip
    snapshot = map_result({"id": 1, "status": "completed", "runs": runs, "total_runs_count": huge})
    execution = GateExecution("smoke", "cekura", "agent 1", snapshot, None, 1.0)
    verdict = evaluate(
        [(execution, compile_thresholds({"success_rate": ">= 90%"}))],
        started_at=STARTED_AT,
        duration_s=1.0,
        config_path="c",
        version="0",
    )
    assert len(render_junit(verdict).encode("utf-8")) < 1024 * 1024
    assert len(render_markdown(verdict).encode("utf-8")) <= DEFAULT_MAX_BYTES
    assert len(render_json(verdict).encode("utf-8")) < 1024 * 1024


def test_a_long_numeric_run_id_is_judged_not_a_crash() -> None:
    """A run id of 5000 digits (a JSON string from the platform) is just a run id."""
    snapshot = map_result(
        {"id": 1, "status": "completed", "total_runs_count": 1, "success_runs_count": 1,
         "runs": [{"id": "9" * 5000, "status": "completed", "success": True}]}
    )  # fmt: skip
    execution = GateExecution("g", "cekura", "agent 1", snapshot, None, 1.0)
    verdict = evaluate(
        [(execution, compile_thresholds({"success_rate": ">= 90%"}))],
        started_at=STARTED_AT,
        duration_s=1.0,
        config_path="c",
        version="0",
    )
    assert verdict.exit_code == ExitCode.OK


def test_long_gate_names_sharing_a_prefix_give_unique_testcases() -> None:
    """Two gates named ``a…a1`` and ``a…a2`` (301 characters, valid config names) stay distinct testcases."""
    executions = []
    for suffix in "12":
        snapshot = ResultSnapshot("1", "completed", True, True, total_runs=0, runs=())
        execution = GateExecution("a" * 300 + suffix, "cekura", "agent 1", snapshot, None, 1.0)
        executions.append((execution, compile_thresholds({"success_rate": ">= 90%"})))
    verdict = evaluate(executions, started_at=STARTED_AT, duration_s=1.0, config_path="c", version="0")
    root = ET.fromstring(render_junit(verdict).encode("utf-8"))  # noqa: S314 - our own output
    pairs = [(case.get("classname"), case.get("name")) for case in root.iter("testcase")]
    assert len(pairs) == len(set(pairs)), pairs


def test_a_histogram_label_with_a_lone_surrogate_gives_a_writable_json_report() -> None:
    """A Freeplay label histogram whose label is a lone surrogate (a '\\ud800' JSON escape from the
    platform) still gives a JSON report that can be written as UTF-8."""
    criteria, _ = map_criteria({"human_evaluation": {"Tone": {"\ud800": 3}}})
    snapshot = ResultSnapshot("run-1", "complete", True, True, criteria=criteria)
    execution = GateExecution("g", "freeplay", "dataset d", snapshot, None, 1.0)
    verdict = evaluate(
        [(execution, Thresholds())], started_at=STARTED_AT, duration_s=1.0, config_path="c", version="0"
    )
    render_json(verdict).encode("utf-8")


# --- CI logs ---------------------------------------------------------------------------------------------

_COMMAND_START = re.compile(r"^[^\S\r\n]*[\u180e\u200b\ufeff]*[^\S\r\n]*(::|##\[)", re.MULTILINE)


@settings(PROFILE, max_examples=100)
@given(level=st.sampled_from(("error", "warning", "notice")), message=texts, title=st.none() | hostile_text())
def test_an_annotation_is_one_workflow_command(level: Any, message: str, title: str | None) -> None:
    """A GitHub annotation built from remote text is exactly one log line starting with its own command."""
    line = annotation(level, message, title=title)
    assert line.startswith(f"::{level}")
    assert "\n" not in line and "\r" not in line


@settings(PROFILE, max_examples=100)
@given(text=st.one_of(texts, st.lists(st.sampled_from(FRAGMENTS), max_size=10).map("\n".join)))
def test_escaped_remote_text_never_starts_a_workflow_command(text: str) -> None:
    """Cleaned and escaped remote text has no line that the Actions runner would read as a command."""
    safe = escape_workflow_command(clean_text(text))
    for line in re.split(r"\r\n|\r|\n", safe):
        stripped = re.sub(r"^[\s\u180e\u200b\ufeff]*", "", line)
        assert not stripped.startswith(("::", "##[")), line[:100]
    assert not _COMMAND_START.search(safe)


def test_non_finite_durations_print_as_junit_times() -> None:
    """NaN, infinite and negative durations (a clock bug) still give the ``%.3f`` times JUnit readers
    parse: never "nan", "inf" or a minus sign."""
    gate = failing_runs_verdict(1, "x").gates[0].execution
    for duration in (math.nan, math.inf, -math.inf, -1.0):
        execution = GateExecution(gate.gate, gate.provider, gate.target, gate.snapshot, None, duration)
        verdict = evaluate(
            [(execution, compile_thresholds(None))],
            started_at=STARTED_AT,
            duration_s=duration,
            config_path="c",
            version="0",
        )
        root = ET.fromstring(render_junit(verdict).encode("utf-8"))  # noqa: S314 - our own output
        times = [element.get("time") for element in root.iter() if element.get("time") is not None]
        assert times and all(re.fullmatch(r"\d+\.\d{3}", t or "") for t in times), times
