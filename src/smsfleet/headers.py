"""Security headers on every response, and a content policy on the dashboard's pages."""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders"]

_EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# The dashboard loads only its own files; charts set inline styles; the live feed
# is a WebSocket to the page's own host, named (`ws:` alone would allow any host).
_DASHBOARD_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'{sockets}; font-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# A Host header fit to be written into the policy; anything else gets 'self' alone.
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _dashboard_policy(scope: Scope) -> str:
    host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
    sockets = f" ws://{host} wss://{host}" if _HOST.fullmatch(host) else ""
    return _DASHBOARD_POLICY.format(sockets=sockets)


# Answers that are no page. The interactive API docs (/docs, /swagger/, /redoc) set a
# policy of their own (smsfleet.apidocs); their assets get the dashboard's.
_OWN_PAGES = ("/api/", "/openapi.json", "/metrics")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dashboard = not str(scope["path"]).startswith(_OWN_PAGES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _EVERYWHERE.items():
                    headers.setdefault(name, value)
                if dashboard:
                    headers.setdefault("Content-Security-Policy", _dashboard_policy(scope))
            await send(message)

        await self.app(scope, receive, send_with_headers)
