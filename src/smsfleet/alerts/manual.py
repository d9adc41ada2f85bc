"""Alerts raised by people: the seed documents' `POST /alert {"message"}`; and what
people do with alerts and the chats, audited: acknowledgements, their own messages.

A person's message is an alert like the rules' (rule `manual`, subject `fleet`): kept,
listed, pushed live, sent to the chats its severity reaches, none when no channel is
configured. Nothing watches a condition behind it, so it is open until someone
acknowledges it, which resolves it. The same message while its alert is open is the
same alert: it is refreshed, and notified again only past the repeat interval.

A person's limits (open alerts, alerts raised in a window) are held exactly within one
process; across replicas they are soft: two may each count before the other keeps its alert.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

from smsfleet.alerts.models import (
    Alert,
    AlertRaised,
    AlertRule,
    AlertState,
    MessageQueued,
    Severity,
    Signal,
    SubjectKind,
)
from smsfleet.alerts.service import AlertService
from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, AuditAction, AuditEvent
from smsfleet.core.errors import Conflict
from smsfleet.core.limits import check_window
from smsfleet.core.records import EventLog

__all__ = ["acknowledge", "raise_alert", "send_message"]

SUBJECT_LIMIT = 64
# Alerts one person raised and nobody acknowledged yet, at most: each is a message to every
# chat its severity reaches, and a burst of them would go out among the rules' alerts. Per
# person: one person's open alerts never refuse another's.
MAX_OPEN = 20
# Held from reading a person's open and recent alerts to keeping the new one, so alerts
# raised at once are counted against the limits one after the other. Within this process
# only: requests to several replicas at once may still pass the limits by a few.
_RAISING = threading.Lock()


def subject_of(message: str) -> str:
    """A short subject naming the message: its words, and a digest when they are cut."""
    words = " ".join(message.split())
    if len(words) <= SUBJECT_LIMIT:
        return words
    digest = hashlib.sha256(message.encode()).hexdigest()[:6]
    return f"{words[: SUBJECT_LIMIT - 9].rstrip()}… #{digest}"


def raise_alert(
    *, service: AlertService, message: str, actor: str, severity: Severity
) -> AlertRaised:
    signal = Signal(
        rule=AlertRule.manual,
        severity=severity,
        subject_kind=SubjectKind.fleet,
        subject=subject_of(message),
        summary=message,
        details={"message": message, "actor": actor},
    )
    with _RAISING:
        firing = {a.fingerprint: a for a in service.store.firing()}
        before = firing.get(signal.fingerprint)
        if before is not None:
            # The same message again is its open alert again, not counted against anyone's
            # limit: it stays the alert of whoever raised it, and at its severity or above, so
            # that raising it lower then higher in a loop does not tell the chats each time.
            first = before.details.get("actor")
            severity = max(severity, before.severity, key=lambda level: level.rank)
            signal = signal.model_copy(
                update={
                    "severity": severity,
                    "details": {
                        **signal.details,
                        "actor": first if isinstance(first, str) else actor,
                    },
                }
            )
        if before is None:
            _check_rate(service, actor)
            _check_open(firing.values(), actor)
        changed = [a for a in service.apply(opened=[signal]) if a.fingerprint == signal.fingerprint]
    # Raised again at a lower severity, an open alert is left as it is: nothing changed.
    alert = before if not changed and before is not None else changed[0]
    notified = alert.notifications > (before.notifications if before is not None else 0)
    reached = [f"telegram:{chat}" for chat in service.config.chats_for(alert.severity)]
    channels = reached if notified else []
    kept = "kept" if before is None else "already open"
    if notified:
        said = f"sent to {len(channels)} chat(s)"
    elif not reached:
        said = f"{kept}; no channel is configured (SMSFLEET_TELEGRAM_BOT_TOKEN, _CHAT_IDS)"
    else:
        said = f"{kept}: not sent again before the repeat interval"
    return AlertRaised(alert_id=alert.id, state=alert.state, channels=channels, message=said)


def _check_open(firing: Iterable[Alert], actor: str) -> None:
    """Refuse a new alert while `actor` has `MAX_OPEN` of their own open."""
    mine = sum(1 for a in firing if a.rule == AlertRule.manual and a.details.get("actor") == actor)
    if mine >= MAX_OPEN:
        raise Conflict(
            f"you have {mine} alerts open that you raised, the most one user may:"
            " acknowledge the ones dealt with first"
        )


def _check_rate(service: AlertService, actor: str) -> None:
    """Refuse a new alert past the ones `actor` may raise in the window: acknowledging one
    resolves it, so the open cap alone would let a loop notify the chats without end."""
    config = service.config
    now = service.clock.now()
    check_window(
        service.store.raised_by(actor, rule=AlertRule.manual, since=now - config.raised_window),
        most=config.max_raised_per_actor,
        window=config.raised_window,
        now=now,
        said="you raised {count} alerts in the last {minutes} min, the most one user may;"
        " acknowledged ones count too",
    )


def acknowledge(
    *, service: AlertService, alert_id: str, actor: Actor, audit: EventLog[AuditEvent]
) -> Alert:
    """Acknowledge an alert, audited; a person's alert is then resolved, nothing else
    clears it. Acknowledged already, it is as it was, and nothing is recorded."""
    before = service.get(alert_id)
    alert = service.acknowledge(alert_id, actor=actor.username)
    if alert.rule is AlertRule.manual and alert.state is AlertState.firing:
        cleared = {alert.fingerprint: f"acknowledged by {actor.username}"}
        resolved = [a for a in service.apply(cleared=cleared) if a.id == alert.id]
        alert = resolved[0] if resolved else service.get(alert_id)
    if before.acknowledged_at is None:
        audit_service.record(
            audit,
            service.clock,
            actor,
            AuditAction.alert_acknowledged,
            alert_id,
            before=before,
            after=alert,
        )
    return alert


def send_message(
    *, service: AlertService, text: str, actor: Actor, audit: EventLog[AuditEvent]
) -> MessageQueued:
    """A person's message to every chat, audited with its text."""
    queued = service.send_message(text, actor=actor.username)
    audit_service.record(
        audit,
        service.clock,
        actor,
        AuditAction.alert_message_sent,
        "telegram",
        before=None,
        after=None,
        reason=text,
    )
    return queued
