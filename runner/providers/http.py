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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, cast

import anyio
import httpx

from runner.errors import (
    AuthError,
    ProtocolError,
    RateLimited,
    RequestRejected,
    StartOutcomeUnknown,
    TransientError,
)
from runner.retry import parse_retry_after
from runner.textclean import one_line

log = logging.getLogger("regate.http")

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
Describe = Callable[[Any], str]  # the decoded error body -> a short text
Route = Callable[[httpx.URL], httpx.AsyncBaseTransport]  # a URL -> the transport that serves it
IN_FLIGHT = 16  # requests handed to httpx at once, by default: the pool size ``open_providers`` sets
URL_CACHE = 4096  # URLs kept: two progress probes for each of 2,000 results in flight


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
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], httpx.URL] = {}
        self._secret = secret
        self._describe = describe
        self._auth_hint = auth_hint
        self._route = _direct_route(client)

    def _url(self, path: str, params: Mapping[str, str]) -> httpx.URL:
        """The absolute URL httpx would build for ``path`` and ``params``, kept for the next time: a
        result's progress probes ask the same URL all along, and parsing it was a tenth of a request's CPU."""
        key = (path, tuple(params.items()))
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= URL_CACHE:
                self._urls.clear()
            url = self._urls[key] = self.client.build_request("GET", path, params=params).url
        return url

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the whole answer (see the module docstring)."""
        if self._route is None or self.client.is_closed:  # a closed client raises its own error
            return await self.client.send(request, follow_redirects=False)
        response = await self._route(request.url).handle_async_request(request)
        response.request = request
        try:
            await response.aread()  # reads to the end, then hands the connection back to the pool
        except BaseException:
            await response.aclose()
            raise
        return response

    def _rejection(self, response: httpx.Response) -> str:
        try:
            text = self._describe(response.json())
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
                if method == "GET" and params:
                    request = self.client.build_request(method, self._url(path, params))
                else:
                    request = self.client.build_request(method, path, json=body, params=params)
                response = await self._send(request)
        except _NOT_SENT as exc:
            where = self.client.base_url.netloc.decode("ascii", "replace")
            raise TransientError(f"{what}: could not connect to {where} ({type(exc).__name__})") from exc
        except httpx.TimeoutException as exc:
            if creates:
                raise StartOutcomeUnknown(f"{what}: timed out waiting for the answer") from exc
            raise TransientError(f"{what}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            if creates:
                raise StartOutcomeUnknown(f"{what}: connection lost ({type(exc).__name__})") from exc
            raise TransientError(f"{what}: connection failed ({type(exc).__name__})") from exc
        status = response.status_code
        log.debug("%s -> %d", what, status)
        if 200 <= status < 300:
            if not response.content.strip():
                return {}
            try:
                return response.json()
            except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
                if creates:  # it was processed, but we cannot tell what it created
                    raise StartOutcomeUnknown(
                        f"{what}: answered {status} with a body that is not JSON"
                    ) from exc
                raise ProtocolError(f"{what}: answered {status} with a body that is not JSON") from exc
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
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
