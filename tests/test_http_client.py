"""The HTTP layer's shortcuts, which save CPU on every request, change nothing a platform can see.

- ``JsonApi`` keeps the URLs of GET requests with parameters (a result's probes ask the same one all
  along) and puts its headers on the client: the requests sent are those httpx would build without it.
- ``sockets.install`` puts httpcore's connections on asyncio's transports (``test_sockets`` says how they
  behave): a connection the server closed while idle is still dropped before it is reused.
- ``JsonApi`` sends to the transport httpx chose for the URL, past the client's auth, redirect and cookie
  layers: the proxy variables still decide the route, a redirect is still answered and not followed, an
  answer cut short still frees its connection, and a client with auth or hooks still goes through them.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import anyio
import httpx
import pytest
from anyio.abc import SocketStream

from runner.errors import RequestRejected, TransientError
from runner.providers import http as http_module
from runner.providers.http import JsonApi
from runner.providers.sockets import AsyncioBackend, install, is_readable
from tests.http_support import loopback, requests_on

BASE = "https://api.example/test_framework/v1/"
HEADERS = {"X-CEKURA-API-KEY": "sk-key", "Accept": "application/json"}


def api(seen: list[httpx.Request]) -> JsonApi:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 1})

    client = httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(handler))
    return JsonApi(client, headers=HEADERS, secret="sk-key", describe=str, auth_hint="")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("runs-external/", {"result_id": "7", "status__in": "pending,in_queue", "page_size": "1"}),
        ("results/", {"search": "regate smoke ä&=/?", "agent_id": "101"}),
        ("/runs-external/", {"result_id": "7"}),  # a leading slash is still appended to the base path
        ("results/?x=1", {"y": "2"}),
    ],
)
async def test_a_kept_url_is_the_one_httpx_would_build(path: str, params: dict[str, str]) -> None:
    seen: list[httpx.Request] = []
    json_api = api(seen)
    expected = json_api.client.build_request("GET", path, params=params).url
    await json_api.call("GET", path, params=params)
    await json_api.call("GET", path, params=params)
    assert [r.url for r in seen] == [expected, expected]
    assert [str(r.url) for r in seen] == [str(expected)] * 2
    assert len(json_api._urls) == 1  # built once, then reused


@pytest.mark.anyio
async def test_every_request_carries_the_api_headers_once() -> None:
    seen: list[httpx.Request] = []
    json_api = api(seen)
    await json_api.call("GET", "runs-external/", params={"result_id": "7"})
    await json_api.call("GET", "results/7/")
    await json_api.call("POST", "results/7/end_calls/", body={})
    for request in seen:
        for name, value in HEADERS.items():
            assert request.headers.get_list(name) == [value]


@pytest.mark.anyio
async def test_the_kept_urls_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_module, "URL_CACHE", 3)
    seen: list[httpx.Request] = []
    json_api = api(seen)
    for result in range(10):
        await json_api.call("GET", "runs-external/", params={"result_id": str(result)})
        assert len(json_api._urls) <= 3
    assert [r.url.params["result_id"] for r in seen] == [str(result) for result in range(10)]


def test_a_socket_is_readable_once_data_or_the_peer_s_close_is_waiting() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert not is_readable(ours)
        theirs.sendall(b"x")
        assert is_readable(ours)
        ours.recv(1)
        assert not is_readable(ours)
        theirs.close()
        assert is_readable(ours)
    assert is_readable(ours)  # closed on our side: the pool must drop it
    assert is_readable(None)


@pytest.mark.anyio
async def test_install_replaces_the_network_backend_of_a_client_built_like_regate_s() -> None:
    """Pins the private layout ``install`` relies on, for the httpx and httpcore installed: if this fails
    after an upgrade, requests still work, on httpcore's anyio backend (slower)."""
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=4)) as client:
        assert install(client) is True
        backend = client._transport._pool._network_backend  # type: ignore[attr-defined]
        assert isinstance(backend, AsyncioBackend)
        assert install(client) is True
        assert client._transport._pool._network_backend is backend  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_install_leaves_an_unknown_transport_alone() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        assert install(client) is False
        assert (await client.get("https://api.example/")).status_code == 200


@asynccontextmanager
async def closing_server() -> AsyncIterator[tuple[str, list[int], anyio.Event]]:
    """A 127.0.0.1 server that answers one request per connection, keep-alive in form, then closes it."""
    connections: list[int] = []
    closed = anyio.Event()

    async def serve(stream: SocketStream) -> None:
        connections.append(len(connections) + 1)
        async with stream:
            async for _ in requests_on(stream):
                body = b'{"count": %d}' % len(connections)
                await stream.send(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )
                break  # one request per connection
        closed.set()

    async with loopback(serve) as port:
        yield f"http://127.0.0.1:{port}/", connections, closed


@pytest.mark.anyio
async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async with (
        closing_server() as (url, connections, closed),
        httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=2)) as client,
    ):
        assert install(client) is True
        assert (await client.get("a")).json() == {"count": 1}
        await closed.wait()  # the server's close has reached our socket: it reads as end of stream
        assert (await client.get("b")).json() == {"count": 2}
    assert connections == [1, 2]


@pytest.mark.anyio
async def test_requests_skip_the_client_layers_on_the_installed_httpx() -> None:
    """Pins the private method the direct route relies on: if this fails after an upgrade, requests
    still work through ``client.send``, only slower."""
    async with httpx.AsyncClient(base_url=BASE) as client:
        json_api = JsonApi(client, headers=HEADERS, secret="sk-key", describe=str, auth_hint="")
        assert json_api._route is not None
        assert json_api._route(httpx.URL(BASE)) is client._transport  # type: ignore[attr-defined]


@asynccontextmanager
async def recording_server(answer: bytes) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A 127.0.0.1 server that records each request's head and sends ``answer`` (a whole HTTP response)."""
    heads: list[bytes] = []

    async def serve(stream: SocketStream) -> None:
        async with stream:
            async for head, _ in requests_on(stream):
                heads.append(head)
                await stream.send(answer)
                break  # one request per connection

    async with loopback(serve) as port:
        yield port, heads


def http_answer(status: str, body: bytes = b"", *headers: str) -> bytes:
    head = "".join(f"{header}\r\n" for header in headers)
    return f"HTTP/1.1 {status}\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.anyio
async def test_the_proxy_variables_still_choose_the_route(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = http_answer("200 OK", b'{"count": 3}', "Content-Type: application/json")
    async with recording_server(answer) as (port, heads):
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        async with httpx.AsyncClient(base_url="http://cekura.invalid/test_framework/v1/") as client:
            json_api = JsonApi(client, headers=HEADERS, secret="sk-key", describe=str, auth_hint="")
            assert json_api._route is not None
            assert await json_api.call("GET", "runs-external/", params={"result_id": "7"}) == {"count": 3}
    # The proxy got the request in absolute form, with the API headers: httpx's own route was taken.
    assert heads[0].startswith(b"GET http://cekura.invalid/test_framework/v1/runs-external/?result_id=7 ")
    assert b"X-CEKURA-API-KEY: sk-key" in heads[0]


@pytest.mark.anyio
async def test_a_redirect_is_answered_not_followed_and_no_cookie_is_sent_back() -> None:
    answer = http_answer("302 Found", b"", "Location: https://elsewhere.invalid/", "Set-Cookie: lb=1; Path=/")
    async with (
        recording_server(answer) as (port, heads),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/") as client,
    ):
        json_api = JsonApi(client, headers=HEADERS, secret="sk-key", describe=str, auth_hint="")
        for _ in range(2):
            with pytest.raises(RequestRejected, match="unexpected redirect"):
                await json_api.call("GET", "results/7/")
    assert len(heads) == 2
    assert all(b"cookie" not in head.lower() for head in heads)


class CutStream(httpx.AsyncByteStream):
    """A body that fails after its first part, like a connection lost mid-answer."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"count": '
        raise httpx.ReadError("connection lost")

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.anyio
async def test_an_answer_cut_short_frees_its_connection() -> None:
    stream = CutStream()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=stream))
    async with httpx.AsyncClient(base_url=BASE, transport=transport) as client:
        json_api = JsonApi(client, headers=HEADERS, secret="sk-key", describe=str, auth_hint="")
        assert json_api._route is not None
        with pytest.raises(TransientError, match="connection failed"):
            await json_api.call("GET", "results/7/")
    assert stream.closed


@pytest.mark.anyio
async def test_a_client_with_hooks_or_auth_goes_through_send() -> None:
    hooked: list[str] = []

    async def hook(request: httpx.Request) -> None:
        hooked.append(request.headers.get("Authorization", ""))

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"count": 1}))
    async with httpx.AsyncClient(
        base_url=BASE, transport=transport, event_hooks={"request": [hook]}, auth=("user", "pw")
    ) as client:
        json_api = JsonApi(client, headers=HEADERS, secret="sk-key", describe=str, auth_hint="")
        assert json_api._route is None
        assert await json_api.call("GET", "results/7/") == {"count": 1}
    assert hooked == ["Basic dXNlcjpwdw=="]


def test_without_the_private_route_requests_go_through_send() -> None:
    """A future httpx that renamed ``_transport_for_url``: JsonApi falls back to ``client.send``."""
    renamed = SimpleNamespace(auth=None, base_url=httpx.URL(BASE), event_hooks={})
    assert http_module._direct_route(renamed) is None  # type: ignore[arg-type]
