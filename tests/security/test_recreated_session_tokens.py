"""A worker token dies with the session it was issued for: once the session is removed
and created again under its name, the old token (in the old program's environment, its
logs) leases, reports, beats and ends nothing of the new one's, on either ledger; the new
session's own token works. And a token of any other shape is a plain 401, never a 500."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx2
import jwt
import pytest
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.attempts import RedisLedger
from smsfleet.core.settings import Settings
from smsfleet.stores import open_config_store
from tests.integration.dispatch.test_worker_api import SESSION
from tests.integration.dispatch.test_worker_api import Worker as Api
from tests.support.fakes import FakeClock
from tests.support.sqlite_schemas import migrated_stores


@pytest.fixture(params=["sql", "redis"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """A pair and its session, the config looked at once a minute (this process's own
    changes are seen at once): on Redis, leases and reports are made on the event loop."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    settings = Settings(
        data_dir=tmp_path,
        web_dir=tmp_path / "no-web",
        supervise=False,
        redis_url=redis_url,
        config_max_age_seconds=60,
    )
    store = open_config_store(migrated_stores(settings).resolved_config_url)
    clock = FakeClock()
    app = create_app(settings, store=store, clock=clock)
    try:
        with TestClient(app) as client:
            ready = Api(client, store, clock, settings, app.state.services.dispatcher)
            assert isinstance(ready.dispatcher.ledger, RedisLedger) == (request.param == "redis")
            ready.add_pair()
            ready.add_session()
            yield ready
    finally:
        store.close()


def _post(api: Api, route: str, token: str, **fields: object) -> httpx2.Response:
    return api.client.post(
        f"/api/v1/worker/{route}",
        json={"session": SESSION, **fields},
        headers={"Authorization": f"Bearer {token}"},
    )


def _created_again(api: Api) -> tuple[str, datetime, datetime]:
    """The session removed and created again a minute later: the old token, and when
    the old and the new session were created."""
    old_token = api.tokens[SESSION]
    old = api.store.session_specs.get(SESSION)
    assert old is not None
    assert api.store.session_specs.delete(SESSION)
    api.clock.advance(60)
    api.add_session()
    new = api.store.session_specs.get(SESSION)
    assert new is not None and new.created_at != old.created_at
    return old_token, old.created_at, new.created_at


def test_a_token_of_the_session_removed_is_refused_by_the_one_created_again(api: Api) -> None:
    old_token, old_created, new_created = _created_again(api)
    new_token = api.tokens[SESSION]
    assert new_token != old_token

    # The new session's program leases: an attempt of the new session's.
    lease = _post(api, "lease", new_token)
    assert lease.status_code == 200 and lease.json()["action"] == "send", lease.text
    trigger_id = lease.json()["trigger_id"]
    beaten = api.dispatcher.heartbeats()[SESSION]
    api.clock.advance(5)

    old_at, new_at = (at.isoformat(timespec="milliseconds") for at in (old_created, new_created))
    said = (
        f"session {SESSION!r} was removed and created again since this program started"
        f" (its token is for the session created at {old_at}; this one was created at"
        f" {new_at}): stop this program; the control plane starts the new session's own"
    )
    for route, fields in [
        ("lease", {}),
        ("report", {"trigger_id": trigger_id, "outcome": "send_failed", "error_code": "fake"}),
        ("heartbeat", {}),
        ("ended", {"pid": 4242}),
    ]:
        answer = _post(api, route, old_token, **fields)
        assert answer.status_code == 401, (route, answer.text)
        error = answer.json()["error"]
        assert (error["code"], error["message"]) == ("unauthorized", said), route
    # None of it counted: no outcome faked for the new session's attempt, no sign of life.
    api.settle()
    attempt = api.dispatcher.attempts.get(trigger_id)
    assert attempt is not None and attempt.outcome is None
    assert api.dispatcher.heartbeats()[SESSION] == beaten

    # The new session's own token does all of it.
    report = _post(api, "report", new_token, trigger_id=trigger_id, outcome="delivered")
    assert report.status_code == 200 and report.json() == {"status": "recorded"}, report.text
    assert _post(api, "heartbeat", new_token).status_code == 204
    assert _post(api, "ended", new_token, pid=4242).status_code == 204
    assert api.dispatcher.heartbeats()[SESSION] > beaten


def test_a_session_never_removed_keeps_its_token(api: Api) -> None:
    token = api.tokens[SESSION]
    api.clock.advance(3600)
    lease = _post(api, "lease", token)
    assert lease.status_code == 200 and lease.json()["action"] == "send", lease.text
    assert _post(api, "heartbeat", token).status_code == 204


@pytest.mark.parametrize(
    "shape",
    [
        "",  # the digest alone: no stamp
        "0",  # a stamp that names no session's creation
        "-1",
        "1e3",
        "9" * 16,  # past the last day a datetime holds
        "9" * 5000,  # longer than Python reads as a number
        "\u0661\u0662\u0663",  # digits, not ASCII ones: Arabic-Indic
        "\uff11\uff12\uff13",  # full-width ones
        "0x10",
        " 123",
    ],
    ids=lambda shape: shape[:20] or "no-stamp",
)
def test_a_malformed_token_is_refused(api: Api, shape: str) -> None:
    digest = api.tokens[SESSION].partition(".")[2]
    token = f"{shape}.{digest}" if shape else digest
    for route in ("lease", "report", "heartbeat", "ended"):
        fields = {"trigger_id": "0" * 32, "outcome": "delivered"} if route == "report" else {}
        answer = api.client.post(
            f"/api/v1/worker/{route}",
            json={"session": SESSION, **fields},
            headers={b"Authorization": f"Bearer {token}".encode()},
        )
        assert answer.status_code == 401, (route, answer.text)
        assert answer.json()["error"]["code"] == "unauthorized"


def test_a_stamp_written_otherwise_is_refused(api: Api) -> None:
    """Leading zeros name the same time, but the token is compared whole: refused."""
    stamp, _, digest = api.tokens[SESSION].partition(".")
    assert _post(api, "heartbeat", f"0{stamp}.{digest}").status_code == 401
    assert _post(api, "heartbeat", f"{stamp}.{digest}").status_code == 204


def test_a_token_of_the_form_before_the_upgrade_is_refused_saying_so(api: Api) -> None:
    """A program started before the upgrade holds a digest of the session's name alone:
    every route refuses it, and says why, so its log tells an upgrade from a wrong URL."""
    secret = api.settings.jwt_secret.encode()
    earlier = hmac.new(secret, f"worker:{SESSION}".encode(), hashlib.sha256).hexdigest()
    said = (
        f"the worker token of session {SESSION!r} is of the form before this control plane's"
        " upgrade (it names no creation of the session): stop this program; the control plane"
        " starts it again with a token of today's form"
    )
    for route in ("lease", "heartbeat", "ended"):
        answer = _post(api, route, earlier)
        assert answer.status_code == 401, (route, answer.text)
        assert answer.json()["error"]["message"] == said


def test_a_sign_in_token_or_an_api_key_is_refused_as_no_worker_token(api: Api) -> None:
    """Token confusion: a JWT or an API key is refused on every worker route, saying what
    it is, not that another control plane started the session."""
    secret = api.settings.jwt_secret
    sign_in = jwt.encode({"sub": "admin", "role": "admin", "typ": "access"}, secret, "HS256")
    key = "sfk_bc112e61_PwI1xI_Yl3N-_BPEDe5g2u-BrDWyENisSVjh8Fe9a7g"
    for token in (sign_in, key):
        for route in ("lease", "heartbeat", "ended"):
            answer = _post(api, route, token)
            assert answer.status_code == 401, (route, answer.text)
            assert answer.json()["error"]["message"].startswith(
                "an API key or a sign-in token (JWT) is no worker token"
            )
