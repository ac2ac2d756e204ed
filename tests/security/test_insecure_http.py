"""``allow_insecure_http: true`` is an explicit, visible opt-in to send a provider's key over plain http.

Without it, an ``http://`` base_url must be loopback (pinned in the config corpus). With it, regate accepts
any host — and says so on every run, since anyone on the path can read the key. The test observes the
clear-text key where it really travels: the platform host is reached through an HTTP proxy on 127.0.0.1
(``HTTP_PROXY``, honoured for real platforms), which records what it was sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.model import ExitCode
from tests.security.support import CEKURA_CANARY, canary_env, json_reply, recorder, regate

pytestmark = pytest.mark.e2e

CONFIG = """version: 1
providers:
  cekura:
    base_url: http://cekura.internal.example
    allow_insecure_http: {allow}
    api_key: ${{CEKURA_API_KEY}}
defaults: {{timeout: 20s, request_timeout: 5s}}
gates:
  - {{name: smoke, agent: 101, scenarios: [1]}}
"""
WARNING = (
    "regate: warning: providers.cekura: the API key is sent in clear text over http:// to"
    " cekura.internal.example (allow_insecure_http: true)"
)


def test_with_the_opt_in_the_key_goes_over_http_and_every_run_says_so(tmp_path: Path) -> None:
    with recorder(lambda request: json_reply(401, '{"detail": "Invalid API key."}')) as proxy:
        cfg = tmp_path / "regate.yaml"
        cfg.write_text(CONFIG.format(allow="true"), encoding="utf-8")
        env = canary_env(HTTP_PROXY=proxy.url)
        done = regate("run", str(cfg), "--out", str(tmp_path / "out"), env=env)
        received = list(proxy.requests)
    assert done.returncode == ExitCode.INCOMPLETE, done.stderr  # the proxy's 401 is an auth failure
    assert done.stderr.splitlines()[0] == WARNING
    assert received and all(r.path.startswith("http://cekura.internal.example/") for r in received)
    assert {r.headers.get("x-cekura-api-key") for r in received} == {CEKURA_CANARY}
    assert CEKURA_CANARY not in done.stderr  # the warning names the host, never the key


def test_without_the_opt_in_nothing_is_sent(tmp_path: Path) -> None:
    with recorder(lambda request: json_reply(200, "{}")) as proxy:
        cfg = tmp_path / "regate.yaml"
        cfg.write_text(CONFIG.format(allow="false"), encoding="utf-8")
        done = regate("run", str(cfg), "--out", str(tmp_path / "out"), env=canary_env(HTTP_PROXY=proxy.url))
        received = list(proxy.requests)
    assert done.returncode == ExitCode.USAGE
    assert "http:// is only allowed to a loopback host, not 'cekura.internal.example'" in done.stderr
    assert "set providers.cekura.allow_insecure_http: true" in done.stderr
    assert received == []


def test_validate_warns_too(tmp_path: Path) -> None:
    cfg = tmp_path / "regate.yaml"
    cfg.write_text(CONFIG.format(allow="true"), encoding="utf-8")
    done = regate("validate", str(cfg), env=canary_env())
    assert done.returncode == ExitCode.OK, done.stderr
    assert done.stderr.splitlines()[0] == WARNING
