"""The metrics suite's `Fleet` (its fixture in tests/integration/metrics/conftest.py):
`Metrics` on a fake clock with the pairs and programs of `PAIRS`, and attempts to feed it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.metrics.models import AttemptSummary
from smsfleet.metrics.runtime import Metrics
from smsfleet.pairs.models import Country, Pair
from smsfleet.programs.models import Program
from smsfleet.stores import ConfigStore
from tests.support.fakes import FakeClock

# pair key → programs assigned to it
PAIRS: dict[str, tuple[str, ...]] = {
    "UZ_uzmobile": ("program1", "program2"),
    "UZ_beeline": ("program1",),
    "TJ_megafon": ("program2",),
}
PROGRAMS = ("program1", "program2")


@dataclass
class Fleet:
    metrics: Metrics
    clock: FakeClock
    config: ConfigStore
    published: list[AttemptSummary] = field(default_factory=list)
    counter: int = 0

    def attempt(
        self,
        pair: str,
        program: str,
        outcome: Outcome,
        at: datetime,
        *,
        latency_ms: int | None = None,
        error_code: str | None = None,
        leased_before: timedelta = timedelta(seconds=30),
    ) -> Attempt:
        self.counter += 1
        country, slug = pair.split("_", 1)
        return Attempt(
            id=f"{self.counter:032x}",
            session=f"{program}_{pair}",
            pair=pair,
            country=country,
            operator=slug,
            program=program,
            phone="+998901234567",
            leased_at=at - leased_before,
            sent_at=at - leased_before / 2,
            completed_at=at,
            outcome=outcome,
            latency_ms=latency_ms,
            error_code=error_code,
        )

    def random_attempts(self, count: int, *, start: datetime, span: timedelta) -> list[Attempt]:
        """`count` attempts spread over [start, start + span), reproducible."""
        rng = random.Random(20260105)
        routes = [(pair, program) for pair, programs in PAIRS.items() for program in programs]
        result = []
        for _ in range(count):
            pair, program = rng.choice(routes)
            outcome = rng.choice(
                [Outcome.delivered] * 5
                + [Outcome.not_delivered, Outcome.send_failed, Outcome.error]
            )
            at = start + timedelta(
                milliseconds=rng.randrange(int(span / timedelta(milliseconds=1)))
            )
            latency = rng.randrange(100, 400_000) if outcome is Outcome.delivered else None
            code = rng.choice(["E_TIMEOUT", "E_GATEWAY"]) if outcome is Outcome.error else None
            # Reported up to 7 minutes after the lease: often in a later minute or hour.
            leased_before = timedelta(milliseconds=rng.randrange(1, 420_000))
            result.append(
                self.attempt(
                    pair,
                    program,
                    outcome,
                    at,
                    latency_ms=latency,
                    error_code=code,
                    leased_before=leased_before,
                )
            )
        return result


def add_pairs(store: ConfigStore, now: datetime) -> None:
    for code, name in (("UZ", "Uzbekistan"), ("TJ", "Tajikistan")):
        store.countries.add(Country(code=code, name=name, cap=10))
    for name in PROGRAMS:
        store.programs.add(Program(name=name, command=["true"], created_at=now, updated_at=now))
    for key, programs in PAIRS.items():
        country, slug = key.split("_", 1)
        store.pairs.add(
            Pair(
                key=key,
                country=country,
                operator=slug,
                slug=slug,
                programs=list(programs),
                phone_numbers=["+998901234567"],
                created_at=now,
                updated_at=now,
            )
        )
