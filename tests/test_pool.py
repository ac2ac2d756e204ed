"""``LeanPool`` serves requests as httpcore's pool does, checking only the connection it hands out.

- an idle connection is reused, the most recently used first; one the server closed or past its keep-alive
  is closed and replaced, and the oldest idle one is closed once past its keep-alive even if not picked;
- at most ``max_connections`` requests hold a connection; the next waits for a response to be closed, or
  fails with ``PoolTimeout`` after the pool timeout;
- a failure, a cancellation or a connection left unusable after its response closes that connection and
  frees its slot; a connection that is no longer available is replaced and the request sent again;
- ``install`` swaps the pool of a client built like regate's, on the httpx installed, and leaves any other
  transport alone; a real client on a 127.0.0.1 server keeps its connections alive through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.lowlevel
import httpcore
import httpx
import pytest
from anyio.abc import SocketStream

from runner.config import load_config
from runner.providers import open_providers
from runner.providers.pool import LeanPool, install
from runner.providers.sockets import AsyncioBackend
from runner.providers.sockets import install as asyncio_sockets
from tests.http_support import loopback, requests_on
from tests.test_http_client import closing_server

A = "http://a.test/"
B = "http://b.test/"


class FakeConnection(httpcore.AsyncConnectionInterface):
    """A connection as httpcore's pool sees it: idle, busy with one request, or closed."""

    def __init__(self, origin: httpcore.Origin, number: int) -> None:
        self.origin = origin
        self.number = number
        self.state = "new"
        self.expired = False  # the server closed it while idle, or its keep-alive ran out
        self.keep_alive = True  # idle again once its response is closed
        self.fail: BaseException | None = None
        self.unavailable = False
        self.fail_close = False  # closing its response fails
        self.plain = False  # answers with plain bytes (no aclose), idle again at once
        self.body: type[FakeBody] | None = None  # the body it answers with, if not ``FakeBody``
        self.requests = 0

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self.unavailable:
            raise httpcore.ConnectionNotAvailable()
        if self.fail is not None:
            raise self.fail
        assert self.state in ("new", "idle")
        self.state, self.requests = "active", self.requests + 1
        if self.plain:
            self.state = "idle"
            return httpcore.Response(200, content=b"plain")
        return httpcore.Response(200, content=(self.body or FakeBody)(self))

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self.origin

    def is_available(self) -> bool:
        return self.state == "idle"

    def has_expired(self) -> bool:
        return self.expired

    def is_idle(self) -> bool:
        return self.state == "idle"

    def is_closed(self) -> bool:
        return self.state == "closed"

    async def aclose(self) -> None:
        self.state = "closed"

    def info(self) -> str:
        return f"#{self.number} {self.state}"


class FakeBody:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"ok": true}'

    async def aclose(self) -> None:
        if self.connection.fail_close:
            self.connection.state = "closed"
            raise httpcore.ReadError("reset while closing")
        self.connection.state = "idle" if self.connection.keep_alive else "closed"


class WaitingBody(FakeBody):
    """A body whose close waits (as http11's does when its answer was not read whole)."""

    settled = False

    async def aclose(self) -> None:
        await anyio.lowlevel.checkpoint()
        await super().aclose()


class SettledBody(FakeBody):
    """A body read whole, as http11's says: its close does not wait."""

    settled = True


class Factory(httpcore.AsyncConnectionPool):
    """Makes fake connections, numbered in the order they were made."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[FakeConnection] = []

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        self.made.append(FakeConnection(origin, len(self.made) + 1))
        return self.made[-1]


def pool_of(max_connections: int) -> tuple[Factory, LeanPool]:
    factory = Factory()
    return factory, LeanPool(factory, max_connections=max_connections)


async def two_idle(pool: LeanPool) -> None:
    """Two connections made at once, then handed back: #1 first, #2 last."""
    first = await pool.handle_async_request(request())
    second = await pool.handle_async_request(request())
    await first.aclose()
    await second.aclose()


def request(url: str = A, pool_timeout: float | None = None) -> httpcore.Request:
    return httpcore.Request("GET", url, extensions={"timeout": {"pool": pool_timeout}})


async def fetch(pool: LeanPool, url: str = A, pool_timeout: float | None = 0) -> None:
    """One request whose answer is read to the end and closed; by default it fails at once with
    ``PoolTimeout`` if no slot is free (a slot the pool failed to free shows up as that, not as a hang)."""
    response = await pool.handle_async_request(request(url, pool_timeout))
    await response.aread()
    await response.aclose()


@pytest.mark.anyio
async def test_requests_one_after_another_share_one_connection() -> None:
    factory, pool = pool_of(4)
    for _ in range(3):
        await fetch(pool)
    assert [c.requests for c in factory.made] == [3]
    assert factory.made[0].state == "idle"


@pytest.mark.anyio
async def test_the_most_recently_used_idle_connection_is_taken_first() -> None:
    factory, pool = pool_of(4)
    await two_idle(pool)
    await fetch(pool)
    assert [c.requests for c in factory.made] == [1, 2]


@pytest.mark.anyio
@pytest.mark.parametrize("trouble", ["expired", "unavailable"])
async def test_a_connection_the_server_closed_or_no_longer_available_is_closed_and_replaced(
    trouble: str,
) -> None:
    """``expired``: closed by the server while idle, or past its keep-alive; ``unavailable``: it looked
    usable but refused the request (``ConnectionNotAvailable``), which is then sent again."""
    factory, pool = pool_of(1)
    await fetch(pool)
    setattr(factory.made[0], trouble, True)
    await fetch(pool)
    assert [(c.state, c.requests) for c in factory.made] == [("closed", 1), ("idle", 1)]


@pytest.mark.anyio
async def test_a_newer_connection_the_server_closed_is_passed_over_for_an_older_one() -> None:
    factory, pool = pool_of(4)
    await two_idle(pool)
    factory.made[1].expired = True
    await fetch(pool)
    assert [(c.state, c.requests) for c in factory.made] == [("idle", 2), ("closed", 1)]


@pytest.mark.anyio
async def test_the_oldest_idle_connection_is_closed_once_past_its_keep_alive() -> None:
    factory, pool = pool_of(4)
    await two_idle(pool)
    factory.made[0].expired = True  # never picked again (the newer one is), but it must not linger
    await fetch(pool)
    assert [c.state for c in factory.made] == ["closed", "idle"]
    assert pool.connections == [factory.made[1]]


@pytest.mark.anyio
async def test_connections_are_kept_per_origin() -> None:
    factory, pool = pool_of(4)
    await fetch(pool, A)
    await fetch(pool, B)
    await fetch(pool, A)
    assert [(c.origin.host, c.requests) for c in factory.made] == [(b"a.test", 2), (b"b.test", 1)]


@pytest.mark.anyio
async def test_a_full_pool_closes_an_idle_connection_to_another_origin_to_make_room() -> None:
    factory, pool = pool_of(2)
    await fetch(pool, A)
    await fetch(pool, B)
    await fetch(pool, "http://c.test/")
    assert [c.state for c in factory.made] == ["closed", "idle", "idle"]  # the oldest idle one went


@pytest.mark.anyio
async def test_a_request_beyond_max_connections_waits_for_a_response_to_close() -> None:
    factory, pool = pool_of(1)
    held = await pool.handle_async_request(request())
    done = anyio.Event()

    async def second() -> None:
        await fetch(pool, pool_timeout=None)
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert not done.is_set()  # waiting for the only slot
        await held.aclose()
        await done.wait()
    assert [c.requests for c in factory.made] == [2]


@pytest.mark.anyio
async def test_no_free_connection_within_the_pool_timeout_is_a_pool_timeout() -> None:
    pool = LeanPool(Factory(), max_connections=1)
    held = await pool.handle_async_request(request())
    with pytest.raises(httpcore.PoolTimeout):
        await pool.handle_async_request(request(pool_timeout=0))
    await held.aclose()
    await fetch(pool)  # the timed-out wait took no slot


@pytest.mark.anyio
async def test_a_failed_request_closes_its_connection_and_frees_its_slot() -> None:
    factory, pool = pool_of(1)
    await fetch(pool)
    factory.made[0].fail = httpcore.ReadError("reset")
    with pytest.raises(httpcore.ReadError):
        await pool.handle_async_request(request())
    await fetch(pool)  # the slot is free again, on a new connection
    assert [(c.state, c.requests) for c in factory.made] == [("closed", 1), ("idle", 1)]


@pytest.mark.anyio
async def test_a_cancelled_request_closes_its_connection_and_frees_its_slot() -> None:
    factory, pool = pool_of(1)
    await fetch(pool)
    factory.made[0].fail = anyio.get_cancelled_exc_class()()
    with anyio.CancelScope():
        with pytest.raises(anyio.get_cancelled_exc_class()):
            await pool.handle_async_request(request())
    assert factory.made[0].state == "closed"
    await fetch(pool)


@pytest.mark.anyio
@pytest.mark.parametrize("body", [FakeBody, WaitingBody, SettledBody])
async def test_an_answer_closed_in_a_cancelled_scope_still_closes_its_body(body: type[FakeBody]) -> None:
    """A body whose close may wait is closed under a shield, so a cancellation cannot cut it short (the
    connection would be dropped instead of kept); one read whole is closed directly: it cannot wait."""
    factory, pool = pool_of(1)
    await fetch(pool)
    factory.made[0].body = body
    response = await pool.handle_async_request(request())
    with anyio.CancelScope() as scope:
        scope.cancel()
        await response.aclose()
    assert [(c.state, c.requests) for c in factory.made] == [("idle", 2)]  # closed to its end, and kept
    await fetch(pool)


@pytest.mark.anyio
async def test_a_response_that_fails_to_close_still_frees_its_slot() -> None:
    factory, pool = pool_of(1)
    response = await pool.handle_async_request(request())
    factory.made[0].fail_close = True
    with pytest.raises(httpcore.ReadError):
        await response.aclose()
    await fetch(pool)  # the slot is free again, on a new connection
    assert [(c.state, c.requests) for c in factory.made] == [("closed", 1), ("idle", 1)]


@pytest.mark.anyio
async def test_a_body_that_cannot_be_closed_still_hands_its_connection_back() -> None:
    """A connection may answer with plain bytes (httpcore's ByteStream, which has no ``aclose``): the
    answer is read as it is, and closing the response frees the slot all the same."""
    factory, pool = pool_of(1)
    await fetch(pool)
    factory.made[0].plain = True
    response = await pool.handle_async_request(request())
    assert await response.aread() == b"plain"
    await response.aclose()
    await fetch(pool)
    assert [(c.state, c.requests) for c in factory.made] == [("idle", 3)]


@pytest.mark.anyio
async def test_a_connection_left_unusable_by_its_response_is_closed_not_kept() -> None:
    factory, pool = pool_of(1)
    response = await pool.handle_async_request(request())
    factory.made[0].keep_alive = False  # e.g. "Connection: close", or a body not read to the end
    await response.aclose()
    assert pool.connections == []
    await fetch(pool)
    assert len(factory.made) == 2


@pytest.mark.anyio
async def test_closing_the_pool_closes_every_connection_and_a_late_response_still_frees_its_slot() -> None:
    factory, pool = pool_of(1)
    await fetch(pool)
    async with pool:
        busy = await pool.handle_async_request(request())
    assert [c.state for c in factory.made] == ["closed"]
    await busy.aclose()
    await fetch(pool)  # the slot came back
    assert len(factory.made) == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "problem"), [("ftp://a.test/", "unsupported protocol"), ("//a.test/", "missing")]
)
async def test_a_url_without_an_http_scheme_is_refused(url: str, problem: str) -> None:
    pool = LeanPool(Factory(), max_connections=1)
    with pytest.raises(httpcore.UnsupportedProtocol, match=problem):
        await pool.handle_async_request(request(url))
    await fetch(pool)  # refused before a slot was taken


def test_a_pool_needs_room_for_one_connection() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LeanPool(Factory(), max_connections=0)


@pytest.mark.anyio
async def test_install_swaps_the_pool_of_a_client_built_like_regate_s() -> None:
    """Pins the private layout ``install`` relies on, for the httpx and httpcore installed: if this fails
    after an upgrade, requests still work, on httpcore's own pool."""
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=4)) as client:
        assert asyncio_sockets(client) is True
        assert install(client, max_connections=4) is True
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool, LeanPool)
        assert install(client, max_connections=4) is True
        assert client._transport._pool is pool  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_regate_s_clients_get_the_lean_pool_on_asyncio_transports(tmp_path: Path) -> None:
    """``open_providers`` installs both, in the one order that works: the pool makes its connections on
    the network backend of the pool it replaces, so that backend must be swapped first."""
    config = tmp_path / "regate.yaml"
    config.write_text(
        "version: 1\nproviders: {cekura: {base_url: 'https://cekura.invalid', api_key: k}}\n"
        "gates: [{name: smoke, agent: 101, scenarios: [201]}]\n",
        encoding="utf-8",
    )
    async with open_providers(load_config(str(config), {})) as providers:
        pool = providers["cekura"]._api.client._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool, LeanPool)
        assert isinstance(pool._factory._network_backend, AsyncioBackend)


@pytest.mark.anyio
async def test_install_leaves_an_unknown_transport_alone() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        assert install(client, max_connections=4) is False
        assert (await client.get("https://api.example/")).status_code == 200


@asynccontextmanager
async def keep_alive_server() -> AsyncIterator[tuple[str, list[int]]]:
    """A 127.0.0.1 server that answers every request on a connection until the client closes it; counts
    the connections it accepted."""
    connections: list[int] = []

    async def serve(stream: SocketStream) -> None:
        connections.append(len(connections) + 1)
        number = len(connections)
        async with stream:
            async for _ in requests_on(stream):
                body = b'{"connection": %d}' % number
                await stream.send(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )

    async with loopback(serve) as port:
        yield f"http://127.0.0.1:{port}/", connections


@pytest.mark.anyio
async def test_a_real_client_keeps_its_connections_alive_and_opens_no_more_than_allowed() -> None:
    async with (
        keep_alive_server() as (url, connections),
        httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=2)) as client,
    ):
        assert asyncio_sockets(client) and install(client, max_connections=2)
        assert [(await client.get("a")).json() for _ in range(3)] == [{"connection": 1}] * 3
        answers: list[object] = []

        async def get() -> None:
            answers.append((await client.get("b")).json())

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(get)
        assert len(answers) == 5
        assert len(connections) <= 2


@pytest.mark.anyio
async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async with (
        closing_server() as (url, connections, closed),
        httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=2)) as client,
    ):
        assert asyncio_sockets(client) and install(client, max_connections=2)
        assert (await client.get("a")).json() == {"count": 1}
        await closed.wait()  # the server's close has reached our socket: it reads as end of stream
        assert (await client.get("b")).json() == {"count": 2}
    assert connections == [1, 2]
