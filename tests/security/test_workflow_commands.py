"""Remote text can never become a GitHub Actions workflow command (design.md §7).

The Actions runner reads a step's log line by line — CR, LF and CRLF all end a line — and runs a line as a
command when, after leading whitespace, it starts with ``::`` (``::add-mask::``, ``::error::``,
``::stop-commands::``, ...) or the legacy ``##[``. Transcripts, explanations, scenario, metric and criterion
names, a platform's error text and a target's stderr are remote: any of them may hold such a line, after a
line break of any kind, after Unicode or zero-width whitespace, or percent-encoded.

Specified here: every such text that reaches regate's stderr (progress lines, error lines, ``--debug`` log
lines and tracebacks), stdout, or the Markdown step summary leaves no line that the runner would take for a
command — while the text itself still shows (each case checks that it got through).
"""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner import cli
from runner.clock import FakeClock
from runner.errors import TransientError
from runner.model import FailureKind, GateExecution, GateFailure, ResultSnapshot
from runner.progress import ConsoleProgress
from runner.providers.base import StartedResult
from runner.settings import CekuraGate, CekuraMode
from runner.textclean import escape_workflow_command
from runner.thresholds import compile_thresholds
from tests.security.support import (
    REPO,
    Reply,
    Request,
    clean_env,
    command_lines,
    json_reply,
    read,
    recorder,
    regate,
)

MARK = "add-mask"  # what shows that the hostile text got through to an output

HOSTILE_LINES = [
    pytest.param("::add-mask::x", id="add-mask"),
    pytest.param("::error::x", id="error"),
    pytest.param("::stop-commands::tok", id="stop-commands"),
    pytest.param("  ::warning file=a::b", id="indented-warning"),
    pytest.param("\t::notice::tab", id="tab-indented"),
    pytest.param("%0A::error::x", id="percent-encoded-newline"),
    pytest.param("ok\r::error::cr-only", id="cr-only-line-break"),
    pytest.param("ok\r\n::error::crlf", id="crlf-line-break"),
    pytest.param("ok\n::error::lf", id="lf-line-break"),
    pytest.param("\u2003::error::em-space", id="em-space"),
    pytest.param("\u00a0::error::no-break-space", id="no-break-space"),
    pytest.param("\u3000::error::ideographic-space", id="ideographic-space"),
    pytest.param("\ufeff::error::bom", id="byte-order-mark"),
    pytest.param("\u200b::error::zero-width-space", id="zero-width-space"),
    pytest.param("\u180e::error::mongolian-vowel-separator", id="mongolian-vowel-separator"),
    pytest.param("ok\x85::error::nel", id="next-line"),
    pytest.param("ok\u2028::error::line-separator", id="line-separator"),
    pytest.param("ok\u2029::error::paragraph-separator", id="paragraph-separator"),
    pytest.param("##[error]legacy", id="legacy-hash-command"),
    pytest.param("ok\n \u2003\t::set-env name=A::b", id="mixed-whitespace"),
]
HOSTILE = "".join(f"{p.values[0]}\n" for p in HOSTILE_LINES) + "::add-mask::end"


@pytest.mark.parametrize("text", HOSTILE_LINES)
def test_escaping_leaves_no_command_line(text: str) -> None:
    escaped = escape_workflow_command(text)
    assert command_lines(escaped) == []
    assert escaped.replace("\u200b", "") == text.replace("\u200b", "")  # reads the same


def test_escaping_the_whole_hostile_text_at_once() -> None:
    assert command_lines(HOSTILE)  # the check itself finds them
    assert command_lines(escape_workflow_command(HOSTILE)) == []


# --- progress and log lines, in-process -----------------------------------------------------------------

GATE = CekuraGate(
    name="smoke",
    agent=1,
    mode=CekuraMode.VOICE,
    thresholds=compile_thresholds({"success_rate": ">= 90%"}),
    timeout=60.0,
    line=1,
)


def test_every_progress_line_with_remote_text_is_escaped() -> None:
    """Result id, status, retry reason, notes and a gate's failure message are all remote."""
    stream = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(stream, clock, heartbeat=1.0, specs=[GATE])
    progress.gate_started(GATE, HOSTILE, StartedResult(HOSTILE, HOSTILE, 3, HOSTILE))
    progress.snapshot(GATE, ResultSnapshot(HOSTILE, HOSTILE + "x", terminal=False, succeeded=False))
    clock.advance(5)
    progress.snapshot(GATE, ResultSnapshot(HOSTILE, HOSTILE + "x", terminal=False, succeeded=False))
    progress.retrying(GATE, TransientError(HOSTILE), 1.5)
    progress.note(GATE, HOSTILE)
    progress.interrupted(HOSTILE)
    failure = GateFailure(FailureKind.INFRA, HOSTILE)
    progress.gate_done(GATE, GateExecution("smoke", "cekura", HOSTILE, None, failure, 1.0))
    output = stream.getvalue()
    assert output.count(MARK) >= 7
    assert command_lines(output) == []


def test_log_lines_and_debug_tracebacks_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--debug`` prints tracebacks, whose exception messages may quote remote text."""
    stream = io.StringIO()
    cli._configure_logging(True, stream)
    log = logging.getLogger("regate.test")
    log.debug("GET /results/%s/ -> %d", HOSTILE, 200)
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        log.exception("internal error")
    output = stream.getvalue()
    assert output.count(MARK) >= 2 and "Traceback" in output
    assert command_lines(output) == []


# --- through `regate run` -------------------------------------------------------------------------------

PROJECT = "6f1c2a3b-8d4e-4f5a-9b6c-7d8e9f0a1b2c"
TARGET = (
    "import json, sys\n"
    "case = json.loads(sys.stdin.read())\n"
    f"sys.stderr.write({HOSTILE!r})\n"
    "if case['variables']['question'].startswith('How'):\n"
    "    sys.exit(3)\n"
    f"print('Refunds take 5 business days.' + {HOSTILE!r})\n"
)


def hostile_world(folder: Path) -> Path:
    """The packaged world with hostile scenario names, instructions (transcripts), expected outcomes
    (explanations), a hostile metric and a hostile Freeplay criterion."""
    world: dict[str, Any] = yaml.safe_load(
        (REPO / "runner" / "simulator" / "worlds" / "default.yaml").read_text(encoding="utf-8")
    )
    for scenario in world["scenarios"]:
        scenario["name"] = f"{HOSTILE} {scenario['id']}"
        scenario["instructions"] = HOSTILE
        scenario["expected_outcome_prompt"] = f"{HOSTILE}. The agent helps"
    world["metrics"].append(
        {"id": 599, "name": f"Bad {HOSTILE}", "type": "numeric", "unit": "ms", "description": HOSTILE}
    )
    world["freeplay"]["criteria"].append(
        {
            "id": "a1c0e5d2-1f3b-4c6d-8e9f-0a1b2c3d4e99",
            "name": f"Bad {HOSTILE}",
            "rule": "penalty",
            "shape": "scalar",
            "phrases": ["refunds"],
        }
    )
    path = folder / "world.yaml"
    path.write_text(yaml.safe_dump(world, allow_unicode=False), encoding="utf-8")
    return path


@pytest.mark.e2e
def test_hostile_platform_data_and_target_stderr_never_become_commands(tmp_path: Path) -> None:
    """Failing checks name the hostile metric and criterion, failing runs show the hostile scenarios and
    explanations, failing test cases show the target's stderr: on stderr (also with --debug) and in the
    step summary."""
    hostile_world(tmp_path)
    (tmp_path / "target.py").write_text(TARGET, encoding="utf-8")
    cfg = tmp_path / "regate.yaml"
    cfg.write_text(
        f"""version: 1
simulator: {{world: world.yaml, speed: 600, seed: 3}}
providers:
  cekura: {{base_url: simulator}}
  freeplay: {{base_url: simulator}}
defaults:
  timeout: 60s
  poll: {{initial: 50ms, max: 200ms}}
gates:
  - name: voice
    agent: 102
    tags: [refunds]
    thresholds:
      success_rate: ">= 99%"
      metrics:
        {json.dumps(f"Bad {HOSTILE}")}: "p50 >= 1000000"
  - name: faq
    provider: freeplay
    project: {PROJECT}
    dataset: support-faq
    target: {{command: [{json.dumps(sys.executable)}, target.py], timeout: 20s}}
    thresholds:
      evaluations:
        {json.dumps(f"auto:Bad {HOSTILE}")}: "mean >= 2"
""",
        encoding="utf-8",
    )
    for extra in ([], ["--debug"]):
        summary = tmp_path / f"step-summary{len(extra)}.md"
        done = regate(
            "run", str(cfg), "--out", str(tmp_path / "out"), *extra,
            env=clean_env(GITHUB_STEP_SUMMARY=str(summary)),
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert MARK in done.stderr and MARK in read(summary)
        assert "Bad" in done.stderr and "target error" in done.stderr
        for name, text in [
            ("stderr", done.stderr),
            ("stdout", done.stdout),
            ("step summary", read(summary)),
            ("summary.md", read(tmp_path / "out" / "summary.md")),
        ]:
            assert command_lines(text) == [], name


def platform_error(status: int) -> Reply:
    body = {"detail": HOSTILE, "message": HOSTILE, "error": HOSTILE}
    return json_reply(status, json.dumps(body))


@pytest.mark.e2e
@pytest.mark.parametrize("status", [400, 401, 404, 409], ids=lambda s: f"http-{s}")
def test_a_platforms_hostile_error_text_never_becomes_a_command(tmp_path: Path, status: int) -> None:
    """The error body of a refused request is shown (summarised) on the error lines of both providers."""

    def respond(request: Request) -> Reply:
        return platform_error(status)

    with recorder(respond) as platform:
        cfg = tmp_path / "regate.yaml"
        cfg.write_text(
            f"""version: 1
providers:
  cekura: {{base_url: "{platform.url}", api_key: k-cekura}}
  freeplay: {{base_url: "{platform.url}", api_key: k-freeplay}}
defaults: {{timeout: 20s, retry: {{attempts: 1}}}}
gates:
  - {{name: smoke, agent: 101, scenarios: [1]}}
  - name: faq
    provider: freeplay
    project: {PROJECT}
    dataset: support-faq
    target: {{command: [python3, -c, "print(1)"]}}
""",
            encoding="utf-8",
        )
        summary = tmp_path / "step-summary.md"
        done = regate(
            "run", str(cfg), "--out", str(tmp_path / "out"), "--debug",
            env=clean_env(GITHUB_STEP_SUMMARY=str(summary)),
        )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert MARK in done.stderr
    for name, text in [("stderr", done.stderr), ("stdout", done.stdout), ("step summary", read(summary))]:
        assert command_lines(text) == [], name
