"""program1: test SMS through provider1, a fast and reliable provider.

The control plane starts it per pair in a screen session (`program1_UZ_uzmobile`) with the
SMSFLEET_* environment; `run_program` leases each SMS, calls the two classes below, waits
for the code at the gateway and reports the outcome.
"""

from __future__ import annotations

import httpx

from smsfleet.worker import Attempt, SendFailed, Sent, run_program

PROVIDER = "provider1"


class SendSMS:
    def __init__(self, phone: str, proxy: str | None = None, *, attempt: Attempt) -> None:
        self.phone = phone
        self.proxy = proxy
        self.attempt = attempt

    def SendOtp(self) -> Sent:  # noqa: N802  (name kept from the operators' programs)
        response = httpx.post(
            f"{self.attempt.simulator_url}/providers/{PROVIDER}/send",
            # The trigger id doubles as the provider's idempotency id: a retry is never a 2nd SMS.
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
        status: str = response.json()["status"]  # "submitted successfully"
        return status


if __name__ == "__main__":
    raise SystemExit(run_program(SendSMS, SubmitSMS))
