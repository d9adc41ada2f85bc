"""MongoDB backend for the config store via pymongo."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Generic

from bson import ObjectId
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from smsfleet.core.errors import Conflict, NotFound
from smsfleet.core.nonblocking import may_block
from smsfleet.core.records import E, EventKey, R
from smsfleet.core.revisions import Listing, Revision, Revisions, Snapshot

log = logging.getLogger("smsfleet.store")

Document = dict[str, Any]
DEFAULT_DATABASE = "smsfleet"
DUPLICATE_KEY = 11000  # the server's error code for an insert whose `_id` exists
# One document per record collection, `{_id: collection, revision: ObjectId}`, given a
# new id after every write to it: a reader that finds it unchanged may reuse what it
# read before. A new id rather than a counter: a collection dropped and written again
# can never come back to a revision a reader kept.
REVISIONS_COLLECTION = "store_revisions"


def open_mongo_database(url: str) -> tuple[MongoClient[Document], Database[Document]]:
    """Client and database named by the URL path (default `smsfleet`)."""
    client: MongoClient[Document] = MongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000)
    database = client.get_default_database(default=DEFAULT_DATABASE)
    return client, database


def start_revisions(database: Database[Document], collections: Sequence[str]) -> None:
    """Give each collection without one a revision, so its reads are kept from the first
    (a collection written before revisions existed would otherwise be read in full
    every time until its next write)."""
    revisions = database[REVISIONS_COLLECTION]
    for name in collections:
        revisions.update_one({"_id": name}, {"$setOnInsert": {"revision": ObjectId()}}, upsert=True)


class MongoRecordStore(Generic[R]):
    """`RecordStore` over one collection; the record's key is the document's `_id`.

    Reads, one record or all, are served from the last full listing while the
    collection's revision is unchanged, as on SQL (`SqlRecordStore`). A write changes
    the revision after it, as a second operation (MongoDB has no transaction outside a
    replica set): should the server be lost between the two, readers that kept a
    listing see that write once the collection is next written.
    """

    def __init__(
        self,
        collection: Collection[Document],
        model: type[R],
        key: str,
        *,
        revisions: Revisions | None = None,
    ) -> None:
        self._collection = collection
        self._model = model
        self._key_name = key
        # Shared by the stores of one database, for their `one_read` blocks.
        self._revisions = revisions or Revisions()
        self._revision_documents = collection.database[REVISIONS_COLLECTION]
        self._listing: Listing[R] = Listing(key)
        self._name = collection.name

    def _document(self, record: R) -> Document:
        return {"_id": getattr(record, self._key_name), **record.model_dump()}

    def _record(self, document: Document) -> R:
        document.pop("_id", None)
        return self._model.model_validate(document)

    def _look_up_all(self) -> dict[str, Revision]:
        return {found["_id"]: found["revision"] for found in self._revision_documents.find()}

    def _revision(self) -> Revision | None:
        seen = self._revisions.in_block(self._look_up_all)
        if seen is not None:
            return seen.get(self._name)
        may_block()
        found = self._revision_documents.find_one({"_id": self._name})
        return None if found is None else found["revision"]

    def _current(self) -> Snapshot[R]:
        def read_all() -> list[R]:
            return [self._record(document) for document in self._collection.find().sort("_id", 1)]

        return self._listing.current(self._revision(), read_all)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write, then its collection's new revision, even when the write failed part
        way (an `insert_many` that met a duplicate key inserted the others)."""
        try:
            yield
        except BaseException:
            self._bump(after_error=True)
            raise
        self._bump(after_error=False)

    def _bump(self, *, after_error: bool) -> None:
        """The collection's new revision. Should it fail (the server lost), this process
        reads the collection afresh next time, and others once it is next written; a
        write's own error is not hidden by the bump's."""
        try:
            self._revision_documents.update_one(
                {"_id": self._name}, {"$set": {"revision": ObjectId()}}, upsert=True
            )
        except PyMongoError:
            self._listing.forget()
            if not after_error:
                raise
            log.warning("the revision of %s was not changed after a failed write", self._name)
        finally:
            self._revisions.written()

    def get(self, key: str) -> R | None:
        return self._current().by_key.get(key)

    def list(self) -> list[R]:
        return list(self._current().records)

    def add(self, record: R) -> None:
        key = getattr(record, self._key_name)
        try:
            with self._writing():
                self._collection.insert_one(self._document(record))
        except DuplicateKeyError as exc:
            raise Conflict(f"{key!r} already exists", details={"key": key}) from exc

    def add_missing(self, records: Sequence[R]) -> int:
        if not records:
            return 0
        try:
            with self._writing():
                result = self._collection.insert_many(
                    [self._document(record) for record in records], ordered=False
                )
        except BulkWriteError as error:
            if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise
            return int(error.details["nInserted"])
        return len(result.inserted_ids)

    def replace(self, record: R) -> None:
        key = getattr(record, self._key_name)
        with self._writing():
            result = self._collection.replace_one({"_id": key}, self._document(record))
        if result.matched_count == 0:
            raise NotFound(f"{key!r} does not exist", details={"key": key})

    def update(
        self, key: str, changes: Mapping[str, object], *, where: Mapping[str, object]
    ) -> bool:
        with self._writing():
            result = self._collection.update_one({**where, "_id": key}, {"$set": dict(changes)})
        return result.matched_count > 0

    def delete(self, key: str, *, where: Mapping[str, object] | None = None) -> bool:
        with self._writing():
            return self._collection.delete_one({**(where or {}), "_id": key}).deleted_count > 0

    def first(
        self,
        count: int,
        *,
        order_by: str,
        descending: bool = False,
        where: Mapping[str, object] | None = None,
    ) -> builtins.list[R]:  # `list` in this class is its method
        if count <= 0:  # a limit of 0 is none to MongoDB
            return []
        direction = -1 if descending else 1
        may_block()
        cursor = (
            self._collection.find(dict(where or {}))
            .sort([(order_by, direction), ("_id", direction)])
            .limit(count)
        )
        return [self._record(document) for document in cursor]

    def delete_up_to(
        self,
        field: str,
        last: object,
        *,
        last_key: str | None = None,
        where: Mapping[str, object] | None = None,
    ) -> int:
        # Times are kept to the millisecond, and `last` is sent as its millisecond.
        up_to: Document = (
            {field: {"$lte": last}}
            if last_key is None
            else {"$or": [{field: {"$lt": last}}, {field: last, "_id": {"$lte": last_key}}]}
        )
        try:
            query = {"$and": [dict(where), up_to]} if where else up_to
            removed = self._collection.delete_many(query).deleted_count
        except BaseException:
            self._bump(after_error=True)
            raise
        if removed:  # nothing removed: every reader's listing still holds
            self._bump(after_error=False)
        return int(removed)


class MongoEventLog(Generic[E]):
    """`EventLog` over one collection; the event's `id` is the document's `_id`."""

    def __init__(self, collection: Collection[Document], model: type[E]) -> None:
        self._collection = collection
        self._model = model

    def append(self, event: E) -> None:
        document = event.model_dump()
        self._collection.insert_one({"_id": document.pop("id"), **document})

    def recent(
        self,
        *,
        limit: int,
        older_than: EventKey | None = None,
        since: datetime | None = None,
        **equals: str,
    ) -> list[E]:
        if limit <= 0:  # a limit of 0 is none to MongoDB
            return []
        query: Document = dict(equals)
        if since is not None:
            query["at"] = {"$gte": since}
        if older_than is not None:
            # Times are kept to the millisecond, and `at` is sent as its millisecond.
            at, key = older_than
            after: Document = {"$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": key}}]}
            query = {"$and": [query, after]} if query else after
        cursor = self._collection.find(query).sort([("at", -1), ("_id", -1)]).limit(limit)
        return [self._model.model_validate({"id": doc.pop("_id"), **doc}) for doc in cursor]

    def forget_before(self, at: datetime, *, limit: int) -> int:
        if limit <= 0:
            return 0
        older: Document = {"at": {"$lt": at}}
        # The batch's keys, then one delete up to its last (`delete_many` takes no limit).
        keys = list(
            self._collection.find(older, {"at": 1}).sort([("at", 1), ("_id", 1)]).limit(limit)
        )
        if not keys:
            return 0
        last = keys[-1]
        up_to: Document = {
            "$or": [{"at": {"$lt": last["at"]}}, {"at": last["at"], "_id": {"$lte": last["_id"]}}]
        }
        return int(self._collection.delete_many({"$and": [older, up_to]}).deleted_count)
