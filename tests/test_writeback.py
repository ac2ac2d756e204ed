"""Write-back (runner.writeback): what regate writes on a Cekura run, which runs it promotes, and that
carrying it out is idempotent and never raises.

Planning is checked as pure functions; the executor runs against the simulator on a 127.0.0.1 socket with
the real Cekura adapter (fakes at the transport), on a hand-driven simulated clock: nothing sleeps.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from runner.clock import FakeClock
from runner.gate import evaluate_gate
from runner.model import GateExecution, GateVerdict
from runner.providers.cekura import CekuraProvider
from runner.providers.cekura_runs import RunReview
from runner.retry import RetryBudget, call_with_retry
from runner.settings import CekuraGate, CekuraMode, RetryPolicy, ScenarioRef, Secret
from runner.simulator.app import SimApp
from runner.simulator.faults import parse_faults
from runner.simulator.server import SimServer
from runner.simulator.world import load_world
from runner.thresholds import Comparison, Op, Thresholds
from runner.writeback import (
    FEEDBACK_LIMIT,
    AnnotatePolicy,
    MetricExpectation,
    PromotePolicy,
    RunAnnotation,
    RunRef,
    WriteBackPlan,
    feedback_line,
    marker,
    plan_annotations,
    plan_promotions,
    plan_write_back,
    runs_of,
    write_back,
)

KEY = "sk-writeback-DO-NOT-LEAK-0001"
SHA = "abc1234def5678abc1234def5678abc1234def56"
CI = {
    "sha": SHA,
    "branch": "main",
    "repository": "acme/bot",
    "run_id": "9876",
    "run_url": "https://github.com/acme/bot/actions/runs/9876",
}
URL = CI["run_url"]
RUNS = (
    RunRef("20001", "passed", "Greeting #01"),
    RunRef("20002", "failed", "Refund please [Calm customer] #01"),
    RunRef("20003", "infra_error", "Refund please #02"),
    RunRef("20004", "incomplete", "Cancel order #01"),
    RunRef("20005", "failed", "Cancel order #02"),
)
METRICS = (MetricExpectation(501, expected_value=5), MetricExpectation(505, "positive", feedback="label"))


# -- the feedback line ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ci", "status", "outcome", "blocking", "line"),
    [
        pytest.param(
            CI, "failed", "failed", True,
            f"[regate smoke 9876] gate smoke FAILED, run failed (commit abc1234 on main) {URL}",
            id="ci-failed",
        ),
        pytest.param(
            CI, "passed", "passed", True,
            f"[regate smoke 9876] gate smoke PASSED, run passed (commit abc1234 on main) {URL}",
            id="ci-passed",
        ),
        pytest.param(
            CI, "failed", "infra_error", False,
            "[regate smoke 9876] gate smoke FAILED (non-blocking), run not completed (infrastructure error)"
            f" (commit abc1234 on main) {URL}",
            id="non-blocking-infra",
        ),
        pytest.param(
            {}, "passed", "passed", True, "[regate smoke local] gate smoke PASSED, run passed (local run)",
            id="local",
        ),
        pytest.param(
            {"branch": "feature/x", "repository": "acme/bot"}, "error", "incomplete", True,
            "[regate smoke local] gate smoke ERROR, run incomplete"
            " (branch feature/x; in acme/bot; local run)",
            id="branch-only",
        ),
        pytest.param(
            {"sha": "not-a-sha", "run_url": URL, "run_id": "9876"}, "failed", "failed", True,
            f"[regate smoke 9876] gate smoke FAILED, run failed () {URL}",
            id="non-hex-sha-dropped",
        ),
    ],
)  # fmt: skip
def test_feedback_line(ci, status, outcome, blocking, line):
    """One line: the marker first, the gate's status, the run's outcome, then what is known of CI."""
    assert feedback_line("smoke", status, outcome, ci, blocking=blocking) == line


def test_the_marker_is_stable_and_safe():
    """Same gate and CI run -> same marker on every run; it keeps only [A-Za-z0-9._-] in its words."""
    assert marker("smoke", CI) == "[regate smoke 9876]"
    assert marker("smoke", {}) == "[regate smoke local]"
    assert marker("a gate]\n[x", {"run_id": "1 2"}) == "[regate a_gate_x 1_2]"
    lines = {feedback_line("smoke", "failed", outcome, CI).split("]")[0] for outcome in ("passed", "failed")}
    assert lines == {"[regate smoke 9876"}


def test_the_line_is_bounded_clean_and_keeps_its_marker():
    """Hostile context: control characters, line breaks, ANSI codes and huge values -> one clean line of at
    most FEEDBACK_LIMIT characters that still starts with the marker."""
    hostile = {"branch": "main\n::error::x\x1b[31m\x07" + "b" * 5000, "run_id": "7", "repository": "r" * 900}
    line = feedback_line("g" * 600, "failed", "failed", hostile)
    assert len(line) <= FEEDBACK_LIMIT
    assert line.startswith("[regate " + "g" * 64 + " 7]")
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x07" not in line


def test_the_line_never_carries_a_secret():
    """User info, query and fragment are cut from the URL; values named as secrets are masked anyway."""
    ci = {
        "sha": SHA,
        "branch": f"leak-{KEY}",
        "run_id": "9876",
        "run_url": f"https://x-access-token:{KEY}@github.com/acme/bot/actions/runs/9876?token={KEY}#{KEY}",
    }
    line = feedback_line("smoke", "failed", "failed", ci, secrets=(KEY,))
    assert KEY not in line
    assert line.endswith(" https://github.com/acme/bot/actions/runs/9876")
    assert "leak-***" in line
    for url in ("javascript:alert(1)", "ftp://host/x", "https://host/" + "p" * 300, "https://ho st/x"):
        assert "http" not in feedback_line("smoke", "failed", "failed", {"run_url": url}).split(")")[-1]


@pytest.mark.parametrize(("status", "outcome"), [("broken", "failed"), ("failed", "maybe")])
def test_unknown_status_or_outcome_is_a_bug(status, outcome):
    """Statuses and outcomes come from runner.model: anything else is a bug, not a line to write."""
    with pytest.raises(ValueError, match="must be one of"):
        feedback_line("smoke", status, outcome, CI)


# -- planning annotations ------------------------------------------------------------------------------


def test_annotations_by_default_write_only_feedback():
    """One annotation per run with a platform id; evaluation_status and is_reviewed stay untouched."""
    runs = (*RUNS, RunRef("run x", "failed"), RunRef("20001", "passed"))
    plan = plan_write_back("smoke", "failed", runs, CI)
    assert [a.run_id for a in plan.annotations] == ["20001", "20002", "20003", "20004", "20005"]
    assert {(a.evaluation_status, a.is_reviewed, a.marker) for a in plan.annotations} == {
        (None, None, "[regate smoke 9876]")
    }
    assert plan.skipped == ("run 'run x': no platform run id, nothing written",)
    assert plan.promotions == ()


def test_configured_evaluation_status_follows_the_outcome_and_mark_reviewed_is_written():
    """passed -> success, failed -> failure, no claim for infrastructure errors or incomplete runs."""
    policy = AnnotatePolicy(evaluation_status=True, mark_reviewed=True)
    annotations = plan_annotations("smoke", "failed", RUNS, CI, policy=policy)
    assert [(a.evaluation_status, a.is_reviewed) for a in annotations] == [
        ("success", True), ("failure", True), (None, True), (None, True), ("failure", True),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("current", "evaluation", "expected"),
    [
        pytest.param("", None, {"feedback": "LINE", "evaluation_status": "failure"}, id="empty"),
        pytest.param(
            "Reviewer: fine\n\n",
            "failure",
            {"feedback": "Reviewer: fine\nLINE", "evaluation_status": "failure"},
            id="keeps-note",
        ),
        pytest.param("x\n[regate smoke 9876] gate smoke PASSED", None, None, id="marker-present"),
        pytest.param("", "success", {"feedback": "LINE", "evaluation_status": "failure"}, id="own-status"),
        pytest.param("", "reviewed_success", {"feedback": "LINE"}, id="never-over-a-human-review"),
    ],
)
def test_annotation_fields_against_the_run_as_it_is(current, evaluation, expected):
    """The PATCH body appends the line after the run's feedback (PATCH replaces the field), is None when the
    marker is already there, and never overwrites a reviewed_* status."""
    annotation = RunAnnotation("20001", "LINE", "failure", None, "[regate smoke 9876]")
    assert annotation.fields(RunReview("20001", "completed", current, evaluation, False)) == expected


# -- planning promotions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("select", "promoted"),
    [("failed", ["20002", "20005"]), ("all", ["20001", "20002", "20005"])],
)
def test_promote_selects_completed_runs_only(select, promoted):
    """failed: runs that completed and failed; all: also those that passed; never an infrastructure error
    or an incomplete run (the platform promotes a completed run)."""
    promotions = plan_promotions("smoke", RUNS, PromotePolicy(select, METRICS), CI)
    assert [p.run_id for p in promotions] == promoted


def test_the_create_from_run_body():
    """run_id as an integer, metrics as {metric, expected_value?, feedback?}, a stable name, and project
    only when set."""
    (promotion,) = plan_promotions("smoke", RUNS[1:2], PromotePolicy("failed", METRICS, project=7), CI)
    assert promotion.body() == {
        "run_id": 20002,
        "metrics": [{"metric": 501, "expected_value": 5}, {"metric": 505, "expected_value": "positive",
                                                           "feedback": "label"}],
        "name": "regate smoke abc1234: Refund please [Calm customer] #01 (run 20002)",
        "project": 7,
    }  # fmt: skip
    local = plan_promotions("smoke", (RunRef("9", "failed"),), PromotePolicy("all", METRICS[:1]))[0].body()
    assert local == {
        "run_id": 9,
        "metrics": [{"metric": 501, "expected_value": 5}],
        "name": "regate smoke: run 9 (run 9)",
    }
    long = plan_promotions("s", (RunRef("9", "failed", "x" * 900),), PromotePolicy("all", METRICS))[0]
    assert len(long.name) <= 255


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PromotePolicy("some", METRICS), "promote must be one of"),
        (lambda: PromotePolicy("failed", ()), "at least one metric"),
        (lambda: PromotePolicy("failed", (MetricExpectation(501), MetricExpectation(501))), "twice"),
        (lambda: MetricExpectation(0), "positive integer"),
        (lambda: MetricExpectation(True), "positive integer"),  # type: ignore[arg-type]
        (lambda: MetricExpectation(501, math.nan), "finite"),
        (lambda: RunRef("1", "green"), "run outcome"),
    ],
)
def test_invalid_policies_are_refused(make, message):
    """Promotion needs a known selection and at least one metric, each listed once, with a sane value."""
    with pytest.raises(ValueError, match=message):
        make()


def test_no_annotations_when_annotate_is_off():
    """``annotate=None`` plans promotions only."""
    plan = plan_write_back(
        "smoke", "failed", RUNS, CI, annotate=None, promote=PromotePolicy("failed", METRICS)
    )
    assert plan.annotations == () and [p.run_id for p in plan.promotions] == ["20002", "20005"]


# -- carrying it out against the simulator -------------------------------------------------------------


class SimClock:
    """Simulated seconds that move only when the test says so."""

    now = 0.0

    def __call__(self) -> float:
        return self.now


class Platform:
    """The simulator on a loopback socket, the Cekura adapter, and one finished gate of agent 102."""

    def __init__(self, app: SimApp, provider: CekuraProvider, gate: GateVerdict) -> None:
        self.app = app
        self.provider = provider
        self.gate = gate

    def plan(self, **kw: Any) -> WriteBackPlan:
        return plan_write_back(self.gate.name, self.gate.status.value, runs_of(self.gate), CI, **kw)

    def ids(self, *outcomes: str) -> list[str]:
        return [r.run_id for r in runs_of(self.gate) if not outcomes or r.outcome in outcomes]

    def feedback(self, run_id: str) -> str:
        return str(self.app.state.runs[int(run_id)].overrides.get("feedback", ""))

    def writes(self) -> tuple[int, int]:
        """(PATCHes applied, test sets created) so far."""
        stats = self.app.stats()
        return stats["run_updates"], stats["test_sets"]


@pytest.fixture
async def platform() -> AsyncIterator[Any]:
    """``platform(faults=None, key=KEY)`` -> an async factory of ``Platform``."""
    servers: list[SimServer] = []
    clients: list[httpx.AsyncClient] = []

    async def make(faults: str | None = None, key: str = KEY) -> Platform:
        clock = SimClock()
        app = SimApp(WORLD(), clock=clock, seed=0, faults=parse_faults(faults), api_keys=[KEY])
        server = SimServer(app, "127.0.0.1", 0).start()
        servers.append(server)
        client = httpx.AsyncClient(base_url=server.base_url, timeout=10.0)
        clients.append(client)
        provider = CekuraProvider(client, Secret(key))
        setup = CekuraProvider(httpx.AsyncClient(base_url=server.base_url, timeout=10.0), Secret(KEY))
        gate = CekuraGate(
            name="smoke", agent=102, mode=CekuraMode.VOICE, line=1, timeout=60.0, frequency=2,
            thresholds=Thresholds(success_rate=Comparison(Op.GE, 1.0, True, ">= 100%")),
            scenarios=(ScenarioRef(205), ScenarioRef(206), ScenarioRef(207)),
        )  # fmt: skip
        started = await setup.start(gate, "ref")
        clock.now = 10_000.0
        snapshot = await setup.poll(started)
        await setup.aclose()
        execution = GateExecution("smoke", "cekura", "agent 102", snapshot, None, 1.0)
        verdict = evaluate_gate(execution, gate.thresholds)
        app.faults.counts.clear()  # schedules (@#N) count from the write-back's first request
        return Platform(app, provider, verdict)

    yield make
    for client in clients:
        await client.aclose()
    for server in servers:
        server.stop()


WORLD = functools.cache(lambda: load_world(None))
PROMOTE = PromotePolicy("failed", (MetricExpectation(501, expected_value=5), MetricExpectation(505)))


@pytest.mark.anyio
async def test_write_back_records_annotations_and_test_sets_once(platform):
    """First write-back: every run annotated, every failed run promoted. A second, identical one writes
    nothing new: the marker is found on every run, and create_from_run returns the existing sets."""
    p = await platform()
    assert sorted({r.outcome for r in runs_of(p.gate)}) == ["failed", "infra_error", "passed"]
    assert p.gate.status.value == "failed"
    plan = p.plan(promote=PROMOTE)

    first = await write_back(p.provider, plan)
    assert first.ok and first.failures == ()
    assert sorted(first.annotated) == sorted(p.ids()) and first.already_annotated == ()
    assert p.writes() == (len(p.ids()), len(p.ids("failed")))
    for run in runs_of(p.gate):
        assert p.feedback(run.run_id) == feedback_line("smoke", "failed", run.outcome, CI)
    sets = {str(run_id): str(ts.id) for run_id, ts in p.app.state.test_sets.items()}
    assert dict(first.promoted) == sets and sorted(sets) == sorted(p.ids("failed"))
    review = next(iter(p.app.state.test_sets.values())).reviews
    assert [(metric, expected) for metric, _, expected in review] == [(501, 5), (505, None)]
    assert (
        first.summary()
        == "write-back smoke: 6 run(s) annotated, 0 already annotated, 3 promoted to test sets"
    )

    requests_before = p.app.stats()["total"]
    second = await write_back(p.provider, plan)
    assert second.ok and second.annotated == ()
    assert sorted(second.already_annotated) == sorted(p.ids())
    assert dict(second.promoted) == sets
    assert p.writes() == (len(p.ids()), len(p.ids("failed")))
    # one bulk read and one create_from_run per failed run: no PATCH at all
    assert p.app.stats()["total"] - requests_before == 1 + len(p.ids("failed"))


@pytest.mark.anyio
async def test_a_reviewers_note_is_kept(platform):
    """Feedback a person wrote before the write-back stays, with regate's line on a line of its own."""
    p = await platform()
    run_id = p.ids()[0]
    await p.provider.update_run(run_id, {"feedback": "Reviewer: the caller hung up early."})
    report = await write_back(p.provider, p.plan())
    assert report.ok
    note, line = p.feedback(run_id).split("\n")
    assert note == "Reviewer: the caller hung up early." and line.startswith("[regate smoke 9876] ")


@pytest.mark.anyio
async def test_a_failed_patch_is_reported_not_raised_and_a_retry_fills_the_gap(platform):
    """A 500 on one PATCH: that run is one line of the report, every other run is annotated, nothing raises.
    The next write-back annotates only the run that was missed."""
    p = await platform(faults="runs:500@#2")  # request 1 is the bulk read, 2 the first PATCH
    report = await write_back(p.provider, p.plan(), concurrency=1)
    assert not report.ok and len(report.failures) == 1
    (line,) = report.failures
    missed = line.split(":")[0].removeprefix("run ")
    assert (
        line
        == f"run {missed}: not annotated: PATCH /test_framework/v1/runs-external/{missed}/: 500 server error"
    )
    assert sorted(report.annotated) == sorted(set(p.ids()) - {missed})
    assert p.writes() == (len(p.ids()) - 1, 0) and p.feedback(missed) == ""

    again = await write_back(p.provider, p.plan())
    assert again.ok and again.annotated == (missed,) and len(again.already_annotated) == len(p.ids()) - 1
    assert p.writes() == (len(p.ids()), 0)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("faults", "annotated", "promoted", "failure"),
    [
        pytest.param("runs:503@#1", 0, 3, "its current feedback could not be read: GET", id="read"),
        pytest.param("testsets:malformed@#1", 6, 2, "not promoted: POST /test_framework/", id="garbled"),
        pytest.param("testsets:reset@#2", 6, 2, "not promoted: POST", id="reset"),
    ],
)  # fmt: skip
async def test_platform_failures_become_report_lines(platform, faults, annotated, promoted, failure):
    """A failed bulk read fails its annotations only; a garbled or cut create_from_run answer fails that
    promotion only. Nothing raises."""
    p = await platform(faults=faults)
    report = await write_back(p.provider, p.plan(promote=PROMOTE), concurrency=1)
    assert (len(report.annotated), len(report.promoted)) == (annotated, promoted)
    assert report.failures and all(failure in line for line in report.failures)


@pytest.mark.anyio
async def test_a_refused_key_is_reported_without_the_key(platform):
    """Every write refused with 401 is one report line, and no line holds the key."""
    p = await platform(key="sk-wrong-DO-NOT-LEAK-9")
    report = await write_back(p.provider, p.plan(promote=PROMOTE), secrets=("sk-wrong-DO-NOT-LEAK-9",))
    assert len(report.failures) == len(p.ids()) + len(p.ids("failed"))
    assert all("401" in line and "DO-NOT-LEAK" not in line for line in report.failures)
    assert p.writes() == (0, 0)


@pytest.mark.anyio
async def test_nothing_is_written_when_the_time_limit_has_passed(platform):
    """What the time limit cut off is reported as such, never silently dropped."""
    p = await platform()
    report = await write_back(p.provider, p.plan(promote=PROMOTE), timeout=0)
    assert report.annotated == () and report.promoted == ()
    assert len(report.failures) == len(p.ids()) + len(p.ids("failed"))
    assert all(line.endswith("the write-back time limit passed first") for line in report.failures)


@pytest.mark.anyio
async def test_retries_are_the_callers_choice(platform):
    """With ``call`` wrapping each request in call_with_retry (fake clock), a transient 500 is retried."""
    p = await platform(faults="runs:500@#2-3")
    clock = FakeClock()
    call = functools.partial(
        call_with_retry, policy=RetryPolicy(), budget=RetryBudget(5), clock=clock, rng=random.Random(1),
        deadline=math.inf,
    )  # fmt: skip
    report = await write_back(p.provider, p.plan(), concurrency=1, call=call)
    assert report.ok and len(report.annotated) == len(p.ids())
    assert len(clock.sleeps) == 2


@pytest.mark.anyio
async def test_concurrency_must_be_positive(platform):
    """A concurrency below 1 is a bug in the caller."""
    p = await platform()
    with pytest.raises(ValueError, match="concurrency"):
        await write_back(p.provider, p.plan(), concurrency=0)
