"""Fault family: the dropped start (the platform processed the start, the answer never arrived).

Specifies the "never double-billing" promise: a start whose connection dropped after processing is never
sent again. In a mode whose result carries regate's unique name, the result is found again by that name
and the gate goes on (exactly one start POST, one result on the platform); in an unnamed mode
(websocket) or a Freeplay suite run, nothing can find it, so the gate is an error saying so; a Freeplay
dataset test run is found, but the test cases were in the lost answer, so the gate is an error saying so
rather than creating a second run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import FREEPLAY, FREEPLAY_SUITE, WEBSOCKET, Case, at_least, check, exactly

FAMILY = "dropped start"

CASES = (
    Case(
        id="cekura-start-dropped",
        family=FAMILY,
        faults="start:drop@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status={"smoke": "passed"},
        request_assertions=(exactly("start", 1), at_least("lookup", 1), exactly("results created", 1)),
        expected_behaviour="found again by its unique name, never re-sent: one start, one result; pass",
    ),
    Case(
        id="cekura-start-dropped-and-lookup-503",
        family=FAMILY,
        faults="start:drop@#1;list:503@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status={"smoke": "passed"},
        request_assertions=(exactly("start", 1), at_least("lookup", 2), exactly("results created", 1)),
        expected_behaviour="the name lookup itself meets a 503: retried, found; one start; pass",
    ),
    Case(
        id="websocket-start-dropped",
        family=FAMILY,
        faults="start:drop@#1",
        config_overrides={},
        expected_exit=3,
        expected_gate_status={"ws": "error"},
        request_assertions=(exactly("start", 1), exactly("lookup", 0), exactly("results created", 1)),
        expected_behaviour="unnamed mode: cannot be found again, not re-sent; error saying so",
        gates=WEBSOCKET,
        reasons=("cannot be found again in mode 'websocket'", "does not start them twice"),
    ),
    Case(
        id="freeplay-create-dropped",
        family=FAMILY,
        faults="fp-create:drop@#1",
        config_overrides={},
        expected_exit=3,
        expected_gate_status={"traces": "error"},
        request_assertions=(
            exactly("fp-create", 1),
            at_least("fp-lookup", 1),
            exactly("test runs created", 1),
        ),
        expected_behaviour="test run found by name but its cases were in the lost answer: no 2nd run; error",
        gates=FREEPLAY,
        reasons=("answer listing its test cases was lost", "does not create a second run"),
    ),
    Case(
        id="freeplay-suite-start-dropped",
        family=FAMILY,
        faults="fp-create:drop@#1",
        config_overrides={},
        expected_exit=3,
        expected_gate_status={"suite": "error"},
        request_assertions=(exactly("fp-create", 1), exactly("test runs created", 1)),
        expected_behaviour="suite runs cannot be listed: not found again, not re-sent; error saying so",
        gates=FREEPLAY_SUITE,
        reasons=("cannot be found again", "does not start them twice"),
    ),
)


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_dropped_start(case: Case, tmp_path: Path) -> None:
    """Each row: regate over loopback against the faulted simulator behaves as the row says."""
    check(case, tmp_path)
