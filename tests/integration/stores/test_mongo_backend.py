"""What the MongoDB backend keeps on the server: indexes made at start, documents by key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo.errors import WriteError

from smsfleet.auth.store import LOGINS_COLLECTION, REVOKED_SESSIONS_COLLECTION
from smsfleet.core.errors import Conflict
from smsfleet.core.mongo import REVISIONS_COLLECTION
from smsfleet.pairs.models import Country, Pair
from smsfleet.pairs.store import PAIRS_COLLECTION
from smsfleet.stores import open_config_store
from tests.support.backends import mongo_client, reset_config_store


@pytest.fixture
def clean_mongo_url(mongo_url: str) -> str:
    reset_config_store(mongo_url)
    return mongo_url


def _index_keys(url: str) -> dict[str, list[tuple[str, int]]]:
    with mongo_client(url) as client:
        info = client.get_default_database()[PAIRS_COLLECTION].index_information()
    return {
        name: [(field, int(order)) for field, order in spec["key"]] for name, spec in info.items()
    }


def test_indexes_are_created_at_start(clean_mongo_url: str) -> None:
    store = open_config_store(clean_mongo_url)
    try:
        keys = _index_keys(clean_mongo_url)
    finally:
        store.close()
    assert [("country", 1)] in keys.values()
    assert keys["_id_"] == [("_id", 1)]


def test_a_users_logins_are_found_by_index(clean_mongo_url: str) -> None:
    """A login counts its user's logins through an index; those that ended the server
    drops itself (a TTL index), as it does revoked sessions."""
    store = open_config_store(clean_mongo_url)
    try:
        with mongo_client(clean_mongo_url) as client:
            database = client.get_default_database()
            logins = database[LOGINS_COLLECTION].index_information()
            revoked = database[REVOKED_SESSIONS_COLLECTION].index_information()
    finally:
        store.close()
    keys = [[(field, int(order)) for field, order in spec["key"]] for spec in logins.values()]
    assert [("username", 1), ("expires_at", 1)] in keys
    for indexes in (logins, revoked):
        [ttl] = [spec for spec in indexes.values() if "expireAfterSeconds" in spec]
        assert [field for field, _ in ttl["key"]] == ["expires_at"]


def test_index_creation_is_idempotent(clean_mongo_url: str) -> None:
    open_config_store(clean_mongo_url).close()
    before = _index_keys(clean_mongo_url)
    open_config_store(clean_mongo_url).close()
    assert _index_keys(clean_mongo_url) == before


def test_documents_are_keyed_by_record_key(clean_mongo_url: str) -> None:
    written = datetime(2026, 3, 1, 12, 0, 45, 123000, tzinfo=UTC)
    store = open_config_store(clean_mongo_url)
    try:
        store.countries.add(Country(code="UZ", name="Uzbekistan", cap=10))
        store.pairs.add(
            Pair(
                key="UZ_uzmobile",
                country="UZ",
                operator="Uzmobile",
                slug="uzmobile",
                created_at=written,
                updated_at=written,
            )
        )
    finally:
        store.close()
    with mongo_client(clean_mongo_url) as client:
        database = client.get_default_database()
        pair = database[PAIRS_COLLECTION].find_one({"_id": "UZ_uzmobile"})
        country = database["countries"].find_one({"_id": "UZ"})
    assert pair is not None
    assert country is not None
    assert pair["key"] == "UZ_uzmobile"
    # Stored as BSON dates, not strings: the server can sort and filter on them.
    assert pair["created_at"] == written
    assert pair["is_high_priority"] is False
    assert pair["region"] is None


def test_every_record_collection_has_a_revision_from_the_start(clean_mongo_url: str) -> None:
    """Data written before revisions existed is then kept from the first read, not read
    in full at every read until its collection is next written."""
    with mongo_client(clean_mongo_url) as client:
        client.get_default_database()["countries"].insert_one(
            {"_id": "UZ", "code": "UZ", "name": "Uzbekistan", "cap": 10}
        )
    store = open_config_store(clean_mongo_url)
    try:
        assert [country.code for country in store.countries.list()] == ["UZ"]
    finally:
        store.close()
    with mongo_client(clean_mongo_url) as client:
        revisions = client.get_default_database()[REVISIONS_COLLECTION]
        kept = {document["_id"] for document in revisions.find()}
    assert {"countries", "pairs", "programs", "users", "session_specs"} <= kept


def test_a_kept_listing_is_not_mistaken_for_a_collection_dropped_and_written_again(
    clean_mongo_url: str,
) -> None:
    """A revision is a write's own id, not a counter that would start again at the same
    value once the database is dropped and written as often."""
    store = open_config_store(clean_mongo_url)
    try:
        store.countries.add(Country(code="UZ", name="Uzbekistan", cap=10))
        assert [country.code for country in store.countries.list()] == ["UZ"]
        reset_config_store(clean_mongo_url)
        other = open_config_store(clean_mongo_url)
        try:
            other.countries.add(Country(code="KZ", name="Kazakhstan", cap=10))
        finally:
            other.close()
        assert [country.code for country in store.countries.list()] == ["KZ"]
    finally:
        store.close()


def test_a_revision_that_cannot_change_neither_hides_the_write_nor_its_error(
    clean_mongo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server refuses the new revision (a validator stands in for a server lost
    between the two operations): a write that happened is said to have failed, one
    that failed keeps its own error, and this process reads the collection afresh."""
    store = open_config_store(clean_mongo_url)
    try:
        store.countries.add(Country(code="UZ", name="Uzbekistan", cap=10))
        assert [country.code for country in store.countries.list()] == ["UZ"]  # kept
        with mongo_client(clean_mongo_url) as client:
            client.get_default_database().command(
                "collMod",
                REVISIONS_COLLECTION,
                validator={"$jsonSchema": {"properties": {"revision": {"bsonType": "string"}}}},
            )
        with pytest.raises(WriteError):
            store.countries.add(Country(code="KZ", name="Kazakhstan", cap=10))
        assert [country.code for country in store.countries.list()] == ["KZ", "UZ"]
        with pytest.raises(Conflict):
            store.countries.add(Country(code="UZ", name="Uzbekistan", cap=20))
        assert "was not changed after a failed write" in caplog.text
    finally:
        store.close()
