"""The dispatcher: the one path every send takes (lease → send → report).

A session's program leases a send; the lease passes the per-country limiter and
names a test number of the pair in rotation. The program then reports the
outcome once; reports are idempotent by trigger id.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.engine import Engine

from smsfleet.apikeys.service import looks_like_api_key
from smsfleet.attempts import LoopReports, RedisLedger
from smsfleet.attempts.ledger import Ledger, ReportBeforeLease, SentNotice
from smsfleet.attempts.models import Attempt, Completion, Outcome
from smsfleet.attempts.store import AttemptStore, CountryGrants
from smsfleet.core.clock import Clock, human_time
from smsfleet.core.error_reports import tag
from smsfleet.core.errors import Forbidden, NotFound, Throttled, Unauthorized, ValidationFailed
from smsfleet.core.nonblocking import WouldBlock, may_block, nonblocking
from smsfleet.core.security import verify_worker_token
from smsfleet.core.settings import LEASE_TTL_SECONDS, Settings
from smsfleet.core.sql import fleet_prefix
from smsfleet.dispatch._redis_admission import LoopAdmission, RedisAdmission
from smsfleet.dispatch.admission import Admission, Admitted, Entry, SqlAdmission, lease_terms
from smsfleet.dispatch.goals import (
    GOAL_WINDOW,
    CountryGoal,
    FailingLine,
    Granted,
    Route,
    country_goals,
)
from smsfleet.dispatch.inflight import InFlightPolicy, Outlook, allowance
from smsfleet.dispatch.limiter import Ask, Limiter, LimiterPolicy, LimiterUnavailable
from smsfleet.dispatch.models import (
    LeaseAction,
    ReportRequest,
    ReportStatus,
    SendAction,
    SentNow,
    StopAction,
    WaitAction,
)
from smsfleet.dispatch.pace import SessionPace
from smsfleet.dispatch.store import HeartbeatStore
from smsfleet.pairs.models import Pair, PairState, halted_said
from smsfleet.policy.service import pair_window_stats
from smsfleet.policy.stats import Window, WindowStats
from smsfleet.sessions.models import DesiredState, SessionSpec, drains
from smsfleet.stores import ConfigStore

__all__ = ["DispatchPolicy", "Dispatcher", "SessionChecked", "build_dispatcher"]

MESSAGE_TEMPLATE = "smsfleet test {code}"
# How long a program waits before asking again while the limiter cannot decide.
UNAVAILABLE_RETRY_SECONDS = 5.0
# How long a program of a pair the policy paused waits to ask again while its attempts in
# flight finish (allowed none in flight, it also waits out its full-wait, 5 s in the SDK).
PAUSED_ASK_AGAIN_SECONDS = 1.0
# How long a program of a halted country (its cap 0) waits to ask again; sooner when its
# heartbeat shows the cap raised.
HALTED_ASK_AGAIN_SECONDS = 60.0
# How far a program's clock may be from the control plane's in the times it reports.
REPORTED_TIME_SLACK = timedelta(minutes=5)
# The cycle a busy session's wait assumes before its pair's is measured: ask again soon.
BUSY_RETRY_UNMEASURED = 1.0
# In the session counts beside countries (their codes) and pairs (their keys): the pairs
# of a country that have a session wanted running.
_PAIRS_IN = "pairs in "
# No number kept for an on-demand send, none carried.
_NONE_KEPT: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())

log = logging.getLogger("smsfleet.dispatch")


class OnDemandSend(Protocol):
    @property
    def phone(self) -> str: ...

    @property
    def message(self) -> str: ...


class OnDemandSource(Protocol):
    """Sends asked for by people, handed out by leases ahead of routine test sends."""

    def waiting(self) -> bool:
        """Whether any send may be waiting (a lease then looks for one to carry)."""
        ...

    def claim(
        self, *, pair: str, program: str, attempt_id: str, busy: frozenset[str] = frozenset()
    ) -> OnDemandSend | None:
        """The oldest send waiting for this program, to a number not in `busy`."""
        ...

    def kept(self, pair: str) -> Mapping[str, frozenset[str]]:
        """The pair's test numbers kept for its waiting sends, each with the programs the
        sends wait for: no routine test of the pair is handed one."""
        ...

    def settle(self, attempt: Attempt) -> None: ...

    def left(self, attempt_id: str, *, sent_at: datetime) -> None:
        """The SMS of `attempt_id` left at `sent_at`, as its program told before its report."""
        ...


@dataclass(frozen=True)
class DispatchPolicy:
    default_cap: int = 10
    high_priority_weight: float = 2.0
    normal_weight: float = 1.0
    program_weights: Mapping[str, float] = field(default_factory=dict)
    lease_ttl: timedelta = timedelta(seconds=LEASE_TTL_SECONDS)
    # How often (at most) a session's lease looks for its unreported, expired leases.
    expiry_check: timedelta = timedelta(seconds=5)
    message_template: str = MESSAGE_TEMPLATE
    # A pair the success-rate policy probes gets one send per interval, whatever its share.
    probe_interval: timedelta = timedelta(seconds=30)
    in_flight: InFlightPolicy = field(default_factory=InFlightPolicy)
    # How long the count of sessions per country is reused before it is counted again.
    sessions_refresh: timedelta = timedelta(seconds=5)
    # How old the config a lease reads may be (another process's changes; see Settings).
    config_max_age: timedelta = timedelta(0)
    # When the goals call a country's route failing (the success alert's warning line).
    failing_line: FailingLine = field(default_factory=FailingLine)
    # Each session's worker requests: this many a second, and as many as `request_burst`
    # at once (see Settings).
    requests_per_second: float = 20.0
    request_burst: int = 60
    # How soon after its grant a program's SMS must leave (the limiter's window allows).
    send_within_seconds: float = LimiterPolicy().send_within_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchPolicy:
        # Settings fields the dispatcher reads when present; defaults otherwise.
        return cls(
            default_cap=settings.default_country_cap,
            high_priority_weight=settings.high_priority_weight,
            program_weights=dict(settings.program_weights),
            lease_ttl=timedelta(seconds=settings.lease_ttl_seconds),
            config_max_age=timedelta(seconds=settings.config_max_age_seconds),
            probe_interval=timedelta(seconds=settings.policy.probe_interval_seconds),
            in_flight=InFlightPolicy(
                ceiling=settings.max_in_flight_per_session,
                program_limits=dict(settings.program_max_in_flight),
            ),
            failing_line=FailingLine(
                line=settings.alert.success_warning,
                window=Window(
                    span=timedelta(minutes=settings.policy.window_minutes),
                    max_attempts=settings.policy.window_max_attempts,
                ),
                z=settings.policy.z,
                fewest=settings.policy.min_samples,
            ),
            requests_per_second=settings.worker_requests_per_second,
            request_burst=settings.worker_request_burst,
        )


@dataclass(frozen=True)
class _Admitting:
    """A lease up to its admission: what it asks, and what its answer is read with."""

    entry: Entry
    pair: Pair
    program: str
    # The pair's mean lease-to-report time, as the allowance was sized (None: unmeasured).
    observed_cycle: float | None


class Dispatcher:
    def __init__(
        self,
        *,
        config_store: ConfigStore,
        attempts: AttemptStore,
        heartbeats: HeartbeatStore,
        ledger: Ledger | None = None,
        limiter: Limiter,
        admission: Admission,
        clock: Clock,
        worker_secret: str,
        policy: DispatchPolicy | None = None,
        on_report: Callable[[Attempt], None] | None = None,
        on_grant: Callable[[str], None] | None = None,
        on_demand: OnDemandSource | None = None,
    ) -> None:
        self.config_store = config_store
        self.attempts = attempts
        # Leases and reports go through the ledger (in Redis on the Redis profile);
        # reads over time through the attempts' store.
        self.ledger: Ledger = ledger if ledger is not None else attempts
        self.limiter = limiter
        self.clock = clock
        # The session's room, the country's grant and the attempt opened, in one step.
        self.admission = admission
        self.policy = policy or DispatchPolicy()
        self._heartbeats = heartbeats
        self._worker_secret = worker_secret
        self._pace = SessionPace(
            rate=self.policy.requests_per_second, burst=self.policy.request_burst
        )
        self._expiry_checked: dict[str, datetime] = {}
        # Per pair: when measured, the mean cycle (None: nothing completed yet), and how
        # many completed attempts it rests on.
        self._cycles: dict[str, tuple[datetime, float | None, int]] = {}
        self._sessions_lock = threading.Lock()
        self._sessions_counted: tuple[datetime, dict[str, int]] | None = None
        # Told of every grant, by country, when it is given (the grants counter).
        self.on_grant = on_grant
        # Told of every attempt that gets an outcome (metrics, live dashboard).
        self.on_report = on_report
        # On-demand sends take a granted slot before the routine test send would.
        self.on_demand = on_demand
        # Leases and reports from the app's event loop (`on_loop`, Redis profile).
        self._loop_admission: LoopAdmission | None = None
        self._loop_reports: LoopReports | None = None

    def start(self) -> None:
        if isinstance(self.ledger, RedisLedger):
            self.ledger.start()

    def close(self) -> None:
        if isinstance(self.ledger, RedisLedger):
            self.ledger.close()
        self.limiter.close()
        self._heartbeats.close()

    def authenticate(self, *, session: str, token: str | None) -> datetime:
        """The creation time of the session `token` was issued for (checked against the
        session's spec where its route reads it); `Unauthorized` unless `token` is a worker
        token of `session`. A hash: no I/O."""
        if not token:
            raise Unauthorized("worker token required: send Authorization: Bearer <token>")
        issued_for = verify_worker_token(secret=self._worker_secret, session=session, token=token)
        if issued_for is None and _EARLIER_TOKEN_FORM.fullmatch(token):
            # The form before tokens named their session's creation: a program started
            # before the control plane's upgrade. Refused; it is started again with a new one.
            raise Unauthorized(
                f"the worker token of session {session!r} is of the form before this control"
                " plane's upgrade (it names no creation of the session): stop this program;"
                " the control plane starts it again with a token of today's form"
            )
        if issued_for is None and (looks_like_api_key(token) or _SIGN_IN_TOKEN.fullmatch(token)):
            raise Unauthorized(
                "an API key or a sign-in token (JWT) is no worker token: the worker routes"
                " take the SMSFLEET_WORKER_TOKEN the control plane gave the session's program"
            )
        if issued_for is None:
            # Mostly issued by another control plane (another secret): its program was sent
            # to the wrong one; else another session's token, or none of this one's making.
            # Refused, and the SDK exits on the refusal rather than sending here.
            raise Unauthorized(
                f"this control plane did not start session {session!r}: its worker token is"
                " another control plane's (or this one's secret key changed), or another"
                " session's; the program's SMSFLEET_URL must be the control plane that"
                " started it, and its SMSFLEET_SESSION the session it was started for"
            )
        tag(fleet_session=session)
        return issued_for

    def pace(self, *, session: str) -> None:
        """Raise `Throttled` when `session` (as `authenticate` found it) asks faster than
        its worker requests' pace; before any store work, so a flood costs a dict step."""
        wait = self._pace.take(session, self.clock.now().timestamp())
        if wait:
            policy = self.policy
            raise Throttled(
                f"session {session!r} makes more than {policy.requests_per_second:g} worker"
                f" requests a second ({policy.request_burst} at once): slow down",
                retry_after=math.ceil(wait),
            )

    # --- lease -------------------------------------------------------------------

    def lease(
        self,
        *,
        session: str,
        in_flight: Sequence[str] | None = None,
        issued_for: datetime | None = None,
        arrived: datetime | None = None,
    ) -> LeaseAction:
        """A send, a wait or a stop for the session.

        `issued_for`: the creation time its worker token names (`authenticate`), refused
        unless the session's spec's; None for this process's own callers, with no token.

        `arrived`: when the request came (by `clock`): a send says how long it waited here
        before its grant was decided (`SendAction.waited`).

        `in_flight`: the trigger ids its program still carries or has yet to report; the
        session's other open attempts were lost on the way (a grant whose answer never
        arrived, a program killed meanwhile) and are closed as `lease_lost`, so their test
        numbers are free again. Unsaid (older programs), open attempts wait for their ttl.
        """
        # One look at what changed in the config for the session, its pair and country
        # (and the counts of sessions), not one for each; and none while this process
        # looked less than `config_max_age` ago.
        with self._one_read():
            step = self._lease(session, in_flight, issued_for)
            if not isinstance(step, _Admitting):
                return step
            try:
                admitted = self.admission.admit(step.entry)
            except LimiterUnavailable as error:
                return self._unavailable(step, error)
            return self._admitted(step, admitted, arrived=arrived)

    async def lease_on_loop(
        self,
        *,
        session: str,
        in_flight: Sequence[str] | None = None,
        issued_for: datetime | None = None,
        arrived: datetime | None = None,
    ) -> LeaseAction | None:
        """`lease` from the event loop (`on_loop`: the Redis profile), when all it needs
        besides the admission's script is in memory; None when it must be made in a
        thread (`lease`): the config or the counts of sessions to read again, the
        pair's cycle to measure, a stop's withdrawal, a probe, an on-demand send."""
        admission = self._loop_admission
        if admission is None:
            return None
        try:
            with nonblocking(), self._one_read():
                step = self._lease(session, in_flight, issued_for)
        except WouldBlock:
            return None
        if not isinstance(step, _Admitting):
            return step
        if not step.entry.open:  # an on-demand send may be claimed (SQL)
            return None
        try:
            admitted = await admission.admit(step.entry)
        except LimiterUnavailable as error:
            return self._unavailable(step, error)
        with nonblocking():  # a listener that would block is told from a thread
            return self._admitted(step, admitted, arrived=arrived)

    def _one_read(self) -> AbstractContextManager[None]:
        return self.config_store.one_read(self.policy.config_max_age.total_seconds())

    def _lease(
        self, session: str, in_flight: Sequence[str] | None, issued_for: datetime | None
    ) -> LeaseAction | _Admitting:
        """The lease up to its admission: a stop or a wait already, or what to admit."""
        spec = self.config_store.session_specs.get(session)
        if spec is None:
            return StopAction(reason=f"unknown session {session!r}")
        _check_issued_for(spec, issued_for)
        step = self._lease_of(spec, in_flight)
        # Its program ends once told `stop`: the supervisor tells that end from a crash.
        self._heartbeats.beat(session, self.clock.now(), stop_told=isinstance(step, StopAction))
        return step

    def _lease_of(
        self, spec: SessionSpec, in_flight: Sequence[str] | None
    ) -> LeaseAction | _Admitting:
        store = self.config_store
        session = spec.name
        if spec.desired is DesiredState.stopped:
            self._withdraw(spec.pair, spec.program)
            return StopAction(reason="the session's desired state is stopped")
        pair = store.pairs.get(spec.pair)
        if pair is None:
            self._withdraw(spec.pair, None)
            return StopAction(reason=f"pair {spec.pair!r} does not exist")
        if not pair.state.runs_sessions:
            self._withdraw(pair.key, None)
            why = f": {pair.state_reason}" if pair.state_reason else ""
            reason = f"pair {pair.key} is {pair.state.value}{why}"
            if in_flight and drains(spec.desired, pair):
                # Paused by the policy: nothing new is sent while the attempts in flight
                # finish, and a program that asks again meanwhile goes on at once if the
                # pair runs again. Told `stop` only once it carries none: it then ends.
                return WaitAction(
                    retry_after=PAUSED_ASK_AGAIN_SECONDS, max_in_flight=0, reason=reason
                )
            return StopAction(reason=reason)
        if spec.program not in pair.programs:
            self._withdraw(pair.key, spec.program)
            return StopAction(reason=f"program {spec.program} is not assigned to {pair.key}")
        if not pair.phone_numbers:
            # Its sessions are held stopped until a number is added (`Pair.runs_sessions`):
            # its program ends as any stopped on purpose does, and is started again then.
            self._withdraw(pair.key, None)
            return StopAction(reason=f"pair {pair.key} has no test phone number")

        country = store.countries.get(pair.country)
        if country is not None and country.halted:
            # Allowed none in flight: those it carries finish and are reported.
            return WaitAction(
                retry_after=HALTED_ASK_AGAIN_SECONDS,
                max_in_flight=0,
                reason=halted_said(pair.country),
            )
        if pair.state is PairState.probing and (wait := self._probe_wait(pair)) > 0:
            return WaitAction(retry_after=round(wait, 3), max_in_flight=1)
        return self._entry(session, pair, spec.program, in_flight)

    def _entry(
        self, session: str, pair: Pair, program: str, in_flight: Sequence[str] | None
    ) -> _Admitting:
        """What the admission is asked: the session's room, its country's grant and the
        attempt opened, in one step."""
        ask = self._ask(pair, program)
        observed = self._measured_cycle(pair)[0]
        limit = self._allowance(pair, program, cap=ask.cap, cycle=self._cycle(pair))
        # The session's leases never reported are given up at a lease, looked for at
        # most once an `expiry_check` per session (by this process).
        now = self.clock.now()
        checked = self._expiry_checked.get(session)
        expire = checked is None or not checked <= now < checked + self.policy.expiry_check
        # An on-demand send waiting takes a granted slot, with a number of its own: the
        # attempt is then opened here, once the send is claimed.
        on_demand_waiting = self.on_demand is not None and self.on_demand.waiting()
        kept, carries = self._kept(pair.key, program) if on_demand_waiting else _NONE_KEPT
        entry = Entry(
            ask=ask,
            session=session,
            attempt=Attempt(
                id=uuid.uuid4().hex,
                session=session,
                pair=pair.key,
                country=pair.country,
                operator=pair.slug,
                program=program,
                phone="",
                leased_at=now,
            ),
            phones=pair.phone_numbers,
            limit=limit,
            in_flight=in_flight,
            ttl=self.policy.lease_ttl,
            expire=expire,
            open=not on_demand_waiting,
            kept=kept,
            carries=carries,
        )
        return _Admitting(entry=entry, pair=pair, program=program, observed_cycle=observed)

    def _unavailable(self, step: _Admitting, error: LimiterUnavailable) -> WaitAction:
        # Fail closed: without a decision no SMS goes out; the program asks again.
        log.warning("no grant for %s: the limiter is unavailable (%s)", step.entry.session, error)
        return WaitAction(retry_after=UNAVAILABLE_RETRY_SECONDS, max_in_flight=step.entry.limit)

    def _admitted(
        self, step: _Admitting, admitted: Admitted, *, arrived: datetime | None = None
    ) -> LeaseAction:
        """The lease's answer once admitted: a send, or a wait. Nothing here blocks but
        an on-demand send claimed (`entry.open` false, never on the loop) and a listener
        with I/O to do (told from a thread when on the loop)."""
        entry, pair, program = step.entry, step.pair, step.program
        limit = entry.limit
        for closed in admitted.closed:
            self.tell_closed(closed)
        decision = admitted.decision
        if decision is None:
            return _busy(step, admitted.busy)
        if not decision.granted:
            return WaitAction(retry_after=round(decision.retry_after, 3), max_in_flight=limit)
        if entry.expire:
            self._expiry_checked[entry.session] = entry.attempt.leased_at
        if self.on_grant is not None:
            self.on_grant(pair.country)
        on_demand = None
        attempt = admitted.attempt
        if attempt is None:
            on_demand = self._claim(pair.key, program, entry.attempt.id)
            phone = on_demand.phone if on_demand is not None else None
            attempt, terms = lease_terms(entry, at=decision.at, phone=phone)
            if on_demand is None and not terms["rotate"]:
                # Every number is kept for a waiting send, and none was this lease's to
                # carry (another lease took it meanwhile): no routine test on them either.
                return _busy(step, None)
            attempt, expired = self.ledger.lease(attempt, **terms)
            for closed in expired:
                self.tell_closed(closed)
        ttl = self.policy.lease_ttl
        return SendAction(
            trigger_id=attempt.id,
            phone=attempt.phone,
            message=on_demand.message
            if on_demand is not None
            else self.policy.message_template.format(code=attempt.id[:8]),
            pair=pair.key,
            program=program,
            expires_at=attempt.leased_at + ttl,
            max_in_flight=limit,
            send_within=self.policy.send_within_seconds,
            waited=_waited(arrived, decision.at),
        )

    # --- attempts in flight ------------------------------------------------------

    def _measured_cycle(self, pair: Pair) -> tuple[float | None, int]:
        """The pair's mean lease-to-report time and its sample, measured every `refresh`
        on its attempts since its state last changed: after a resume, an outage's SMS
        held until the gateway gave up say nothing of its pace now."""
        policy = self.policy.in_flight
        now = self.clock.now()
        cached = self._cycles.get(pair.key)
        if cached is None or not cached[0] <= now < cached[0] + policy.refresh:
            may_block()
            measured = self.attempts.cycle_seconds(
                pair.key,
                sample=policy.sample,
                open_since=now - self.policy.lease_ttl,
                now=now,
                leased_since=pair.state_changed_at,
            )
            mean, completed = measured if measured is not None else (None, 0)
            cached = (now, mean, completed)
            self._cycles[pair.key] = cached
        return cached[1], cached[2]

    def _cycle(self, pair: Pair) -> float:
        """The cycle sessions are sized by: until enough attempts completed, never below
        the assumed one (a route's first completions are its fastest)."""
        mean, completed = self._measured_cycle(pair)
        assumed = self.policy.in_flight.default_cycle.total_seconds()
        if mean is None:
            return assumed
        return mean if completed >= self.policy.in_flight.min_sample else max(mean, assumed)

    def _session_counts(self) -> dict[str, int]:
        """Sessions wanted running, on pairs that run sessions, per country (by its code)
        and per pair (by its key); and how many such pairs each country has."""
        now, refresh = self.clock.now(), self.policy.sessions_refresh
        counted = self._sessions_counted
        if counted is not None and counted[0] <= now < counted[0] + refresh:
            return counted[1]
        may_block()  # counting reads the config, and waits for another thread's count
        with self._sessions_lock:
            counted = self._sessions_counted
            if counted is not None and counted[0] <= now < counted[0] + refresh:
                return counted[1]
            counts: dict[str, int] = {}
            for pair, _program in self._wanted_sessions():
                counts[pair.country] = counts.get(pair.country, 0) + 1
                counts[pair.key] = counts.get(pair.key, 0) + 1
                if counts[pair.key] == 1:
                    counts[_PAIRS_IN + pair.country] = counts.get(_PAIRS_IN + pair.country, 0) + 1
            self._sessions_counted = (now, counts)
            return counts

    def _wanted_sessions(self) -> list[tuple[Pair, str]]:
        """(pair, program) of every session wanted running on a pair that runs sessions."""
        pairs = {pair.key: pair for pair in self.config_store.pairs.list()}
        wanted = []
        for spec in self.config_store.session_specs.list():
            pair = pairs.get(spec.pair)
            if pair is not None and spec.should_run(pair) and spec.program in pair.programs:
                wanted.append((pair, spec.program))
        return wanted

    def _allowance(self, pair: Pair, program: str, *, cap: int, cycle: float) -> int:
        if pair.state is PairState.probing:
            return 1  # one probe at a time, as its waits between probes say
        counts = self._session_counts()
        return allowance(
            cap_per_minute=cap,
            cycle_seconds=cycle,
            sessions_in_country=counts.get(pair.country, 1),
            pairs_in_country=counts.get(_PAIRS_IN + pair.country, 1),
            sessions_in_pair=counts.get(pair.key, 1),
            # The pair's sessions share its test numbers: one that asks again first (its
            # program waits on its own attempts) must not hold them all.
            phones=math.ceil(len(pair.phone_numbers) / counts.get(pair.key, 1)),
            program=program,
            policy=self.policy.in_flight,
        )

    def goals(self, *, window: timedelta = GOAL_WINDOW) -> list[CountryGoal]:
        """Per country: its goal, what it is granted now, and why when it falls short."""
        store = self.config_store
        now = self.clock.now()
        pairs = store.pairs.list()
        failing_line = self.policy.failing_line
        stats = pair_window_stats(self.attempts, pairs, window=failing_line.window, now=now)
        newest = pair_window_stats(self.attempts, pairs, window=failing_line.newest, now=now)
        outlooks = self.outlooks()
        counted = {key for outlook in outlooks.values() for key in outlook.pairs}
        phones = {pair.key: len(pair.phone_numbers) for pair in pairs}
        awaiting: dict[str, tuple[int, int]] = {}  # by country, on the pairs counted
        held: dict[str, tuple[int, int]] = {}  # by pair
        leased_since = now - self.policy.lease_ttl
        for (country, pair), (count, stale) in self.attempts.awaiting_by_pair(
            leased_since=leased_since, now=now
        ).items():
            # A number awaits one code at a time: one taken off the pair while it did is
            # not one of its numbers any more.
            count = min(count, phones.get(pair, 0))
            stale = min(stale, count)
            held[pair] = (count, stale)
            # The country's test numbers are those of its pairs with sessions wanted
            # running: a paused pair's SMS still in flight (its sessions drain) hold
            # numbers that are not among them, and are not counted against them either.
            if pair in counted:
                before = awaiting.get(country, (0, 0))
                awaiting[country] = (before[0] + count, before[1] + stale)
        granted = self.attempts.granted_by_country(since=now - window)
        return country_goals(
            countries=store.countries.list(),
            pairs=pairs,
            specs=store.session_specs.list(),
            statuses={status.name: status for status in store.session_status.list()},
            outlooks=outlooks,
            granted={
                country: Granted(
                    **granted.get(country, CountryGrants(0, 0, 0))._asdict(),
                    awaiting=awaiting.get(country, (0, 0))[0],
                    stale=awaiting.get(country, (0, 0))[1],
                )
                for country in set(granted) | set(awaiting)
            },
            routes={
                pair.key: Route(
                    stats=stats.get(pair.key, WindowStats(samples=0, delivered=0)),
                    awaiting=held.get(pair.key, (0, 0))[0],
                    stale=held.get(pair.key, (0, 0))[1],
                    newest=newest.get(pair.key),
                )
                for pair in pairs
            },
            now=now,
            window=window,
            failing_line=failing_line,
        )

    def outlooks(self) -> dict[str, Outlook]:
        """Per country: what its running sessions can send a minute as they are sized."""
        countries = {c.code: c for c in self.config_store.countries.list()}
        per_country: dict[str, list[tuple[Pair, str]]] = {}
        for pair, program in self._wanted_sessions():
            if pair.phone_numbers:
                per_country.setdefault(pair.country, []).append((pair, program))
        outlooks = {}
        for code, sessions in per_country.items():
            country = countries.get(code)
            cap = country.cap if country is not None else self.policy.default_cap
            in_flight: dict[str, int] = {}
            cycles: dict[str, float] = {}
            phones: dict[str, int] = {}
            for pair, program in sessions:
                phones[pair.key] = len(pair.phone_numbers)
                cycles[pair.key] = self._cycle(pair)
                granted = in_flight.get(pair.key, 0) + self._allowance(
                    pair, program, cap=cap, cycle=cycles[pair.key]
                )
                in_flight[pair.key] = min(granted, len(pair.phone_numbers))
            # A probed pair sends one probe per interval, however many of its sessions
            # may carry one.
            interval = self.policy.probe_interval.total_seconds()
            probed = {pair.key for pair, _ in sessions if pair.state is PairState.probing}
            for key in probed:
                in_flight[key] = min(in_flight[key], max(1, math.ceil(cycles[key] / interval)))
            # Each pair sends at its own pace; the country's capacity is their sum.
            capacity = 0.0
            for key, carried in in_flight.items():
                pace = carried * 60 / max(cycles[key], 0.001)
                capacity += min(pace, 60 / interval) if key in probed else pace
            total = sum(in_flight.values())
            outlooks[code] = Outlook(
                country=code,
                cap=cap,
                sessions=len(sessions),
                in_flight_limit=total,
                cycle_seconds=round(total * 60 / capacity, 1) if capacity else 0.0,
                phones=sum(phones.values()),
                pairs=frozenset(phones),
            )
        return outlooks

    def _kept(self, pair: str, program: str) -> tuple[frozenset[str], frozenset[str]]:
        """The pair's numbers kept for waiting on-demand sends, and those of them whose send
        `program` waits to carry."""
        if self.on_demand is None:
            return _NONE_KEPT
        try:
            kept = self.on_demand.kept(pair)
        except Exception:  # the lease goes on, keeping no number
            log.exception("reading the numbers kept for on-demand sends of %s failed", pair)
            return _NONE_KEPT
        if not kept:
            return _NONE_KEPT
        carries = frozenset(phone for phone, programs in kept.items() if program in programs)
        return frozenset(kept), carries

    def _claim(self, pair: str, program: str, trigger_id: str) -> OnDemandSend | None:
        if self.on_demand is None:
            return None
        try:
            # A number awaits one code at a time: a send to one of the pair's numbers that
            # awaits a code (a routine test's, a probe's) waits for it to be free.
            since = self.clock.now() - self.policy.lease_ttl
            busy = frozenset(
                phone for _, _, phone in self.ledger.open_in_pair(pair, leased_since=since)
            )
            return self.on_demand.claim(
                pair=pair, program=program, attempt_id=trigger_id, busy=busy
            )
        except Exception:  # the routine send still goes out on this slot
            log.exception("claiming an on-demand send for %s failed", pair)
            return None

    def _ask(self, pair: Pair, program: str) -> Ask:
        policy = self.policy
        country = self.config_store.countries.get(pair.country)
        return Ask(
            country=pair.country,
            pair=pair.key,
            program=program,
            cap=country.cap if country is not None else policy.default_cap,
            pair_weight=policy.high_priority_weight
            if pair.is_high_priority
            else policy.normal_weight,
            program_weight=policy.program_weights.get(program, 1.0),
        )

    def _probe_wait(self, pair: Pair) -> float:
        """Seconds until a probing pair's next send: its latest lease plus the interval."""
        may_block()
        latest = self.ledger.last_leased(pair.key)
        if latest is None:
            return 0.0
        due = latest + self.policy.probe_interval
        return max(0.0, (due - self.clock.now()).total_seconds())

    def _withdraw(self, pair_key: str, program: str | None) -> None:
        # A stopped asker would hold its country's slots until it goes stale.
        country = pair_key.split("_", 1)[0]
        may_block()
        self.limiter.withdraw(country=country, pair=pair_key, program=program)

    # --- report and heartbeat ----------------------------------------------------

    def report(
        self, *, session: str, report: ReportRequest, issued_for: datetime | None = None
    ) -> ReportStatus:
        """Record an outcome once; a repeat answers `duplicate` and changes nothing.

        An unknown trigger is `NotFound`; a trigger leased to another session is
        `Forbidden` (the caller's token is valid, but not for that trigger). `issued_for`
        as for `lease`: a token of an earlier session of the name reports none of this one's.
        """
        with self._one_read():
            self._check_session_issued_for(session, issued_for)
        completion = self._completion(report)
        with _refused_before_lease(completion):
            attempt, closed = self.ledger.report(
                report.trigger_id,
                session=session,
                completion=completion,
                leased_by=_leased_by(completion),
            )
        return self._recorded(session, report.trigger_id, attempt, closed)

    async def report_on_loop(
        self, *, session: str, report: ReportRequest, issued_for: datetime | None = None
    ) -> ReportStatus | None:
        """`report` from the event loop (`on_loop`: the Redis profile); None when it must
        be made in a thread (`report`): no loop client, the config to read again, an
        on-demand send that may wait on it (its settling reads SQL), or whether one may is
        to be asked of the store."""
        reports = self._loop_reports
        if reports is None:
            return None
        try:
            with nonblocking():
                with self._one_read():
                    self._check_session_issued_for(session, issued_for)
                if self.on_demand is not None and self.on_demand.waiting():
                    return None
        except WouldBlock:  # whether one may wait is asked of the store
            return None
        completion = self._completion(report)
        with _refused_before_lease(completion):
            attempt, closed = await reports.report(
                report.trigger_id,
                session=session,
                completion=completion,
                leased_by=_leased_by(completion),
            )
        with nonblocking():  # a listener that would block is told from a thread
            return self._recorded(session, report.trigger_id, attempt, closed)

    @asynccontextmanager
    async def on_loop(self) -> AsyncIterator[None]:
        """While the app's event loop runs: leases and reports on a Redis ledger go from
        it, on a client of the loop's own."""
        ledger = self.ledger
        if not isinstance(ledger, RedisLedger) or (client := ledger.loop_client()) is None:
            yield
            return
        self._loop_reports = LoopReports(ledger, client)
        if isinstance(self.admission, RedisAdmission):
            self._loop_admission = self.admission.on_loop(client)
        try:
            yield
        finally:
            self._loop_admission = self._loop_reports = None
            await client.aclose()

    def _completion(self, report: ReportRequest) -> Completion:
        now = self.clock.now()
        self._check_reported_times(report, now)
        latency_ms = None
        if report.sent_at is not None and report.delivered_at is not None:
            latency_ms = int((report.delivered_at - report.sent_at) / timedelta(milliseconds=1))
        return Completion(
            outcome=report.outcome,
            completed_at=now,
            sent_at=report.sent_at,
            delivered_at=report.delivered_at,
            # A delivered SMS has no error: a code with it would count among the failures.
            error_code=None if report.outcome is Outcome.delivered else report.error_code,
            latency_ms=latency_ms,
            provider=report.provider,
        )

    def _check_reported_times(self, report: ReportRequest, now: datetime) -> None:
        """A send and its delivery happen during its lease, give or take the clocks'
        difference: times outside it would skew the latency figures for good. Checked
        here against a lease that could still be open; against the attempt's own lease
        by its ledger (`_leased_by`)."""
        for name, at in (("sent_at", report.sent_at), ("delivered_at", report.delivered_at)):
            if at is not None:
                self._check_within_lease(name, at, now)

    def _check_within_lease(self, name: str, at: datetime, now: datetime) -> None:
        earliest = now - self.policy.lease_ttl - REPORTED_TIME_SLACK
        latest = now + REPORTED_TIME_SLACK
        if not earliest <= at <= latest:
            raise ValidationFailed.for_field(
                name,
                "outside the attempt's lease",
                message=f"{name} {human_time(at, now=now)} is not within the attempt's"
                f" lease: between {human_time(earliest, now=now)} and"
                f" {human_time(latest, now=now)}",
            )

    def _recorded(
        self, session: str, trigger_id: str, attempt: Attempt | None, closed: bool
    ) -> ReportStatus:
        """What the ledger's answer to a report of `trigger_id` says to its caller."""
        if attempt is None:
            raise NotFound(f"unknown trigger {trigger_id}")
        if attempt.session != session:
            raise Forbidden(
                f"trigger {trigger_id} was leased to another session",
                details={"trigger_id": trigger_id},
            )
        self._heartbeats.beat(session, self.clock.now())
        if not closed:
            return ReportStatus.duplicate
        self.tell_closed(attempt)  # as the ledger closed it
        return ReportStatus.recorded

    def tell_closed(self, attempt: Attempt) -> None:
        """Tell the listeners of an attempt the ledger closed (reported, or given up)."""
        for listener in (self.on_demand.settle if self.on_demand else None, self.on_report):
            if listener is None:
                continue
            try:
                _tell(listener, attempt)
            except WouldBlock:
                # On the event loop, and the listener has I/O to do (an on-demand send's
                # settling reads SQL): it is told from a thread, after the answer.
                asyncio.get_running_loop().run_in_executor(None, _tell, listener, attempt)

    def heartbeat(self, *, session: str) -> None:
        self._heartbeats.beat(session, self.clock.now())

    def tell_sent(self, *, session: str, sent: Sequence[SentNow]) -> list[str]:
        """Record when the session's SMS left, as its program tells them with a heartbeat
        before their reports: an attempt closed without its report (`lease_expired`,
        `lease_lost`) is known to have left, and counted as sent; an on-demand send's
        try is told. The ids it marked. A time outside a lease that could still be open
        is refused, naming it, and nothing is marked. Blocking (the ledger's store)."""
        now = self.clock.now()
        for index, notice in enumerate(sent):
            self._check_within_lease(f"sent.{index}.sent_at", notice.sent_at, now)
        marked = self.ledger.mark_sent(
            [
                SentNotice(
                    trigger_id=notice.trigger_id,
                    sent_at=notice.sent_at,
                    leased_by=notice.sent_at + REPORTED_TIME_SLACK,
                    provider=notice.provider,
                )
                for notice in sent
            ],
            session=session,
        )
        if self.on_demand is not None and marked:
            times: dict[str, datetime] = {}
            for notice in sent:  # the first of a repeated id is what was marked
                times.setdefault(notice.trigger_id, notice.sent_at)
            for attempt_id in marked:
                self.on_demand.left(attempt_id, sent_at=times[attempt_id])
        return marked

    def check_session(self, *, session: str, issued_for: datetime | None = None) -> int | None:
        """Raise `NotFound` when `session` has no spec (removed, its pair deleted): its
        token still verifies, but there is nothing to keep alive or reconcile; and
        `Unauthorized` when the token was issued for an earlier session of the name. Read
        as a lease reads it: from the config in memory, looked at again at most every
        `config_max_age`. Its country's cap (None when its pair is gone): a heartbeat
        tells it, so a program waiting for its turn at a lower one asks again."""
        with self._one_read():
            spec = self.config_store.session_specs.get(session)
            if spec is None:
                raise NotFound(f"unknown session {session!r}")
            _check_issued_for(spec, issued_for)
            pair = self.config_store.pairs.get(spec.pair)
            if pair is None:
                return None
            country = self.config_store.countries.get(pair.country)
            return country.cap if country is not None else self.policy.default_cap

    def check_session_on_loop(
        self, *, session: str, issued_for: datetime | None = None
    ) -> SessionChecked | None:
        """`check_session` from the event loop; None when it must be made in a thread
        (the config to read again)."""
        try:
            with nonblocking():
                return SessionChecked(self.check_session(session=session, issued_for=issued_for))
        except WouldBlock:
            return None

    def heartbeats(self) -> dict[str, datetime]:
        """The last sign of life of every session (lease, report or heartbeat)."""
        return self._heartbeats.all()

    def _check_session_issued_for(self, session: str, issued_for: datetime | None) -> None:
        # A session with no spec is left to the report as before: its attempts are its own.
        spec = self.config_store.session_specs.get(session)
        if spec is not None:
            _check_issued_for(spec, issued_for)


@dataclass(frozen=True)
class SessionChecked:
    """A session found, and its country's cap (None when its pair is gone)."""

    cap: int | None


# A worker token as issued before tokens named their session's creation: a digest alone.
_EARLIER_TOKEN_FORM = re.compile("[0-9a-f]{64}")
# A sign-in token: a JWT's three base64url parts, its header first.
_SIGN_IN_TOKEN = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")


def _check_issued_for(spec: SessionSpec, issued_for: datetime | None) -> None:
    """Raise `Unauthorized` when a worker token was issued for another session of the
    spec's name: one removed since, whose program (or a copy of its token) still asks."""
    if issued_for is None or issued_for == spec.created_at:
        return
    raise Unauthorized(
        f"session {spec.name!r} was removed and created again since this program started"
        f" (its token is for the session created at {_stamp(issued_for)}; this one was"
        f" created at {_stamp(spec.created_at)}): stop this program; the control plane"
        " starts the new session's own"
    )


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")


def _leased_by(completion: Completion) -> datetime | None:
    """The latest lease a report's times allow: its earliest (a delivery is never before
    its send), give or take the clocks' difference; None when it names no time."""
    earliest = completion.sent_at or completion.delivered_at
    return earliest + REPORTED_TIME_SLACK if earliest is not None else None


@contextmanager
def _refused_before_lease(completion: Completion) -> Iterator[None]:
    """A report whose times come before its attempt's lease, refused naming the time."""
    try:
        yield
    except ReportBeforeLease as refused:
        named = (("sent_at", completion.sent_at), ("delivered_at", completion.delivered_at))
        name, at = next((name, at) for name, at in named if at is not None)
        now = completion.completed_at
        slack = int(REPORTED_TIME_SLACK.total_seconds() // 60)
        raise ValidationFailed.for_field(
            name,
            "before the attempt's lease",
            message=f"{name} {human_time(at, now=now)} is before the attempt's lease: leased"
            f" at {human_time(refused.attempt.leased_at, now=now)}, and the clocks may differ"
            f" by {slack} minutes at most",
        ) from None


def _tell(listener: Callable[[Attempt], None], attempt: Attempt) -> None:
    # The outcome is stored; a listener's fault must not undo it.
    try:
        listener(attempt)
    except Exception:
        log.exception("a listener of attempt %s failed", attempt.id)


def _busy(step: _Admitting, busy: int | None) -> WaitAction:
    """At its allowance, or no test number free for it: back when one of the `busy` ones
    may be done, as fast as the route really is (soon, before it was measured)."""
    observed = step.observed_cycle or BUSY_RETRY_UNMEASURED
    wait = min(max(observed / max(busy or 0, 1) / 2, 0.25), 5.0)
    return WaitAction(retry_after=round(wait, 3), max_in_flight=step.entry.limit)


def build_dispatcher(
    *,
    settings: Settings,
    engine: Engine,
    config_store: ConfigStore,
    clock: Clock,
    heartbeats: HeartbeatStore,
    on_report: Callable[[Attempt], None] | None = None,
    on_grant: Callable[[str], None] | None = None,
    on_demand: OnDemandSource | None = None,
    redis_prefix: str | None = None,
) -> Dispatcher:
    """The dispatcher on the metrics store (at head already) with the limiter the
    settings call for: Redis when `redis_url` is set (several replicas share it), else
    the metrics database itself; the attempts' ledger in Redis too, drained to the
    metrics database, else that database alone. The caller starts the dispatcher (the
    ledger's drain) and closes it (its ledger, limiter and `heartbeats`), then the
    engine.
    """
    policy = LimiterPolicy()
    limiter: Limiter
    attempts = AttemptStore(engine)
    ledger: Ledger = attempts
    admission: Admission
    if settings.redis_url:
        from smsfleet.dispatch._redis_limiter import RedisLimiter

        fleet = redis_prefix or fleet_prefix(engine)
        redis_limiter = RedisLimiter.from_url(
            settings.redis_url, clock=clock, policy=policy, prefix=f"{fleet}:dispatch"
        )
        redis_ledger = RedisLedger.from_url(
            settings.redis_url, store=attempts, prefix=f"{fleet}:{{attempts}}"
        )
        admission = RedisAdmission(limiter=redis_limiter, ledger=redis_ledger, clock=clock)
        limiter, ledger = redis_limiter, redis_ledger
    else:
        from smsfleet.dispatch._sql_limiter import SqlLimiter

        sql_limiter = SqlLimiter(engine, clock=clock, policy=policy)
        admission = SqlAdmission(store=attempts, limiter=sql_limiter)
        limiter = sql_limiter
    return Dispatcher(
        config_store=config_store,
        attempts=attempts,
        ledger=ledger,
        heartbeats=heartbeats,
        limiter=limiter,
        admission=admission,
        clock=clock,
        worker_secret=settings.jwt_secret,
        policy=DispatchPolicy.from_settings(settings),
        on_report=on_report,
        on_grant=on_grant,
        on_demand=on_demand,
    )


def _waited(arrived: datetime | None, granted_at: datetime) -> float:
    """Seconds from a request's arrival to its grant's time, the time the limiter counts
    it at (read, on the SQL profile, once the country's lock was taken). Rounded down: a
    program taking them off the time since it asked counts its grant's age in full."""
    if arrived is None:
        return 0.0
    return max(math.floor((granted_at - arrived).total_seconds() * 1000) / 1000, 0.0)
