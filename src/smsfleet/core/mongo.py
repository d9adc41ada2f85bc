"""MongoDB backend for the config store via pymongo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic

from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from smsfleet.core.errors import Conflict, NotFound
from smsfleet.core.records import E, R

Document = dict[str, Any]
DEFAULT_DATABASE = "smsfleet"
DUPLICATE_KEY = 11000  # the server's error code for an insert whose `_id` exists


def open_mongo_database(url: str) -> tuple[MongoClient[Document], Database[Document]]:
    """Client and database named by the URL path (default `smsfleet`)."""
    client: MongoClient[Document] = MongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000)
    database = client.get_default_database(default=DEFAULT_DATABASE)
    return client, database


class MongoRecordStore(Generic[R]):
    """`RecordStore` over one collection; the record's key is the document's `_id`."""

    def __init__(self, collection: Collection[Document], model: type[R], key: str) -> None:
        self._collection = collection
        self._model = model
        self._key_name = key

    def _document(self, record: R) -> Document:
        return {"_id": getattr(record, self._key_name), **record.model_dump()}

    def _record(self, document: Document) -> R:
        document.pop("_id", None)
        return self._model.model_validate(document)

    def get(self, key: str) -> R | None:
        document = self._collection.find_one({"_id": key})
        return self._record(document) if document else None

    def list(self) -> list[R]:
        return [self._record(document) for document in self._collection.find().sort("_id", 1)]

    def add(self, record: R) -> None:
        key = getattr(record, self._key_name)
        try:
            self._collection.insert_one(self._document(record))
        except DuplicateKeyError as exc:
            raise Conflict(f"{key!r} already exists", details={"key": key}) from exc

    def add_missing(self, records: Sequence[R]) -> int:
        if not records:
            return 0
        try:
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
        result = self._collection.replace_one({"_id": key}, self._document(record))
        if result.matched_count == 0:
            raise NotFound(f"{key!r} does not exist", details={"key": key})

    def delete(self, key: str) -> bool:
        return self._collection.delete_one({"_id": key}).deleted_count > 0


class MongoEventLog(Generic[E]):
    """`EventLog` over one collection; the event's `id` is the document's `_id`."""

    def __init__(self, collection: Collection[Document], model: type[E]) -> None:
        self._collection = collection
        self._model = model

    def append(self, event: E) -> None:
        document = event.model_dump()
        self._collection.insert_one({"_id": document.pop("id"), **document})

    def recent(self, *, limit: int, **equals: str) -> list[E]:
        cursor = self._collection.find(dict(equals)).sort([("at", -1), ("_id", -1)]).limit(limit)
        return [self._model.model_validate({"id": doc.pop("_id"), **doc}) for doc in cursor]
