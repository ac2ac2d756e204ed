# ruff: noqa: ASYNC109  (the `timeout` parameters are httpcore's stream interface, implemented here)
"""A cheaper answer to httpcore's "is this idle connection still open?", asked on every request.

Each time httpcore's pool hands out a request or takes a connection back, it asks every idle connection
whether its socket is readable (a server that closed a keep-alive connection makes it readable). On
anyio, each such question rebuilds the stream's whole attribute table, including a ``getpeername``
system call, only to fetch the socket; at 1,000 gates that was about half of the CPU the pool spent
assigning requests to connections (cProfile). The socket of a connection never changes, so this backend
wraps each stream and keeps it from the start.

httpx has no public way to choose its pool's network backend without giving up the proxy variables
(passing ``transport=`` disables them), so ``install`` wraps the backend of the default transport's pool
in place, through two private attributes. If a future httpx or httpcore renames them, ``install`` changes
nothing and says so in the debug log: requests work as before, only slower. A test pins that it applies
to the versions installed.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import sys
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

log = logging.getLogger("regate.http")


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


class _KeptSocketStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = stream.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _KeptSocketStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_readable(self._socket)
        if info == "socket":
            return self._socket
        return self._stream.get_extra_info(info)


class KeptSocketBackend(httpcore.AsyncNetworkBackend):
    """Delegates every connection to ``backend`` and wraps the streams it returns."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self.backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self.backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _KeptSocketStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self.backend.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)
        return _KeptSocketStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self.backend.sleep(seconds)


def install(client: httpx.AsyncClient) -> bool:
    """Wrap the network backend of ``client``'s default transport; False if its layout is not the known one
    (a custom transport, or a renamed private attribute)."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.AsyncNetworkBackend):
        log.debug("httpx's connection pool has an unknown layout: idle connections are checked the slow way")
        return False
    if not isinstance(backend, KeptSocketBackend):
        setattr(pool, "_network_backend", KeptSocketBackend(backend))  # noqa: B010 (a private attribute)
    return True
