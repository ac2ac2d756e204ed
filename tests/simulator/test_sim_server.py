"""The simulator on a real loopback socket (127.0.0.1 only), driven by a real httpx client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from runner.errors import SimulatorError, UsageError
from runner.simulator.app import SimApp
from runner.simulator.faults import parse_faults
from runner.simulator.server import EmbeddedSimulator, SimServer, is_loopback

HEADERS = {"X-CEKURA-API-KEY": "k"}
BODY = {"agent_id": 101, "scenarios": [201], "name": "over-tcp"}


@pytest.fixture
def serve(world, clock):
    """serve(faults) -> a started SimServer on 127.0.0.1:0 (stopped after the test)."""
    servers = []

    def start(faults=None, speed=1.0):
        app = SimApp(world, clock=clock, faults=parse_faults(faults))
        server = SimServer(app, "127.0.0.1", 0, speed=speed).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_serves_http_on_a_free_loopback_port(serve, clock):
    server = serve()
    assert server.base_url.startswith("http://127.0.0.1:") and not server.base_url.endswith(":0")
    with httpx.Client(base_url=server.base_url, headers=HEADERS) as client:
        start = client.post("/test_framework/v1/scenarios/run_scenarios/", json=BODY)
        assert start.status_code == 201
        clock.now = 10_000
        detail = client.get(f"/test_framework/v1/results/{start.json()['id']}")
        assert detail.status_code == 200 and detail.json()["status"] == "completed"
        assert client.get("/__sim/health").json() == {"status": "ok"}
        assert client.get("/test_framework/v1/results/").status_code == 200  # keep-alive connection reused
        empty = client.post(f"/test_framework/v1/results/{start.json()['id']}/end_calls/")
        assert (empty.status_code, empty.content) == (200, b"")


def test_429_has_retry_after_over_tcp(serve):
    server = serve("list:429=4@#1")
    with httpx.Client(base_url=server.base_url, headers=HEADERS) as client:
        response = client.get("/test_framework/v1/results/")
        assert response.status_code == 429 and response.headers["Retry-After"] == "4"
        assert client.get("/test_framework/v1/results/").status_code == 200


def test_reset_is_a_transport_error_and_drop_still_creates(serve):
    """A reset closes the socket without a response: the client sees a transport error, never a status.
    After 'drop' the start exists anyway."""
    server = serve("list:reset@#1;start:drop@#1")
    with httpx.Client(base_url=server.base_url, headers=HEADERS) as client:
        with pytest.raises(httpx.TransportError):
            client.get("/test_framework/v1/results/")
        with pytest.raises(httpx.TransportError):
            client.post("/test_framework/v1/scenarios/run_scenarios/", json=BODY)
        found = client.get("/test_framework/v1/results/", params={"search": "over-tcp"})
        assert found.status_code == 200 and found.json()["count"] == 1


def test_slow_response_is_divided_by_speed_and_trips_client_timeouts(serve):
    """slow=S waits S/speed real seconds: 30 simulated seconds at speed 100 take 0.3 s, beyond a 0.1 s
    read timeout."""
    server = serve("list:slow=30@#1", speed=100)
    with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/test_framework/v1/results/")
        assert client.get("/test_framework/v1/results/").status_code == 200


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - asserting it is refused
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_only_loopback_addresses_are_allowed(world, clock, host, ok):
    assert is_loopback(host) is ok
    if not ok:
        with pytest.raises(SimulatorError, match="non-loopback"):
            SimServer(SimApp(world, clock=clock), host)


def test_embedded_simulator_runs_a_scaled_clock():
    """EmbeddedSimulator serves the default world on 127.0.0.1 with the given faults and keys."""
    with EmbeddedSimulator(None, speed=50.0, seed=1, faults="results:503@#1", api_keys=["sekrit"]) as sim:
        with httpx.Client(base_url=sim.base_url) as client:
            assert client.get("/test_framework/v1/results/", headers=HEADERS).status_code == 401
            ok = client.get("/test_framework/v1/results/", headers={"X-CEKURA-API-KEY": "sekrit"})
            assert ok.status_code == 200
        assert sim.app.state.now() > 0


def test_embedded_simulator_rejects_bad_settings(tmp_path):
    with pytest.raises(UsageError):
        EmbeddedSimulator(faults="results:teapot")
    with pytest.raises(UsageError):
        EmbeddedSimulator(speed=0)
    with pytest.raises(SimulatorError):
        EmbeddedSimulator(world_path=str(tmp_path / "missing.yaml"))


def test_run_sim_prints_one_line_and_exits_0_on_signals():
    """`python -m runner.simulator` prints exactly 'regate sim listening on http://HOST:PORT', serves, and
    exits 0 on SIGINT and on SIGTERM."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner.simulator", "--port", "0", "--api-key", "sekrit"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().rstrip("\n")
            prefix = "regate sim listening on http://127.0.0.1:"
            assert line.startswith(prefix) and int(line[len(prefix) :]) > 0
            url = line.rsplit(" ", 1)[1]
            response = httpx.get(f"{url}/test_framework/v1/results/", headers={"X-CEKURA-API-KEY": "sekrit"})
            assert response.status_code == 200
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        assert out == "" and "sekrit" not in err
