"""The country-under-target alert counts sends granted, as the dispatcher's goals and the
Prometheus alert do: codes still awaited (a slow route) are sends made, not a shortfall."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smsfleet.alerts.models import AlertQuery, AlertRule, AlertState
from smsfleet.attempts.models import Attempt, Outcome
from smsfleet.attempts.store import AttemptStore
from smsfleet.audit.models import Actor
from smsfleet.auth.models import Role
from smsfleet.pairs.models import Country, CountryUpdate
from smsfleet.pairs.service import update_country
from smsfleet.sessions.models import DesiredState, SessionSpec, SessionState, SessionStatus
from tests.support.alerting import Alerting
from tests.support.services import alert_service

PAIR = "UZ_uzmobile"
SESSION = f"program1_{PAIR}"
WINDOW_MINUTES = 10  # the rule's window (AlertConfig.country_window)
CAP = 10  # UZ's cap a minute: a target of 100 sends in the window, alerting under 50


def _running_the_whole_window(alerting: Alerting, *, pair_changed_minutes_ago: float = 60) -> None:
    now = alerting.clock.now()
    pair = alerting.config_store.pairs.get(PAIR)
    assert pair is not None
    changed = now - timedelta(minutes=pair_changed_minutes_ago)
    alerting.config_store.pairs.replace(pair.model_copy(update={"state_changed_at": changed}))
    alerting.config_store.session_specs.add(
        SessionSpec(
            name=SESSION,
            program="program1",
            pair=PAIR,
            desired=DesiredState.running,
            created_at=now - timedelta(minutes=WINDOW_MINUTES + 1),
        )
    )
    alerting.config_store.session_status.add(
        SessionStatus(
            name=SESSION,
            state=SessionState.running,
            started_at=now - timedelta(minutes=WINDOW_MINUTES + 1),
            updated_at=now,
        )
    )


def _leased(alerting: Alerting, count: int, *, completed: int) -> None:
    """`count` sends over the window; the first `completed` of them have their outcome."""
    now = alerting.clock.now()
    spacing = timedelta(minutes=WINDOW_MINUTES) / (count + 1)
    attempts = []
    for index in range(count):
        leased_at = now - timedelta(minutes=WINDOW_MINUTES) + spacing * (index + 1)
        done = index < completed
        attempts.append(
            Attempt(
                id=f"{index:032x}",
                session=SESSION,
                pair=PAIR,
                country="UZ",
                operator="uzmobile",
                program="program1",
                phone="+998901234567",
                leased_at=leased_at,
                completed_at=leased_at + timedelta(seconds=1) if done else None,
                outcome=Outcome.delivered if done else None,
            )
        )
    AttemptStore(alerting.engine).add_many(attempts)


@pytest.mark.parametrize(
    ("granted", "completed", "alerts"),
    [
        (60, 0, False),  # every code still awaited: 60 sends made, over half the target
        (60, 60, False),
        (40, 40, True),
        (40, 0, True),
    ],
)
def test_a_country_is_under_target_by_the_sends_it_was_granted(
    alerting: Alerting, granted: int, completed: int, alerts: bool
) -> None:
    country = alerting.config_store.countries.get("UZ")
    assert country is not None and country.cap == CAP
    _running_the_whole_window(alerting)
    _leased(alerting, granted, completed=completed)
    alerting.service.evaluate()
    found = alerting.service.find(AlertQuery(rule=AlertRule.country_under_target))
    assert [alert.subject for alert in found] == (["UZ"] if alerts else [])
    if alerts:
        assert found[0].summary.startswith(f"UZ: {granted} sends in the last 10 min"), found


def test_a_pair_resumed_within_the_window_is_not_held_to_the_whole_of_it(
    alerting: Alerting,
) -> None:
    """Its sessions ran through its probing, at one send per probe interval on purpose:
    the window's shortfall is the policy's own, not the country's."""
    _running_the_whole_window(alerting, pair_changed_minutes_ago=WINDOW_MINUTES / 2)
    _leased(alerting, 12, completed=12)
    alerting.service.evaluate()
    assert alerting.service.find(AlertQuery(rule=AlertRule.country_under_target)) == []
    alerting.clock.advance(WINDOW_MINUTES * 60)  # a whole window since: held to it again
    alerting.service.evaluate()
    found = alerting.service.find(AlertQuery(rule=AlertRule.country_under_target))
    assert [alert.subject for alert in found] == ["UZ"]


def test_a_cap_raised_within_the_window_is_not_held_against_the_whole_of_it(
    alerting: Alerting,
) -> None:
    """The operator's case: TJ at 5 a minute for 13 min, then raised to 10: its 49 sends of
    the last 10 min were measured against 100 and alerted at once."""
    countries, audit = alerting.config_store.countries, alerting.config_store.audit
    person = Actor(username="alice", role=Role.admin)

    def set_cap(cap: int) -> Country:
        return update_country(
            countries=countries,
            audit=audit,
            clock=alerting.clock,
            actor=person,
            code="UZ",
            data=CountryUpdate(cap=cap),
            confirm_above=60,
        )

    set_cap(5)
    alerting.clock.advance(13 * 60)
    raised_at = alerting.clock.now()
    raised = set_cap(CAP)
    assert (raised.cap, raised.previous_cap, raised.cap_changed_at) == (CAP, 5, raised_at)
    alerting.clock.advance(60)
    _running_the_whole_window(alerting)
    _leased(alerting, 49, completed=49)
    alerting.service.evaluate()
    assert alerting.service.find(AlertQuery(rule=AlertRule.country_under_target)) == []
    alerting.clock.advance(WINDOW_MINUTES * 60)  # a whole window at the new cap: held to it
    alerting.service.evaluate()
    found = alerting.service.find(AlertQuery(rule=AlertRule.country_under_target))
    assert [alert.subject for alert in found] == ["UZ"]


def test_an_open_alert_says_what_holds_the_country_back_now_until_it_resolves(
    alerting: Alerting,
) -> None:
    """The demo's case: UZ's alert kept saying its pair was probed after a pause, long
    after it had resumed. Not seen any more, it waits the hold time to resolve, and says
    meanwhile where the country stands, not where it stood."""
    probed = (
        "UZ_uzmobile is probed after a pause by the policy: at most one send per probe interval"
    )
    reasons = {"UZ": probed}
    service = alert_service(
        alerting.engine,
        alerting.config_store,
        alerting.clock,
        store=alerting.store,
        config=alerting.service.config,
        country_reasons=lambda: reasons,
    )
    _running_the_whole_window(alerting)
    _leased(alerting, 40, completed=40)
    (opened,) = service.evaluate()
    assert (
        opened.summary
        == f"UZ: 40 sends in the last 10 min against a target of 100 (10/min): {probed}"
    )
    # The pair resumed just now: the country is no longer judged on this window, and the
    # goals name no probing pair any more.
    pair = alerting.config_store.pairs.get(PAIR)
    assert pair is not None
    resumed_at = alerting.clock.now()
    alerting.config_store.pairs.replace(pair.model_copy(update={"state_changed_at": resumed_at}))
    reasons.clear()
    alerting.clock.advance(60)
    (refreshed,) = service.evaluate()
    assert refreshed.id == opened.id and refreshed.state is AlertState.firing
    # Its figures are today's too: a minute on, 4 of the 40 sends are out of the window.
    assert refreshed.summary == "UZ: 36 sends in the last 10 min against a target of 100 (10/min)"
    assert refreshed.details["reason"] is None
    assert refreshed.last_seen_at == opened.last_seen_at  # not seen: it resolves on time
    assert len(alerting.texts("all")) == 1  # and no news to send
    assert service.evaluate() == []  # nothing changed since
    alerting.clock.advance(service.config.hold.total_seconds())
    (resolved,) = service.evaluate()
    assert resolved.state is AlertState.resolved
