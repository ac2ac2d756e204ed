"""Provider registry: builds one adapter per configured platform, starting the embedded simulator if asked.

``open_providers`` is the only place that creates HTTP clients, so pool limits, timeouts and the
no-redirect rule are set once (design.md §7): each adapter hands httpx at most as many requests at once
as the pool has connections (``JsonApi``), so no request ever queues into a PoolTimeout. When several
providers use ``base_url: simulator`` they share one embedded simulator, which serves every platform's
API.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from runner.providers.base import Provider, StartedResult
from runner.providers.cekura import CekuraProvider
from runner.providers.freeplay import FreeplayProvider
from runner.providers.http import IN_FLIGHT
from runner.providers.pool import install as lean_pool
from runner.providers.sockets import install as asyncio_sockets
from runner.settings import SIMULATOR, Config, FreeplayGate

__all__ = ["Provider", "StartedResult", "open_providers"]


def _quiet_http_loggers() -> None:
    # httpx logs every request URL at INFO; our own debug lines say what is needed without headers.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


# Per provider. 16 connections carry the default ceiling of 50 requests/s at up to 320 ms a request, and
# bound the answers parsed at once. (On httpcore's own pool each connection kept also cost CPU on every
# request; ``pool.LeanPool`` checks only the one it hands out.)
MAX_CONNECTIONS = IN_FLIGHT


@asynccontextmanager
async def open_providers(config: Config) -> AsyncIterator[Mapping[str, Provider]]:
    _quiet_http_loggers()
    platforms = [p for p in (config.cekura, config.freeplay) if p is not None]
    async with AsyncExitStack() as stack:
        sim_url: str | None = None
        if any(p.base_url == SIMULATOR for p in platforms):
            from runner.simulator.server import EmbeddedSimulator

            sim = EmbeddedSimulator(
                world_path=config.simulator.world,
                speed=config.simulator.speed,
                seed=config.simulator.seed,
                faults=config.simulator.faults,
                api_keys=[p.api_key.reveal() for p in platforms if p.base_url == SIMULATOR],
            )
            stack.enter_context(sim)
            sim_url = sim.base_url
        d = config.defaults
        # Each gate in flight makes one request at a time, except while its target's test cases are
        # recorded in parallel: size the pool for that, so requests never queue into a PoolTimeout; but a
        # thousand gates share at most MAX_CONNECTIONS (their requests are short and rate-limited anyway, and
        # each answer in flight is a result's whole JSON being parsed: fewer at once, less memory).
        per_gate = max([1] + [g.target_concurrency for g in config.gates if isinstance(g, FreeplayGate)])
        connections = min(d.concurrency * per_gate + 4, MAX_CONNECTIONS)

        def client(base_url: str) -> httpx.AsyncClient:
            local = base_url == SIMULATOR
            made = httpx.AsyncClient(
                base_url=sim_url if local and sim_url else base_url,
                timeout=httpx.Timeout(d.request_timeout, connect=min(10.0, d.request_timeout)),
                limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
                follow_redirects=False,
                # Proxy variables are honoured for real platforms, never for the local simulator.
                trust_env=not local,
            )
            asyncio_sockets(made)  # first: the lean pool makes its connections on the pool's network backend
            lean_pool(made, max_connections=connections)
            return made

        providers: dict[str, Provider] = {}
        if config.cekura is not None:
            providers["cekura"] = CekuraProvider(
                client(config.cekura.base_url),
                config.cekura.api_key,
                key_source=config.cekura.api_key_source,
                in_flight=connections,
            )
        if config.freeplay is not None:
            providers["freeplay"] = FreeplayProvider(
                client(config.freeplay.base_url), config.freeplay.api_key, in_flight=connections
            )
        for provider in providers.values():
            stack.push_async_callback(provider.aclose)
        yield providers
