"""JSON bodies decoded strictly: a string escape that is not text is refused at the door.

Python's `json` decodes `"\\ud800"` (half of a surrogate pair, alone) into a string that
no UTF-8 encoder takes back: kept, it made every later answer that held it fail, a list
of templates or the audit log among them. `pydantic_core.from_json` refuses it, as it
refuses what else is not JSON (`NaN`, `Infinity`). Every route takes its body through
`StrictJsonRoute` (each router's `route_class`); the live socket decodes its frames with
`decode`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic_core import from_json

__all__ = ["StrictJsonRoute", "decode"]


def decode(data: str | bytes) -> Any:
    """`data`'s JSON; `ValueError` when it is not JSON (`NaN` and `Infinity` are not)
    or holds a lone surrogate."""
    return from_json(data, allow_inf_nan=False)


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = decode(body)
            except ValueError as error:
                # As `json` would say it, so FastAPI answers its 422 "json_invalid".
                raise json.JSONDecodeError(str(error), body.decode(errors="replace"), 0) from None
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is decoded by `decode`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict
