"""Fixtures for the simulator tests: a hand-driven clock, the default world, an app and a tiny client."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from runner.simulator.app import SimApp, SimRequest, SimResponse
from runner.simulator.faults import parse_faults
from runner.simulator.world import World, load_world

KEY = "sim-test-key-0001"


class FakeClock:
    """Simulated seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """Calls ``SimApp.handle`` directly, with a valid API key and JSON bodies by default."""

    def __init__(self, app: SimApp) -> None:
        self.app = app

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Sequence[str] | str] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> SimResponse:
        hdrs = {"x-cekura-api-key": KEY, "content-type": "application/json", "host": "sim.test"}
        hdrs.update(headers or {})
        q = {k: [v] if isinstance(v, str) else list(v) for k, v in (query or {}).items()}
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return self.app.handle(SimRequest(method, path, q, {k: v for k, v in hdrs.items() if v}, payload))

    def get(self, path: str, **kw: Any) -> SimResponse:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> SimResponse:
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> SimResponse:
        return self.call("PATCH", path, body, **kw)

    def start(self, endpoint: str = "run_scenarios", body: Any = None, **kw: Any) -> SimResponse:
        return self.post(f"/test_framework/v1/scenarios/{endpoint}/", body, **kw)

    def result(self, result_id: int) -> dict[str, Any]:
        response = self.get(f"/test_framework/v1/results/{result_id}/")
        assert response.status == 200, response.body
        data: dict[str, Any] = response.json()
        return data


@pytest.fixture(scope="session")
def world() -> World:
    return load_world(None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_app(world: World, clock: FakeClock) -> Any:
    """``make_app(seed=0, faults=None, **kw)`` -> an Api over a fresh SimApp on the fake clock."""

    def make(seed: int = 0, faults: str | None = None, *, app_world: World | None = None, **kw: Any) -> Api:
        app = SimApp(app_world or world, clock=clock, seed=seed, faults=parse_faults(faults), **kw)
        return Api(app)

    return make


@pytest.fixture
def api(make_app: Any) -> Api:
    result: Api = make_app()
    return result
