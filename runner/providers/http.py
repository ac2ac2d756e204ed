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
  FIFO order: httpcore's pool scans its whole queue on every request it assigns, so a thousand gates
  queued there cost quadratic CPU (measured: a third of the runner's CPU at 1,000 gates).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

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
IN_FLIGHT = 16  # requests handed to httpx at once, by default: the pool size ``open_providers`` sets
URL_CACHE = 4096  # URLs kept: two progress probes for each of 2,000 results in flight


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
            self._slots = anyio.Semaphore(self._in_flight)
        try:
            async with self._slots:
                if method == "GET" and params:
                    url = self._url(path, params)
                    response = await self.client.request(method, url, follow_redirects=False)
                else:
                    response = await self.client.request(
                        method, path, json=body, params=params, follow_redirects=False
                    )
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
