"""Answers of heavy reads (metrics over long windows, the templates' listing, the policy's
standing), made and serialized on the heavy reads' own few threads (`core.heavy_reads`),
not on the pool every sync route shares, in their user's turn; each holds its user's
place there until it is sent."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi import Response
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from smsfleet.auth.models import User
from smsfleet.core.heavy_reads import HeavyReads, Place

__all__ = ["Made", "heavy_answer", "heavy_json"]


@dataclass(frozen=True)
class Made:
    """A heavy read's answer as its thread made it: the body, and how it is sent."""

    content: bytes
    media_type: str
    headers: Mapping[str, str] | None = None


class _Answer(Response):
    """A heavy read's answer, holding its user's place until it is sent: a reader that
    does not read holds its places, so one user pins at most their share of answers."""

    def __init__(self, made: Made, place: Place) -> None:
        super().__init__(made.content, media_type=made.media_type, headers=made.headers)
        self._place = place
        # Never sent (the request ended before): its place is freed all the same.
        weakref.finalize(self, place.release)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._place.release()


async def heavy_answer(reads: HeavyReads, user: User, make: Callable[[], Made]) -> Response:
    """The answer `make` gives, made in a heavy reads' thread in `user`'s turn."""
    place = reads.admit(user.username)
    return _Answer(await reads.run(place, make), place)


async def heavy_json(reads: HeavyReads, user: User, read: Callable[[], BaseModel]) -> Response:
    """`read`'s answer as FastAPI would serialize it, made in a heavy reads' thread."""
    return await heavy_answer(
        reads,
        user,
        lambda: Made(read().model_dump_json(by_alias=True).encode(), "application/json"),
    )
