"""Where the dispatch suite's limiters keep their state (its fixture `limiter_backend` in
tests/integration/dispatch/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from smsfleet.core.clock import Clock
from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
from smsfleet.dispatch._redis_limiter import RedisLimiter
from smsfleet.dispatch._sql_limiter import SqlLimiter
from smsfleet.dispatch.limiter import Limiter


@dataclass
class LimiterBackend:
    """Where a test's limiters keep their state; `make` builds one more on it."""

    name: str
    url: str
    redis_prefix: str = ""
    _engines: list[Engine] = field(default_factory=list)
    _limiters: list[Limiter] = field(default_factory=list)

    def make(self, clock: Clock) -> Limiter:
        limiter: Limiter
        if self.name == "redis":
            limiter = RedisLimiter.from_url(self.url, clock=clock, prefix=self.redis_prefix)
        else:
            engine = create_sql_engine(self.url)
            self._engines.append(engine)
            limiter = SqlLimiter(engine, clock=clock)
        self._limiters.append(limiter)
        return limiter

    def close(self) -> None:
        for limiter in self._limiters:
            limiter.close()
        for engine in self._engines:
            engine.dispose()


def migrated_sql_url(url: str) -> str:
    engine = create_sql_engine(url)
    try:
        upgrade_metrics_schema(engine)
    finally:
        engine.dispose()
    return url
