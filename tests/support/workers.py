"""A session's program as the control plane's worker API sees it: leases and reports made
with the session's own worker token, so browser tests can record attempts exactly as
programs do."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.tokens import issued_token_in

if TYPE_CHECKING:  # tests.support.e2e uses the workers
    from tests.support.e2e import ControlPlane

__all__ = ["Worker", "worker_for"]


@dataclass
class Worker:
    """Leases and reports for one session with its worker token, as its program would."""

    client: httpx.Client
    session: str
    token: str

    def lease(self) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            response = self.client.post(
                "/api/v1/worker/lease",
                json={"session": self.session},
                headers={"Authorization": f"Bearer {self.token}"},
            )
            assert response.status_code == 200, response.text
            action: dict[str, Any] = response.json()
            if action["action"] == "send":
                return action
            assert action["action"] == "wait", action
            time.sleep(min(float(action["retry_after"]), 0.5))
        pytest.fail(f"{self.session} got no send lease within 10 s")

    def report(
        self,
        trigger_id: str,
        outcome: str,
        latency_ms: int | None = None,
        *,
        error_code: str = "E_TEST",
    ) -> None:
        sent_at = datetime.now(UTC) - timedelta(seconds=10)
        body: dict[str, Any] = {
            "trigger_id": trigger_id,
            "session": self.session,
            "outcome": outcome,
            "sent_at": sent_at.isoformat(),
            "provider": "loopback",
        }
        if latency_ms is not None:
            body["delivered_at"] = (sent_at + timedelta(milliseconds=latency_ms)).isoformat()
        if outcome in {"send_failed", "error"}:
            body["error_code"] = error_code
        response = self.client.post(
            "/api/v1/worker/report", json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "recorded"

    def attempt(self, outcome: str, latency_ms: int | None = None) -> None:
        self.report(self.lease()["trigger_id"], outcome, latency_ms)


def worker_for(control_plane: ControlPlane, client: httpx.Client, session: str) -> Worker:
    """The worker of `session` on `client` (any client on the control plane, no login)."""
    secret = (control_plane.data_dir / "secret_key").read_text().strip()
    token = issued_token_in(control_plane.data_dir, secret=secret, session=session)
    return Worker(client, session, token)
