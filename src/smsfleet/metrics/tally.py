"""Tallies: the counters of completed attempts, added up across minutes, hours and raw rows.

`completed` counts the attempts that judge a route; those broken off
(`smsfleet.attempts.models.BROKEN_OFF_CODES`) are counted apart, in `broken_off`, and
those of them whose SMS had reached the gateway also in `broken_off_sent`, which `sent`
counts.
`granted` counts the attempts leased, by lease time rather than completion: what each
country's cap counts, whether or not the attempt was reported yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from smsfleet.core.quantiles import Bins, add_bins
from smsfleet.metrics.tables import HISTOGRAM_COLUMNS, HISTOGRAM_SIZE, OUTCOME_COLUMNS

GroupKey = tuple[str, ...]
BucketedKey = tuple[int | None, GroupKey]


@dataclass
class Tally:
    """Counters of completed attempts; adds up across minutes, hours and raw rows."""

    delivered: int = 0
    not_delivered: int = 0
    send_failed: int = 0
    error: int = 0
    broken_off: int = 0
    # Of `broken_off`, those whose SMS had reached the gateway (`sent_at` set).
    broken_off_sent: int = 0
    granted: int = 0
    latency_sum_ms: int = 0
    latency_count: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_SIZE)
    # Delivered attempts by fine latency bin (`smsfleet.core.quantiles`).
    bins: Bins = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return self.delivered + self.not_delivered + self.send_failed + self.error

    @property
    def sent(self) -> int:
        """Attempts whose SMS was triggered at the provider, broken off or not."""
        return self.delivered + self.not_delivered + self.broken_off_sent

    @property
    def failed(self) -> int:
        """Completed attempts whose SMS was never triggered."""
        return self.send_failed + self.error

    def add(self, other: Tally) -> None:
        self.delivered += other.delivered
        self.not_delivered += other.not_delivered
        self.send_failed += other.send_failed
        self.error += other.error
        self.broken_off += other.broken_off
        self.broken_off_sent += other.broken_off_sent
        self.granted += other.granted
        self.latency_sum_ms += other.latency_sum_ms
        self.latency_count += other.latency_count
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]
        add_bins(self.bins, other.bins)

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> Tally:
        """From the counter columns in `COUNTER_COLUMNS` order (SQL sums may be Decimal)."""
        numbers = [int(value or 0) for value in values]
        delivered, not_delivered, send_failed, error, broken_off, broken_off_sent = numbers[:6]
        granted, latency_sum, count = numbers[6:9]
        return cls(
            delivered,
            not_delivered,
            send_failed,
            error,
            broken_off,
            broken_off_sent,
            granted,
            latency_sum,
            count,
            numbers[9:],
        )

    def values(self) -> dict[str, int]:
        row = dict(
            zip(
                OUTCOME_COLUMNS,
                (self.delivered, self.not_delivered, self.send_failed, self.error),
                strict=True,
            )
        )
        row["broken_off"] = self.broken_off
        row["broken_off_sent"] = self.broken_off_sent
        row["granted"] = self.granted
        row["latency_sum_ms"] = self.latency_sum_ms
        row["latency_count"] = self.latency_count
        row.update(zip(HISTOGRAM_COLUMNS, self.histogram, strict=True))
        return row


def merge(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total
