"""Flaky handling: `retries: N` re-runs only the failed scenarios; a scenario that then passes is flaky,
counted per `flaky: pass | fail`, and visible in the summary, the JSON report and JUnit either way."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from runner import cli
from runner.config import load_config
from runner.errors import ConfigError
from runner.flaky import apply_retries, failed_scenarios, retry_spec, still_failing
from runner.model import ExitCode, ResultSnapshot, RunOutcome, RunRecord, RunVerdict
from runner.settings import CekuraMode, ScenarioRef
from tests.reporters.xml_support import parse
from tests.test_orchestrator import spec


def run(scenario_id: str, ok: bool | None, *, status: str = "completed", infra: bool = False) -> RunRecord:
    return RunRecord(
        f"r{scenario_id}{ok}", f"scenario {scenario_id}", scenario_id, None, status, True, ok, infra
    )


def judged(*records: RunRecord) -> tuple[RunVerdict, ...]:
    from runner.runs import name_runs

    return name_runs(records)


def snapshot(*records: RunRecord) -> ResultSnapshot:
    return ResultSnapshot("9", "completed", True, True, runs=records)


def test_only_failed_runs_are_retried_never_infra_errors_or_runs_without_a_verdict() -> None:
    runs = judged(
        run("1", False), run("1", False), run("2", True), run("3", None, infra=True), run("4", None)
    )
    assert failed_scenarios(runs) == ("1",)


def test_a_retry_narrows_the_gate_to_the_failed_scenarios_once_each_keeping_their_own_settings() -> None:
    own = (ScenarioRef(7, websocket_url="wss://a.test/7"),)
    gate = replace(spec("g"), mode=CekuraMode.WEBSOCKET, scenarios=own, frequency=3)
    narrowed = retry_spec(gate, ["7", "8"])
    assert narrowed.scenarios == (ScenarioRef(7, websocket_url="wss://a.test/7"), ScenarioRef(8))
    assert narrowed.frequency == 1 and narrowed.tags == () and narrowed.folder is None


@pytest.mark.parametrize(("policy", "outcome"), [("pass", RunOutcome.PASSED), ("fail", RunOutcome.FAILED)])
def test_a_failed_run_whose_scenario_passed_on_retry_is_flaky_and_counted_per_the_policy(
    policy: str, outcome: RunOutcome
) -> None:
    runs = judged(run("1", False), run("2", False), run("3", True))
    retries = [snapshot(run("1", True), run("2", False))]
    merged = apply_retries(runs, retries, policy)
    by_scenario = {r.record.scenario_id: r for r in merged}
    assert by_scenario["1"].flaky and by_scenario["1"].outcome is outcome
    assert not by_scenario["2"].flaky and by_scenario["2"].outcome is RunOutcome.FAILED  # failed again
    assert not by_scenario["3"].flaky and by_scenario["3"].outcome is RunOutcome.PASSED
    assert still_failing(runs, retries) == ("2",)
    assert apply_retries(runs, [], policy) == runs  # no retries: unchanged


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("retries: 4", "expected an integer from 0 to 3"),
        ("retries: -1", "expected an integer from 0 to 3"),
        ("flaky: maybe", "pass, fail"),
    ],
)
def test_a_retries_or_flaky_mistake_is_a_located_config_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "version: 1\nproviders: {cekura: {base_url: 'https://api.example.test', api_key: k}}\n"
        f"gates:\n  - name: a\n    agent: 1\n    scenarios: [1]\n    {text}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), {})
    assert message in f"{caught.value.message} {caught.value.hint}" and caught.value.line == 7


def test_a_spec_run_cannot_retry_scenarios_by_id(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "version: 1\nproviders: {cekura: {base_url: 'https://api.example.test', api_key: k}}\ngates:\n"
        "  - name: a\n    agent: 1\n    mode: json\n    retries: 1\n    spec:\n      version: '1'\n"
        "      scenarios: [{key: a, name: A, instructions: x, expected_outcome: y}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="tests-as-code spec"):
        load_config(str(path), {})


def config(tmp_path: Path, flaky: str) -> Path:
    path = tmp_path / f"{flaky}.yaml"
    path.write_text(
        "version: 1\nsimulator: {speed: 600, seed: 3}\nproviders: {cekura: {base_url: simulator}}\n"
        "defaults: {timeout: 5m, poll: {initial: 100ms, max: 500ms}}\n"
        "gates:\n  - name: smoke\n    agent: 102\n    scenarios: [201, 202, 203, 204]\n    frequency: 2\n"
        f"    retries: 2\n    flaky: {flaky}\n"
        "    thresholds: {success_rate: '>= 80%', max_infra_errors: 5}\n",
        encoding="utf-8",
    )
    return path


def test_on_the_simulator_flaky_scenarios_pass_or_fail_per_the_policy_and_are_reported(
    tmp_path: Path,
) -> None:
    """The regressed agent (seed 3) fails 3 of 8 runs; re-running those scenarios passes each within two
    retries. flaky: pass -> 8/8 and exit 0; flaky: fail -> 5/8 < 80% and exit 1. Same runs either way."""
    codes = {}
    for flaky in ("pass", "fail"):
        out = tmp_path / flaky
        codes[flaky] = cli.main(["run", str(config(tmp_path, flaky)), "--out", str(out), "--quiet"], env={})
    assert codes == {"pass": ExitCode.OK, "fail": ExitCode.REGRESSION}
    for flaky in ("pass", "fail"):
        out = tmp_path / flaky
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        gate = report["gates"][0]
        flaky_runs = [r for r in gate["runs"] if r["flaky"]]
        assert len(flaky_runs) == 3 and len(gate["flaky_scenarios"]) == 3
        assert {r["outcome"] for r in flaky_runs} == {"passed" if flaky == "pass" else "failed"}
        retries = gate["execution"]["retries"]
        first_ids = {r["scenario_id"] for r in retries[0]["runs"]}
        assert first_ids == {r["scenario_id"] for r in flaky_runs}  # only the failed scenarios, once each
        assert all(len(r["runs"]) <= len(first_ids) for r in retries)
        summary = (out / "summary.md").read_text(encoding="utf-8")
        assert "3 flaky scenario(s), failed and then passed on retry" in summary
        assert f"counted as {'passed' if flaky == 'pass' else 'failed'}" in summary
        junit = parse((out / "junit.xml").read_text(encoding="utf-8"))
        props = {p.get("name"): p.get("value") for p in junit.iter("property")}
        assert props["smoke.flaky_scenarios"] == ", ".join(sorted(gate["flaky_scenarios"]))
        assert len(props["smoke.retry_results"].split(", ")) == len(retries)
        outs = [e.text or "" for e in junit.iter("system-out")]
        assert sum("flaky: this run failed and its scenario passed on retry" in text for text in outs) == 3


def test_a_cancel_during_a_retry_ends_the_retrys_calls_and_not_the_finished_results() -> None:
    """The result is final (nothing to end); the re-run in flight is ended like any unfinished result."""
    import anyio

    from runner.orchestrator import _end_remote, _GateState
    from runner.providers.base import StartedResult

    ended: list[str] = []

    class Provider:
        async def cancel(self, started: StartedResult) -> None:
            ended.append(started.result_id)

    state = _GateState(spec("g"), "agent 101")
    state.started, state.last = StartedResult("1001", "pending", 8, None), snapshot(run("1", False))
    state.retry_started = StartedResult("1002", "pending", 1, None)
    state.retry_last = ResultSnapshot("1002", "running", False, False)
    anyio.run(_end_remote, state, Provider())  # type: ignore[arg-type]
    assert ended == ["1002"]


def test_a_scenario_that_both_passed_and_failed_is_unstable_and_reported_so() -> None:
    from runner.flaky import unstable_scenarios
    from runner.reporters.json_report import render_json
    from runner.reporters.markdown import render_markdown
    from tests.reporters import factories as f

    runs = judged(
        run("1", True), run("1", False), run("2", False), run("3", True), run("4", None, infra=True)
    )
    assert unstable_scenarios(runs) == ("scenario 1",)
    verdict = f.v_regression()  # its "Refund request" runs passed and failed
    assert "〰️ support-agent: unstable (both passed and failed): Refund request" in render_markdown(verdict)
    gates = json.loads(render_json(verdict))["gates"]
    assert [g["unstable_scenarios"] for g in gates] == [["Refund request"], ["Refund request"]]  # both gates
