"""Sharding (`run --shard I/N`) and `regate merge`: N shard runs merge into the verdict one run gives."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from runner import cli
from runner.errors import UsageError
from runner.model import ExitCode
from runner.plan import parse_shard, shard_of
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
