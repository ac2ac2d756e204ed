"""The simulator on a real loopback socket: ``SimServer``, ``EmbeddedSimulator`` and ``run_sim``.

Built on the standard library's ``ThreadingHTTPServer`` (daemon threads, HTTP/1.1 keep-alive). One lock
serialises calls into the app, and is never held while a slow response waits. Faults are carried out here:

- ``reset``/``reset_after_processing``: the socket is closed with SO_LINGER 0, so the client receives a TCP
  RST and no response at all (httpx raises ``ReadError``/``RemoteProtocolError``);
- ``cut``: the status line, the headers (announcing the full ``Content-Length``) and half of the body are
  sent, then the socket is reset the same way;
- ``delay``: simulated seconds, so the real wait is ``delay / speed``.

Only loopback addresses (127.0.0.0/8, ::1, localhost) may be bound unless ``allow_non_loopback`` is set:
the simulator accepts any API key and must not be reachable from a network by accident.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runner.errors import SimulatorError, UsageError
from runner.simulator.app import SimApp
from runner.simulator.faults import parse_faults
from runner.simulator.wire import SimRequest, SimResponse, json_response
from runner.simulator.world import load_world


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a benchmark or a big config opens a hundred connections at once

    def __init__(self, address: tuple[str, int], sim: SimServer, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.sim = sim
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (or timed out during a slow response) is not a simulator problem.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall for seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        sim = self.server.sim
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send(json_response(411, {"detail": "Chunked request bodies are not supported."}))
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._send(json_response(400, {"detail": "Invalid Content-Length header."}))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = SimRequest(
            self.command, url.path, parse_qs(url.query, keep_blank_values=True), headers, body
        )
        with sim.lock:
            try:
                response = sim.app.handle(request)
            except Exception as exc:  # a simulator bug: answer 500 like a crashed server, and say so
                sys.stderr.write(f"regate sim: internal error on {self.command} {url.path}: {exc!r}\n")
                response = json_response(500, {"detail": "Simulator internal error."})
        if response.reset or response.reset_after_processing:
            self._reset()
            return
        if response.delay > 0:
            sim.stopping.wait(response.delay / sim.speed)  # returns early when the server stops
        self._send(response)
        if response.cut:
            self._reset()

    def _send(self, response: SimResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body[: len(response.body) // 2] if response.cut else response.body)

    def _reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket closes for real only once its file objects are gone
        self.connection.close()

    def log_message(self, format: str, *args: object) -> None:
        if self.server.sim.verbose:  # terse, and never headers: they carry the API key
            sys.stderr.write(
                f"regate sim: {self.command} {urlsplit(self.path).path} {args[1] if len(args) > 1 else ''}\n"
            )


class SimServer:
    """Serves one ``SimApp`` over HTTP/1.1 on a loopback address, in a background thread."""

    def __init__(
        self,
        app: SimApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        speed: float = 1.0,
        allow_non_loopback: bool = False,
        verbose: bool = False,
    ) -> None:
        if not allow_non_loopback and not is_loopback(host):
            raise SimulatorError(
                f"refusing to serve the simulator on non-loopback address {host!r}",
                hint="use 127.0.0.1, ::1 or localhost",
            )
        if speed <= 0:
            raise UsageError(f"simulator speed must be > 0, got {speed}")
        self.app = app
        self.host = host.strip("[]")
        self.port = port
        self.speed = speed
        self.verbose = verbose
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SimServer:
        self.stopping.clear()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            self._httpd = _HTTPServer((self.host, self.port), self, family)
        except OSError as exc:
            raise SimulatorError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        self.app.base_url_hint = self.base_url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="regate-sim", daemon=True
        )
        self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise SimulatorError("the simulator server is not running")
        host, port = self._httpd.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def build_app(
    world_path: str | None, speed: float, seed: int, faults: str | None, api_keys: Sequence[str] = ()
) -> SimApp:
    """An app on a real-time clock compressed by ``speed`` (simulated seconds = elapsed x speed)."""
    if speed <= 0:
        raise UsageError(
            f"simulator speed must be > 0, got {speed}", hint="e.g. --speed 10 runs ten times faster"
        )
    world = load_world(world_path)
    plan = parse_faults(faults)
    t0 = time.monotonic()

    def clock() -> float:
        return (time.monotonic() - t0) * speed

    return SimApp(world, clock=clock, seed=seed, faults=plan, api_keys=api_keys, epoch=time.time())


class EmbeddedSimulator:
    """The simulator on 127.0.0.1 and a free port, for the duration of a ``with`` block."""

    def __init__(
        self,
        world_path: str | None = None,
        speed: float = 1.0,
        seed: int = 0,
        faults: str | None = None,
        api_keys: Sequence[str] = (),
    ) -> None:
        self.app = build_app(world_path, speed, seed, faults, api_keys)
        self.server = SimServer(self.app, "127.0.0.1", 0, speed=speed)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def __enter__(self) -> EmbeddedSimulator:
        self.server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.stop()


def run_sim(
    host: str,
    port: int,
    world_path: str | None,
    speed: float,
    seed: int,
    faults: str | None,
    api_keys: Sequence[str],
    *,
    allow_non_loopback: bool = False,
    verbose: bool = False,
) -> int:
    """Serve in the foreground until SIGINT/SIGTERM; print exactly one line, then exit 0 on a signal."""
    app = build_app(world_path, speed, seed, faults, api_keys)
    server = SimServer(app, host, port, speed=speed, allow_non_loopback=allow_non_loopback, verbose=verbose)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        print(f"regate sim listening on {server.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
