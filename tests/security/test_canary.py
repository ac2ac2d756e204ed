"""A recognisable canary key never leaks: not on stdout or stderr, not in any file regate writes, not in the
``repr()`` of the loaded config or of any exception — whatever the command and however it ends.

Every command runs with canary keys for both providers (and a canary token in an HTTP target's header):
``run`` on the demo configs (embedded simulator) with ``--debug`` and ``--quiet``; a run against a loopback
``regate sim`` that refuses the key (401, with ``--debug``); a Freeplay gate whose HTTP target gets the token
in a header and echoes it in its error pages; a run interrupted by SIGTERM; ``validate`` on a valid config
and on configs that put the key in the wrong field. Every file under the test's folder is scanned afterwards:
reports, the step summary (``GITHUB_STEP_SUMMARY``) and the simulator's own log.

A leak is any of the canaries' distinctive parts (``canary-KEY``, ``3f9a1c7e``, ...), so a truncated or
partly masked key counts too. Where a test can, it also checks that the key *was* used (the server saw it),
so that a run that never sent it cannot pass by accident.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner import cli
from runner.config import load_config, secret_values
from runner.configfields import masker
from runner.errors import ConfigError
from runner.model import ExitCode
from runner.yamlpos import load
from tests.security.support import (
    CEKURA_CANARY,
    FREEPLAY_CANARY,
    REPO,
    TARGET_CANARY,
    Reply,
    Request,
    canary_env,
    files_under,
    leaks,
    read,
    recorder,
    regate,
    sim_process,
)

pytestmark = pytest.mark.e2e

PROJECT = "6f1c2a3b-8d4e-4f5a-9b6c-7d8e9f0a1b2c"
EXAMPLE_TARGET = REPO / "configs" / "examples" / "support_target.py"


def demo_with_keys(name: str, *, speed: str | None = None) -> str:
    """A shipped demo config with ``api_key: ${..._API_KEY}`` for both providers (the embedded simulator
    then accepts exactly those keys) and the example agent's path made absolute."""
    text = (REPO / "configs" / name).read_text(encoding="utf-8")
    text, providers = re.subn(
        r"(?m)^(\s+)(cekura|freeplay):\n(\s+)base_url: simulator.*$",
        lambda m: f"{m[1]}{m[2]}:\n{m[3]}base_url: simulator\n{m[3]}api_key: ${{{m[2].upper()}_API_KEY}}",
        text,
    )
    assert providers == 2, f"{name} no longer configures both providers as this test expects"
    assert "examples/support_target.py" in text
    text = text.replace("examples/support_target.py", str(EXAMPLE_TARGET))
    if speed is not None:
        text, n = re.subn(r"(?m)^  speed: \d+", f"  speed: {speed}", text)
        assert n == 1
    return text


def assert_no_leak(tmp_path: Path, *outputs: str) -> None:
    for index, text in enumerate(outputs):
        assert leaks(text) == [], f"output #{index} leaks {leaks(text)}"
    for path in files_under(tmp_path):
        assert leaks(read(path)) == [], f"{path.relative_to(tmp_path)} leaks {leaks(read(path))}"


def assert_config_repr_is_clean(path: Path, env: dict[str, str]) -> None:
    config = load_config(str(path), env)
    assert leaks(repr(config)) == [] and leaks(str(config)) == []


# --- runs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "flags", "exit_code"),
    [
        pytest.param("demo.yaml", ["--debug"], ExitCode.OK, id="demo-debug"),
        pytest.param("demo-regression.yaml", ["--quiet"], ExitCode.REGRESSION, id="demo-regression-quiet"),
    ],
)
def test_the_demo_runs_leak_no_key(tmp_path: Path, config: str, flags: list[str], exit_code: int) -> None:
    cfg = tmp_path / config
    cfg.write_text(demo_with_keys(config), encoding="utf-8")
    summary = tmp_path / "step-summary.md"
    env = canary_env(GITHUB_STEP_SUMMARY=str(summary))
    done = regate("run", str(cfg), "--out", str(tmp_path / "out"), *flags, env=env)
    assert done.returncode == exit_code, done.stderr
    assert summary.is_file() and (tmp_path / "out" / "junit.xml").is_file()
    if "--debug" in flags:
        assert "regate: DEBUG" in done.stderr  # the debug output is there, and clean
    assert_no_leak(tmp_path, done.stdout, done.stderr)
    assert_config_repr_is_clean(cfg, env)


def test_a_refused_key_leaks_nowhere_even_with_debug(tmp_path: Path) -> None:
    """``regate sim`` accepts another key: both providers answer 401; the sim's own log is scanned too."""
    sim_env = canary_env(REGATE_SIM_API_KEY="the-right-key")
    with sim_process(tmp_path / "sim.log", "--speed", "600", env=sim_env) as url:
        cfg = tmp_path / "regate.yaml"
        cfg.write_text(
            f"""version: 1
providers:
  cekura: {{base_url: "{url}", api_key: "${{CEKURA_API_KEY}}"}}
  freeplay: {{base_url: "{url}", api_key: "${{FREEPLAY_API_KEY}}"}}
defaults: {{timeout: 30s, request_timeout: 5s}}
gates:
  - {{name: smoke, agent: 101, tags: [smoke]}}
  - name: faq
    provider: freeplay
    project: {PROJECT}
    dataset: support-faq
    target: {{command: [{json.dumps(sys.executable)}, {json.dumps(str(EXAMPLE_TARGET))}]}}
""",
            encoding="utf-8",
        )
        summary = tmp_path / "step-summary.md"
        env = canary_env(GITHUB_STEP_SUMMARY=str(summary))
        done = regate("run", str(cfg), "--out", str(tmp_path / "out"), "--debug", env=env)
    assert done.returncode == ExitCode.INCOMPLETE, done.stderr
    assert "401" in done.stderr and "AuthError" in read(tmp_path / "out" / "junit.xml")
    assert_no_leak(tmp_path, done.stdout, done.stderr)
    assert_config_repr_is_clean(cfg, env)


def test_an_http_targets_header_token_leaks_nowhere(tmp_path: Path) -> None:
    """The target gets the token in its Authorization header; for some cases it answers 500 with an error
    page that echoes the request's headers — which regate shows as the case's error, masked."""

    def target(request: Request) -> Reply:
        case = json.loads(request.body)
        if case["variables"]["question"].startswith("How"):
            page = f"upstream failed; request headers were: {json.dumps(request.headers)}"
            return 500, {"Content-Type": "text/plain"}, page.encode()
        return 200, {"Content-Type": "text/plain"}, b"Refunds take 5 business days."

    with recorder(target) as agent:
        cfg = tmp_path / "regate.yaml"
        cfg.write_text(
            f"""version: 1
simulator: {{speed: 600, seed: 2}}
providers:
  freeplay: {{base_url: simulator, api_key: "${{FREEPLAY_API_KEY}}"}}
defaults: {{timeout: 60s, poll: {{initial: 50ms, max: 200ms}}}}
gates:
  - name: faq
    provider: freeplay
    project: {PROJECT}
    dataset: support-faq
    target:
      url: {agent.url}/agent
      headers: {{Authorization: "Bearer ${{TARGET_TOKEN}}", X-Api-Key: "${{TARGET_TOKEN}}"}}
      timeout: 10s
""",
            encoding="utf-8",
        )
        summary = tmp_path / "step-summary.md"
        env = canary_env(TARGET_TOKEN=TARGET_CANARY, GITHUB_STEP_SUMMARY=str(summary))
        done = regate("run", str(cfg), "--out", str(tmp_path / "out"), "--debug", env=env)
        seen = {request.headers.get("authorization") for request in agent.requests}
    assert seen == {f"Bearer {TARGET_CANARY}"}  # the token was used
    assert done.returncode == ExitCode.REGRESSION, done.stderr  # the cases that got a 500 failed
    assert "HTTP 500" in read(tmp_path / "out" / "report.json")
    assert_no_leak(tmp_path, done.stdout, done.stderr)
    assert_config_repr_is_clean(cfg, env)


def test_a_run_interrupted_by_sigterm_leaks_no_key(tmp_path: Path) -> None:
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(demo_with_keys("demo.yaml", speed="1"), encoding="utf-8")  # real time: runs take a while
    summary = tmp_path / "step-summary.md"
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "run", str(cfg), "--out", str(tmp_path / "out"), "--debug"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=canary_env(GITHUB_STEP_SUMMARY=str(summary)),
    )  # fmt: skip
    assert process.stderr is not None and process.stdout is not None
    stream = process.stderr
    lines: queue.Queue[str] = queue.Queue()

    def read_lines() -> None:
        for line in stream:
            lines.put(line)

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    seen = ""
    try:
        while "started result" not in seen:  # bounded: a hung regate fails the test
            seen += lines.get(timeout=30)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        stdout = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(timeout=10)
        process.stdout.close()
        stream.close()
    stderr = seen + "".join(lines.queue)
    assert process.returncode == ExitCode.SIGTERM, stderr
    assert json.loads(read(tmp_path / "out" / "report.json"))["interrupted_by"] == "SIGTERM"
    assert_no_leak(tmp_path, stdout, stderr)


# --- validate and config errors ---------------------------------------------------------------------------

PROVIDERS = """version: 1
providers:
  cekura: {api_key: "${CEKURA_API_KEY}"}
  freeplay: {api_key: "${FREEPLAY_API_KEY}"}
"""
FREEPLAY_GATE = f"""  - name: qa
    provider: freeplay
    project: {PROJECT}
    dataset: golden
    target: {{command: [python3, agent.py]}}
"""


@dataclass(frozen=True)
class Misplaced:
    """The key written where it does not belong; the error must describe it without quoting it."""

    gates: str
    message: str  # expected in the error


MISPLACED = [
    pytest.param(
        Misplaced("  - {name: a, agent: '${CEKURA_API_KEY}', scenarios: [1]}\n", "agent"), id="agent"
    ),
    pytest.param(
        Misplaced("  - {name: a, agent: 1, scenarios: [1], timeout: '${CEKURA_API_KEY}'}\n", "duration"),
        id="duration",
    ),
    pytest.param(
        Misplaced(
            "  - {name: a, agent: 1, scenarios: [1], thresholds: {success_rate: '${CEKURA_API_KEY}'}}\n",
            "expected a rate",
        ),
        id="success-rate",
    ),
    pytest.param(
        Misplaced(
            "  - {name: a, agent: 1, scenarios: [1], thresholds: {metrics: {X: '${CEKURA_API_KEY}'}}}\n",
            "unknown aggregate",
        ),
        id="metric-check",
    ),
    pytest.param(
        Misplaced("  - {name: a, agent: 1, scenarios: [1], mode: '${CEKURA_API_KEY}'}\n", "unknown mode"),
        id="mode",
    ),
    pytest.param(
        Misplaced("  - {name: 'x ${CEKURA_API_KEY}', agent: 1, scenarios: [1]}\n", "gate name"),
        id="gate-name",
    ),
    pytest.param(
        Misplaced("  - {name: a, agent: 1, mode: json, spec: '${CEKURA_API_KEY}.json'}\n", "spec file"),
        id="spec-path",
    ),
    pytest.param(
        Misplaced(FREEPLAY_GATE.replace(PROJECT, "'${FREEPLAY_API_KEY}'"), "expected a UUID"), id="project"
    ),
    pytest.param(
        Misplaced(FREEPLAY_GATE + "    test_run_name: '{${FREEPLAY_API_KEY}}'\n", "bad placeholder"),
        id="run-name-template",
    ),
    pytest.param(
        Misplaced(
            FREEPLAY_GATE.replace("{command: [python3, agent.py]}", "{url: '${FREEPLAY_API_KEY}'}"),
            "expected an https or http URL",
        ),
        id="target-url",
    ),
]


def test_secret_values_are_found_by_variable_name_and_by_where_they_are_used() -> None:
    """Named like a secret (``*KEY*``, ``*TOKEN*``, ...) anywhere, or used in an api_key, a header or a
    target's env whatever its name; a default (``${X:-...}``) written in the file is not a secret."""
    env = {"MY_API_KEY": "k1", "PLAIN": "p", "AGENT": "a-token", "MODEL": "m1", "GH_TOKEN": "t1"}
    root = load(
        "a: ${MY_API_KEY}\nb: ${PLAIN}\nc: {headers: {X-Auth: 'Bearer ${AGENT}'}, env: {M: '${MODEL}'}}\n"
        "d: ${GH_TOKEN:-fallback}\ne: ${UNSET_SECRET_TOKEN:-default}\n",
        file="c.yaml",
        env=env,
    )
    assert secret_values(root, env) == ["a-token", "k1", "m1", "t1"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(f"found {CEKURA_CANARY!r}", "found '***'", id="whole-value"),
        pytest.param("unknown aggregate 'canary'", "unknown aggregate '***'", id="long-word"),
        pytest.param("KEY-3f9a1c7e", "KEY-***", id="long-word-inside"),
        pytest.param("do not leak, canaryish", "do not leak, canaryish", id="short-words-and-prefixes-kept"),
    ],
)
def test_messages_mask_a_secret_and_its_long_words(text: str, masked: str) -> None:
    assert masker([CEKURA_CANARY])(text) == masked


def exception_chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


@pytest.mark.parametrize("case", MISPLACED)
def test_a_key_in_the_wrong_field_is_never_quoted_by_the_error(tmp_path: Path, case: Misplaced) -> None:
    """Neither the message, the hint, nor the repr of the error or of any exception chained to it."""
    cfg = tmp_path / "regate.yaml"
    cfg.write_text(PROVIDERS + "gates:\n" + case.gates, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(str(cfg), canary_env())
    assert case.message in str(caught.value)
    for error in exception_chain(caught.value):
        text = f"{error!r} {error} {getattr(error, 'hint', '')} {error.args!r}"
        assert leaks(text) == [], f"{type(error).__name__} leaks {leaks(text)}"


@pytest.mark.parametrize(
    ("case", "exit_code"),
    [
        pytest.param(None, ExitCode.OK, id="valid"),
        pytest.param(MISPLACED[2].values[0], ExitCode.USAGE, id="config-error"),
    ],
)
def test_validate_leaks_no_key(tmp_path: Path, case: Misplaced | None, exit_code: int) -> None:
    cfg = tmp_path / "regate.yaml"
    gates = case.gates if case else "  - {name: a, agent: 1, scenarios: [1]}\n" + FREEPLAY_GATE
    cfg.write_text(PROVIDERS + "gates:\n" + gates, encoding="utf-8")
    done = regate("validate", str(cfg), env=canary_env())
    assert done.returncode == exit_code, done.stderr
    assert_no_leak(tmp_path, done.stdout, done.stderr)


# --- logging ----------------------------------------------------------------------------------------------


def test_http_libraries_stay_quiet_during_a_debug_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """httpx logs every request's full URL at INFO and httpcore logs at DEBUG: even with --debug, regate keeps
    them at WARNING (our own debug lines say what is needed, without headers). The loggers start unset here,
    so the test sees what regate does, whatever an earlier test left behind."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    loggers = [logging.getLogger(name) for name in ("", "httpx", "httpcore")]
    before = [logger.level for logger in loggers]
    for logger, level in zip(loggers, (logging.DEBUG, logging.NOTSET, logging.NOTSET), strict=True):
        logger.setLevel(level)  # setLevel, not the attribute: it also clears logging's level cache
    root = loggers[0]
    handler = Keep(logging.DEBUG)
    root.addHandler(handler)
    levels: dict[str, int] = {}
    try:
        cfg = tmp_path / "regate.yaml"
        cfg.write_text(
            """version: 1
simulator: {speed: 600, seed: 3}
providers:
  cekura: {base_url: simulator, api_key: "${CEKURA_API_KEY}"}
defaults: {timeout: 60s, poll: {initial: 50ms, max: 100ms}}
gates:
  - {name: smoke, agent: 101, scenarios: [201], thresholds: {success_rate: ">= 0%"}}
""",
            encoding="utf-8",
        )
        code = cli.main(["run", str(cfg), "--out", str(tmp_path / "out"), "--debug"], env=canary_env())
        levels = {name: logging.getLogger(name).getEffectiveLevel() for name in ("httpx", "httpcore")}
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)
    assert code == ExitCode.OK
    assert levels == {"httpx": logging.WARNING, "httpcore": logging.WARNING}
    noisy = [
        r for r in records if r.name.split(".")[0] in ("httpx", "httpcore") and r.levelno < logging.WARNING
    ]
    assert noisy == []
    err = capsys.readouterr().err
    assert "regate: DEBUG" in err
    assert leaks(err) == [] and leaks(" ".join(r.getMessage() for r in records)) == []
    assert_no_leak(tmp_path)


def test_the_canaries_are_really_detected() -> None:
    """The scanner itself: a key, a truncated key and a partly masked key are all found."""
    found: Callable[[str], list[str]] = leaks
    assert found(f"x {CEKURA_CANARY} y")
    assert found(FREEPLAY_CANARY[:14] + "…")
    assert found("***-3f9a1c7e-***")
    assert found("nothing to see") == []
