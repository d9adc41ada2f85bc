"""Migration 0017 gives each send of a 0016 metrics store the text its latest try handed
out, on SQLite and MariaDB: the outbound SMS recorded beside that try's attempt.

Rows are written through the 0016 schema (plain tables, not the store's: its is the head
schema), the store migrated to the head and read back through the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.sql import create_sql_engine
from smsfleet.messages.store import MessageStore
from tests.support.backends import sqlite_url_for
from tests.support.metrics_stores import migrate_metrics

AT = datetime(2026, 1, 5, 12, 0)
messages_0016 = sa.table(
    "messages",
    *(sa.column(name) for name in ("uuid", "direction", "sender", "receiver", "text")),
    *(sa.column(name) for name in ("at", "recorded_at", "attempt_id")),
)


def a_send(send_id: str, status: str, attempt_id: str | None) -> dict[str, Any]:
    return {
        "id": send_id,
        "phone": "+998901112233",
        "pair": "UZ_uzmobile",
        "country": "UZ",
        "template_id": "otp",
        "params": {"token": "424242"},
        "text": None,
        "status": status,
        "programs": ["pgood"],
        "next_index": 0,
        "current_program": "pgood" if status == "PENDING" else None,
        "tries": 0 if attempt_id is None else 1,
        "program": None if attempt_id is None else "pgood",
        "provider": None,
        "attempt_id": attempt_id,
        "leased_until": None,
        "waiting_since": AT,
        "error": None,
        "actor": "alice",
        "created_at": AT,
        "updated_at": AT,
        "completed_at": None if status == "PENDING" else AT,
    }


# The 0016 columns of `sends`, as the rows above have them.
sends_0016 = sa.table(
    "sends",
    *(
        sa.column(name, sa.JSON() if name in ("params", "programs") else None)
        for name in a_send("", "PENDING", None)
    ),
)


def a_message(number: int, direction: str, text: str, attempt_id: str) -> dict[str, Any]:
    return {
        "uuid": f"00000000-0000-4000-8000-{number:012d}",
        "direction": direction,
        "sender": "good",
        "receiver": "+998901112233",
        "text": text,
        "at": AT,
        "recorded_at": AT,
        "attempt_id": attempt_id,
    }


@pytest.fixture(params=["sqlite", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = sqlite_url_for(tmp_path / "metrics.sqlite3")
    else:
        url = request.getfixturevalue("empty_mariadb_url")
    engine = create_sql_engine(url)
    try:
        migrate_metrics(engine, "0016")
        yield engine
    finally:
        engine.dispose()


def test_a_tried_send_gets_the_text_recorded_beside_its_latest_attempt(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(sends_0016),
            [a_send("done", "DONE", "a" * 32), a_send("waiting", "PENDING", None)],
        )
        connection.execute(
            sa.insert(messages_0016),
            [
                a_message(1, "outbound", "Your code is 424242", "a" * 32),
                # The gateway's webhook links what came back to the same attempt.
                a_message(2, "inbound", "424242", "a" * 32),
            ],
        )

    migrate_metrics(engine, "head")

    store = MessageStore(engine)
    done, waiting = store.get_send("done"), store.get_send("waiting")
    assert done is not None and done.sent_text == "Your code is 424242"
    assert waiting is not None and waiting.sent_text is None
