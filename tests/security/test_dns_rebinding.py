"""A server on a loopback address answers to the loopback names only: a web page that
points a name of its own at 127.0.0.1 (DNS rebinding) reaches neither the control plane
(where the demo's login is published) nor the simulator's admin routes, which take none."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from smsfleet.core.hosts import loopback_hosts
from smsfleet.core.settings import Settings
from smsfleet.simulator.app import create_simulator_app
from smsfleet.simulator.config import SimulatorConfig
from smsfleet.simulator.server import listening_on
from tests.support.api import running_api

FOREIGN = "rebind.attacker.example"
LOGIN = {"username": "admin", "password": "admin-password-for-tests"}


def test_a_control_plane_on_a_loopback_address_answers_to_the_loopback_names_only(
    tmp_path: Path,
) -> None:
    allowed = Settings(data_dir=tmp_path).listening_on("127.0.0.1", 8000).allowed_hosts
    assert allowed == ["127.0.0.1", "::1", "localhost"]
    with running_api(tmp_path, allowed_hosts=allowed) as api:
        for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"):
            assert api.client.get("/healthz", headers={"host": host}).status_code == 200, host
        for host in (FOREIGN, f"{FOREIGN}:8000", "127.0.0.1.attacker.example", ""):
            refused = api.client.post("/api/v1/auth/login", json=LOGIN, headers={"host": host})
            assert refused.status_code == 400, host
            assert refused.json()["error"]["code"] == "host_not_allowed"
            assert refused.headers["cache-control"] == "no-store"
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            api.client.websocket_connect("/api/v1/ws", headers={"host": FOREIGN}),
        ):
            pass
        assert closed.value.code == 1008


def test_every_address_or_a_public_url_is_answered_as_configured(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    # Listening on every address, the names it is reached by are not known: any.
    assert settings.listening_on("0.0.0.0", 8000).allowed_hosts == []  # noqa: S104
    # The name programs are told is answered too; a list given is kept as it is.
    public = settings.model_copy(update={"public_url": "http://fleet.internal:8000"})
    assert public.listening_on("127.0.0.1", 8000).allowed_hosts == [
        "127.0.0.1",
        "::1",
        "fleet.internal",
        "localhost",
    ]
    given = Settings(data_dir=tmp_path, allowed_hosts="Fleet.Example.org:443, [::1]")
    assert given.allowed_hosts == ["fleet.example.org", "::1"]
    assert given.listening_on("127.0.0.1", 8000).allowed_hosts == given.allowed_hosts


def test_the_simulators_admin_routes_answer_to_the_loopback_names_only() -> None:
    app = listening_on("127.0.0.1", create_simulator_app(SimulatorConfig()))
    with TestClient(app) as client:
        assert client.get("/healthz", headers={"host": "127.0.0.1:8100"}).status_code == 200
        refused = client.get("/admin/routes", headers={"host": FOREIGN})
        assert refused.status_code == 400
    assert loopback_hosts("127.0.0.1") == ["127.0.0.1", "::1", "localhost"]


# Hosts no two readers could be trusted to read alike: two of them, or one not well formed
# (a name allowed before the colon, another after it).
TWO = [("host", "127.0.0.1"), ("host", FOREIGN)]
MALFORMED = [
    [("host", f"localhost:8000@{FOREIGN}")],
    [("host", "127.0.0.1:http")],
    [("host", f"127.0.0.1:8000/{FOREIGN}")],
    [("host", "localhost:8000:8000")],
    [("host", "127.0.0.1:99999999999")],  # no port is that large
    [("host", "127.0.0.1:65536")],
]


@pytest.mark.parametrize("headers", [TWO, *MALFORMED])
def test_a_request_with_two_host_headers_or_one_malformed_is_refused_whatever_the_names(
    tmp_path: Path, headers: list[tuple[str, str]]
) -> None:
    """The host check and the page's content policy must read the same Host: with two, a
    name allowed first and another read after would get a policy for the other."""
    for allowed in (["127.0.0.1", "::1", "localhost"], []):  # loopback, every address
        (tmp_path / str(len(allowed))).mkdir()
        with running_api(tmp_path / str(len(allowed)), allowed_hosts=allowed) as api:
            assert api.client.get("/healthz", headers={"host": "127.0.0.1"}).status_code == 200
            refused = api.client.get("/", headers=headers)
            assert refused.status_code == 400, allowed
            assert refused.json()["error"]["code"] == "host_not_allowed"
            assert FOREIGN not in refused.headers.get("content-security-policy", "")
    app = listening_on("127.0.0.1", create_simulator_app(SimulatorConfig()))
    with TestClient(app) as client:
        assert client.get("/admin/routes", headers=headers).status_code == 400
