"""`/metrics` renders: one at a time for any number of scrapers, never older than the
scrape, spaced apart."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from smsfleet.metrics.prometheus import Exposition


class _Counting:
    """A collector that counts its renders (the gauge says which one it is), each held
    until `release` is set."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.renders = 0
        self.rendering = threading.Event()
        self.release = threading.Event()
        self.release.set()
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        self.renders += 1
        self.rendering.set()
        self.release.wait(5)
        yield GaugeMetricFamily("render_number", "Which render this is", value=self.renders)


def _setup(spacing: float = 0.0) -> tuple[Exposition, _Counting]:
    registry = CollectorRegistry(auto_describe=False)
    return Exposition(registry, spacing=spacing), _Counting(registry)


def _number(body: bytes) -> float:
    line = next(line for line in body.decode().splitlines() if line.startswith("render_number"))
    return float(line.split()[-1])


def test_scrapers_arriving_together_share_one_render() -> None:
    exposition, counting = _setup()

    async def scrape_all() -> list[tuple[bytes, str]]:
        return await asyncio.gather(*(exposition.answer(None) for _ in range(20)))

    answers = asyncio.run(scrape_all())
    assert counting.renders == 1
    assert {_number(body) for body, _ in answers} == {1.0}
    assert {content_type for _, content_type in answers} == {answers[0][1]}


def test_a_scrape_during_a_render_waits_for_the_next_one() -> None:
    """What a render in progress says may be from before the scrape asked."""
    exposition, counting = _setup()
    counting.release.clear()

    async def scrape_during() -> tuple[float, float]:
        first = asyncio.create_task(exposition.answer(None))
        await asyncio.to_thread(counting.rendering.wait, 5)
        second = asyncio.create_task(exposition.answer(None))
        await asyncio.sleep(0.05)
        counting.release.set()
        return _number((await first)[0]), _number((await second)[0])

    assert asyncio.run(scrape_during()) == (1.0, 2.0)
    assert counting.renders == 2


def test_renders_of_a_format_start_spacing_apart() -> None:
    exposition, counting = _setup(spacing=0.3)

    async def scrape_twice() -> float:
        began = time.monotonic()  # before the first render starts
        await exposition.answer(None)
        await exposition.answer(None)
        return time.monotonic() - began

    # The event loop may wake a timer within its clock's resolution of its time.
    assert asyncio.run(scrape_twice()) >= 0.3 - 0.001
    assert counting.renders == 2


def test_another_format_is_rendered_for_itself_at_once() -> None:
    exposition, counting = _setup(spacing=60)

    async def scrape_both() -> str:
        await exposition.answer(None)
        _, content_type = await asyncio.wait_for(
            exposition.answer("application/openmetrics-text; version=1.0.0"), 10
        )
        return content_type

    assert asyncio.run(scrape_both()).startswith("application/openmetrics-text")
    assert counting.renders == 2


def test_it_serves_each_event_loop_it_is_awaited_in() -> None:
    """A lock waited on in one loop cannot be waited on in another: each loop gets its own."""
    exposition, counting = _setup()

    async def contended() -> None:
        await asyncio.gather(exposition.answer(None), exposition.answer(None))

    asyncio.run(contended())
    asyncio.run(contended())
    assert counting.renders == 2


@pytest.mark.parametrize(
    "accept",
    [
        "application/openmetrics-text; version=1.x",
        "application/openmetrics-text; version=abc",
        "application/openmetrics-text;version;version=1.x",
        "text/plain; version=1.x",
        "application/openmetrics-text; version=7.0.1",
    ],
)
def test_a_version_it_does_not_write_is_answered_in_the_default_format(accept: str) -> None:
    exposition, _ = _setup()
    _, content_type = asyncio.run(exposition.answer(accept))
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"


def test_the_formats_stay_a_handful_whatever_scrapes_ask() -> None:
    """Each format has its own renders: one per version asked would grow without end."""
    exposition, _ = _setup()

    async def scrape_many() -> set[str]:
        asked = [
            f"application/openmetrics-text; version={version}; escaping={escaping}"
            for version in ("1.0.0", "2.0.0", *(f"7.0.{n}" for n in range(50)))
            for escaping in ("allow-utf-8", "underscores", "dots", "values", "odd")
        ]
        answers = [await exposition.answer(accept) for accept in asked]
        return {content_type for _, content_type in answers}

    formats = asyncio.run(scrape_many())
    # Two versions by four escapings, and the default for every version it does not write.
    assert len(formats) == 2 * 4 + 1
