"""The fault-table script (scripts/fault_table.py): the same functions the README's table comes from.

Specifies: every case of every family is in the matrix once (ids unique); a row says the fault, the
expected behaviour with its exit code, what was observed (✅ as specified, ❌ otherwise, a known regate bug
marked as such) and the data lost; cells cannot break the Markdown table; a few real cases, run through
``run_matrix``, give the rows and the exit status the script prints.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from tests.reliability.harness import CEKURA, Case, GateSeen, Observation, exactly

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fault_table.py"


@pytest.fixture(scope="module")
def table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fault_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def fake(case: Case, *, exit_code: int, status: str, lost: int = 0) -> Observation:
    stats = {"requests": {"POST /test_framework/v1/scenarios/run_scenarios/": 1}, "faults": {"503": 1}}
    gates = {"smoke": GateSeen(status, (), "1001", frozenset({"20001"}))}
    return Observation(case, exit_code, gates, stats, lost, 0, 0.25, "")


CASE = Case(
    id="pipe-in-behaviour",
    family="server errors",
    faults="results:503@#2",
    config_overrides={"timeout": "2s"},
    expected_exit=0,
    expected_gate_status={"smoke": "passed"},
    request_assertions=(exactly("start", 1),),
    expected_behaviour="retried | then pass",
    gates=CEKURA,
)


def test_every_case_is_in_the_matrix_once(table: ModuleType) -> None:
    cases = table.all_cases()
    ids = [case.id for case in cases]
    assert len(ids) == len(set(ids)) >= 40
    assert {case.family for case in cases} == {
        "rate limits", "server errors", "transport", "bodies", "auth", "dropped start",
    }  # fmt: skip


def test_a_row_has_four_cells_and_escapes_pipes(table: ModuleType) -> None:
    row = table.Row(CASE, fake(CASE, exit_code=0, status="passed"), ())
    header, _, line = table.render([row]).splitlines()
    assert header == "| fault | expected behaviour | observed | data lost |"
    cells = [c.strip() for c in line.replace("\\|", "¦").strip("|").split("|")]
    assert cells == [
        "server errors: `results:503@#2` · timeout 2s",
        "exit 0: retried ¦ then pass",
        "✅ exit 0; smoke passed; 1 start (1 faulted); 0.2 s",
        "0",
    ]


def test_a_deviation_is_marked_with_its_first_problem(table: ModuleType) -> None:
    """A row that differs says how; a known regate bug (an xfail case) is acceptable, anything else not."""
    observation = fake(CASE, exit_code=3, status="error", lost=2)
    row = table.Row(CASE, observation, ("exit code 3, expected 0", "gate statuses differ"))
    known = table.Row(replace(CASE, xfail="a bug"), observation, row.problems)
    assert table.describe_observed(row).startswith("❌ exit 3; smoke error")
    assert table.describe_observed(row).endswith("— exit code 3, expected 0")
    assert table.describe_observed(known).startswith("❌ (known regate bug) exit 3")
    assert not row.acceptable and known.acceptable
    assert table.render([row]).splitlines()[2].endswith("| 2 |")


def test_selection_by_family_and_id(table: ModuleType) -> None:
    cases = table.all_cases()
    assert {c.family for c in table.select(cases, ["auth"], [])} == {"auth"}
    assert [c.id for c in table.select(cases, [], ["websocket-start"])] == ["websocket-start-dropped"]


def test_real_cases_through_the_matrix(table: ModuleType, tmp_path: Path) -> None:
    """Three real rows -- a found-again start, an error and an unreadable start answer -- as printed."""
    wanted = ("cekura-start-dropped", "result-vanishes", "start-answer-is-empty")
    cases = [c for c in table.all_cases() if c.id in wanted]
    rows = table.run_matrix(cases, tmp_path)
    by_id = {row.case.id: row for row in rows}
    assert by_id["cekura-start-dropped"].as_specified
    assert by_id["result-vanishes"].as_specified and by_id["result-vanishes"].observation.exit_code == 3
    assert by_id["start-answer-is-empty"].as_specified
    assert all(row.observation.data_lost == 0 for row in rows)
    body = table.render(rows).splitlines()[2:]
    assert len(body) == 3
    assert any(line.startswith("| dropped start: `start:drop@#1` | exit 0: found again") for line in body)
    assert sum("✅" in line for line in body) == 3


def test_the_script_prints_the_table_and_exits_0_when_all_is_as_expected(
    table: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "table.md"
    assert table.main(["--case", "reset-on-polls", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out == out.read_text(encoding="utf-8")
    assert printed.out.count("\n") == 3 and "✅ exit 0" in printed.out
    assert "1 cases" in printed.err and "0 unexpected" in printed.err
