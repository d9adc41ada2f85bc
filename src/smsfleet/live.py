"""The live WebSocket: session events as they happen, and log lines as they are written."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.types import Message

from smsfleet.audit.models import AUDIT_TOPIC
from smsfleet.auth import service as auth_service
from smsfleet.auth.models import AUTH_TOPIC, Role
from smsfleet.core.errors import NotFound, Unauthorized
from smsfleet.core.http_server import client_key
from smsfleet.core.json_body import StrictJsonRoute, decode
from smsfleet.core.security import TokenClaims
from smsfleet.deps import forwarded_client
from smsfleet.dispatch.pace import SessionPace
from smsfleet.messages.models import Send
from smsfleet.messages.redaction import redacted_send, sees_codes
from smsfleet.sessions import service as sessions_service
from smsfleet.sessions.logtail import LogCursor
from smsfleet.sessions.names import InvalidSessionName, parse_session_name
from smsfleet.wiring import Services

router = APIRouter(route_class=StrictJsonRoute)
log = logging.getLogger(__name__)

TOPICS = frozenset({"sessions", "attempts", "policy", "pairs", "alerts", "sends", AUDIT_TOPIC})
LOG_POLL_SECONDS = 0.25
MAX_FOLLOWED = 8
UNAUTHORIZED_CLOSE = 4401
# Too many sockets open, the user's or everyone's, or too many commands sent on one: the
# reason names the cap and its value.
TOO_MANY_CLOSE = 4429
POLICY_VIOLATION = 1008
UNSUPPORTED_DATA = 1003
AUTH_TIMEOUT_SECONDS = 5.0
# The longest text frame read from a client: an auth message with its token, or a command.
MAX_CLIENT_MESSAGE = 8192
# Tokens revoked by another process (the `smsfleet users passwd` command) are noticed
# this often; revocations through the API close the sockets at once.
RECHECK_SECONDS = 30.0


# A followed log starts with its last lines again (the dashboard drops what its first
# page already holds): lines written between that page's read and the follow are kept.
FOLLOW_BACKLOG = 16 * 1024
# A followed log stops being read within this long of its session's deletion.
SESSION_RECHECK_SECONDS = 5.0


class _LogFollower:
    """New lines of the session logs this socket follows: of sessions that exist (as
    `GET /api/v1/sessions/{name}/logs` reads), until they are deleted.

    A follow asked for is only noted; the next read (in a thread) carries it out: the
    store asked whether its session exists, and its log's end read. A follow undone
    before then costs nothing, however many times it comes.
    """

    def __init__(self, context: Services) -> None:
        self._context = context
        self._cursors: dict[str, LogCursor] = {}
        # Follows asked for and not yet carried out, in the order asked.
        self._asked: dict[str, None] = {}
        # `follow` and `unfollow` run on the event loop, `read_new` in a thread.
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        # Follows carried out (the store asked, the log's end read): changed by `read_new`.
        self.carried_out = 0

    def _exists(self, name: str) -> bool:
        try:
            sessions_service.check_exists(store=self._context.store, name=name)
        except NotFound:
            return False
        return True

    def follow(self, name: str) -> None:
        """No I/O: carried out by the next `read_new`. Over MAX_FOLLOWED logs followed
        or asked for, ignored."""
        with self._lock:
            if name in self._cursors or name in self._asked:
                return
            if len(self._cursors) + len(self._asked) < MAX_FOLLOWED:
                self._asked[name] = None

    def unfollow(self, name: str) -> None:
        with self._lock:
            self._asked.pop(name, None)
            self._cursors.pop(name, None)

    @property
    def following(self) -> bool:
        return bool(self._cursors or self._asked)

    def _open(self, name: str) -> LogCursor | None:
        """Blocking (a remote host's log is a round trip away). A name of no session (a
        deleted one's) is ignored, as an ill-formed one is."""
        self.carried_out += 1
        try:
            if not self._exists(name):
                return None
            backend = self._context.sessions.backend_of(name)
            return LogCursor(backend, name, backlog=FOLLOW_BACKLOG)
        except Exception as error:  # an unknown or unreachable host: nothing to follow
            log.warning("cannot follow %s: %s", name, error)
            return None

    def _carry_out_follows(self) -> None:
        while True:
            with self._lock:
                name = next(iter(self._asked), None)
            if name is None:
                return
            cursor = self._open(name)
            with self._lock:
                # Undone while it was opened: dropped (asked again since: kept).
                if self._asked.pop(name, False) is None and cursor is not None:
                    self._cursors[name] = cursor

    def read_new(self) -> dict[str, list[str]]:
        """Blocking: call it in a thread."""
        self._carry_out_follows()
        if time.monotonic() - self._checked >= SESSION_RECHECK_SECONDS:
            self._checked = time.monotonic()
            try:
                gone = [name for name in list(self._cursors) if not self._exists(name)]
            except Exception as error:  # the store away: checked again next time
                log.warning("checking the followed sessions: %s", error)
                gone = []
            for name in gone:
                self.unfollow(name)  # its session was deleted
        with self._lock:
            cursors = list(self._cursors.items())
        found: dict[str, list[str]] = {}
        for name, cursor in cursors:
            try:
                found[name] = cursor.read_new()
            except Exception as error:  # a host away: try again on the next poll
                log.warning("following %s: %s", name, error)
        return {name: lines for name, lines in found.items() if lines}


class SigningIn:
    """A socket's place while it signs in; `evicted` is set when a full server gave the
    place to a newcomer from an address holding fewer."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.evicted = asyncio.Event()


class LiveSockets:
    """The live sockets open in this process, by user, under the two caps; the sockets
    still waiting for their first message, by client address, under two caps of their
    own; how many times they went to the thread pool to read logs (never while a socket
    follows none); and how many follows they carried out (a store lookup, and the log's
    end read: never for a follow undone before the next read).

    Taken and released on the event loop only, so no lock is needed.
    """

    def __init__(
        self,
        *,
        per_user: int,
        total: int,
        signing_in_per_address: int,
        signing_in: int,
        command_rate: float,
        command_burst: int,
    ) -> None:
        self.per_user = per_user
        self.total = total
        self.commands = _CommandBudget(rate=command_rate, burst=command_burst)
        self.signing_in_per_address = signing_in_per_address
        self.signing_in = signing_in
        self._by_user: Counter[str] = Counter()
        # Per client key, its sockets signing in, the oldest first.
        self._signing_in: dict[str, deque[SigningIn]] = {}
        self.log_reads = 0
        self.follows_carried_out = 0

    def take_signing_in(self, address: str) -> SigningIn | str:
        """A place for one more socket from `address` to sign in, else why not. Counted as
        logins are: an IPv6 client by its /64, which it holds whole. With every place of
        the server taken, the address holding the most gives its oldest up to one that
        holds fewer: sockets that never sign in cannot keep everyone else out."""
        key = client_key(address)
        held = self._signing_in.get(key, ())
        if len(held) >= self.signing_in_per_address:
            return (
                "too many live sockets signing in: at most"
                f" {self.signing_in_per_address} from one address"
            )
        if sum(map(len, self._signing_in.values())) >= self.signing_in:
            most = max(self._signing_in, key=lambda other: len(self._signing_in[other]))
            if len(self._signing_in[most]) <= len(held):
                return f"too many live sockets signing in: at most {self.signing_in} on this server"
            evicted = self._signing_in[most].popleft()
            if not self._signing_in[most]:
                del self._signing_in[most]
            evicted.evicted.set()
        place = SigningIn(key)
        self._signing_in.setdefault(key, deque()).append(place)
        return place

    def release_signing_in(self, place: SigningIn) -> None:
        held = self._signing_in.get(place.address)
        if held is None or place not in held:
            return  # given up to a newcomer already
        held.remove(place)
        if not held:
            del self._signing_in[place.address]

    @property
    def open(self) -> int:
        return self._by_user.total()

    def open_for(self, username: str) -> int:
        return self._by_user[username]

    def take(self, username: str) -> str | None:
        """A place for one more socket of `username`; None when taken, else why not."""
        if self._by_user[username] >= self.per_user:
            return f"too many live sockets: at most {self.per_user} per user"
        if self.open >= self.total:
            return f"too many live sockets: at most {self.total} on this server"
        self._by_user[username] += 1
        return None

    def release(self, username: str) -> None:
        self._by_user[username] -= 1
        if self._by_user[username] <= 0:
            del self._by_user[username]


class _Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class _Identity:
    """Whom a socket was opened for, to check again when their tokens may be revoked; their
    role, for what they may read (a role changed revokes their tokens, closing it)."""

    username: str
    role: Role
    claims: TokenClaims


def _authenticate(context: Services, token: str) -> _Identity:
    try:
        user, claims = auth_service.authenticate(
            users=context.store.users,
            revoked=context.store.revoked_sessions,
            policy=context.tokens,
            clock=context.clock,
            token=token,
        )
    except Unauthorized as exc:
        raise _Refused(UNAUTHORIZED_CLOSE, exc.message) from exc
    return _Identity(user.username, user.role, claims)


def _expired(context: Services, identity: _Identity) -> bool:
    """Past the access token's expiry, by the clock that checked it (as `decode_token` does)."""
    return context.clock.now() >= identity.claims.expires_at


def _still_valid(context: Services, identity: _Identity) -> bool:
    try:
        auth_service.check_claims(
            users=context.store.users,
            revoked=context.store.revoked_sessions,
            claims=identity.claims,
        )
    except Unauthorized:
        return False
    return True


async def _signed_in(websocket: WebSocket, context: Services) -> _Identity:
    """The token comes in the first message, `{"type": "auth", "token": …}`, in time; never
    in the URL."""
    if "token" in websocket.query_params:
        # A token in the URL ends up in access logs: refused, whatever it is.
        raise _Refused(POLICY_VIOLATION, "never put the token in the URL")
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        raise _Refused(POLICY_VIOLATION, "no auth message in time") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    command = _decoded(message)
    if (
        not isinstance(command, dict)
        or command.get("type") != "auth"
        or not isinstance(command.get("token"), str)
    ):
        raise _Refused(POLICY_VIOLATION, 'send {"type": "auth", "token": …} first')
    return await asyncio.to_thread(_authenticate, context, command["token"])


async def _signed_in_unless_evicted(
    websocket: WebSocket, context: Services, place: SigningIn
) -> _Identity:
    """`_signed_in`, unless its place goes to a newcomer first (4429)."""
    signing = asyncio.ensure_future(_signed_in(websocket, context))
    evicted = asyncio.ensure_future(place.evicted.wait())
    try:
        await asyncio.wait({signing, evicted}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        evicted.cancel()
        if not signing.done():
            signing.cancel()
    if not signing.done():  # its place went to a newcomer first
        raise _Refused(
            TOO_MANY_CLOSE,
            "too many live sockets signing in on this server: its place went to a socket"
            " from an address holding fewer",
        )
    return signing.result()


@router.websocket("/api/v1/ws")
async def live(websocket: WebSocket) -> None:
    """Send `{"type": "auth", "token": <access token>}` first, within a few seconds; then
    events `{"topic": "sessions", "data": …}` come; send `{"follow_logs": name}` for logs
    (of a session that exists, as `GET /api/v1/sessions/{name}/logs` reads them).

    The socket closes (4401) when its access token expires (the dashboard signs in again
    with a refreshed one) or when the user's tokens are revoked: a password, role or
    disabled change, logging out everywhere, or this login's logout.

    A socket signed in over a cap (SMSFLEET_LIVE_MAX_SOCKETS_PER_USER sockets of its
    user, or SMSFLEET_LIVE_MAX_SOCKETS in this process) closes at once with 4429, the
    reason naming the cap. So does one whose user's sockets send more than
    SMSFLEET_LIVE_COMMAND_BURST messages at once, or SMSFLEET_LIVE_COMMANDS_PER_SECOND a
    second after that, all together: the message over it is not carried out.
    """
    context: Services = websocket.app.state.services
    sockets: LiveSockets = websocket.app.state.live_sockets
    peer = websocket.client.host if websocket.client else "unknown"
    forwarded = ", ".join(websocket.headers.getlist("x-forwarded-for"))
    address = forwarded_client(peer, forwarded, context.settings.trusted_proxies)
    place = sockets.take_signing_in(address)
    await websocket.accept()
    if isinstance(place, str):
        await websocket.close(code=TOO_MANY_CLOSE, reason=place)
        return
    try:
        identity = await _signed_in_unless_evicted(websocket, context, place)
    except _Refused as refused:
        await websocket.close(code=refused.code, reason=refused.reason)
        return
    except WebSocketDisconnect:
        return
    finally:
        sockets.release_signing_in(place)
    refusal = sockets.take(identity.username)
    if refusal is not None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(code=TOO_MANY_CLOSE, reason=refusal)
        return
    try:
        await _serve(websocket, context, identity, sockets)
    finally:
        sockets.release(identity.username)


async def _serve(
    websocket: WebSocket, context: Services, identity: _Identity, sockets: LiveSockets
) -> None:
    """Events and followed logs to a socket signed in as `identity`, until it ends."""
    subscription = context.bus.subscribe(TOPICS | {AUTH_TOPIC})
    follower = _LogFollower(context)
    reader = asyncio.create_task(
        _read_commands(websocket, follower, sockets.commands, identity.username)
    )
    try:
        await websocket.send_json({"topic": AUTH_TOPIC, "data": {"username": identity.username}})
        checked = time.monotonic()
        while not reader.done():
            if await _send_pending(
                websocket, context, subscription.queue, follower, identity, sockets
            ):
                await websocket.close(code=UNAUTHORIZED_CLOSE, reason="tokens revoked")
                break
            # Checked on every poll (a clock read): closed within LOG_POLL_SECONDS of expiry.
            if _expired(context, identity):
                await websocket.close(code=UNAUTHORIZED_CLOSE, reason="token expired")
                break
            # A revocation's message dropped by a full queue is caught here.
            if time.monotonic() - checked > RECHECK_SECONDS:
                checked = time.monotonic()
                if not await asyncio.to_thread(_still_valid, context, identity):
                    await websocket.close(code=UNAUTHORIZED_CLOSE, reason="tokens revoked")
                    break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        context.bus.unsubscribe(subscription)
        reader.cancel()
        try:
            await reader
        except asyncio.CancelledError:
            pass
        except Exception as error:  # what a client sends ends its socket only, in one line
            log.warning("the live socket of %s ended: %r", identity.username, error)


def _concerns(message: dict[str, Any], identity: _Identity) -> bool:
    data = message.get("data") or {}
    return data.get("username") == identity.username and data.get("session") in (
        None,
        identity.claims.session,
    )


def _as_seen(context: Services, message: dict[str, Any]) -> dict[str, Any]:
    """A send's event as one below the operator role reads it: its values hidden. Blocking
    (its template is read): call it in a thread."""
    send = redacted_send(Send.model_validate(message["data"]), context.store.templates)
    return {**message, "data": send.model_dump(mode="json")}


async def _send_pending(
    websocket: WebSocket,
    context: Services,
    queue: asyncio.Queue[dict[str, Any]],
    follower: _LogFollower,
    identity: _Identity,
    sockets: LiveSockets,
) -> bool:
    """Send what came; True when this socket's tokens were revoked (nothing sent then)."""
    with contextlib.suppress(TimeoutError):
        pending = [await asyncio.wait_for(queue.get(), timeout=LOG_POLL_SECONDS)]
        while not queue.empty():
            pending.append(queue.get_nowait())
        # Asked before sending any of them: what came with a revocation is not sent, nor
        # read with the role the revocation may have taken away.
        concerned = any(m["topic"] == AUTH_TOPIC and _concerns(m, identity) for m in pending)
        if concerned and not await asyncio.to_thread(_still_valid, context, identity):
            return True
        for message in pending:
            if message["topic"] == AUTH_TOPIC:  # for the server only, never sent
                continue
            if message["topic"] == AUDIT_TOPIC and identity.role is not Role.admin:
                continue  # the audit log is for admins only
            if message["topic"] == "sends" and not sees_codes(identity.role):
                await websocket.send_json(await asyncio.to_thread(_as_seen, context, message))
            elif message["topic"] == "sessions" and sessions_service.hides_reason(
                message["data"].get("kind"), identity.role
            ):
                seen = {**message["data"], "reason": sessions_service.VIEWERS_START_FAILED}
                await websocket.send_json({**message, "data": seen})
            else:
                await websocket.send_json(message)
    if not follower.following:  # nothing to read: no trip to the thread pool
        return False
    sockets.log_reads += 1
    carried_out = follower.carried_out
    found = await asyncio.to_thread(follower.read_new)
    sockets.follows_carried_out += follower.carried_out - carried_out
    for name, lines in found.items():
        await websocket.send_json({"topic": "logs", "data": {"name": name, "lines": lines}})
    return False


def _decoded(message: Message) -> Any:
    """The JSON of a client's text frame; None when it is binary, longer than
    MAX_CLIENT_MESSAGE, not JSON, or nested too deep to decode."""
    text = message.get("text")
    if not isinstance(text, str) or len(text) > MAX_CLIENT_MESSAGE:
        return None
    try:
        return decode(text)
    except ValueError:  # not JSON, too deep, or a lone surrogate
        return None


class _CommandBudget:
    """Each user's messages, all their sockets together: `burst` at once, `rate` a second
    after that (a token bucket per user). Far above what the dashboard sends; the point is
    a client sending thousands, and one closed for it gets no fresh budget by opening
    another socket."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self._pace = SessionPace(rate=rate, burst=burst)
        self.refusal = (
            f"too many commands on your live sockets: at most {burst} at once and {rate:g} a second"
        )

    def take(self, username: str) -> bool:
        """Whether one more of `username`'s messages may be carried out now (it is then
        counted)."""
        return self._pace.take(username, time.monotonic()) == 0


async def _read_commands(
    websocket: WebSocket, follower: _LogFollower, budget: _CommandBudget, username: str
) -> None:
    """Follow and unfollow logs as asked until the socket ends; other commands are ignored,
    a binary frame closes the socket (1003), and so does a message over its budget (4429),
    not carried out."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is None:
            await websocket.close(code=UNSUPPORTED_DATA, reason="send commands as JSON text")
            return
        # Every message counts, one ignored too: each is read and decoded.
        if not budget.take(username):
            await websocket.close(code=TOO_MANY_CLOSE, reason=budget.refusal)
            return
        command = _decoded(message)
        if not isinstance(command, dict):
            continue
        for key, act in (("follow_logs", follower.follow), ("unfollow_logs", follower.unfollow)):
            name = command.get(key)
            if isinstance(name, str):
                try:
                    parse_session_name(name)
                except InvalidSessionName:
                    continue
                act(name)  # no I/O: a follow is carried out by the next read
