# ruff: noqa: ASYNC109  (the `timeout` parameters are httpcore's stream interface, passed through here)
"""HTTP/1.1 on one connection in a handful of Python calls per request, where httpcore spends hundreds.

httpcore speaks HTTP/1.1 through h11's event state machine: every request is a dozen event objects, each
validated, dispatched and traced. On a loopback microbenchmark (a 1.5 KB JSON answer) that was about
0.4 ms of CPU per request, against 0.1 ms for the whole request written and parsed by hand; at 1,000 gates
and ~27 requests per result, a third of the runner's CPU. ``Http11Connection`` implements the same
connection interface for the one thing regate asks of it (a request, then the whole answer), keeping h11's
rules where they matter:

- the request line and headers are checked before anything is sent (a header name must be a token, no
  value may carry CR, LF or NUL: no header injection from a configured value); a body goes with its
  ``Content-Length`` (exactly that many bytes) or ``Transfer-Encoding: chunked``, as httpx frames it;
- informational (1xx) answers are skipped, a protocol switch is refused; the head must be a valid status
  line and valid header lines (obsolete line folding is joined), within ``MAX_HEAD`` bytes;
- the body is framed as RFC 9112 §6.3 says: none after HEAD, 1xx, 204 and 304; chunked (the only transfer
  coding accepted, as in h11); ``Content-Length`` (every copy must agree); else until the server closes;
- a connection is reused only after a complete answer, over HTTP/1.1, with no ``Connection: close`` on
  either side, no bytes past the answer, and a length the server could not disagree on (never with both
  ``Transfer-Encoding`` and ``Content-Length``); anything else closes it;
- a server that closes early is ``RemoteProtocolError``, a malformed answer too; reads and writes keep
  their timeouts (the network stream raises ``ReadTimeout``/``WriteTimeout``).

Connecting (TCP, TLS with ALPN and SNI, connect retries, Unix sockets) stays httpcore's: ``connect`` is the
private ``_connect`` of the connection httpcore's pool would have made (see ``pool.install``).
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpcore

MAX_HEAD = 64 * 1024  # bytes of status line and headers before the answer is refused
READ_SIZE = 256 * 1024  # bytes asked of the network stream at once (its own buffer's high-water mark)
MAX_CHUNK_LINE = 1024  # a chunk-size line (hex size and extensions) longer than this is refused
COALESCE = 64 * 1024  # request bytes gathered into one write

_HEAD_END = re.compile(rb"\n\r?\n")  # h11 accepts bare LF line ends; so does this
_STATUS = re.compile(rb"HTTP/1\.([0-9]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_HEADER = re.compile(rb"(" + _TOKEN + rb"):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
_NAME = re.compile(_TOKEN)
_TARGET = re.compile(rb"[\x21-\x7e\x80-\xff]+")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?")
# h11's field-value: visible characters, inner spaces and tabs, nothing else (no CR, LF or NUL)
_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff](?:[ \t\x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?")

Connect = Callable[[httpcore.Request], Awaitable[httpcore.AsyncNetworkStream]]


class _State(enum.Enum):
    NEW = "NEW"  # not connected yet
    ACTIVE = "ACTIVE"  # a request is in progress
    IDLE = "IDLE"  # connected, ready for the next request
    CLOSED = "CLOSED"


class _Framing(enum.Enum):
    LENGTH = "length"
    CHUNKED = "chunked"
    UNTIL_CLOSE = "until close"


_checked: set[tuple[bytes, bytes]] = set()  # header lines already found valid: the client's repeat


def _check_header(name: bytes, value: bytes) -> None:
    if (name, value) in _checked:
        return
    if not _NAME.fullmatch(name):
        raise httpcore.LocalProtocolError(f"invalid header name {name!r}")
    if not _VALUE.fullmatch(value):
        # Never echo the value: it may be the API key.
        raise httpcore.LocalProtocolError(f"invalid value for header {name.decode('ascii')}")
    if len(_checked) >= 256:
        _checked.clear()
    _checked.add((name, value))


def _has_token(value: bytes, token: bytes) -> bool:
    return any(part.strip().lower() == token for part in value.split(b","))


def _request_head(request: httpcore.Request) -> tuple[bytes, int | None, bool]:
    """The request's head, its declared body length (None: chunked) and whether it asks to close."""
    method, target = request.method, request.url.target
    if not _NAME.fullmatch(method) or not _TARGET.fullmatch(target):
        raise httpcore.LocalProtocolError("invalid request line")
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    host = False
    length: int | None = 0
    chunked = False
    close = False
    for name, value in request.headers:
        _check_header(name, value)
        lower = name.lower()
        if lower == b"host":
            host = True
        elif lower == b"content-length":
            if not value.isdigit():
                raise httpcore.LocalProtocolError("invalid Content-Length")
            length = int(value)
        elif lower == b"transfer-encoding":
            if value.strip().lower() != b"chunked":
                raise httpcore.LocalProtocolError("only Transfer-Encoding: chunked is supported")
            chunked = True
        elif lower == b"connection":
            close = close or _has_token(value, b"close")
        parts += (name, b": ", value, b"\r\n")
    if not host:
        raise httpcore.LocalProtocolError("missing mandatory Host: header")
    parts.append(b"\r\n")
    return b"".join(parts), None if chunked else length, close


class Http11Connection(httpcore.AsyncConnectionInterface):
    """One HTTP/1.1 connection to ``origin``, opened by ``connect`` on its first request."""

    def __init__(
        self,
        origin: httpcore.Origin,
        connect: Connect,
        *,
        keepalive_expiry: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._origin = origin
        self._clock = clock
        self._connect = connect
        self._keepalive_expiry = keepalive_expiry
        self._stream: httpcore.AsyncNetworkStream | None = None
        self._state = _State.NEW
        self._expire_at: float | None = None
        self._buffer = bytearray()  # bytes read past the head; only ever part of the current answer
        self._requests = 0

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if not self.can_handle_request(request.url.origin):
            raise RuntimeError(f"request to {request.url.origin} on a connection to {self._origin}")
        if self._state is _State.IDLE:
            self._state, self._expire_at = _State.ACTIVE, None
        elif self._state is _State.NEW:
            self._state = _State.ACTIVE
            try:
                self._stream = await self._connect(request)
            except BaseException:
                self._state = _State.CLOSED
                raise
        else:
            raise httpcore.ConnectionNotAvailable()
        self._requests += 1
        timeouts = request.extensions.get("timeout", {})
        try:
            close = await self._send(request, timeouts.get("write"))
            status, reason, keep, headers, framing, length = await self._receive_head(
                request, timeouts.get("read")
            )
        except BaseException:
            await self._close()
            raise
        stream = self._stream
        body = _Body(self, framing, length, keep and not close, timeouts.get("read"))
        response = httpcore.Response(
            status=status,
            content=body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason, "network_stream": stream},
        )
        response.headers = headers  # parsed as bytes pairs already: the constructor would check each again
        return response

    async def _send(self, request: httpcore.Request, timeout: float | None) -> bool:
        """Write the request; True if it asks to close the connection after the answer. A body of up to
        ``COALESCE`` bytes goes in the same write as the head: one system call, one segment."""
        head, length, close = _request_head(request)
        stream = self._stream
        assert stream is not None  # noqa: S101 - connected above
        pending, size, sent = [head], len(head), 0
        async for part in _aiter(request.stream):
            if not part:
                continue
            sent += len(part)
            if length is not None and sent > length:
                raise httpcore.LocalProtocolError("the body is longer than its Content-Length")
            pending.append(part if length is not None else b"%x\r\n%b\r\n" % (len(part), part))
            size += len(pending[-1])
            if size > COALESCE:
                await stream.write(b"".join(pending), timeout=timeout)
                pending, size = [], 0
        if length is None:
            pending.append(b"0\r\n\r\n")
        elif sent != length:
            raise httpcore.LocalProtocolError("the body is shorter than its Content-Length")
        if pending:
            await stream.write(b"".join(pending), timeout=timeout)
        return close

    async def _fill(self, timeout: float | None, closed: str | None = None) -> None:
        """Read more bytes into the buffer; the server closing here is a protocol error (an answer is
        still owed), said as ``closed`` if given."""
        assert self._stream is not None  # noqa: S101 - connected
        data = await self._stream.read(READ_SIZE, timeout=timeout)
        if not data:
            raise httpcore.RemoteProtocolError(
                closed or "the server closed the connection in the middle of an answer"
            )
        self._buffer += data

    async def _receive_head(
        self, request: httpcore.Request, timeout: float | None
    ) -> tuple[int, bytes, bool, list[tuple[bytes, bytes]], _Framing, int]:
        buffer = self._buffer
        while True:
            start = scanned = 0
            while True:
                while start < len(buffer) and buffer[start] in b"\r\n":
                    start += 1  # blank lines before a status line are ignored (RFC 9112 §2.2)
                found = _HEAD_END.search(buffer, max(start, scanned))
                if found is not None:
                    break
                if len(buffer) > MAX_HEAD:
                    raise httpcore.RemoteProtocolError("the answer's headers are too long")
                # The end (3 bytes at most) can only start in the last 2 bytes searched: a head that
                # trickles in byte by byte costs linear time, not quadratic.
                scanned = max(0, len(buffer) - 2)
                await self._fill(timeout, "the server disconnected without an answer" if not buffer else None)
            if found.start() > MAX_HEAD:
                raise httpcore.RemoteProtocolError("the answer's headers are too long")
            lines = bytes(buffer[start : found.start()]).split(b"\n")
            del buffer[: found.end()]
            matched = _STATUS.fullmatch(lines[0].rstrip(b"\r"))
            if matched is None:
                raise httpcore.RemoteProtocolError("the answer has no valid status line")
            minor, status, reason = int(matched[1]), int(matched[2]), matched[3] or b""
            headers = _parse_headers(lines[1:])
            if status == 101:
                raise httpcore.RemoteProtocolError("the server switched protocols, which was not asked")
            if status < 100:
                raise httpcore.RemoteProtocolError(f"invalid status code {status}")
            if status >= 200:
                break  # else informational (100 Continue, 103 Early Hints): the final answer follows
        keep = minor >= 1
        framing, length = _Framing.LENGTH, 0
        te: bytes | None = None
        lengths: set[bytes] = set()
        for name, value in headers:
            lower = name.lower()
            if lower == b"transfer-encoding":
                te = value if te is None else te + b"," + value
            elif lower == b"content-length":
                lengths.update(part.strip() for part in value.split(b","))
            elif lower == b"connection" and _has_token(value, b"close"):
                keep = False
        if request.method == b"HEAD" or status in (204, 304):
            pass  # no body, whatever the headers say
        elif te is not None:
            if te.strip().lower() != b"chunked":
                raise httpcore.RemoteProtocolError("unsupported Transfer-Encoding (only chunked is)")
            framing = _Framing.CHUNKED
            keep = keep and not lengths  # both framings: a smuggling pattern, never reuse the connection
        elif lengths:
            if len(lengths) != 1 or not next(iter(lengths)).isdigit() or len(next(iter(lengths))) > 18:
                raise httpcore.RemoteProtocolError("invalid Content-Length")
            length = int(next(iter(lengths)))
        else:
            framing, keep = _Framing.UNTIL_CLOSE, False
        return status, reason, keep, headers, framing, length

    def _finished(self, reuse: bool) -> bool:
        """The answer was read whole: ready for the next request if ``reuse``; True if it is."""
        if reuse and not self._buffer and self._state is _State.ACTIVE:
            self._state = _State.IDLE
            if self._keepalive_expiry is not None:
                self._expire_at = self._clock() + self._keepalive_expiry
            return True
        return False

    async def _close(self) -> None:
        self._state = _State.CLOSED
        self._buffer.clear()
        stream, self._stream = self._stream, None
        if stream is not None:
            with anyio.CancelScope(shield=True):  # a cancelled request still closes its socket
                await stream.aclose()

    # httpcore's connection interface
    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self._origin

    async def aclose(self) -> None:
        await self._close()

    def info(self) -> str:
        return f"HTTP/1.1, {self._state.value}, Request Count: {self._requests}"

    def is_available(self) -> bool:
        return self._state in (_State.NEW, _State.IDLE)

    def has_expired(self) -> bool:
        if self._state is not _State.IDLE:
            return False
        if self._expire_at is not None and self._clock() > self._expire_at:
            return True
        # An idle connection the server has closed (or written to) reads as readable: never reuse it.
        return self._stream is None or bool(self._stream.get_extra_info("is_readable"))

    def is_idle(self) -> bool:
        return self._state is _State.IDLE

    def is_closed(self) -> bool:
        return self._state is _State.CLOSED

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self._origin}, {self.info()}]>"


def _parse_headers(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    for raw in lines:
        line = raw.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if not headers:
                raise httpcore.RemoteProtocolError("the answer's headers start with a continuation line")
            name, value = headers[-1]  # obsolete line folding: joined with one space (RFC 9112 §5.2)
            headers[-1] = (name, (value + b" " + line.strip(b" \t")).strip(b" "))
            continue
        matched = _HEADER.fullmatch(line)
        if matched is None:
            raise httpcore.RemoteProtocolError("the answer has an invalid header line")
        headers.append((matched[1], matched[2]))
    return headers


async def _aiter(body: Any) -> AsyncIterator[bytes]:
    if hasattr(body, "__aiter__"):
        async for part in body:
            yield part
    else:
        for part in body:
            yield part


class _Body:
    """The answer's body, read from the connection as it is iterated; closing it early closes the
    connection (the rest of the answer would be read as the next one)."""

    def __init__(
        self, connection: Http11Connection, framing: _Framing, length: int, reuse: bool, timeout: float | None
    ) -> None:
        self._connection = connection
        self._framing = framing
        self._length = length
        self._reuse = reuse
        self._timeout = timeout
        self._done = False  # read whole, connection handed on
        self._closed = False

    @property
    def settled(self) -> bool:
        """Read whole or closed already: ``aclose`` returns without waiting for anything."""
        return self._done or self._closed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._closed:
            raise httpcore.ReadError("the answer was closed before it was read")
        try:
            if self._framing is _Framing.LENGTH:
                async for part in self._by_length():
                    yield part
            elif self._framing is _Framing.CHUNKED:
                async for part in self._by_chunks():
                    yield part
            else:
                async for part in self._until_close():
                    yield part
        except BaseException:
            await self.aclose()
            raise
        self._done = self._connection._finished(self._reuse)

    async def _by_length(self) -> AsyncIterator[bytes]:
        connection, remaining = self._connection, self._length
        buffer = connection._buffer
        if buffer and remaining:
            if len(buffer) <= remaining:
                part = bytes(buffer)
                buffer.clear()
            else:
                part = bytes(buffer[:remaining])
                del buffer[:remaining]
            remaining -= len(part)
            yield part
        stream = connection._stream
        while remaining:
            assert stream is not None  # noqa: S101 - connected while an answer is read
            # Never more than the body: what follows it stays in the socket, and shows as readable.
            part = await stream.read(min(remaining, READ_SIZE), timeout=self._timeout)
            if not part:
                raise httpcore.RemoteProtocolError(
                    f"the server closed the connection {remaining} bytes before the end of the answer"
                )
            remaining -= len(part)
            yield part

    async def _by_chunks(self) -> AsyncIterator[bytes]:
        connection = self._connection
        buffer = connection._buffer
        while True:
            end = buffer.find(b"\n")
            while end < 0:
                if len(buffer) > MAX_CHUNK_LINE:
                    raise httpcore.RemoteProtocolError("invalid chunk size line")
                await connection._fill(self._timeout)
                end = buffer.find(b"\n")
            matched = _CHUNK_SIZE.fullmatch(buffer, 0, end)
            if matched is None:
                raise httpcore.RemoteProtocolError("invalid chunk size line")
            size = int(matched[1], 16)
            del buffer[: end + 1]
            if size == 0:
                break
            while size:
                if not buffer:
                    await connection._fill(self._timeout)
                take = min(size, len(buffer))
                part = bytes(buffer[:take])
                del buffer[:take]
                size -= take
                yield part
            while len(buffer) < 2 and not buffer.startswith(b"\n"):
                await connection._fill(self._timeout)
            if buffer.startswith(b"\r\n"):
                del buffer[:2]
            elif buffer.startswith(b"\n"):
                del buffer[:1]
            else:
                raise httpcore.RemoteProtocolError("a chunk is longer than its size")
        while True:  # trailers, ignored, up to the blank line that ends the message
            end = buffer.find(b"\n")
            while end < 0:
                if len(buffer) > MAX_HEAD:
                    raise httpcore.RemoteProtocolError("the answer's trailers are too long")
                scanned = len(buffer)  # searched already: a trailer that trickles in costs linear time
                await connection._fill(self._timeout)
                end = buffer.find(b"\n", scanned)
            line = bytes(buffer[:end]).rstrip(b"\r")
            del buffer[: end + 1]
            if not line:
                return
            if _HEADER.fullmatch(line) is None:
                raise httpcore.RemoteProtocolError("the answer has an invalid trailer line")

    async def _until_close(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection._buffer:
            part = bytes(connection._buffer)
            connection._buffer.clear()
            yield part
        stream = connection._stream
        while stream is not None:
            part = await stream.read(READ_SIZE, timeout=self._timeout)
            if not part:
                return
            yield part

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._done:
            await self._connection._close()  # not read whole (or failed): the connection is unusable
