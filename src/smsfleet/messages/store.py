"""Messages and on-demand sends (metrics store); templates (config store)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from smsfleet.core.errors import Conflict
from smsfleet.core.sql import (
    DateTimeColumn,
    config_metadata,
    delete_oldest,
    metrics_metadata,
    naive_utc,
    pages_since,
)
from smsfleet.messages.models import Direction, Message, Send, SendQuery, SendStatus

__all__ = [
    "TEMPLATES_COLLECTION",
    "MessageStore",
    "messages_table",
    "sends_table",
    "templates_table",
]

messages_table = sa.Table(
    "messages",
    metrics_metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("sender", sa.String(32), nullable=False),
    sa.Column("receiver", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", DateTimeColumn, nullable=False),
    sa.Column("recorded_at", DateTimeColumn, nullable=False),
    sa.Column("attempt_id", sa.String(32)),
    sa.Index("ix_messages_sender_at", "sender", "at"),
    sa.Index("ix_messages_receiver_at", "receiver", "at"),
    sa.Index("ix_messages_recorded_at", "recorded_at"),
)

sends_table = sa.Table(
    "sends",
    metrics_metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("pair", sa.String(40), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("template_id", sa.String(40)),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("sent_text", sa.Text),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("programs", sa.JSON, nullable=False),
    sa.Column("next_index", sa.Integer, nullable=False),
    # programs[next_index] while pending, so a lease finds its sends by one index.
    sa.Column("current_program", sa.String(32)),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("program", sa.String(32)),
    sa.Column("provider", sa.String(64)),
    sa.Column("attempt_id", sa.String(32)),
    sa.Column("leased_until", DateTimeColumn),
    sa.Column("waiting_since", DateTimeColumn, nullable=False),
    sa.Column("error", sa.String(512)),
    sa.Column("sent_at", DateTimeColumn),
    sa.Column("sent_unknown", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("created_at", DateTimeColumn, nullable=False),
    sa.Column("updated_at", DateTimeColumn, nullable=False),
    sa.Column("completed_at", DateTimeColumn),
    sa.Index("ix_sends_pending", "status", "pair", "current_program", "created_at"),
    sa.Index("ix_sends_attempt", "attempt_id"),
    sa.Index("ix_sends_created_at", "created_at"),
    sa.Index("ix_sends_completed_at", "completed_at"),
)

templates_table = sa.Table(
    "message_templates",
    config_metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("provider_bodies", sa.JSON, nullable=False),
    sa.Column("created_at", DateTimeColumn, nullable=False),
    sa.Column("updated_at", DateTimeColumn, nullable=False),
)
TEMPLATES_COLLECTION = "message_templates"

_SEND_TIMES = (
    "leased_until",
    "waiting_since",
    "sent_at",
    "created_at",
    "updated_at",
    "completed_at",
)


def _send_values(send: Send) -> dict[str, Any]:
    values = send.model_dump(mode="python")
    for name in _SEND_TIMES:
        values[name] = naive_utc(values[name])
    values["status"] = send.status.value
    pending = send.status is SendStatus.PENDING and send.next_index < len(send.programs)
    values["current_program"] = send.programs[send.next_index] if pending else None
    return values


def _send(row: Any) -> Send:
    values = dict(row)
    values.pop("current_program", None)
    return Send.model_validate(values)


class MessageStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- messages ----------------------------------------------------------------------

    def add_message(self, message: Message) -> None:
        values = message.model_dump(mode="python")
        values["direction"] = message.direction.value
        values["at"], values["recorded_at"] = naive_utc(message.at), naive_utc(message.recorded_at)
        try:
            with self._engine.begin() as connection:
                connection.execute(sa.insert(messages_table).values(**values))
        except sa_exc.IntegrityError:
            done = "sent" if message.direction is Direction.outbound else "received"
            raise Conflict(
                f"a message with uuid {message.uuid} was already {done}",
                details={"uuid": message.uuid},
            ) from None

    def messages_of(
        self, phone: str | Sequence[str], *, limit: int = 500, before: datetime | None = None
    ) -> list[Message]:
        """Messages from or to `phone` (or any of its spellings), oldest first: the newest
        `limit` (of those before then, if given)."""
        table = messages_table
        numbers = [phone] if isinstance(phone, str) else list(phone)
        select = (
            sa.select(table)
            .where(sa.or_(table.c.sender.in_(numbers), table.c.receiver.in_(numbers)))
            .order_by(table.c.at.desc(), table.c.uuid)
            .limit(limit)
        )
        if before is not None:
            select = select.where(table.c.at < naive_utc(before))
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
        return [Message.model_validate(dict(row)) for row in reversed(rows)]

    def recorded_since(
        self, since: datetime | None, *, size: int = 1000
    ) -> Iterator[list[Message]]:
        """Messages recorded since then (None: all), oldest first, `size` a page."""
        table = messages_table
        for rows in pages_since(
            self._engine,
            sa.select(table),
            moment=table.c.recorded_at,
            tiebreak=table.c.uuid,
            since=since,
            size=size,
        ):
            yield [Message.model_validate(row) for row in rows]

    def forget_messages_before(self, at: datetime, *, limit: int) -> int:
        """Remove, in one write, the `limit` messages recorded longest ago from before
        `at` but those of a pending send (its code may still be read): how many."""
        sms, sends = messages_table, sends_table
        kept = sa.exists().where(
            sends.c.attempt_id == sms.c.attempt_id, sends.c.status == SendStatus.PENDING.value
        )
        moment = sms.c.recorded_at
        return delete_oldest(self._engine, sms, moment=moment, before=at, limit=limit, where=~kept)

    # --- sends -------------------------------------------------------------------------

    def add_send(self, send: Send) -> None:
        with self._engine.begin() as connection:
            connection.execute(sa.insert(sends_table).values(**_send_values(send)))

    def get_send(self, send_id: str) -> Send | None:
        with self._engine.connect() as connection:
            row = (
                connection.execute(sa.select(sends_table).where(sends_table.c.id == send_id))
                .mappings()
                .first()
            )
        return None if row is None else _send(row)

    def send_for_attempt(self, attempt_id: str) -> Send | None:
        with self._engine.connect() as connection:
            row = (
                connection.execute(
                    sa.select(sends_table).where(sends_table.c.attempt_id == attempt_id)
                )
                .mappings()
                .first()
            )
        return None if row is None else _send(row)

    def sends(self, query: SendQuery) -> list[Send]:
        table = sends_table
        select = sa.select(table)
        if query.status is not None:
            select = select.where(table.c.status == query.status.value)
        if query.phone is not None:
            select = select.where(table.c.phone == query.phone)
        select = select.order_by(table.c.created_at.desc(), table.c.id).limit(query.limit)
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
        return [_send(row) for row in rows]

    def pending(self) -> list[Send]:
        table = sends_table
        select = (
            sa.select(table)
            .where(table.c.status == SendStatus.PENDING.value)
            .order_by(table.c.created_at)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
        return [_send(row) for row in rows]

    def pending_counts(self, *, actor: str, pair: str) -> tuple[int, int]:
        """How many sends wait now: `actor`'s, and `pair`'s."""
        table = sends_table

        def of(column: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
            return sa.func.coalesce(sa.func.sum(sa.case((column, 1), else_=0)), 0)

        select = sa.select(of(table.c.actor == actor), of(table.c.pair == pair)).where(
            table.c.status == SendStatus.PENDING.value
        )
        with self._engine.connect() as connection:
            mine, pairs = connection.execute(select).one()
        return int(mine), int(pairs)

    def has_pending(self) -> bool:
        select = sa.select(sa.literal(1)).where(sends_table.c.status == SendStatus.PENDING.value)
        with self._engine.connect() as connection:
            return connection.execute(select.limit(1)).first() is not None

    def waiting_numbers(self) -> list[tuple[str, str, str]]:
        """`(pair, phone, program)` of every pending send no program holds: the number it
        goes to, and the program of its pair it waits for."""
        table = sends_table
        select = sa.select(table.c.pair, table.c.phone, table.c.current_program).where(
            table.c.status == SendStatus.PENDING.value,
            table.c.attempt_id.is_(None),
            table.c.current_program.is_not(None),
        )
        with self._engine.connect() as connection:
            rows = connection.execute(select).all()
        return [(str(pair), str(phone), str(program)) for pair, phone, program in rows]

    def next_for(self, *, pair: str, program: str, busy: Collection[str] = ()) -> Send | None:
        """The oldest pending send that waits for this pair's program, not leased, to a
        number not in `busy`."""
        table = sends_table
        select = (
            sa.select(table)
            .where(
                table.c.status == SendStatus.PENDING.value,
                table.c.pair == pair,
                table.c.current_program == program,
                table.c.attempt_id.is_(None),
                table.c.phone.not_in(list(busy)),
            )
            .order_by(table.c.created_at)
            .limit(1)
        )
        with self._engine.connect() as connection:
            row = connection.execute(select).mappings().first()
        return None if row is None else _send(row)

    def forget_sends_before(self, at: datetime, *, limit: int) -> int:
        """Remove, in one write, the `limit` sends settled longest ago from before `at` (a
        pending one never): how many."""
        table, pending = sends_table, sends_table.c.status == SendStatus.PENDING.value
        moment = table.c.completed_at
        return delete_oldest(
            self._engine, table, moment=moment, before=at, limit=limit, where=~pending
        )

    def update_send(self, send: Send, *, expect: Sequence[tuple[str, Any]] = ()) -> bool:
        """Write `send` if its row still has the `expect`ed values; say whether it did.

        So two processes (a lease and the retry job, a cancel and a lease) never both
        act on one send.
        """
        table = sends_table
        update = sa.update(table).where(table.c.id == send.id)
        for column, value in expect:
            update = update.where(
                table.c[column].is_(None) if value is None else table.c[column] == value
            )
        with self._engine.begin() as connection:
            return connection.execute(update.values(**_send_values(send))).rowcount == 1
