"""program5: test SMS through provider5, which allows only so many SMS a minute.

On 429 the provider says when to come back (Retry-After); the program waits that long and
tries again, unless the SMS would then leave later than its grant allows
(`attempt.may_send`): the next lease tries again instead.
"""

from __future__ import annotations

import httpx

from smsfleet.worker import Attempt, SendFailed, Sent, run_program

PROVIDER = "provider5"
MAX_TRIES = 3


class SendSMS:
    def __init__(self, phone: str, proxy: str | None = None, *, attempt: Attempt) -> None:
        self.phone = phone
        self.proxy = proxy
        self.attempt = attempt

    def SendOtp(self) -> Sent:  # noqa: N802  (name kept from the operators' programs)
        tries = 1
        while True:
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
            if response.status_code == 200:
                return Sent(provider=PROVIDER)
            failure = SendFailed.from_response(response, provider=PROVIDER)
            if response.status_code != 429 or tries == MAX_TRIES:
                raise failure
            wait = failure.retry_after or 1.0
            # Sent any later than its grant allows, the SMS could make one more than the
            # country's cap in the gateway's minute: the next lease tries again instead.
            if not self.attempt.may_send(after=wait):
                raise failure
            print(f"{PROVIDER} rate-limited, retrying in {wait:g} s", flush=True)
            if not self.attempt.sleep(wait):
                raise failure
            tries += 1


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
