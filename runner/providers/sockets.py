# ruff: noqa: ASYNC109  (the `timeout` parameters are httpcore's stream interface, implemented here)
"""httpcore's network streams on asyncio's own transports, at a fraction of the Python calls per request.

httpcore's default backend on asyncio goes through anyio: every read and every write of every request opens
an anyio cancel scope for its timeout, checks for cancellation, and un- and re-registers the socket with the
event loop; an idle-connection check rebuilds the stream's attribute table, with a ``getpeername`` system
call, only to reach the socket. At 1,000 gates that was about a tenth of the runner's CPU (cProfile, the
1000 x 100 benchmark). Here each connection is an ``asyncio.Protocol`` that buffers what arrives, and a
read waits on one future with one timer; a loopback microbenchmark measured 12% less CPU per request.

What it keeps of httpcore's contract:
- a read returns at most ``max_bytes`` and ``b""`` once the peer has closed; a connection lost with an
  error is ``httpcore.ReadError``, a read past its timeout ``httpcore.ReadTimeout``;
- a write waits while the transport's buffer is full (flow control), at most its timeout
  (``httpcore.WriteTimeout``); a write on a closed connection is ``httpcore.WriteError``;
- connecting (happy eyeballs, ``local_address``, socket options) fails as ``httpcore.ConnectError`` or
  ``httpcore.ConnectTimeout``; so does a TLS upgrade (``start_tls``, for HTTPS and proxy tunnels);
- an idle connection reads as readable (and is not reused) once the peer closed it or sent anything;
- reading stops while more than ``HIGH_WATER`` bytes wait unread, so a huge answer is not buffered faster
  than httpcore consumes it.
Outside an asyncio event loop (trio), every call goes to the backend this one replaced.

httpx has no public way to choose its pool's network backend without giving up the proxy variables
(passing ``transport=`` disables them), so ``install`` replaces the backend of the default transport's pool
in place, through two private attributes. If a future httpx or httpcore renames them, ``install`` changes
nothing and says so in the debug log: requests work as before, only slower. A test pins that it applies to
the versions installed.
"""

from __future__ import annotations

import asyncio
import logging
import select
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import httpcore
import httpx

log = logging.getLogger("regate.http")

READ_SIZE = 256 * 1024  # bytes asked of the socket at once (asyncio's own read size)
HIGH_WATER = 256 * 1024  # unread bytes at which the connection stops reading from its socket...
LOW_WATER = 64 * 1024  # ...until httpcore has taken all but this many
HAPPY_EYEBALLS = 0.25  # seconds before the next address of a host is tried alongside (anyio's delay)


def is_readable(sock: socket.socket | None) -> bool:
    """Whether ``recv`` would return at once: data, or the ``b""`` of a peer that closed. A socket that is
    gone counts as readable, so the pool drops its connection."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    if sys.platform == "win32" or not hasattr(select, "poll"):
        ready, _, _ = select.select([fd], [], [], 0)
        return bool(ready)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class _Protocol(asyncio.BufferedProtocol):
    """One connection's incoming bytes and state, fed by the event loop.

    Buffered: the event loop reads into this connection's own scratch space (``get_buffer``). A plain
    protocol gets each read as a new bytes object of asyncio's 256 KiB read size, which the allocator maps
    and unmaps for every read however few bytes came: three more system calls per read, 28 µs a read
    instead of 4 in a loopback microbenchmark, and a probe's answer is one read."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self._scratch = memoryview(bytearray(READ_SIZE))
        self.ended = False  # the peer closed its side, or the connection is gone
        self.error: BaseException | None = None  # why the connection was lost, if not cleanly
        self.reading_paused = False
        self.writing_paused = False
        self.readable: asyncio.Future[None] | None = None  # the reader waiting for bytes, if any
        self.writable: asyncio.Future[None] | None = None  # the writer waiting for room, if any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        self.buffer += self._scratch[:nbytes]
        if len(self.buffer) > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        _wake(self.readable)

    def eof_received(self) -> bool:
        self.ended = True
        _wake(self.readable)
        return False  # close our side too: HTTP/1.1 has no use for a half-open connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        _wake(self.readable)
        _wake(self.writable)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.writable)


async def _wait(protocol: _Protocol, writing: bool, timeout: float | None) -> bool:
    """Wait until the protocol wakes the reader (or, ``writing``, the writer); False if ``timeout`` passed
    first. Cancellation goes through untouched."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    if writing:
        protocol.writable = waiter
    else:
        protocol.readable = waiter
    timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
    try:
        await waiter
    except TimeoutError:
        return False
    finally:
        if timer is not None:
            timer.cancel()
        if writing:
            protocol.writable = None
        else:
            protocol.readable = None
    return True


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        protocol.transport = transport  # after a TLS upgrade: pause and resume the TLS transport

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        buffer = protocol.buffer
        if not buffer:
            if not protocol.ended and not await _wait(protocol, False, timeout):
                raise httpcore.ReadTimeout(f"no data within {timeout:g} s")
            if not buffer:
                if protocol.error is not None:
                    raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
                return b""
        if len(buffer) <= max_bytes:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
        if protocol.reading_paused and len(buffer) <= LOW_WATER and not self._transport.is_closing():
            protocol.reading_paused = False
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if self._transport.is_closing() or protocol.error is not None:
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if protocol.writing_paused and not await _wait(protocol, True, timeout):
            raise httpcore.WriteTimeout(f"could not send within {timeout:g} s")
        if protocol.error is not None:
            raise httpcore.WriteError(str(protocol.error) or type(protocol.error).__name__)

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                upgraded = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"TLS handshake took more than {timeout:g} s") from exc
        except (OSError, ssl.SSLError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if upgraded is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        return _Stream(upgraded, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            protocol = self._protocol
            return protocol.ended or bool(protocol.buffer) or is_readable(self._socket())
        if info == "socket":
            return self._socket()
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        return None

    def _socket(self) -> socket.socket | None:
        return cast("socket.socket | None", self._transport.get_extra_info("socket"))


Connect = Callable[[], Awaitable[tuple[asyncio.Transport, _Protocol]]]


async def _opened(
    connect: Connect, timeout: float | None, socket_options: Iterable[Any] | None
) -> httpcore.AsyncNetworkStream:
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await connect()
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"could not connect within {timeout:g} s") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    sock = transport.get_extra_info("socket")
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
    except OSError as exc:
        transport.abort()
        raise httpcore.ConnectError(str(exc)) from exc
    return _Stream(transport, protocol)


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens connections on asyncio's transports; outside asyncio, delegates to ``fallback``."""

    def __init__(self, fallback: httpcore.AsyncNetworkBackend) -> None:
        self.fallback = fallback

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not _on_asyncio():
            return await self.fallback.connect_tcp(
                host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
            )
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)

        def connect() -> Awaitable[tuple[asyncio.Transport, _Protocol]]:
            return loop.create_connection(
                _Protocol, host, port, local_addr=local, happy_eyeballs_delay=HAPPY_EYEBALLS
            )

        return await _opened(connect, timeout, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        if not _on_asyncio() or not hasattr(asyncio.get_running_loop(), "create_unix_connection"):
            return await self.fallback.connect_unix_socket(
                path, timeout=timeout, socket_options=socket_options
            )
        loop = asyncio.get_running_loop()
        return await _opened(lambda: loop.create_unix_connection(_Protocol, path), timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        if not _on_asyncio():
            await self.fallback.sleep(seconds)
            return
        await asyncio.sleep(seconds)


def install(client: httpx.AsyncClient) -> bool:
    """Put an ``AsyncioBackend`` under ``client``'s default transport's pool; False if its layout is not the
    known one (a custom transport, or a renamed private attribute)."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.AsyncNetworkBackend):
        log.debug("httpx's connection pool has an unknown layout: it keeps anyio's network backend")
        return False
    if not isinstance(backend, AsyncioBackend):
        setattr(pool, "_network_backend", AsyncioBackend(backend))  # noqa: B010 (a private attribute)
    return True
