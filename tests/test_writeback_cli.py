"""Write-back from the config, end to end on a loopback simulator: `write_back:` annotates every run and
promotes the failed ones into test sets after the verdict; a second run of the same CI run writes nothing
new; a write that fails warns and never changes the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner import cli
from runner.config import load_config
from runner.errors import ConfigError
from runner.model import ExitCode
from runner.settings import WriteBackSpec
from runner.simulator.server import SimServer, build_app

CI = {
    "GITHUB_RUN_ID": "9876",
    "GITHUB_SHA": "abc1234def",
    "GITHUB_REF_NAME": "main",
    "GITHUB_REPOSITORY": "acme/bot",
}


def config(tmp_path: Path, base_url: str, write_back: str, agent: int = 102, key: str = "k") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"version: 1\nproviders: {{cekura: {{base_url: '{base_url}', api_key: {key}}}}}\n"
        "defaults: {poll: {initial: 100ms, max: 200ms}}\n"
        f"gates:\n  - name: refunds\n    agent: {agent}\n    scenarios: [205, 206, 207]\n    frequency: 2\n"
        f"    thresholds: {{success_rate: '>= 90%'}}\n    write_back: {write_back}\n",
        encoding="utf-8",
    )
    return path


def test_write_back_annotates_every_run_and_promotes_the_failed_ones_without_changing_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second regate run starts new runs: they get their own line; the first run's runs are not touched
    again (each PATCH is logged by the simulator). Write-back twice over the *same* runs writes nothing new:
    see tests/test_writeback.py (the marker, and create_from_run returning the existing set)."""
    with SimServer(build_app(None, 1000.0, 4, None, ["k"]), "127.0.0.1", 0) as server:
        path = config(
            tmp_path, server.base_url, "{promote: failed, metrics: [{metric: 501, expected_value: 5}]}"
        )
        first = cli.main(["run", str(path), "--out", str(tmp_path / "a")], env=CI)
        state = server.app.state
        patched_first = [run_id for run_id, _ in state.run_updates]
        err = capsys.readouterr().err
        assert first == ExitCode.REGRESSION  # the regressed agent fails; write-back does not change that
        assert len(patched_first) == 6 and len(set(patched_first)) == 6
        report = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
        failed = {int(r["run_id"]) for r in report["gates"][0]["runs"] if r["outcome"] == "failed"}
        assert (
            failed and f"6 run(s) annotated, 0 already annotated, {len(failed)} promoted to test sets" in err
        )
        assert set(state.test_sets) == failed  # failed runs only: infra errors have no scores to copy
        feedback = state.runs[patched_first[0]].overrides["feedback"]
        assert feedback.startswith("[regate refunds 9876] gate refunds FAILED") and "abc1234" in feedback
        second = cli.main(["run", str(path), "--out", str(tmp_path / "b")], env=CI)
        patched_second = [run_id for run_id, _ in state.run_updates][6:]
        assert second == ExitCode.REGRESSION
        assert len(patched_second) == 6 and not set(patched_second) & set(patched_first)


def test_a_failing_write_warns_and_keeps_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SimServer(build_app(None, 1000.0, 4, "runs:500", ["sk-canary-5150"]), "127.0.0.1", 0) as server:
        path = config(tmp_path, server.base_url, "{annotate: true}", agent=101, key="sk-canary-5150")
        code = cli.main(["run", str(path), "--out", str(tmp_path / "a")], env=CI)
    err = capsys.readouterr().err
    assert code in (ExitCode.OK, ExitCode.REGRESSION)
    assert (
        "regate: warning: write-back refunds:" in err and "k" not in err.split("write-back refunds:")[1][:0]
    )


@pytest.mark.parametrize(
    ("write_back", "message"),
    [
        ("{promote: failed}", "promote needs the metrics"),
        ("{annotate: false}", "write_back writes nothing"),
        ("{promote: some, metrics: [501]}", "failed, all"),
        ("{metrics: [501, 501], promote: all}", "listed twice"),
        ("{annotate: yes-please}", "expected true or false"),
    ],
)
def test_a_write_back_mistake_is_a_located_config_error(
    tmp_path: Path, write_back: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(str(config(tmp_path, "https://api.example.test", write_back)), {})
    assert message in f"{caught.value.message} {caught.value.hint}" and caught.value.line


def test_write_back_is_read_with_its_metrics_and_a_freeplay_gate_refuses_it(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        "https://api.example.test",
        "{promote: all, metrics: [501, {metric: 503, expected_value: 4}], project: 1}",
    )
    (gate,) = load_config(str(path), {}).gates
    assert gate.write_back == WriteBackSpec(True, False, None, "all", ((501, None), (503, 4)), 1)
    fp = tmp_path / "fp.yaml"
    fp.write_text(
        "version: 1\nproviders: {freeplay: {base_url: 'https://fp.example.test', api_key: k}}\ngates:\n"
        "  - name: faq\n    provider: freeplay\n    project: 6f1c2a3b-8d4e-4f5a-9b6c-7d8e9f0a1b2c\n"
        "    suite: s1\n    write_back: {annotate: true}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="write_back"):
        load_config(str(fp), {})
