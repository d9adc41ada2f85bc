"""The messages suite's world (its fixture in tests/integration/messages/conftest.py): one
pair `UZ_uzmobile` run by four programs on two providers of the gateway simulator; and an
SMS as the seed routes take it, for those tests and the browser's."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from smsfleet.attempts.models import Outcome
from smsfleet.dispatch.models import ReportRequest, SendAction
from smsfleet.dispatch.service import Dispatcher
from smsfleet.messages.inbound import Inbound
from smsfleet.messages.sends import Sends
from smsfleet.stores import ConfigStore
from tests.support.fakes import FakeClock
from tests.support.ledgers import settle

TEST_NUMBER = "+998991234567"
CUSTOMER = "+998901112233"
# program → the simulator's provider it sends through (in the pair's order)
PROGRAMS = {"pbad": "broken", "pgood": "good", "palso": "good", "pworse": "broken"}


def sms(sender: str, receiver: str, text: str, at: str, **extra: Any) -> dict[str, Any]:
    """An SMS as the seed routes (`/api/send-sms`, `/api/receive-sms`) take it."""
    body = {
        "senderPhone": sender,
        "receiverPhone": receiver,
        "messageText": text,
        "timestamp": at,
        "uuid": str(uuid.uuid4()),
    }
    return body | extra


@dataclass
class World:
    store: ConfigStore
    dispatcher: Dispatcher
    sends: Sends
    inbound: Inbound
    clock: FakeClock
    simulator: httpx.Client
    sent: list[dict[str, Any]] = field(default_factory=list)

    def settle(self) -> None:
        settle(self.dispatcher.ledger)

    def ask(self, program: str) -> SendAction | None:
        """One turn of `program`'s session: lease, send, wait for the gateway, report."""
        session = f"{program}_UZ_uzmobile"
        action = self.dispatcher.lease(session=session)
        if not isinstance(action, SendAction):
            return None
        provider = PROGRAMS[program]
        self.sent.append({"program": program, "phone": action.phone, "text": action.message})
        response = self.simulator.post(
            f"/providers/{provider}/send",
            json={"phone": action.phone, "route": action.pair, "trigger_id": action.trigger_id},
        )
        sent_at = None  # as the worker harness reports: set once the gateway took it
        if response.status_code != 200:
            outcome, code = Outcome.send_failed, f"http_{response.status_code}"
        else:
            sent_at = self.clock.now()
            outcome, code = self._delivery(action.trigger_id), None
        report = ReportRequest(
            trigger_id=action.trigger_id,
            session=session,
            outcome=outcome,
            error_code=code,
            sent_at=sent_at,
            provider=provider,
        )
        self.dispatcher.report(session=session, report=report)
        return action

    def _delivery(self, trigger_id: str) -> Outcome:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            status = self.simulator.get(f"/gateway/messages/{trigger_id}").json().get("status")
            if status == "delivered":
                return Outcome.delivered
            if status == "not_delivered":
                return Outcome.not_delivered
            time.sleep(0.02)
        raise AssertionError(f"the gateway never settled {trigger_id}")
