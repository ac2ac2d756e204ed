"""Fault family: server errors (500, 502, 503, 504).

Specifies: a burst of 5xx answers to polls is retried and the verdict is unchanged; a platform that
answers 503 to everything ends the gate as an error after a bounded number of requests (within the retry
budget, cut short by the provider's circuit breaker) and its calls are ended; a 5xx to the start POST
leaves open whether the runs were created, so regate never sends it again: it looks the result up by its
unique name and, not finding it, fails closed with exactly one start on the platform; Freeplay
recordings that meet a 5xx are retried without recording a case twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import FREEPLAY, Case, at_least, at_most, check, exactly

FAMILY = "server errors"
PASSED = {"smoke": "passed"}
ERROR = {"smoke": "error"}


def burst(code: int) -> Case:
    return Case(
        id=f"{code}-burst-on-polls",
        family=FAMILY,
        faults=f"results:{code}@#1-3",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly(f"fault:{code}", 3), at_least("poll", 4), exactly("start", 1)),
        expected_behaviour=f"three {code}s in a row on polls are retried, then pass",
    )


CASES = (
    *(burst(code) for code in (500, 502, 503, 504)),
    Case(
        id="503-forever",
        family=FAMILY,
        faults="results:503",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(at_most("poll", 21), exactly("start", 1), exactly("end_calls", 1)),
        expected_behaviour="every poll 503: error within the retry budget of 20; calls ended",
    ),
    Case(
        id="503-forever-says-why",
        family=FAMILY,
        faults="results:503",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(at_most("poll", 21),),
        expected_behaviour="the gate's reason names the 503, the cause",
        reasons=("503",),
    ),
    Case(
        id="503-on-start",
        family=FAMILY,
        faults="start:503@#1",
        config_overrides={"timeout": "1s"},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("start", 1), at_least("lookup", 1), exactly("results created", 0)),
        expected_behaviour="start outcome unknown: looked up by name, not found, not re-sent; error",
        reasons=("503", "does not start the runs again"),
    ),
    Case(
        id="freeplay-503-on-recordings",
        family=FAMILY,
        faults="fp-record:503@#1-2",
        config_overrides={},
        expected_exit=0,
        expected_gate_status={"traces": "passed"},
        request_assertions=(exactly("fp-record", 7), exactly("recordings", 5), exactly("fp-create", 1)),
        expected_behaviour="Freeplay: recordings retried (idempotent ids): 5 cases recorded once each; pass",
        gates=FREEPLAY,
    ),
    Case(
        id="freeplay-502-burst-on-polls",
        family=FAMILY,
        faults="fp-results:502@#1-3",
        config_overrides={},
        expected_exit=0,
        expected_gate_status={"traces": "passed"},
        request_assertions=(exactly("fault:502", 3), exactly("fp-create", 1)),
        expected_behaviour="Freeplay: 502s on the test-run polls are retried, then pass",
        gates=FREEPLAY,
    ),
)


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_server_errors(case: Case, tmp_path: Path) -> None:
    """Each row: regate over loopback against the faulted simulator behaves as the row says."""
    check(case, tmp_path)
