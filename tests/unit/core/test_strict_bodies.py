"""A request body's numbers and flags are what JSON says they are: `true` is no cap of 1,
`"5"` no cap of 5, `"yes"` no high priority. Every body the API takes is walked here, so a
field added later as a plain `int`, `float` or `bool` fails this test until it is strict."""

from __future__ import annotations

import types
import typing
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.types import Strict

from smsfleet.api import ROUTERS
from smsfleet.dispatch.views import WORKER_BODIES

LAX = (int, float, bool)
# The seed documents' own route takes their clients' bodies as it always did.
KEPT_LAX = {"SeedPairCreate.is_high_priority"}


def _bodies() -> list[Any]:
    found: list[Any] = list(WORKER_BODIES)
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.body_field is not None:
                found.append(route.body_field.field_info.annotation)
    return found


def _lax_fields(annotation: Any, where: str, strict: bool, seen: set[type[BaseModel]]) -> list[str]:
    """The fields `annotation` is made of, at any depth, that take an int, float or bool
    laxly; `seen`: the models walked."""
    lax: list[str] = []
    for leaf, leaf_strict in _leaves(annotation, strict):
        if isinstance(leaf, type) and issubclass(leaf, BaseModel):
            if leaf in seen:
                continue
            seen.add(leaf)
            for name, field in leaf.model_fields.items():
                marked = any(isinstance(item, Strict) and item.strict for item in field.metadata)
                lax += _lax_fields(field.annotation, f"{leaf.__name__}.{name}", marked, seen)
        elif leaf in LAX and not leaf_strict:
            lax.append(where)
    return lax


def _leaves(annotation: Any, strict: bool) -> list[tuple[Any, bool]]:
    """The types `annotation` is made of, each with whether it is validated strictly."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        marked = any(isinstance(item, Strict) and item.strict for item in args[1:])
        return _leaves(args[0], strict or marked)
    if origin is typing.Literal:
        return []  # exactly the values listed
    if origin in (typing.Union, types.UnionType) or origin is not None:
        return [leaf for arg in args for leaf in _leaves(arg, strict)]
    return [(annotation, strict)]


def test_every_body_takes_its_numbers_and_flags_strictly() -> None:
    seen: set[type[BaseModel]] = set()
    lax = {name for body in _bodies() for name in _lax_fields(body, "body", False, seen)}
    assert len(seen) > 25  # the walk reached the bodies
    assert lax == KEPT_LAX
