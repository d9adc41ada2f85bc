"""The metrics store's `policy_decisions` table and the window query over attempts."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.sql import DateTimeColumn, metrics_metadata, naive_utc
from smsfleet.dispatch.models import Outcome
from smsfleet.dispatch.store import attempts_table
from smsfleet.pairs.models import Pair
from smsfleet.policy.models import DecisionQuery, PolicyAction, PolicyDecision
from smsfleet.policy.stats import Window, WindowStats

__all__ = ["PolicyStore", "WindowSubject", "policy_decisions_table"]

# What a window groups attempts by.
WindowSubject = Literal["pair", "country", "program"]

policy_decisions_table = sa.Table(
    "policy_decisions",
    metrics_metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False),
    sa.Column("pair", sa.String(40), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(512), nullable=False),
    sa.Column("lower_bound", sa.Double, nullable=False),
    sa.Column("success_ratio", sa.Double),
    sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("delivered", sa.Integer, nullable=False),
    sa.Column("pause_threshold", sa.Double, nullable=False),
    sa.Column("resume_threshold", sa.Double, nullable=False),
    sa.Column("window", sa.String(64), nullable=False),
    sa.Index("ix_policy_decisions_at", "at"),
    sa.Index("ix_policy_decisions_pair_at", "pair", "at"),
    sa.Index("ix_policy_decisions_country_at", "country", "at"),
)


class PolicyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- decisions ---------------------------------------------------------------

    def add(self, decision: PolicyDecision) -> None:
        values: dict[str, Any] = decision.model_dump()
        values["at"] = naive_utc(decision.at)
        with self._engine.begin() as connection:
            connection.execute(sa.insert(policy_decisions_table).values(**values))

    def decisions(self, query: DecisionQuery) -> list[PolicyDecision]:
        """Decisions matching the filters, newest first."""
        table = policy_decisions_table
        select = sa.select(table)
        if query.pair is not None:
            select = select.where(table.c.pair == query.pair)
        if query.country is not None:
            select = select.where(table.c.country == query.country.upper())
        if query.action is not None:
            select = select.where(table.c.action == query.action.value)
        if query.since is not None:
            select = select.where(table.c.at >= naive_utc(query.since))
        select = select.order_by(table.c.at.desc(), table.c.id.desc()).limit(query.limit)
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
        return [PolicyDecision.model_validate(dict(row)) for row in rows]

    def latest_actions(self, pairs: Collection[str]) -> dict[str, PolicyAction]:
        """The action of each pair's latest decision (pairs without one are left out)."""
        if not pairs:
            return {}
        table = policy_decisions_table
        ranked = (
            sa.select(
                table.c.pair,
                table.c.action,
                sa.func.row_number()
                .over(partition_by=table.c.pair, order_by=(table.c.at.desc(), table.c.id.desc()))
                .label("rank"),
            )
            .where(table.c.pair.in_(list(pairs)))
            .subquery()
        )
        select = sa.select(ranked.c.pair, ranked.c.action).where(ranked.c.rank == 1)
        with self._engine.connect() as connection:
            rows = connection.execute(select).all()
        return {pair: PolicyAction(action) for pair, action in rows}

    # --- windows over attempts ---------------------------------------------------------

    def window_stats(
        self,
        *,
        window: Window,
        now: datetime,
        by: WindowSubject = "pair",
        keys: Collection[str] | None = None,
        since: datetime | None = None,
    ) -> dict[str, WindowStats]:
        """Completed attempts per subject in `window` ending at `now`.

        Per subject: those completed in (now - span, now], at most the newest
        `max_attempts` of them; `since` starts the window later still (e.g. at a
        pair's last state change). Subjects without any are left out.
        """
        attempts = attempts_table.c
        start = window.since(now) if since is None else max(window.since(now), since)
        subject = attempts[by]
        ranked = sa.select(
            subject.label("subject"),
            sa.case((attempts.outcome == Outcome.delivered.value, 1), else_=0).label("ok"),
            sa.func.row_number()
            .over(partition_by=subject, order_by=(attempts.completed_at.desc(), attempts.id))
            .label("rank"),
        ).where(
            attempts.completed_at > naive_utc(start),
            attempts.completed_at <= naive_utc(now),
            attempts.outcome.is_not(None),
        )
        if keys is not None:
            if not keys:
                return {}
            ranked = ranked.where(subject.in_(list(keys)))
        counted = ranked.subquery()
        select = (
            sa.select(counted.c.subject, sa.func.count(), sa.func.sum(counted.c.ok))
            .where(counted.c.rank <= window.max_attempts)
            .group_by(counted.c.subject)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(select).all()
        return {
            key: WindowStats(samples=int(samples), delivered=int(delivered or 0))
            for key, samples, delivered in rows
        }

    def pair_window_stats(
        self, *, pairs: Collection[Pair], window: Window, now: datetime
    ) -> dict[str, WindowStats]:
        """Each pair's window, from its last state change when that falls within it.

        So a probe is judged on what it sent, and a resumed pair on what it sent since.
        """
        stats = self.window_stats(window=window, now=now)
        for pair in pairs:
            changed_at = pair.state_changed_at
            if changed_at is not None and changed_at > window.since(now):
                own = self.window_stats(window=window, now=now, keys=[pair.key], since=changed_at)
                stats[pair.key] = own.get(pair.key, WindowStats(samples=0, delivered=0))
        return stats
