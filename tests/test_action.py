"""The composite action (action.yml): its run script, executed locally with the variables GitHub sets.

Pins: inputs reach the script only through env (no `${{ }}` in any script: no script injection), regate
is started with `exec` and no pipe (so it receives GitHub's cancel signals), the demo passes and the
regression fails through it, and the step outputs land in $GITHUB_OUTPUT.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
RUN_STEP: dict[str, Any] = next(step for step in ACTION["runs"]["steps"] if step.get("id") == "run")


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output),
        "REGATE_CONFIG": str(REPO / "configs" / config), "REGATE_ONLY": "smoke faq",
        "REGATE_OUT": str(tmp_path / "out"), "REGATE_ARGS": "--quiet",
    })  # fmt: skip
    done = subprocess.run(
        ["bash", "-c", RUN_STEP["run"]], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, done.stderr
    text = output.read_text(encoding="utf-8")
    assert "verdict<<" in text and f"\n{verdict}\n" in text
    assert "refunds" not in text  # --only smoke faq: the other gate was not run
