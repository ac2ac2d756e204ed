"""The fault-matrix harness: one ``Case`` is one row, run for real over loopback.

``run_case`` starts a ``SimServer`` in-process on 127.0.0.1:0 (fast clock, the case's fault spec), writes a
small config (50 ms polls, short retries and deadlines), runs ``runner.cli.main(["run", ...])`` in-process
and collects what happened: the exit code, each gate's status and reasons from report.json, the
simulator's request statistics, the wall time, stderr, and whether the three reports agree.
``problems`` compares that with the case's expectations; ``summarise`` says it in one table cell.

"Data lost" counts the runs (Cekura) or test cases (Freeplay) that the platform holds but report.json
does not, for every platform result the report names, plus every run of a result it does not name when
a gate still gave a verdict (passed or failed): a verdict must never be computed without data the
platform had. Runs of a result regate never managed to read are counted apart as "unread": that gate's
status must then be ``error`` (no verdict), which ``problems`` checks. So are the runs of a named result
when the case's fault strips them from every answer (``Case.withholds_runs``) and the gate has no verdict.

Real time passes here (a server thread, regate's own clock), so the simulator runs 600 times faster than
real and every wait of regate is bounded by the case's deadlines; nothing in the harness sleeps.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.simulator.app import SimApp
from runner.simulator.server import SimServer, build_app

KEY = "reliability-key-5b7c9e"  # accepted by the simulator; never expected in any output
WRONG_KEY = "revoked-key-0000"
SPEED = 600.0
SEED = 3
PROJECT = "6f1c2a3b-8d4e-4f5a-9b6c-7d8e9f0a1b2c"
FAQ_SUITE = "5b2e9c4a-7d1f-4e3a-9c8b-1a2b3c4d5e01"
REPO = Path(__file__).resolve().parents[2]
TARGET = REPO / "configs" / "examples" / "support_target.py"
XSD = REPO / ".." / "shared" / "junit" / "jenkins-xunit-junit-10.xsd"

# -- gates ----------------------------------------------------------------------------------------------

CEKURA = "  - {name: smoke, provider: cekura, agent: 101, scenarios: [201, 202]}\n"
WEBSOCKET = (
    "  - {name: ws, provider: cekura, agent: 101, mode: websocket, scenarios: [201],"
    " websocket_url: 'wss://agent.example.com/ws'}\n"
)
FREEPLAY = (
    f"  - name: traces\n    provider: freeplay\n    project: {PROJECT}\n    dataset: support-agent-traces\n"
    f"    target: {{command: [{json.dumps(sys.executable)}, {json.dumps(os.fspath(TARGET))}],"
    " timeout: 20s}\n    target_concurrency: 5\n"
    "    thresholds: {evaluations: {Answer Accuracy: 'pass_rate >= 90%'}}\n"
)
FREEPLAY_SUITE = (
    f"  - {{name: suite, provider: freeplay, project: {PROJECT}, suite: {FAQ_SUITE},"
    " suite_execution: server}\n"
)

DEFAULTS: Mapping[str, str] = {
    "timeout": "5s",
    "request_timeout": "2s",
    "concurrency": "2",
    "poll": "{initial: 50ms, max: 100ms, multiplier: 1.5, heartbeat: 30s}",
    "retry": "{attempts: 3, base: 20ms, max: 100ms, budget: 20, max_retry_after: 300ms}",
}

# -- request assertions -----------------------------------------------------------------------------------

# Named request patterns over the simulator's stats keys ("METHOD /path/template/").
ROUTES: Mapping[str, str] = {
    "start": r"POST /test_framework/v\d/scenarios(-external)?/\w+/",
    "poll": r"GET /test_framework/v\d/results(-external)?/\{id\}/",
    "probe": r"GET /test_framework/v\d/runs(-external)?/",
    "lookup": r"GET /test_framework/v\d/results(-external)?/",
    "end_calls": r"POST /test_framework/v\d/results(-external)?/\{id\}/end_calls/",
    "share": r"POST /test_framework/v\d/results(-external)?/\{id\}/create_shareable_link_token/",
    "fp-create": r"POST /api/v2/projects/\{project_id\}/(test-runs|test-suites/\{suite_id\}/runs(/execute)?)",
    "fp-poll": r"GET /api/v2/projects/\{project_id\}/(test-runs/id/\{test_run_id\}|test-suites/.*/results)",
    "fp-lookup": r"GET /api/v2/projects/\{project_id\}/test-runs",
    "fp-record": r"(POST|PATCH) /api/v2/projects/\{project_id\}/(sessions|completions)/.*",
    "any": r".*",
}
COUNTERS = {"results created": "results", "test runs created": "test_runs", "recordings": "recordings"}


@dataclass(frozen=True, slots=True)
class Requests:
    """How many requests of one kind the simulator saw: a route of ``ROUTES``, a counter of ``COUNTERS``
    (what exists on the platform afterwards) or ``fault:<kind>`` (faults actually injected)."""

    what: str
    low: int = 0
    high: int | None = None

    def __str__(self) -> str:
        if self.high == self.low:
            return f"{self.what} == {self.low}"
        return f"{self.what} <= {self.high}" if self.low == 0 else f"{self.what} >= {self.low}"

    def count(self, stats: Mapping[str, Any]) -> int:
        if self.what in COUNTERS:
            return int(stats[COUNTERS[self.what]])
        if self.what.startswith("fault:"):
            return int(stats["faults"].get(self.what.removeprefix("fault:"), 0))
        pattern = re.compile(ROUTES[self.what])
        return sum(n for key, n in stats["requests"].items() if pattern.fullmatch(key))

    def holds(self, stats: Mapping[str, Any]) -> bool:
        n = self.count(stats)
        return self.low <= n and (self.high is None or n <= self.high)


def exactly(what: str, n: int) -> Requests:
    return Requests(what, n, n)


def at_most(what: str, n: int) -> Requests:
    return Requests(what, 0, n)


def at_least(what: str, n: int) -> Requests:
    return Requests(what, n, None)


# -- cases ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the fault matrix."""

    id: str
    family: str
    faults: str  # the simulator's fault spec ("" = none)
    config_overrides: Mapping[str, str]  # keys of ``defaults`` to replace, as YAML text
    expected_exit: int
    expected_gate_status: Mapping[str, str]  # gate name -> passed | failed | error
    request_assertions: tuple[Requests, ...]
    expected_behaviour: str  # one sentence for the table
    gates: str = CEKURA  # the config's ``gates:`` items
    reasons: tuple[str, ...] = ()  # substrings each expected in some gate reason (report.json)
    stderr_once: tuple[str, ...] = ()  # substrings expected exactly once on stderr
    wall: tuple[float | None, float | None] = (None, None)  # bounds on regate's wall time, seconds
    api_key: str = KEY  # the key regate presents
    key_variable: str = ""  # the environment variable the config reads it from (default: the usual one)
    closed_port: bool = False  # point regate at a port nothing listens on
    withholds_runs: bool = False  # the fault strips the runs from every answer: missing ones are unread
    xfail: str | None = None  # regate misbehaves here (what breaks): a strict xfail for the lead

    def param(self) -> Any:
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.id, marks=marks)


@dataclass(slots=True)
class GateSeen:
    status: str
    reasons: tuple[str, ...]
    result_id: str | None
    run_ids: frozenset[str]


@dataclass(slots=True)
class Observation:
    case: Case
    exit_code: int
    gates: dict[str, GateSeen]
    stats: dict[str, Any]
    data_lost: int
    unread: int
    wall_s: float
    stderr: str
    disagreements: list[str] = field(default_factory=list)

    def count(self, what: str) -> int:
        return Requests(what).count(self.stats)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def write_config(case: Case, path: Path, base_url: str) -> Path:
    defaults = {**DEFAULTS, **case.config_overrides}
    lines = ["version: 1", "providers:"]
    for provider in ("cekura", "freeplay"):
        if f"provider: {provider}" in case.gates:
            variable = case.key_variable or f"{provider.upper()}_API_KEY"
            lines += [f"  {provider}:", f"    base_url: {base_url}", f"    api_key: ${{{variable}}}"]
    lines += ["defaults:", *(f"  {key}: {value}" for key, value in defaults.items()), "gates:"]
    path.write_text("\n".join(lines) + "\n" + case.gates, encoding="utf-8")
    return path


def run_case(case: Case, workdir: Path) -> Observation:
    """Run ``case`` for real: simulator on loopback, ``regate run`` in-process; never raises on a
    mismatch (that is ``problems``' job)."""
    workdir.mkdir(parents=True, exist_ok=True)
    app = build_app(None, SPEED, SEED, case.faults or None, [KEY])
    with SimServer(app, "127.0.0.1", 0, speed=SPEED) as server:
        base_url = f"http://127.0.0.1:{closed_port()}" if case.closed_port else server.base_url
        config = write_config(case, workdir / "regate.yaml", base_url)
        out = workdir / "out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        env.update(CEKURA_API_KEY=case.api_key, FREEPLAY_API_KEY=case.api_key)
        if case.key_variable:
            env[case.key_variable] = case.api_key
        stderr = io.StringIO()
        t0 = time.monotonic()
        with contextlib.redirect_stderr(stderr):
            code = main(["run", str(config), "--out", str(out)], env=env)
        wall = time.monotonic() - t0
        with server.lock:
            recordings = sum(len(run.recordings) for run in app.freeplay.state.runs.values())
            stats = {**app.stats(), "recordings": recordings}
            platform = platform_results(app)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    gates = {
        g["name"]: GateSeen(
            g["status"],
            tuple(g["reasons"]),
            (g["execution"]["result"] or {}).get("result_id"),
            frozenset(str(r["run_id"]) for r in g["runs"] if r.get("run_id") is not None),
        )
        for g in report["gates"]
    }
    lost, unread = account(platform, gates, withheld=case.withholds_runs)
    observation = Observation(case, code, gates, stats, lost, unread, wall, stderr.getvalue())
    observation.disagreements = reports_disagree(out, code, report)
    return observation


# -- data accounting ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlatformResult:
    result_id: str
    name: str
    items: frozenset[str]  # run ids (Cekura) or test case ids (Freeplay) the client can be shown


def platform_results(app: SimApp) -> list[PlatformResult]:
    found = [
        PlatformResult(str(r.id), app.render.result_name(r), frozenset(str(i) for i in r.run_ids))
        for r in app.state.results.values()
    ]
    for run in app.freeplay.state.runs.values():
        # A server-executed suite run shows the client only summary statistics, never its cases.
        server_side = any(key.startswith("server:") for key in run.recordings)
        cases = frozenset() if server_side else frozenset(c.id for c in run.dataset.cases)
        found.append(PlatformResult(run.id, run.name, cases))
    return found


def account(
    platform: list[PlatformResult], gates: Mapping[str, GateSeen], *, withheld: bool = False
) -> tuple[int, int]:
    """(data lost, unread): see the module docstring. ``withheld``: the platform's answers never carried
    the runs, so a gate without a verdict could not have reported them."""
    lost = unread = 0
    for result in platform:
        named = [g for g in gates.values() if g.result_id == result.result_id]
        if named:
            missing = len(result.items - named[0].run_ids)
            if withheld and named[0].status == "error":
                unread += missing
            else:
                lost += missing
            continue
        owners = [g for name, g in gates.items() if re.search(rf"\b{re.escape(name)}\b", result.name)]
        owner = owners[0] if owners else (next(iter(gates.values())) if len(gates) == 1 else None)
        if owner is not None and owner.status in ("passed", "failed"):
            lost += len(result.items)
        else:
            unread += len(result.items)
    return lost, unread


# -- the three reports agree ----------------------------------------------------------------------------


@cache
def _schema() -> Any:
    import xmlschema

    return xmlschema.XMLSchema(str(XSD)) if XSD.is_file() else None


def reports_disagree(out: Path, code: int, report: Mapping[str, Any]) -> list[str]:
    """Every way report.json, junit.xml, summary.md and the exit code disagree (empty = they agree)."""
    problems: list[str] = []
    if report["exit_code"] != code:
        problems.append(f"report.json says exit {report['exit_code']}, regate exited {code}")
    xml = (out / "junit.xml").read_text(encoding="utf-8")
    root = ET.fromstring(xml)  # noqa: S314 - our own output
    bad = len(root.findall(".//failure")) + len(root.findall(".//error"))
    if (bad == 0) != (code == 0):
        problems.append(f"junit.xml has {bad} failures+errors but the exit code is {code}")
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    markdown = (out / "summary.md").read_text(encoding="utf-8")
    lines = markdown.splitlines()
    if f"exit code {code}" not in lines[0]:
        problems.append(f"summary.md's verdict line does not say exit code {code}")
    header = next((i for i, line in enumerate(lines) if line.startswith("| Gate | Target |")), len(lines))
    table = []
    for line in lines[header + 2 :]:  # the gate table: after its header and separator, up to a blank line
        if not line.startswith("|"):
            break
        table.append(line)
    for gate in report["gates"]:
        name, status = gate["name"], gate["status"]
        if properties.get(f"{name}.gate_status") != status:
            problems.append(f"junit.xml gives gate {name} status {properties.get(f'{name}.gate_status')}")
        runs = [c for c in root.iter("testcase") if c.get("classname") == f"regate.runs.{name}"]
        if len(runs) != len(gate["runs"]):
            problems.append(f"junit.xml has {len(runs)} runs of {name}, report.json {len(gate['runs'])}")
        rows = [line for line in table if line.startswith(f"| {name} |")]
        if len(rows) != 1 or status not in rows[0]:
            problems.append(f"summary.md has no single row for gate {name} saying {status}")
    schema = _schema()
    if schema is not None and not schema.is_valid(xml):
        problems.append("junit.xml does not validate against the Jenkins xUnit schema")
    if KEY in xml + markdown + json.dumps(report):
        problems.append("the API key appears in a report")
    return problems


# -- verdict on a case ----------------------------------------------------------------------------------


def problems(obs: Observation) -> list[str]:
    """Every way the observation differs from the case's expectations (empty = as specified)."""
    case = obs.case
    found = list(obs.disagreements)
    if obs.exit_code != case.expected_exit:
        found.append(f"exit code {obs.exit_code}, expected {case.expected_exit}")
    statuses = {name: g.status for name, g in obs.gates.items()}
    if statuses != dict(case.expected_gate_status):
        found.append(f"gate statuses {statuses}, expected {dict(case.expected_gate_status)}")
    for assertion in case.request_assertions:
        if not assertion.holds(obs.stats):
            found.append(f"requests: expected {assertion}, saw {assertion.count(obs.stats)}")
    reasons = " | ".join(r for g in obs.gates.values() for r in g.reasons)
    found += [
        f"no gate reason mentions {text!r} (reasons: {reasons})"
        for text in case.reasons
        if text not in reasons
    ]
    for text in case.stderr_once:
        n = obs.stderr.count(text)
        if n != 1:
            found.append(f"stderr says {text!r} {n} times, expected once")
    low, high = case.wall
    if low is not None and obs.wall_s < low:
        found.append(f"regate took {obs.wall_s:.2f} s, expected at least {low} s")
    if high is not None and obs.wall_s > high:
        found.append(f"regate took {obs.wall_s:.2f} s, expected at most {high} s")
    if obs.data_lost:
        found.append(f"{obs.data_lost} platform runs/cases are missing from report.json")
    if obs.unread and any(g.status != "error" for g in obs.gates.values()):
        found.append(f"{obs.unread} runs were never read, yet a gate has a verdict")
    if KEY in obs.stderr:
        found.append("the API key appears on stderr")
    return found


def check(case: Case, workdir: Path) -> Observation:
    """Run ``case`` and fail the test with every problem found (used by the family modules)."""
    obs = run_case(case, workdir)
    found = problems(obs)
    assert not found, f"{case.id}: " + "; ".join(found) + f"\n--- observed: {summarise(obs)}\n{obs.stderr}"
    return obs


# -- one table cell -------------------------------------------------------------------------------------

_SHOWN = (
    ("start", "start"),
    ("fp-create", "create"),
    ("lookup", "lookup"),
    ("fp-lookup", "lookup"),
    ("poll", "poll"),
    ("probe", "probe"),
    ("fp-poll", "poll"),
    ("fp-record", "record"),
    ("end_calls", "end_calls"),
)


def summarise(obs: Observation) -> str:
    """What happened, in one line: exit code, gate statuses (and failure kind), request counts, time."""
    gates = ", ".join(f"{name} {g.status}" for name, g in obs.gates.items())
    counts = [f"{obs.count(what)} {label}" for what, label in _SHOWN if obs.count(what)]
    faults = sum(obs.stats["faults"].values())
    text = f"exit {obs.exit_code}; {gates}; " + (", ".join(counts) or "no requests")
    if faults:
        text += f" ({faults} faulted)"
    if obs.unread:
        text += f"; {obs.unread} unread (no verdict)"
    return text + f"; {obs.wall_s:.1f} s"
