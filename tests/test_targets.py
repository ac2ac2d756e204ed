"""Specification of the target protocol: regate runs the agent under test on each case and records its output.

Command targets are real subprocesses of this Python; HTTP targets are an ``httpx.MockTransport`` (protocol)
and a loopback ``http.server`` (the timeout path). Where a test needs to know a target is running it waits
on a FIFO the target writes to, never on a clock: the targets sleep, the tests do not.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import anyio.to_thread
import httpx
import pytest

from runner import targets
from runner.model import CaseKind, TargetResult, TestCase
from runner.settings import CommandTarget, HttpTarget
from runner.target_output import OutputError, ParsedOutput, parse_output
from runner.targets import run_cases, run_target

SECRET = "sk-live-0123456789abcdef"
LINUX = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd_open (Linux)")
POSIX = pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")


def make_case(n: int = 1, *, question: str = "What is 2+2?", padding: int = 0) -> TestCase:
    payload = {
        "test_case_id": f"case-{n}",
        "kind": "completion",
        "variables": {"question": question, "padding": "x" * padding},
        "history": [],
        "metadata": {},
    }
    return TestCase(
        case_id=f"case-{n}",
        kind=CaseKind.COMPLETION,
        label=question,
        target_input=json.dumps(payload),
        inputs_json=json.dumps(payload["variables"]),
    )


def py(
    code: str, *, timeout: float = 20.0, cwd: str | None = None, env: tuple[tuple[str, str], ...] = ()
) -> CommandTarget:
    """A command target running ``code`` in this Python."""
    return CommandTarget(command=(sys.executable, "-c", code), timeout=timeout, cwd=cwd, env=env)


def gone(pid: int, within: float = 10.0) -> bool:
    """True once process ``pid`` has exited (a zombie counts as exited): waits on a pidfd, not a clock."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], within)
        return bool(ready)
    finally:
        os.close(fd)


@pytest.fixture
def quick_kill(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short SIGTERM → SIGKILL grace, so tests of stubborn targets stay fast."""
    monkeypatch.setattr(targets, "KILL_GRACE", 0.3)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "ready.fifo"
    os.mkfifo(path)
    return path


async def read_fifo(path: Path) -> str:
    """What a target wrote to the FIFO (blocks in a thread until it has written and closed it)."""
    with anyio.fail_after(15):
        return await anyio.to_thread.run_sync(path.read_text, abandon_on_cancel=True)


# --- output parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"Four.\n", ParsedOutput('"Four."'), id="plain-text-one-newline-dropped"),
        pytest.param(b"  two\nlines\n\n", ParsedOutput('"  two\\nlines\\n"'), id="plain-text-kept-as-is"),
        pytest.param(b"crlf\r\n", ParsedOutput('"crlf"'), id="plain-text-crlf"),
        pytest.param("\ufeffbom".encode(), ParsedOutput('"bom"'), id="byte-order-mark-dropped"),
        pytest.param("café 🎉".encode(), ParsedOutput('"café 🎉"'), id="unicode-kept-unescaped"),
        pytest.param(b'{"output": "Four."}\n', ParsedOutput('"Four."'), id="structured-string"),
        pytest.param(b'{"output": {"a": [1, 2]}}', ParsedOutput('{"a": [1, 2]}'), id="structured-any-value"),
        pytest.param(
            b'{"answer": "Four."}', ParsedOutput('"{\\"answer\\": \\"Four.\\"}"'), id="object-no-output"
        ),
        pytest.param(b'["Four."]', ParsedOutput('"[\\"Four.\\"]"'), id="json-array-is-text"),
        pytest.param(b"{not json", ParsedOutput('"{not json"'), id="broken-json-is-text"),
        pytest.param(
            b'{"output": "x", "eval_results": {"len": 3, "ok": true, "bleu": 0.5}}',
            ParsedOutput('"x"', eval_results=(("bleu", 0.5), ("len", 3.0), ("ok", True))),
            id="eval-results-sorted-by-name",
        ),
        pytest.param(
            b'{"output": "x", "eval_results": null, "messages": null}',
            ParsedOutput('"x"'),
            id="null-is-absent",
        ),
        pytest.param(
            b'{"output": "x", "messages": [{"role": "user", "content": "hi"}]}',
            ParsedOutput('"x"', messages_json='[{"role": "user", "content": "hi"}]'),
            id="messages",
        ),
    ],
)
def test_valid_output(raw: bytes, expected: ParsedOutput) -> None:
    """A JSON object with "output" is structured; anything else is the output text itself."""
    assert parse_output(raw) == expected


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        pytest.param(b"caf\xe9", "output is not UTF-8 text (byte 0xe9 at offset 3)", id="latin-1"),
        pytest.param(b"", "empty output", id="empty"),
        pytest.param(b" \n\t\n", "empty output", id="blank"),
        pytest.param(
            b'{"output": "x", "eval_results": {"tone": "friendly"}}',
            "'eval_results' \"tone\" must be a boolean or a finite number, got a string",
            id="eval-string",
        ),
        pytest.param(
            b'{"output": "x", "eval_results": {"big": 1e400}}',
            "'eval_results' \"big\" must be a boolean or a finite number, got a non-finite number",
            id="eval-infinite",
        ),
        pytest.param(
            b'{"output": "x", "eval_results": {"n": null}}',
            "'eval_results' \"n\" must be a boolean or a finite number, got null",
            id="eval-null-value",
        ),
        pytest.param(
            b'{"output": "x", "eval_results": [1]}',
            "'eval_results' must be an object of name → boolean or number, got an array",
            id="eval-not-object",
        ),
        pytest.param(
            b'{"output": "x", "eval_results": {" ": 1}}',
            "'eval_results' has an empty name",
            id="eval-empty-name",
        ),
        pytest.param(
            b'{"output": "x", "eval_results": {"s": NaN}}',
            "output is a JSON object with NaN, which JSON does not allow",
            id="nan",
        ),
        pytest.param(
            b'{"output": "x", "messages": "hi"}',
            "'messages' must be an array of message objects, got a string",
            id="messages-not-array",
        ),
        pytest.param(
            b'{"output": "x", "messages": [{"role": "user"}, "hi"]}',
            "'messages'[1] must be an object, got a string",
            id="message-not-object",
        ),
    ],
)
def test_invalid_output(raw: bytes, error: str) -> None:
    """Unusable output is an error that says what is wrong, naming the bad key (never its value)."""
    assert parse_output(raw) == OutputError(error)


# --- command targets ---------------------------------------------------------------------------------------


ECHO_UPPER = "import json, sys; print(json.load(sys.stdin)['variables']['question'].upper())"


@pytest.mark.anyio
async def test_command_gets_the_case_on_stdin_and_prints_the_output() -> None:
    """The case arrives as one JSON object plus a newline; stdout is the output."""
    case = make_case()
    echo = "import json, sys; print(json.dumps({'output': sys.stdin.read()}))"
    assert (await run_target(py(echo), case)).output_json == json.dumps(case.target_input + "\n")
    result = await run_target(py(ECHO_UPPER), case)
    assert (result.ok, result.output_json, result.error) == (True, '"WHAT IS 2+2?"', None)
    assert result.duration_s > 0


@pytest.mark.anyio
async def test_command_structured_output_with_evals_and_messages() -> None:
    """A structured answer carries client-side evals and the conversation."""
    code = (
        "import json; print(json.dumps({'output': 'Four.', 'eval_results': {'exact': True, 'score': 0.9},"
        " 'messages': [{'role': 'assistant', 'content': 'Four.'}]}))"
    )
    result = await run_target(py(code), make_case())
    assert result.ok and result.output_json == '"Four."'
    assert result.eval_results == (("exact", True), ("score", 0.9))
    assert result.messages_json == '[{"role": "assistant", "content": "Four."}]'


@pytest.mark.anyio
async def test_command_environment_and_working_directory(tmp_path: Path) -> None:
    """The target sees regate's environment plus ``env``, in ``cwd``."""
    code = "import os; print(os.environ['AGENT_MODE'], os.environ['PATH'] != '', os.getcwd())"
    target = py(code, cwd=str(tmp_path), env=(("AGENT_MODE", "eval"),))
    result = await run_target(target, make_case())
    assert result.output_json == json.dumps(f"eval True {tmp_path}")


@pytest.mark.parametrize(
    ("code", "error", "tail"),
    [
        pytest.param(
            "import sys; sys.stderr.write('loading\\nboom: no model\\n'); sys.exit(3)",
            "exited with code 3: boom: no model",
            "loading\nboom: no model",
            id="non-zero-exit-with-stderr",
        ),
        pytest.param("import sys; sys.exit(1)", "exited with code 1", None, id="non-zero-exit-silent"),
        pytest.param(
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL", None, id="signal"
        ),
        pytest.param("print('')", "empty output", None, id="empty-output"),
        pytest.param(
            "import sys; sys.stdout.buffer.write(b'\\xff\\xfe')",
            "output is not UTF-8 text (byte 0xff at offset 0)",
            None,
            id="not-utf8",
        ),
        pytest.param(
            "import sys; sys.stdout.write('x' * (5 * 1024 * 1024)); sys.stdout.flush()",
            "output larger than 4 MiB",
            None,
            id="huge-output",
        ),
        pytest.param(
            "import json; print(json.dumps({'output': 'x', 'eval_results': {'tone': 'ok'}}))",
            "'eval_results' \"tone\" must be a boolean or a finite number, got a string",
            None,
            id="bad-evals",
        ),
    ],
)
@pytest.mark.anyio
async def test_command_failures_are_results(code: str, error: str, tail: str | None) -> None:
    """Every way a target can fail becomes a failed result with a one-line reason, never an exception."""
    result = await run_target(py(code), make_case())
    assert (result.ok, result.output_json, result.error, result.stderr_tail) == (False, None, error, tail)


@pytest.mark.anyio
async def test_stderr_flood_keeps_only_the_tail() -> None:
    """Only the last 4 KiB of stderr is kept, marked as cut; the output is unaffected."""
    code = (
        "import sys\n"
        "for i in range(20000): print('noise', i, file=sys.stderr)\n"
        "print('last words', file=sys.stderr)\n"
        "print('ok')"
    )
    result = await run_target(py(code), make_case())
    assert result.ok and result.output_json == '"ok"'
    assert result.stderr_tail is not None and result.stderr_tail.startswith("…")
    assert result.stderr_tail.endswith("noise 19999\nlast words")
    assert len(result.stderr_tail.encode()) <= targets.STDERR_TAIL + 3


@POSIX
@pytest.mark.anyio
async def test_timeout_kills_the_target() -> None:
    """A target that runs too long is killed and reported as timed out."""
    result = await run_target(py("import time; time.sleep(60)", timeout=0.5), make_case())
    assert (result.ok, result.error) == (False, "timed out after 0.5s")
    assert result.duration_s < 10


@LINUX
@pytest.mark.anyio
async def test_timeout_kills_a_target_that_ignores_sigterm(quick_kill: None) -> None:
    """SIGTERM first; what does not stop within the grace gets SIGKILL."""
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    result = await run_target(py(code, timeout=0.5), make_case())
    assert (result.ok, result.error) == (False, "timed out after 0.5s")


GRANDCHILD = (
    "import subprocess, sys; "
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "print(child.pid, flush=True); sys.stderr.write(str(child.pid) + '\\n'); sys.stderr.flush(); "
)


@LINUX
@pytest.mark.parametrize(
    ("tail", "limit", "error"),
    [
        pytest.param("", 20.0, None, id="target-exits"),
        pytest.param("import time; time.sleep(60)", 0.5, "timed out after 0.5s", id="target-times-out"),
    ],
)
@pytest.mark.anyio
async def test_grandchildren_do_not_outlive_the_target(
    quick_kill: None, tail: str, limit: float, error: str | None
) -> None:
    """Whatever the target started in its process group is stopped with it (and cannot hold its pipes)."""
    result = await run_target(py(GRANDCHILD + tail, timeout=limit), make_case())
    assert result.error == error
    assert result.stderr_tail is not None
    assert gone(int(result.stderr_tail))


@LINUX
@pytest.mark.anyio
async def test_a_process_that_escaped_the_group_cannot_hang_regate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A daemon that left the process group and keeps stdout open fails the case after a short grace."""
    monkeypatch.setattr(targets, "DRAIN_GRACE", 0.3)
    code = GRANDCHILD.replace("])", "], start_new_session=True)")
    result = await run_target(py(code), make_case())
    assert result.stderr_tail is not None
    daemon = int(result.stderr_tail)
    try:
        assert result.error == (
            "stdout still open after the target exited: a process it started outside its group holds it"
        )
    finally:
        os.kill(daemon, signal.SIGKILL)
    assert gone(daemon)


@pytest.mark.parametrize(
    ("command", "error"),
    [
        pytest.param(("/nonexistent/agent",), "command not found: /nonexistent/agent", id="missing-path"),
        pytest.param(
            ("regate-no-such-agent-xyz",), "command not found: regate-no-such-agent-xyz", id="not-on-path"
        ),
    ],
)
@pytest.mark.anyio
async def test_command_that_cannot_start(command: tuple[str, ...], error: str) -> None:
    """A missing command is a failed result naming it."""
    result = await run_target(CommandTarget(command=command, timeout=5), make_case())
    assert (result.ok, result.error) == (False, error)


@POSIX
@pytest.mark.anyio
async def test_command_not_executable_or_bad_cwd(tmp_path: Path) -> None:
    """A file without the execute bit, or a missing working directory, is named in the error."""
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    result = await run_target(CommandTarget(command=(str(script),), timeout=5), make_case())
    assert result.error == f"command is not executable: {script}"
    missing = str(tmp_path / "nowhere")
    result = await run_target(py("print(1)", cwd=missing), make_case())
    assert result.error is not None and result.error.startswith(f"cannot use working directory {missing}: ")


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("print('ignored my input')", id="never-reads-stdin"),
        pytest.param("import os; os.close(0); print('closed stdin first')", id="closes-stdin-early"),
    ],
)
@pytest.mark.anyio
async def test_target_that_does_not_read_its_input(code: str) -> None:
    """A target may ignore stdin, even a case far bigger than a pipe buffer: no deadlock, no error."""
    result = await run_target(py(code), make_case(padding=1024 * 1024))
    assert result.ok and result.error is None and result.output_json is not None


@pytest.mark.anyio
async def test_env_values_are_masked_in_messages() -> None:
    """A configured env value the target prints is masked in the error and the stderr tail."""
    code = "import os, sys; sys.stderr.write('token=' + os.environ['AGENT_KEY']); sys.exit(2)"
    result = await run_target(py(code, env=(("AGENT_KEY", SECRET),)), make_case())
    assert result.error == "exited with code 2: token=***"
    assert result.stderr_tail == "token=***"


class SteppingClock:
    def __init__(self) -> None:
        self.ticks = iter([100.0, 102.5])

    def now(self) -> float:
        return next(self.ticks)

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - not used by targets
        raise AssertionError


@pytest.mark.anyio
async def test_duration_comes_from_the_injected_clock() -> None:
    result = await run_target(py("print(1)"), make_case(), clock=SteppingClock())
    assert result.duration_s == 2.5


# --- many cases --------------------------------------------------------------------------------------------

# Each target marks its start and end in a directory; it counts who is running and waits until three are, or
# until every case has started, so the bound is really reached. It prints the highest count it saw.
BARRIER = """
import json, os, sys, time
case = json.load(sys.stdin)['test_case_id']
d = sys.argv[1]
open(os.path.join(d, 'start-' + case), 'x').close()
def active():
    names = os.listdir(d)
    starts = sum(n.startswith('start-') for n in names)
    return starts, starts - sum(n.startswith('end-') for n in os.listdir(d))
seen, deadline = 0, time.monotonic() + 15
while True:
    started, running = active()
    seen = max(seen, running)
    if running >= 3 or started == int(sys.argv[2]) or time.monotonic() > deadline:
        break
    time.sleep(0.005)
open(os.path.join(d, 'end-' + case), 'x').close()
print(case, seen)
"""


@pytest.mark.anyio
async def test_run_cases_bounds_concurrency_and_keeps_case_order(tmp_path: Path) -> None:
    """At most ``concurrency`` targets run at once; results come back in case order; on_result sees each."""
    cases = [make_case(n) for n in range(7)]
    target = CommandTarget(command=(sys.executable, "-c", BARRIER, str(tmp_path), "7"), timeout=30)
    seen: list[str] = []

    async def record(result: TargetResult) -> None:
        seen.append(result.case.case_id)

    results = await run_cases(target, cases, concurrency=3, on_result=record)
    assert [r.case for r in results] == cases
    assert all(r.ok for r in results), [r.error for r in results]
    outputs = [json.loads(r.output_json or "") for r in results]
    assert [o.split()[0] for o in outputs] == [c.case_id for c in cases]
    assert max(int(o.split()[1]) for o in outputs) == 3
    assert sorted(seen) == sorted(c.case_id for c in cases)


@LINUX
@pytest.mark.anyio
async def test_on_result_failure_cancels_the_rest(fifo: Path) -> None:
    """If recording a result fails, the remaining targets are stopped and the error propagates as is."""
    slow = make_case(2, question="slow")
    code = (
        "import json, os, sys, time\n"
        "if json.load(sys.stdin)['variables']['question'] == 'slow':\n"
        f"    open({str(fifo)!r}, 'w').write(str(os.getpid())); time.sleep(60)\n"
        "print('quick')"
    )
    pids: list[int] = []

    async def record(result: TargetResult) -> None:
        pids.append(int(await read_fifo(fifo)))  # the slow target is running now
        raise RuntimeError("recording failed")

    with pytest.raises(RuntimeError, match="recording failed"):
        await run_cases(py(code), [make_case(1), slow], concurrency=2, on_result=record)
    assert len(pids) == 1 and gone(pids[0])


@LINUX
@pytest.mark.anyio
async def test_cancellation_propagates_and_kills_the_target(fifo: Path) -> None:
    """Cancelling run_target (Ctrl-C, a deadline) cancels it for real and leaves no process behind."""
    code = f"import os, time; open({str(fifo)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    finished: list[TargetResult] = []

    async def run() -> None:
        finished.append(await run_target(py(code), make_case()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        pid = int(await read_fifo(fifo))
        tg.cancel_scope.cancel()
    assert finished == []
    assert gone(pid)


@pytest.mark.anyio
async def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await run_cases(py("print(1)"), [], concurrency=0)


# --- HTTP targets ------------------------------------------------------------------------------------------

AGENT_URL = "https://agent.test/run?key=not-in-errors"
HEADERS = (("Authorization", f"Bearer {SECRET}"), ("X-Agent-Key", "agent-key-9876"))


def http_target(timeout: float = 5.0) -> HttpTarget:
    return HttpTarget(url=AGENT_URL, timeout=timeout, headers=HEADERS)


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("response", "ok", "output", "error"),
    [
        pytest.param(httpx.Response(200, text="Four."), True, '"Four."', None, id="200-text"),
        pytest.param(
            httpx.Response(201, json={"output": "Four.", "eval_results": {"ok": True}}),
            True,
            '"Four."',
            None,
            id="201-structured",
        ),
        pytest.param(httpx.Response(204), False, None, "empty output", id="204-empty"),
        pytest.param(
            httpx.Response(502, text="upstream \x1b[31mexploded\x1b[0m\n" + "x" * 5000),
            False,
            None,
            "HTTP 502: upstream exploded ⏎ " + "x" * 179 + "…",
            id="502-cleaned-excerpt",
        ),
        pytest.param(
            httpx.Response(401, text=f"bad credentials: Bearer {SECRET} / agent-key-9876"),
            False,
            None,
            "HTTP 401: bad credentials: *** / ***",
            id="echoed-headers-masked",
        ),
        pytest.param(
            httpx.Response(302, headers={"Location": "https://elsewhere.test/"}),
            False,
            None,
            "HTTP 302 (redirects are not followed)",
            id="redirect-not-followed",
        ),
        pytest.param(
            httpx.Response(200, content=b"y" * (4 * 1024 * 1024 + 1)),
            False,
            None,
            "output larger than 4 MiB",
            id="huge-body",
        ),
    ],
)
@pytest.mark.anyio
async def test_http_target_answers(
    response: httpx.Response, ok: bool, output: str | None, error: str | None
) -> None:
    """A 2xx body is parsed like stdout; any other status fails the case with a short, cleaned excerpt."""
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return response

    case = make_case()
    async with client(handler) as http:
        result = await run_target(http_target(), case, http=http)
    assert (result.ok, result.output_json, result.error) == (ok, output, error)
    (request,) = requests
    assert request.method == "POST" and str(request.url) == AGENT_URL
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.content == case.target_input.encode() + b"\n"


@pytest.mark.anyio
async def test_http_configured_content_type_replaces_ours() -> None:
    """Headers are case-insensitive: a configured content-type is sent once, not next to ours."""
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, text="ok")

    target = HttpTarget(
        url=AGENT_URL, timeout=5, headers=(("content-type", "application/json; charset=utf-8"),)
    )
    async with client(handler) as http:
        assert (await run_target(target, make_case(), http=http)).ok
    assert requests[0].headers.get_list("Content-Type") == ["application/json; charset=utf-8"]


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        pytest.param(
            httpx.ConnectError(f"refused (Bearer {SECRET})"),
            "cannot connect to agent.test: ConnectError: refused (***)",
            id="connect-error",
        ),
        pytest.param(
            httpx.RemoteProtocolError("peer closed connection"),
            "request to agent.test failed: RemoteProtocolError: peer closed connection",
            id="protocol-error",
        ),
        pytest.param(httpx.ReadTimeout("slow"), "timed out after 5s", id="read-timeout"),
    ],
)
@pytest.mark.anyio
async def test_http_transport_failures(exc: httpx.HTTPError, error: str) -> None:
    """Transport failures name the host, never the URL's query or a header value."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    async with client(handler) as http:
        result = await run_target(http_target(), make_case(), http=http)
    assert (result.ok, result.error) == (False, error)


@pytest.fixture
def loopback() -> Iterator[str]:
    """A real server on 127.0.0.1: /ok answers at once, /slow holds the request until teardown."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/slow":
                release.wait(30)
            body = b"Four.\n"
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.anyio
async def test_http_target_against_a_real_server(loopback: str) -> None:
    """With no client given, run_cases makes its own; a server that does not answer in time is a timeout."""
    fast, slow = HttpTarget(url=loopback + "/ok", timeout=5), HttpTarget(url=loopback + "/slow", timeout=0.5)
    (result,) = await run_cases(fast, [make_case()], concurrency=2)
    assert (result.ok, result.output_json) == (True, '"Four."')
    (result,) = await run_cases(slow, [make_case()], concurrency=2)
    assert (result.ok, result.error) == (False, "timed out after 0.5s")


@pytest.mark.anyio
async def test_connection_refused_names_the_host() -> None:
    """Nothing listening: the error names host and port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nobody listens there
    result = await run_target(HttpTarget(url=f"http://127.0.0.1:{port}/", timeout=5), make_case())
    assert result.error is not None and result.error.startswith(f"cannot connect to 127.0.0.1:{port}: ")
