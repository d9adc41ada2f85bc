"""The attempts ledger on SQLite and MariaDB: windows of completed attempts, retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypedDict

import pytest
from sqlalchemy.engine import Engine

from smsfleet.attempts import store as store_module
from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def attempt(number: int, pair: str, outcome: Outcome | None, completed: datetime) -> Attempt:
    country, slug = pair.split("_", 1)
    return Attempt(
        id=f"{number:032x}",
        session=f"program1_{pair}",
        pair=pair,
        country=country,
        operator=slug,
        program="program1",
        phone="+998901234567",
        leased_at=completed - timedelta(seconds=5),
        completed_at=completed if outcome else None,
        outcome=outcome,
    )


class Window(TypedDict):
    """The window arguments of `completed_counts`."""

    start: datetime
    end: datetime
    newest: int


def feed(engine: Engine, rows: Sequence[tuple[str, Outcome | None, timedelta]]) -> None:
    AttemptStore(engine).add_many(
        [attempt(n, pair, outcome, NOW - ago) for n, (pair, outcome, ago) in enumerate(rows)]
    )


def test_the_newest_sent_are_counted_apart_from_the_newest_completed(
    metrics_engine: Engine,
) -> None:
    """An SMS given up on completes two minutes after it was sent, after two sent later and
    delivered: the newest two completed hold it, the newest two sent do not."""
    given_up = attempt(0, "UZ_a", Outcome.not_delivered, NOW - timedelta(seconds=1))
    given_up = given_up.model_copy(update={"leased_at": NOW - timedelta(seconds=121)})
    delivered = [
        attempt(n, "UZ_a", Outcome.delivered, NOW - timedelta(seconds=ago))
        for n, ago in ((1, 60), (2, 30))
    ]
    ledger = AttemptStore(metrics_engine)
    ledger.add_many([given_up, *delivered])
    window: Window = {"start": NOW - timedelta(minutes=30), "end": NOW, "newest": 2}
    assert ledger.completed_counts(by="pair", **window) == {"UZ_a": (2, 1)}
    assert ledger.completed_counts(by="pair", newest_sent=True, **window) == {"UZ_a": (2, 2)}
    starts = {"UZ_a": NOW - timedelta(minutes=5)}
    assert ledger.completed_counts(by="pair", starts=starts, newest_sent=True, **window) == {
        "UZ_a": (2, 2)
    }


def test_a_window_is_bounded_by_time_and_by_count(metrics_engine: Engine) -> None:
    ledger = AttemptStore(metrics_engine)
    ok, bad = Outcome.delivered, Outcome.not_delivered
    feed(
        metrics_engine,
        # UZ_a: 12 in the window, the newest 10 count (8 delivered), 3 too old, 1 open.
        [("UZ_a", ok, timedelta(minutes=m)) for m in range(1, 9)]
        + [("UZ_a", bad, timedelta(minutes=m)) for m in (9, 10, 11, 12)]
        + [("UZ_a", ok, timedelta(minutes=m)) for m in (31, 40, 50)]
        + [("UZ_a", None, timedelta(seconds=1))]
        # UZ_b: every failure kind counts as completed but not delivered.
        + [("UZ_b", o, timedelta(minutes=1)) for o in Outcome]
        # KZ_c: completed after `now` (a later attempt than the clock): not counted.
        + [("KZ_c", ok, -timedelta(minutes=1))],
    )
    window: Window = {"start": NOW - timedelta(minutes=30), "end": NOW, "newest": 10}
    assert ledger.completed_counts(by="pair", **window) == {"UZ_a": (10, 8), "UZ_b": (4, 1)}
    # UZ's newest 10: the five of the last minute (2 delivered) and UZ_a's next five.
    assert ledger.completed_counts(by="country", **window) == {"UZ": (10, 7)}
    assert ledger.completed_counts(by="pair", keys=["UZ_b"], **window) == {"UZ_b": (4, 1)}
    assert ledger.completed_counts(by="pair", keys=[], **window) == {}
    # A later start (5.5 minutes ago) leaves the 5 newest.
    later: Window = {**window, "start": NOW - timedelta(minutes=5, seconds=30)}
    assert ledger.completed_counts(by="pair", keys=["UZ_a"], **later) == {"UZ_a": (5, 5)}


def test_each_subject_is_counted_from_its_own_start_in_one_read(
    metrics_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per subject the same figures as a read of it alone from its start: its newest of
    those after its start, not the newest of the window cut at it."""
    ledger = AttemptStore(metrics_engine)
    ok, bad = Outcome.delivered, Outcome.not_delivered
    feed(
        metrics_engine,
        # UZ_a: 8 delivered in the last 8 minutes, 4 failed before.
        [("UZ_a", ok, timedelta(minutes=m)) for m in range(1, 9)]
        + [("UZ_a", bad, timedelta(minutes=m)) for m in (9, 10, 11, 12)]
        + [("UZ_b", bad, timedelta(minutes=m)) for m in (1, 2, 20)]
        + [("UZ_c", ok, timedelta(minutes=m)) for m in (1, 2)],
    )
    window: Window = {"start": NOW - timedelta(minutes=30), "end": NOW, "newest": 5}
    starts = {
        "UZ_a": NOW - timedelta(minutes=10, seconds=30),  # 10 after it, the newest 5 count
        "UZ_b": NOW - timedelta(minutes=2, seconds=30),
        "UZ_c": NOW - timedelta(hours=1),  # before the window: the window's start holds
        "UZ_d": NOW - timedelta(minutes=1),  # none
    }
    alone = {
        key: found
        for key, since in starts.items()
        for found in ledger.completed_counts(
            by="pair",
            keys=[key],
            start=max(window["start"], since),
            end=NOW,
            newest=window["newest"],
        ).values()
    }
    assert alone == {"UZ_a": (5, 5), "UZ_b": (2, 0), "UZ_c": (2, 2)}
    assert ledger.completed_counts(by="pair", starts=starts, **window) == alone
    # More subjects than one query takes: read in several, the same figures.
    monkeypatch.setattr(store_module, "STARTS_CHUNK", 1)
    assert ledger.completed_counts(by="pair", starts=starts, **window) == alone
    assert ledger.completed_counts(by="pair", starts={}, **window) == {}


def test_purge_deletes_what_completed_before_and_what_was_left_open_before(
    metrics_engine: Engine,
) -> None:
    ledger = AttemptStore(metrics_engine)
    ok = Outcome.delivered
    feed(
        metrics_engine,
        [
            ("UZ_a", ok, timedelta(hours=2)),  # completed before the cutoff: goes
            ("UZ_a", None, timedelta(hours=2)),  # left open before it: goes
            ("UZ_a", ok, timedelta(minutes=30)),  # after it: stays
            ("UZ_a", None, timedelta(minutes=30)),  # open, leased after it: stays
        ],
    )
    assert ledger.earliest() == NOW - timedelta(hours=2, seconds=5)  # the first lease
    assert ledger.purge(before=NOW - timedelta(hours=1)) == 2
    assert ledger.earliest() == NOW - timedelta(minutes=30, seconds=5)
    left = ledger.recent(limit=10)
    assert sorted(a.id for a in left) == [f"{2:032x}", f"{3:032x}"]
    assert ledger.purge(before=NOW - timedelta(hours=1)) == 0
