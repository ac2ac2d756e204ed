"""Fault family: rate limits (429).

Specifies: a 429 is retried, never a verdict; ``Retry-After`` is honoured in both forms (seconds and an
HTTP date), clamped to ``retry.max_retry_after``; without the header regate backs off on its own; a burst
of 429s is ridden out within the retry budget; a 429 on the start POST proves it was not processed, so
the start is sent again and exactly one result exists; a platform that only ever answers 429 ends the
gate as an error after a bounded number of requests, never as a pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import FREEPLAY, Case, at_least, at_most, check, exactly

FAMILY = "rate limits"
PASSED = {"smoke": "passed"}
ERROR = {"smoke": "error"}

CASES = (
    Case(
        id="429-retry-after-seconds",
        family=FAMILY,
        faults="results:429=1@#1-2",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:429", 2), exactly("start", 1), at_least("poll", 3)),
        expected_behaviour="polls wait out Retry-After: 1 (clamped to max_retry_after 300ms), then pass",
        wall=(0.55, None),
    ),
    Case(
        id="429-retry-after-http-date",
        family=FAMILY,
        faults="results:429=date:2@#1",
        config_overrides={"retry": "{attempts: 3, base: 20ms, max: 100ms, budget: 20, max_retry_after: 1s}"},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:429", 1), exactly("start", 1)),
        expected_behaviour="Retry-After as an HTTP date 2 s ahead is honoured (clamped to 1 s), then pass",
        wall=(0.95, None),
    ),
    Case(
        id="429-without-retry-after",
        family=FAMILY,
        faults="results:429=none@#1-3",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:429", 3), exactly("start", 1)),
        expected_behaviour="no Retry-After: regate's own jittered backoff, then pass",
    ),
    Case(
        id="429-huge-retry-after-is-clamped",
        family=FAMILY,
        faults="results:429=3600@#1",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:429", 1),),
        expected_behaviour="Retry-After: 3600 is clamped to max_retry_after (300ms), not obeyed for an hour",
        wall=(None, 4.0),
    ),
    Case(
        id="429-burst-on-polls",
        family=FAMILY,
        faults="results:429=0@#1-6",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("fault:429", 6), at_least("poll", 7), exactly("start", 1)),
        expected_behaviour="six 429s in a row are ridden out within the retry budget, then pass",
    ),
    Case(
        id="429-on-start-is-resent",
        family=FAMILY,
        faults="start:429=0@#1-2",
        config_overrides={},
        expected_exit=0,
        expected_gate_status=PASSED,
        request_assertions=(exactly("start", 3), exactly("results created", 1), exactly("lookup", 0)),
        expected_behaviour="a 429 proves the start was not processed: sent again, exactly one result",
    ),
    Case(
        id="429-forever",
        family=FAMILY,
        faults="results:429=0",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(at_most("poll", 21), exactly("end_calls", 1)),
        expected_behaviour="every poll 429: error after a bounded number of polls; calls ended",
    ),
    Case(
        id="freeplay-429-burst-on-polls",
        family=FAMILY,
        faults="fp-results:429=0@#1-3",
        config_overrides={},
        expected_exit=0,
        expected_gate_status={"traces": "passed"},
        request_assertions=(exactly("fault:429", 3), exactly("fp-create", 1), exactly("recordings", 5)),
        expected_behaviour="Freeplay: 429s on the test-run polls are retried, then pass",
        gates=FREEPLAY,
    ),
)


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_rate_limits(case: Case, tmp_path: Path) -> None:
    """Each row: regate over loopback against the faulted simulator behaves as the row says."""
    check(case, tmp_path)
