"""Helpers of the security tests: canary keys, a recording loopback HTTP server, the CLI as a subprocess,
and scanners for leaked keys and workflow commands.

Everything listens on 127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Recognisable keys: if any of them (or a distinctive part of one) shows up in an output, it leaked.
CEKURA_CANARY = "canary-KEY-3f9a1c7e-do-not-leak"
FREEPLAY_CANARY = "canary-KEY-b41d07aa-do-not-leak"
TARGET_CANARY = "canary-KEY-5e6c2d90-do-not-leak"  # a token in an HTTP target's header
CANARY_FRAGMENTS = ("canary-KEY", "3f9a1c7e", "b41d07aa", "5e6c2d90", "do-not-leak")

_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def clean_env(**extra: str) -> dict[str, str]:
    """regate's environment for a test: this one without proxies or GitHub's variables, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in _PROXY_VARIABLES
        and not key.startswith("GITHUB_")  # an outer GitHub runner would switch on annotations
        and not key.endswith("_API_KEY")
    }
    env.update({"PYTHONUNBUFFERED": "1", **extra})
    return env


def canary_env(**extra: str) -> dict[str, str]:
    return clean_env(CEKURA_API_KEY=CEKURA_CANARY, FREEPLAY_API_KEY=FREEPLAY_CANARY, **extra)


def regate(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``regate ARGS`` as a subprocess, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def leaks(text: str) -> list[str]:
    """The canary fragments found in ``text``."""
    return [fragment for fragment in CANARY_FRAGMENTS if fragment in text]


def files_under(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


# -- workflow commands ----------------------------------------------------------------------------------

# The Actions runner reads the log line by line (CR, LF or CRLF end a line) and treats a line as a command
# when, after leading whitespace, it starts with "::" (or the legacy "##["). To be stricter than the runner,
# the Unicode line breaks NEL, LS and PS end a line here too, and leading zero-width characters are skipped.
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_LEADING = re.compile(r"^(?:\s|[\u180e\u200b\ufeff])*")


def command_lines(text: str) -> list[str]:
    """The lines of ``text`` that a GitHub Actions runner would take for a workflow command."""
    found = []
    for line in _LINE_BREAK.split(text):
        rest = _LEADING.sub("", line)
        if rest.startswith(("::", "##[")):
            found.append(line)
    return found


# -- a recording loopback HTTP server --------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Recorder:
    """A loopback HTTP server that records every request and answers each with ``respond(request)``."""

    respond: Callable[[Request], Reply]
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def header_values(self) -> list[str]:
        return [value for request in list(self.requests) for value in request.headers.values()]


def _handler(recorder: Recorder, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with lock:
                recorder.requests.append(request)
            status, headers, payload = recorder.respond(request)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test asserts on what was recorded

    return Handler


@contextmanager
def recorder(respond: Callable[[Request], Reply]) -> Iterator[Recorder]:
    """Serve ``respond`` on 127.0.0.1 (a free port) until the block ends."""
    rec = Recorder(respond)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec, threading.Lock()))
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def json_reply(status: int, body: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    return status, {"Content-Type": "application/json", **dict(headers)}, body.encode()


@contextmanager
def sim_process(log: Path, *args: str, env: dict[str, str]) -> Iterator[str]:
    """``regate sim`` on a free loopback port (its stderr in ``log``); yields its base URL."""
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "sim", "--host", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
        )  # fmt: skip
        assert process.stdout is not None
        stdout = process.stdout
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=20)
            prefix = "regate sim listening on "
            assert line.startswith(prefix), line
            yield line[len(prefix) :].strip()
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            stdout.close()
