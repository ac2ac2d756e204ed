"""A connection pool that costs the same per request however many connections it keeps.

httpcore's pool re-examines every connection it holds each time it hands out a request and each time one
is handed back: for each idle connection a readability check (a system call) and a scan of the whole pool
(``len([c.is_idle() for c in connections])``), so a pool of 16 does about 300 checks per request. At 1,000
gates that was a tenth of the runner's CPU (cProfile, 1000 x 100 benchmark). This pool keeps its idle
connections in a stack and checks only the one it hands out, plus the oldest idle one for keep-alive expiry:

- a request takes a slot (``max_connections`` of them; waiting at most the pool timeout, then
  ``httpcore.PoolTimeout``), then the most recently used idle connection to its origin that has neither
  expired nor been closed by the server; otherwise a new one, closing the oldest idle connection if the pool
  is full (it can only belong to another origin then);
- the connection is handed back when the response is closed: kept if it is idle again (HTTP/1.1
  keep-alive), closed otherwise; on a failure or a cancellation it is closed. Every idle connection is
  kept (regate's clients allow as many idle connections as connections: ``max_keepalive_connections`` is
  not applied separately);
- a connection that turns out to be unavailable (``ConnectionNotAvailable``) is dropped and the request
  takes another, as httpcore's pool does.

Connections are made with the pool this one replaces: where it only speaks HTTP/1.1 (regate's clients),
``http11.Http11Connection`` opened by the connect step of the connection that pool would make (TLS,
retries, local address and network backend as httpx configured them); otherwise (HTTP/2) that connection
itself (``create_connection``).

httpx has no public way to choose its transport's pool without giving up the proxy variables (passing
``transport=`` disables them), so ``install`` swaps the default transport's pool in place, through one
private attribute; with a layout it does not know, it changes nothing and says so in the debug log. A test
pins that it applies to the versions installed. Proxy transports (from ``HTTP_PROXY`` and the like) keep
httpcore's own pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import cast

import anyio
import httpcore
import httpx

from runner.providers.http11 import Http11Connection

log = logging.getLogger("regate.http")

_SCHEMES = ("http", "https", "ws", "wss")


class LeanPool:
    """Serves httpcore requests over connections made by ``factory`` (see the module docstring)."""

    def __init__(self, factory: httpcore.AsyncConnectionPool, *, max_connections: int) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._factory = factory
        self._make = _maker(factory)
        self._max = max_connections
        self._idle: list[httpcore.AsyncConnectionInterface] = []  # oldest first; handed out from the end
        self._busy: set[httpcore.AsyncConnectionInterface] = set()
        self._slots: anyio.Semaphore | None = None  # made on first use, inside the event loop

    @property
    def connections(self) -> list[httpcore.AsyncConnectionInterface]:
        return [*self._idle, *self._busy]

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        scheme = request.url.scheme.decode()
        if scheme == "":
            raise httpcore.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol.")
        if scheme not in _SCHEMES:
            raise httpcore.UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")
        await self._take_slot(request.extensions.get("timeout", {}).get("pool"))
        origin = request.url.origin
        try:
            while True:
                connection = await self._checkout(origin)
                try:
                    response = await connection.handle_async_request(request)
                except httpcore.ConnectionNotAvailable:
                    await self._drop(connection)  # it became unavailable under us: take another
                    continue
                except BaseException:
                    await self._drop(connection)
                    raise
                break
        except BaseException:
            self._give_slot()
            raise
        # The body is wrapped in place: a second Response would check every header again.
        response.stream = _Released(response.stream, self, connection)
        return response

    async def _take_slot(self, patience: float | None) -> None:
        if self._slots is None:
            self._slots = anyio.Semaphore(self._max, fast_acquire=True)
        try:
            self._slots.acquire_nowait()  # the usual case: no trip through the event loop, no timer
            return
        except anyio.WouldBlock:
            pass
        try:
            with anyio.fail_after(patience):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpcore.PoolTimeout("timed out waiting for a free connection") from exc

    def _give_slot(self) -> None:
        assert self._slots is not None  # noqa: S101 - only after _take_slot
        self._slots.release()

    async def _checkout(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        idle = self._idle
        if idle and idle[0].has_expired():  # the oldest idle one is the first to outlive its keep-alive
            await self._close(idle.pop(0))
        for index in range(len(idle) - 1, -1, -1):
            connection = idle[index]
            if not connection.can_handle_request(origin):
                continue
            del idle[index]
            if connection.is_available() and not connection.has_expired():
                self._busy.add(connection)
                return connection
            await self._close(connection)  # closed by the server, or past its keep-alive
        if idle and len(idle) + len(self._busy) >= self._max:
            await self._close(idle.pop(0))  # full of idle connections to other origins: make room
        connection = self._make(origin)
        self._busy.add(connection)
        return connection

    async def hand_back(self, connection: httpcore.AsyncConnectionInterface) -> None:
        """The response on ``connection`` was closed: keep the connection for the next request if it can
        take one, and free the slot."""
        try:
            if connection in self._busy:  # else the pool was closed meanwhile, and the connection with it
                self._busy.discard(connection)
                if connection.is_idle() and not connection.is_closed():
                    self._idle.append(connection)
                else:
                    await self._close(connection)
        finally:
            self._give_slot()

    async def _drop(self, connection: httpcore.AsyncConnectionInterface) -> None:
        self._busy.discard(connection)
        await self._close(connection)

    @staticmethod
    async def _close(connection: httpcore.AsyncConnectionInterface) -> None:
        with anyio.CancelScope(shield=True):  # a cancelled request still closes its socket
            await connection.aclose()

    async def aclose(self) -> None:
        closing = self.connections
        self._idle, self._busy = [], set()
        for connection in closing:
            await self._close(connection)

    async def __aenter__(self) -> LeanPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()


Make = Callable[[httpcore.Origin], httpcore.AsyncConnectionInterface]
Body = Iterable[bytes] | AsyncIterable[bytes]  # httpcore.Response.stream


def _maker(factory: httpcore.AsyncConnectionPool) -> Make:
    """How to make a connection: an ``Http11Connection`` opened by httpcore's own connect step where
    ``factory`` only ever speaks HTTP/1.1; httpcore's connection otherwise (HTTP/2 enabled, or a layout
    this does not know, checked through private attributes: then it says so in the debug log)."""
    expiry = getattr(factory, "_keepalive_expiry", "unknown")
    http1, http2 = getattr(factory, "_http1", None), getattr(factory, "_http2", None)
    if http1 is not True or http2 is not False or not (expiry is None or isinstance(expiry, int | float)):
        if http2 is not True:
            log.debug("httpcore's pool has an unknown layout: its own HTTP/1.1 connections are used")
        return factory.create_connection

    def make(origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        made = factory.create_connection(origin)
        connect = getattr(made, "_connect", None)
        if not callable(connect):
            return made
        return Http11Connection(origin, connect, keepalive_expiry=expiry)

    return make


class _Released:
    """A response body that hands its connection back to the pool once closed."""

    def __init__(self, stream: Body, pool: LeanPool, connection: httpcore.AsyncConnectionInterface) -> None:
        self._stream = cast(AsyncIterable[bytes], stream)  # an async connection's, as httpcore's pool assumes
        self._pool = pool
        self._connection = connection
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                close = getattr(self._stream, "aclose", None)
                if close is not None and getattr(self._stream, "settled", False) is True:
                    # http11's body, read whole: closing it cannot suspend, so nothing can cancel it, and
                    # a shielded scope per answer was a hundredth of the runner's CPU at 1,000 results
                    await close()
                elif close is not None:
                    with anyio.CancelScope(shield=True):
                        await close()
            finally:
                await self._pool.hand_back(self._connection)  # the slot is freed even if closing failed


def install(client: httpx.AsyncClient, *, max_connections: int) -> bool:
    """Serve ``client``'s default transport with a ``LeanPool``; False if its layout is not the known one
    (a custom transport, or a renamed private attribute)."""
    transport = getattr(client, "_transport", None)
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, LeanPool):
        return True
    if type(pool) is not httpcore.AsyncConnectionPool or not callable(
        getattr(pool, "create_connection", None)
    ):
        log.debug("httpx's transport has an unknown layout: its own connection pool stays")
        return False
    setattr(transport, "_pool", LeanPool(pool, max_connections=max_connections))  # noqa: B010 (private)
    return True
