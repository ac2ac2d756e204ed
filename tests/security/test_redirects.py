"""Redirects are never followed with a credential (design.md §7): httpx keeps custom headers such as
``X-CEKURA-API-KEY`` on a cross-origin redirect, so following one would hand the key to whatever origin
the ``Location`` names.

Each case puts a loopback server A in front of regate that answers every request with a 302 or 307 to a
second loopback origin B, and checks, on what the servers received: A saw the key (so the test really
exercised an authenticated call), B never received a single request, and regate stopped with a clear
error instead of a verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.security.support import (
    CEKURA_CANARY,
    FREEPLAY_CANARY,
    TARGET_CANARY,
    Reply,
    Request,
    canary_env,
    json_reply,
    recorder,
    regate,
)

pytestmark = pytest.mark.e2e

PROJECT = "6f1c2a3b-8d4e-4f5a-9b6c-7d8e9f0a1b2c"
DEFAULTS = """defaults:
  timeout: 30s
  request_timeout: 5s
  poll: {initial: 50ms, max: 200ms}
  retry: {attempts: 2, base: 10ms, max: 50ms}
"""


@dataclass(frozen=True)
class Case:
    """Where the redirecting server sits, the config around it, and what A must have seen."""

    config: Callable[[str], str]  # A's URL -> the config text
    credential: Callable[[Request], str | None]  # the credential A received in a request
    expected: str  # the credential regate was given
    exit_code: int
    message: str  # in regate's stderr


CEKURA = Case(
    config=lambda a: (
        f"""version: 1
providers:
  cekura: {{base_url: "{a}", api_key: "${{CEKURA_API_KEY}}"}}
{DEFAULTS}gates:
  - {{name: smoke, agent: 101, scenarios: [1]}}
"""
    ),
    credential=lambda request: request.headers.get("x-cekura-api-key"),
    expected=CEKURA_CANARY,
    exit_code=3,
    message="unexpected redirect",
)
FREEPLAY = Case(
    config=lambda a: (
        f"""version: 1
providers:
  freeplay: {{base_url: "{a}", api_key: "${{FREEPLAY_API_KEY}}"}}
{DEFAULTS}gates:
  - name: faq
    provider: freeplay
    project: {PROJECT}
    dataset: support-faq
    target: {{command: [python3, -c, "print('hi')"]}}
"""
    ),
    credential=lambda request: request.headers.get("authorization"),
    expected=f"Bearer {FREEPLAY_CANARY}",
    exit_code=3,
    message="unexpected redirect",
)
# The platform is the embedded simulator; the redirect comes from the agent under test, whose configured
# headers hold a token (an HTTP target does not follow redirects either).
FREEPLAY_TARGET = Case(
    config=lambda a: (
        f"""version: 1
simulator: {{speed: 600, seed: 2}}
providers:
  freeplay: {{base_url: simulator, api_key: "${{FREEPLAY_API_KEY}}"}}
{DEFAULTS}gates:
  - name: faq
    provider: freeplay
    project: {PROJECT}
    dataset: support-faq
    target:
      url: {a}/agent
      headers: {{Authorization: "Bearer ${{TARGET_TOKEN}}"}}
      timeout: 5s
"""
    ),
    credential=lambda request: request.headers.get("authorization"),
    expected=f"Bearer {TARGET_CANARY}",
    exit_code=1,
    message="redirects are not followed",
)


def redirect_to(origin: str, status: int) -> Callable[[Request], Reply]:
    def respond(request: Request) -> Reply:
        return status, {"Location": f"{origin}{request.path}"}, b""

    return respond


@pytest.mark.parametrize("status", [302, 307], ids=["302-found", "307-temporary"])
@pytest.mark.parametrize(
    "case",
    [CEKURA, FREEPLAY, FREEPLAY_TARGET],
    ids=["cekura-api", "freeplay-api", "freeplay-http-target"],
)
def test_a_redirect_to_another_origin_is_not_followed_and_the_key_stays_home(
    tmp_path: Path, case: Case, status: int
) -> None:
    with (
        recorder(lambda request: json_reply(200, "{}")) as elsewhere,
        recorder(redirect_to(elsewhere.url, status)) as redirecting,
    ):
        cfg = tmp_path / "regate.yaml"
        cfg.write_text(case.config(redirecting.url), encoding="utf-8")
        done = regate(
            "run", str(cfg), "--out", str(tmp_path / "out"), env=canary_env(TARGET_TOKEN=TARGET_CANARY)
        )
        received = list(redirecting.requests)
        leaked = list(elsewhere.requests)
    assert done.returncode == case.exit_code, done.stderr
    assert received, "regate never called the redirecting server"
    assert {case.credential(request) for request in received} == {case.expected}
    assert leaked == [], f"the other origin received {len(leaked)} request(s)"
    assert case.message in done.stderr
