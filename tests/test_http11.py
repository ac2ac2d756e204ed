# ruff: noqa: ASYNC109  (a fake of httpcore's stream interface, which has `timeout` parameters)
"""``Http11Connection`` speaks HTTP/1.1 as h11 does, for one request and its whole answer at a time.

- a request goes out as one write (head and a small body), its headers checked first: a value with CR, LF
  or NUL, an invalid name or a missing Host is refused before a byte is sent, without echoing the value;
  a streamed body goes chunked, and a body that does not match its Content-Length is refused;
- the answer is parsed however the bytes arrive: by Content-Length, by chunks (extensions and trailers
  skipped), or until the server closes; no body after HEAD, 204 and 304; informational answers are skipped;
- a connection is reused only after a complete answer over HTTP/1.1 with no ``Connection: close`` either
  way, no bytes past the answer, and one framing; anything else closes it;
- an early close, a malformed or too long head, conflicting lengths, an unknown transfer coding and a
  protocol switch are ``RemoteProtocolError``; a failure or a cancellation closes the connection;
- an idle connection expires after its keep-alive or once the server closed it or wrote to it;
- regate's clients use it, on the httpx installed (a pin on the private layout), and through httpx it
  serves JSON, gzip and keep-alive against a real 127.0.0.1 server.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio
import httpcore
import httpx
import pytest
from anyio.abc import SocketStream

from runner.providers.http11 import MAX_HEAD, Http11Connection
from runner.providers.pool import LeanPool
from runner.providers.pool import install as lean_pool
from runner.providers.sockets import install as asyncio_sockets
from tests.http_support import loopback, requests_on

ORIGIN = httpcore.Origin(b"http", b"api.test", 80)
URL = httpcore.URL("http://api.test/v1/results/7/?page=1")
HEADERS = [(b"Host", b"api.test"), (b"X-API-KEY", b"secret-key")]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


class FakeStream(httpcore.AsyncNetworkStream):
    """A network stream that records writes and answers each with the next of ``answers`` (then the end of
    the stream), ``size`` bytes at most per read."""

    def __init__(self, *answers: bytes, size: int = 1 << 20) -> None:
        self.answers = list(answers)
        self.incoming = bytearray()
        self.size = size
        self.written: list[bytes] = []
        self.closed = False
        self.readable = False
        self.fail: BaseException | None = None  # raised by the next read
        self.block: anyio.Event | None = None  # a read waits for this

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self.block is not None:
            await self.block.wait()
        if self.fail is not None:
            raise self.fail
        take = min(max_bytes, self.size, len(self.incoming))
        data = bytes(self.incoming[:take])
        del self.incoming[:take]
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.written.append(buffer)
        if self.answers:
            self.incoming += self.answers.pop(0)

    async def aclose(self) -> None:
        self.closed = True

    def get_extra_info(self, info: str) -> Any:
        return self.readable if info == "is_readable" else None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def connection(*streams: FakeStream, clock: Clock | None = None) -> tuple[Http11Connection, list[int]]:
    """A connection whose connects hand out ``streams`` in turn; the list counts the connects."""
    connects: list[int] = []

    async def connect(request: httpcore.Request) -> httpcore.AsyncNetworkStream:
        connects.append(1)
        return streams[len(connects) - 1]

    made = Http11Connection(ORIGIN, connect, keepalive_expiry=5.0, clock=clock or Clock())
    return made, connects


def request(
    method: bytes = b"GET",
    headers: Iterable[tuple[bytes, bytes]] = HEADERS,
    content: bytes | Iterable[bytes] | AsyncIterator[bytes] | None = None,
) -> httpcore.Request:
    return httpcore.Request(method, URL, headers=list(headers), content=content)


async def fetch(conn: Http11Connection, req: httpcore.Request | None = None) -> tuple[int, bytes]:
    response = await conn.handle_async_request(req or request())
    try:
        body = b"".join([part async for part in response.aiter_stream()])
    finally:
        await response.aclose()
    return response.status, body


# -- the request ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_request_goes_out_as_one_write_with_its_body() -> None:
    stream = FakeStream(OK)
    conn, _ = connection(stream)
    body = b'{"agent_id": 101}'
    headers = [*HEADERS, (b"Content-Length", str(len(body)).encode())]
    assert await fetch(conn, request(b"POST", headers, body)) == (200, b"{}")
    assert stream.written == [
        b"POST /v1/results/7/?page=1 HTTP/1.1\r\nHost: api.test\r\nX-API-KEY: secret-key\r\n"
        b"Content-Length: 17\r\n\r\n" + body
    ]


@pytest.mark.anyio
async def test_a_streamed_body_goes_chunked() -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"hello, "
        yield b""
        yield b"world"

    stream = FakeStream(OK)
    conn, _ = connection(stream)
    await fetch(conn, request(b"POST", [*HEADERS, (b"Transfer-Encoding", b"chunked")], parts()))
    assert b"".join(stream.written).endswith(b"\r\n\r\n7\r\nhello, \r\n5\r\nworld\r\n0\r\n\r\n")


@pytest.mark.anyio
@pytest.mark.parametrize("length", [b"3", b"30"])
async def test_a_body_that_does_not_match_its_content_length_is_refused(length: bytes) -> None:
    stream = FakeStream(OK)
    conn, _ = connection(stream)
    with pytest.raises(httpcore.LocalProtocolError, match="Content-Length"):
        await conn.handle_async_request(
            request(b"POST", [*HEADERS, (b"Content-Length", length)], b"abcdefgh")
        )
    assert stream.written == [] and conn.is_closed()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"X-API-KEY", b"secret-key\r\nX-Injected: 1"),
        (b"X-API-KEY", b"secret-key\n"),
        (b"X-API-KEY", b"secret\x00key"),
        (b"X-API-KEY", b" secret-key"),
        (b"X API KEY", b"secret-key"),
        (b"X-API-KEY:", b"secret-key"),
    ],
)
async def test_an_invalid_header_is_refused_before_anything_is_sent(name: bytes, value: bytes) -> None:
    stream = FakeStream(OK)
    conn, _ = connection(stream)
    with pytest.raises(httpcore.LocalProtocolError) as raised:
        await conn.handle_async_request(request(headers=[(b"Host", b"api.test"), (name, value)]))
    assert "secret" not in str(raised.value)  # the value may be the API key
    assert stream.written == []


@pytest.mark.anyio
async def test_a_request_without_host_is_refused() -> None:
    stream = FakeStream(OK)
    conn, _ = connection(stream)
    with pytest.raises(httpcore.LocalProtocolError, match="Host"):
        await conn.handle_async_request(request(headers=[(b"Accept", b"*/*")]))
    assert stream.written == []


# -- the answer ---------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 3, 1 << 20])
async def test_an_answer_is_read_however_its_bytes_arrive_and_the_connection_reused(size: int) -> None:
    body = json.dumps({"count": 3, "text": "x" * 500}).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (
        len(body),
        body,
    )
    stream = FakeStream(answer, answer, answer, size=size)
    conn, connects = connection(stream)
    for _ in range(3):
        assert await fetch(conn) == (200, body)
        assert conn.is_idle() and conn.is_available()
    assert len(connects) == 1 and len(stream.written) == 3


@pytest.mark.anyio
async def test_the_status_reason_and_headers_are_handed_on() -> None:
    stream = FakeStream(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After:  7 \r\nContent-Length: 0\r\n\r\n")
    conn, _ = connection(stream)
    response = await conn.handle_async_request(request())
    await response.aread()
    assert response.status == 429
    assert response.extensions["reason_phrase"] == b"Too Many Requests"
    assert response.extensions["http_version"] == b"HTTP/1.1"
    assert response.headers == [(b"Retry-After", b"7"), (b"Content-Length", b"0")]


@pytest.mark.anyio
async def test_bare_line_feeds_and_blank_lines_before_the_status_line_are_tolerated() -> None:
    stream = FakeStream(b"\r\nHTTP/1.1 200 OK\nContent-Length: 2\n\n{}")
    conn, _ = connection(stream)
    assert await fetch(conn) == (200, b"{}")


@pytest.mark.anyio
async def test_a_folded_header_is_joined() -> None:
    stream = FakeStream(b"HTTP/1.1 200 OK\r\nX-Note: one\r\n  two\r\nContent-Length: 0\r\n\r\n")
    conn, _ = connection(stream)
    response = await conn.handle_async_request(request())
    assert (b"X-Note", b"one two") in response.headers


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 1 << 20])
async def test_a_chunked_answer_is_joined_and_its_trailers_skipped(size: int) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    stream = FakeStream(answer, OK, size=size)
    conn, connects = connection(stream)
    assert await fetch(conn) == (200, b"hello, world")
    assert conn.is_idle()
    assert await fetch(conn) == (200, b"{}")
    assert len(connects) == 1


@pytest.mark.anyio
async def test_an_answer_without_length_is_read_until_the_server_closes() -> None:
    stream = FakeStream(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 5000, size=700)
    conn, _ = connection(stream)
    assert await fetch(conn) == (200, b"x" * 5000)
    assert conn.is_closed() and stream.closed


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "head", "status"),
    [
        (b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 200),
        (b"GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 1234\r\n\r\n", 204),
        (b"GET", b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 304),
    ],
)
async def test_no_body_follows_head_204_and_304(method: bytes, head: bytes, status: int) -> None:
    stream = FakeStream(head, OK)
    conn, _ = connection(stream)
    assert await fetch(conn, request(method)) == (status, b"")
    assert await fetch(conn) == (200, b"{}")  # the next answer is read from where this one ended


@pytest.mark.anyio
async def test_informational_answers_are_skipped() -> None:
    stream = FakeStream(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK)
    conn, _ = connection(stream)
    assert await fetch(conn) == (200, b"{}")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "request_headers"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\n{}", HEADERS),
        (OK, [*HEADERS, (b"Connection", b"close")]),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", HEADERS),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra", HEADERS),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            HEADERS,
        ),
    ],
    ids=["server-close", "client-close", "http-1.0", "bytes-past-the-answer", "two-framings"],
)
async def test_a_connection_that_cannot_be_trusted_again_is_closed_after_its_answer(
    answer: bytes, request_headers: list[tuple[bytes, bytes]]
) -> None:
    stream = FakeStream(answer)
    conn, _ = connection(stream)
    assert await fetch(conn, request(headers=request_headers)) == (200, b"{}")
    assert conn.is_closed() and stream.closed and not conn.is_available()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"", "disconnected without an answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "closed the connection"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "8 bytes before the end"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "closed the connection"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
            "longer than its size",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
        (b"HTTP/2 200\r\n\r\n", "status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nBad Header: 1\r\n\r\n", "invalid header line"),
        (b"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n", "invalid header line"),
        (b"HTTP/1.1 200 OK\r\n continued\r\n\r\n", "continuation"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}", "Transfer-Encoding"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "switched protocols"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * MAX_HEAD, "too long"),
    ],
)
async def test_an_early_close_or_a_malformed_answer_is_a_protocol_error(answer: bytes, message: str) -> None:
    stream = FakeStream(answer, size=4096)
    conn, _ = connection(stream)
    with pytest.raises(httpcore.RemoteProtocolError, match=message):
        await fetch(conn)
    assert conn.is_closed() and stream.closed


@pytest.mark.anyio
async def test_repeated_equal_content_lengths_are_one() -> None:
    stream = FakeStream(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\n{}")
    conn, _ = connection(stream)
    assert await fetch(conn) == (200, b"{}")
    assert conn.is_idle()


@pytest.mark.anyio
async def test_a_read_timeout_closes_the_connection() -> None:
    stream = FakeStream()
    stream.fail = httpcore.ReadTimeout("no data")
    conn, _ = connection(stream)
    with pytest.raises(httpcore.ReadTimeout):
        await fetch(conn)
    assert conn.is_closed() and stream.closed


@pytest.mark.anyio
async def test_a_cancelled_request_closes_the_connection() -> None:
    stream = FakeStream(OK)
    stream.block = anyio.Event()
    conn, _ = connection(stream)
    with anyio.move_on_after(0):
        await conn.handle_async_request(request())
    assert conn.is_closed() and stream.closed


@pytest.mark.anyio
async def test_an_answer_is_settled_once_read_whole_or_closed() -> None:
    """``settled`` tells the pool that closing the answer will not wait (nothing left to read or close)."""
    stream = FakeStream(OK, OK)
    conn, _ = connection(stream)
    response = await conn.handle_async_request(request())
    body = response.stream
    assert body.settled is False  # type: ignore[attr-defined]
    assert b"".join([part async for part in response.aiter_stream()]) == b"{}"
    assert body.settled is True  # type: ignore[attr-defined]
    await response.aclose()
    early = await conn.handle_async_request(request())
    assert early.stream.settled is False  # type: ignore[attr-defined]
    await early.aclose()
    assert early.stream.settled is True  # type: ignore[attr-defined]
    assert conn.is_closed()


@pytest.mark.anyio
async def test_an_answer_closed_before_it_was_read_closes_the_connection() -> None:
    stream = FakeStream(OK, OK)
    conn, _ = connection(stream)
    response = await conn.handle_async_request(request())
    await response.aclose()
    assert conn.is_closed() and stream.closed


@pytest.mark.anyio
async def test_a_busy_connection_takes_no_second_request() -> None:
    stream = FakeStream(OK, OK)
    conn, _ = connection(stream)
    response = await conn.handle_async_request(request())
    assert not conn.is_available() and not conn.is_idle()
    with pytest.raises(httpcore.ConnectionNotAvailable):
        await conn.handle_async_request(request())
    await response.aread()
    await response.aclose()
    assert conn.is_available()


@pytest.mark.anyio
async def test_a_failed_connect_leaves_the_connection_closed() -> None:
    async def connect(request: httpcore.Request) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused")

    conn = Http11Connection(ORIGIN, connect, keepalive_expiry=5.0)
    with pytest.raises(httpcore.ConnectError):
        await conn.handle_async_request(request())
    assert conn.is_closed() and not conn.is_available()


@pytest.mark.anyio
async def test_a_request_to_another_origin_is_a_bug() -> None:
    conn, connects = connection(FakeStream(OK))
    other = httpcore.Request(b"GET", httpcore.URL("http://other.test/"), headers=HEADERS)
    assert not conn.can_handle_request(other.url.origin)
    with pytest.raises(RuntimeError):
        await conn.handle_async_request(other)
    assert connects == []


@pytest.mark.anyio
async def test_an_idle_connection_expires_after_its_keep_alive_or_when_the_server_wrote() -> None:
    clock = Clock()
    stream = FakeStream(OK, OK)
    conn, _ = connection(stream, clock=clock)
    assert not conn.has_expired()  # new: not connected yet
    await fetch(conn)
    clock.now += 5.0
    assert not conn.has_expired()
    clock.now += 0.01
    assert conn.has_expired()
    fresh = FakeStream(OK)
    other, _ = connection(fresh, clock=Clock())
    await fetch(other)
    assert not other.has_expired()
    fresh.readable = True  # the server closed it, or sent bytes nobody asked for
    assert other.has_expired()
    assert "HTTP/1.1, IDLE, Request Count: 1" in repr(other)


# -- through httpx, as regate uses it -------------------------------------------------------------------


async def _serve(stream: SocketStream, log: list[bytes]) -> None:
    async with stream:
        async for head, sent in requests_on(stream):
            log.append(head)
            body = json.dumps({"path": head.split(b" ")[1].decode(), "n": len(log), "sent": sent.decode()})
            body = body.encode()
            if b"/gzip" in head:
                body = gzip.compress(body)
                extra = b"Content-Encoding: gzip\r\n"
            else:
                extra = b""
            await stream.send(b"HTTP/1.1 200 OK\r\n%bContent-Length: %d\r\n\r\n%b" % (extra, len(body), body))


@pytest.mark.anyio
async def test_regate_s_clients_speak_http11_through_it_and_keep_their_connection() -> None:
    log: list[bytes] = []
    connections: list[int] = []

    async def serve(stream: SocketStream) -> None:
        connections.append(1)
        await _serve(stream, log)

    async with (
        loopback(serve) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client,
    ):
        assert asyncio_sockets(client) and lean_pool(client, max_connections=2)
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool, LeanPool)
        first = await client.get("/a", headers={"X-API-KEY": "k"})
        assert first.json() == {"path": "/a", "n": 1, "sent": ""}
        assert first.http_version == "HTTP/1.1" and first.reason_phrase == "OK"
        assert [type(c) for c in pool.connections] == [Http11Connection]  # the pin on httpcore's layout
        zipped = await client.get("/gzip")
        assert zipped.json() == {"path": "/gzip", "n": 2, "sent": ""}
        posted = await client.post("/p", json={"x": 1})
        assert posted.json() == {"path": "/p", "n": 3, "sent": '{"x":1}'}
    assert len(connections) == 1
    assert b"X-API-KEY: k" in log[0]
