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
