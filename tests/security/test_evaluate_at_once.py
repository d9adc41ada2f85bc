"""`POST /api/v1/alerts/evaluate` and `POST /api/v1/policy/evaluate` run one evaluation at
a time per process: requests that come while one runs wait for it and answer its result,
and so do those within a second of its end. An operator calling them in parallel loops
ran one evaluation per request (130 ms and 80 ms each) and slowed everyone's reads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from smsfleet.auth.models import Role
from tests.support.api import Api, running_api
from tests.support.fakes import FakeClock

AT_ONCE = 8


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path) as running:
        yield running


class Counted:
    """An evaluation that counts its runs, each long enough for the others to come."""

    def __init__(self, evaluate: Callable[[], Any]) -> None:
        self._evaluate = evaluate
        self._lock = threading.Lock()
        self.runs = 0

    def __call__(self) -> Any:
        with self._lock:
            self.runs += 1
        time.sleep(0.3)
        return self._evaluate()


def _at_once(api: Api, path: str) -> list[Any]:
    headers = api.headers(Role.operator)
    with ThreadPoolExecutor(AT_ONCE) as pool:
        answers = list(pool.map(lambda _: api.client.post(path, headers=headers), range(AT_ONCE)))
    assert [a.status_code for a in answers] == [200] * AT_ONCE, [a.text for a in answers]
    return [a.json() for a in answers]


@pytest.mark.parametrize("what", ["policy", "alerts"])
def test_evaluations_asked_at_once_run_once_and_share_the_result(
    api: Api, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    service = getattr(api.services, what).service
    counted = Counted(service.evaluate)
    monkeypatch.setattr(service, "evaluate", counted)
    path = f"/api/v1/{what}/evaluate"
    results = _at_once(api, path)
    assert counted.runs == 1
    assert all(result == results[0] for result in results)
    # Asked again within a second of its end: the same result, not another run.
    again = api.client.post(path, headers=api.headers(Role.operator))
    assert (again.status_code, again.json()) == (200, results[0])
    assert counted.runs == 1
    clock = api.clock
    assert isinstance(clock, FakeClock)
    clock.advance(2)
    assert api.client.post(path, headers=api.headers(Role.operator)).status_code == 200
    assert counted.runs == 2


@pytest.mark.parametrize("what", ["policy", "alerts"])
def test_the_route_says_it_runs_one_evaluation_at_a_time(api: Api, what: str) -> None:
    schema = api.client.get("/openapi.json").json()
    description = schema["paths"][f"/api/v1/{what}/evaluate"]["post"]["description"]
    assert "at a time" in description
    assert "within a second" in description
