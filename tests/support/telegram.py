"""A Telegram Bot API stand-in: a real HTTP server on loopback, speaking `sendMessage`.

It answers `POST /bot<token>/sendMessage` (a JSON or form body) as the Bot API does:
`{"ok": true, "result": {message_id, chat, date, text}}` for a message it accepts,
401 for another token, 400 for a missing chat or text, a text over 4096 characters,
or HTML (`parse_mode=HTML`) that Telegram could not parse (an unknown or unclosed
tag). Accepted messages are kept in `messages`, in order, with whether they were sent
silently (`disable_notification`). It can be told to fail:
`fail_next(n, status=429, retry_after=s)` answers the next n requests with that
error, `fail_for(seconds, status=500)` answers every request with it for a while,
and `stop()` / `start()` take it off the network and back on the same port.

    with TelegramStandIn(token="123:abc") as telegram:
        settings = Settings(telegram_api_url=telegram.url, ...)
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from html.parser import HTMLParser
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.servers import ThreadedServer

__all__ = ["MESSAGE_LIMIT", "SentMessage", "TelegramStandIn"]

MESSAGE_LIMIT = 4096
# The tags Telegram's HTML parse mode knows.
_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre"}
    | {"span", "tg-spoiler", "tg-emoji", "blockquote"}
)


@dataclass(frozen=True)
class SentMessage:
    chat_id: str
    text: str
    parse_mode: str | None
    message_id: int
    received_at: float
    """`time.monotonic()` when it arrived."""
    silent: bool = False
    """Sent with `disable_notification`: shown in the chat without a sound."""


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    until: float | None = None


class _HtmlCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.error = self.error or f'Unexpected end tag "{tag}"'
            return
        self.open.pop()


def html_error(text: str) -> str | None:
    """Why Telegram would refuse `text` in HTML parse mode, or None."""
    check = _HtmlCheck()
    check.feed(text)
    check.close()
    if check.error is None and check.open:
        check.error = f'Can\'t find end tag corresponding to start tag "{check.open[-1]}"'
    return check.error


class TelegramStandIn:
    def __init__(self, *, token: str, port: int | None = None) -> None:
        self.token = token
        self.messages: list[SentMessage] = []
        self.requests = 0
        self._failures: deque[_Failure] = deque()
        self._lock = threading.Lock()
        self._server = ThreadedServer(
            Starlette(routes=[Route("/bot{token}/{method}", self._call, methods=["POST"])]),
            port,
        )
        self.url = self._server.url

    def settings(self, chat_ids: str) -> dict[str, str]:
        """The control plane's settings that send its chats' messages here."""
        return {
            "telegram_api_url": self.url,
            "telegram_bot_token": self.token,
            "telegram_chat_ids": chat_ids,
        }

    # --- control ---------------------------------------------------------------

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> TelegramStandIn:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def fail_next(self, count: int, *, status: int = 500, retry_after: int | None = None) -> None:
        """Answer the next `count` requests with `status` (429 carries `retry_after`)."""
        with self._lock:
            self._failures.extend(_Failure(status, retry_after) for _ in range(count))

    def fail_for(self, seconds: float, *, status: int = 500) -> None:
        """Answer every request with `status` for `seconds` from now."""
        with self._lock:
            self._failures.append(_Failure(status, None, time.monotonic() + seconds))

    def texts(self, chat_id: str | int | None = None) -> list[str]:
        with self._lock:
            return [m.text for m in self.messages if chat_id is None or m.chat_id == str(chat_id)]

    # --- the Bot API -------------------------------------------------------------

    async def _call(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self._lock:
            self.requests += 1
            failure = self._next_failure()
            if failure is not None:
                return _failed(failure)
            if request.path_params["token"] != self.token:
                return _error(401, "Unauthorized")
            if request.path_params["method"] != "sendMessage":
                return _error(404, "Not Found")
            try:
                fields = _fields(body, request.headers.get("content-type", ""))
            except ValueError:
                return _error(400, "Bad Request: can't parse request body")
            return self._send_message(fields)

    def _next_failure(self) -> _Failure | None:
        while self._failures:
            failure = self._failures[0]
            if failure.until is None:
                return self._failures.popleft()
            if time.monotonic() < failure.until:
                return failure
            self._failures.popleft()
        return None

    def _send_message(self, fields: dict[str, Any]) -> JSONResponse:
        chat_id, text = fields.get("chat_id"), fields.get("text")
        if chat_id in (None, ""):
            return _error(400, "Bad Request: chat_id is empty")
        if not text:
            return _error(400, "Bad Request: message text is empty")
        text = str(text)
        if len(text.encode("utf-16-le")) // 2 > MESSAGE_LIMIT:  # counted as Telegram does
            return _error(400, "Bad Request: message is too long")
        parse_mode = fields.get("parse_mode")
        if parse_mode == "HTML" and (why := html_error(text)) is not None:
            return _error(400, f"Bad Request: can't parse entities: {why}")
        message = SentMessage(
            chat_id=str(chat_id),
            text=text,
            parse_mode=parse_mode,
            message_id=len(self.messages) + 1,
            received_at=time.monotonic(),
            silent=fields.get("disable_notification") in (True, "true", "True", "1"),
        )
        self.messages.append(message)
        result = {
            "message_id": message.message_id,
            "chat": {"id": _number(message.chat_id), "type": "group"},
            "date": int(time.time()),
            "text": text,
        }
        return JSONResponse({"ok": True, "result": result})


def _fields(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def _number(chat_id: str) -> int | str:
    try:
        return int(chat_id)
    except ValueError:
        return chat_id  # a channel's @username


def _error(status: int, description: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": status, "description": description, **extra}, status
    )


def _failed(failure: _Failure) -> JSONResponse:
    if failure.status == 429:
        retry_after = failure.retry_after or 1
        return _error(
            429,
            f"Too Many Requests: retry after {retry_after}",
            parameters={"retry_after": retry_after},
        )
    return _error(failure.status, "Internal Server Error")
