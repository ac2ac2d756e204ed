"""Sharding (`run --shard I/N`) and `regate merge`: N shard runs merge into the verdict one run gives."""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from runner import cli
from runner.errors import UsageError
from runner.model import ExitCode
from runner.plan import SHARD_SLACK, parse_shard, plan_gate, shard_of
from runner.settings import Config, ScenarioRef
from tests.test_orchestrator import config, spec

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / "configs" / "demo.yaml")


def test_every_gate_lands_in_exactly_one_shard_the_same_way_every_time() -> None:
    cfg = config(*(spec(f"g{i}") for i in range(7)))
    first = shard_of(cfg, 3)
    assert first == shard_of(cfg, 3)
    assert set(first) == {f"g{i}" for i in range(7)} and set(first.values()) == {1, 2, 3}
    sizes = sorted(list(first.values()).count(i) for i in (1, 2, 3))
    assert sizes == [2, 2, 3]  # balanced


def _random_config(rng: random.Random, count: int) -> Config:
    sizes = [1, 1, 2, 3, 5, 8, 20]  # scenarios per gate: a few heavy gates among many light ones
    gates = {f"gate-{rng.randrange(10**6)}": rng.choice(sizes) for _ in range(count)}
    return config(
        *(replace(spec(n), scenarios=tuple(ScenarioRef(i + 1) for i in range(k))) for n, k in gates.items())
    )


def _loads(cfg: Config, count: int) -> list[int]:
    assignment = shard_of(cfg, count)
    weights = {g.name: plan_gate(g).calls or 0 for g in cfg.gates}
    return [sum(w for n, w in weights.items() if assignment[n] == i) for i in range(1, count + 1)]


def test_the_split_is_balanced_by_expected_runs_within_the_slack_or_one_gate() -> None:
    """The heaviest shard carries at most (1 + slack) x an equal share, or an equal share plus the one
    gate that could not fit anywhere (a gate is never split)."""
    rng = random.Random(20261126)
    for _ in range(200):
        count = rng.randint(2, 6)
        cfg = _random_config(rng, rng.randint(count, 40))
        loads = _loads(cfg, count)
        share = sum(loads) / count
        heaviest_gate = max(plan_gate(g).calls or 0 for g in cfg.gates)
        assert max(loads) <= max((1 + SHARD_SLACK) * share, share + heaviest_gate), loads


def test_adding_a_gate_moves_few_of_the_others() -> None:
    """Stable when a gate is added elsewhere: on average under 15% of the existing gates change shard
    (a greedy largest-first split moves over 20%; plain hashing 0% but unbalanced)."""
    rng = random.Random(7)
    moved: list[float] = []
    for trial in range(200):
        count = rng.randint(2, 6)
        cfg = _random_config(rng, rng.randint(5, 40))
        before = shard_of(cfg, count)
        grown = replace(cfg, gates=(*cfg.gates, replace(spec(f"new-{trial}"), scenarios=(ScenarioRef(1),))))
        after = shard_of(grown, count)
        moved.append(sum(before[n] != after[n] for n in before) / len(before))
    assert sum(moved) / len(moved) < 0.15


def test_the_split_does_not_depend_on_the_order_of_the_gates_in_the_file() -> None:
    rng = random.Random(3)
    cfg = _random_config(rng, 25)
    assert shard_of(cfg, 4) == shard_of(replace(cfg, gates=tuple(reversed(cfg.gates))), 4)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1-3", "a/b", "3"])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_shard(text)


def _names(path: Path) -> list[tuple[str | None, str | None]]:
    root = ET.parse(path).getroot()  # noqa: S314 - our own output
    return sorted((c.get("classname"), c.get("name")) for c in root.iter("testcase"))


def test_three_shards_merge_into_the_unsharded_verdict_and_test_names(tmp_path: Path) -> None:
    for i in (1, 2, 3):
        assert (
            cli.main(["run", DEMO, "--shard", f"{i}/3", "--out", str(tmp_path / str(i)), "--quiet"], env={})
            == 0
        )
    reports = [str(tmp_path / str(i) / "report.json") for i in (1, 2, 3)]
    assert cli.main(["merge", *reports, "--out", str(tmp_path / "merged")], env={}) == ExitCode.OK
    assert cli.main(["run", DEMO, "--out", str(tmp_path / "whole"), "--quiet"], env={}) == ExitCode.OK
    assert _names(tmp_path / "merged" / "junit.xml") == _names(tmp_path / "whole" / "junit.xml")
    merged = json.loads((tmp_path / "merged" / "report.json").read_text(encoding="utf-8"))
    assert merged["status"] == "passed" and len(merged["gates"]) == 3


def test_a_missing_shard_is_incomplete_and_mismatched_reports_are_refused(tmp_path: Path) -> None:
    for i in (1, 2):
        cli.main(["run", DEMO, "--shard", f"{i}/2", "--out", str(tmp_path / str(i)), "--quiet"], env={})
    one = str(tmp_path / "1" / "report.json")
    assert cli.main(["merge", one, "--out", str(tmp_path / "m")], env={}) == ExitCode.INCOMPLETE
    merged = json.loads((tmp_path / "m" / "report.json").read_text(encoding="utf-8"))
    assert "shard 2/2 is missing" in merged["runner_errors"][0]
    assert cli.main(["merge", one, one, "--out", str(tmp_path / "d")], env={}) == ExitCode.USAGE  # twice
    other = tmp_path / "other.json"
    document = json.loads(Path(one).read_text(encoding="utf-8"))
    other.write_text(json.dumps({**document, "config_path": "elsewhere.yaml"}), encoding="utf-8")
    assert cli.main(["merge", one, str(other), "--out", str(tmp_path / "x")], env={}) == ExitCode.USAGE
    assert cli.main(["merge", str(tmp_path / "nope.json")], env={}) == ExitCode.USAGE
