"""A token signed with the control plane's key but holding an expiry no time holds (past
year 9999, not a number, a boolean) is refused as invalid, never a 500: the key may
leak, or a future change mint such a token, and no answer may then be a server fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from smsfleet.auth.models import Role
from smsfleet.core.security import ALGORITHM, DeviceHolder, device_of, encode_device_token
from tests.support.api import running_api

NO_TIME = [10**18, 253_402_300_800, "abc", "1893456000", 1.5e9, True, 0, -1, None, [1]]


def test_an_access_token_with_an_expiry_no_time_holds_is_refused(tmp_path: Path) -> None:
    with running_api(tmp_path) as api:
        secret = api.settings.jwt_secret
        claims = jwt.decode(
            api.token(Role.viewer), secret, algorithms=[ALGORITHM], options={"verify_exp": False}
        )
        for expiry in NO_TIME:
            forged = jwt.encode({**claims, "exp": expiry}, secret, algorithm=ALGORITHM)
            answer = api.client.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}
            )
            assert answer.status_code == 401, (expiry, answer.text)
            assert answer.json()["error"]["message"] == "invalid token", expiry
        # The same token with a time a datetime holds is read as before.
        later = jwt.encode({**claims, "exp": 253_402_300_799}, secret, algorithm=ALGORITHM)
        me = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {later}"})
        assert me.status_code == 200, me.text


@pytest.mark.parametrize("expiry", NO_TIME)
def test_a_device_token_with_an_expiry_no_time_holds_is_none(expiry: Any) -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    holder = DeviceHolder(username="operator", token_version=3)
    secret = "a-key-for-device-tokens-of-this-test"
    token = encode_device_token(
        secret=secret, holder=holder, now=now, ttl=timedelta(days=30), device="d1"
    )
    assert device_of(token, secret=secret, holder=holder, now=now) == "d1"
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM])
    forged = jwt.encode({**claims, "exp": expiry}, secret, algorithm=ALGORITHM)
    assert device_of(forged, secret=secret, holder=holder, now=now) is None
