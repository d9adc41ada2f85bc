"""The one error shape of every HTTP app here (the control plane, the search service and the
gateway simulator): `{"error": {"code", "message", "details"}}`, with the right status.

Logic raises `DomainError`s; `install_error_handlers` maps each to its status, FastAPI's
validation errors to 422 (400 for a body that is not JSON), Starlette's HTTP errors to
their status, an unreachable store to 503 with `Retry-After`, and anything else to a 500
that says nothing of the fault (the log does).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import pymongo.errors
import redis
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from smsfleet.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    Throttled,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from smsfleet.core.text import escaped

__all__ = [
    "ErrorDetail",
    "ErrorResponse",
    "error_body",
    "error_response",
    "error_responses",
    "install_error_handlers",
]

log = logging.getLogger("smsfleet")

_STATUS: dict[type[DomainError], int] = {
    ValidationFailed: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthorized: 401,
    Forbidden: 403,
    Throttled: 429,
    Unavailable: 503,
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    431: "header_fields_too_large",
}
# A store or Redis that cannot be reached: the request may succeed in a moment.
_UNREACHABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    pymongo.errors.ConnectionFailure,
)
UNAVAILABLE_RETRY_AFTER = 5


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """The one error shape of every route."""

    error: ErrorDetail


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status, headers=headers or None)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of routes, for their OpenAPI description."""
    return {
        status: {
            "model": ErrorResponse,
            "description": HTTP_CODES.get(status, "error").replace("_", " "),
        }
        for status in statuses
    }


def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = next(s for cls, s in _STATUS.items() if isinstance(exc, cls))
    headers: dict[str, str] = {}
    if isinstance(exc, Throttled):
        headers.update(exc.headers)
    if isinstance(exc, Throttled | Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(status, exc.code, exc.message, exc.details, headers)


def _field_name(location: tuple[Any, ...]) -> str:
    # Only the first part says where the value was: a field may be named `query` itself.
    if location and location[0] in ("body", "query", "path"):
        location = location[1:]
    return escaped(".".join(str(part) for part in location)) or "body"


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    content_type = request.headers.get("content-type", "")
    if (
        content_type
        and not _is_json(content_type)
        and any(tuple(error.get("loc", ()))[:1] == ("body",) for error in errors)
    ):
        # Not read as JSON at all: "body: Input should be a valid dictionary" would not say why.
        said = escaped(content_type[:100])
        message = (
            f"the request body must be JSON, sent as Content-Type: application/json, not {said}"
        )
        return error_response(415, "unsupported_media_type", message)
    invalid = next((error for error in errors if error.get("type") == "json_invalid"), None)
    if invalid is not None:
        # The decoder's words say where: "unexpected end of hex escape at line 1 column 14".
        why = escaped(str(invalid.get("ctx", {}).get("error", "")))[:200]
        message = "the request body is not valid JSON" + (f": {why}" if why else "")
        return error_response(400, "invalid_json", message)
    details = [
        {
            "field": _field_name(tuple(error.get("loc", ()))),
            # A message may repeat what was sent (a key, a value).
            "message": escaped(_message(error)),
        }
        for error in errors
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
    return error_response(422, "validation_error", f"invalid input: {summary}", details)


def _message(error: Mapping[str, Any]) -> str:
    """What was wrong, in words. A text checked by a validator of its own before its
    length is counted in items by pydantic: said in characters, as for any text."""
    kind, value, ctx = error.get("type"), error.get("input"), error.get("ctx") or {}
    if kind == "too_short" and isinstance(value, str):
        least = ctx.get("min_length")
        return f"String should have at least {least} character{'' if least == 1 else 's'}"
    if kind == "too_long" and isinstance(value, str):
        return f"String should have at most {ctx.get('max_length')} characters"
    return str(error.get("msg"))


class _HttpErrors:
    """Starlette's HTTP errors in the one shape. A 405's `Allow` names every method of the
    path, of all its routes (`GET, POST`): the router's names the first route's alone."""

    def __init__(self, app: FastAPI, routers: Iterable[APIRouter]) -> None:
        self._app = app
        self._routers = tuple(routers)

    def _allowed(self, scope: Scope) -> str:
        routes: list[BaseRoute] = [*self._app.router.routes]
        for router in self._routers:
            routes.extend(router.routes)
        methods: set[str] = set()
        for route in routes:
            if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
                methods |= route.methods or set()
        return ", ".join(sorted(methods))

    def __call__(self, request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = HTTP_CODES.get(exc.status_code, "error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":  # no route has the path
            message = f"no route {escaped(request.url.path)}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allowed := self._allowed(request.scope)):
            headers["Allow"] = allowed
        return error_response(exc.status_code, code, message, headers=headers)


def _unreachable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: a store is unreachable: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "unavailable",
        "a store is unreachable; try again shortly",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the server log")


def install_error_handlers(app: FastAPI, routers: Iterable[APIRouter] = ()) -> None:
    """Every error of `app` answered in the one shape; `routers`: those it includes."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _HttpErrors(app, routers))
    for unreachable in _UNREACHABLE:
        app.add_exception_handler(unreachable, _unreachable)
    app.add_exception_handler(Exception, _unexpected_error)
