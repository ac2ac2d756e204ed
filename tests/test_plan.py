"""`regate plan` / `run --dry-run` and `--only`: what a run would start, computed without any call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner import cli
from runner.errors import UsageError
from runner.model import ExitCode
from runner.plan import plan_gate, select_gates
from runner.settings import CekuraMode, ScenarioRef
from runner.simulator.server import SimServer, build_app
from tests.test_cekura_provider import gate
from tests.test_orchestrator import config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("spec", "calls"),
    [
        pytest.param(
            gate(frequency=2, personalities=(1, 2), test_profiles=(3,)),
            2 * 2 * 2 * 1,
            id="voice-scenarios-x-frequency-x-personalities-x-profiles",
        ),
        pytest.param(gate(CekuraMode.WEBSOCKET, frequency=3), 2 * 3, id="websocket-has-no-multipliers"),
        pytest.param(
            gate(CekuraMode.PIPECAT_V1, scenarios=(ScenarioRef(1, pipecat_room_url="https://r"),)),
            1,
            id="pipecat-v1-one-run-per-entry",
        ),
        pytest.param(gate(scenarios=(), tags=("smoke",)), None, id="tags-are-resolved-by-the-platform"),
    ],
)
def test_call_counts_follow_the_contracts_expansion_rules(spec: Any, calls: int | None) -> None:
    assert plan_gate(spec).calls == calls


def test_only_keeps_matching_gates_and_refuses_a_pattern_that_matches_none() -> None:
    from tests.test_orchestrator import spec

    cfg = config(spec("smoke"), spec("nightly.full"), spec("nightly.quick"))
    assert [g.name for g in select_gates(cfg, ["nightly.*"]).gates] == ["nightly.full", "nightly.quick"]
    assert [g.name for g in select_gates(cfg, ["smoke", "nightly.quick"]).gates] == ["smoke", "nightly.quick"]
    with pytest.raises(UsageError, match="matches no gate"):
        select_gates(cfg, ["smok"])


def test_plan_prints_counts_and_the_platform_sees_no_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against a live simulator: `plan` and `run --dry-run` place no request at all."""
    with SimServer(build_app(None, 1.0, 0, None, ["k"]), "127.0.0.1", 0) as server:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(
            f"version: 1\nproviders: {{cekura: {{base_url: '{server.base_url}', api_key: k}}}}\ngates:\n"
            "  - {name: smoke, agent: 101, scenarios: [201, 202], frequency: 2, personalities: [301, 302]}\n",
            encoding="utf-8",
        )
        assert cli.main(["plan", str(cfg)], env={}) == ExitCode.OK
        assert cli.main(["run", str(cfg), "--dry-run", "--out", str(tmp_path / "o")], env={}) == ExitCode.OK
        assert server.app.stats()["total"] == 0
    out = capsys.readouterr().out
    assert "8 run(s): 2 scenarios × frequency 2 × personalities 2 × test profiles 1" in out
    assert "total: 8 run(s) known" in out
    assert not (tmp_path / "o").exists()  # a dry run writes no reports


def test_plan_of_the_demo_names_every_gate(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", str(REPO / "configs" / "demo.yaml")], env={}) == ExitCode.OK
    out = capsys.readouterr().out
    assert all(f"  {name}: " in out for name in ("smoke", "refunds", "faq"))
    assert "executes command python3 examples/support_target.py" in out


def json_gates_config(tmp_path: Path, base_url: str, key: str = "k") -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"version: 1\nproviders: {{cekura: {{base_url: '{base_url}', api_key: {key}}}}}\ngates:\n"
        "  - name: suite-ok\n    agent: 101\n    mode: json\n    channel: text\n    spec:\n"
        "      version: '1'\n      scenarios:\n"
        "        - {key: a, name: A, instructions: Ask, expected_outcome: Answered, frequency: 3}\n"
        "        - {key: b, name: B, instructions: Ask, expected_outcome: Answered}\n"
        "  - name: suite-bad\n    agent: 101\n    mode: json\n    spec:\n"
        "      version: '1'\n      scenarios:\n"
        "        - {key: a, name: A, instructions: Ask, expected_outcome: Answered,\n"
        "           metrics: [no-such-metric]}\n"
        "  - {name: smoke, agent: 101, scenarios: [201]}\n",
        encoding="utf-8",
    )
    return cfg


def test_plan_validate_asks_the_platform_for_a_free_dry_run_of_each_spec_and_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cekura's `run_scenarios_json?dry_run=true` judges each tests-as-code spec; a rejected spec is a
    config error (exit 2) naming the spec location; other gates are "not checked", never "valid"."""
    with SimServer(build_app(None, 1.0, 0, None, ["k"]), "127.0.0.1", 0) as server:
        cfg = json_gates_config(tmp_path, server.base_url)
        assert cli.main(["plan", str(cfg), "--validate"], env={}) == ExitCode.USAGE
        stats = server.app.stats()
        assert stats["results"] == 0 and stats["runs"] == 0  # nothing created
        assert stats["total"] == 2  # one dry run per json gate, nothing for the others
        out = capsys.readouterr().out
        assert "  suite-ok: valid: 2 scenarios, 4 runs, channel text, estimated cost " in out
        assert "  suite-bad: invalid: " in out and "scenarios[0].metrics[0]" in out
        assert "  smoke: not checked: cekura/voice: the platform offers no free check" in out
        assert cli.main(["plan", str(cfg), "--validate", "--only", "suite-ok"], env={}) == ExitCode.OK


def test_plan_validate_with_a_refused_key_or_no_platform_is_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SimServer(build_app(None, 1.0, 0, None, ["k"]), "127.0.0.1", 0) as server:
        cfg = json_gates_config(tmp_path, server.base_url, key="wrong")
        assert cli.main(["plan", str(cfg), "--validate"], env={}) == ExitCode.INCOMPLETE
        assert "wrong" not in capsys.readouterr().err
        url = server.base_url
    cfg = json_gates_config(tmp_path, url)  # the server is gone: nothing listens there any more
    assert cli.main(["plan", str(cfg), "--validate", "--only", "suite-ok"], env={}) == ExitCode.INCOMPLETE
    assert "  suite-ok: unreachable: " in capsys.readouterr().out
