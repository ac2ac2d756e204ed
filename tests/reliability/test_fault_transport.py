"""Fault family: transport (refused, reset, reset mid-response, read timeouts, answers beyond the deadline).

Specifies: a refused connection is an error naming what could not be reached, with nothing started;
resets, before or in the middle of a response, are retried on polls; on the start POST a reset that
happened after processing (``cut``: the status line arrived, then the connection broke) is recovered by
finding the result by name, and one before processing fails closed without a second start; a stalled
server (``slow=S`` beyond ``request_timeout``) is a read timeout, retried on polls and looked up by name
on the start; an answer slower than the gate's deadline does not hold regate past that deadline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import FREEPLAY, Case, at_least, check, exactly

FAMILY = "transport"
PASSED = {"smoke": "passed"}
ERROR = {"smoke": "error"}

CASES = (
    Case(
        id="connection-refused",
        family=FAMILY,
        faults="",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("any", 0),),
        expected_behaviour="a closed port: error naming the host it could not connect to",
        closed_port=True,
        reasons=("could not connect to 127.0.0.1",),
        wall=(None, 4.0),
    ),
    Case(
        id="reset-on-polls",
        family=FAMILY,
        faults="results:reset@#1-2",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:reset", 2), exactly("start", 1)),
        expected_behaviour="two polls reset before any answer are retried, then pass",
    ),
    Case(
        id="reset-mid-response-on-polls",
        family=FAMILY,
        faults="results:cut@#1-2",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:cut", 2), exactly("start", 1)),
        expected_behaviour="two polls reset half-way through the body are retried, then pass",
    ),
    Case(
        id="reset-mid-response-on-start",
        family=FAMILY,
        faults="start:cut@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("start", 1), at_least("lookup", 1), exactly("results created", 1)),
        expected_behaviour="the start took effect but its answer broke off: found by name, not re-sent; pass",
    ),
    Case(
        id="reset-before-processing-on-start",
        family=FAMILY,
        faults="start:reset@#1",
        config_overrides={"timeout": "1s"},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("start", 1), at_least("lookup", 1), exactly("results created", 0)),
        expected_behaviour="start outcome unknown: looked up by name, not found, not re-sent; error",
        reasons=("connection lost", "does not start the runs again"),
    ),
    Case(
        id="read-timeout-on-a-poll",
        family=FAMILY,
        faults="results:slow=300@#1",
        config_overrides={"request_timeout": "200ms"},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:slow", 1), at_least("poll", 2)),
        expected_behaviour="a poll stalled 0.5 s past request_timeout 200ms times out, is retried; pass",
    ),
    Case(
        id="read-timeout-on-start",
        family=FAMILY,
        faults="start:slow=300@#1",
        config_overrides={"request_timeout": "200ms"},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("start", 1), at_least("lookup", 1), exactly("results created", 1)),
        expected_behaviour="a start stalled past request_timeout: found by name, not re-sent; pass",
    ),
    Case(
        id="answer-slower-than-the-deadline",
        family=FAMILY,
        faults="results:slow=2400@#1",
        config_overrides={"timeout": "1s", "request_timeout": "3s"},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("start", 1),),
        expected_behaviour="a poll held 4 s against a 1 s gate deadline: timeout error within the deadline",
        reasons=("deadline", "in flight"),  # the request itself was cut at the deadline
        wall=(None, 3.0),  # below request_timeout (3 s) plus the 1 s the server held the answer
    ),
    Case(
        id="freeplay-reset-on-recordings",
        family=FAMILY,
        faults="fp-record:reset@#1-2",
        config_overrides={},
        expected_exit=0,
        expected_gate_status={"traces": "passed"},
        request_assertions=(exactly("recordings", 5), exactly("fp-create", 1)),
        expected_behaviour="Freeplay: reset recordings are retried, each case recorded once; pass",
        gates=FREEPLAY,
    ),
)


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_transport(case: Case, tmp_path: Path) -> None:
    """Each row: regate over loopback against the faulted simulator behaves as the row says."""
    check(case, tmp_path)
