"""httpcore's streams on asyncio transports keep httpcore's network contract, against real 127.0.0.1 sockets.

- a read returns what arrived, at most ``max_bytes``, and ``b""`` once the peer closed; a reset is a
  ``ReadError``; nothing within the timeout is a ``ReadTimeout``;
- a write waits for room while the peer does not read, at most its timeout (``WriteTimeout``); a write on a
  closed connection is a ``WriteError``;
- a large answer is read whole while at most ``HIGH_WATER`` (plus one socket read) waits unread;
- an idle connection reads as readable once the peer sent anything or closed it;
- connecting: a refused connection is a ``ConnectError``, socket options are applied, TLS upgrades work
  and a certificate not trusted is a ``ConnectError``; outside asyncio the replaced backend is used.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpcore
import httpx
import pytest

from runner.providers import sockets
from runner.providers.sockets import HIGH_WATER, AsyncioBackend, install

PEM = Path(__file__).parent / "data" / "localhost-tls.pem"  # a self-signed key and certificate for 127.0.0.1
SOCKET_READ = 256 * 1024  # the most asyncio takes from a socket at once


class NoFallback(httpcore.AsyncNetworkBackend):
    """The backend ``AsyncioBackend`` replaces; on asyncio it must never be asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.asked.append(f"{host}:{port}")
        raise httpcore.ConnectError("the fallback was asked")

    async def sleep(self, seconds: float) -> None:
        self.asked.append(f"sleep {seconds}")


@contextmanager
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    with server:
        yield server


async def connected(
    server: socket.socket, **kwargs: Any
) -> tuple[httpcore.AsyncNetworkStream, socket.socket]:
    """Our stream to ``server``, and the server's end of it (already in the backlog: accept does not wait)."""
    stream = await AsyncioBackend(NoFallback()).connect_tcp("127.0.0.1", server.getsockname()[1], **kwargs)
    peer, _ = server.accept()
    return stream, peer


@pytest.mark.anyio
async def test_a_read_returns_what_arrived_at_most_max_bytes_then_end_of_stream() -> None:
    with listener() as server:
        stream, peer = await connected(server)
        with peer:
            peer.sendall(b"hello world")
            assert await stream.read(5) == b"hello"
            assert await stream.read(100) == b" world"
            peer.close()
            assert await stream.read(100) == b""
            assert await stream.read(100) == b""
        await stream.aclose()


@pytest.mark.anyio
async def test_nothing_within_the_read_timeout_is_a_read_timeout() -> None:
    with listener() as server:
        stream, peer = await connected(server)
        with peer:
            with pytest.raises(httpcore.ReadTimeout):
                await stream.read(100, timeout=0)
            peer.sendall(b"late")
            assert await stream.read(100) == b"late"  # the stream is still usable
        await stream.aclose()


@pytest.mark.anyio
async def test_a_connection_reset_by_the_peer_is_a_read_error() -> None:
    with listener() as server:
        stream, peer = await connected(server)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        peer.close()  # with a zero linger: a reset, not a clean close
        with pytest.raises(httpcore.ReadError):
            await stream.read(100)
        await stream.aclose()


@pytest.mark.anyio
async def test_an_idle_connection_is_readable_once_the_peer_sent_anything_or_closed() -> None:
    with listener() as server:
        stream, peer = await connected(server)
        assert stream.get_extra_info("is_readable") is False
        peer.sendall(b"x")  # unasked bytes: the connection cannot take another request
        assert stream.get_extra_info("is_readable") is True
        while not stream._protocol.buffer:  # type: ignore[attr-defined]
            await anyio.lowlevel.checkpoint()  # the event loop moved the byte from the socket to the buffer
        assert stream.get_extra_info("is_readable") is True
        assert await stream.read(1) == b"x"
        assert stream.get_extra_info("is_readable") is False
        peer.close()
        assert stream.get_extra_info("is_readable") is True
        await stream.aclose()


@pytest.mark.anyio
async def test_a_write_waits_for_room_at_most_its_timeout() -> None:
    big = b"x" * (32 * 1024 * 1024)  # more than the kernel's buffers and the transport's high-water mark
    with listener() as server:
        stream, peer = await connected(server)
        with peer, pytest.raises(httpcore.WriteTimeout):
            await stream.write(big, timeout=0)
        await stream.aclose()


@pytest.mark.anyio
async def test_a_write_completes_once_the_peer_reads() -> None:
    size = 16 * 1024 * 1024
    with listener() as server:
        stream, peer = await connected(server)
        received = 0

        def drain() -> None:
            nonlocal received
            while received < size:
                chunk = peer.recv(1024 * 1024)
                if not chunk:
                    return
                received += len(chunk)

        reader = threading.Thread(target=drain)
        reader.start()
        try:
            await stream.write(b"y" * size)
        finally:
            await anyio.to_thread.run_sync(reader.join)
            peer.close()
        assert received == size
        await stream.aclose()


@pytest.mark.anyio
async def test_writing_on_a_connection_the_peer_closed_is_a_write_error() -> None:
    with listener() as server:
        stream, peer = await connected(server)
        peer.close()
        assert await stream.read(100) == b""
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"GET / HTTP/1.1\r\n\r\n")
        await stream.aclose()


@pytest.mark.anyio
async def test_a_large_answer_is_read_whole_with_a_bounded_amount_waiting_unread() -> None:
    body = bytes(range(256)) * (16 * 1024)  # 4 MiB
    with listener() as server:
        stream, peer = await connected(server)
        sender = threading.Thread(target=lambda: (peer.sendall(body), peer.close()))
        sender.start()
        try:
            got = await read_all(stream)
        finally:
            await anyio.to_thread.run_sync(sender.join)
        assert got == body
        await stream.aclose()


@pytest.mark.anyio
async def test_a_refused_connection_is_a_connect_error() -> None:
    with listener() as server:
        port = server.getsockname()[1]
    with pytest.raises(httpcore.ConnectError):
        await AsyncioBackend(NoFallback()).connect_tcp("127.0.0.1", port)


@pytest.mark.anyio
async def test_socket_options_are_applied() -> None:
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    with listener() as server:
        stream, peer = await connected(server, socket_options=options)
        peer.close()
        assert stream.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert stream.get_extra_info("server_addr") == server.getsockname()
        assert stream.get_extra_info("ssl_object") is None
        await stream.aclose()


def _tls_server(server: socket.socket, answer: bytes) -> None:
    """Accept one TLS connection on ``server``, read one request head and send ``answer``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(PEM)
    server.settimeout(10)  # only reached if the client never connects: a failing test, not a hung one
    try:
        peer, _ = server.accept()
    except TimeoutError:
        return
    try:
        with context.wrap_socket(peer, server_side=True) as tls:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                data += chunk
            tls.sendall(answer)
    except (ssl.SSLError, OSError):
        return  # the client refused the certificate


@asynccontextmanager
async def tls_server(answer: bytes) -> AsyncIterator[int]:
    """A 127.0.0.1 port (yielded) where a thread serves one TLS connection with ``_tls_server``; the
    thread is joined when the block ends."""
    with listener() as server:
        thread = threading.Thread(target=_tls_server, args=(server, answer))
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            await anyio.to_thread.run_sync(thread.join)


def _trusting() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.load_verify_locations(PEM)
    return context


@pytest.mark.anyio
async def test_an_https_request_goes_through_a_tls_upgrade() -> None:
    if not PEM.exists():
        pytest.skip(f"{PEM} is missing")
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"tls": 1}\n'
    async with tls_server(answer) as port, httpx.AsyncClient(verify=_trusting()) as client:
        assert install(client) is True
        response = await client.get(f"https://127.0.0.1:{port}/")
        assert response.json() == {"tls": 1}
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, AsyncioBackend)


@pytest.mark.anyio
async def test_a_certificate_not_trusted_is_a_connect_error() -> None:
    async with tls_server(b"") as port:
        stream = await AsyncioBackend(NoFallback()).connect_tcp("127.0.0.1", port)
        with pytest.raises(httpcore.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await stream.start_tls(ssl.create_default_context(), server_hostname="127.0.0.1")


async def read_all(stream: httpcore.AsyncNetworkStream) -> bytes:
    """Everything until the peer closes, letting the event loop read ahead as far as it will before each
    read, and checking that no more than ``HIGH_WATER`` (plus one socket read) ever waits unread."""
    got = bytearray()
    while True:
        for _ in range(50):
            await anyio.lowlevel.checkpoint()
        assert len(stream._protocol.buffer) <= HIGH_WATER + SOCKET_READ  # type: ignore[attr-defined]
        chunk = await stream.read(64 * 1024)
        if not chunk:
            return bytes(got)
        got += chunk


@pytest.mark.anyio
async def test_a_tls_stream_knows_its_ssl_object_and_reads_a_large_answer_whole() -> None:
    answer = b"HTTP/1.1 200 OK\r\n\r\n" + bytes(range(256)) * (8 * 1024)  # 2 MiB, then the server closes
    async with tls_server(answer) as port:
        stream = await AsyncioBackend(NoFallback()).connect_tcp("127.0.0.1", port)
        tls = await stream.start_tls(_trusting(), server_hostname="127.0.0.1")
        assert isinstance(tls.get_extra_info("ssl_object"), ssl.SSLObject)
        await tls.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert await read_all(tls) == answer
        await tls.aclose()


@pytest.mark.anyio
async def test_outside_asyncio_the_replaced_backend_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sockets, "_on_asyncio", lambda: False)
    fallback = NoFallback()
    backend = AsyncioBackend(fallback)
    with pytest.raises(httpcore.ConnectError, match="fallback"):
        await backend.connect_tcp("127.0.0.1", 9)
    await backend.sleep(0)
    assert fallback.asked == ["127.0.0.1:9", "sleep 0"]
