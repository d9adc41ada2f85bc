"""Error reports to Sentry (or any server speaking its protocol) when a DSN is set.

Each process reports for itself: the control plane, the search service and the worker SDK
in a program. An event carries what explains the error (the exception, the request's
method and route, the fleet session) and never a secret or a phone number: credentials
are dropped by name wherever they appear, tokens, keys and phone numbers by their shape in
every text, and neither local variables nor request bodies are sent.

Standard library only (and `sentry_sdk` when a DSN is set), so the worker SDK can use it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

__all__ = ["ErrorReports", "report_exception", "scrub_event", "start_error_reports", "tag"]

REDACTED = "[redacted]"
PHONE_REDACTED = "[phone]"

# Names whose values are dropped wherever they appear (headers, extra, breadcrumbs ...).
_SECRET_NAMES = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x_api_key",
    "api_key",
    "password",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "worker_token",
    "dsn",
    "code",
    "sms_code",
    "otp",
)
# Each shape and what replaces it.
_SECRET_SHAPES = (
    (re.compile(r"(?i)\bbearer\s+\S+"), REDACTED),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]+"), REDACTED),  # a JWT
    (re.compile(r"\bsfk_[\w-]+"), REDACTED),  # an API key (its secret is URL-safe base64)
    (re.compile(r"\b[0-9a-f]{64}\b"), REDACTED),  # a worker token's digest
    (re.compile(r"(?<!\d)\d{5,}:[\w-]{30,}"), REDACTED),  # a Telegram bot token, as in its URLs
    (re.compile(r"(?<=://)[^/\s@]+@"), f"{REDACTED}@"),  # a URL's user and password
    # In a query: the name stays, its value goes (a value may be any text: an SMS's, a code).
    (re.compile(r"(?<=[?&])([\w.-]+)=[^&\s#]*"), f"\\1={REDACTED}"),
    (re.compile(r"(?i)\b([\w-]*(?:token|secret|password|key|code))=[^&\s]+"), f"\\1={REDACTED}"),
    # What a validation error quotes of its input.
    (re.compile(r"input_value=.*?(?=, input_type=)"), f"input_value={REDACTED}"),
)
# E.164 or national digits, alone or written with spaces: +998901234567, 998 90 123 45 67;
# after a "+", with dashes and brackets too: +998 (99) 123-45-67, +1-555-123-4567.
_PHONE = re.compile(r"(?<![\w.-])(?:\+\d(?:[ ()-]{0,2}\d){6,14}|\d(?:[ ]?\d){6,14})(?!\w|\.\d)")
# Request headers an event keeps: the rest (forwarded addresses, referrers, anything a
# client sends) may name a person or carry a secret.
_KEPT_HEADERS = frozenset(
    {"accept", "accept-encoding", "content-length", "content-type", "host", "user-agent"}
)


def _scrub_text(text: str) -> str:
    if "%" in text:  # a phone or a token written into a URL: %2B998…
        text = unquote(text)
    for shape, replacement in _SECRET_SHAPES:
        text = shape.sub(replacement, text)
    return _PHONE.sub(PHONE_REDACTED, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _is_secret_name(key) else _scrub(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _is_secret_name(name: object) -> bool:
    return isinstance(name, str) and name.lower().replace("-", "_") in _SECRET_KEYS


_SECRET_KEYS = frozenset(name.replace("-", "_") for name in _SECRET_NAMES)


def _query_names(query: str) -> str:
    """A query with its names only: `phone=[redacted]&page=[redacted]`."""
    return "&".join(
        f"{part.partition('=')[0]}={REDACTED}" if "=" in part else part for part in query.split("&")
    )


def scrub_event(event: dict[str, Any], _hint: object = None) -> dict[str, Any]:
    """The event with every secret and phone number taken out (Sentry's `before_send`)."""
    scrubbed: dict[str, Any] = _scrub(event)
    request = scrubbed.get("request")
    if isinstance(request, dict):
        request.pop("data", None)  # a body may hold anything
        request.pop("cookies", None)
        request.pop("env", None)  # the client's address
        if isinstance(query := request.get("query_string"), str):
            request["query_string"] = _query_names(query)
        if isinstance(headers := request.get("headers"), dict):
            request["headers"] = {
                name: value for name, value in headers.items() if name.lower() in _KEPT_HEADERS
            }
    return scrubbed


class ErrorReports:
    """A started reporter: `close()` sends what is queued (within two seconds) and stops."""

    def __init__(self, close: Callable[[], None] | None = None) -> None:
        self._close = close

    @property
    def enabled(self) -> bool:
        return self._close is not None

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


def start_error_reports(
    dsn: str | None,
    *,
    service: str,
    release: str,
    environment: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> ErrorReports:
    """Report this process's unhandled errors to `dsn`; without a DSN, nothing."""
    if not dsn:
        return ErrorReports()
    import sentry_sdk  # only imported when reports are on: it patches what it integrates

    sentry_sdk.init(
        dsn=dsn,
        release=f"smsfleet@{release}",
        environment=environment,
        server_name=service,
        # Collect nothing the SDK would gather by default that could carry a secret or a
        # phone number: no user, cookies, bodies, query data or frame variables.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_bodies": [],
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]
        before_breadcrumb=lambda crumb, _hint: _scrub(crumb),
        auto_session_tracking=False,
        send_client_reports=False,
        traces_sample_rate=None,
    )
    sentry_sdk.set_tag("service", service)
    for name, value in (tags or {}).items():
        sentry_sdk.set_tag(name, value)

    def close() -> None:
        sentry_sdk.get_client().close(timeout=2.0)  # sends what is queued, then stops
        sentry_sdk.get_global_scope().set_client(None)

    return ErrorReports(close)


def _sentry() -> Any:
    """`sentry_sdk` once a reporter is started in this process, else None."""
    module = sys.modules.get("sentry_sdk")
    if module is None or not module.is_initialized():
        return None
    return module


def tag(**tags: str) -> None:
    """Name what the current request or task is about (its session, its caller's role)."""
    sentry = _sentry()
    if sentry is not None:
        for name, value in tags.items():
            sentry.set_tag(name, value)


def report_exception(exc: BaseException, **tags: str) -> None:
    """Report an exception that was handled (a program's bug the session survives)."""
    sentry = _sentry()
    if sentry is None:
        return
    with sentry.new_scope() as scope:
        for name, value in tags.items():
            scope.set_tag(name, value)
        sentry.capture_exception(exc)
