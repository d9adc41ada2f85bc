"""The metrics store's `alerts` (open and past) and `alert_outbox` (Telegram messages to send)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smsfleet.alerts.models import (
    Alert,
    AlertCounts,
    AlertQuery,
    AlertRule,
    AlertState,
    Notification,
    NotificationKind,
    Severity,
)
from smsfleet.core.sql import DateTimeColumn, delete_oldest, metrics_metadata, naive_utc

__all__ = ["AlertStore", "NewNotification", "alert_outbox_table", "alerts_table"]

alerts_table = sa.Table(
    "alerts",
    metrics_metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("fingerprint", sa.String(160), nullable=False),
    sa.Column("rule", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(80), nullable=False),
    sa.Column("country", sa.String(2)),
    sa.Column("summary", sa.String(512), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("started_at", DateTimeColumn, nullable=False),
    sa.Column("last_seen_at", DateTimeColumn, nullable=False),
    sa.Column("resolved_at", DateTimeColumn),
    sa.Column("acknowledged_at", DateTimeColumn),
    sa.Column("acknowledged_by", sa.String(64)),
    sa.Column("milder_acknowledged_at", DateTimeColumn),
    sa.Column("milder_acknowledged_by", sa.String(64)),
    sa.Column("milder_acknowledged_severity", sa.String(16)),
    sa.Column("last_notified_at", DateTimeColumn),
    sa.Column("notifications", sa.Integer, nullable=False),
    sa.Index("ix_alerts_state_fingerprint", "state", "fingerprint"),
    sa.Index("ix_alerts_started_at", "started_at"),
    sa.Index("ix_alerts_state_resolved_at", "state", "resolved_at"),
)

alert_outbox_table = sa.Table(
    "alert_outbox",
    metrics_metadata,
    # Increasing ids are the order messages go out in, per chat.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("chat_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("alert_id", sa.String(32)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", DateTimeColumn, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", DateTimeColumn, nullable=False),
    sa.Column("sent_at", DateTimeColumn),
    sa.Column("failed_at", DateTimeColumn),
    sa.Column("last_error", sa.String(512)),
    # Who queued a person's own message (`POST /api/v1/alerts/test`): their room is counted.
    sa.Column("actor", sa.String(64)),
    # Sent without a sound: another alert of its pair already told the chat (a page).
    sa.Column("silent", sa.Boolean, nullable=False, server_default=sa.false()),
    # When its send began, until that try ends: set still on a later try, the control
    # plane stopped while sending it (Telegram may have taken it).
    sa.Column("sending_at", DateTimeColumn),
    sa.Index("ix_alert_outbox_pending", "sent_at", "failed_at", "id"),
    sa.Index("ix_alert_outbox_alert_id", "alert_id"),
    sa.Index("ix_alert_outbox_actor_created_at", "actor", "created_at"),
)

# Messages sent or given up on: those retention may delete. One still to send goes out,
# its text needing no alert.
_SETTLED = sa.or_(
    alert_outbox_table.c.sent_at.is_not(None), alert_outbox_table.c.failed_at.is_not(None)
)

_TIMES = (
    "started_at",
    "last_seen_at",
    "resolved_at",
    "acknowledged_at",
    "milder_acknowledged_at",
    "last_notified_at",
)


@dataclass(frozen=True)
class NewNotification:
    chat_id: str
    kind: NotificationKind
    alert_id: str | None
    text: str
    actor: str | None = None
    silent: bool = False


def _alert_values(alert: Alert) -> dict[str, Any]:
    values = alert.model_dump(mode="python")
    for name in _TIMES:
        values[name] = naive_utc(values[name])
    for name in ("rule", "severity", "state", "subject_kind", "milder_acknowledged_severity"):
        if values[name] is not None:
            values[name] = str(values[name])
    return values


class AlertStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- alerts ------------------------------------------------------------------------

    def save(
        self,
        alerts: Sequence[Alert],
        notifications: Sequence[NewNotification],
        *,
        now: datetime,
    ) -> list[int]:
        """Write alerts (new or changed) and queue their messages in one transaction."""
        table = alerts_table
        with self._engine.begin() as connection:
            for alert in alerts:
                values = _alert_values(alert)
                changed = connection.execute(
                    sa.update(table).where(table.c.id == alert.id).values(**values)
                ).rowcount
                if not changed:
                    connection.execute(sa.insert(table).values(**values))
            return self._enqueue(connection, notifications, now)

    def get(self, alert_id: str) -> Alert | None:
        with self._engine.connect() as connection:
            row = (
                connection.execute(sa.select(alerts_table).where(alerts_table.c.id == alert_id))
                .mappings()
                .first()
            )
        return None if row is None else Alert.model_validate(dict(row))

    def firing(self) -> list[Alert]:
        return self.query(AlertQuery(state=AlertState.firing, limit=1000))

    def query(self, query: AlertQuery) -> list[Alert]:
        """Alerts matching the filters, newest first."""
        table = alerts_table
        select = sa.select(table)
        if query.state is not None:
            select = select.where(table.c.state == query.state.value)
        if query.severity is not None:
            select = select.where(table.c.severity == query.severity.value)
        if query.rule is not None:
            select = select.where(table.c.rule == query.rule.value)
        if query.country is not None:
            select = select.where(table.c.country == query.country.upper())
        if query.subject is not None:
            select = select.where(table.c.subject == query.subject)
        if query.acknowledged is not None:
            acknowledged = table.c.acknowledged_at.is_not(None)
            select = select.where(acknowledged if query.acknowledged else sa.not_(acknowledged))
        if query.since is not None:
            select = select.where(table.c.started_at >= naive_utc(query.since))
        select = select.order_by(table.c.started_at.desc(), table.c.id.desc()).limit(query.limit)
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
        return [Alert.model_validate(dict(row)) for row in rows]

    def raised_by(self, actor: str, *, rule: AlertRule, since: datetime) -> list[datetime]:
        """When the alerts of `rule` that `actor` raised after `since` started, oldest first,
        resolved or not (who raised one is in its details)."""
        table = alerts_table
        select = (
            sa.select(table.c.started_at, table.c.details)
            .where(table.c.rule == rule.value, table.c.started_at > naive_utc(since))
            .order_by(table.c.started_at)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(select).all()
        return [when.replace(tzinfo=UTC) for when, details in rows if details.get("actor") == actor]

    def counts(self) -> AlertCounts:
        table = alerts_table
        firing = table.c.state == AlertState.firing.value
        select = sa.select(
            sa.func.count(),
            sa.func.coalesce(
                sa.func.sum(sa.case((table.c.severity == Severity.critical.value, 1), else_=0)), 0
            ),
            sa.func.coalesce(
                sa.func.sum(sa.case((table.c.acknowledged_at.is_(None), 1), else_=0)), 0
            ),
        ).where(firing)
        with self._engine.connect() as connection:
            total, critical, unacknowledged = connection.execute(select).one()
        return AlertCounts(
            firing=int(total), critical=int(critical), unacknowledged=int(unacknowledged)
        )

    def forget_before(self, at: datetime, *, limit: int) -> int:
        """Remove, in one write, the `limit` alerts resolved longest ago from before `at`
        (a firing one never), with their messages sent or given up on: how many alerts."""
        table, outbox = alerts_table, alert_outbox_table
        return delete_oldest(
            self._engine,
            table,
            moment=table.c.resolved_at,
            before=at,
            limit=limit,
            where=table.c.state == AlertState.resolved.value,
            then=lambda connection, ids: connection.execute(
                sa.delete(outbox).where(outbox.c.alert_id.in_(ids), _SETTLED)
            ),
        )

    def forget_messages_before(self, at: datetime, *, limit: int) -> int:
        """Remove, in one write, the `limit` oldest messages with no alert to go with (people's
        own, `POST /api/v1/alerts/test`, and those of an alert already removed: one still to
        send when its alert went) queued before `at` and sent or given up on; one still to
        send goes out. How many."""
        outbox, alerts = alert_outbox_table, alerts_table
        # A message with no alert id (a person's) finds no alert either.
        no_alert = sa.not_(sa.exists().where(alerts.c.id == outbox.c.alert_id))
        return delete_oldest(
            self._engine,
            outbox,
            moment=outbox.c.created_at,
            before=at,
            limit=limit,
            where=sa.and_(no_alert, _SETTLED),
        )

    # --- outbox --------------------------------------------------------------------------

    def enqueue(self, notifications: Sequence[NewNotification], *, now: datetime) -> list[int]:
        with self._engine.begin() as connection:
            return self._enqueue(connection, notifications, now)

    def _enqueue(
        self, connection: Connection, notifications: Sequence[NewNotification], now: datetime
    ) -> list[int]:
        ids: list[int] = []
        for item in notifications:
            result = connection.execute(
                sa.insert(alert_outbox_table).values(
                    chat_id=item.chat_id,
                    kind=item.kind.value,
                    alert_id=item.alert_id,
                    text=item.text,
                    actor=item.actor,
                    silent=item.silent,
                    created_at=naive_utc(now),
                    attempts=0,
                    next_attempt_at=naive_utc(now),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            ids.append(int(key[0]))
        return ids

    def pending(self, *, limit: int = 100) -> list[Notification]:
        """Messages not sent yet and not given up on: the alerts' oldest first, then
        people's own messages, so a burst of those never holds an alert back."""
        table = alert_outbox_table
        people_last = sa.case((table.c.kind == NotificationKind.message.value, 1), else_=0)
        select = (
            sa.select(table)
            .where(table.c.sent_at.is_(None), table.c.failed_at.is_(None))
            .order_by(people_last, table.c.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
        return [Notification.model_validate(dict(row)) for row in rows]

    def pending_messages(self, *, actor: str | None = None) -> int:
        """People's own messages (`POST /api/v1/alerts/test`), or those `actor` queued, not
        sent yet: the most any one chat has waiting."""
        table = alert_outbox_table
        waiting = sa.select(sa.func.count().label("waiting")).where(
            table.c.sent_at.is_(None),
            table.c.failed_at.is_(None),
            table.c.kind == NotificationKind.message.value,
        )
        if actor is not None:
            waiting = waiting.where(table.c.actor == actor)
        per_chat = waiting.group_by(table.c.chat_id).subquery()
        with self._engine.connect() as connection:
            most = connection.execute(sa.select(sa.func.max(per_chat.c.waiting))).scalar()
        return int(most or 0)

    def messages_by(self, actor: str, *, since: datetime) -> list[datetime]:
        """When the messages `actor` queued after `since` were queued, oldest first, counted
        in the chat that has the most of them (each goes to every chat), sent or not."""
        table = alert_outbox_table
        select = (
            sa.select(table.c.chat_id, table.c.created_at)
            .where(
                table.c.actor == actor,
                table.c.kind == NotificationKind.message.value,
                table.c.created_at > naive_utc(since),
            )
            .order_by(table.c.created_at, table.c.id)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(select).all()
        per_chat: dict[str, list[datetime]] = {}
        for chat, when in rows:
            per_chat.setdefault(chat, []).append(when.replace(tzinfo=UTC))
        return max(per_chat.values(), key=len, default=[])

    def notifications(self, alert_id: str) -> list[Notification]:
        table = alert_outbox_table
        select = sa.select(table).where(table.c.alert_id == alert_id).order_by(table.c.id)
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
        return [Notification.model_validate(dict(row)) for row in rows]

    def mark_sending(self, notification_id: int, *, at: datetime) -> None:
        """A try of the message begins: until its outcome is marked, it reads as
        interrupted (`Notification.sending_at`)."""
        self._update(notification_id, sending_at=naive_utc(at))

    def mark_sent(self, notification_id: int, *, at: datetime) -> None:
        self._update(
            notification_id,
            sent_at=naive_utc(at),
            sending_at=None,
            attempts=alert_outbox_table.c.attempts + 1,
        )

    def mark_retry(self, notification_id: int, *, next_attempt_at: datetime, error: str) -> None:
        self._update(
            notification_id,
            next_attempt_at=naive_utc(next_attempt_at),
            last_error=error[:512],
            sending_at=None,
            attempts=alert_outbox_table.c.attempts + 1,
        )

    def mark_failed(self, notification_id: int, *, at: datetime, error: str) -> None:
        self._update(
            notification_id,
            failed_at=naive_utc(at),
            last_error=error[:512],
            sending_at=None,
            attempts=alert_outbox_table.c.attempts + 1,
        )

    def _update(self, notification_id: int, **values: Any) -> None:
        table = alert_outbox_table
        with self._engine.begin() as connection:
            connection.execute(sa.update(table).where(table.c.id == notification_id).values(values))

    def oldest_not_taken(self) -> tuple[str, datetime] | None:
        """The oldest waiting message's last error and when it is tried again, once it was
        tried and not taken; None while the oldest waits for its first try."""
        table = alert_outbox_table
        select = (
            sa.select(table.c.last_error, table.c.next_attempt_at)
            .where(table.c.sent_at.is_(None), table.c.failed_at.is_(None))
            .order_by(table.c.created_at, table.c.id)
            .limit(1)
        )
        with self._engine.connect() as connection:
            row = connection.execute(select).first()
        if row is None or row.last_error is None:
            return None
        return str(row.last_error), row.next_attempt_at.replace(tzinfo=UTC)

    def last_sent_at(self) -> datetime | None:
        """When Telegram last took a message of the outbox."""
        table = alert_outbox_table
        with self._engine.connect() as connection:
            last = connection.execute(sa.select(sa.func.max(table.c.sent_at))).scalar()
        return None if last is None else last.replace(tzinfo=UTC)

    def outbox_counts(self) -> tuple[int, int, datetime | None]:
        """Pending and failed messages, and when the oldest pending one was queued."""
        table = alert_outbox_table
        unsent = table.c.sent_at.is_(None)
        select = sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((table.c.failed_at.is_(None), 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((table.c.failed_at.is_not(None), 1), else_=0)), 0),
            sa.func.min(sa.case((table.c.failed_at.is_(None), table.c.created_at), else_=None)),
        ).where(unsent)
        with self._engine.connect() as connection:
            pending, failed, oldest = connection.execute(select).one()
        return int(pending), int(failed), None if oldest is None else oldest.replace(tzinfo=UTC)
