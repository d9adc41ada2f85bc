"""The metrics store's `policy_decisions` table."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smsfleet.core.sql import DateTimeColumn, delete_oldest, metrics_metadata, naive_utc
from smsfleet.policy.models import DecisionQuery, PolicyAction, PolicyDecision

__all__ = ["PolicyStore", "policy_decisions_table"]

# What a window groups attempts by.

policy_decisions_table = sa.Table(
    "policy_decisions",
    metrics_metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("at", DateTimeColumn, nullable=False),
    sa.Column("pair", sa.String(40), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(512), nullable=False),
    # The figures: none for a decision taken on none (probing).
    sa.Column("lower_bound", sa.Double),
    sa.Column("upper_bound", sa.Double),
    sa.Column("decided_on", sa.String(16)),
    sa.Column("success_ratio", sa.Double),
    sa.Column("samples", sa.Integer),
    sa.Column("delivered", sa.Integer),
    sa.Column("pause_threshold", sa.Double, nullable=False),
    sa.Column("resume_threshold", sa.Double, nullable=False),
    sa.Column("window", sa.String(64)),
    sa.Column("cooldown_seconds", sa.Double),
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

    def forget_before(self, at: datetime, *, limit: int) -> int:
        """Remove, in one write, the `limit` oldest decisions from before `at` but a pair's
        latest and its latest pause, which the policy reads however old (`latest_actions`,
        `latest_pauses`): how many were removed."""
        table = policy_decisions_table
        later = table.alias("later")
        later_pause = table.alias("later_pause")

        def after(newer: sa.FromClause) -> sa.ColumnElement[bool]:
            return sa.and_(
                newer.c.pair == table.c.pair,
                sa.or_(
                    newer.c.at > table.c.at,
                    sa.and_(newer.c.at == table.c.at, newer.c.id > table.c.id),
                ),
            )

        paused = PolicyAction.paused.value
        superseded = sa.and_(
            sa.exists().where(after(later)),
            sa.or_(
                table.c.action != paused,
                sa.exists().where(after(later_pause), later_pause.c.action == paused),
            ),
        )
        return delete_oldest(
            self._engine, table, moment=table.c.at, before=at, limit=limit, where=superseded
        )

    def latest_actions(self, pairs: Collection[str]) -> dict[str, PolicyAction]:
        """The action of each pair's latest decision (pairs without one are left out)."""
        rows = self._latest(pairs, policy_decisions_table.c.action)
        return {pair: PolicyAction(action) for pair, action in rows}

    def latest_decisions(self, pairs: Collection[str]) -> dict[str, PolicyDecision]:
        """Each pair's latest decision (pairs without one are left out): a `held` one is
        the hold's start, since the looks after it take no decision until it recovers."""
        return self._latest_decisions(pairs)

    def latest_pauses(self, pairs: Collection[str]) -> dict[str, PolicyDecision]:
        """Each pair's latest pause with the figures it was taken on (pairs without one
        are left out)."""
        return self._latest_decisions(
            pairs, where=policy_decisions_table.c.action == PolicyAction.paused.value
        )

    def _latest_decisions(
        self, pairs: Collection[str], *, where: sa.ColumnElement[bool] | None = None
    ) -> dict[str, PolicyDecision]:
        """Each pair's latest decision (matching `where`)."""
        if not pairs:
            return {}
        table = policy_decisions_table
        ranked = _ranked(pairs, *table.columns, where=where)
        select = sa.select(*(ranked.c[column.name] for column in table.columns)).where(
            ranked.c.rank == 1
        )
        with self._engine.connect() as connection:
            rows = connection.execute(select).mappings().all()
        decisions = (PolicyDecision.model_validate(dict(row)) for row in rows)
        return {decision.pair: decision for decision in decisions}

    def _latest(
        self,
        pairs: Collection[str],
        column: sa.ColumnElement[Any],
        *,
        where: sa.ColumnElement[bool] | None = None,
    ) -> list[tuple[str, Any]]:
        """`column` of each pair's latest decision (matching `where`)."""
        if not pairs:
            return []
        ranked = _ranked(pairs, policy_decisions_table.c.pair, column.label("value"), where=where)
        select = sa.select(ranked.c.pair, ranked.c.value).where(ranked.c.rank == 1)
        with self._engine.connect() as connection:
            return [(pair, value) for pair, value in connection.execute(select).all()]


def _ranked(
    pairs: Collection[str],
    *columns: sa.ColumnElement[Any],
    where: sa.ColumnElement[bool] | None,
) -> sa.Subquery:
    """`columns` of `pairs`' decisions (matching `where`), each ranked by its pair's newest
    first (`rank`, 1 the latest)."""
    table = policy_decisions_table
    select = sa.select(
        *columns,
        sa.func.row_number()
        .over(partition_by=table.c.pair, order_by=(table.c.at.desc(), table.c.id.desc()))
        .label("rank"),
    ).where(table.c.pair.in_(list(pairs)))
    if where is not None:
        select = select.where(where)
    return select.subquery()
