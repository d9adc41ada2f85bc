from __future__ import annotations

from pathlib import Path

import pytest

from smsfleet.worker import SettingsError, WorkerSettings

ENV = {
    "SMSFLEET_URL": "http://127.0.0.1:8000/",
    "SMSFLEET_SESSION": "program2_IN_airtel",
    "SMSFLEET_WORKER_TOKEN": "abc",
    "SMSFLEET_PAIR": "IN_airtel",
    "SMSFLEET_PROGRAM": "program2",
    "SMSFLEET_COUNTRY": "IN",
}


def test_reads_the_environment_the_session_backend_sets() -> None:
    settings = WorkerSettings.from_env(ENV)
    assert settings.url == "http://127.0.0.1:8000"
    assert (settings.session, settings.pair, settings.program, settings.country) == (
        "program2_IN_airtel",
        "IN_airtel",
        "program2",
        "IN",
    )
    assert settings.simulator_url == "http://127.0.0.1:8100"
    assert settings.spool_path == Path("var/spool/program2_IN_airtel")


def test_spool_dir_and_simulator_url_can_be_set() -> None:
    env = {**ENV, "SMSFLEET_SPOOL_DIR": "/tmp/spool", "SMSFLEET_SIMULATOR_URL": "http://sim:9/"}
    settings = WorkerSettings.from_env(env)
    assert settings.spool_path == Path("/tmp/spool")
    assert settings.simulator_url == "http://sim:9"


@pytest.mark.parametrize("missing", ["SMSFLEET_URL", "SMSFLEET_SESSION", "SMSFLEET_WORKER_TOKEN"])
def test_a_missing_variable_is_named(missing: str) -> None:
    env = {key: value for key, value in ENV.items() if key != missing}
    with pytest.raises(SettingsError, match=missing):
        WorkerSettings.from_env(env)


def test_pair_program_and_country_default_from_the_session_name() -> None:
    env = {key: ENV[key] for key in ("SMSFLEET_URL", "SMSFLEET_SESSION", "SMSFLEET_WORKER_TOKEN")}
    settings = WorkerSettings.from_env(env)
    assert (settings.pair, settings.program, settings.country) == ("IN_airtel", "program2", "IN")


def test_an_unparsable_session_without_pair_is_refused() -> None:
    env = {"SMSFLEET_URL": "http://x", "SMSFLEET_SESSION": "odd", "SMSFLEET_WORKER_TOKEN": "t"}
    with pytest.raises(SettingsError, match="SMSFLEET_PAIR"):
        WorkerSettings.from_env(env)


def test_a_bad_number_is_named() -> None:
    with pytest.raises(SettingsError, match="SMSFLEET_STOP_GRACE"):
        WorkerSettings.from_env({**ENV, "SMSFLEET_STOP_GRACE": "soon"})


def test_settings_are_frozen() -> None:
    settings = WorkerSettings.from_env(ENV)
    with pytest.raises(AttributeError):
        settings.url = "http://elsewhere"  # type: ignore[misc]
