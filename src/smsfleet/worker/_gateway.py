"""The SMS gateway that tells what a test phone received for a trigger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote

import httpx

DeliveryState = Literal["pending", "delivered", "not_delivered"]


class GatewayError(Exception):
    """The gateway answered that it cannot tell (e.g. it never saw the trigger)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Delivery:
    status: DeliveryState
    code: str | None = None
    delivered_at: datetime | None = None


class Gateway:
    """`GET /gateway/messages/{trigger_id}`; transport errors and 5xx read as `pending`."""

    def __init__(
        self, url: str, *, transport: httpx.BaseTransport | None = None, timeout: float = 10.0
    ) -> None:
        self._timeout = timeout
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
        )

    def close(self) -> None:
        self._client.close()

    def message(self, trigger_id: str, *, timeout: float | None = None) -> Delivery:
        """What the gateway knows of `trigger_id`; `timeout` (seconds) shortens the
        client's for this look, and a look that outlasts it reads as `pending`."""
        path = f"/gateway/messages/{quote(trigger_id, safe='')}"
        try:
            if timeout is None:
                response = self._client.get(path)
            else:
                response = self._client.get(path, timeout=min(timeout, self._timeout))
        except httpx.TransportError:
            return Delivery("pending")  # a gateway hiccup is not an answer; ask again
        if response.status_code >= 500 or response.status_code == 429:
            return Delivery("pending")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            error = error if isinstance(error, dict) else {}
            raise GatewayError(
                f"gateway_{error.get('code') or response.status_code}",
                str(error.get("message") or response.text[:200]),
            )
        status = body.get("status")
        if status == "delivered" and body.get("code"):
            delivered_at = None
            if isinstance(body.get("delivered_at"), str):
                try:
                    delivered_at = datetime.fromisoformat(body["delivered_at"])
                except ValueError:
                    delivered_at = None
                if delivered_at is not None and delivered_at.tzinfo is None:
                    delivered_at = delivered_at.replace(tzinfo=UTC)  # as the API's times
            return Delivery("delivered", str(body["code"]), delivered_at)
        if status == "not_delivered":
            return Delivery("not_delivered")
        return Delivery("pending")
