"""Every route of the OpenAPI schema, fuzzed: no input makes the control plane fail (5xx).

Requests are generated from the schema (valid and invalid bodies, parameters and
headers) and sent as the admin, who may reach every route. `make test` runs the same
examples every time (derandomized); `make fuzz` new ones, ten times as many.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from smsfleet.api import create_app
from smsfleet.auth.models import Role
from smsfleet.core.settings import Settings
from smsfleet.search.app import create_search_app
from smsfleet.stores import open_config_store
from tests.support.api import PASSWORDS, add_users
from tests.support.fakes import FakeClock
from tests.support.fuzzing import examples
from tests.support.servers import ThreadedServer
from tests.support.sqlite_schemas import migrated_stores

pytestmark = pytest.mark.fuzz

EXAMPLES = 20  # per operation, valid and invalid requests mixed


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    data = tmp_path_factory.mktemp("fuzz")
    # The search service runs too, so its routes answer rather than say it is off.
    token = "fuzz-search-token-0123456789abcdef"
    search = ThreadedServer(
        create_search_app(Settings(data_dir=data, search_token=token, supervise=False))
    )
    search.start()
    app_settings = Settings(
        data_dir=data,
        web_dir=data / "no-web",
        supervise=False,
        search_url=search.url,
        search_token=token,
        # Some 2,000 requests by one admin: past the change budget its writes would all be
        # 429s, and the handlers behind them never fuzzed.
        changes_per_minute=100_000,
    )
    store = open_config_store(migrated_stores(app_settings).resolved_config_url)
    clock = FakeClock()
    add_users(store, clock)
    app = create_app(app_settings, store=store, clock=clock)
    with TestClient(app) as client:
        login = client.post(
            "/api/v1/auth/login",
            json={"username": Role.admin.value, "password": PASSWORDS[Role.admin]},
        )
        assert login.status_code == 200, login.text
        yield app, login.json()["access_token"]
    store.close()
    search.stop()


# Some 2,000 requests: half a minute on a quiet machine, ten times that on one busy with
# other work, which the suite's five minutes per test do not cover.
@pytest.mark.timeout(900)
def test_no_input_makes_a_server_error(fuzzed_app: tuple[FastAPI, str]) -> None:
    app, token = fuzzed_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    server_errors: list[str] = []
    budgeted: list[str] = []
    operations = 0
    statuses: Counter[int] = Counter()
    called: Counter[str] = Counter()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        operations += 1
        called[operation.label] += 0

        @given(
            case=st.one_of(
                operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
            )
        )
        @settings(max_examples=examples(EXAMPLES), suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=headers)
            called[case.operation.label] += 1
            statuses[response.status_code] += 1
            if "SMSFLEET_CHANGES_PER_MINUTE" in response.text:
                budgeted.append(f"{case.method} {case.formatted_path}")
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )

        fuzz()
    assert operations >= 40, f"only {operations} operations in the schema"
    never = [label for label, count in called.items() if count == 0]
    assert not never, f"operations never called: {never}"
    # Not vacuous: valid requests got through, invalid ones were refused.
    assert statuses[200] + statuses[201] + statuses[202] > 0, statuses
    assert statuses[422] + statuses[400] > 0, statuses
    assert not server_errors, "\n".join(server_errors[:20])
    assert not budgeted, f"refused by the change budget, not fuzzed: {budgeted[:5]}"
