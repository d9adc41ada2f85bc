"""Settings: generated secret, weak secrets and passwords refused outside the demo."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from smsfleet.core.errors import ConfigurationError
from smsfleet.core.settings import Settings


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
