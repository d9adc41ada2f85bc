"""Inbound SMS and conversations: the gateway's webhook, the SMS the seed SMS service
records, and a number's thread of SMS and send attempts.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from smsfleet.attempts.models import is_broken_off
from smsfleet.attempts.store import AttemptStore
from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, AuditAction, AuditEvent
from smsfleet.core import phones
from smsfleet.core.clock import Clock
from smsfleet.core.errors import NotFound, ValidationFailed
from smsfleet.core.records import EventLog
from smsfleet.core.text import escaped
from smsfleet.messages.models import (
    Conversation,
    Direction,
    InboundMessage,
    Message,
    SeedConversation,
    SeedConversationMessage,
    SeedSms,
    ThreadItem,
)
from smsfleet.messages.store import MessageStore

__all__ = ["CONVERSATION_PAGE", "MATCH_WINDOW", "Inbound"]

# An inbound SMS verifies the latest attempt to its number leased this recently.
MATCH_WINDOW = timedelta(minutes=15)
# Items of a conversation a page holds unless asked otherwise.
CONVERSATION_PAGE = 100
# The times a seed route's SMS may say it was sent or received at: none before this,
EARLIEST_SEED_TIME = datetime(2000, 1, 1, tzinfo=UTC)
# nor further ahead of now than this (a sender's clock a little ahead).
SEED_TIME_AHEAD = timedelta(days=1)
# The window the SMS one user records through the seed routes are counted in.
SEED_WINDOW = timedelta(hours=1)

# What an audited SMS says of its text: the code in it is the message's alone.
TEXT_NOT_AUDITED = "[not in the audit log: kept with the SMS for its retention]"


class Inbound:
    def __init__(
        self,
        *,
        store: MessageStore,
        attempts: AttemptStore,
        clock: Clock,
        seed_messages_per_hour: int,
        on_message: Callable[[Message], None] | None = None,
        phone_region: str | None = None,
    ) -> None:
        self._store = store
        self._attempts = attempts
        self._clock = clock
        self._seed_per_hour = seed_messages_per_hour
        self._on_message = on_message
        self._region = phone_region
        # Each user's, held from counting their recorded SMS to auditing the new one: SMS
        # recorded at once in this process cannot all slip under the cap, and one user at
        # it never holds up another's.
        self._recording_seed: dict[str, threading.Lock] = {}
        self._recording_seed_made = threading.Lock()

    def receive(self, data: InboundMessage) -> Message:
        """The gateway's webhook: keep the SMS and link it to the attempt it verifies."""
        match = next(
            (
                a
                for a in self._attempts.recent(limit=1, phone=data.receiver)
                if data.timestamp - MATCH_WINDOW <= a.leased_at <= data.timestamp
            ),
            None,
        )
        message = Message(
            uuid=str(data.uuid),
            direction=Direction.inbound,
            sender=data.sender,
            receiver=data.receiver,
            text=data.text,
            at=data.timestamp,
            recorded_at=self._clock.now(),
            attempt_id=match.id if match is not None else None,
        )
        self._keep(message)
        return message

    def record_seed(
        self, data: SeedSms, direction: Direction, *, actor: Actor, audit: EventLog[AuditEvent]
    ) -> Message:
        """An SMS the seed SMS service recorded, audited with who recorded it; its numbers
        are kept in E.164. Its `timestamp` is refused before `EARLIEST_SEED_TIME` or over
        `SEED_TIME_AHEAD` ahead of now: a year-9999 message would stay on top of its
        conversation for good. One user records at most `seed_messages_per_hour` (429)."""
        now = self._clock.now()
        if data.timestamp < EARLIEST_SEED_TIME:
            raise ValidationFailed.for_field("timestamp", "before 2000-01-01T00:00:00Z")
        if data.timestamp > now + SEED_TIME_AHEAD:
            raise ValidationFailed.for_field("timestamp", "more than a day ahead of now")
        message = Message(
            uuid=str(data.uuid),
            direction=direction,
            sender=phones.canonical(data.senderPhone, self._region),
            receiver=phones.canonical(data.receiverPhone, self._region),
            text=data.messageText,
            at=data.timestamp,
            recorded_at=now,
        )
        # Its text (a code) stays with the SMS, kept its retention, never the audit log's.
        audited = message.model_copy(update={"text": TEXT_NOT_AUDITED})
        with self._recording_seed_made:
            recording = self._recording_seed.setdefault(actor.username, threading.Lock())
        with recording:
            self._check_seed_pace(actor, audit, now)
            self._keep(message)
            # Audited before the next SMS is counted: the count reads these.
            audit_service.record(
                audit,
                self._clock,
                actor,
                AuditAction.message_recorded,
                message.uuid,
                before=None,
                after=audited,
            )
        return message

    def _check_seed_pace(self, actor: Actor, audit: EventLog[AuditEvent], now: datetime) -> None:
        """Refuse an SMS past the most one user (with their API keys) may record in the
        window: each is an audit entry and a search-indexed message, kept a year. Counted on
        the audit log's entries, as API keys made are."""
        audit_service.check_audited_pace(
            audit,
            action=AuditAction.message_recorded,
            actor=actor.username,
            most=self._seed_per_hour,
            window=SEED_WINDOW,
            now=now,
            said="you recorded {count} SMS through the seed routes in the last {minutes} min,"
            " the most one user may (SMSFLEET_SEED_MESSAGES_PER_HOUR)",
        )

    def record_sent(self, sender: str, receiver: str, text: str, attempt_id: str) -> Message:
        """The text an on-demand send's lease hands a program, as an SMS sent by it."""
        now = self._clock.now()
        message = Message(
            uuid=str(uuid.uuid4()),
            direction=Direction.outbound,
            sender=sender,
            receiver=receiver,
            text=text,
            at=now,
            recorded_at=now,
            attempt_id=attempt_id,
        )
        self._keep(message)
        return message

    def recorded_since(self, since: datetime | None) -> Iterator[list[Message]]:
        """Messages recorded since then (None: all), oldest first, a page at a time."""
        return self._store.recorded_since(since)

    def _keep(self, message: Message) -> None:
        self._store.add_message(message)
        if self._on_message is not None:
            self._on_message(message)

    def conversation(
        self, phone: str, *, limit: int = CONVERSATION_PAGE, before: datetime | None = None
    ) -> Conversation:
        """The newest `limit` of the SMS from or to `phone` and the send attempts to it
        (those before then, if given), in time order; `older` is where the next page
        (older items) starts, None when there is none.

        The number is found however it is written (with or without `+`, national).
        """
        items = [
            ThreadItem(
                kind="sms",
                at=m.at,
                direction=m.direction,
                sender=m.sender,
                receiver=m.receiver,
                text=m.text,
                status=None,
                attempt_id=m.attempt_id,
                uuid=m.uuid,
            )
            for m in self._store.messages_of(
                phones.spellings(phone, self._region), limit=limit + 1, before=before
            )
        ]
        items += [
            ThreadItem(
                kind="attempt",
                at=a.leased_at,
                direction=Direction.outbound,
                sender=None,
                receiver=a.phone,
                text=None,
                status=a.outcome.value if a.outcome is not None else None,
                error_code=a.error_code,
                broken_off=is_broken_off(a.outcome, a.error_code),
                sent_at=a.sent_at,
                pair=a.pair,
                program=a.program,
                attempt_id=a.id,
            )
            for a in self._attempts.recent(
                limit=limit + 1,
                leased_before=before,
                phone=phones.canonical(phone, self._region),
            )
        ]
        if not items and before is None:
            raise NotFound(f"no message or attempt for {escaped(phone)}")
        items.sort(key=lambda item: (item.at, item.kind))
        page = items[-limit:]
        older = page[0].at if len(items) > limit else None
        return Conversation(phone=phone, items=page, older=older)

    def seed_conversation(self, phone: str) -> SeedConversation:
        """The seed SMS service's answer: `sent` and `received` SMS, Unix seconds."""
        messages = self._store.messages_of(phones.spellings(phone, self._region))
        if not messages:
            raise NotFound(f"no conversation with {escaped(phone)}")
        return SeedConversation(
            messages=[
                SeedConversationMessage(
                    phone_number=phone,
                    message_text=m.text,
                    timestamp=int(m.at.timestamp()),
                    direction="sent" if m.direction is Direction.outbound else "received",
                )
                for m in messages
            ]
        )
