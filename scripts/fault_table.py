#!/usr/bin/env python3
"""Run regate's fault matrix and print it as a Markdown table.

    python scripts/fault_table.py                      # every case (about a minute)
    python scripts/fault_table.py --family transport   # one family
    python scripts/fault_table.py --case 429 --case drop --out table.md

Each case of ``tests/reliability/test_fault_*.py`` runs for real: the simulator on 127.0.0.1 with the
case's faults, ``regate run`` in-process (see ``tests/reliability/harness.py``). The table has one row per
case: the fault, the behaviour the case specifies, what was observed (✅ as specified, ❌ not -- a case
marked as a known regate bug says so), and "data lost": runs or test cases the platform holds that
report.json does not (must be 0). The exit status is 0 when every case behaved as specified or as its
known bug says, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(REPO))

from tests.reliability import (  # noqa: E402 - after the path set-up above
    test_fault_auth,
    test_fault_bodies,
    test_fault_dropped_start,
    test_fault_rate_limits,
    test_fault_server_errors,
    test_fault_transport,
)
from tests.reliability.harness import DEFAULTS, KEY, Case, Observation, problems, run_case, summarise  # noqa: E402

FAMILIES = (
    test_fault_rate_limits,
    test_fault_server_errors,
    test_fault_transport,
    test_fault_bodies,
    test_fault_auth,
    test_fault_dropped_start,
)
HEADER = "| fault | expected behaviour | observed | data lost |\n|---|---|---|---|"
PROBLEM_CHARS = 160  # an observed cell quotes the first problem up to this length


def all_cases() -> list[Case]:
    return [case for module in FAMILIES for case in module.CASES]


@dataclass(frozen=True, slots=True)
class Row:
    case: Case
    observation: Observation
    problems: tuple[str, ...]

    @property
    def as_specified(self) -> bool:
        return not self.problems

    @property
    def acceptable(self) -> bool:
        """As specified, or failing as a known regate bug (a strict xfail in the tests) says."""
        return self.as_specified != bool(self.case.xfail)


def run_matrix(cases: Iterable[Case], workdir: Path) -> list[Row]:
    rows = []
    for case in cases:
        observation = run_case(case, workdir / case.id)
        rows.append(Row(case, observation, tuple(problems(observation))))
    return rows


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def describe_fault(case: Case) -> str:
    """The fault cell: family, fault spec and whatever else the case sets up differently."""
    parts = [f"`{case.faults}`"] if case.faults else []
    if case.closed_port:
        parts.append("connection refused (closed port)")
    if case.api_key != KEY:
        parts.append("wrong API key")
    if case.key_variable:
        parts.append(f"key in `${{{case.key_variable}}}`")
    if "provider: freeplay" in case.gates:
        kind = "Freeplay suite" if "suite_execution" in case.gates else "Freeplay dataset"
        parts.append(kind)
    elif "mode: websocket" in case.gates:
        parts.append("websocket mode")
    if case.gates.count("- ") > 1:
        parts.append(f"{case.gates.count('- ')} gates")
    parts += [f"{key} {value}" for key, value in case.config_overrides.items() if key != "retry"]
    if "retry" in case.config_overrides and case.config_overrides["retry"] != DEFAULTS["retry"]:
        parts.append(
            "max_retry_after " + case.config_overrides["retry"].split("max_retry_after:")[-1].strip(" }")
        )
    return f"{case.family}: " + " · ".join(parts)


def describe_observed(row: Row) -> str:
    text = summarise(row.observation)
    if row.as_specified:
        return f"✅ {text}"
    known = " (known regate bug)" if row.case.xfail else ""
    problem = row.problems[0].split(" (reasons: ")[0]
    if len(problem) > PROBLEM_CHARS:
        problem = problem[: PROBLEM_CHARS - 1] + "…"
    return f"❌{known} {text} — {problem}"


def render(rows: Sequence[Row]) -> str:
    lines = [HEADER]
    for row in rows:
        case = row.case
        expected = f"exit {case.expected_exit}: {case.expected_behaviour}"
        cells = (describe_fault(case), expected, describe_observed(row), str(row.observation.data_lost))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def select(cases: Sequence[Case], families: Sequence[str], ids: Sequence[str]) -> list[Case]:
    chosen = [c for c in cases if not families or c.family in families]
    return [c for c in chosen if not ids or any(part in c.id for part in ids)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run regate's fault matrix; print a Markdown table.")
    parser.add_argument("--family", action="append", default=[], help="only this family (repeatable)")
    parser.add_argument("--case", action="append", default=[], help="only case ids containing this text")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    cases = select(all_cases(), args.family, args.case)
    if not cases:
        parser.error("no case matches the selection")
    with tempfile.TemporaryDirectory(prefix="regate-faults-") as tmp:
        rows = run_matrix(cases, Path(tmp))
    table = render(rows)
    sys.stdout.write(table)
    if args.out:
        Path(args.out).write_text(table, encoding="utf-8")
    unexpected = [row.case.id for row in rows if not row.acceptable]
    lost = sum(row.observation.data_lost for row in rows)
    wall = sum(row.observation.wall_s for row in rows)
    sys.stderr.write(
        f"{len(rows)} cases in {wall:.1f} s of regate time; {lost} runs/cases lost; "
        f"{len(unexpected)} unexpected{': ' + ', '.join(unexpected) if unexpected else ''}\n"
    )
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
