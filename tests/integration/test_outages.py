"""A store or Redis that goes away: the limiter fails closed (no grant without a decision)
and the API answers 503 with Retry-After, never a 500; both recover when it is back."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smsfleet.api import create_app
from smsfleet.auth.models import Role
from smsfleet.core.settings import Settings
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.dispatch._redis_limiter import RedisLimiter
from smsfleet.dispatch._sql_limiter import SqlLimiter
from smsfleet.dispatch.limiter import Ask, LimiterUnavailable
from smsfleet.stores import open_config_store
from tests.support.api import PASSWORDS, add_users
from tests.support.backends import (
    free_port,
)
from tests.support.chaos import CuttableProxy
from tests.support.fakes import FakeClock
from tests.support.waiting import eventually

ASK = Ask(country="UZ", pair="UZ_uzmobile", program="program1", cap=10)


def test_the_sql_limiter_fails_closed_while_its_database_is_cut(
    metrics_through_proxy: tuple[str, CuttableProxy],
) -> None:
    url, proxy = metrics_through_proxy
    engine = create_sql_engine(url)
    upgrade_metrics_schema(engine)
    clock = FakeClock()
    limiter = SqlLimiter(engine, clock=clock)
    try:
        assert limiter.acquire(ASK).granted
        proxy.cut()
        clock.advance(6)
        with pytest.raises(LimiterUnavailable):
            limiter.acquire(ASK)
        proxy.restore()
        assert limiter.acquire(ASK).granted
    finally:
        engine.dispose()


def test_the_redis_limiter_fails_closed_when_redis_is_away() -> None:
    limiter = RedisLimiter.from_url(f"redis://127.0.0.1:{free_port()}/0", clock=FakeClock())
    try:
        with pytest.raises(LimiterUnavailable):
            limiter.acquire(ASK)
    finally:
        limiter.close()


def test_the_api_answers_503_while_the_metrics_store_is_cut(
    tmp_path: Path, metrics_through_proxy: tuple[str, CuttableProxy]
) -> None:
    url, proxy = metrics_through_proxy
    settings = Settings(
        data_dir=tmp_path, metrics_url=url, web_dir=tmp_path / "no-web", supervise=False
    )
    store = open_config_store(settings.resolved_config_url)
    add_users(store, FakeClock())
    try:
        with TestClient(create_app(settings, store=store)) as client:
            login = {"username": Role.viewer.value, "password": PASSWORDS[Role.viewer]}
            token = client.post("/api/v1/auth/login", json=login).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/metrics/summary", headers=headers).status_code == 200
            proxy.cut()
            answer = client.get("/api/v1/metrics/summary", headers=headers)
            assert answer.status_code == 503
            assert answer.json()["error"]["code"] == "unavailable"
            assert answer.headers["retry-after"] == "5"
            # What does not need the metrics store goes on answering.
            assert client.get("/api/v1/pairs", headers=headers).status_code == 200
            proxy.restore()

            def answered() -> bool:
                # A pooled connection the cut broke may still fail once: then a 503 again,
                # never a 500, and the next read reconnects.
                status = client.get("/api/v1/metrics/summary", headers=headers).status_code
                assert status in (200, 503), status
                return status == 200

            eventually(answered, 10, "the metrics store to answer again")
    finally:
        store.close()
