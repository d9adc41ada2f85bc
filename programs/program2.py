"""program2: test SMS through provider2, reliable but slow.

Its SMS take about three times as long to arrive, so the gateway is polled less often
and waited on longer than the default before an SMS counts as not delivered.
"""

from __future__ import annotations

import httpx

from smsfleet.worker import Attempt, SendFailed, Sent, run_program

PROVIDER = "provider2"
CODE_TIMEOUT_SECONDS = 400.0  # slow deliveries can take minutes
POLL_SECONDS = 2.0


class SendSMS:
    def __init__(self, phone: str, proxy: str | None = None, *, attempt: Attempt) -> None:
        self.phone = phone
        self.proxy = proxy
        self.attempt = attempt

    def SendOtp(self) -> Sent:  # noqa: N802  (name kept from the operators' programs)
        response = httpx.post(
            f"{self.attempt.simulator_url}/providers/{PROVIDER}/send",
            json={
                "phone": self.phone,
                "route": self.attempt.pair,
                "trigger_id": self.attempt.trigger_id,
            },
            proxy=self.proxy,
            timeout=30,  # the provider itself answers slowly too
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
            timeout=30,
        )
        response.raise_for_status()
        status: str = response.json()["status"]
        return status


if __name__ == "__main__":
    raise SystemExit(
        run_program(
            SendSMS, SubmitSMS, code_timeout=CODE_TIMEOUT_SECONDS, poll_interval=POLL_SECONDS
        )
    )
