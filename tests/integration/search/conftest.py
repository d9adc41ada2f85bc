"""The search service on loopback (its own SQLite database), and a control plane using it.

- `search_server`: `create_search_app` served by a thread on a free port (stop and
  start it again on the same port to take it down and bring it back).
- `gateway_api`: the in-process control plane with `SMSFLEET_SEARCH_URL` pointing
  there, a breaker that opens after 3 failures and tries again after 1 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import Api, running_api
from tests.support.search import SEARCH_TOKEN, search_service
from tests.support.servers import ThreadedServer


@pytest.fixture
def search_server(tmp_path: Path) -> Iterator[ThreadedServer]:
    with search_service(tmp_path) as server:
        yield server


@pytest.fixture
def gateway_api(tmp_path: Path, search_server: ThreadedServer) -> Iterator[Api]:
    with running_api(
        tmp_path,
        search_url=search_server.url,
        search_token=SEARCH_TOKEN,
        breaker_reset_seconds=1.0,
    ) as running:
        yield running
