"""The composite action (action.yml): its run script, executed locally with the variables GitHub sets.

Pins: inputs reach the script only through env (no `${{ }}` in any script: no script injection), regate
is started with `exec` and no pipe (so it receives GitHub's cancel signals), the demo passes and the
regression fails through it, and the step outputs land in $GITHUB_OUTPUT.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
RUN_STEP: dict[str, Any] = next(step for step in ACTION["runs"]["steps"] if step.get("id") == "run")


def action_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    """The environment GitHub gives the run step: every variable of its ``env:`` mapping set from the
    inputs given (``only``, ``shard``, ...) or the input's default, plus the runner's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    for name, expression in RUN_STEP["env"].items():
        match = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", expression)
        assert match, f"{name} is not set from an input: {expression}"
        key = match.group(1)
        env[name] = inputs.get(key.replace("-", "_"), ACTION["inputs"][key].get("default", ""))
    env.update({
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "RUNNER_TEMP": str(tmp_path),
    })  # fmt: skip
    return env


def test_no_input_is_interpolated_into_a_script() -> None:
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")


def test_regate_is_execed_without_a_pipe() -> None:
    script = RUN_STEP["run"]
    assert "exec regate run" in script and "|" not in script.replace("||", "")


def test_every_declared_output_is_one_regate_writes() -> None:
    from runner.reporters.github import step_outputs
    from tests.reporters import factories as f

    written = set(step_outputs(f.v_all_passed(), junit=None, report_json=None))
    assert set(ACTION["outputs"]) == written


@pytest.mark.parametrize(
    ("config", "code", "verdict"),
    [("demo.yaml", 0, "passed"), ("demo-regression.yaml", 1, "failed")],
)
def test_the_action_script_gates_the_demo(tmp_path: Path, config: str, code: int, verdict: str) -> None:
    output = tmp_path / "github_output"
    env = action_env(
        tmp_path, config=str(REPO / "configs" / config), only="smoke faq", out=str(tmp_path / "out"),
        args="--quiet",
    )  # fmt: skip
    done = subprocess.run(
        ["bash", "-c", RUN_STEP["run"]], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, done.stderr
    text = output.read_text(encoding="utf-8")
    assert "verdict<<" in text and f"\n{verdict}\n" in text
    assert "refunds" not in text  # --only smoke faq: the other gate was not run


def test_the_action_runs_one_shard_and_a_label_selection(tmp_path: Path) -> None:
    """`shard: 2/3` and `labels:` inputs become --shard and --label: the report is that shard's, with
    only gates of the label."""
    import json

    env = action_env(
        tmp_path, config=str(REPO / "configs" / "demo.yaml"), shard="1/1", labels="pr",
        out=str(tmp_path / "out"), args="--quiet",
    )  # fmt: skip
    done = subprocess.run(
        ["bash", "-c", RUN_STEP["run"]], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["shard"] == "1/1"
    assert [gate["name"] for gate in report["gates"]] == ["smoke"]  # the only gate labelled pr


def test_pip_is_cached_without_hashing_files_outside_the_callers_workspace(tmp_path: Path) -> None:
    """From another repository the action lives outside the workspace, where setup-python's own cache
    cannot hash files: the key is computed by a script that runs anywhere, here with GitHub's variables."""
    steps = ACTION["runs"]["steps"]
    assert not any("cache-dependency-path" in step.get("with", {}) for step in steps)
    locate = next(step for step in steps if step.get("id") == "pip-cache")
    env = {**os.environ, "GITHUB_OUTPUT": str(tmp_path / "out"), "REGATE_ACTION_PATH": str(REPO)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(["bash", "-c", locate["run"]], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    values = dict(line.split("=", 1) for line in (tmp_path / "out").read_text(encoding="utf-8").splitlines())
    assert Path(values["dir"]).is_absolute() and re.fullmatch(r"[0-9a-f]{16}", values["hash"])
    cache = next(step for step in steps if str(step.get("uses", "")).startswith("actions/cache@"))
    assert "steps.pip-cache.outputs.hash" in cache["with"]["key"]
