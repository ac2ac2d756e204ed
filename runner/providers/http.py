"""One JSON call over httpx, with the error mapping every platform adapter shares (design.md §7).

- Redirects are never followed: httpx would carry custom auth headers to another origin.
- Any 2xx is success; an empty body is ``{}``; a body that is not JSON is a ProtocolError.
- 401/403 → AuthError (never retried); 429 → RateLimited and 408/5xx/transport failures → TransientError,
  both with the server's ``Retry-After``; other 3xx/4xx → RequestRejected (retrying cannot help).
- ``creates=True`` marks a POST that creates billed or duplicated work: only failures proving it was not
  processed (could not connect, 408, 429) stay retryable; the rest become ``StartOutcomeUnknown``.
- The platform's error text is summarised by a per-platform function and the API key is masked in it:
  some servers echo the credential they refused, and this text reaches logs and reports.
- At most ``in_flight`` requests are handed to httpx at once (the pool's size), the others wait here in
  FIFO order: httpcore's pool (still the one behind a proxy, see ``pool``) scans its whole queue on every
  request it assigns, so a thousand gates queued there cost quadratic CPU (measured: a third of the
  runner's CPU at 1,000 gates).
- A request goes straight to the transport httpx chose for its URL (the default one, or a proxy's from the
  proxy variables), past the client's auth, redirect and cookie layers, which regate never uses: no auth
  object (the key is a header), no redirect followed, no cookie sent (the APIs authenticate by key). Those
  layers were a sixth to a fifth of the Python function calls per request; the cookie jar alone parses
  every response's headers into an ``email.message.Message``. httpx picks that transport in a private method
  (``_transport_for_url``); without it, or on a client with auth, event hooks or a closed one,
  requests take ``client.send`` as before.
- Where that transport is httpx's default one on a ``pool.LeanPool`` (regate's clients, without a proxy),
  the request skips httpx's request and response objects too: it is handed to the pool as the httpcore
  request httpx would have made (same line, same headers in the same order, same JSON bytes: a test
  compares them on the wire), and the answer is read straight from the pool; only an encoded answer
  (``Content-Encoding``) goes through httpx's decoders. That was a third of the CPU left per request
  (loopback microbenchmark: 0.40 -> 0.27 ms).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import anyio
import httpcore
import httpx

from runner.errors import (
    AuthError,
    ProtocolError,
    RateLimited,
    RequestRejected,
    StartOutcomeUnknown,
    TransientError,
)
from runner.providers.pool import LeanPool
from runner.retry import parse_retry_after
from runner.textclean import one_line

log = logging.getLogger("regate.http")

# httpx's exceptions from its own path, httpcore's from the lean one (httpx maps the one to the other)
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpcore.ConnectError,
    httpcore.ConnectTimeout,
    httpcore.PoolTimeout,
)
_TIMEOUT = (httpx.TimeoutException, httpcore.TimeoutException)
_TRANSPORT = (
    httpx.TransportError,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)
_BODY_METHODS = ("POST", "PUT", "PATCH")  # httpx sends Content-Length: 0 when these have no body
Describe = Callable[[Any], str]  # the decoded error body -> a short text
Route = Callable[[httpx.URL], httpx.AsyncBaseTransport]  # a URL -> the transport that serves it
IN_FLIGHT = 16  # requests handed to httpx at once, by default: the pool size ``open_providers`` sets
URL_CACHE = 4096  # URLs kept: two progress probes for each of 2,000 results in flight
# A path httpx sends as it is (see ``JsonApi._plain``): no percent-encoding, no dot segment to remove, no
# "//" starting another host.
_PLAIN_PATH = re.compile(r"(?!//)[A-Za-z0-9_~/-]*")
# A query key or value httpx writes as it is but for its commas (``%2C``, as ``urlencode`` writes them).
_PLAIN_PARAM = re.compile(r"[A-Za-z0-9_.~,-]*")


def _direct_route(client: httpx.AsyncClient) -> Route | None:
    """httpx's own choice of transport for a URL, when sending there directly skips nothing the client
    was configured to do; None: send through the client."""
    route = getattr(client, "_transport_for_url", None)
    if not callable(route):
        log.debug("httpx has no _transport_for_url: requests go through client.send (slower)")
        return None
    if client.auth is not None or client.base_url.userinfo or any(client.event_hooks.values()):
        return None
    return cast(Route, route)


@dataclass(frozen=True, slots=True)
class Answer:
    """What ``JsonApi`` reads of an HTTP answer: its status, raw headers and whole decoded body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    content: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode("ascii")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None


@dataclass(frozen=True, slots=True)
class _Target:
    """A URL as httpcore takes it, and where httpx routes it."""

    url: httpx.URL  # the URL as httpx builds it, or one of the same origin (httpx routes by origin)
    core: httpcore.URL
    host: bytes  # the Host header httpx sends for it

    @classmethod
    def of(cls, url: httpx.URL) -> _Target:
        core = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)
        return cls(url, core, url.netloc)


class JsonApi:
    """An authenticated JSON API: ``call`` makes exactly one request and maps every failure."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        headers: Mapping[str, str],
        secret: str,
        describe: Describe,
        auth_hint: str,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self.client = client
        # On the client, not on each request: httpx merges per-request headers into a new copy every time.
        client.headers.update(headers)
        self._in_flight = in_flight
        self._slots: anyio.Semaphore | None = None  # made on first use, inside the event loop
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], _Target] = {}
        self._base: _Target | None = None  # the client's base URL, for ``_plain``
        self._secret = secret
        self._describe = describe
        self._auth_hint = auth_hint
        self._route = _direct_route(client)

    def _url(self, path: str, params: Mapping[str, str]) -> _Target:
        """The absolute URL httpx would build for ``path`` and ``params``, kept for the next time: a
        result's progress probes ask the same URL all along, and parsing it was a tenth of a request's CPU."""
        key = (path, tuple(params.items()))
        target = self._urls.get(key)
        if target is None:
            if len(self._urls) >= URL_CACHE:
                self._urls.clear()
            found = self._plain(path, params)
            if found is None:
                found = _Target.of(self.client.build_request("GET", path, params=params).url)
            target = self._urls[key] = found
        return target

    def _plain(self, path: str, params: Mapping[str, str] | None = None) -> _Target | None:
        """``path`` joined to the base URL as httpx joins them (``_merge_url``: the base's path, then the
        path without its leading slashes), without parsing a URL, where httpx would send the path as it
        is: a relative path of letters, digits, ``_``, ``~``, ``-`` and ``/``, not ``//host``, on a base
        without a query; ``params`` likewise, where each key and value is made of letters, digits,
        ``_ . ~ -`` and commas. Parsing URLs was most of the CPU of a result's detail read, start and share
        link, each a new path, and of each result's first two progress probes. None: build it with httpx."""
        if not _PLAIN_PATH.fullmatch(path):
            return None
        query = b""
        if params:
            pairs = []
            for name, value in params.items():
                if not (type(name) is type(value) is str and _PLAIN_PARAM.fullmatch(name + value)):
                    return None
                pairs.append(f"{name}={value}".replace(",", "%2C"))
            query = b"?" + "&".join(pairs).encode("ascii")
        base = self._base
        if base is None or base.url is not self.client.base_url:
            base = self._base = _Target.of(self.client.base_url)
        if base.url.query or base.url.fragment:
            return None
        core = base.core
        joined = core.target + path.lstrip("/").encode("ascii") + query
        url = httpcore.URL(scheme=core.scheme, host=core.host, port=core.port, target=joined)
        return _Target(base.url, url, base.host)

    def _lean_pool(self, url: httpx.URL) -> LeanPool | None:
        """The lean pool behind the transport httpx chose for ``url``, if requests may go straight to it
        (see the module docstring)."""
        if self._route is None or self.client.is_closed:  # a closed client raises its own error
            return None
        transport = self._route(url)
        pool = getattr(transport, "_pool", None) if type(transport) is httpx.AsyncHTTPTransport else None
        return pool if isinstance(pool, LeanPool) else None

    async def _send(self, method: str, path: str, body: object, params: Mapping[str, str] | None) -> Answer:
        """Send the request and read the whole answer (see the module docstring)."""
        if method == "GET" and params:
            target = self._url(path, params)  # a probe's: the same URL all along, kept
        else:
            target = self._plain(path, params) or _Target.of(
                self.client.build_request(method, path, params=params).url
            )
        pool = self._lean_pool(target.url)
        if pool is not None:
            return await self._send_lean(pool, method, target, body)
        request = self.client.build_request(method, path, params=params, json=body)
        if self._route is None or self.client.is_closed:
            response = await self.client.send(request, follow_redirects=False)
            return Answer(response.status_code, response.headers.raw, response.content)
        response = await self._route(request.url).handle_async_request(request)
        response.request = request
        try:
            await response.aread()  # reads to the end, then hands the connection back to the pool
        except BaseException:
            await response.aclose()
            raise
        return Answer(response.status_code, response.headers.raw, response.content)

    async def _send_lean(self, pool: LeanPool, method: str, target: _Target, body: object) -> Answer:
        """The request httpx would send, handed to its pool as httpcore's request (see the docstring)."""
        headers = [(b"Host", target.host)]
        content = b""
        if body is not None:  # as httpx encodes ``json=``
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            headers += self.client.headers.raw
            headers.append((b"Content-Length", str(len(content)).encode()))
            headers.append((b"Content-Type", b"application/json"))
        else:
            if method in _BODY_METHODS:
                headers.append((b"Content-Length", b"0"))
            headers += self.client.headers.raw
        request = httpcore.Request(
            method.encode("ascii"),
            target.core,
            content=content,
            extensions={"timeout": self.client.timeout.as_dict()},
        )
        request.headers = headers  # bytes pairs already (httpx's own): not checked one by one again
        response = await pool.handle_async_request(request)
        try:
            raw = b"".join([part async for part in response.stream])  # type: ignore[union-attr]
        finally:
            await response.aclose()
        encoded = any(key.lower() == b"content-encoding" for key, _ in response.headers)
        if encoded:  # httpx's decoders (gzip, deflate, and brotli or zstd where installed) and its errors
            decoded = httpx.Response(response.status, headers=response.headers, stream=httpx.ByteStream(raw))
            raw = await decoded.aread()
        return Answer(response.status, response.headers, raw)

    def _rejection(self, response: Answer) -> str:
        try:
            text = self._describe(json.loads(response.content))
        except (ValueError, RecursionError):
            return ""
        if self._secret:
            text = text.replace(self._secret, "***")
        return one_line(text, 300)

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: Mapping[str, str] | None = None,
        creates: bool = False,
    ) -> Any:
        what = f"{method} {path}"
        if self._slots is None:
            # fast_acquire: a free slot is taken without a trip through the event loop (one per request).
            self._slots = anyio.Semaphore(self._in_flight, fast_acquire=True)
        try:
            async with self._slots:
                response = await self._send(method, path, body, params)
        except _NOT_SENT as exc:
            where = self.client.base_url.netloc.decode("ascii", "replace")
            raise TransientError(f"{what}: could not connect to {where} ({type(exc).__name__})") from exc
        except _TIMEOUT as exc:
            if creates:
                raise StartOutcomeUnknown(f"{what}: timed out waiting for the answer") from exc
            raise TransientError(f"{what}: timed out ({type(exc).__name__})") from exc
        except httpx.DecodingError as exc:  # a Content-Encoding it does not hold to
            if creates:
                raise StartOutcomeUnknown(f"{what}: the answer could not be decoded") from exc
            raise ProtocolError(f"{what}: the answer could not be decoded ({type(exc).__name__})") from exc
        except _TRANSPORT as exc:
            if creates:
                raise StartOutcomeUnknown(f"{what}: connection lost ({type(exc).__name__})") from exc
            raise TransientError(f"{what}: connection failed ({type(exc).__name__})") from exc
        status = response.status
        log.debug("%s -> %d", what, status)
        if 200 <= status < 300:
            content = response.content
            if not content or content.isspace():  # not strip(): that copies a result's 440 KB to test it
                return {}
            try:
                return json.loads(content)
            except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
                if creates:  # it was processed, but we cannot tell what it created
                    raise StartOutcomeUnknown(
                        f"{what}: answered {status} with a body that is not JSON"
                    ) from exc
                raise ProtocolError(f"{what}: answered {status} with a body that is not JSON") from exc
        retry_after = parse_retry_after(response.header("Retry-After"))
        if status in (401, 403):
            raise AuthError(
                f"{what}: {status} {self._rejection(response) or 'not authorised'}", hint=self._auth_hint
            )
        if status == 429:
            raise RateLimited(f"{what}: 429 rate limited", retry_after=retry_after)
        if status == 408:
            raise TransientError(f"{what}: 408 request timeout", retry_after=retry_after)
        if status >= 500:
            if creates:
                raise StartOutcomeUnknown(f"{what}: {status} server error")
            raise TransientError(f"{what}: {status} server error", retry_after=retry_after)
        if 300 <= status < 400:
            raise RequestRejected(
                f"{what}: unexpected redirect ({status}); regate does not follow redirects with the API key",
                hint="check the provider's base_url (scheme, host and path)",
            )
        raise RequestRejected(f"{what}: {status} {self._rejection(response)}".rstrip(), status=status)
