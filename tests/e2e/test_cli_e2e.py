"""The CLI as a user runs it: `regate run` as a subprocess against `regate sim` on 127.0.0.1.

Specifies: exit codes agree with the reports; a regression fails with reasons; a fault mix (429 with
Retry-After, 5xx, connection resets) still yields the right verdict; SIGTERM mid-run writes the reports,
ends the remote calls and exits 143; the API key never appears in any output or report.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from tests.e2e.conftest import API_KEY, cli_env, run_cli, write_config
from tests.reporters.xml_support import (
    XSD_PATH,
    counts_by_elements,
    counts_by_junitparser,
    counts_by_xunitparser,
)

pytestmark = pytest.mark.e2e

GOOD = """  - name: smoke
    provider: cekura
    agent: 101
    tags: [smoke]
    thresholds:
      success_rate: ">= 90%"
"""
REGRESSED = """  - name: regressed
    provider: cekura
    agent: 102
    tags: [smoke]
    thresholds:
      success_rate: ">= 90%"
"""


def junit_counts(path: Path) -> tuple[int, int]:
    root = ET.parse(path).getroot()  # noqa: S314 - our own output
    failures = len(root.findall(".//failure"))
    errors = len(root.findall(".//error"))
    return failures, errors


def assert_reports_agree(out: Path, exit_code: int) -> dict[str, Any]:
    """JSON, JUnit and exit code agree; the JUnit file is schema-valid and its consumers agree on it."""
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["exit_code"] == exit_code
    failures, errors = junit_counts(out / "junit.xml")
    assert (failures + errors == 0) == (exit_code == 0)
    xml = (out / "junit.xml").read_text(encoding="utf-8")
    if XSD_PATH.is_file():  # the schema lives in ../shared; without it the other checks still run
        xmlschema.XMLSchema(str(XSD_PATH)).validate(xml)
    assert counts_by_junitparser(xml) == counts_by_xunitparser(xml) == counts_by_elements(xml)
    assert (out / "summary.md").is_file()
    return report


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert API_KEY not in text


def read_all(out: Path) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(out.iterdir()) if path.is_file()]


def test_a_good_agent_passes_and_writes_three_agreeing_reports(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory("--speed", "600", "--seed", "3")
    cfg = write_config(tmp_path / "good.yaml", sim.base_url, GOOD)
    out = tmp_path / "out"
    done = run_cli("run", str(cfg), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert_reports_agree(out, 0)
    assert "[smoke] started result" in done.stderr
    assert "PASSED (exit 0)" in done.stderr
    assert_no_key(done.stdout, done.stderr, *read_all(out))


def test_a_regressed_agent_fails_with_exit_1_and_says_why(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory("--speed", "600", "--seed", "3")
    cfg = write_config(tmp_path / "bad.yaml", sim.base_url, GOOD + REGRESSED)
    out = tmp_path / "out"
    summary = tmp_path / "step-summary.md"
    summary.write_text("previous step\n", encoding="utf-8")
    done = run_cli("run", str(cfg), "--out", str(out), env=cli_env(GITHUB_STEP_SUMMARY=str(summary)))
    assert done.returncode == 1, done.stderr
    report = assert_reports_agree(out, 1)
    statuses = {gate["name"]: gate["status"] for gate in report["gates"]}
    assert statuses == {"smoke": "passed", "regressed": "failed"}
    markdown = (out / "summary.md").read_text(encoding="utf-8")
    assert "regressed" in markdown and "success\\_rate" in markdown  # Markdown-escaped check id
    assert summary.read_text(encoding="utf-8").startswith("previous step\n")  # appended, not overwritten
    assert "[regressed]   failed: success_rate" in done.stderr
    assert_no_key(done.stdout, done.stderr, *read_all(out))


def test_a_fault_mix_still_yields_the_correct_verdict(sim_factory: Any, tmp_path: Path) -> None:
    """429 with Retry-After, 5xx and connection resets on polls are retried; the verdict is unchanged."""
    faults = "results:429=0.05@0.2;results:503@0.15;results:reset@0.1"
    sim = sim_factory("--speed", "600", "--seed", "3", "--faults", faults)
    cfg = write_config(tmp_path / "faults.yaml", sim.base_url, GOOD + REGRESSED)
    out = tmp_path / "out"
    done = run_cli("run", str(cfg), "--out", str(out))
    assert done.returncode == 1, done.stderr
    report = assert_reports_agree(out, 1)
    assert {g["name"]: g["status"] for g in report["gates"]} == {"smoke": "passed", "regressed": "failed"}
    assert "retrying" in done.stderr
    assert '"429"' in json.dumps(sim.stats()) or "429" in json.dumps(sim.stats())


def test_sigterm_mid_run_writes_reports_ends_calls_and_exits_143(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory("--speed", "1", "--seed", "3")  # real time: runs take tens of seconds
    cfg = write_config(tmp_path / "slow.yaml", sim.base_url, GOOD, timeout="10m")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "run", str(cfg), "--out", str(out)],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    assert process.stderr is not None
    stream = process.stderr
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True)
    reader.start()
    seen = ""
    try:
        while "started result" not in seen:  # every wait is bounded: a hung regate fails the test
            seen += lines.get(timeout=30)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
        stream.close()
    rest = "".join(lines.queue)
    stderr = seen + rest
    assert process.returncode == 143, stderr
    report = assert_reports_agree(out, 143)
    assert report["interrupted_by"] == "SIGTERM"
    assert "Interrupted" in (out / "junit.xml").read_text(encoding="utf-8")
    assert "end_calls" in json.dumps(sim.stats())


def test_a_wrong_key_is_an_auth_error_exit_3_without_leaking(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory("--speed", "600")
    cfg = write_config(tmp_path / "auth.yaml", sim.base_url, GOOD)
    out = tmp_path / "out"
    wrong = "wrong-key-0000-LEAKCHECK"
    done = run_cli("run", str(cfg), "--out", str(out), "--debug", env=cli_env(E2E_CEKURA_KEY=wrong))
    assert done.returncode == 3, done.stderr
    assert_reports_agree(out, 3)
    assert "AuthError" in (out / "junit.xml").read_text(encoding="utf-8")
    for text in (done.stdout, done.stderr, *read_all(out)):
        assert wrong not in text


def test_a_config_typo_exits_2_with_file_line_and_hint_and_no_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "typo.yaml"
    cfg.write_text(
        "version: 1\nproviders:\n  cekura:\n    base_url: simulator\ngates:\n"
        "  - name: smoke\n    provider: cekura\n    agent: 101\n    tagz: [smoke]\n",
        encoding="utf-8",
    )
    for command in ("run", "validate"):
        done = (
            run_cli(command, str(cfg), "--out", str(tmp_path / "o"))
            if command == "run"
            else run_cli(command, str(cfg))
        )
        assert done.returncode == 2, done.stderr
        assert f"{cfg}:9" in done.stderr and "tagz" in done.stderr and "did you mean 'tags'" in done.stderr
        assert "Traceback" not in done.stderr
