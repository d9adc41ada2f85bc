"""Prometheus exposition of the fleet, on a registry the caller owns.

Counters of attempts (sent, delivered, failed by reason, broken off, and of those the
ones sent, delivery seconds) are kept
in this process and grow with every outcome it records; a restart starts them from
zero, which Prometheus' `rate()` expects of counters. Session and route gauges are
read from the stores at scrape time. Labels stay bounded: country, pair, program,
session and reason (an outcome), never a phone number or an attempt id; the label
sets of deleted pairs and sessions disappear at the next scrape.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import anyio
import anyio.to_thread
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import CollectorRegistry

from smsfleet.attempts.models import Attempt, Outcome, counts_as_sent, is_broken_off
from smsfleet.metrics.models import LATENCY_BUCKETS_MS, GroupBy
from smsfleet.metrics.service import MetricsService
from smsfleet.sessions.models import SessionState

__all__ = ["EXPOSITION_SPACING", "Exposition", "FleetCollector"]

SUCCESS_WINDOW = timedelta(minutes=30)
RATE_WINDOW = timedelta(minutes=5)
# The shortest span the send rate is read over: any minute's grants are within the cap,
# a few seconds' may not be.
MIN_RATE_WINDOW = timedelta(minutes=1)
ROUTE = ("country", "pair", "program")
SESSION = ("session", "pair", "program", "country")
_BOUNDS = tuple(bound / 1000 for bound in LATENCY_BUCKETS_MS)

Route = tuple[str, str, str]


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(_BOUNDS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        index = next((i for i, bound in enumerate(_BOUNDS) if seconds <= bound), len(_BOUNDS))
        self.counts[index] += 1
        self.total += seconds

    def buckets(self) -> list[tuple[str, float]]:
        cumulative, result = 0, []
        for bound, count in zip((*_BOUNDS, float("inf")), self.counts, strict=True):
            cumulative += count
            result.append(("+Inf" if bound == float("inf") else repr(bound), float(cumulative)))
        return result


class FleetCollector:
    """Registers itself on `registry`; `observe` is the metrics service's observer."""

    def __init__(self, *, metrics: MetricsService, registry: CollectorRegistry) -> None:
        self._metrics = metrics
        self._started = metrics.clock.now()
        self._lock = threading.Lock()
        self._sent: dict[Route, int] = {}
        self._delivered: dict[Route, int] = {}
        self._failed: dict[tuple[str, str, str, str], int] = {}
        self._broken_off: dict[Route, int] = {}
        # Of `_broken_off`, those whose SMS had reached the provider (in `_sent` too).
        self._broken_off_sent: dict[Route, int] = {}
        self._latency: dict[Route, _Histogram] = {}
        self._grants: dict[str, int] = {}
        metrics.add_observer(self.observe)
        registry.register(self)

    def observe(self, attempt: Attempt) -> None:
        route = (attempt.country, attempt.pair, attempt.program)
        outcome = attempt.outcome
        with self._lock:
            # From 0 for every route that reported, so dashboards show a flat line.
            self._broken_off.setdefault(route, 0)
            self._broken_off_sent.setdefault(route, 0)
            broken_off = is_broken_off(outcome, attempt.error_code)
            # Broken off after its SMS reached the gateway too: sent, though it judges nothing.
            if counts_as_sent(attempt):
                self._sent[route] = self._sent.get(route, 0) + 1
                # Materialised at zero so `delivered / sent` exists for every route.
                self._delivered.setdefault(route, 0)
            if outcome is Outcome.delivered:
                self._delivered[route] += 1
                if attempt.latency_ms is not None:
                    self._latency.setdefault(route, _Histogram()).observe(attempt.latency_ms / 1000)
            elif broken_off:
                self._broken_off[route] += 1
                if attempt.sent_at is not None:
                    self._broken_off_sent[route] += 1
            elif outcome in (Outcome.send_failed, Outcome.error):
                key = (*route, outcome.value)
                self._failed[key] = self._failed.get(key, 0) + 1

    def granted(self, country: str) -> None:
        """The dispatcher's grant listener: one send allowed in `country`, counted now."""
        with self._lock:
            self._grants[country] = self._grants.get(country, 0) + 1

    def _forget_pairs(self, pairs: set[str]) -> None:
        def keep(key: tuple[str, ...]) -> bool:
            return key[1] in pairs

        with self._lock:
            self._sent = {k: v for k, v in self._sent.items() if keep(k)}
            self._delivered = {k: v for k, v in self._delivered.items() if keep(k)}
            self._failed = {k: v for k, v in self._failed.items() if keep(k)}
            self._broken_off = {k: v for k, v in self._broken_off.items() if keep(k)}
            self._broken_off_sent = {k: v for k, v in self._broken_off_sent.items() if keep(k)}
            self._latency = {k: v for k, v in self._latency.items() if keep(k)}

    def describe(self) -> Iterable[Metric]:
        return []  # described at collect time: the label sets depend on the stores

    def collect(self) -> Iterable[Metric]:
        config = self._metrics.config_store
        pairs = {pair.key: pair for pair in config.pairs.list()}
        self._forget_pairs(set(pairs))
        yield from self._attempt_families(countries={pair.country for pair in pairs.values()})

        status = {record.name: record for record in config.session_status.list()}
        up = GaugeMetricFamily(
            "smsfleet_session_up", "1 when the session's program is running, else 0", labels=SESSION
        )
        # Only the supervisor's own restarts: the crash alert must not fire on a person's.
        restarts = CounterMetricFamily(
            "smsfleet_session_restarts",
            "Restarts of the session by the supervisor after an exit, a hang or a failed start",
            labels=SESSION,
        )
        requested_restarts = CounterMetricFamily(
            "smsfleet_session_requested_restarts",
            "Restarts of the session people asked for, or a change of its program, once carried"
            " out",
            labels=SESSION,
        )
        # Alert rules tell a crashed session from one stopped on purpose by this: a
        # session of a paused or disabled pair is stopped on purpose, whatever its own wish.
        wanted = GaugeMetricFamily(
            "smsfleet_session_desired_running",
            "1 when the session should run: people or the policy want it running and its "
            "pair runs sessions (enabled or probing, not paused or disabled), else 0",
            labels=SESSION,
        )
        for spec in config.session_specs.list():
            pair = pairs.get(spec.pair)
            if pair is None:
                continue
            labels = [spec.name, spec.pair, spec.program, pair.country]
            seen = status.get(spec.name)
            running = seen is not None and seen.state is SessionState.running
            up.add_metric(labels, 1.0 if running else 0.0)
            restarts.add_metric(labels, float(seen.restarts if seen else 0))
            requested_restarts.add_metric(labels, float(seen.requested_restarts if seen else 0))
            wanted.add_metric(labels, 1.0 if spec.should_run(pair) else 0.0)
        yield up
        yield restarts
        yield requested_restarts
        yield wanted

        ratio = GaugeMetricFamily(
            "smsfleet_pair_success_ratio",
            "Delivered / completed attempts of the pair over the last 30 minutes",
            labels=("country", "pair"),
        )
        for key, tally in sorted(self._metrics.recent_by(GroupBy.pair, SUCCESS_WINDOW).items()):
            if key in pairs and tally.completed:
                ratio.add_metric([pairs[key].country, key], tally.delivered / tally.completed)
        yield ratio

        rate = GaugeMetricFamily(
            "smsfleet_country_send_rate",
            "Sends granted per minute in the country over the last 5 minutes (since the "
            "process started, when shorter, but at least a minute), what its cap counts "
            "(their reports come later and unevenly: a rate of them could read above the cap)",
            labels=("country",),
        )
        cap = GaugeMetricFamily(
            "smsfleet_country_send_cap",
            "The country's cap in SMS per minute, both the ceiling and the target",
            labels=("country",),
        )
        # Grants and time counted over the same span: before RATE_WINDOW has passed since
        # the start, over the time since (a full window would read a fraction of the rate).
        now = self._metrics.clock.now()
        window = min(RATE_WINDOW, max(now - self._started, MIN_RATE_WINDOW))
        granted = self._metrics.grants_by_country(since=now - window)
        minutes = window / timedelta(minutes=1)
        for country in sorted({pair.country for pair in pairs.values()}):
            rate.add_metric([country], granted.get(country, 0) / minutes)
            record = config.countries.get(country)
            if record is not None:
                cap.add_metric([country], float(record.cap))
        yield rate
        yield cap

    def _attempt_families(self, *, countries: set[str]) -> Iterable[Metric]:
        grants = CounterMetricFamily(
            "smsfleet_dispatch_grants",
            "Sends granted by the per-country limiter, counted when granted: at most the "
            "country's cap in any minute (increase() extrapolates to its window's edges, "
            "so it may read a little over)",
            labels=("country",),
        )
        sent = CounterMetricFamily(
            "smsfleet_sms_sent",
            "SMS triggered at the provider (delivered, not delivered, or broken off after "
            "reaching it), counted when the outcome is reported (seconds to minutes after "
            "the grant)",
            labels=ROUTE,
        )
        delivered = CounterMetricFamily(
            "smsfleet_sms_delivered", "SMS confirmed delivered", labels=ROUTE
        )
        failed = CounterMetricFamily(
            "smsfleet_sms_failed",
            "Attempts that never triggered an SMS, by reason (send_failed, error)",
            labels=(*ROUTE, "reason"),
        )
        broken_off = CounterMetricFamily(
            "smsfleet_sms_broken_off",
            "Attempts broken off by a stop, a kill or a lost lease, or given up unsent too late "
            "after their grant: neither delivered nor "
            "failed, so left out of success ratios",
            labels=ROUTE,
        )
        broken_off_sent = CounterMetricFamily(
            "smsfleet_sms_broken_off_sent",
            "Attempts broken off after their SMS reached the provider: counted in "
            "smsfleet_sms_sent and smsfleet_sms_broken_off, so a success ratio takes them "
            "off the sent",
            labels=ROUTE,
        )
        latency = HistogramMetricFamily(
            "smsfleet_sms_delivery_seconds",
            "Delivery latency of delivered SMS (sent to delivered)",
            labels=ROUTE,
        )
        with self._lock:
            # From 0 for every country with pairs, so `increase()` counts the first grant.
            for country in sorted(countries | set(self._grants)):
                grants.add_metric([country], float(self._grants.get(country, 0)))
            for route, count in sorted(self._sent.items()):
                sent.add_metric(list(route), float(count))
            for route, count in sorted(self._delivered.items()):
                delivered.add_metric(list(route), float(count))
            for key, count in sorted(self._failed.items()):
                failed.add_metric(list(key), float(count))
            for route, count in sorted(self._broken_off.items()):
                broken_off.add_metric(list(route), float(count))
            for route, count in sorted(self._broken_off_sent.items()):
                broken_off_sent.add_metric(list(route), float(count))
            for route, histogram in sorted(self._latency.items()):
                latency.add_metric(list(route), histogram.buckets(), histogram.total)
        yield from (grants, sent, delivered, failed, broken_off, broken_off_sent, latency)


# Renders of one format start at least this far apart: at 32 scrapers in a loop, reading
# the stores takes a few tenths of a core, not every thread the sync routes share.
EXPOSITION_SPACING = 0.5


class Exposition:
    """`/metrics` answered by one render at a time for any number of scrapers.

    A scrape is answered by the first render of its format that starts after it arrived,
    so it never reads figures from before it asked (a test reading right after an action
    sees it); renders start at least `spacing` seconds apart, and those waiting for one
    wait on the event loop, holding no thread; one thread renders, every format in turn."""

    def __init__(self, registry: CollectorRegistry, *, spacing: float = EXPOSITION_SPACING) -> None:
        self._registry = registry
        self._spacing = spacing
        self._formats: dict[str, _Renders] = {}  # by content type: a handful (`_spoken`)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = anyio.CapacityLimiter(1)  # every format's renders, one at a time

    async def answer(self, accept: str | None) -> tuple[bytes, str]:
        """The body and content type `accept` asks for, rendered after this call began."""
        encoder, content_type = choose_encoder(_spoken(accept or ""))
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a lock waits on the loop it was first awaited in
            self._loop, self._formats = loop, {}
            self._thread = anyio.CapacityLimiter(1)
        renders = self._formats.setdefault(content_type, _Renders())
        wanted = renders.started + 1
        async with renders.lock:
            if renders.finished < wanted:
                # On the loop's own clock, the one its sleep is measured on.
                await asyncio.sleep(renders.last_start + self._spacing - loop.time())
                renders.started += 1
                renders.last_start = loop.time()
                renders.body = await anyio.to_thread.run_sync(
                    encoder, self._registry, limiter=self._thread
                )
                renders.finished = renders.started
            return renders.body, content_type


# The versions of each format the client library writes. An Accept part asking for
# another is left out (as one the server does not speak): the formats, and so their
# renders, stay a handful whatever a scrape asks, and a version it cannot read (`1.x`)
# is no error.
_VERSIONS = {
    "application/openmetrics-text": frozenset({"1.0.0", "2.0.0"}),
    "text/plain": frozenset({"0.0.4", "1.0.0"}),
}


def _spoken(accept: str) -> str:
    """`accept` without the parts that ask for a version `_VERSIONS` does not hold, read
    as `choose_encoder` reads them (the first `version=` of a part)."""
    kept = []
    for part in accept.split(","):
        tokens = part.split(";")
        versions = _VERSIONS.get(tokens[0].strip())
        pairs = (token.strip().split("=", 1) for token in tokens if "=" in token)
        asked = next((value for key, value in pairs if key == "version"), "")
        if versions is None or not asked or asked in versions:
            kept.append(part)
    return ",".join(kept)


@dataclass
class _Renders:
    """One format's renders: how many started and finished, and the last one's body."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    started: int = 0
    finished: int = 0
    last_start: float = -math.inf
    body: bytes = b""
