"""A faithful local implementation of the Cekura and Freeplay APIs (api-contracts Parts A and B), for tests
and demos. One app and one server serve both: Cekura under ``/test_framework/...``, Freeplay under
``/api/v2/...``, sharing the clock, seed, API keys, request counts and fault injector.

Layers, each usable on its own:

    world.py      load_world(): agents, scenarios, metrics, quality, timing (YAML; a default ships here)
    outcomes.py   deterministic draw of each run's outcome from what the run is (seed, agent, scenario, ...)
    freeplay_*.py the Freeplay side: world section, evaluations, state, JSON views, routes
    state.py      SimState: pure lifecycle state machine over an injected clock
    modes.py      per-mode start-body validation and run-count expansion (json_spec.py: run_scenarios_json)
    views.py      JSON shapes of results, runs and test sets
    faults.py     fault spec grammar and deterministic injection
    app.py        SimApp.handle(SimRequest) -> SimResponse: routing, auth, faults, stats
    transport.py  mock_transport(app): httpx in-process transport
    server.py     SimServer (loopback HTTP), EmbeddedSimulator, run_sim (``regate sim``)
"""

from runner.simulator.app import SimApp, SimRequest, SimResponse
from runner.simulator.faults import FaultPlan, parse_faults
from runner.simulator.server import EmbeddedSimulator, SimServer, run_sim
from runner.simulator.transport import mock_transport
from runner.simulator.world import World, load_world

__all__ = [
    "EmbeddedSimulator",
    "FaultPlan",
    "SimApp",
    "SimRequest",
    "SimResponse",
    "SimServer",
    "World",
    "load_world",
    "mock_transport",
    "parse_faults",
    "run_sim",
]
