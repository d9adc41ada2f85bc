"""program4: test SMS through provider4, falling back to provider1 when it fails.

provider4 has regular outages. When it cannot send, the same trigger goes to provider1;
the report names the provider that actually sent it, and the code is submitted there.
"""

from __future__ import annotations

import httpx

from smsfleet.worker import Attempt, SendFailed, Sent, run_program

PRIMARY = "provider4"
FALLBACK = "provider1"


class SendSMS:
    def __init__(self, phone: str, proxy: str | None = None, *, attempt: Attempt) -> None:
        self.phone = phone
        self.proxy = proxy
        self.attempt = attempt

    def _send(self, provider: str) -> Sent:
        try:
            response = httpx.post(
                f"{self.attempt.simulator_url}/providers/{provider}/send",
                json={
                    "phone": self.phone,
                    "route": self.attempt.pair,
                    "trigger_id": self.attempt.trigger_id,
                },
                proxy=self.proxy,
                timeout=10,
            )
        except httpx.TransportError as exc:
            raise SendFailed("provider_unreachable", provider=provider) from exc
        if response.status_code != 200:
            raise SendFailed.from_response(response, provider=provider)
        return Sent(provider=provider)

    def SendOtp(self) -> Sent:  # noqa: N802  (name kept from the operators' programs)
        try:
            return self._send(PRIMARY)
        except SendFailed as primary_failure:
            # Sent any later than its grant allows, the SMS could make one more than the
            # country's cap in the gateway's minute: the next lease tries again instead.
            if not self.attempt.may_send():
                raise
            print(f"{PRIMARY} failed ({primary_failure.code}), trying {FALLBACK}", flush=True)
        return self._send(FALLBACK)


class SubmitSMS:
    def __init__(self, *, attempt: Attempt) -> None:
        self.attempt = attempt

    def SumitOtp(self, trigger_id: str, code: str) -> str:  # noqa: N802
        # Submitted to whichever provider sent the SMS.
        provider = self.attempt.provider or PRIMARY
        response = httpx.post(
            f"{self.attempt.simulator_url}/providers/{provider}/submit",
            json={"trigger_id": trigger_id, "code": code},
            timeout=10,
        )
        response.raise_for_status()
        status: str = response.json()["status"]
        return status


if __name__ == "__main__":
    raise SystemExit(run_program(SendSMS, SubmitSMS))
