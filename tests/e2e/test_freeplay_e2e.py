"""Freeplay as a user runs it: `regate run` against `regate sim`, and a client written for Freeplay's API
working unchanged against the simulator."""

from __future__ import annotations

import json
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import API_KEY, run_cli

pytestmark = pytest.mark.e2e

PROJECT = "6f1c2a3b-8d4e-4f5a-9b6c-7d8e9f0a1b2c"
TARGET = Path(__file__).resolve().parents[2] / "configs" / "examples" / "support_target.py"


def config(path: Path, base_url: str, command: str) -> Path:
    path.write_text(
        f"""version: 1
providers:
  freeplay: {{base_url: "{base_url}", api_key: "${{E2E_CEKURA_KEY}}"}}
defaults:
  timeout: 60s
  poll: {{initial: 50ms, max: 200ms}}
  retry: {{attempts: 4, base: 20ms, max: 200ms, budget: 200}}
gates:
  - name: faq
    provider: freeplay
    project: {PROJECT}
    dataset: support-faq
    target: {{command: {command}, timeout: 20s}}
    thresholds:
      evaluations: {{Answer Accuracy: "pass_rate >= 90%"}}
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("command", "code"),
    [
        pytest.param(f"[{sys.executable!r}, {str(TARGET)!r}]", 0, id="good-agent-passes"),
        pytest.param(f"[{sys.executable!r}, -c, 'raise SystemExit(7)']", 1, id="crashing-agent-fails"),
    ],
)
def test_a_dataset_gate_end_to_end_accounts_for_every_test_case(
    sim_factory: Any, tmp_path: Path, command: str, code: int
) -> None:
    sim = sim_factory("--speed", "600", "--seed", "2")
    out = tmp_path / "out"
    done = run_cli("run", str(config(tmp_path / "fp.yaml", sim.base_url, command)), "--out", str(out))
    assert done.returncode == code, done.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (gate,) = report["gates"]
    assert len(gate["runs"]) == 9  # every test case, passed or not
    root = ET.parse(out / "junit.xml").getroot()  # noqa: S314 - our own output
    cases = [c for c in root.iter("testcase") if c.get("classname") == "regate.runs.faq"]
    assert len(cases) == 9
    if code == 1:
        assert all(c.find("skipped") is not None for c in cases)
        assert "exited with code 7" in (cases[0].find("skipped").text or "")  # type: ignore[union-attr]
        assert "max\\_target\\_errors" in (out / "summary.md").read_text(encoding="utf-8")  # escaped _
    else:
        summary = (out / "summary.md").read_text(encoding="utf-8")
        assert "### Evaluations" in summary and "Answer Accuracy" in summary
    assert API_KEY not in done.stderr + json.dumps(report)


def test_a_client_written_for_freeplays_api_works_unchanged(sim_factory: Any) -> None:
    """Create a test run, record each case as a completion with test_run_info, poll the run to `complete`
    and read summary_statistics — the SDK's calls, with the Bearer header and field names."""
    sim = sim_factory("--speed", "600", "--seed", "2")
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    base = f"{sim.base_url}/api/v2/projects/{PROJECT}"
    with httpx.Client(headers=headers, timeout=10) as client:
        created = client.post(
            f"{base}/test-runs", json={"dataset_name": "support-faq", "include_outputs": False}
        )
        assert created.status_code == 201, created.text
        run = created.json()
        assert run["trace_test_cases"] == [] and run["test_cases"]
        for case in run["test_cases"]:
            run_info = {"test_run_id": run["test_run_id"], "test_case_id": case["test_case_id"]}
            recorded = client.post(
                f"{base}/sessions/{uuid.uuid4()}/completions",
                json={
                    "messages": [{"role": "user", "content": case["variables"]["question"]},
                                 {"role": "assistant", "content": "I am not sure."}],
                    "inputs": case["variables"],
                    "test_run_info": run_info,
                },
            )  # fmt: skip
            assert recorded.status_code == 201, recorded.text
        deadline = time.monotonic() + 30
        while True:  # no sleep: each request paces the loop and the simulator runs 600x faster
            result = client.get(f"{base}/test-runs/id/{run['test_run_id']}").json()
            if result["status"] == "complete":
                break
            assert result["status"] == "in-progress" and time.monotonic() < deadline
        stats = result["summary_statistics"]
        assert set(stats) >= {"auto_evaluation", "human_evaluation", "client_evaluation"}
        assert stats["auto_evaluation"]["Answer Accuracy"]["fail"] == len(run["test_cases"])
        unauthorised = httpx.get(f"{base}/test-runs", timeout=10)
        assert unauthorised.status_code == 401 and "message" in unauthorised.json()
