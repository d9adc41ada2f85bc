"""JSON bodies decoded strictly: a string escape that is not text is refused at the door.

Python's `json` decodes `"\\ud800"` (half of a surrogate pair, alone) into a string that
no UTF-8 encoder takes back: kept, it made every later answer that held it fail, a list
of templates or the audit log among them. `pydantic_core.from_json` refuses it, as it
refuses what else is not JSON (`NaN`, `Infinity`). Every route takes its body through
`StrictJsonRoute` (each router's `route_class`), which also refuses a query parameter
the route does not take; the live socket decodes its frames with `decode`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import from_json

from smsfleet.core.errors import ValidationFailed

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


def _query_params(dependant: Dependant) -> dict[str, FieldInfo]:
    params: dict[str, FieldInfo] = {}
    for field in dependant.query_params:
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a query model
            params |= {info.alias or name: info for name, info in model.model_fields.items()}
        else:
            params[field.alias] = field.field_info
    for sub in dependant.dependencies:
        params |= _query_params(sub)
    return params


def _takes(params: dict[str, FieldInfo]) -> str:
    """The parameters a route takes, as an unknown one's error names them: with the
    values of those that list theirs (`window: one of 2m, 5m, …`)."""
    if not params:
        return "this route takes none"
    listed = []
    for name, info in params.items():
        extra = info.json_schema_extra
        values = extra.get("enum") if isinstance(extra, dict) else None
        if isinstance(values, list):
            listed.append(f"{name}: one of {', '.join(map(str, values))}")
    hint = f" ({'; '.join(listed)})" if listed else ""
    return f"use {', '.join(params)}{hint}"


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is decoded by `decode`, and whose query holds only the
    parameters it takes: an unknown name (`contry` for `country`) would otherwise be
    dropped and the answer given for none, the whole fleet for a filter mistyped."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        params = _query_params(self.dependant)
        takes = _takes(params)

        async def strict(request: Request) -> Response:
            for name in request.query_params:
                if name not in params:
                    raise ValidationFailed.for_field(name, f"unknown parameter; {takes}")
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict
