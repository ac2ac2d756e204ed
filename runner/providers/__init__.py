"""Provider registry: builds one adapter per configured platform, starting the embedded simulator if asked.

``open_providers`` is the only place that creates HTTP clients, so pool limits, timeouts and the
no-redirect rule are set once (design.md §7): the pool has more connections than the orchestrator's
CapacityLimiter has tokens, so no request ever queues into a PoolTimeout.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from runner.providers.base import Provider, StartedResult
from runner.providers.cekura import CekuraProvider
from runner.settings import Config

__all__ = ["Provider", "StartedResult", "open_providers"]


def _quiet_http_loggers() -> None:
    # httpx logs every request URL at INFO; our own debug lines say what is needed without headers.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


@asynccontextmanager
async def open_providers(config: Config) -> AsyncIterator[Mapping[str, Provider]]:
    _quiet_http_loggers()
    async with AsyncExitStack() as stack:
        providers: dict[str, Provider] = {}
        if config.cekura is not None:
            base_url = config.cekura.base_url
            # Proxy variables are honoured for real platforms, never for the local simulator.
            trust_env = True
            if config.cekura.is_simulator:
                trust_env = False
                from runner.simulator.server import EmbeddedSimulator

                sim = EmbeddedSimulator(
                    world_path=config.simulator.world,
                    speed=config.simulator.speed,
                    seed=config.simulator.seed,
                    faults=config.simulator.faults,
                    api_keys=[config.cekura.api_key.reveal()],
                )
                stack.enter_context(sim)
                base_url = sim.base_url
            d = config.defaults
            client = httpx.AsyncClient(
                base_url=base_url,
                timeout=httpx.Timeout(d.request_timeout, connect=min(10.0, d.request_timeout)),
                limits=httpx.Limits(
                    max_connections=d.concurrency + 4, max_keepalive_connections=d.concurrency
                ),
                follow_redirects=False,
                trust_env=trust_env,
            )
            provider = CekuraProvider(client, config.cekura.api_key)
            stack.push_async_callback(provider.aclose)
            providers["cekura"] = provider
        yield providers
