"""Passwords guessed first are refused however they are padded or repeated, and the demo's
own login is refused outside the demo: for users (API and console) and for the admin
password `smsfleet serve` takes from its environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsfleet.core.errors import ConfigurationError
from smsfleet.core.settings import Settings, weak_password_reason
from tests.support.api import Api

GUESSABLE = [
    "password1234",
    "Password!2024",
    "qwertyuiop123",
    "changemechangeme",
    "adminadminadmin",
    "demo-admin-password",
    "123456789012",
    "aaaaaaaaaaaaaaaa",
    # A common password in l33t, a keyboard walk, a word and digits, a season and a year.
    "P@ssw0rd1234",
    "passw0rdpassw0rd",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "qwertyuiopas",
    "monkey123456",
    "Summer2026!!",
    "December-2026",
]
ACCEPTED = [
    "alice-long-password",
    "correct horse battery staple",
    "Probe-long-password-42",
    "Kx9#mQ2v!pLs",
]


@pytest.mark.parametrize("password", GUESSABLE)
def test_a_guessable_password_is_refused(password: str) -> None:
    assert weak_password_reason(password) is not None


@pytest.mark.parametrize("password", ACCEPTED)
def test_a_password_of_ones_own_is_accepted(password: str) -> None:
    assert weak_password_reason(password) is None


@pytest.mark.parametrize("password", ["weakpwweakpw", "WeakPw-2024!", "weakpw12345678"])
def test_a_users_own_name_padded_or_repeated_is_refused(password: str) -> None:
    assert weak_password_reason(password, username="weakpw") is not None
    assert weak_password_reason("alice-long-password", username="alice") is None


def test_users_get_the_reason_and_serve_refuses_the_demo_login(api: Api, tmp_path: Path) -> None:
    made = api.client.post(
        "/api/v1/users",
        json={"username": "olga", "password": "password1234", "role": "operator"},
        headers=api.headers(),
    )
    assert made.status_code == 422, made.text
    assert "well-known or trivially guessable" in made.json()["error"]["message"]
    walked = {"username": "olga", "password": "1qaz2wsx3edc", "role": "operator"}
    made = api.client.post("/api/v1/users", json=walked, headers=api.headers())
    assert made.status_code == 422, made.text
    assert made.json()["error"]["message"].endswith(
        "it is a well-known or trivially guessable password (this is a very common password)"
    )
    own_name = {"username": "weakpw", "password": "weakpwweakpw", "role": "operator"}
    made = api.client.post("/api/v1/users", json=own_name, headers=api.headers())
    assert made.status_code == 422, made.text
    assert api.client.post(
        "/api/v1/users",
        json={**own_name, "password": "Probe-long-password-42"},
        headers=api.headers(),
    ).is_success
    changed = api.client.patch(
        "/api/v1/users/weakpw", json={"password": "WeakPw-2024!"}, headers=api.headers()
    )
    assert changed.status_code == 422, changed.text
    settings = Settings(data_dir=tmp_path, admin_password="demo-admin-password")
    with pytest.raises(ConfigurationError, match="SMSFLEET_ADMIN_PASSWORD is refused"):
        settings.check_production_safety()
