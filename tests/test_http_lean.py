"""On regate's clients, ``JsonApi`` hands requests straight to the lean pool, and nothing a platform or a
gate can see changes.

- the bytes on the wire are those httpx's own path sends: request line, headers in the same order, JSON
  bodies encoded alike (non-ASCII text, no body on a POST);
- an encoded answer (gzip) is decoded by httpx's decoders; one that cannot be decoded is a
  ``ProtocolError`` (asked again), or ``StartOutcomeUnknown`` for a start;
- failures map as on httpx's path: nothing listening is "could not connect", an answer cut short a lost
  connection, a slow answer a timeout, a 429 ``RateLimited`` with its ``Retry-After``;
- only a client on httpx's default transport with a ``LeanPool`` takes the lean path; it serves HTTPS
  (TLS by httpcore's connect step), and an untrusted certificate is "could not connect".
"""

from __future__ import annotations

import gzip
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from anyio.abc import SocketStream

from runner.errors import ProtocolError, RateLimited, StartOutcomeUnknown, TransientError
from runner.providers.http import JsonApi
from runner.providers.http11 import Http11Connection
from runner.providers.pool import install as lean_pool
from runner.providers.sockets import install as asyncio_sockets
from tests.http_support import loopback, requests_on
from tests.test_sockets import PEM, _trusting, tls_server

HEADERS = {"X-CEKURA-API-KEY": "sk-key", "Accept": "application/json"}
JSON_OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"count":1}'
Answer = Callable[[bytes], bytes | None]  # a request's head -> the whole answer, None: close at once


@asynccontextmanager
async def server(answer: Answer, *, close: bool = False) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A keep-alive 127.0.0.1 server that records every whole request (head and body); ``close``: it
    closes each connection after its first answer."""
    seen: list[bytes] = []

    async def serve(stream: SocketStream) -> None:
        async with stream:
            async for head, body in requests_on(stream):
                seen.append(head + b"\r\n\r\n" + body)
                reply = answer(head)
                if reply is None:
                    return
                await stream.send(reply)
                if close:
                    return

    async with loopback(serve) as port:
        yield f"http://127.0.0.1:{port}/test_framework/v1/", seen


def regate_client(base_url: str, *, lean: bool = True, timeout: float = 10.0) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=timeout)
    asyncio_sockets(client)
    if lean:
        assert lean_pool(client, max_connections=4)
    return client


def json_api(client: httpx.AsyncClient) -> JsonApi:
    return JsonApi(client, headers=HEADERS, secret="sk-key", describe=str, auth_hint="")


CALLS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "GET",
        "runs-external/",
        {"params": {"result_id": "7", "status__in": "pending,running", "page_size": "1"}},
    ),
    ("GET", "results/7/", {}),
    ("POST", "scenarios/run_scenarios/", {"body": {"agent_id": 101, "name": "regate ✓ «smoke»", "x": 1.5}}),
    ("POST", "results/7/end_calls/", {}),
    ("POST", "results/7/create_shareable_link_token/", {"body": {"expire_at": None}}),
    ("PATCH", "runs-external/9/", {"body": {"feedback": "ok"}}),
    ("GET", "/test_framework/v1/results/8/", {}),  # joined below the base's path, as httpx joins it
    ("GET", "results/../results/9/", {}),  # a dot segment: httpx removes it
    ("GET", "results/a b/", {}),  # a space: httpx encodes it
    ("GET", "results/", {"params": {"search": "a b&c=d/é", "page": "2"}}),  # left to httpx to encode
    ("GET", "/runs-external/", {"params": {"status__in": "", "x.y~z": "-"}}),
]


@pytest.mark.anyio
async def test_the_lean_path_sends_the_bytes_httpx_sends() -> None:
    wires: list[list[bytes]] = []
    async with server(lambda head: JSON_OK) as (url, seen):
        for lean in (True, False):
            async with regate_client(url, lean=lean) as client:
                api = json_api(client)
                assert (api._lean_pool(httpx.URL(url)) is not None) is lean
                for method, path, kwargs in CALLS:
                    assert await api.call(method, path, **kwargs) == {"count": 1}
            wires.append(seen[-len(CALLS) :])
    lean_wire, httpx_wire = wires
    assert len(lean_wire) == len(CALLS)
    assert lean_wire == httpx_wire
    assert b"Content-Length: 0\r\n" in lean_wire[3]  # a POST without a body says so
    assert "«smoke»".encode() in lean_wire[2]  # JSON as httpx encodes it: UTF-8, not \\u escapes


@pytest.mark.parametrize(
    "base",
    ["http://127.0.0.1:9/test_framework/v1/", "http://127.0.0.1:9", "https://api.example.test:8443/a/b"],
)
def test_a_plain_path_is_joined_to_the_base_url_as_httpx_joins_it(base: str) -> None:
    """A result's detail, start and share link each have a path of their own: those httpx sends as they
    are get their URL without parsing one (the wire test above checks the bytes); any other is left to
    httpx."""
    client = httpx.AsyncClient(base_url=base)
    api = json_api(client)
    for path in ("results/7/", "/test_framework/v1/results/7/", "runs-external/", "", "a_b-c~d/"):
        target = api._plain(path)
        built = client.build_request("GET", path).url
        assert target is not None, path
        assert (target.core.scheme, target.core.host, target.core.port) == (
            built.raw_scheme,
            built.raw_host,
            built.port,
        )
        assert (target.core.target, target.host) == (built.raw_path, built.netloc)
        assert target.url.netloc == built.netloc  # routed like the URL httpx builds: same origin
    for path in (
        "//localhost/x",
        "//other.test/x",
        "results/../x",
        "./x",
        "results/a b/",
        "https://other.test/x",
        "r/%41/",
        "r?x=1",
    ):
        assert api._plain(path) is None, path
    assert json_api(httpx.AsyncClient(base_url=base + "?tenant=1"))._plain("results/7/") is None


@pytest.mark.parametrize(
    "base",
    ["http://127.0.0.1:9/test_framework/v1/", "http://127.0.0.1:9", "https://api.example.test:8443/a/b"],
)
def test_plain_query_parameters_are_written_as_httpx_writes_them(base: str) -> None:
    """A progress probe's URL (its query of ids, status names and commas) is made without parsing one too;
    a key or value with any other character is left to httpx."""
    client = httpx.AsyncClient(base_url=base)
    api = json_api(client)
    plain: list[dict[str, str]] = [
        {"result_id": "1001", "status__in": "pending,in_queue,running", "page_size": "1"},
        {"a": "", "b": ",,", "c.d~e-f_g": "-1.5"},
        {"": "x"},
        {},
    ]
    for params in plain:
        target = api._plain("runs-external/", params)
        built = client.build_request("GET", "runs-external/", params=params).url
        assert target is not None, params
        assert (target.core.target, target.host) == (built.raw_path, built.netloc)
    for params in (
        {"search": "a b"},
        {"q": "a&b=c"},
        {"q": "é"},
        {"q": "50%"},
        {"q+": "1"},
        {"q": "a/b"},
        {"q": "x#y"},
        {"q": "x?y"},
        {"q": 1},
    ):
        assert api._plain("runs-external/", params) is None, params  # type: ignore[arg-type]


def gzipped(head: bytes) -> bytes:
    body = gzip.compress(b'{"count": 2}')
    return b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)


@pytest.mark.anyio
async def test_an_encoded_answer_is_decoded_by_httpx_s_decoders() -> None:
    async with server(gzipped) as (url, _), regate_client(url) as client:
        assert await json_api(client).call("GET", "results/7/") == {"count": 2}


@pytest.mark.anyio
@pytest.mark.parametrize(("creates", "error"), [(False, ProtocolError), (True, StartOutcomeUnknown)])
async def test_an_answer_that_cannot_be_decoded_is_a_protocol_error(
    creates: bool, error: type[Exception]
) -> None:
    def broken(head: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 7\r\n\r\nnot gz!"

    async with server(broken) as (url, _), regate_client(url) as client:
        with pytest.raises(error, match="could not be decoded"):
            await json_api(client).call("POST", "scenarios/run_scenarios/", body={}, creates=creates)


@pytest.mark.anyio
async def test_nothing_listening_is_could_not_connect() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        async with regate_client(f"http://127.0.0.1:{port}/") as client:
            with pytest.raises(TransientError, match=r"could not connect to 127\.0\.0\.1"):
                await json_api(client).call("POST", "scenarios/run_scenarios/", body={}, creates=True)


@pytest.mark.anyio
@pytest.mark.parametrize(("creates", "error"), [(False, TransientError), (True, StartOutcomeUnknown)])
async def test_an_answer_cut_short_or_missing_is_a_lost_connection(
    creates: bool, error: type[Exception]
) -> None:
    def cut(head: bytes) -> bytes:
        return b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"count": '

    async with server(cut, close=True) as (url, _), regate_client(url) as client:
        with pytest.raises(error, match=r"\(RemoteProtocolError\)"):
            await json_api(client).call("GET", "results/7/", creates=creates)
    async with server(lambda head: None) as (url, _), regate_client(url) as client:
        with pytest.raises(error, match=r"\(RemoteProtocolError\)"):
            await json_api(client).call("GET", "results/7/", creates=creates)


@pytest.mark.anyio
@pytest.mark.parametrize(("creates", "error"), [(False, TransientError), (True, StartOutcomeUnknown)])
async def test_an_answer_that_stalls_times_out(creates: bool, error: type[Exception]) -> None:
    def cut(head: bytes) -> bytes:
        return b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"count": '

    async with server(cut) as (url, _), regate_client(url, timeout=0.2) as client:
        with pytest.raises(error, match="timed out"):
            await json_api(client).call("GET", "results/7/", creates=creates)


@pytest.mark.anyio
async def test_a_429_is_rate_limited_with_its_retry_after() -> None:
    def limited(head: bytes) -> bytes:
        return b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\nContent-Length: 0\r\n\r\n"

    async with server(limited) as (url, _), regate_client(url) as client:
        with pytest.raises(RateLimited) as raised:
            await json_api(client).call("GET", "results/7/")
    assert raised.value.retry_after == 7.0


@pytest.mark.anyio
async def test_connections_are_kept_alive_on_the_lean_path() -> None:
    connections: list[int] = []

    def counting(head: bytes) -> bytes:
        return JSON_OK

    async with server(counting) as (url, seen), regate_client(url) as client:
        api = json_api(client)
        for _ in range(5):
            await api.call("GET", "results/7/")
        pool = client._transport._pool  # type: ignore[attr-defined]
        connections.extend(1 for _ in pool.connections)
    assert len(seen) == 5 and len(connections) == 1


@pytest.mark.anyio
async def test_an_https_platform_is_served_through_the_lean_path() -> None:
    if not PEM.exists():
        pytest.skip(f"{PEM} is missing")
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"tls": 1}'
    async with tls_server(answer) as port:
        url = f"https://127.0.0.1:{port}/test_framework/v1/"
        async with httpx.AsyncClient(base_url=url, verify=_trusting(), trust_env=False) as client:
            assert asyncio_sockets(client) and lean_pool(client, max_connections=2)
            api = json_api(client)
            assert api._lean_pool(httpx.URL(url)) is not None
            assert await api.call("GET", "results/7/") == {"tls": 1}
            connections = client._transport._pool.connections  # type: ignore[attr-defined]
            assert [type(c) for c in connections] == [Http11Connection]


@pytest.mark.anyio
async def test_an_untrusted_certificate_is_could_not_connect() -> None:
    if not PEM.exists():
        pytest.skip(f"{PEM} is missing")
    async with tls_server(b"") as port:
        url = f"https://127.0.0.1:{port}/"
        async with regate_client(url) as client:  # the system's trust store: the test key is not in it
            with pytest.raises(TransientError, match="could not connect"):
                await json_api(client).call("GET", "results/7/")
