"""127.0.0.1 HTTP/1.1 servers for the tests of regate's HTTP layers: each test answers requests its own way,
on the same listener and the same reading of requests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
from anyio.abc import SocketStream


def content_length(head: bytes) -> int:
    """The Content-Length of a request head (any case), 0 without one."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def requests_on(stream: SocketStream) -> AsyncIterator[tuple[bytes, bytes]]:
    """Each whole request the client sends on ``stream``: its head (without the blank line after it) and its
    body (by Content-Length). Ends when the client closes the connection, even in the middle of one."""
    data = b""
    while True:
        try:
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            head, _, data = data.partition(b"\r\n\r\n")
            length = content_length(head)
            while len(data) < length:
                data += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return
        body, data = data[:length], data[length:]
        yield head, body


@asynccontextmanager
async def loopback(handler: Callable[[SocketStream], Awaitable[None]]) -> AsyncIterator[int]:
    """Serve every connection to a free 127.0.0.1 port (yielded) with ``handler`` until the block ends."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 (anyio, not Django)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handler)
        yield port
        tg.cancel_scope.cancel()
