"""The workflows in .github/workflows: the project's CI and the documented examples.

GitHub only runs them on GitHub; here we pin the properties that make them correct, the ones that are easy
to lose in an edit: the merge job that is never skipped, unique artifact names, a schedule that never
overlaps, keys only through env, regate only through the action (which execs it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as the boolean True (YAML 1.1); GitHub reads it as a string.
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = job["steps"]
    return result


ALL = sorted(path.name for path in WORKFLOWS.glob("*.yml"))


def test_the_expected_workflows_exist() -> None:
    assert ALL == [
        "ci.yml",
        "regate-nightly.yml",
        "regate-pr.yml",
        "regate-predeploy.yml",
        "regate-sharded.yml",
    ]


@pytest.mark.parametrize("name", ALL)
def test_every_workflow_has_least_privilege_timeouts_and_no_interpolation_into_scripts(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {"contents": "read"}
    for job_name, job in workflow["jobs"].items():
        if "steps" not in job:
            continue
        assert "timeout-minutes" in job or job.get("environment"), f"{name}:{job_name} has no timeout"
        for step in steps(job):
            # `${{ }}` inside a script is a script-injection risk: values go through env:, as in action.yml.
            assert "${{" not in step.get("run", ""), (
                f"{name}:{job_name}: {step.get('name', step['run'][:40])}"
            )
            for key in ("CEKURA_API_KEY", "FREEPLAY_API_KEY"):
                assert key not in str(step.get("with", {})), "keys go through env:, never as inputs"


def test_ci_runs_the_readme_test_command_on_three_pythons_and_the_action_green_and_red() -> None:
    ci = load("ci.yml")
    test = ci["jobs"]["test"]
    assert test["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]
    assert any(step.get("run") == "bash .ci/run" for step in steps(test))
    action = steps(ci["jobs"]["action"])
    configs = [step["with"]["config"] for step in action if step.get("uses") == "./"]
    assert configs == ["configs/demo.yaml", "configs/demo-regression.yaml"]
    red = next(step for step in action if step.get("id") == "red")
    assert red["continue-on-error"] is True
    check = next(step for step in action if "RED_CODE" in step.get("env", {}))
    assert 'test "$RED_CODE" = 1' in check["run"]


def test_the_pull_request_gate_runs_the_pr_label_and_keeps_its_reports() -> None:
    pr = load("regate-pr.yml")
    assert "pull_request" in pr["on"]
    gate = steps(pr["jobs"]["gate"])
    regate = next(step for step in gate if step.get("uses") == "./")
    assert regate["with"]["labels"] == "pr"
    assert set(regate["env"]) == {"CEKURA_API_KEY", "FREEPLAY_API_KEY"}
    upload = next(step for step in gate if str(step.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"].startswith("always()")  # also the reports of a cancelled (interrupted) run


def test_the_deploy_needs_the_gate_and_waits_for_the_environments_approval() -> None:
    jobs = load("regate-predeploy.yml")["jobs"]
    assert jobs["deploy"]["needs"] == "gate" and jobs["deploy"]["environment"] == "production"
    assert "if" not in jobs["deploy"]  # an `if: always()` here would deploy past a failed gate
    assert jobs["gate"]["outputs"]["verdict"] == "${{ steps.regate.outputs.verdict }}"


def test_the_nightly_job_runs_at_an_odd_utc_minute_never_overlaps_and_keeps_its_reports() -> None:
    nightly = load("regate-nightly.yml")
    (cron,) = (entry["cron"] for entry in nightly["on"]["schedule"])
    minute, hour = cron.split()[:2]
    assert minute.isdigit() and int(minute) % 2 == 1 and minute not in ("0", "30") and hour.isdigit()
    assert nightly["concurrency"] == {"group": "regate-nightly", "cancel-in-progress": False}
    job = steps(nightly["jobs"]["nightly"])
    upload = next(step for step in job if str(step.get("uses", "")).startswith("actions/upload-artifact"))
    assert (
        upload["with"]["name"] == "regate-nightly-${{ github.run_id }}" and upload["with"]["retention-days"]
    )
    trend = next(step for step in job if "regate report" in step.get("run", ""))
    assert "--history regate-history/*.json --html" in trend["run"]


def test_the_sharded_matrix_keeps_every_shard_and_its_merge_job_is_never_skipped() -> None:
    jobs = load("regate-sharded.yml")["jobs"]
    gate, merge = jobs["gate"], jobs["merge"]
    assert gate["strategy"]["fail-fast"] is False
    shards = gate["strategy"]["matrix"]["shard"]
    regate = next(step for step in steps(gate) if step.get("uses") == "./")
    assert regate["with"]["shard"] == f"${{{{ matrix.shard }}}}/{len(shards)}"
    assert "${{ matrix.shard }}" in regate["with"]["out"]  # each shard writes into its own folder...
    upload = next(
        step for step in steps(gate) if str(step.get("uses", "")).startswith("actions/upload-artifact")
    )
    assert upload["with"]["name"] == "regate-shard-${{ matrix.shard }}"  # ...under a unique artifact name
    assert merge["needs"] == "gate" and merge["if"] == "${{ !cancelled() }}"
    download = next(step for step in steps(merge) if str(step.get("uses", "")).startswith("actions/download"))
    assert download["with"]["pattern"] == "regate-shard-*" and download["with"]["merge-multiple"] is True
    script = next(step["run"] for step in steps(merge) if "regate merge" in step.get("run", ""))
    assert re.search(r"exec regate merge", script) and "exit 3" in script
