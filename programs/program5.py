"""program5: test SMS through provider5, which allows only so many SMS a minute.

On 429 the provider says when to come back (Retry-After): the send fails with the
provider's wait (`SendFailed.retry_after`), and the harness asks for no lease until then,
so no place in the country's minute goes to a send the provider would refuse. Waiting
here and sending again would leave later than the grant allows (`attempt.may_send`): the
gateway's minute could count one more than the country's cap.
"""

from __future__ import annotations

import httpx

from smsfleet.worker import Attempt, SendFailed, Sent, run_program

PROVIDER = "provider5"


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
            timeout=10,
        )
        if response.status_code != 200:
            # A 429's Retry-After is kept in the failure (`retry_after`).
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
        status: str = response.json()["status"]
        return status


if __name__ == "__main__":
    raise SystemExit(run_program(SendSMS, SubmitSMS))
