"""The CLI's error boundary, in-process: exit codes, one-line errors without tracebacks, reports on a bug."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner import cli, cli_run
from runner.model import ExitCode

REPO = Path(__file__).resolve().parents[1]


def test_validate_accepts_the_shipped_configs_without_network(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("demo.yaml", "demo-regression.yaml"):
        assert cli.main(["validate", str(REPO / "configs" / name)], env={}) == ExitCode.OK
    env = {"CEKURA_API_KEY": "k", "FREEPLAY_API_KEY": "k", "OPENAI_API_KEY": "k", "AGENT_TOKEN": "k"}
    for name in ("cekura.yaml", "freeplay.yaml"):
        assert cli.main(["validate", str(REPO / "configs" / "examples" / name)], env=env) == ExitCode.OK
    assert "is valid" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        pytest.param([], "required: command", id="no-command"),
        pytest.param(["run"], "required: config", id="no-config"),
        pytest.param(["frobnicate"], "invalid choice", id="unknown-command"),
        pytest.param(["validate", "/nonexistent/regate.yaml"], "config file not found", id="missing-file"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_a_hint(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv, env={}) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert needle in err and "regate: hint:" in err and "Traceback" not in err


def test_a_bug_exits_4_and_still_leaves_reports_that_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(cli_run, "execute", broken)
    out = tmp_path / "out"
    code = cli.main(["run", str(REPO / "configs" / "demo.yaml"), "--out", str(out)], env={})
    assert code == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: simulated bug" in err and "Traceback" not in err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["exit_code"] == 4
    assert "RunnerError" in (out / "junit.xml").read_text(encoding="utf-8")


def test_under_github_actions_failed_gates_are_annotated_and_outputs_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GITHUB_ACTIONS=true: one ::error per failed gate on stdout, and the step outputs in $GITHUB_OUTPUT."""
    output = tmp_path / "github_output"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output)}
    regression = str(REPO / "configs" / "demo-regression.yaml")
    code = cli.main(["run", regression, "--out", str(tmp_path / "o"), "--quiet"], env=env)
    assert code == ExitCode.REGRESSION
    stdout = capsys.readouterr().out
    assert sorted(line.split("::")[1] for line in stdout.splitlines()) == [
        "error title=regate%3A gate faq failed",
        "error title=regate%3A gate refunds failed",
        "error title=regate%3A gate smoke failed",
    ]
    assert "exit-code<<" in output.read_text(encoding="utf-8")


def test_outside_github_actions_nothing_github_specific_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regression = str(REPO / "configs" / "demo-regression.yaml")
    assert (
        cli.main(["run", regression, "--out", str(tmp_path / "o"), "--quiet"], env={}) == ExitCode.REGRESSION
    )
    assert capsys.readouterr().out == ""


def _imported_after(command: list[str], modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``regate <command>``."""
    import subprocess
    import sys

    script = (
        "import contextlib, io, sys\n"
        "from runner import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        f"        cli.main({command!r}, env={{}})\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(','.join(m for m in {modules!r} if m in sys.modules))\n"
    )
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [name for name in done.stdout.strip().split(",") if name]


@pytest.mark.parametrize(
    "command", [["--help"], ["validate", "configs/demo.yaml"], ["plan", "configs/demo.yaml"]]
)
def test_help_validate_and_plan_do_not_import_the_heavy_parts(command: list[str]) -> None:
    """They start fast because httpx, anyio, the reporters and the simulator are imported only by the
    commands that use them (start-up time itself is measured by benchmarks/, not here)."""
    heavy = ("httpx", "anyio", "junit_xml", "runner.reporters", "runner.simulator", "runner.orchestrator")
    assert _imported_after(command, heavy) == []


def test_help_does_not_build_the_data_model_nor_the_logging() -> None:
    """``--help`` needs only the exit codes and the parser: the model's dataclasses were a fifth of its
    start-up, and ``logging`` and ``dataclasses`` (with ``inspect``) another 20 ms."""
    assert _imported_after(["--help"], ("runner.model", "logging", "dataclasses")) == []
