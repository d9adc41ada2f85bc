"""program3: test SMS through provider3, whose API fails now and then.

A provider error (5xx) is retried once with the same trigger id: the provider treats it as
the same SMS, so the retry can never send a second one. Retried at once, and only while
its grant still lets it leave (`attempt.may_send()`): a retry any later could make one
more than the country's cap in the gateway's minute; the next lease tries again instead.
"""

from __future__ import annotations

import httpx

from smsfleet.worker import Attempt, SendFailed, Sent, run_program

PROVIDER = "provider3"


class SendSMS:
    def __init__(self, phone: str, proxy: str | None = None, *, attempt: Attempt) -> None:
        self.phone = phone
        self.proxy = proxy
        self.attempt = attempt

    def _send_once(self) -> None:
        response = httpx.post(
            f"{self.attempt.simulator_url}/providers/{PROVIDER}/send",
            json={
                "phone": self.phone,
                "route": self.attempt.pair,
                "trigger_id": self.attempt.trigger_id,
            },
            proxy=self.proxy,
            timeout=10,
        )
        if response.status_code != 200:
            raise SendFailed.from_response(response, provider=PROVIDER)

    def SendOtp(self) -> Sent:  # noqa: N802  (name kept from the operators' programs)
        try:
            self._send_once()
        except SendFailed as first:
            # Only the provider's own failures are worth a retry; 4xx and 429 are not.
            if first.status is None or first.status < 500 or not self.attempt.may_send():
                raise
            self._send_once()
        return Sent(provider=PROVIDER)


class SubmitSMS:
    def __init__(self, *, attempt: Attempt) -> None:
        self.attempt = attempt

    def SumitOtp(self, trigger_id: str, code: str) -> str:  # noqa: N802
        response = httpx.post(
            f"{self.attempt.simulator_url}/providers/{PROVIDER}/submit",
            json={"trigger_id": trigger_id, "code": code},
            timeout=10,
        )
        response.raise_for_status()
        status: str = response.json()["status"]
        return status


if __name__ == "__main__":
    raise SystemExit(run_program(SendSMS, SubmitSMS))
