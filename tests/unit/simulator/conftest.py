"""Fixtures for simulator unit tests: a fake clock, a seeded RNG and an app factory."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from smsfleet.simulator import SimulatorConfig, create_simulator_app
from smsfleet.simulator._engine import Simulator
from smsfleet.simulator.config import parse_config
from tests.support.simulator import FakeClock, MakeClient, MakeSimulator, Reliable, SendSms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[MakeClient]:
    """Build a client for a config given as a TOML-shaped dict (or a SimulatorConfig)."""
    clients: list[TestClient] = []

    def make(config: dict[str, Any] | SimulatorConfig | None = None, seed: int = 7) -> TestClient:
        if not isinstance(config, SimulatorConfig):
            config = parse_config(config or {})
        app = create_simulator_app(config, clock=clock, rng=random.Random(seed))
        client = TestClient(app)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def make_simulator(clock: FakeClock) -> MakeSimulator:
    """The engine without HTTP, for tests that need thousands of triggers."""

    def make(config: dict[str, Any] | None = None, seed: int = 7) -> Simulator:
        return Simulator(parse_config(config or {}), clock=clock, rng=random.Random(seed))

    return make


def _send(
    client: TestClient,
    *,
    provider: str = "provider1",
    route: str = "UZ_uzmobile",
    phone: str = "+998991234567",
    trigger_id: str | None = None,
) -> Response:
    body: dict[str, Any] = {"phone": phone, "route": route}
    if trigger_id is not None:
        body["trigger_id"] = trigger_id
    return client.post(f"/providers/{provider}/send", json=body)


def _reliable(**route: Any) -> dict[str, Any]:
    """A config whose default route always delivers after exactly 5 s, then `route` on top."""
    defaults: dict[str, Any] = {
        "delivery_probability": 1.0,
        "send_error_rate": 0.0,
        "latency": {"distribution": "fixed", "median_seconds": 5.0},
        "give_up_after_seconds": 60.0,
    }
    defaults.update(route)
    return {"defaults": defaults}


@pytest.fixture
def send_sms() -> SendSms:
    """POST /providers/{provider}/send with demo defaults for anything not given."""
    return _send


@pytest.fixture
def reliable() -> Reliable:
    """Config builder: every SMS delivered after exactly 5 s unless overridden."""
    return _reliable
