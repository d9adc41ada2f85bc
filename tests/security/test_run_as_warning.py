"""`smsfleet serve` says so when its programs would run as itself (no SMSFLEET_RUN_AS), or
all as one user (no SMSFLEET_RUN_AS_UIDS), or when it answers any Host name beyond this
machine; the demo's published password is never used beyond this machine."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from smsfleet.cli import (
    DEMO_ADMIN_PASSWORD,
    OPEN_HOSTS_WARNING,
    RUN_AS_WARNING,
    SHARED_USER_WARNING,
    demo_password,
)
from tests.support.live_server import live_server


def test_serve_warns_when_programs_would_run_as_the_control_plane(tmp_path: Path) -> None:
    for each in ("supervising", "not-supervising"):
        (tmp_path / each).mkdir()
    with live_server(tmp_path / "supervising", SMSFLEET_SUPERVISE="true") as server:
        assert RUN_AS_WARNING in server.log.read_text()
    with live_server(tmp_path / "not-supervising") as server:  # no programs to start here
        assert RUN_AS_WARNING not in server.log.read_text()


def test_serve_warns_when_programs_would_share_one_user(tmp_path: Path) -> None:
    for each in ("shared", "own-uids"):
        (tmp_path / each).mkdir()
    shared = {"SMSFLEET_SUPERVISE": "true", "SMSFLEET_RUN_AS": "nobody"}
    with live_server(tmp_path / "shared", **shared) as server:
        log = server.log.read_text()
        assert SHARED_USER_WARNING in log and RUN_AS_WARNING not in log
    own = {**shared, "SMSFLEET_RUN_AS_UIDS": "61000-61099"}
    with live_server(tmp_path / "own-uids", **own) as server:
        assert SHARED_USER_WARNING not in server.log.read_text()


def test_serve_warns_when_it_answers_any_host_beyond_this_machine(tmp_path: Path) -> None:
    for each in ("open", "named", "loopback"):
        (tmp_path / each).mkdir()
    with live_server(tmp_path / "open", host="0.0.0.0") as server:  # noqa: S104
        assert OPEN_HOSTS_WARNING in server.log.read_text()
    named = {"SMSFLEET_ALLOWED_HOSTS": "127.0.0.1"}
    with live_server(tmp_path / "named", host="0.0.0.0", **named) as server:  # noqa: S104
        assert OPEN_HOSTS_WARNING not in server.log.read_text()
    with live_server(tmp_path / "loopback") as server:
        assert OPEN_HOSTS_WARNING not in server.log.read_text()


def test_the_demo_password_is_published_only_while_the_demo_listens_on_loopback() -> None:
    assert demo_password(None, "127.0.0.1") == DEMO_ADMIN_PASSWORD
    assert demo_password(None, "localhost") == DEMO_ADMIN_PASSWORD
    beyond = {demo_password(None, host) for host in ("0.0.0.0", "192.0.2.7", "::")}  # noqa: S104
    assert DEMO_ADMIN_PASSWORD not in beyond and len(beyond) == 3  # random for each run
    assert all(len(password) >= 16 for password in beyond)
    given = SecretStr("an-own-password-for-the-demo")
    assert demo_password(given, "0.0.0.0") == "an-own-password-for-the-demo"  # noqa: S104
