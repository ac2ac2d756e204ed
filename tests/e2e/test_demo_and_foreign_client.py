"""What a new user sees: the shipped demo configs, and a client written for the real Cekura API working
unchanged against `regate sim`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import API_KEY, run_cli

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
TERMINAL = {"completed", "failed", "timeout", "cancelled"}  # Cekura's TERMINAL_RESULT_STATUSES


def test_the_demo_config_passes_quickly_and_writes_three_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    done = run_cli("run", str(REPO / "configs" / "demo.yaml"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.json", "summary.md"]


def test_the_regression_demo_fails_and_says_which_checks_and_why(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli("run", str(REPO / "configs" / "demo-regression.yaml"), "--out", str(out))
    assert done.returncode == 1, done.stderr
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## ❌") and "Why it failed" in summary
    assert "expected outcome not met" in summary  # the reasons of failing runs, not just numbers
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {gate["status"] for gate in report["gates"]} == {"failed"}


@pytest.mark.parametrize("trailing_slash", [True, False], ids=["docs-style-slash", "sdk-style-no-slash"])
def test_a_client_written_for_the_real_api_works_unchanged(sim_factory: Any, trailing_slash: bool) -> None:
    """The calls Cekura's own CI makes (start, poll to a terminal status, share link, end calls), with the
    documented header and fields, against the simulator's loopback server."""
    sim = sim_factory("--speed", "600", "--seed", "5")
    slash = "/" if trailing_slash else ""
    headers = {"X-CEKURA-API-KEY": API_KEY, "Content-Type": "application/json"}
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=10, follow_redirects=True) as client:
        start = client.post(
            f"/test_framework/v1/scenarios/run_scenarios{slash}",
            json={"agent_id": 101, "scenarios": [201, 202], "frequency": 2, "name": "foreign client"},
        )
        assert start.status_code in (200, 201, 202), start.text
        result_id = start.json()["id"]
        assert isinstance(start.json()["runs"], list)  # the start summary lists runs as an array
        deadline = time.monotonic() + 30
        while True:
            data = client.get(f"/test_framework/v1/results/{result_id}{slash}").json()
            if str(data["status"]).lower() in TERMINAL:
                break
            # No sleep: each request paces the loop, and the simulator runs 600x faster than real time.
            assert time.monotonic() < deadline, data["status"]
        assert data["status"] == "completed" and int(data["total_runs_count"]) == 4
        runs = list(data["runs"].values())  # the detail maps run ids to runs
        successes = sum(1 for run in runs if run["status"] == "completed" and run["success"])
        assert data["success_rate"] == pytest.approx(100 * successes / 4, abs=0.01)  # percent, 0-100
        result_path = f"/test_framework/v1/results/{result_id}"
        link = client.post(f"{result_path}/create_shareable_link_token{slash}", json={})
        assert link.status_code == 200 and link.json()["shareable_link"].startswith("http")
        ended = client.post(f"{result_path}/end_calls{slash}")
        assert ended.status_code == 200
        query = {"search": "foreign", "agent_id": 101}
        listed = client.get("/test_framework/v1/results/", params=query).json()
        assert [item["id"] for item in listed["results"]] == [result_id]
        unauthorised = httpx.get(f"{sim.base_url}/test_framework/v1/results/{result_id}/", timeout=10)
        assert unauthorised.status_code == 401
