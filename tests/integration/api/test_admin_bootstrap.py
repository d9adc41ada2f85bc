"""SMSFLEET_ADMIN_PASSWORD creates the admin user, and resets it on the next start."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from smsfleet.api import create_app
from smsfleet.core.settings import Settings


def login_status(client: TestClient, password: str) -> int:
    response = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
    return response.status_code


def test_admin_password_creates_then_resets_admin(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, admin_password=SecretStr("first-admin-password"))
    with TestClient(create_app(first)) as client:
        assert login_status(client, "first-admin-password") == 200
    second = Settings(data_dir=tmp_path, admin_password=SecretStr("second-admin-password"))
    with TestClient(create_app(second)) as client:
        assert login_status(client, "first-admin-password") == 401
        assert login_status(client, "second-admin-password") == 200


def test_no_admin_password_means_no_admin(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        assert login_status(client, "demo-admin-password") == 401
