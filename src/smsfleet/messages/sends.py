"""On-demand sends through the dispatcher, moved by one transition table.

An on-demand send never goes out on its own: it waits, pending, for a lease of the
pair's next program (`claim`), so it takes one of the country's slots like any
other send (DESIGN principle 2). Its outcome (`settle`) closes it — delivered:
DONE; failed: the next program of the pair is tried, FAILED after the last. A try
broken off (its program stopped or killed: no failure of the route) before its SMS
reached the gateway goes on to the pair's next program while the pair runs; once the
pair is stopped (paused, disabled, deleted), to another running pair of its country
with the tries it has left, and is NOT_SENT, saying why, when there is none (FAILED
when an earlier try's SMS reached the gateway: it was sent, and failed). One broken
off after its SMS reached the gateway (its attempt's `sent_at`), while it awaited its
code, is never sent again: the recipient may have its code. It ends FAILED, saying when
it was sent and why its code was not awaited. So does one whose try leaves it unknown
whether its SMS left: never reported within its lease (a program hung or killed for
good), given up by the control plane (`lease_expired`), or killed during its send
(`interrupted` with no `sent_at`). A try known not to have sent it (`lease_lost`: the
program never had it; `grant_stale`: given up unsent) goes on as broken off. The periodic
job moves on a send whose program never came to lease, and one whose try was never
reported.

    PENDING ──claimed / failed / broken off / unclaimed──► PENDING
    PENDING ──delivered──► DONE
    PENDING ──exhausted / unrenderable / cut off once sent / not known if sent──► FAILED
    PENDING ──stranded──► NOT_SENT
    PENDING ──cancelled──► CANCELLED
    FAILED, NOT_SENT, CANCELLED ──retried──► PENDING

Every status change goes through `TRANSITIONS`; an event the current status does not
allow is a `Conflict`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from smsfleet.attempts.ledger import Ledger, OpenLease
from smsfleet.attempts.models import (
    NOT_KNOWN_IF_SENT_CODES,
    REPORT_GRACE,
    Attempt,
    Outcome,
    is_broken_off,
)
from smsfleet.attempts.store import AttemptStore
from smsfleet.core import phones
from smsfleet.core.clock import Clock, human_time
from smsfleet.core.errors import Conflict, NotFound, Throttled, ValidationFailed
from smsfleet.core.nonblocking import may_block
from smsfleet.core.settings import LEASE_TTL_SECONDS
from smsfleet.messages.models import (
    SeedSendRequest,
    Send,
    SendAccepted,
    SendQuery,
    SendRequest,
    SendStatus,
    Template,
)
from smsfleet.messages.store import MessageStore
from smsfleet.messages.templates import check_params, get_template, render
from smsfleet.pairs.models import Pair, PairState, halted_said
from smsfleet.policy.models import named_actor
from smsfleet.sessions.models import DesiredState
from smsfleet.sessions.names import session_name
from smsfleet.stores import ConfigStore

__all__ = [
    "TRANSITIONS",
    "Kept",
    "KeptNumbers",
    "OnDemandSend",
    "PendingHint",
    "PendingLimits",
    "SendEvent",
    "Sends",
    "allows",
    "transition",
]

log = logging.getLogger("smsfleet.messages")


class SendEvent(StrEnum):
    """What happens to a send."""

    CLAIMED = "claimed"  # a lease took it for its current program
    DELIVERED = "delivered"  # its try was delivered
    FAILED = "failed"  # its try failed: the next program is tried
    # Its try was broken off (a stop, a kill, a lost lease): the next program, or another
    # running pair of its country once its pair is stopped.
    BROKEN_OFF = "broken off"
    STRANDED = "stranded"  # broken off, and nothing left to carry it: it was never sent
    # Broken off after its SMS reached the gateway, awaiting its code: sent, its outcome
    # unknown, so never sent again (the recipient may have its code).
    CUT_OFF_ONCE_SENT = "cut off once sent"
    # Its try left it unknown whether its SMS left (never reported, or killed during its
    # send): never sent again either.
    NOT_KNOWN_IF_SENT = "not known if sent"
    # Its program did not take it in time: the next; its pair stopped running meanwhile:
    # another running pair of its country, as a try broken off.
    UNCLAIMED = "unclaimed"
    EXHAUSTED = "exhausted"  # the last program failed it (failed, expired or unclaimed)
    UNRENDERABLE = "unrenderable"  # its template no longer fits: it can never be sent
    CANCELLED = "cancelled"  # someone cancelled it before any program held it
    RETRIED = "retried"  # someone asked for it again, from the pair's first program


S = SendStatus
E = SendEvent

# The only moves: (status, event) → the status it leads to.
TRANSITIONS: dict[tuple[SendStatus, SendEvent], SendStatus] = {
    (S.PENDING, E.CLAIMED): S.PENDING,
    (S.PENDING, E.FAILED): S.PENDING,
    (S.PENDING, E.BROKEN_OFF): S.PENDING,
    (S.PENDING, E.UNCLAIMED): S.PENDING,
    (S.PENDING, E.DELIVERED): S.DONE,
    (S.PENDING, E.EXHAUSTED): S.FAILED,
    (S.PENDING, E.UNRENDERABLE): S.FAILED,
    (S.PENDING, E.CUT_OFF_ONCE_SENT): S.FAILED,
    (S.PENDING, E.NOT_KNOWN_IF_SENT): S.FAILED,
    (S.PENDING, E.STRANDED): S.NOT_SENT,
    (S.PENDING, E.CANCELLED): S.CANCELLED,
    (S.FAILED, E.RETRIED): S.PENDING,
    (S.NOT_SENT, E.RETRIED): S.PENDING,
    (S.CANCELLED, E.RETRIED): S.PENDING,
}

# What a refusal says, for the events people ask for.
_REFUSALS: dict[SendEvent, str] = {
    E.CANCELLED: "nothing to cancel",
    E.RETRIED: "only a failed, unsent or cancelled one is retried",
}


def allows(current: SendStatus, event: SendEvent) -> bool:
    return (current, event) in TRANSITIONS


def transition(current: SendStatus, event: SendEvent, *, send_id: str) -> SendStatus:
    """The status `event` moves a send in `current` to; Conflict when it may not happen."""
    target = TRANSITIONS.get((current, event))
    if target is None:
        why = _REFUSALS.get(event, f"it cannot be {event.value}")
        raise Conflict(f"send {send_id} is {current.value}: {why}")
    return target


@dataclass(frozen=True)
class OnDemandSend:
    """What a lease carries instead of a routine test send."""

    send_id: str
    phone: str
    message: str


class PendingHint:
    """Whether any on-demand send is pending, so that leases and reports skip the query.

    Every lease would otherwise look for a send to carry and every report for a send
    to settle, though most of the time there is none. The store is asked at most once
    a `max_age`; a send made or retried in this process marks it at once. A send made
    by another replica is seen within `max_age`; a settle skipped in that window is
    done by `run_jobs` when the send's claim runs out.
    """

    def __init__(self, check: Callable[[], bool], max_age: float = 1.0) -> None:
        self._check = check
        self._max_age = max_age
        self._known: tuple[bool, float] = (False, -math.inf)
        self._lock = threading.Lock()

    def any(self) -> bool:
        pending, read_at = self._known
        if time.monotonic() - read_at < self._max_age:
            return pending
        may_block()  # the store is asked (and another thread may be asking it)
        with self._lock:
            pending, read_at = self._known
            if time.monotonic() - read_at >= self._max_age:
                read_at = time.monotonic()
                pending = self._check()
                self._known = (pending, read_at)
        return pending

    def mark(self) -> None:
        self._known = (True, time.monotonic())


# A pair's test numbers kept for its waiting sends: number → the programs they wait for.
Kept = Mapping[str, frozenset[str]]


class KeptNumbers:
    """The test numbers kept for waiting sends, by pair, so that leases skip the query.

    A send to one of its pair's numbers waits for it while it awaits another code; once
    free, the number is kept for the send's program, not handed to a routine test. The
    store is asked at most once a `max_age` (and only while a send is pending); a send
    made, claimed, cancelled or moved on in this process reads it again at once. One
    made or moved on by another replica is seen within `max_age`.
    """

    def __init__(
        self, read: Callable[[], Iterable[tuple[str, str, str]]], max_age: float = 1.0
    ) -> None:
        self._read = read
        self._max_age = max_age
        self._known: tuple[dict[str, Kept], float] = ({}, -math.inf)
        self._lock = threading.Lock()

    def of(self, pair: str) -> Kept:
        kept, read_at = self._known
        if time.monotonic() - read_at < self._max_age:
            return kept.get(pair, _NONE_KEPT)
        may_block()  # the store is asked (and another thread may be asking it)
        with self._lock:
            kept, read_at = self._known
            if time.monotonic() - read_at >= self._max_age:
                read_at = time.monotonic()
                kept = _by_pair(self._read())
                self._known = (kept, read_at)
        return kept.get(pair, _NONE_KEPT)

    def forget(self) -> None:
        """Read them again at the next look: a send changed."""
        self._known = (self._known[0], -math.inf)


_NONE_KEPT: Kept = {}


def _by_pair(rows: Iterable[tuple[str, str, str]]) -> dict[str, Kept]:
    found: dict[str, dict[str, set[str]]] = {}
    for pair, phone, program in rows:
        found.setdefault(pair, {}).setdefault(phone, set()).add(program)
    return {
        pair: {phone: frozenset(programs) for phone, programs in numbers.items()}
        for pair, numbers in found.items()
    }


@dataclass(frozen=True)
class PendingLimits:
    """How many on-demand sends may wait at once: one user's, and one pair's."""

    per_actor: int = 20
    per_pair: int = 50


# What a refused send is told to wait: a pending send is settled within seconds to minutes.
PENDING_RETRY_AFTER_SECONDS = 30


class Sends:
    """The on-demand sends: made by people, carried by leases, settled by reports."""

    def __init__(
        self,
        *,
        store: MessageStore,
        attempts: AttemptStore,
        config_store: ConfigStore,
        clock: Clock,
        claim_timeout: timedelta = timedelta(minutes=2),
        lease_ttl: timedelta = timedelta(seconds=LEASE_TTL_SECONDS),
        on_change: Callable[[Send], None] | None = None,
        phone_region: str | None = None,
        limits: PendingLimits | None = None,
        record_sent: Callable[[str, str, str, str], object] | None = None,
    ) -> None:
        """`record_sent(sender, receiver, text, attempt_id)` keeps the text a lease hands
        out as an SMS sent (`Inbound.record_sent`)."""
        self._store = store
        self._record_sent = record_sent
        self._limits = limits or PendingLimits()
        self._attempts = attempts
        self._config = config_store
        self._clock = clock
        self._claim_timeout = claim_timeout
        self._lease_ttl = lease_ttl
        # When each pair's program last took one of its sends, as this process saw it: a
        # send behind others waits while the line moves (see `_waits_from`).
        self._line_moved: dict[tuple[str, str], datetime] = {}
        self._on_change = on_change
        self._pending = PendingHint(store.has_pending)
        self._kept = KeptNumbers(store.waiting_numbers)
        self._region = phone_region
        self._ledger: Ledger = attempts
        self._room_lock = threading.Lock()

    def use_ledger(self, ledger: Ledger) -> None:
        """Read the numbers awaiting a code where the dispatcher's leases do: its ledger
        (in Redis on the Redis profile), not the SQL copy drained from it."""
        self._ledger = ledger

    def create_send(self, data: SendRequest, *, actor: str) -> Send:
        if (data.template_id is None) == (data.text is None):
            raise ValidationFailed.for_field(
                "template_id",
                "or text, not both",
                message="give either template_id (with params) or text",
            )
        pair = self._pair_for(data.phone, data.pair)
        phone = self._normalize(data.phone, pair.country)
        self._check_number_of(pair, phone)
        if data.template_id is not None:
            check_params(self._template(data.template_id), data.params)
        self._check_sends_through(pair)
        with self._room_for(actor, pair.key, asker=actor):
            send = self._new_send(data, pair, phone, actor=actor)
            self._store.add_send(send)
        self._pending.mark()
        self._changed(send)
        return send

    def _new_send(self, data: SendRequest, pair: Pair, phone: str, *, actor: str) -> Send:
        now = self._clock.now()
        return Send(
            id=uuid.uuid4().hex,
            phone=phone,
            pair=pair.key,
            country=pair.country,
            template_id=data.template_id,
            params=data.params,
            text=data.text,
            sent_text=None,
            status=SendStatus.PENDING,
            programs=list(pair.programs),
            next_index=0,
            tries=0,
            program=None,
            provider=None,
            attempt_id=None,
            leased_until=None,
            waiting_since=now,
            error=None,
            actor=actor,
            created_at=now,
            updated_at=now,
            completed_at=None,
        )

    def accepted(self, send: Send) -> SendAccepted:
        """What a send just made is told: when its pair is probed after a pause, that it
        goes out as one of the probes, one at a time, on a route that may still fail."""
        pair = self._config.pairs.get(send.pair)
        if pair is None or pair.state is not PairState.probing:
            return SendAccepted(id=send.id, status=send.status, pair=send.pair)
        return SendAccepted(
            id=send.id,
            status=send.status,
            pair=send.pair,
            message=(
                f"accepted: {pair.key} is probed after a pause by the policy, so it goes out"
                " as one of its probes (one at a time, each after the one before), on a route"
                " that may still fail"
            ),
        )

    @contextmanager
    def _room_for(self, owner: str, pair: str, *, asker: str) -> Iterator[None]:
        """Refuse a send of `owner`'s, made or retried by `asker`, beyond the pending limits;
        else keep it within the block. Counted and kept one after the other, so sends made
        at once pass no limit in this process (across replicas the cap stays soft)."""
        with self._room_lock:
            self._check_room(owner, pair, asker=asker)
            yield

    def _check_room(self, owner: str, pair: str, *, asker: str) -> None:
        mine, waiting = self._store.pending_counts(actor=owner, pair=pair)
        limits, wait = self._limits, PENDING_RETRY_AFTER_SECONDS
        if mine >= limits.per_actor:
            message = (
                f"you have {mine} sends waiting, the most one user may; wait for them"
                if owner == asker
                else f"{owner}, whose send this is, has {mine} sends waiting, the most one"
                " user may; wait for them"
            )
            raise Throttled(message, retry_after=wait)
        if waiting >= limits.per_pair:
            message = f"{waiting} sends wait for {pair}, the most one pair may; try again later"
            raise Throttled(message, retry_after=wait)

    def seed_send(self, data: SeedSendRequest, *, actor: str) -> Send:
        """The seed verification service's send: `token_value` fills the template by name."""
        template_id = str(data.template_id)
        self._template(template_id)  # 404 before anything else
        request = SendRequest(phone=data.phone, template_id=template_id, params=data.params())
        try:
            return self.create_send(request, actor=actor)
        except ValidationFailed as error:
            for detail in error.details or []:
                if isinstance(detail, dict) and str(detail.get("field", "")).startswith("params."):
                    detail["field"] = "token_value." + detail["field"].removeprefix("params.")
            raise

    def sends(self, query: SendQuery) -> list[Send]:
        return self._store.sends(query)

    def send(self, send_id: str) -> Send:
        found = self._store.get_send(send_id)
        if found is None:
            raise NotFound(f"no send {send_id!r}")
        return found

    def cancel(self, send_id: str) -> Send:
        """Only a send no program holds can be cancelled: it is then never sent."""
        send = self.send(send_id)
        transition(send.status, SendEvent.CANCELLED, send_id=send_id)
        if send.attempt_id is not None:
            raise Conflict(f"send {send_id} is being sent right now (attempt {send.attempt_id})")
        done = self._move(
            send,
            SendEvent.CANCELLED,
            {"completed_at": self._clock.now()},
            expect=[("attempt_id", None)],
        )
        if done is None:
            raise Conflict(f"send {send_id} changed meanwhile; look again")
        return done

    def retry(self, send_id: str, *, actor: str, again: bool = False) -> Send:
        """A failed, unsent or cancelled send starts over with the pair's first program.
        One whose SMS reached the gateway is sent a second time only when asked `again`:
        its number may have it already. It stays the send of whoever made it, and counts
        against their room and its pair's, as a new send does."""
        send = self.send(send_id)
        transition(send.status, SendEvent.RETRIED, send_id=send_id)
        pair = self._config.pairs.get(send.pair)
        if pair is None:
            raise Conflict(f"pair {send.pair} was deleted: send it anew through another pair")
        self._check_sends_through(pair)
        with self._room_for(send.actor, pair.key, asker=actor):
            if (send.sent_at is not None or send.sent_unknown) and not again:
                if send.sent_at is not None:
                    sent = human_time(send.sent_at, now=self._clock.now())
                    said = f"an SMS of send {send_id} reached the gateway at {sent}"
                else:
                    said = f"whether an SMS of send {send_id} left is not known"
                most = len(pair.programs)
                raise Conflict(
                    f"{said}: {send.phone} may already have it; repeat with"
                    ' "again": true to send it anew, through the programs of'
                    f" {pair.key} in order until one delivers: up to {most} more SMS"
                )
            done = self._move(
                send,
                SendEvent.RETRIED,
                {
                    "programs": list(pair.programs),
                    "next_index": 0,
                    "attempt_id": None,
                    "leased_until": None,
                    "waiting_since": self._clock.now(),
                    "completed_at": None,
                    "error": None,  # the last try's, not this one's: its own tries say theirs
                },
            )
        if done is None:
            raise Conflict(f"send {send_id} changed meanwhile; look again")
        self._pending.mark()
        return done

    def waiting_reasons(self, sends: Sequence[Send]) -> dict[str, str]:
        """Why each PENDING send of `sends` waits, by id, in words, as read now.

        One look at the open leases of each pair a send waits to be taken in, not one per
        send; a number awaiting another code costs one more, to say whose code. It names
        numbers, programs, pairs and times, never a code (an attempt's id is a test's)."""
        now = self._clock.now()
        pairs: dict[str, Pair | None] = {}
        open_leases: dict[str, dict[str, OpenLease]] = {}
        reasons: dict[str, str] = {}
        for send in sends:
            if send.status is not SendStatus.PENDING or send.next_index >= len(send.programs):
                continue
            if send.attempt_id is not None:
                reasons[send.id] = self._awaiting_report(send, now)
                continue
            if send.pair not in pairs:
                pairs[send.pair] = self._config.pairs.get(send.pair)
            pair = pairs[send.pair]
            since = f"waiting since {human_time(send.waiting_since, now=now)}"
            if pair is None or not pair.state.runs_sessions:
                reasons[send.id] = (
                    f"{since}: {send.pair} is {_stopped(pair)}, so none of its programs takes"
                    f" it; from {self._deadline(send, now)} another running pair of"
                    f" {send.country} does, or it ends NOT_SENT without one"
                )
                continue
            if self._halted(send.country):
                reasons[send.id] = (
                    f"{since}: {halted_said(send.country)}, so none of its programs takes it;"
                    f" if it is not raised by {self._deadline(send, now)}, it ends NOT_SENT"
                )
                continue
            if send.pair not in open_leases:
                open_leases[send.pair] = self._open_leases(send.pair, now)
            lease = open_leases[send.pair].get(send.phone)
            reasons[send.id] = (
                self._awaiting_code(send, lease, since, now)
                if lease is not None
                else self._awaiting_program(send, pair, since, now)
            )
        return reasons

    def _open_leases(self, pair: str, now: datetime) -> dict[str, OpenLease]:
        """The pair's numbers awaiting a code, as `claim` is told them (its `busy`), each
        with its latest lease."""
        latest: dict[str, OpenLease] = {}
        for lease in self._ledger.open_leases(pair, leased_since=now - self._lease_ttl):
            known = latest.get(lease.phone)
            if known is None or lease.leased_at > known.leased_at:
                latest[lease.phone] = lease
        return latest

    def _awaiting_report(self, send: Send, now: datetime) -> str:
        taken = f"{send.program} took it (try {send.tries})"
        if send.leased_until is None:
            return f"{taken}: its report is awaited"
        at = human_time(send.leased_until - self._lease_ttl, now=now)
        left = (
            "" if send.sent_at is None else f", its SMS left at {human_time(send.sent_at, now=now)}"
        )
        until = human_time(send.leased_until, now=now)
        if send.leased_until < now:
            # As `run_jobs` ends it: never sent again, as its number may have its code.
            last = human_time(send.leased_until + REPORT_GRACE, now=now)
            known = "" if send.sent_at is not None else " (whether its SMS left is not known)"
            return (
                f"{taken} at {at}{left}: no report by {until}; unless one comes by {last},"
                f" it ends FAILED, not sent again{known}"
            )
        return f"{taken} at {at}{left}: its report is awaited, until {until} at the latest"

    def _awaiting_code(self, send: Send, lease: OpenLease, since: str, now: datetime) -> str:
        other = self._store.send_for_attempt(lease.id)
        if other is None:
            whose = "a test SMS"
        elif other.id == send.id:
            whose = "an earlier try of this send"
        else:
            whose = "another send's SMS"
        leased = human_time(lease.leased_at, now=now)
        free = human_time(lease.leased_at + self._lease_ttl, now=now)
        program = send.programs[send.next_index]
        reason = (
            f"{since}: {send.phone} awaits another code ({whose} handed out at {leased}),"
            f" until it comes or {free} at the latest; once free it is kept for this send"
            f" (no routine test is handed it), and {program} takes it"
        )
        if lease.leased_at + self._lease_ttl > self._waits_from(send) + self._claim_timeout:
            deadline = self._deadline(send, now)
            reason += f", unless it is still busy at {deadline}: {self._then(send)}"
        return reason

    def _awaiting_program(self, send: Send, pair: Pair, since: str, now: datetime) -> str:
        program = send.programs[send.next_index]
        reason = f"{since} for {program} of {pair.key} to ask for work"
        if pair.state is PairState.probing:
            reason += f" ({pair.key} is probed after a pause: one SMS at a time)"
        session = self._config.session_specs.get(session_name(program, pair.key))
        if session is not None and session.desired is DesiredState.stopped:
            reason += f" (its session {session.name} is stopped: it asks once started)"
        return f"{reason}; if it has not by {self._deadline(send, now)}: {self._then(send)}"

    def _waits_from(self, send: Send, pending: Iterable[Send] = ()) -> datetime:
        """Since when `send`'s program is held to take it: since it came to that program,
        or since the program last took a send of its pair, if later. Sends made together
        are taken one after another at the pair's pace: one behind others waits while
        the line moves, and moves on only once the program took none for the wait.
        `pending`: the sends waiting now, whose tries in flight say when their program
        took them (on any replica)."""
        program = send.programs[send.next_index]
        moved = [send.waiting_since, self._line_moved.get((send.pair, program), send.waiting_since)]
        moved += [
            other.leased_until - self._lease_ttl
            for other in pending
            if other.pair == send.pair
            and other.program == program
            and other.attempt_id is not None
            and other.leased_until is not None
        ]
        return max(moved)

    def _deadline(self, send: Send, now: datetime) -> str:
        """When the periodic job moves it on, at the earliest."""
        return human_time(self._waits_from(send) + self._claim_timeout, now=now)

    def _then(self, send: Send) -> str:
        following = send.next_index + 1
        if following < len(send.programs):
            return f"{send.programs[following]} is tried instead"
        return "it fails, no program of its pair left to try"

    # --- the dispatcher's side ------------------------------------------------------------

    def waiting(self) -> bool:
        return self._pending.any()

    def kept(self, pair: str) -> Kept:
        """The pair's test numbers kept for its waiting sends, each with the programs its
        sends wait for: a routine test of the pair is not handed one, so that the send's
        program takes it once it is free."""
        if not self._pending.any():
            return _NONE_KEPT
        return self._kept.of(pair)

    def claim(
        self, *, pair: str, program: str, attempt_id: str, busy: frozenset[str] = frozenset()
    ) -> OnDemandSend | None:
        """Hand the oldest send waiting for this program to the lease being granted; one to
        a number in `busy` (awaiting a code) waits for it to be free."""
        if not self._pending.any():
            return None
        send = self._store.next_for(pair=pair, program=program, busy=busy)
        if send is None:
            return None
        found = self._config.programs.get(program)
        provider = found.provider if found is not None else ""
        try:
            text = self._render(send, provider)
        except (NotFound, ValidationFailed) as error:  # the template changed meanwhile
            changes = {"error": error.message, "completed_at": self._clock.now()}
            self._move(send, SendEvent.UNRENDERABLE, changes)
            return None
        claimed = self._move(
            send,
            SendEvent.CLAIMED,
            {
                "attempt_id": attempt_id,
                "program": program,
                "provider": provider or None,
                "sent_text": text,
                "tries": send.tries + 1,
                "leased_until": self._clock.now() + self._lease_ttl,
            },
            expect=[("attempt_id", None)],
        )
        if claimed is None:
            return None  # another lease or a cancel got there first
        self._line_moved[(pair, program)] = self._clock.now()
        if self._record_sent is not None:
            # The text handed out joins the number's thread (and search); the attempt
            # beside it says what came of it.
            self._record_sent(provider or program, send.phone, text, attempt_id)
        return OnDemandSend(send_id=send.id, phone=send.phone, message=text)

    def settle(self, attempt: Attempt) -> None:
        """An attempt got its outcome: close its send, or move it to the next program."""
        if not self._pending.any():
            return
        send = self._store.send_for_attempt(attempt.id)
        if send is None or not allows(send.status, SendEvent.DELIVERED):
            return
        if attempt.sent_at is not None:
            # Kept whatever comes next: a retry would send the number a second SMS.
            send = send.model_copy(update={"sent_at": attempt.sent_at})
        if attempt.outcome is Outcome.delivered:
            self._move(
                send,
                SendEvent.DELIVERED,
                {"completed_at": self._clock.now(), "error": None},
                expect=[("attempt_id", attempt.id)],
            )
            return
        why = f"{attempt.program}: {attempt.outcome.value if attempt.outcome else 'no outcome'}"
        if attempt.error_code:
            why += f" ({attempt.error_code})"
        if attempt.sent_at is not None and not is_broken_off(attempt.outcome, attempt.error_code):
            # Said beside the tries after it: the number got an SMS of this send then.
            why += f", sent at {human_time(attempt.sent_at, now=self._clock.now())}"
        if is_broken_off(attempt.outcome, attempt.error_code):
            self._broken_off(send, attempt, why)
        else:
            self._next_program(send, SendEvent.FAILED, why, expect=[("attempt_id", attempt.id)])

    def left(self, attempt_id: str, *, sent_at: datetime) -> None:
        """Its try's SMS left (told by its program before its report): said on the send
        while it awaits the report, and kept whatever comes next."""
        if not self._pending.any():
            return
        send = self._store.send_for_attempt(attempt_id)
        if send is None or send.status is not SendStatus.PENDING or send.sent_at == sent_at:
            return
        # Written whole: only if it is still the same try, pending (settled meanwhile, its
        # settling knows the time too).
        pending: list[tuple[str, object]] = [
            ("status", SendStatus.PENDING.value),
            ("attempt_id", attempt_id),
        ]
        self._update(send, {"sent_at": sent_at}, expect=pending)

    def run_jobs(self) -> int:
        """Move on the sends stuck on a program: unreported tries, programs that never lease."""
        now = self._clock.now()
        moved = 0
        pending = self._store.pending()
        for send in pending:
            if send.attempt_id is not None:
                # A report may come a while past the lease (`REPORT_GRACE`), as the sweep
                # of unreported attempts waits for it.
                if send.leased_until is not None and send.leased_until + REPORT_GRACE < now:
                    claimed: list[tuple[str, object]] = [("attempt_id", send.attempt_id)]
                    attempt = self._attempts.get(send.attempt_id)
                    if attempt is not None and attempt.outcome is not None:
                        self.settle(attempt)  # the outcome came, its settling did not
                    elif attempt is None:
                        # Claimed, and its lease never opened (the ledger failed it): its
                        # program never had it, so it was not sent.
                        why = f"{send.program}: its lease never opened"
                        self._next_program(send, SendEvent.BROKEN_OFF, why, expect=claimed)
                    elif attempt.sent_at is not None:  # its program told it left
                        # Kept, as `settle` keeps it: a retry would send a second SMS.
                        send = send.model_copy(update={"sent_at": attempt.sent_at})
                        sent = human_time(attempt.sent_at, now=now)
                        error = f"sent at {sent} through {send.program}, no report within the lease"
                        self._never_again(send, SendEvent.CUT_OFF_ONCE_SENT, error, expect=claimed)
                    else:
                        why = f"{send.program}: no report within the lease"
                        self._not_known_if_sent(send, why, expect=claimed)
                    moved += 1
            elif now - self._waits_from(send, pending) >= self._claim_timeout:
                waited = int(self._claim_timeout.total_seconds())
                program = send.programs[send.next_index]
                expect: list[tuple[str, object]] = [
                    ("attempt_id", None),
                    ("next_index", send.next_index),
                ]
                pair = self._config.pairs.get(send.pair)
                if self._halted(send.country):
                    # Its country halted while it waited: no pair of it takes it.
                    halted = f"{halted_said(send.country)}; halted while it waited to be sent"
                    self._strand(send, f"not sent: {halted}", expect=expect)
                elif pair is None or not pair.state.runs_sessions:
                    # Its pair stopped running while it waited: none of its programs takes
                    # it, and the fault is none of theirs.
                    stopped = f"{send.pair} was {_stopped(pair)} while it waited to be sent"
                    self._elsewhere(send, SendEvent.UNCLAIMED, stopped, stopped, expect=expect)
                else:
                    spec = self._config.session_specs.get(session_name(program, send.pair))
                    why = (
                        f"its session {spec.name} is stopped"
                        if spec is not None and spec.desired is DesiredState.stopped
                        else "not leasing, or its number awaiting another code"
                    )
                    self._next_program(
                        send,
                        SendEvent.UNCLAIMED,
                        f"{program}: did not take it within {waited} s ({why})",
                        expect=expect,
                        tried=False,
                    )
                moved += 1
        return moved

    # --- helpers -----------------------------------------------------------------------

    def _broken_off(self, send: Send, attempt: Attempt, why: str) -> None:
        """Its try was broken off: no failure of the route.

        Its SMS reached the gateway (`sent_at`) and the try was broken off while it awaited
        its code: it ends FAILED, sent at a known time, its outcome unknown; never sent again
        through another program or pair, as the recipient may already have its code.

        Not known whether sent (`NOT_KNOWN_IF_SENT_CODES`): FAILED, and never sent again
        either.

        Not sent: while its pair runs (a program restarted or killed), the pair's next
        program. Once the pair is stopped, another running pair of its country takes it with
        the tries it has left (this one is not spent); with none, it ends NOT_SENT saying
        why."""
        expect: list[tuple[str, object]] = [("attempt_id", attempt.id)]
        pair = self._config.pairs.get(send.pair)
        if attempt.sent_at is not None:
            self._cut_off_once_sent(send, attempt, attempt.sent_at, pair, expect=expect)
            return
        if attempt.error_code in NOT_KNOWN_IF_SENT_CODES:
            self._not_known_if_sent(send, why, expect=expect)
            return
        if pair is None or not pair.state.runs_sessions:
            stopped = f"{send.pair} was {_stopped(pair)} while it was being sent"
            self._elsewhere(send, SendEvent.BROKEN_OFF, f"{why}: {stopped}", stopped, expect=expect)
            return
        if send.next_index + 1 < len(send.programs):
            self._next_program(send, SendEvent.BROKEN_OFF, why, expect=expect)
            return
        unsent = (
            f"not sent: its try through {attempt.program} was broken off"
            f" ({attempt.error_code}), and {pair.key} has no program left to try"
        )
        self._strand(send, unsent, expect=expect)

    def _elsewhere(
        self,
        send: Send,
        event: SendEvent,
        why: str,
        stopped: str,
        *,
        expect: list[tuple[str, object]],
    ) -> None:
        """Its pair stopped running (`stopped` says how) before its SMS went out: another
        running pair of its country takes it with the tries it has left, `why` kept as its
        error; with none, it ends NOT_SENT saying why."""
        country = (p for p in self._config.pairs.list() if p.country == send.country)
        others = _runnable(p for p in country if p.key != send.pair)
        if not others:
            self._strand(
                send, f"not sent: {stopped}; no other pair of {send.country} runs", expect=expect
            )
            return
        other, left = others[0], len(send.programs) - send.next_index
        changes: dict[str, object] = {
            "pair": other.key,
            "programs": other.programs[:left],
            "next_index": 0,
            "attempt_id": None,
            "leased_until": None,
            "waiting_since": self._clock.now(),
            "error": _after_earlier(send, f"{why}; sent through {other.key} instead"),
        }
        self._move(send, event, changes, expect=expect)

    def _strand(self, send: Send, unsent: str, *, expect: list[tuple[str, object]]) -> None:
        """Nothing left to carry it: NOT_SENT, saying why (`unsent`, "not sent: …"). One
        whose earlier try's SMS reached the gateway (`sent_at`) was sent, and failed: it
        ends FAILED, its last try's error first."""
        event, error = SendEvent.STRANDED, unsent
        if send.sent_at is not None:
            sent = human_time(send.sent_at, now=self._clock.now())
            again = unsent.removeprefix("not sent: ")
            said = f"sent at {sent}"
            if send.error:  # its tries' own, which tell when one was sent, unless retried since
                said = send.error if said in send.error else f"{send.error}; {said}"
            event, error = SendEvent.EXHAUSTED, f"{said}; not again: {again}"
        changes: dict[str, object] = {
            "attempt_id": None,
            "leased_until": None,
            "error": error[:512],
            "completed_at": self._clock.now(),
        }
        self._move(send, event, changes, expect=expect)

    def _cut_off_once_sent(
        self,
        send: Send,
        attempt: Attempt,
        sent_at: datetime,
        pair: Pair | None,
        *,
        expect: list[tuple[str, object]],
    ) -> None:
        """Its SMS was sent at `sent_at`, and its try broken off while it awaited its code:
        FAILED, and never sent again."""
        now = self._clock.now()
        if pair is not None and pair.state.runs_sessions:
            why = f"its try was broken off ({attempt.error_code}) while it awaited its code"
        else:
            why = f"{send.pair} was {_stopped(pair)} while it awaited its code"
        sent = human_time(sent_at, now=now)
        error = f"sent at {sent} through {attempt.program}, its code not awaited: {why}"
        self._never_again(send, SendEvent.CUT_OFF_ONCE_SENT, error, expect=expect)

    def _not_known_if_sent(self, send: Send, why: str, *, expect: list[tuple[str, object]]) -> None:
        """Its try left it unknown whether its SMS left: FAILED, and never sent again, as
        the recipient may have its code; a person who knows it did not come retries it."""
        error = (
            f"{why}: whether its SMS left is not known, so it is not sent again (the number"
            " may have its code); retry it if none came"
        )
        # Kept whatever comes next: a retry asks, as for one known sent.
        send = send.model_copy(update={"sent_unknown": True})
        self._never_again(send, SendEvent.NOT_KNOWN_IF_SENT, error, expect=expect)

    def _never_again(
        self, send: Send, event: SendEvent, error: str, *, expect: list[tuple[str, object]]
    ) -> None:
        """End it by `event` (FAILED), saying `error` after its earlier tries."""
        changes: dict[str, object] = {
            "attempt_id": None,
            "leased_until": None,
            "error": _after_earlier(send, error),
            "completed_at": self._clock.now(),
        }
        self._move(send, event, changes, expect=expect)

    def _next_program(
        self,
        send: Send,
        event: SendEvent,
        why: str,
        *,
        expect: list[tuple[str, object]],
        tried: bool = True,
    ) -> None:
        """The send's program failed it (`event`): the next program, or FAILED after the last."""
        following = send.next_index + 1
        changes: dict[str, object] = {
            "attempt_id": None,
            "leased_until": None,
            "error": _after_earlier(send, why),
            "next_index": following,
            "waiting_since": self._clock.now(),
        }
        if following >= len(send.programs):
            event = SendEvent.EXHAUSTED
            changes["completed_at"] = self._clock.now()
        self._move(send, event, changes, expect=expect)
        if not tried:
            log.info("send %s: %s; trying the next program", send.id, why)

    def _move(
        self,
        send: Send,
        event: SendEvent,
        changes: dict[str, object],
        *,
        expect: Sequence[tuple[str, object]] = (),
    ) -> Send | None:
        """The one way a send's status changes: `event` by the table, written only if the
        send is still in the state it was read in (and the `expect`ed values)."""
        target = transition(send.status, event, send_id=send.id)
        return self._update(
            send,
            {**changes, "status": target},
            expect=[("status", send.status.value), *expect],
        )

    def _update(
        self,
        send: Send,
        changes: dict[str, object],
        *,
        expect: Sequence[tuple[str, object]] = (),
    ) -> Send | None:
        updated = send.model_copy(update={**changes, "updated_at": self._clock.now()})
        if not self._store.update_send(updated, expect=expect):
            return None
        self._changed(updated)
        return updated

    def _changed(self, send: Send) -> None:
        self._kept.forget()
        if self._on_change is not None:
            self._on_change(send)

    def _template(self, template_id: str) -> Template:
        return get_template(templates=self._config.templates, template_id=template_id)

    def _render(self, send: Send, provider: str) -> str:
        if send.template_id is None:
            return send.text or ""
        return render(self._template(send.template_id), send.params, provider)

    def _check_sends_through(self, pair: Pair) -> None:
        """Refuse a send that nothing would lease: the pair has no program, runs none,
        has no test number (its sessions are held stopped until one is added), its country
        is halted, or none of its sessions is started."""
        _check_sends_through(pair)
        if self._halted(pair.country):
            raise Conflict(f"{halted_said(pair.country)}, so nothing would send it")
        if not self._started(pair):
            first = session_name(pair.programs[0], pair.key)
            raise Conflict(
                f"none of pair {pair.key}'s sessions is started, so nothing would send it:"
                f" start one first ({first}, say)"
            )

    def _halted(self, code: str) -> bool:
        """Its country's cap is 0: no program of it is granted a send."""
        country = self._config.countries.get(code)
        return country is not None and country.halted

    def _started(self, pair: Pair) -> bool:
        """Whether one of the pair's sessions is started (wanted running)."""
        names = {session_name(program, pair.key) for program in pair.programs}
        return any(
            spec.name in names and spec.desired is DesiredState.running
            for spec in self._config.session_specs.list()
        )

    def _pair_for(self, phone: str, key: str | None) -> Pair:
        if key is not None:
            pair = self._config.pairs.get(key)
            if pair is None:
                raise ValidationFailed.for_field("pair", "unknown pair", message=f"no pair {key!r}")
            return pair
        country = self._country_of(phone)
        pairs = [p for p in self._config.pairs.list() if p.country == country]
        normalized = self._normalize(phone, country)
        for pair in pairs:
            if normalized in pair.phone_numbers:
                return pair
        running = _runnable(pairs)
        if not running:
            raise ValidationFailed.for_field(
                "phone",
                f"no active {country} pair",
                message=f"no active pair of {country} to send through",
            )
        # One whose sessions are started, if any is: the others' would be refused.
        return next((pair for pair in running if self._started(pair)), running[0])

    def _check_number_of(self, pair: Pair, phone: str) -> None:
        """Refuse a send through `pair` to another pair's test number: that number awaits
        one code at a time, of its own pair's attempts, and a code sent to it by another
        pair would be taken for theirs."""
        if phone in pair.phone_numbers:
            return
        owner = next((p.key for p in self._config.pairs.list() if phone in p.phone_numbers), None)
        if owner is not None:
            raise ValidationFailed.for_field(
                "pair",
                f"{phone} is a test number of {owner}",
                message=f"{phone} is a test number of {owner}, not of {pair.key}: send it"
                f" through {owner}, or without naming a pair",
            )

    def _country_of(self, phone: str) -> str:
        region = phones.country_of(phone, self._region)
        if region is None:
            raise ValidationFailed.for_field(
                "phone",
                "not an E.164 number",
                message=f"{phone[:32]!r} is not an international number:"
                " write it as +<country code>…",
            )
        return str(region)

    @staticmethod
    def _normalize(phone: str, country: str) -> str:
        """E.164; a number without `+` is national to `country`. A number of another
        country is refused: a send through a pair it names would spend that pair's
        country's room."""
        region = phones.country_of(phone, country)
        if region is None:
            raise ValidationFailed.for_field(
                "phone", "not a phone number", message=f"{phone[:32]!r} is not a phone number"
            )
        if region != country:
            raise ValidationFailed.for_field(
                "phone",
                f"not a number of {country}",
                message=f"{phone[:32]!r} is a number of {region}, not {country}: send it through"
                f" a pair of {region}, or without naming one",
            )
        return phones.canonical(phone, country)


def _after_earlier(send: Send, said: str) -> str:
    """A try's `said` after what the send's earlier tries of this run said (a retry starts
    afresh), so that its error tells every try; past 512 characters, the oldest go."""
    error = f"{send.error}; {said}" if send.error else said
    return error if len(error) <= 512 else "…" + error[-511:]


def _check_sends_through(pair: Pair) -> None:
    """Refuse a send that nothing would lease: the pair has no program, runs none, or has
    no test number (its sessions are held stopped until one is added)."""
    if not pair.programs:
        raise Conflict(f"pair {pair.key} has no program to send through")
    if not pair.phone_numbers:
        raise Conflict(
            f"pair {pair.key} has no test phone numbers, so its sessions are held stopped"
            " and nothing would send it: add one to the pair first"
        )
    if not pair.state.runs_sessions:
        raise Conflict(
            f"{pair.runs_no_sessions()}, so nothing would send it: resume the pair first"
        )


def _runnable(pairs: Iterable[Pair]) -> list[Pair]:
    """The pairs a send can go through now, high-priority first."""
    running = [p for p in pairs if p.state.runs_sessions and p.programs and p.phone_numbers]
    return sorted(running, key=lambda p: (not p.is_high_priority, p.key))


def _stopped(pair: Pair | None) -> str:
    """`paused by the policy`, `disabled by alice`, `deleted`: what became of a pair."""
    if pair is None:
        return "deleted"
    actor = pair.state_actor
    if actor is None:
        return pair.state.value
    return f"{pair.state.value} by {named_actor(actor)}"
