"""An in-process transport for tests: an httpx client talks to a ``SimApp`` without sockets.

``reset`` and ``reset_after_processing`` surface as ``httpx.ReadError`` (what a real reset connection gives),
after the app has (or has not) processed the request; ``cut`` (a response broken off half-way) as
``httpx.RemoteProtocolError``, what httpx raises for an incomplete body. ``delay`` is ignored here: the
app's clock is independent of wall time, and tests must not sleep. Pools, timeouts and real disconnects
need the loopback ``SimServer`` instead.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx

from runner.simulator.app import SimApp
from runner.simulator.wire import SimRequest


def to_sim_request(request: httpx.Request) -> SimRequest:
    headers: dict[str, str] = {}
    for name, value in request.headers.multi_items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    query = parse_qs(request.url.query.decode("ascii", "replace"), keep_blank_values=True)
    return SimRequest(request.method, request.url.path, query, headers, request.read())


def mock_transport(app: SimApp) -> httpx.MockTransport:
    """An httpx transport (sync and async clients alike) answering from ``app``."""

    def handler(request: httpx.Request) -> httpx.Response:
        response = app.handle(to_sim_request(request))
        if response.reset or response.reset_after_processing:
            raise httpx.ReadError("connection reset by peer (simulated)", request=request)
        if response.cut:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body (simulated)", request=request
            )
        return httpx.Response(response.status, headers=list(response.headers), content=response.body)

    return httpx.MockTransport(handler)
