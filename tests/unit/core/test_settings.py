"""Settings: generated secret, weak secrets and passwords refused outside the demo; a
feature's group of settings read from the variables it always had."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from smsfleet.core.errors import ConfigurationError
from smsfleet.core.settings import PolicySettings, Settings


def test_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).jwt_secret
    second = Settings(data_dir=tmp_path).jwt_secret
    assert first == second
    assert len(first) >= 48
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_variables_are_read_with_the_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMSFLEET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMSFLEET_CONFIG_URL", "mongodb://db.example:27017/fleet")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.resolved_config_url == "mongodb://db.example:27017/fleet"
    assert settings.resolved_metrics_url == f"sqlite:///{tmp_path.resolve() / 'metrics.db'}"


@pytest.mark.parametrize("secret", ["secret", "your_secret_key", "changeme", "short-but-random-1"])
def test_weak_secrets_are_refused(tmp_path: Path, secret: str) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr(secret))
    with pytest.raises(ConfigurationError, match="SMSFLEET_SECRET_KEY"):
        settings.check_production_safety()


@pytest.mark.parametrize("password", ["admin", "password", "admin123", "aaaaaaaaaaaaaaaa"])
def test_weak_admin_passwords_are_refused(tmp_path: Path, password: str) -> None:
    settings = Settings(data_dir=tmp_path, admin_password=SecretStr(password))
    with pytest.raises(ConfigurationError, match="SMSFLEET_ADMIN_PASSWORD"):
        settings.check_production_safety()


def test_demo_mode_accepts_what_production_refuses(tmp_path: Path) -> None:
    Settings(
        data_dir=tmp_path,
        demo=True,
        secret_key=SecretStr("secret"),
        admin_password=SecretStr("admin"),
    ).check_production_safety()


def test_strong_values_are_accepted(tmp_path: Path) -> None:
    Settings(
        data_dir=tmp_path,
        secret_key=SecretStr("k" * 16 + "Zq8!rT2#mW5$xY9&pL4@"),
        admin_password=SecretStr("correct-horse-battery"),
    ).check_production_safety()


# The variables a feature's group of settings is read from: the names they had before
# the groups (a group's variable is SMSFLEET_<GROUP>_<FIELD>).
GROUPED_VARIABLES = {
    "SMSFLEET_METRICS_URL",
    "SMSFLEET_METRICS_RETENTION_DAYS",
    "SMSFLEET_METRICS_ROLLUP_INTERVAL_SECONDS",
    "SMSFLEET_METRICS_READ_THREADS",
    "SMSFLEET_METRICS_READS_PER_USER",
    "SMSFLEET_TELEGRAM_BOT_TOKEN",
    "SMSFLEET_TELEGRAM_CHAT_IDS",
    "SMSFLEET_TELEGRAM_API_URL",
    "SMSFLEET_TELEGRAM_ROUTES",
    "SMSFLEET_SENTRY_DSN",
    "SMSFLEET_SENTRY_ENVIRONMENT",
    "SMSFLEET_SEARCH_URL",
    "SMSFLEET_SEARCH_TOKEN",
    "SMSFLEET_SEARCH_DB_URL",
    "SMSFLEET_SEARCH_MAX_JOBS_PER_USER",
    "SMSFLEET_SEARCH_MAX_MATCHES",
    "SMSFLEET_SEARCH_KEPT_JOBS_PER_USER",
    "SMSFLEET_SEARCH_JOB_RETENTION_DAYS",
    "SMSFLEET_SEND_CLAIM_TIMEOUT_SECONDS",
    "SMSFLEET_SEND_RETRY_INTERVAL_SECONDS",
    "SMSFLEET_SEND_MAX_PENDING_PER_ACTOR",
    "SMSFLEET_SEND_MAX_PENDING_PER_PAIR",
    "SMSFLEET_LOGIN_FAILURES_PER_USER",
    "SMSFLEET_LOGIN_FAILURES_PER_ADDRESS",
    "SMSFLEET_LOGIN_FAILURE_WINDOW_SECONDS",
    "SMSFLEET_LOGIN_FAILURES_PER_DEVICE",
    "SMSFLEET_LOGIN_DEVICE_TOKEN_DAYS",
    "SMSFLEET_LOGIN_MAX_OPEN_PER_USER",
    "SMSFLEET_LIVE_MAX_SOCKETS_PER_USER",
    "SMSFLEET_LIVE_MAX_SOCKETS",
    "SMSFLEET_LIVE_MAX_SIGNING_IN_PER_ADDRESS",
    "SMSFLEET_LIVE_MAX_SIGNING_IN",
    "SMSFLEET_LIVE_COMMANDS_PER_SECOND",
    "SMSFLEET_LIVE_COMMAND_BURST",
    "SMSFLEET_APIKEYS_MAX_ACTIVE_PER_USER",
    "SMSFLEET_APIKEYS_KEPT_REVOKED_PER_USER",
    "SMSFLEET_APIKEYS_MADE_PER_HOUR",
    "SMSFLEET_HTTP_MAX_HEADER_BYTES",
    "SMSFLEET_HTTP_HEADER_TIMEOUT_SECONDS",
    "SMSFLEET_HTTP_MAX_CONNECTIONS",
    "SMSFLEET_HTTP_BODY_TIMEOUT_SECONDS",
    "SMSFLEET_HTTP_MAX_CONNECTIONS_PER_CLIENT",
    "SMSFLEET_PASSWORD_CHECKS",
    "SMSFLEET_PASSWORD_CHECK_WAIT_SECONDS",
    "SMSFLEET_POLICY_WINDOW_MINUTES",
    "SMSFLEET_POLICY_WINDOW_MAX_ATTEMPTS",
    "SMSFLEET_POLICY_MIN_SAMPLES",
    "SMSFLEET_POLICY_PAUSE_THRESHOLD",
    "SMSFLEET_POLICY_RESUME_THRESHOLD",
    "SMSFLEET_POLICY_COOLDOWN_SECONDS",
    "SMSFLEET_POLICY_COOLDOWN_MAX_SECONDS",
    "SMSFLEET_POLICY_PROBE_INTERVAL_SECONDS",
    "SMSFLEET_POLICY_PROBE_SAMPLES",
    "SMSFLEET_POLICY_EVALUATION_INTERVAL_SECONDS",
    "SMSFLEET_POLICY_Z",
    "SMSFLEET_POLICY_DECISION_RETENTION_DAYS",
    "SMSFLEET_ALERT_SUCCESS_WARNING",
    "SMSFLEET_ALERT_SUCCESS_CRITICAL",
    "SMSFLEET_ALERT_REPEAT_MINUTES",
    "SMSFLEET_ALERT_EVALUATION_INTERVAL_SECONDS",
    "SMSFLEET_ALERT_HOLD_MINUTES",
    "SMSFLEET_ALERT_RECOVERY_SECONDS",
    "SMSFLEET_ALERT_MAX_MESSAGES_PER_ACTOR",
    "SMSFLEET_ALERT_MAX_RAISED_PER_ACTOR",
    "SMSFLEET_ALERT_RAISED_WINDOW_MINUTES",
    "SMSFLEET_ALERT_RETENTION_DAYS",
}


def _grouped_fields() -> dict[str, tuple[str, str, FieldInfo]]:
    """Variable name → (group, field, its model field) of every grouped setting."""
    found = {}
    for variable, path in Settings.variables().items():
        if len(path) == 2:
            group, name = path
            model = Settings.model_fields[group].annotation
            assert isinstance(model, type) and issubclass(model, BaseModel)
            found[variable] = (group, name, model.model_fields[name])
    return found


def _another_value(field: FieldInfo, variable: str) -> tuple[str, object]:
    """A valid value of `field` other than its default: as written, and as read."""
    default = field.get_default(call_default_factory=True)
    if isinstance(default, float):
        return repr(default / 2), default / 2
    if isinstance(default, int):
        return str(default - 1), default - 1
    if isinstance(default, dict):
        return "critical=-1", {"critical": ["-1"]}
    return f"value of {variable}", f"value of {variable}"


def test_grouped_settings_keep_the_variable_names_they_had() -> None:
    assert set(_grouped_fields()) == GROUPED_VARIABLES


@pytest.mark.parametrize("variable", sorted(GROUPED_VARIABLES))
def test_each_grouped_setting_is_read_from_its_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str
) -> None:
    group, name, field = _grouped_fields()[variable]
    written, expected = _another_value(field, variable)
    monkeypatch.setenv(variable, written)
    read = getattr(getattr(Settings(data_dir=tmp_path), group), name)
    assert (read.get_secret_value() if isinstance(read, SecretStr) else read) == expected
    # The same name, without the prefix, given to the constructor.
    monkeypatch.delenv(variable)
    flat: dict[str, Any] = {variable.removeprefix("SMSFLEET_").lower(): written}
    given = getattr(getattr(Settings(data_dir=tmp_path, **flat), group), name)
    assert (given.get_secret_value() if isinstance(given, SecretStr) else given) == expected


def test_a_dotenv_file_and_the_environment_fill_one_group_together(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SMSFLEET_POLICY_MIN_SAMPLES=7\nSMSFLEET_POLICY_Z=2.5\n")
    monkeypatch.setenv("SMSFLEET_POLICY_Z", "3")  # the environment wins over the file
    policy = Settings(data_dir=tmp_path, policy_pause_threshold=0.4).policy
    assert (policy.min_samples, policy.z, policy.pause_threshold) == (7, 3.0, 0.4)
    assert policy.resume_threshold == PolicySettings().resume_threshold


def test_a_bad_grouped_value_is_refused_naming_its_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMSFLEET_ALERT_SUCCESS_WARNING", "1.5")
    with pytest.raises(ValidationError, match=r"alert\.success_warning"):
        Settings(data_dir=tmp_path)


def test_a_lease_lasts_an_hour_at_most(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A lease holds a test number, and bounds the latency a report may record."""
    monkeypatch.setenv("SMSFLEET_LEASE_TTL_SECONDS", "3600")
    assert Settings(data_dir=tmp_path).lease_ttl_seconds == 3600
    monkeypatch.setenv("SMSFLEET_LEASE_TTL_SECONDS", "86400")
    with pytest.raises(ValidationError, match="lease_ttl_seconds"):
        Settings(data_dir=tmp_path)


def test_audit_entries_are_kept_a_year_and_at_least_a_day(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Settings(data_dir=tmp_path).audit_retention_days == 365
    monkeypatch.setenv("SMSFLEET_AUDIT_RETENTION_DAYS", "30")
    assert Settings(data_dir=tmp_path).audit_retention_days == 30
    for days in ("0", "-1"):
        monkeypatch.setenv("SMSFLEET_AUDIT_RETENTION_DAYS", days)
        with pytest.raises(ValidationError, match="audit_retention_days"):
            Settings(data_dir=tmp_path)


def test_an_empty_secret_variable_leaves_it_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMSFLEET_SEARCH_TOKEN", " ")
    monkeypatch.setenv("SMSFLEET_TELEGRAM_BOT_TOKEN", "")
    settings = Settings(data_dir=tmp_path)
    assert settings.search.token is None
    assert settings.telegram.bot_token is None


def test_a_range_of_uids_is_read_from_its_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMSFLEET_RUN_AS", "nobody")
    monkeypatch.setenv("SMSFLEET_RUN_AS_UIDS", " 61000 - 61999 ")
    assert Settings(data_dir=tmp_path).run_as_uids == (61000, 61999)


@pytest.mark.parametrize(
    ("uids", "said"),
    [
        ("61000", "not a range of uids"),
        ("61000-6100x", "not a range of uids"),
        ("62000-61000", "from 1000 up, first to last"),
        ("0-2000", "from 1000 up"),
        # Leftovers are ended by uid: a range holding an account's would end its processes.
        ("65530-65535", "holds the uids of accounts: nobody"),
    ],
)
def test_a_range_of_uids_that_could_harm_is_refused(tmp_path: Path, uids: str, said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        Settings(data_dir=tmp_path, run_as="nobody", run_as_uids=uids)


def test_a_range_of_uids_needs_the_user_whose_group_they_run_in(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SMSFLEET_RUN_AS_UIDS needs SMSFLEET_RUN_AS"):
        Settings(data_dir=tmp_path, run_as_uids=(61000, 61999))


@pytest.mark.parametrize(
    ("variable", "kept"),
    [
        ("SMSFLEET_ALERT_RETENTION_DAYS", lambda s: s.alert.retention_days),
        ("SMSFLEET_SESSION_EVENT_RETENTION_DAYS", lambda s: s.session_event_retention_days),
        ("SMSFLEET_POLICY_DECISION_RETENTION_DAYS", lambda s: s.policy.decision_retention_days),
        ("SMSFLEET_MESSAGE_RETENTION_DAYS", lambda s: s.message_retention_days),
    ],
)
def test_each_kind_is_kept_a_year_and_at_least_a_day(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    kept: Callable[[Settings], int],
) -> None:
    assert kept(Settings(data_dir=tmp_path)) == 365
    monkeypatch.setenv(variable, "30")
    assert kept(Settings(data_dir=tmp_path)) == 30
    for days in ("0", "-1"):
        monkeypatch.setenv(variable, days)
        with pytest.raises(ValidationError, match="retention_days"):
            Settings(data_dir=tmp_path)
