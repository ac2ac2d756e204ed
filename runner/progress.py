"""Progress lines on stderr that read well in a CI log.

One line when a gate starts (result id, run count), one per status change, a heartbeat at most every
``PollPolicy.heartbeat`` seconds while waiting, one per gate verdict with observed vs required, and a final
line. Remote text is cleaned and escaped so a line can never become a GitHub workflow command; under GitHub
Actions the per-gate detail goes into ``::group::`` log groups that the log shows collapsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from runner.clock import Clock
from runner.errors import TransientError
from runner.gate import Judged, Judging, judge_gate
from runner.model import CheckStatus, GateExecution, GateStatus, GateVerdict, ResultSnapshot, Verdict
from runner.providers.base import StartedResult
from runner.settings import GateSpec
from runner.textclean import escape_data, escape_workflow_command, one_line

_MARK = {GateStatus.PASSED: "PASS", GateStatus.FAILED: "FAIL", GateStatus.ERROR: "ERROR"}


def fmt_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _counts(snapshot: ResultSnapshot, unit: str) -> str:
    total = snapshot.total_runs if snapshot.total_runs is not None else len(snapshot.runs)
    if snapshot.runs:
        finished = sum(1 for run in snapshot.runs if run.terminal)
    elif snapshot.completed_runs is not None:
        finished = snapshot.completed_runs
    else:
        return f"{total} {unit}"  # a server-side suite run lists no cases, only their number
    return f"{finished}/{total} {unit} finished"


def _unit(gate: GateSpec) -> str:
    return "test cases" if gate.provider == "freeplay" else "runs"


class ConsoleProgress:
    """Implements ``orchestrator.Events`` by printing lines."""

    def __init__(
        self,
        stream: TextIO,
        clock: Clock,
        *,
        heartbeat: float,
        quiet: bool = False,
        specs: Sequence[GateSpec] = (),
        github: bool = False,
    ) -> None:
        self._stream = stream
        self._github = github  # GitHub Actions: per-gate detail in collapsible log groups
        self.judging: dict[str, Judging] = {}  # set once the baselines are known
        self.judged: dict[str, Judged] = {}  # each gate's verdict as its line showed it
        self._clock = clock
        self._heartbeat = heartbeat
        self._quiet = quiet
        self._status: dict[str, str] = {}
        self._last_line: dict[str, float] = {}
        self._started_at: dict[str, float] = {}
        self._thresholds = {spec.name: spec.thresholds for spec in specs}

    def line(self, text: str, *, always: bool = False) -> None:
        if self._quiet and not always:
            return
        for part in text.split("\n"):
            self._stream.write(escape_workflow_command(part) + "\n")
        self._stream.flush()

    def _gate_line(self, gate: GateSpec, text: str) -> None:
        self._last_line[gate.name] = self._clock.now()
        self.line(f"[{gate.name}] {text}")

    def gate_started(self, gate: GateSpec, target: str, started: StartedResult) -> None:
        self._started_at[gate.name] = self._clock.now()
        self._status[gate.name] = started.status
        unit = _unit(gate)
        runs = f"{started.run_count} {unit}" if started.run_count is not None else f"{unit} not announced"
        what = "test run" if gate.provider == "freeplay" else "result"
        self._gate_line(
            gate, f"started {what} {started.result_id} on {target}: {runs} ({started.status or '?'})"
        )

    def snapshot(self, gate: GateSpec, snapshot: ResultSnapshot) -> None:
        now = self._clock.now()
        if snapshot.status != self._status.get(gate.name):
            self._status[gate.name] = snapshot.status
            self._gate_line(gate, f"status {one_line(snapshot.status, 40)}: {_counts(snapshot, _unit(gate))}")
        elif now - self._last_line.get(gate.name, now) >= self._heartbeat:
            waited = now - self._started_at.get(gate.name, now)
            self._gate_line(
                gate,
                f"still {snapshot.status} after {fmt_duration(waited)}: {_counts(snapshot, _unit(gate))}",
            )

    def retrying(self, gate: GateSpec, error: TransientError, delay: float) -> None:
        when = f" in {delay:.1f}s" if delay > 0 else ""
        self._gate_line(gate, f"retrying{when}: {one_line(error.message, 200)}")

    def gate_done(self, gate: GateSpec, execution: GateExecution) -> None:
        judging = self.judging.get(gate.name, Judging(blocking=gate.blocking, statistics=gate.statistics))
        judged = judge_gate(execution, self._thresholds.get(gate.name, gate.thresholds), judging)
        self.judged[gate.name] = judged  # the final verdict reuses it (``gate.evaluate``)
        verdict = judged.verdict
        mark = _MARK[verdict.status] + (" (non-blocking)" if verdict.advisory_failure else "")
        head = f"[{gate.name}] {mark} in {fmt_duration(execution.duration_s)}"
        if self._github:
            self._grouped_detail(head, verdict, execution)
            return
        if verdict.status is GateStatus.PASSED:
            checks = "; ".join(f"{c.check_id} {c.observed_text} ({c.expression})" for c in verdict.checks)
            self.line(f"{head}: {one_line(checks, 800)}")
            return
        bad = [check for check in verdict.checks if check.status is not CheckStatus.PASSED]
        if execution.failure is not None:
            head += f" — {execution.failure.kind.value}: {one_line(execution.failure.message, 300)}"
        self.line(f"{head}: {len(bad)} of {len(verdict.checks)} checks did not pass", always=True)
        if execution.failure is not None:
            return  # every check says the same thing: the gate did not finish
        for check in bad:
            self.line(f"[{gate.name}]   {check.status.value}: {one_line(check.summary, 500)}", always=True)

    def _grouped_detail(self, head: str, verdict: GateVerdict, execution: GateExecution) -> None:
        """Under GitHub Actions: the headline stays visible, every check goes into a collapsed log group.
        Nothing awaits between these writes, so concurrent gates cannot interleave inside a group."""
        bad = sum(1 for check in verdict.checks if check.status is not CheckStatus.PASSED)
        failure = execution.failure
        if failure is not None:
            head += f" — {failure.kind.value}: {one_line(failure.message, 300)}"
        passed = len(verdict.checks) - bad
        self.line(f"{head}: {passed} of {len(verdict.checks)} checks passed", always=bad > 0)
        if self._quiet and not bad:
            return
        self._stream.write(f"::group::{escape_data(one_line(f'{verdict.name}: checks', 200))}\n")
        for check in verdict.checks:
            self.line(f"{check.status.value}: {one_line(check.summary, 500)}", always=True)
        self._stream.write("::endgroup::\n")
        self._stream.flush()

    def note(self, gate: GateSpec, text: str) -> None:
        self._gate_line(gate, one_line(text, 500))

    def interrupted(self, signal_name: str) -> None:
        self.line(f"regate: {signal_name} received: writing reports, then ending remote calls", always=True)

    def final(self, verdict: Verdict, written: Sequence[str]) -> None:
        paths = ", ".join(written) if written else "none written"
        advisory = sum(1 for gate in verdict.gates if gate.advisory_failure)
        warned = f" ({advisory} non-blocking did not pass)" if advisory else ""
        self.line(
            f"regate: {verdict.status.value.upper()} (exit {int(verdict.exit_code)}) in "
            f"{fmt_duration(verdict.duration_s)}; {len(verdict.gates)} gate(s){warned}; reports: {paths}",
            always=True,
        )
