"""`/metrics` takes no login (Prometheus scrapes it) and reads the stores: a flood of
scrapes shares renders, one at a time and spaced apart, and waits on the event loop, so
it neither multiplies that work nor takes the threads every sync route shares."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from smsfleet.auth.models import Role
from tests.support.api import running_api


class _SlowRender:
    """Counts the renders of `/metrics`, each held until `release` is set."""

    def __init__(self) -> None:
        self.renders = 0
        self.rendering = threading.Event()
        self.release = threading.Event()

    def collect(self) -> Iterator[Metric]:
        self.renders += 1
        self.rendering.set()
        self.release.wait(10)
        yield GaugeMetricFamily("renders_seen", "Renders so far", value=self.renders)


def test_a_flood_of_scrapes_shares_renders_and_holds_no_thread(tmp_path: Path) -> None:
    with running_api(tmp_path) as api:
        slow = _SlowRender()
        api.services.metrics.registry.register(slow)
        transport = httpx.ASGITransport(app=api.client.app)
        headers = api.headers(Role.viewer)

        async def flood() -> tuple[list[str], list[str], httpx.Response]:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                before: list[str] = []
                during: list[str] = []

                async def scrape(into: list[str]) -> None:
                    answer = await http.get("/metrics")
                    assert answer.status_code == 200, answer.text
                    into.append(answer.text)

                async with anyio.create_task_group() as group:
                    for _ in range(40):
                        group.start_soon(scrape, before)
                    await anyio.to_thread.run_sync(slow.rendering.wait, 10)
                    for _ in range(40):
                        group.start_soon(scrape, during)
                    # Eighty scrapes, one render under way: a sync route still has its
                    # threads (the pool holds 40) and answers at once.
                    with anyio.fail_after(10):
                        pairs = await http.get("/api/v1/pairs", headers=headers)
                    slow.release.set()
            return before, during, pairs

        before, during, pairs = anyio.run(flood)
    assert pairs.status_code == 200, pairs.text
    # The scrapes that came before the render share it; those that came while it ran
    # share the next, as what it says may be from before they asked.
    assert slow.renders == 2
    assert len(before) == len(during) == 40
    assert all("renders_seen 1.0" in text for text in before)
    assert all("renders_seen 2.0" in text for text in during)
