"""Under GitHub Actions only: secrets masked first, per-gate detail in log groups, annotations within the
job's budget of 50 (counted across regate steps in ``$RUNNER_TEMP``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import cli
from runner.config import load_config
from runner.masking import MIN_MASKED, mask_commands, secret_values
from runner.model import ExitCode

REPO = Path(__file__).resolve().parents[1]
KEY = "ck_live_7f3a9c1e5b2d4f6a8c0e"


def github_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(tmp_path), **extra}


def test_the_masked_values_are_the_keys_and_the_environment_values_read_into_secret_places(
    tmp_path: Path,
) -> None:
    """Keys, and `${VAR}` values used in headers or a target's env (or named like secrets); literal config
    values and short ones are not masked: GitHub would blank every occurrence of them in the log."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "version: 1\n"
        "providers: {cekura: {base_url: 'https://api.example.test', api_key: '${CEKURA_API_KEY}'},\n"
        "            freeplay: {base_url: 'https://app.example.test', api_key: '${FREEPLAY_API_KEY}'}}\n"
        "gates:\n"
        "  - {name: a, agent: 1, mode: text, scenarios: [1], websocket_url: 'wss://x.test',\n"
        "     websocket_headers: {X-Token: 'Bearer ${WS_TOKEN}'}}\n"
        "  - name: b\n    provider: freeplay\n    project: 6f1c2a3b-8d4e-4f5a-9b6c-7d8e9f0a1b2c\n"
        "    dataset: d\n"
        "    target: {command: [t], env: {MODE: '${MODE}', LEVEL: regressed, PIN: '${PIN}'}}\n",
        encoding="utf-8",
    )
    env = {
        "CEKURA_API_KEY": KEY, "FREEPLAY_API_KEY": "fp_0123456789abcdef", "WS_TOKEN": "ws-0123456789",
        "MODE": "canary-mode", "PIN": "12",
    }  # fmt: skip
    values = secret_values(load_config(str(path), env))
    assert set(values) == {KEY, "fp_0123456789abcdef", "ws-0123456789", "canary-mode"}
    assert "regressed" not in values and "12" not in values and len("12") < MIN_MASKED


def test_the_simulators_public_key_is_not_masked() -> None:
    cfg = load_config(str(REPO / "configs" / "demo.yaml"), {})
    assert secret_values(cfg) == ()


def test_a_mask_command_is_one_line_per_value_and_per_line_of_a_multiline_value() -> None:
    assert mask_commands(("a%b",)) == ["::add-mask::a%25b"]
    assert mask_commands(("line-one\nline-two",)) == [
        "::add-mask::line-one%0Aline-two",
        "::add-mask::line-one",
        "::add-mask::line-two",
    ]


def test_under_github_the_key_is_masked_before_anything_else_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "version: 1\n"
        "providers: {cekura: {base_url: 'https://api.example.test', api_key: '${CEKURA_API_KEY}'}}\n"
        "gates: [{name: a, agent: 1, scenarios: [1]}]\n",
        encoding="utf-8",
    )
    for command in (["validate", str(path)], ["plan", str(path)]):
        assert cli.main(command, env=github_env(tmp_path, CEKURA_API_KEY=KEY)) == ExitCode.OK
        captured = capsys.readouterr()
        assert captured.out.splitlines()[0] == f"::add-mask::{KEY}"
        assert KEY not in captured.err and captured.out.count(KEY) == 1
    # Outside GitHub Actions nothing is masked (and the key is printed nowhere).
    assert cli.main(["validate", str(path)], env={"CEKURA_API_KEY": KEY}) == ExitCode.OK
    captured = capsys.readouterr()
    assert KEY not in captured.out + captured.err and "::add-mask::" not in captured.out


def test_under_github_each_gates_checks_are_in_a_log_group_and_annotations_use_the_job_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = str(REPO / "configs" / "demo-regression.yaml")
    env = github_env(tmp_path)
    assert cli.main(["run", config_path, "--out", str(tmp_path / "a")], env=env) == ExitCode.REGRESSION
    captured = capsys.readouterr()
    groups = [line for line in captured.err.splitlines() if line.startswith("::group::")]
    assert sorted(groups) == ["::group::faq: checks", "::group::refunds: checks", "::group::smoke: checks"]
    assert captured.err.count("::endgroup::") == 3
    # every group closes before the next one opens: concurrent gates never interleave inside one
    opened = 0
    for line in captured.err.splitlines():
        opened += line.startswith("::group::") - (line == "::endgroup::")
        assert opened in (0, 1)
    errors = [line for line in captured.out.splitlines() if line.startswith("::error")]
    assert len(errors) == 3
    assert (tmp_path / "regate-annotations").read_text(encoding="ascii") == "3"

    # A later regate step of the same job with 2 annotations left: one gate shown, one line for the rest.
    (tmp_path / "regate-annotations").write_text("48", encoding="ascii")
    assert cli.main(["run", config_path, "--out", str(tmp_path / "b")], env=env) == ExitCode.REGRESSION
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("::")]
    assert len(lines) == 2 and lines[-1] == "::error::2 more gates did not pass: see the step summary"
    assert (tmp_path / "regate-annotations").read_text(encoding="ascii") == "50"
    assert cli.main(["run", config_path, "--out", str(tmp_path / "c")], env=env) == ExitCode.REGRESSION
    assert not [line for line in capsys.readouterr().out.splitlines() if line.startswith("::")]
