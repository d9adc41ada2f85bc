"""The simulator unit tests' clock and the types of their fixtures
(tests/unit/simulator/conftest.py)."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi.testclient import TestClient
from httpx2 import Response

from smsfleet.simulator import SimulatorConfig
from smsfleet.simulator._engine import Simulator

START = 1_700_000_000.0


class FakeClock:
    """The simulator's clock: seconds since the epoch, moved by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MakeClient(Protocol):
    """`make_client(config, seed)`: a client of a simulator on the test's clock."""

    def __call__(
        self, config: dict[str, Any] | SimulatorConfig | None = None, seed: int = 7
    ) -> TestClient: ...


class MakeSimulator(Protocol):
    """`make_simulator(config, seed)`: the engine without HTTP, on the test's clock."""

    def __call__(self, config: dict[str, Any] | None = None, seed: int = 7) -> Simulator: ...


class SendSms(Protocol):
    """`send_sms(client, ...)`: POST /providers/{provider}/send, demo defaults for the rest."""

    def __call__(
        self,
        client: TestClient,
        *,
        provider: str = "provider1",
        route: str = "UZ_uzmobile",
        phone: str = "+998991234567",
        trigger_id: str | None = None,
    ) -> Response: ...


class Reliable(Protocol):
    """`reliable(**route)`: a config whose default route always delivers after 5 s."""

    def __call__(self, **route: Any) -> dict[str, Any]: ...
