"""A worker token names the creation time of the session it was issued for, and verifies
only for that session's name, with the secret that issued it, written as it was issued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsfleet.core.security import verify_worker_token, worker_token

SECRET = "s" * 40
SESSION = "program1_UZ_uzmobile"
CREATED = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)


def test_a_token_names_the_creation_time_it_was_issued_for() -> None:
    token = worker_token(secret=SECRET, session=SESSION, created_at=CREATED)
    stamp, _, digest = token.partition(".")
    assert int(stamp) == CREATED.timestamp() * 1000
    assert len(digest) == 64
    assert verify_worker_token(secret=SECRET, session=SESSION, token=token) == CREATED


def test_a_session_created_again_has_another_token() -> None:
    first = worker_token(secret=SECRET, session=SESSION, created_at=CREATED)
    again = CREATED + timedelta(milliseconds=1)
    second = worker_token(secret=SECRET, session=SESSION, created_at=again)
    assert first != second
    assert verify_worker_token(secret=SECRET, session=SESSION, token=second) == again


def test_a_token_verifies_for_its_session_and_secret_only() -> None:
    token = worker_token(secret=SECRET, session=SESSION, created_at=CREATED)
    assert verify_worker_token(secret="t" * 40, session=SESSION, token=token) is None
    assert verify_worker_token(secret=SECRET, session="program2_UZ_uzmobile", token=token) is None


def test_its_stamp_cannot_be_moved_to_another_time() -> None:
    """The digest covers the stamp: a token's stamp changed to the new session's creation
    time verifies for neither."""
    stamp, _, digest = worker_token(secret=SECRET, session=SESSION, created_at=CREATED).partition(
        "."
    )
    for moved in (int(stamp) + 1, int(stamp) - 1, 0):
        assert (
            verify_worker_token(secret=SECRET, session=SESSION, token=f"{moved}.{digest}") is None
        )


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "a" * 64,  # no stamp: the earlier form, derived from the name only
        "1772357415123",  # no digest
        "1772357415123.",
        "01772357415123.{digest}",  # the same time, written otherwise
        "+1772357415123.{digest}",
        "-1.{digest}",
        "1.5.{digest}",
        "1e12.{digest}",
        "\u0661\u0662.{digest}",  # digits, not ASCII ones
        "9999999999999999.{digest}",  # past the last day a datetime holds
        "9" * 5000 + ".{digest}",  # longer than Python reads as a number
        "1772357415123.{digest}\udce9",  # a header's byte outside ASCII
        "1772357415123.{digest} ",
    ],
)
def test_a_malformed_token_verifies_as_none(token: str) -> None:
    digest = worker_token(secret=SECRET, session=SESSION, created_at=CREATED).partition(".")[2]
    assert (
        verify_worker_token(secret=SECRET, session=SESSION, token=token.format(digest=digest))
        is None
    )
