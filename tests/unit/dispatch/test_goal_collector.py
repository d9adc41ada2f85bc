"""Countries under their goal in the Prometheus exposition, by the kind of reason."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from smsfleet.dispatch.goals import CountryGoal, ReasonKind
from smsfleet.dispatch.prometheus import GoalCollector


def _goal(country: str, kind: ReasonKind | None) -> CountryGoal:
    return CountryGoal(
        country=country,
        goal_per_minute=10,
        achieved_per_minute=10.0 if kind is None else 4.0,
        window_seconds=120,
        on_goal=kind is None,
        reason=None if kind is None else f"{kind.words}, with {country}'s own figures",
        reason_kind=kind,
        sessions_wanted=1,
        sessions_running=1,
        pairs_paused=[],
        in_flight_limit=2,
        test_numbers=3,
        cycle_seconds=20.0,
        capacity_per_minute=6.0,
        refused=0,
        awaiting_code=0,
    )


def test_only_countries_under_their_goal_are_shown_with_bounded_labels() -> None:
    goals = [
        _goal("IN", None),
        _goal("TJ", ReasonKind.in_flight_limit),
        _goal("UZ", ReasonKind.refused),
    ]
    registry = CollectorRegistry(auto_describe=False)
    GoalCollector(goals=lambda: goals, registry=registry)
    [family] = text_string_to_metric_families(generate_latest(registry).decode())
    assert family.name == "smsfleet_country_goal_short"
    assert all(kind.value in family.documentation for kind in ReasonKind)
    assert [(sample.labels, sample.value) for sample in family.samples] == [
        (
            {
                "country": "TJ",
                "reason_kind": "in_flight_limit",
                "reason": ReasonKind.in_flight_limit.words,
            },
            1.0,
        ),
        ({"country": "UZ", "reason_kind": "refused", "reason": ReasonKind.refused.words}, 1.0),
    ]
