"""The loop every program runs: lease, send, wait for the code, submit, report.

A session carries several attempts at once, as many as the control plane allows it
(`max_in_flight` in every lease answer): the main thread leases while another attempt
may start, and each granted attempt runs in its own thread (send, wait for the code,
submit, report). Every attempt is written to the in-flight journal when granted and
when sent, so a program killed mid-wait picks its attempts up after a restart.

The control plane's stop (a lease answered `stop`: the pair paused, the session stopped)
ends the leasing only: the attempts in flight finish as they would have, their codes
awaited for as long as ever, are reported, and the program exits.

A stop (SIGTERM or SIGINT) has the stop grace, the time the session backend allows
before SIGKILL (`SMSFLEET_STOP_GRACE`, which it sets): the attempts in flight wait for
their codes while the first part of it lasts, are then reported side by side (as
`interrupted` when their codes have not come), and the program exits before its end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import random
import re
import signal
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO
from urllib.parse import quote, quote_plus

import httpx

from smsfleet import __version__
from smsfleet.core.error_reports import report_exception, start_error_reports
from smsfleet.worker._control import (
    ControlPlane,
    ControlPlaneRejected,
    ControlPlaneUnavailable,
    Report,
    SendGrant,
    Stop,
    Wait,
)
from smsfleet.worker._gateway import Delivery, Gateway, GatewayError
from smsfleet.worker._program import Attempt, SendFailed, Sent
from smsfleet.worker._settings import SettingsError, WorkerSettings
from smsfleet.worker._spool import InFlightEntry, InFlightJournal, Spool


class _GraceOver(ControlPlaneUnavailable):
    """No time is left of the stop grace to send a report: it stays in the spool."""


EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_REFUSED = 3
MAX_WAIT_SECONDS = 60.0
# While every allowed attempt is in flight, how often to ask whether more are allowed.
FULL_RECHECK_SECONDS = 5.0
# A grant's wait for its code ends this long before the lease expires, for the report.
REPORT_MARGIN_SECONDS = 5.0
# The end of the stop grace kept, after the attempts' wait for their codes, for their last
# look at the gateway, their reports and the exit: half the grace, at most this.
STOP_REPORT_SECONDS = 2.0
# Of that, the very end is for the process to exit: a quarter of the grace, at most this.
# A report the control plane has not confirmed by then waits in the spool for the next run.
STOP_EXIT_SECONDS = 0.5
# What a heartbeat tells of sent SMS at most (the route's bound), and the longest provider
# name it takes.
MAX_SENT_PER_BEAT = 64
PROVIDER_MAX = 64


class SendsOtp(Protocol):
    def SendOtp(self) -> object: ...  # noqa: N802  (the operators' own method name)


class SubmitsOtp(Protocol):
    def SumitOtp(self, trigger_id: str, code: str) -> object: ...  # noqa: N802


def mask_phone(phone: str) -> str:
    """Every digit but the last four replaced, so logs never hold a full test number."""
    digits = sum(ch.isdigit() for ch in phone)
    seen, out = 0, []
    for ch in phone:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - 4 else "*")
        else:
            out.append(ch)
    return "".join(out)


# What a session's log says of an error is cut to this many characters.
ERROR_TEXT_MAX = 300
HIDDEN = "•••"
# A URL in an error's text: its scheme, its user and password (dropped), its host and path,
# then its query and fragment (dropped).
_URL = re.compile(
    r"""(?i)\b([a-z][a-z0-9+.-]*://)(?:[^\s/?#'"<>@]*@)?([^\s?#'"<>]*)(?:[?#][^\s'"<>]*)?"""
)
# A word of a message that holds a digit: a code or a value filled into it, hidden in an
# error's text however the error repeats the message around it.
_CODE_LIKE = re.compile(r"[^\W_]*[0-9][^\W_]*")
# Shorter ones are left: hiding every "5" would leave an error's own figures unreadable.
CODE_MIN_LENGTH = 4
# Control characters (CR, LF, ESC...), invisible format ones and line separators.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def error_text(exc: BaseException, *, hide: Iterable[str | None] = (), named: bool = True) -> str:
    """An exception as a session's log may say it, which a viewer reads: its type name
    (unless not `named`) and its text without any URL's query, fragment or password, with
    each of `hide` (an attempt's code, number and message) as `•••`, control characters
    as spaces (no line of its own), at most `ERROR_TEXT_MAX` characters long."""
    text = _scrubbed(str(exc), hide)
    return f"{type(exc).__name__}: {text}" if named else text


def _scrubbed(text: str, hide: Iterable[str | None] = ()) -> str:
    text = _URL.sub(r"\1\2", text)
    # The longest first: a message may hold the code.
    for secret in sorted({s for s in hide if s}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    text = "".join(" " if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text)
    if len(text) > ERROR_TEXT_MAX:
        text = text[: ERROR_TEXT_MAX - 1] + "…"
    return text


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _construct(cls: Callable[..., Any], *args: Any, attempt: Attempt) -> Any:
    """Pass `attempt=` only to classes that take it, so seed-style classes keep working."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return cls(*args)
    if any(p.name == "attempt" or p.kind is p.VAR_KEYWORD for p in parameters):
        return cls(*args, attempt=attempt)
    return cls(*args)


class Worker:
    """Runs one session's attempts until the control plane says stop or a signal arrives."""

    def __init__(
        self,
        send_sms_cls: Callable[..., SendsOtp],
        submit_sms_cls: Callable[..., SubmitsOtp],
        *,
        settings: WorkerSettings,
        control_plane: ControlPlane | None = None,
        gateway: Gateway | None = None,
        proxy: str | None = None,
        code_timeout: float = 150.0,
        poll_interval: float = 0.5,
        poll_max_interval: float = 5.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        out: TextIO | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self._send_cls = send_sms_cls
        self._submit_cls = submit_sms_cls
        self._cp = control_plane or ControlPlane(
            settings.url, token=settings.token, session=settings.session
        )
        self._gateway = gateway or Gateway(settings.simulator_url)
        self._proxy = proxy if proxy is not None else settings.proxy
        self._code_timeout = code_timeout
        self._poll_interval = poll_interval
        self._poll_max = poll_max_interval
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._out = out
        self._now = now
        self.spool = Spool(settings.spool_path)
        self.journal = InFlightJournal(settings.spool_path / "in-flight")
        self._stop = threading.Event()  # finish the attempts in flight, then exit
        # A wait for its turn at the limiter cut short: a stop, or the country's cap raised
        # (told with the heartbeat's answer; `_cap` the last one told).
        self._ask_now = threading.Event()
        # The cap rose since the last lease: a program told to carry none (its country
        # halted) asks at once, not after its wait for a slot to free.
        self._cap_rose = threading.Event()
        self._cap: int | None = None
        self._abandon = threading.Event()  # give the attempts in flight up now
        self._stop_requested_at: float | None = None
        self._stop_why = self._abandon_why = "stop requested"
        self._announced: set[str] = set()
        self._waiting_why: str | None = None  # the reason of the last wait told, if any
        self._log_lock = threading.Lock()
        self._heartbeat_stop = threading.Event()
        # SMS sent, by trigger id, that the control plane has not been told of yet (as the
        # heartbeat's `sent` holds them): should this run never report them, their attempts
        # are still known to have left. One left since the last beat makes the next one
        # due at once (`_beat_due`); the condition is notified then, and at the run's end.
        self._sent_untold: dict[str, tuple[dict[str, str], datetime | None]] = {}
        self._beat_due = False
        self._beat_wake = threading.Condition()
        self._flush_lock = threading.Lock()
        # Attempts in flight by trigger id; `_slot_freed` is notified as each ends.
        self._slot_freed = threading.Condition()
        self._in_flight: dict[str, threading.Thread] = {}
        self.max_in_flight = 1
        self._short_lease_told = False
        # While the control plane asks to be left alone (429 and its Retry-After), when
        # (monotonic) the reports waiting in the spool are sent again.
        self._reports_held_until = 0.0
        # While a provider asks to be left alone (a send refused with its Retry-After), when
        # (monotonic) the next lease is asked for: a send any sooner would be refused too.
        self._leases_held_until = 0.0
        # The codes of the attempts in flight that have come, by trigger id: kept out of
        # what the log says of their errors.
        self._codes_came: dict[str, str] = {}

    # -- control -----------------------------------------------------------------------------

    def request_stop(self, why: str = "stop requested") -> None:
        """First call: the attempts in flight wait for their codes while the stop grace
        allows, are reported, and the program exits. A second call gives them up at once.

        Safe from a signal handler: it writes nothing (the main thread says what it does).
        """
        if self._stop.is_set():
            self._abandon_why = why
            self._abandon.set()
        else:
            self._stop_why = why
            self._stop_requested_at = time.monotonic()
            self._stop.set()
            self._ask_now.set()
        with self._slot_freed:
            self._slot_freed.notify_all()

    def _stop_time(self, kept_cap: float, kept_share: float) -> float | None:
        """When a stop's grace has all but its last `kept_share` (at most `kept_cap`
        seconds) gone by, on the monotonic clock; None until a stop."""
        if self._stop_requested_at is None:
            return None
        grace = self.settings.stop_grace
        return self._stop_requested_at + grace - min(kept_cap, grace * kept_share)

    def _codes_until(self) -> float | None:
        """Once stopping: until when the attempts in flight wait for their codes."""
        return self._stop_time(STOP_REPORT_SECONDS, 0.5)

    def _time_left(self) -> float | None:
        """Once stopping: how long is left to report before the program must exit."""
        done_by = self._stop_time(STOP_EXIT_SECONDS, 0.25)
        return None if done_by is None else done_by - time.monotonic()

    def _announce_stop(self) -> None:
        """Say once what the stop does now; from the main thread, never a signal handler
        (which may interrupt a write of the same stream)."""
        if self._stop.is_set() and "stop" not in self._announced:
            self._announced.add("stop")
            count = self.in_flight
            if not count:
                self.log(f"{self._stop_why}: stopping; no attempt in flight")
            else:
                until = self._codes_until()
                wait = max(0.0, until - time.monotonic()) if until is not None else 0.0
                self.log(
                    f"{self._stop_why}: stopping; {count} attempt(s) in flight wait up to"
                    f" {wait:.1f} s more for their codes, then each is reported (as"
                    " interrupted if its code has not come) and the program exits"
                )
        if self._abandon.is_set() and "abandon" not in self._announced:
            self._announced.add("abandon")
            self.log(
                f"{self._abandon_why} again: the attempts in flight stop waiting for their"
                " codes now and are reported as interrupted"
            )

    @property
    def in_flight(self) -> int:
        with self._slot_freed:
            return len(self._in_flight)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def log(self, line: str) -> None:
        if not self.settings.log_stamped:
            stamp = self._now().strftime("%Y-%m-%dT%H:%M:%SZ")
            line = f"{stamp} {self.settings.session} {line}"
        out = self._out or sys.stdout
        # One write per line: attempts log side by side, and `print` writes the line and
        # its end separately, so two threads' lines would run together.
        with self._log_lock:
            out.write(line + "\n")
            out.flush()

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> int:
        self.log(f"started: pair {self.settings.pair}, control plane {self.settings.url}")
        heartbeat = threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True)
        heartbeat.start()
        stopped = False
        try:
            self._resume()
            code = self._loop()
            self._drain()
            stopped = code == EXIT_OK
            return code
        finally:
            with self._beat_wake:
                self._heartbeat_stop.set()
                self._beat_wake.notify_all()
            left = self._time_left()
            heartbeat.join(timeout=5 if left is None else min(5, max(0.0, left)))
            self._flush(final=True)
            if stopped:
                self._log_stopped()
            self._cp.close()
            self._gateway.close()

    def _loop(self) -> int:
        backoff = self._backoff_initial
        unreachable = False
        while not self._stop.is_set():
            self._flush()
            with self._slot_freed:
                # Checked under the lock `request_stop` notifies with: no wake-up is lost.
                if self._stop.is_set():
                    break
                full = len(self._in_flight) >= self.max_in_flight
                if (
                    full
                    and not self._cap_rose.is_set()
                    and self._slot_freed.wait(timeout=FULL_RECHECK_SECONDS)
                ):
                    continue
            self._cap_rose.clear()
            if self._stop.is_set():
                break
            if (rest := self._leases_held_until - time.monotonic()) > 0:
                self._stop.wait(rest)
                continue
            # Full for a while: ask anyway, the control plane may allow more by now (it
            # counts the session's unreported attempts, so it never grants beyond).
            try:
                lease = self._cp.lease(self._carried())
            except ControlPlaneUnavailable as exc:
                if not unreachable:
                    self.log(
                        f"control plane unreachable ({error_text(exc, named=False)});"
                        " no SMS is sent until it answers"
                    )
                    unreachable = True
                delay = exc.retry_after or backoff * random.uniform(0.8, 1.2)
                backoff = min(backoff * 2, self._backoff_max)
                self._stop.wait(delay)
                continue
            except ControlPlaneRejected as exc:
                why = error_text(exc, named=False)
                self.log(f"control plane refused the lease: {why}; exiting")
                return EXIT_REFUSED
            if unreachable:
                self.log("control plane reachable again")
                unreachable = False
            backoff = self._backoff_initial
            if isinstance(lease, Stop):
                self._announce_drain(lease.reason)
                break
            self._set_allowance(lease.max_in_flight)
            self._tell_waiting(lease.reason if isinstance(lease, Wait) else None)
            if isinstance(lease, Wait):
                self._ask_now.wait(min(max(lease.retry_after, 0.05), MAX_WAIT_SECONDS))
                if not self._stop.is_set():
                    self._ask_now.clear()
                continue
            self._launch(lease, self._attempt_for(lease))
        self._announce_stop()
        return EXIT_OK

    def _carried(self) -> list[str]:
        """Attempts in flight and reports not yet confirmed: the control plane closes the
        session's other open attempts as lost."""
        with self._slot_freed:
            carried = set(self._in_flight)
        return sorted(carried | set(self.spool.triggers()))

    def _set_allowance(self, allowed: int) -> None:
        if allowed != self.max_in_flight:
            self.log(f"attempts in flight: up to {allowed} (was {self.max_in_flight})")
            self.max_in_flight = allowed

    def _launch(
        self, grant: SendGrant, attempt: Attempt, *, resumed: InFlightEntry | None = None
    ) -> None:
        """Carry one attempt in its own thread; it leaves `_in_flight` once reported."""

        def carry() -> None:
            try:
                if resumed is None:
                    report = self.attempt(grant, attempt=attempt)
                else:
                    report = self._resumed(attempt, resumed)
                self._record(report)
            finally:
                with self._slot_freed:
                    self._in_flight.pop(grant.trigger_id, None)
                    self._slot_freed.notify_all()

        # A daemon: one stuck in its program's code at the end of the stop grace must not
        # hold the exit (its journal entry stays, so the next run reports it).
        thread = threading.Thread(target=carry, name=f"attempt-{grant.trigger_id[:8]}", daemon=True)
        with self._slot_freed:
            self._in_flight[grant.trigger_id] = thread
        thread.start()

    def _tell_waiting(self, reason: str | None) -> None:
        """Say once why nothing new is sent (its pair paused: the attempts in flight
        finish, then the control plane says stop), and once that it may send again."""
        if reason == self._waiting_why:
            return
        if reason is not None:
            count = self.in_flight
            self.log(f"{reason}: nothing new is sent; {count} attempt(s) in flight finish first")
        else:
            self.log("no longer held back: it sends as the control plane allows")
        self._waiting_why = reason

    def _announce_drain(self, reason: str) -> None:
        """The control plane answered a lease with stop (the pair paused, the session
        stopped): no attempt is leased any more, and those in flight finish as they would
        have, their codes awaited for as long as ever; a signal meanwhile cuts them short."""
        self._announced.add("drain")
        count = self.in_flight
        then = f"{count} attempt(s) in flight finish first" if count else "no attempt in flight"
        self.log(f"the control plane asked it to stop ({reason}): {then}, then it exits")

    def _drain(self) -> None:
        """Wait for the attempts in flight to report; once stopping, no longer than the
        stop grace allows (a stop arriving meanwhile is heeded at once)."""
        if self.in_flight and not self._stop.is_set() and "drain" not in self._announced:
            self.log(f"waiting for {self.in_flight} attempt(s) in flight to report")
        with self._slot_freed:
            while self._in_flight:
                self._announce_stop()
                left = self._time_left()
                if left is not None and left <= 0:
                    break
                # Notified as each attempt ends, and by a stop.
                self._slot_freed.wait(left)
            left_behind = list(self._in_flight)
        # Those with a report in the spool are only sending it: the last flush says what
        # became of it. Those without one are still in the program's code.
        unreported = [trigger for trigger in left_behind if self.journal.holds(trigger)]
        if unreported:
            self.log(
                f"{len(unreported)} attempt(s) still in the program's code at the end of the"
                " stop grace: exiting without them; the next run reports them from its journal"
            )

    def _log_stopped(self) -> None:
        since = self._stop_requested_at
        after = "" if since is None else f" {time.monotonic() - since:.1f} s after the stop"
        if len(self.spool) or self.in_flight:
            self.log(f"stopped{after}")
        else:
            self.log(f"stopped{after}: every attempt reported")

    def _resume(self) -> None:
        """Attempts a killed run left in flight: wait for their codes, or say they broke off."""
        for entry in self.journal.entries():
            trigger_id = entry.grant.trigger_id
            if self.spool.holds(trigger_id):  # reported to the spool just before the kill
                self.journal.remove(trigger_id)
                continue
            expires_at = entry.grant.expires_at
            if expires_at is not None and expires_at <= self._now():
                # The control plane gave its lease up (`lease_expired`) and would refuse any
                # report of it: no look at the gateway, no submit of a long-dead code.
                self.journal.remove(trigger_id)
                self.log(
                    f"trigger={trigger_id} left by an earlier run: its lease ran out, the"
                    " control plane closes it as lease_expired"
                )
                continue
            if entry.sent_at is None:
                # Killed during the send: whether the SMS left is unknown; never send it again.
                self.log(f"trigger={trigger_id} broke off during its send; reported as such")
                self._record(
                    Report(
                        trigger_id=trigger_id,
                        session=self.settings.session,
                        outcome="error",
                        error_code="interrupted",
                    )
                )
                continue
            self.log(f"trigger={trigger_id} still awaits its code; waiting for it again")
            self._tell_sent(entry.grant, entry.sent_at, entry.provider)
            self._launch(entry.grant, self._attempt_for(entry.grant), resumed=entry)

    def _resumed(self, attempt: Attempt, entry: InFlightEntry) -> Report:
        started = time.monotonic()
        report = Report(
            trigger_id=attempt.trigger_id,
            session=self.settings.session,
            outcome="error",
            sent_at=entry.sent_at,
            provider=entry.provider,
        )
        try:
            report = self._finish(
                dataclasses.replace(attempt, provider=entry.provider),
                report,
                gateway_id=entry.gateway_id or attempt.trigger_id,
            )
        except Exception as exc:  # a program's bug must not end the session
            report = dataclasses.replace(report, error_code=type(exc).__name__)
            report_exception(exc, trigger_id=attempt.trigger_id)
        finally:
            self._codes_came.pop(attempt.trigger_id, None)
        self._log_attempt(report, attempt.phone, time.monotonic() - started)
        return report

    def _secrets(self, attempt: Attempt) -> list[str | None]:
        """What an attempt's errors must not show in the log: its code (once it came), its
        test number (with and without its +) and the message it was to send, as it is and
        as an error may repeat it (JSON- or URL-escaped, cut short: each word of it that
        holds a digit, the code or value it carries)."""
        phone, message = attempt.phone, attempt.message or ""
        code = self._codes_came.get(attempt.trigger_id)
        escaped = [json.dumps(message)[1:-1], quote(message), quote_plus(message)]
        words = [word for word in _CODE_LIKE.findall(message) if len(word) >= CODE_MIN_LENGTH]
        return [code, phone, phone.lstrip("+"), message, *escaped, *words]

    def _heartbeats(self) -> None:
        interval = self.settings.heartbeat_interval
        while True:
            with self._beat_wake:
                now = self._now()
                for trigger_id, (_, lease_ends) in list(self._sent_untold.items()):
                    if lease_ends is not None and lease_ends <= now:
                        # Closed by the control plane by now (or soon, as lease_expired),
                        # and its time could be past what it takes: left to its report.
                        del self._sent_untold[trigger_id]
                told = [notice for notice, _ in self._sent_untold.values()][:MAX_SENT_PER_BEAT]
            try:
                cap = self._cp.heartbeat(sent=told)
            except ControlPlaneUnavailable:
                # The lease loop reports an unreachable control plane; a missed beat is no
                # news, and what it was to tell goes with the next.
                cap = None
            except ControlPlaneRejected as exc:
                # Refused: its sends are not told again (their reports say when they left);
                # a time the control plane will not take is said (the lease loop says why
                # a session or its token is refused).
                cap = None
                self._forget_told(told)
                if told and exc.status == 422:
                    why = error_text(exc, named=False)
                    self.log(
                        f"the control plane refused the beat's sent SMS ({why}): their"
                        " reports tell when they left"
                    )
            except RuntimeError:
                # Its client closed under it: the run ended without waiting for the beat
                # under way (`run`, its stop grace spent).
                if self._heartbeat_stop.is_set():
                    return
                raise
            else:
                self._forget_told(told)
            if cap is not None and self._cap is not None and cap > self._cap:
                # Its turn was told at the old pace, or it was told to carry none: ask again.
                self._cap_rose.set()
                self._ask_now.set()
                with self._slot_freed:
                    self._slot_freed.notify_all()
            self._cap = cap if cap is not None else self._cap
            with self._beat_wake:
                self._beat_wake.wait_for(self._beat_wanted, interval)
                self._beat_due = False
                if self._heartbeat_stop.is_set():
                    return

    def _beat_wanted(self) -> bool:
        return self._beat_due or self._heartbeat_stop.is_set()

    def _tell_sent(self, grant: SendGrant, sent_at: datetime, provider: str | None) -> None:
        """Tell the control plane with a beat now that this SMS left, before its report."""
        trigger_id = grant.trigger_id
        notice = {"trigger_id": trigger_id, "sent_at": sent_at.isoformat()}
        if provider and len(provider) <= PROVIDER_MAX and provider.isprintable():
            notice["provider"] = provider  # one the control plane takes
        with self._beat_wake:
            self._sent_untold[trigger_id] = (notice, grant.expires_at)
            self._beat_due = True
            self._beat_wake.notify_all()

    def _forget_told(self, told: Iterable[dict[str, str]]) -> None:
        with self._beat_wake:
            for notice in told:
                self._sent_untold.pop(notice["trigger_id"], None)
            # More than one beat takes: the next goes at once.
            self._beat_due = self._beat_due or len(self._sent_untold) > 0

    # -- one attempt -------------------------------------------------------------------------

    def _hold_leases(self, seconds: float, provider: str | None) -> None:
        """A provider asked to be left alone `seconds` (at most a minute): no lease is asked
        for until then, so no grant (a place in the country's minute) goes to a send it
        would refuse."""
        seconds = min(seconds, MAX_WAIT_SECONDS)
        self._leases_held_until = max(self._leases_held_until, time.monotonic() + seconds)
        self.log(f"{provider or 'the provider'} asked to wait {seconds:g} s: no lease until then")

    def _attempt_for(self, grant: SendGrant) -> Attempt:
        return Attempt(
            trigger_id=grant.trigger_id,
            phone=grant.phone,
            pair=grant.pair or self.settings.pair,
            program=grant.program or self.settings.program,
            country=self.settings.country,
            session=self.settings.session,
            simulator_url=self.settings.simulator_url,
            message=grant.message,
            expires_at=grant.expires_at,
            stopping=self._stop,
            send_by=grant.send_by(),
        )

    def attempt(self, grant: SendGrant, *, attempt: Attempt | None = None) -> Report:
        """Send, wait for the code, submit; never raises: every failure becomes an outcome."""
        started = time.monotonic()
        attempt = attempt or self._attempt_for(grant)
        self.journal.granted(grant)
        report = Report(trigger_id=grant.trigger_id, session=self.settings.session, outcome="error")
        try:
            report = self._attempt(attempt, report, grant)
        except Exception as exc:  # a program's bug must not end the session
            report = dataclasses.replace(report, outcome="error", error_code=type(exc).__name__)
            why = error_text(exc, hide=self._secrets(attempt))
            self.log(f"trigger={grant.trigger_id} failed: {why}")
            report_exception(exc, trigger_id=grant.trigger_id)
        finally:
            self._codes_came.pop(attempt.trigger_id, None)
        self._log_attempt(report, grant.phone, time.monotonic() - started)
        return report

    def _attempt(self, attempt: Attempt, report: Report, grant: SendGrant) -> Report:
        sender = _construct(self._send_cls, attempt.phone, self._proxy, attempt=attempt)
        late = grant.age()
        if grant.send_within is not None and late > grant.send_within:
            # Sent now, it could make one more than the country's cap in the gateway's
            # minute: the grant's slot is given up instead, as the control plane asks.
            self.log(
                f"trigger={grant.trigger_id} not sent: ready {late:.2f} s after its grant"
                f" (counted from its lease's ask, less the {grant.waited:.2f} s it waited in"
                f" the control plane), past the {grant.send_within:g} s a send may follow it"
            )
            return dataclasses.replace(report, outcome="error", error_code="grant_stale")
        try:
            result = sender.SendOtp()
            if result is False:
                # The seed's programs answer True or False: False is a refused send.
                raise SendFailed("send_refused", message="SendOtp returned False")
        except SendFailed as exc:
            if exc.retry_after:
                self._hold_leases(exc.retry_after, exc.provider)
            return dataclasses.replace(
                report, outcome="send_failed", error_code=exc.code, provider=exc.provider
            )
        except httpx.HTTPStatusError as exc:
            failed = SendFailed.from_response(exc.response, provider=None)
            return dataclasses.replace(report, outcome="send_failed", error_code=failed.code)
        except httpx.TransportError:
            return dataclasses.replace(
                report, outcome="send_failed", error_code="provider_unreachable"
            )
        sent = result if isinstance(result, Sent) else Sent()
        sent_at = self._now()
        report = dataclasses.replace(report, sent_at=sent_at, provider=sent.provider)
        gateway_id = sent.trigger_id or attempt.trigger_id
        self.journal.sent(
            attempt.trigger_id, sent_at=sent_at, provider=sent.provider, gateway_id=gateway_id
        )
        self._tell_sent(grant, sent_at, sent.provider)
        return self._finish(
            dataclasses.replace(attempt, provider=sent.provider), report, gateway_id=gateway_id
        )

    def _finish(self, attempt: Attempt, report: Report, *, gateway_id: str) -> Report:
        """From a sent SMS: wait for its code at the gateway, then submit it."""
        timeout, cut_by_lease = self._code_wait(attempt.expires_at, report.sent_at)
        try:
            delivery = self._wait_for_code(gateway_id, timeout=timeout)
        except GatewayError as exc:
            return dataclasses.replace(report, outcome="error", error_code=exc.code)
        if delivery.status == "not_delivered":
            return dataclasses.replace(report, outcome="not_delivered")
        if delivery.status == "pending":
            if self._stop.is_set():
                # Stopped before the gateway could tell: report what is known, not a guess.
                return dataclasses.replace(report, outcome="error", error_code="interrupted")
            # A wait the lease cut short is not the program's `code_timeout`: said apart.
            timed_out = "lease_timeout" if cut_by_lease else "gateway_timeout"
            return dataclasses.replace(report, outcome="not_delivered", error_code=timed_out)
        assert delivery.code is not None
        self._codes_came[attempt.trigger_id] = delivery.code
        # The gateway's time of delivery may come before this host's `sent_at`, taken once
        # the send call returned (a slow answer, or the gateway's clock a little behind):
        # told as delivered at the send, not as a time the control plane refuses.
        delivered_at = delivery.delivered_at or self._now()
        if report.sent_at is not None:
            delivered_at = max(delivered_at, report.sent_at)
        report = dataclasses.replace(report, outcome="delivered", delivered_at=delivered_at)
        submitter = _construct(self._submit_cls, attempt=attempt)
        try:
            submitted = submitter.SumitOtp(gateway_id, delivery.code)
        except Exception as exc:
            # The SMS did arrive: the route worked, only the hand-back failed.
            why = error_text(exc, hide=self._secrets(attempt))
            self.log(f"trigger={attempt.trigger_id} submit failed: {why}")
            report_exception(exc, trigger_id=attempt.trigger_id)
            return dataclasses.replace(report, error_code="submit_failed")
        if submitted is False:
            self.log(f"trigger={attempt.trigger_id} submit failed: SumitOtp returned False")
            return dataclasses.replace(report, error_code="submit_failed")
        return report

    def _code_wait(
        self, expires_at: datetime | None, sent_at: datetime | None
    ) -> tuple[float, bool]:
        """How long to wait for a code, and whether the lease (not `code_timeout`) says so.

        `code_timeout` counts from the send: a run that resumes an SMS a killed run sent
        waits what is left of it. A grant's expiry ends the wait early enough for the
        report to arrive before the control plane gives the lease up; a lease shorter than
        the program's wait is told once per run, since every SMS slower than it then counts
        as not delivered.
        """
        now = self._now()
        since_sent = 0.0 if sent_at is None else max(0.0, (now - sent_at).total_seconds())
        code_left = max(0.0, self._code_timeout - since_sent)
        if expires_at is None:
            return code_left, False
        left = max(0.0, (expires_at - now).total_seconds() - REPORT_MARGIN_SECONDS)
        if left >= code_left:
            return code_left, False
        if not self._short_lease_told:
            self._short_lease_told = True
            self.log(
                f"a wait for a code ends with its lease: this one after {left:.0f} s of the"
                f" program's {self._code_timeout:g} s, reported as lease_timeout if no code"
                " comes (SMSFLEET_LEASE_TTL_SECONDS on the control plane sets a lease's"
                " length)"
            )
        return left, True

    def _wait_for_code(self, trigger_id: str, *, timeout: float) -> Delivery:
        """Poll with growing pauses until the gateway knows, the timeout, or the stop grace."""
        deadline = time.monotonic() + timeout
        delay = self._poll_interval

        def remaining() -> float:
            limit = deadline
            codes_until = self._codes_until()
            if codes_until is not None:
                limit = min(limit, codes_until)
            return 0.0 if self._abandon.is_set() else limit - time.monotonic()

        while True:
            left = remaining()
            if left > 0:
                # A pause grows to seconds: a stop (and then a second one) ends it at once,
                # so the stop's earlier end of the wait is kept.
                wake = self._abandon if self._stop.is_set() else self._stop
                wake.wait(min(delay, left))
                delay = min(delay * 1.5, self._poll_max)
            delivery = self._gateway.message(trigger_id, timeout=self._look_timeout())
            if delivery.status != "pending" or remaining() <= 0:
                return delivery

    def _look_timeout(self) -> float | None:
        """Once stopping, a look at the gateway takes at most half the time left to report."""
        left = self._time_left()
        return None if left is None else max(0.05, left / 2)

    # -- reports -----------------------------------------------------------------------------

    def _record(self, report: Report) -> None:
        # On disk first: the report outlives an unreachable control plane or a crash; the
        # journal's entry goes once the report is there (a restart finds one or the other).
        path = self.spool.add(report.to_json())
        self.journal.remove(report.trigger_id)
        self._forget_told([{"trigger_id": report.trigger_id}])  # its report says it
        if not self._stop.is_set():
            self._flush()
            return
        # Stopping: the attempts cut off together report together, side by side rather
        # than one after another, within what is left of the grace.
        with contextlib.suppress(ControlPlaneUnavailable):  # kept for the final flush
            self.spool.deliver(path, self._send_report, on_rejected=self._on_rejected)

    def _send_report(self, report: dict[str, Any]) -> str:
        left = self._time_left()
        if left is None:
            return self._cp.report(report)
        if left <= 0:
            raise _GraceOver("no time is left of the stop grace")
        return self._cp.report(report, timeout=left)

    def _flush(self, *, final: bool = False) -> None:
        if not self.spool.pending():
            return
        held = self._reports_held_until - time.monotonic()
        if held > 0:
            left = self._time_left()
            if not final or held >= (MAX_WAIT_SECONDS if left is None else left):
                return  # sent at a later flush, or by the next run
            self._abandon.wait(held)  # the last flush: waited out, a second stop cuts it
        try:
            with self._flush_lock:
                self.spool.flush(self._send_report, on_rejected=self._on_rejected)
        except _GraceOver:
            if final:
                self.log(
                    f"{len(self.spool)} report(s) not confirmed within the stop grace, kept in"
                    f" {self.spool.directory}: the next run sends them"
                )
        except ControlPlaneUnavailable as exc:
            if exc.retry_after:
                self._reports_held_until = time.monotonic() + exc.retry_after
            if final:
                self.log(
                    f"{len(self.spool)} report(s) kept in {self.spool.directory} "
                    "until the control plane answers"
                )

    def _on_rejected(self, path: Path, exc: ControlPlaneRejected) -> None:
        why = error_text(exc, named=False)
        self.log(f"report {path.name} refused ({why}); kept in {self.spool.rejected}")

    def _log_attempt(self, report: Report, phone: str, elapsed: float) -> None:
        # A delivery's latency is from its send to its code; any other outcome says how
        # long the attempt took, not a latency of the route.
        took = f"waited={elapsed:.2f}s"
        if report.sent_at is not None and report.delivered_at is not None:
            latency = (report.delivered_at - report.sent_at).total_seconds()
            took = f"latency={latency:.2f}s"
        parts = [
            f"trigger={report.trigger_id}",
            f"phone={mask_phone(phone)}",
            f"provider={report.provider or '-'}",
            f"outcome={report.outcome}",
            took,
        ]
        if report.error_code:  # a program's or a provider's word: one line, no URL's query
            parts.append(f"error={_scrubbed(report.error_code, [phone])}")
        self.log(" ".join(parts))


def run_program(
    send_sms_cls: Callable[..., SendsOtp],
    submit_sms_cls: Callable[..., SubmitsOtp],
    *,
    code_timeout: float = 150.0,
    poll_interval: float = 0.5,
    proxy: str | None = None,
) -> int:
    """Run a program's classes as a fleet session with the settings from the environment.

    Returns the exit code: 0 after a stop (control plane or SIGTERM/SIGINT), 2 when the
    environment is incomplete, 3 when the control plane refuses this session.
    """
    try:
        settings = WorkerSettings.from_env()
    except SettingsError as exc:
        print(f"smsfleet worker: {exc}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    worker = Worker(
        send_sms_cls,
        submit_sms_cls,
        settings=settings,
        proxy=proxy,
        code_timeout=code_timeout,
        poll_interval=poll_interval,
    )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # No write here: the main thread may be halfway through one to the same stream.
        worker.request_stop(f"received {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    reports = start_error_reports(
        settings.sentry_dsn,
        service="program",
        release=__version__,
        tags={
            "fleet_session": settings.session,
            "program": settings.program,
            "pair": settings.pair,
            "country": settings.country,
        },
    )
    try:
        return worker.run()
    finally:
        reports.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
