"""Fault family: bodies (2xx answers that are broken, oddly typed, incomplete or wrong).

Specifies: a garbled poll answer (an HTML page, cut JSON, an empty body) is asked again, and one that
never gets better ends as an error within the retry budget; values the platform types loosely (counters
and ``success_rate`` as strings, ``runs`` as a list instead of a map) give the same verdict as clean ones
-- a pass stays a pass and a regression stays a regression; missing fields, an unknown status, a status
that never becomes terminal, or counts that contradict ``success_rate`` are never a pass (error, exit 3);
a status going back once is just polled on; a result that vanishes (404) ends the gate as an error and
its calls are ended. A start POST answered 2xx with an unreadable body took effect, so it is a lost
answer: the result should be found by name, like after a dropped connection.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import FREEPLAY, Case, at_least, at_most, check, exactly

FAMILY = "bodies"
PASSED = {"smoke": "passed"}
ERROR = {"smoke": "error"}
REGRESSED = "  - {name: regressed, provider: cekura, agent: 102, scenarios: [201, 202, 203, 204, 205]}\n"


def garbled_once(kind: str, what: str) -> Case:
    return Case(
        id=f"{kind}-poll-once",
        family=FAMILY,
        faults=f"results:{kind}@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly(f"fault:{kind}", 1), at_least("poll", 2), exactly("start", 1)),
        expected_behaviour=f"one poll answered {what}: asked again, then pass",
    )


CASES = (
    garbled_once("malformed", "200 with an HTML page"),
    garbled_once("truncated", "200 with JSON cut in half"),
    garbled_once("empty", "200 with an empty body"),
    Case(
        id="html-forever",
        family=FAMILY,
        faults="results:malformed",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(at_most("poll", 21), exactly("end_calls", 1)),
        expected_behaviour="every poll an HTML page: error within the retry budget; calls ended",
    ),
    Case(
        id="counters-as-strings",
        family=FAMILY,
        faults="results:strings",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(at_least("fault:strings", 1),),
        expected_behaviour='counters and success_rate as JSON strings ("2", "100.0"): read as numbers; pass',
    ),
    Case(
        id="counters-as-strings-regression",
        family=FAMILY,
        faults="results:strings",
        config_overrides={},
        expected_exit=1,
        expected_gate_status={"regressed": "failed"},
        request_assertions=(at_least("fault:strings", 1),),
        expected_behaviour="the same on a regressed agent: still a regression, never a pass",
        gates=REGRESSED,
        reasons=("success_rate",),
    ),
    Case(
        id="runs-as-a-list",
        family=FAMILY,
        faults="results:runs_list",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(at_least("fault:runs_list", 1),),
        expected_behaviour="the detail's runs as a list instead of a map: same runs, same verdict; pass",
    ),
    Case(
        id="missing-status",
        family=FAMILY,
        faults="results:missing=status",
        config_overrides={"timeout": "1s"},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("end_calls", 1),),
        expected_behaviour="no status in any answer: never taken as finished; timeout error at the deadline",
        reasons=("deadline",),
    ),
    Case(
        id="missing-runs",
        family=FAMILY,
        faults="results:missing=runs",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("start", 1),),
        expected_behaviour="a finished result without its runs: inconclusive, never a pass",
        reasons=("no 'runs'",),
        withholds_runs=True,
    ),
    Case(
        id="unknown-status-once",
        family=FAMILY,
        faults="results:unknown_status@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:unknown_status", 1),),
        expected_behaviour="one poll with status 'exploding': not terminal, polled on; pass",
    ),
    Case(
        id="unknown-status-always",
        family=FAMILY,
        faults="results:unknown_status",
        config_overrides={"timeout": "1s"},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("end_calls", 1),),
        expected_behaviour="status 'exploding' forever: timeout error naming the last status",
        reasons=("exploding",),
    ),
    Case(
        id="status-goes-backwards",
        family=FAMILY,
        faults="results:backwards@#1-2",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:backwards", 2),),
        expected_behaviour="the status steps back (e.g. running -> in_queue) twice: polled on; pass",
    ),
    Case(
        id="success-rate-contradicts-counts",
        family=FAMILY,
        faults="results:contradict",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(at_least("fault:contradict", 1),),
        expected_behaviour="success_rate 0% with 2/2 successful runs: inconclusive, never a pass",
        reasons=("contradicts",),
    ),
    Case(
        id="never-terminal",
        family=FAMILY,
        faults="start:never@#1",
        config_overrides={"timeout": "1s"},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("end_calls", 1), exactly("start", 1)),
        expected_behaviour="a result that never finishes: timeout error at the deadline, calls ended",
        reasons=("deadline", "running"),
    ),
    Case(
        id="result-vanishes",
        family=FAMILY,
        faults="results:vanish@#1-",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("poll", 1), exactly("end_calls", 1)),
        expected_behaviour="404 for a result that existed: error naming the 404, no retry storm",
        reasons=("404",),
    ),
    Case(
        id="start-answer-is-html",
        family=FAMILY,
        faults="start:malformed@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("start", 1), at_least("lookup", 1), exactly("results created", 1)),
        expected_behaviour="the start took effect, its answer is HTML: found by name, not re-sent; pass",
    ),
    Case(
        id="start-answer-is-empty",
        family=FAMILY,
        faults="start:empty@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("start", 1), at_least("lookup", 1), exactly("results created", 1)),
        expected_behaviour="the start took effect, its answer is empty: found by name, not re-sent; pass",
    ),
    Case(
        id="freeplay-truncated-poll",
        family=FAMILY,
        faults="fp-results:truncated@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status={"traces": "passed"},
        request_assertions=(exactly("fault:truncated", 1), exactly("recordings", 5)),
        expected_behaviour="Freeplay: a cut test-run answer is asked again; pass",
        gates=FREEPLAY,
    ),
    Case(
        id="freeplay-status-goes-backwards",
        family=FAMILY,
        faults="fp-results:backwards@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status={"traces": "passed"},
        request_assertions=(exactly("fault:backwards", 1), at_least("fp-poll", 2)),
        expected_behaviour="Freeplay: complete shown as in-progress once: polled on; pass",
        gates=FREEPLAY,
    ),
    Case(
        id="freeplay-never-terminal",
        family=FAMILY,
        faults="fp-create:never@#1",
        config_overrides={"timeout": "1s"},
        expected_exit=3,
        expected_gate_status={"traces": "error"},
        request_assertions=(exactly("recordings", 5), exactly("fp-create", 1)),
        expected_behaviour="Freeplay: a run never completes: timeout error, its 5 executed cases reported",
        gates=FREEPLAY,
        reasons=("deadline",),
    ),
    Case(
        id="freeplay-missing-status",
        family=FAMILY,
        faults="fp-results:missing=status",
        config_overrides={"timeout": "1s"},
        expected_exit=3,
        expected_gate_status={"traces": "error"},
        request_assertions=(exactly("recordings", 5),),
        expected_behaviour="Freeplay: a test run without a status is waited on, then a timeout error",
        gates=FREEPLAY,
        reasons=("deadline",),
    ),
    Case(
        id="freeplay-test-run-vanishes",
        family=FAMILY,
        faults="fp-results:vanish",
        config_overrides={},
        expected_exit=3,
        expected_gate_status={"traces": "error"},
        request_assertions=(exactly("fp-poll", 1),),
        expected_behaviour="Freeplay: 404 for the test run: error naming the 404, no retry storm",
        gates=FREEPLAY,
        reasons=("404",),
    ),
)


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_bodies(case: Case, tmp_path: Path) -> None:
    """Each row: regate over loopback against the faulted simulator behaves as the row says."""
    check(case, tmp_path)
