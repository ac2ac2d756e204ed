"""Fault family: authentication (401 and 403).

Specifies: a refused key ends the gate as an error after one request, never retried; stderr
carries one clear message naming the provider and the environment variable the key comes from; a key
revoked in the middle of a run (403 on polls) stops at once and ends the calls; several gates on one
provider do not make a storm of refused requests, and the user reads the explanation once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import CEKURA, FREEPLAY, WRONG_KEY, Case, at_most, check, exactly

FAMILY = "auth"
ERROR = {"smoke": "error"}
TWO_GATES = CEKURA + CEKURA.replace("smoke", "billing")

CASES = (
    Case(
        id="401-wrong-key",
        family=FAMILY,
        faults="",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("any", 1), exactly("start", 1), exactly("results created", 0)),
        expected_behaviour="one request, not retried: error naming cekura and CEKURA_API_KEY",
        api_key=WRONG_KEY,
        reasons=("401", "providers.cekura.api_key", "CEKURA_API_KEY"),
        stderr_once=("AuthError", "CEKURA_API_KEY"),
    ),
    Case(
        id="401-names-the-configured-variable",
        family=FAMILY,
        faults="",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("any", 1),),
        expected_behaviour="key read from ${CI_CEKURA_TOKEN}: the message names CI_CEKURA_TOKEN",
        api_key=WRONG_KEY,
        key_variable="CI_CEKURA_TOKEN",
        reasons=("CI_CEKURA_TOKEN",),
        stderr_once=("CI_CEKURA_TOKEN",),
    ),
    Case(
        id="401-two-gates-one-message",
        family=FAMILY,
        faults="",
        config_overrides={},
        expected_exit=3,
        expected_gate_status={"smoke": "error", "billing": "error"},
        request_assertions=(at_most("start", 2), exactly("poll", 0), exactly("end_calls", 0)),
        expected_behaviour="two gates, one refused key: at most one request per gate; explained once",
        gates=TWO_GATES,
        api_key=WRONG_KEY,
        stderr_once=("CEKURA_API_KEY",),
    ),
    Case(
        id="403-mid-run",
        family=FAMILY,
        faults="results:403@#1-",
        config_overrides={},
        expected_exit=3,
        expected_gate_status=ERROR,
        request_assertions=(exactly("poll", 1), exactly("start", 1), exactly("end_calls", 1)),
        expected_behaviour="key revoked mid-run (403 on a poll): stops at once, no retry; calls ended",
        reasons=("403", "CEKURA_API_KEY"),
        stderr_once=("AuthError",),
    ),
    Case(
        id="freeplay-401-wrong-key",
        family=FAMILY,
        faults="",
        config_overrides={},
        expected_exit=3,
        expected_gate_status={"traces": "error"},
        request_assertions=(exactly("any", 1), exactly("test runs created", 0)),
        expected_behaviour="Freeplay: one request, not retried: error naming freeplay and FREEPLAY_API_KEY",
        gates=FREEPLAY,
        api_key=WRONG_KEY,
        reasons=("401", "providers.freeplay.api_key", "FREEPLAY_API_KEY"),
        stderr_once=("AuthError", "FREEPLAY_API_KEY"),
    ),
    Case(
        id="freeplay-403-on-create",
        family=FAMILY,
        faults="fp-create:403",
        config_overrides={},
        expected_exit=3,
        expected_gate_status={"traces": "error"},
        request_assertions=(exactly("fp-create", 1), exactly("test runs created", 0)),
        expected_behaviour="Freeplay: 403 on the create: one request, error naming FREEPLAY_API_KEY",
        gates=FREEPLAY,
        reasons=("403", "FREEPLAY_API_KEY"),
        stderr_once=("AuthError",),
    ),
)


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_auth(case: Case, tmp_path: Path) -> None:
    """Each row: regate over loopback against the faulted simulator behaves as the row says."""
    check(case, tmp_path)
