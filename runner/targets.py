"""Running the agent under test (the *target*) on each test case the platform handed out.

The target protocol
===================

regate gives the target one test case at a time as **one JSON object**::

    {"test_case_id": "…", "kind": "completion", "variables": {…}, "history": […], "metadata": {…}}
    {"test_case_id": "…", "kind": "trace", "input": …, "metadata": {…}}

(``output`` is added with the dataset's stored output when ``include_outputs`` is set.)

**Command target** (``command: [argv…]``): regate starts the command (no shell) once per test case, in
its own session and process group, with regate's environment plus the configured ``env``. It writes the
JSON object and a newline to the command's stdin and closes it; the command prints its output on stdout
and exits 0. stderr is for logs: regate keeps its last 4 KiB to show when something goes wrong. A non-zero
exit, a death by signal, more than 4 MiB on stdout or running longer than ``timeout`` fails the case; on
timeout the whole process group gets SIGTERM, then SIGKILL 2 s later. When the command exits, whatever it
left running in its process group is stopped the same way (a daemon that leaves the group and keeps stdout
open fails the case). The command does not have to read its stdin. Being in its own session, it does not
get the terminal's Ctrl-C: regate stops it when regate is interrupted.

**HTTP target** (``url:``): regate POSTs the JSON object (``Content-Type: application/json``, plus the
configured ``headers``) to the URL, once per test case. A 2xx answer's body is the output; any other
status fails the case (redirects are not followed). ``timeout`` bounds the whole exchange.

**Output** (the same for both): UTF-8 text. If it is a JSON object with an ``"output"`` key, it is
*structured*::

    {"output": "the answer",                         # any JSON value; usually a string
     "eval_results": {"exact_match": true, "bleu": 0.42},   # optional: name → boolean or number
     "messages": [{"role": "user", "content": "…"}, …]}      # optional: the conversation

Other keys are ignored; ``null`` ``eval_results``/``messages`` count as absent. Otherwise the whole
text, minus one trailing newline, is the output (a string). Empty output, invalid UTF-8 or a malformed
``eval_results``/``messages`` fail the case. A failed case is recorded as failed with a one-line reason;
it is never dropped. Configured header and ``env`` values (6 characters or more) are masked in every
message regate shows.
"""

from __future__ import annotations

import inspect
import os
import signal
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from subprocess import PIPE

import anyio
import anyio.abc
import httpx

from runner.clock import Clock, RealClock
from runner.model import TargetResult, TestCase
from runner.settings import CommandTarget, HttpTarget, TargetSpec
from runner.target_output import OutputError, parse_output
from runner.textclean import ELLIPSIS, clean_text, one_line

__all__ = ["OUTPUT_LIMIT", "STDERR_TAIL", "parse_output", "run_cases", "run_target"]

OUTPUT_LIMIT = 4 * 1024 * 1024  # bytes of stdout / response body
STDERR_TAIL = 4 * 1024  # bytes of stderr kept (the end)
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
DRAIN_GRACE = 2.0  # seconds to wait for pipes to close once the process group is gone
_EXCERPT_BYTES = 2048  # of a non-2xx body
_EXCERPT_CHARS = 200
_POLL = 0.05  # seconds between checks that a terminated process group is gone
_MIN_SECRET = 6  # shorter values are not masked (they would mask ordinary words)
_POSIX = os.name == "posix"
_SIGKILL: int = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has no SIGKILL (nor process groups)
_STREAM_ERRORS = (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError)


@dataclass(frozen=True, slots=True)
class _Raw:
    """What a target produced before parsing: a body, or the reason there is none."""

    body: bytes = b""
    error: str | None = None
    stderr_tail: str | None = None


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _secrets(target: TargetSpec) -> tuple[str, ...]:
    """The configured ``env``/``headers`` values to mask, and each word of them (``Bearer <token>``)."""
    pairs = target.env if isinstance(target, CommandTarget) else target.headers
    found = {part for _, value in pairs for part in (value, *value.split()) if len(part) >= _MIN_SECRET}
    return tuple(sorted(found, key=len, reverse=True))


def _seconds(value: float) -> str:
    return f"{value:g}s"


async def _collect(chunks: AsyncIterable[bytes], limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of ``chunks``, and whether there was more."""
    data = bytearray()
    async for chunk in chunks:
        if len(data) + len(chunk) > limit:
            data += chunk[: limit - len(data)]
            return bytes(data), True
        data += chunk
    return bytes(data), False


# --- command targets ------------------------------------------------------------------------------------


@dataclass
class _Capture:
    """The output of one process, filled by the reader tasks."""

    stdout: bytes = b""
    overflow: bool = False
    stderr: bytearray = field(default_factory=bytearray)
    stderr_truncated: bool = False
    stdout_done: anyio.Event = field(default_factory=anyio.Event)
    stderr_done: anyio.Event = field(default_factory=anyio.Event)

    async def read_stdout(self, stream: anyio.abc.ByteReceiveStream, on_overflow: Callable[[], None]) -> None:
        try:
            self.stdout, self.overflow = await _collect(stream, OUTPUT_LIMIT)
            if self.overflow:
                on_overflow()
        except _STREAM_ERRORS:
            pass
        finally:
            self.stdout_done.set()

    async def read_stderr(self, stream: anyio.abc.ByteReceiveStream) -> None:
        try:
            async for chunk in stream:
                self.stderr += chunk
                if len(self.stderr) > STDERR_TAIL:
                    del self.stderr[:-STDERR_TAIL]
                    self.stderr_truncated = True
        except _STREAM_ERRORS:
            pass
        finally:
            self.stderr_done.set()

    async def drained(self) -> None:
        await self.stdout_done.wait()
        await self.stderr_done.wait()

    def stderr_text(self, secrets: Sequence[str]) -> str | None:
        data = bytes(self.stderr)
        if self.stderr_truncated:
            data = data.lstrip(bytes(range(0x80, 0xC0)))  # a character cut in half at the start
        text = clean_text(_redact(data.decode("utf-8", errors="replace"), secrets)).strip()
        if not text:
            return None
        return ELLIPSIS + text if self.stderr_truncated else text


async def _feed(stream: anyio.abc.ByteSendStream, payload: bytes) -> None:
    """Write the case to stdin and close it. A target that does not read it all is not an error."""
    try:
        await stream.send(payload)
    except _STREAM_ERRORS:
        pass
    finally:
        with suppress(*_STREAM_ERRORS):
            await stream.aclose()


def _signal_group(process: anyio.abc.Process, sig: int) -> bool:
    """Send ``sig`` to the target's process group; False when nothing is left in it."""
    if not _POSIX:  # no process groups: only the process itself can be stopped
        if process.returncode is not None:
            return False
        with suppress(OSError):
            process.kill()
        return False
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):  # PermissionError: only zombies left (macOS)
        return False
    return True


async def _stop_group(process: anyio.abc.Process) -> None:
    """SIGTERM the process group, wait up to KILL_GRACE for it to go, then SIGKILL what is left."""
    if not _signal_group(process, signal.SIGTERM):
        return
    for _ in range(round(KILL_GRACE / _POLL)):
        await anyio.sleep(_POLL)
        if not _signal_group(process, 0):
            return
    _signal_group(process, _SIGKILL)


def _spawn_error(exc: OSError, program: str, cwd: str | None) -> str:
    reason = exc.strerror or type(exc).__name__
    if cwd is not None and exc.filename == cwd:
        return f"cannot use working directory {cwd}: {reason}"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {program}"
    if isinstance(exc, PermissionError):
        return f"command is not executable: {program}"
    return f"cannot start {program}: {reason}"


def _exit_error(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


async def _run_command(target: CommandTarget, payload: bytes) -> _Raw:
    if not target.command:
        return _Raw(error="the target command is empty")
    program = one_line(target.command[0], 200)
    secrets = _secrets(target)
    try:
        process = await anyio.open_process(
            list(target.command),
            stdin=PIPE,
            stdout=PIPE,
            stderr=PIPE,
            cwd=target.cwd,
            env={**os.environ, **dict(target.env)},
            start_new_session=_POSIX,
        )
    except OSError as exc:
        return _Raw(error=_redact(_spawn_error(exc, program, target.cwd), secrets))
    assert process.stdin and process.stdout and process.stderr  # noqa: S101 - all three are PIPE
    capture = _Capture()
    stdout_held = False
    try:
        waiting = anyio.CancelScope(deadline=anyio.current_time() + target.timeout)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_feed, process.stdin, payload)
            tg.start_soon(capture.read_stdout, process.stdout, waiting.cancel)
            tg.start_soon(capture.read_stderr, process.stderr)
            with waiting:
                await process.wait()
            await _stop_group(process)  # on timeout the target itself, else what it left behind
            with anyio.move_on_after(DRAIN_GRACE):  # a process that left the group may hold the pipes
                await capture.drained()
            stdout_held = not capture.stdout_done.is_set()
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            _signal_group(process, _SIGKILL)  # cancelled from outside: leave nothing running
            with anyio.move_on_after(KILL_GRACE):
                await process.aclose()
    tail = capture.stderr_text(secrets)
    if capture.overflow:
        error = f"output larger than {OUTPUT_LIMIT // (1024 * 1024)} MiB"
    elif waiting.cancelled_caught or process.returncode is None:
        error = f"timed out after {_seconds(target.timeout)}"
    elif process.returncode != 0:
        error = _exit_error(process.returncode)
        if tail:
            error += ": " + one_line(tail.splitlines()[-1].lstrip(ELLIPSIS), _EXCERPT_CHARS)
    elif stdout_held:
        error = "stdout still open after the target exited: a process it started outside its group holds it"
    else:
        return _Raw(body=capture.stdout, stderr_tail=tail)
    return _Raw(error=error, stderr_tail=tail)


# --- HTTP targets ---------------------------------------------------------------------------------------


def _host(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "the target URL"
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host or "the target URL"


async def _run_http(target: HttpTarget, payload: bytes, client: httpx.AsyncClient) -> _Raw:
    host = _host(target.url)
    secrets = _secrets(target)
    headers = httpx.Headers({"Content-Type": "application/json"})
    headers.update(dict(target.headers))  # case-insensitive: a configured Content-Type replaces ours
    timed_out = f"timed out after {_seconds(target.timeout)}"
    try:
        with anyio.move_on_after(target.timeout):
            async with client.stream(
                "POST",
                target.url,
                content=payload,
                headers=headers,
                timeout=httpx.Timeout(target.timeout),
                follow_redirects=False,
            ) as response:
                if not response.is_success:
                    head, _ = await _collect(response.aiter_bytes(), _EXCERPT_BYTES)
                    text = one_line(_redact(head.decode("utf-8", errors="replace"), secrets), _EXCERPT_CHARS)
                    redirect = " (redirects are not followed)" if response.is_redirect else ""
                    error = f"HTTP {response.status_code}{redirect}"
                    return _Raw(error=f"{error}: {text}" if text else error)
                body, overflow = await _collect(response.aiter_bytes(), OUTPUT_LIMIT)
                if overflow:
                    return _Raw(error=f"output larger than {OUTPUT_LIMIT // (1024 * 1024)} MiB")
                return _Raw(body=body)
        return _Raw(error=timed_out)
    except httpx.TimeoutException:
        return _Raw(error=timed_out)
    except httpx.ConnectError as exc:
        return _Raw(error=f"cannot connect to {host}: {_reason(exc, secrets)}")
    except httpx.HTTPError as exc:
        return _Raw(error=f"request to {host} failed: {_reason(exc, secrets)}")


def _reason(exc: Exception, secrets: Sequence[str]) -> str:
    text = one_line(_redact(str(exc), secrets), _EXCERPT_CHARS)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- the API --------------------------------------------------------------------------------------------


async def run_target(
    target: TargetSpec, case: TestCase, *, http: httpx.AsyncClient | None = None, clock: Clock | None = None
) -> TargetResult:
    """Run the target on one test case. Never raises for a target problem: failures are results."""
    clock = clock or RealClock()
    started = clock.now()
    payload = case.target_input.encode("utf-8") + b"\n"
    try:
        if isinstance(target, CommandTarget):
            raw = await _run_command(target, payload)
        elif http is not None:
            raw = await _run_http(target, payload, http)
        else:
            async with _client(1) as client:
                raw = await _run_http(target, payload, client)
    except Exception as exc:  # a bug or an OS oddity: still one failed case, not a crashed gate
        raw = _Raw(error=f"could not run the target: {_reason(exc, _secrets(target))}")
    duration = max(0.0, clock.now() - started)
    parsed = parse_output(raw.body) if raw.error is None else OutputError(raw.error)
    if isinstance(parsed, OutputError):
        return TargetResult(
            case=case,
            ok=False,
            output_json=None,
            error=parsed.message,
            stderr_tail=raw.stderr_tail,
            duration_s=duration,
        )
    return TargetResult(
        case=case,
        ok=True,
        output_json=parsed.output_json,
        messages_json=parsed.messages_json,
        eval_results=parsed.eval_results,
        stderr_tail=raw.stderr_tail,
        duration_s=duration,
    )


def _client(concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, follow_redirects=False)


async def run_cases(
    target: TargetSpec,
    cases: Sequence[TestCase],
    *,
    concurrency: int,
    on_result: Callable[[TargetResult], Awaitable[None] | None] | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
) -> list[TargetResult]:
    """Run the target on every case, at most ``concurrency`` at once; one result per case, in case order.

    ``on_result`` is called (and awaited) as each case finishes. If it raises, the remaining cases are
    cancelled (their processes stopped) and its exception propagates unwrapped.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    results: list[TargetResult | None] = [None] * len(cases)
    failures: list[Exception] = []
    limiter = anyio.CapacityLimiter(concurrency)
    async with AsyncExitStack() as stack:
        if isinstance(target, HttpTarget) and http is None:
            http = await stack.enter_async_context(_client(concurrency))

        async def one(index: int, case: TestCase, scope: anyio.CancelScope) -> None:
            async with limiter:
                result = await run_target(target, case, http=http, clock=clock)
            results[index] = result
            if on_result is None:
                return
            try:
                outcome = on_result(result)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as exc:
                failures.append(exc)
                scope.cancel()

        async with anyio.create_task_group() as tg:
            for index, case in enumerate(cases):
                tg.start_soon(one, index, case, tg.cancel_scope)
    if failures:
        raise failures[0]
    done = [result for result in results if result is not None]
    if len(done) != len(cases):  # only if a task ended without a result, which run_target rules out
        raise RuntimeError(f"{len(cases) - len(done)} test case(s) have no result")
    return done
