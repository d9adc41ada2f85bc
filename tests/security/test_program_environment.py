"""A program's environment is an allowlist: none of the control plane's secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from smsfleet.core.program_env import program_environment
from smsfleet.core.settings import Settings
from smsfleet.demo import search_environment
from tests.support.security import HP_SESSION, PROGRAM_SENTRY_DSN, SECRETS, Live


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {name.decode(): value.decode(errors="replace") for name, _, value in pairs}


def test_a_running_program_holds_none_of_the_control_planes_secrets(live: Live) -> None:
    status = live.screens.status(HP_SESSION)
    assert status is not None and status.program_pid is not None
    env = environ_of(status.program_pid)
    leaked = {name for name in SECRETS if name in env}
    assert leaked == set()
    values = "\n".join(env.values())
    assert all(secret not in values for secret in SECRETS.values())
    # What the worker SDK reads is there.
    assert env["SMSFLEET_SESSION"] == HP_SESSION
    assert env["SMSFLEET_PAIR"] == "IN_vi"
    assert env["SMSFLEET_WORKER_TOKEN"]
    assert env["SMSFLEET_PROGRAM_SENTRY_DSN"] == PROGRAM_SENTRY_DSN
    assert env["SMSFLEET_STOP_GRACE"] == "1"  # the supervisor's, so its stop fits it
    assert env["PATH"]


def test_only_allowed_names_pass_and_the_admins_list_adds_to_them() -> None:
    host = {
        "PATH": "/usr/bin",
        "HOME": "/home/fleet",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "SMSFLEET_PROXY": "http://proxy:3128",
        "SMSFLEET_SECRET_KEY": "x",
        "SMSFLEET_TELEGRAM_BOT_TOKEN": "x",
        "SMSFLEET_TELEGRAM_CHAT_IDS": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "DATABASE_URL": "x",
        "PROVIDER_API_KEY": "p",
    }
    session = {"SMSFLEET_SESSION": "program1_UZ_uzmobile", "SMSFLEET_SEARCH_TOKEN": "x"}
    env = program_environment(host, session, ["PROVIDER_API_KEY", "SMSFLEET_INBOUND_TOKEN"])
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/fleet",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "SMSFLEET_PROXY": "http://proxy:3128",
        "PROVIDER_API_KEY": "p",
        "SMSFLEET_SESSION": "program1_UZ_uzmobile",
    }


@pytest.mark.parametrize(
    "names",
    [
        "SMSFLEET_SECRET_KEY",
        "PROVIDER_KEY,SMSFLEET_TELEGRAM_BOT_TOKEN",
        "NOT A NAME",
        # A settings group as one JSON variable, as pydantic-settings reads it too.
        "SMSFLEET_TELEGRAM",
        "SMSFLEET_SEARCH",
        "SMSFLEET_SENTRY",
        "SMSFLEET_METRICS",
        "smsfleet_telegram",
    ],
)
def test_the_extra_list_cannot_name_a_setting_of_the_control_plane(names: str) -> None:
    with pytest.raises(ValidationError, match=r"a setting of the control plane|not an environment"):
        Settings(_env_file=None, program_env=names)


def test_no_setting_of_the_control_plane_passes_but_what_the_worker_reads() -> None:
    host = {
        "SMSFLEET_TELEGRAM": '{"bot_token": "123:abc"}',
        "SMSFLEET_SENTRY": '{"dsn": "https://key@sentry.example/1"}',
        "smsfleet_secret_key": "s" * 40,
        "SMSFLEET_SOME_LATER_SETTING": "x",
        "SMSFLEET_PROXY": "http://proxy:3128",
    }
    session = {"SMSFLEET_SESSION": "program1_UZ_uzmobile", "SMSFLEET_METRICS": "{}"}
    assert program_environment(host, session, list(host)) == {
        "SMSFLEET_PROXY": "http://proxy:3128",
        "SMSFLEET_SESSION": "program1_UZ_uzmobile",
    }


def test_the_extra_list_is_comma_separated() -> None:
    settings = Settings(_env_file=None, program_env="PROVIDER_KEY, HTTPS_PROXY")
    assert settings.program_env == ["PROVIDER_KEY", "HTTPS_PROXY"]


def test_the_demos_search_service_gets_none_of_the_control_planes_settings() -> None:
    host = {
        "PATH": "/usr/bin",
        "SMSFLEET_JWT_SECRET": "s" * 40,
        "SMSFLEET_TELEGRAM_BOT_TOKEN": "123:abc",
        "SMSFLEET_SEARCH_DB_URL": "sqlite:///search.db",
        "SMSFLEET_SENTRY_DSN": "https://key@sentry.example/1",
    }
    assert search_environment(host, "t" * 32) == {
        "PATH": "/usr/bin",
        "SMSFLEET_SEARCH_DB_URL": "sqlite:///search.db",
        "SMSFLEET_SENTRY_DSN": "https://key@sentry.example/1",
        "SMSFLEET_SEARCH_TOKEN": "t" * 32,
    }
