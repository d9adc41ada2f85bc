"""What would stop a high-priority pair's sessions takes an admin and force, and is audited."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from smsfleet.auth.models import Role
from tests.security.test_programs_trust import api_key, audit
from tests.support.api import running_api
from tests.support.fakes import FakeClock
from tests.support.programs import TICKING, install_program
from tests.support.security import HP_PAIR, HP_SESSION, Live, running
from tests.support.waiting import eventually


def test_an_operator_cannot_stop_a_high_priority_pair_by_changing_it(live: Live) -> None:
    api, operator = live.api, live.headers(Role.operator)
    before = api.store.pairs.get(HP_PAIR)
    pid = live.screens.status(HP_SESSION).program_pid  # type: ignore[union-attr]
    changes: list[dict[str, Any]] = [
        {"programs": []},
        {"state": "paused", "state_reason": "maintenance"},
        {"state": "disabled"},
        {"phone_numbers": []},  # its sessions would be held stopped until one is added
    ]
    for change in changes:
        for force in (False, True):
            response = api.client.patch(
                f"/api/v1/pairs/{HP_PAIR}", params={"force": force}, json=change, headers=operator
            )
            assert response.status_code == 403, (change, response.text)
            assert HP_PAIR in response.json()["error"]["message"]
    deleted = api.client.delete(f"/api/v1/pairs/{HP_PAIR}", headers=operator)
    assert deleted.status_code == 403, deleted.text
    seed = api.client.delete("/country-operator/IN/vi", headers=operator)
    assert seed.status_code == 403, seed.text
    assert api.store.pairs.get(HP_PAIR) == before
    time.sleep(1)  # ten supervisor ticks
    assert running(live, HP_SESSION)
    assert live.screens.status(HP_SESSION).program_pid == pid  # type: ignore[union-attr]
    # A change that stops nothing is an operator's to make.
    ok = api.client.patch(
        f"/api/v1/pairs/{HP_PAIR}", json={"region": "Maharashtra & Goa"}, headers=operator
    )
    assert ok.status_code == 200, ok.text
    # In the log: its creation, each refusal with its reason (once: the same refusal asked
    # again within the minute, with force or by the seed's route, is not written again),
    # and the operator's change.
    events = audit(api, target_kind="pair")
    assert [(event["action"], event["actor_role"], event["forced"]) for event in events] == [
        ("pair.updated", "operator", False),
        *[("pair.refused", "operator", False)] * (len(changes) + 1),
        ("pair.created", "admin", False),
    ]
    refusals = events[1:-1]
    assert all(event["target"] == HP_PAIR and event["after"] is None for event in refusals)
    assert before is not None
    assert all(event["before"] == before.model_dump(mode="json") for event in refusals)
    assert refusals[0]["reason"] == f"only an admin may delete the high-priority pair {HP_PAIR}"
    assert refusals[-1]["reason"] == (
        f"only an admin may remove ticker from the high-priority pair {HP_PAIR}"
    )


def test_an_admin_removes_a_high_priority_program_with_force_and_it_is_audited(
    live: Live,
) -> None:
    api, admin = live.api, live.headers()
    unforced = api.client.patch(f"/api/v1/pairs/{HP_PAIR}", json={"programs": []}, headers=admin)
    assert unforced.status_code == 409, unforced.text
    assert unforced.json()["error"]["code"] == "force_required"
    assert running(live, HP_SESSION)
    forced = api.client.patch(
        f"/api/v1/pairs/{HP_PAIR}", params={"force": True}, json={"programs": []}, headers=admin
    )
    assert forced.status_code == 200, forced.text
    eventually(lambda: live.screens.find(HP_SESSION) is None, timeout=15)
    (event,) = audit(api, target=HP_PAIR, action="pair.updated")
    assert event["forced"] is True
    assert event["actor"] == "admin" and event["actor_role"] == "admin"
    assert event["before"]["programs"] == ["ticker"] and event["after"]["programs"] == []


def test_an_admin_deletes_a_high_priority_pair_with_force_and_it_is_audited(live: Live) -> None:
    api, admin = live.api, live.headers()
    assert api.client.delete(f"/api/v1/pairs/{HP_PAIR}", headers=admin).status_code == 409
    deleted = api.client.delete(f"/api/v1/pairs/{HP_PAIR}", params={"force": True}, headers=admin)
    assert deleted.status_code == 204, deleted.text
    eventually(lambda: live.screens.find(HP_SESSION) is None, timeout=15)
    (event,) = audit(api, action="pair.deleted")
    assert event["target"] == HP_PAIR and event["forced"] and event["after"] is None


def test_a_forced_stop_of_a_high_priority_session_is_audited(live: Live) -> None:
    api = live.api
    stopped = api.client.post(
        f"/api/v1/sessions/{HP_SESSION}/stop",
        json={"force": True, "reason": "provider maintenance"},
        headers=live.headers(),
    )
    assert stopped.status_code == 200, stopped.text
    (event,) = audit(api, action="session.stopped")
    assert event["target"] == HP_SESSION and event["reason"] == "provider maintenance"


def test_only_an_admin_starts_again_a_high_priority_session_an_admin_stopped(
    live: Live,
) -> None:
    """Started again, it runs until an admin stops it once more: an operator undoing an
    admin's stop would commit the host to a program only an admin can stop."""
    api, url = live.api, f"/api/v1/sessions/{HP_SESSION}"
    stopped = api.client.post(f"{url}/stop", json={"force": True}, headers=live.headers())
    assert stopped.status_code == 200, stopped.text
    callers = {
        "operator": live.headers(Role.operator),
        "operator's control key": api_key(api, Role.operator, ["read", "control"]),
        "admin's control key": api_key(api, Role.admin, ["read", "control"]),
    }
    for who, headers in callers.items():
        for action in ("start", "restart"):
            refused = api.client.post(f"{url}/{action}", json={}, headers=headers)
            assert refused.status_code == 403, (who, action, refused.text)
            assert f"only an admin may {action} {HP_SESSION}" in refused.text
            (result,) = api.client.post(
                "/api/v1/sessions/actions",
                json={"action": action, "country": "IN"},
                headers=headers,
            ).json()
            assert result["ok"] is False, (who, action, result)
    assert api.store.session_specs.get(HP_SESSION).desired == "stopped"  # type: ignore[union-attr]
    assert audit(api, action="session.started") == []
    refusals = audit(api, action="session.refused")
    # A start and a restart, to each caller (a bulk start is the start by name refused
    # again, not written again within the minute); a bulk restart leaves a session
    # stopped on purpose as it is, and is refused nothing.
    assert [(e["actor"], e["api_key_id"] is not None) for e in refusals] == [
        *[("admin", True)] * 2,  # newest first: the admin's control key
        *[("operator", True)] * 2,
        *[("operator", False)] * 2,
    ]
    assert {e["reason"].split(":")[0] for e in refusals} == {
        f"only an admin may start {HP_SESSION}",
        f"only an admin may restart {HP_SESSION}",
    }
    started = api.client.post(f"{url}/start", json={}, headers=live.headers())
    assert started.status_code == 200, started.text
    assert started.json()["desired"] == "running"


def test_restarting_a_high_priority_session_takes_an_admin_and_force(live: Live) -> None:
    """A restart ends the program a while as a stop does: asked once a second, it would
    keep a high-priority pair from being tested at all."""
    api = live.api

    def program_pid() -> int | None:
        status = live.screens.status(HP_SESSION)  # none between a restart's two runners
        return status.program_pid if status else None

    pid = program_pid()
    assert pid is not None
    url = f"/api/v1/sessions/{HP_SESSION}/restart"
    bulk = {"action": "restart", "country": "IN"}
    callers = {
        "operator": live.headers(Role.operator),
        "operator's control key": api_key(api, Role.operator, ["read", "control"]),
        "admin's control key": api_key(api, Role.admin, ["read", "control"]),
    }
    for who, headers in callers.items():
        for force in (False, True):
            refused = api.client.post(url, json={"force": force}, headers=headers)
            assert refused.status_code == 403, (who, refused.text)
            (result,) = api.client.post(
                "/api/v1/sessions/actions", json={**bulk, "force": force}, headers=headers
            ).json()
            assert result["ok"] is False, (who, result)
            assert f"only an admin may restart {HP_SESSION}" in result["error"]
    admin = live.headers()
    unforced = api.client.post(url, headers=admin)
    assert unforced.status_code == 409, unforced.text
    assert unforced.json()["error"]["code"] == "force_required"
    (result,) = api.client.post("/api/v1/sessions/actions", json=bulk, headers=admin).json()
    assert result["ok"] is False and "repeat with force" in result["error"]
    time.sleep(1)  # ten supervisor ticks
    assert program_pid() == pid
    assert audit(api, action="session.restarted") == []

    forced = api.client.post(url, json={"force": True, "reason": "new build"}, headers=admin)
    assert forced.status_code == 200, forced.text
    eventually(lambda: program_pid() not in (None, pid), timeout=15)
    (event,) = audit(api, action="session.restarted")
    assert event["forced"] is True and event["reason"] == "new build"


def test_moving_a_high_priority_pair_to_another_host_takes_an_admin_and_force(
    tmp_path: Path,
) -> None:
    edge = {"ssh": "ops@192.0.2.1"}
    with running_api(tmp_path, hosts={"edge1": edge}) as api:
        admin, operator = api.headers(Role.admin), api.headers(Role.operator)
        command = install_program(api.settings.program_dirs[-1], "ticker", TICKING)
        assert (
            api.client.post(
                "/api/v1/programs", json={"name": "ticker", "command": command}, headers=admin
            ).status_code
            == 201
        )
        pair: dict[str, Any] = {"country": "IN", "operator": "Vi", "slug": "vi"}
        pair["is_high_priority"] = True
        made = api.client.post(
            "/api/v1/pairs", json={**pair, "programs": ["ticker"]}, headers=admin
        )
        assert made.status_code == 201, made.text
        move = {"host": "edge1"}
        url = f"/api/v1/pairs/{HP_PAIR}"
        assert api.client.patch(url, json=move, headers=operator).status_code == 403
        forced = api.client.patch(url, params={"force": True}, json=move, headers=operator)
        assert forced.status_code == 403
        assert api.client.patch(url, json=move, headers=admin).status_code == 409
        assert api.store.pairs.get(HP_PAIR).host == "local"  # type: ignore[union-attr]
        moved = api.client.patch(url, params={"force": True}, json=move, headers=admin)
        assert moved.status_code == 200 and moved.json()["host"] == "edge1"
        (event,) = audit(api, target=HP_PAIR, action="pair.updated")
        assert event["before"]["host"] == "local" and event["after"]["host"] == "edge1"


def test_an_admin_removes_every_number_of_a_high_priority_pair_with_force_audited(
    live: Live,
) -> None:
    api, admin = live.api, live.headers()
    numbers = api.store.pairs.get(HP_PAIR).phone_numbers  # type: ignore[union-attr]
    assert numbers
    url = f"/api/v1/pairs/{HP_PAIR}"
    empty: dict[str, list[str]] = {"phone_numbers": []}
    unforced = api.client.patch(url, json=empty, headers=admin)
    assert unforced.status_code == 409, unforced.text
    assert "remove every test number of" in unforced.json()["error"]["message"]
    # Every number swapped for others: its SMS go where no code of theirs may be known.
    swapped = api.client.patch(
        url, json={"phone_numbers": ["+919990000001"]}, headers=live.headers(Role.operator)
    )
    assert swapped.status_code == 403, swapped.text
    assert "replace every test number of" in swapped.json()["error"]["message"]
    assert api.store.pairs.get(HP_PAIR).phone_numbers == numbers  # type: ignore[union-attr]
    # One more number stops nothing: an operator's change.
    more = api.client.patch(
        url,
        json={"phone_numbers": [*numbers, "+919990000001"]},
        headers=live.headers(Role.operator),
    )
    assert more.status_code == 200, more.text
    more_event = audit(api, target=HP_PAIR, action="pair.updated")[0]
    assert more_event["forced"] is False and more_event["actor_role"] == "operator"
    # Dropping the old ones next would replace them all in two edits: any removal is an
    # admin's, with force.
    kept = ["+919990000001"]
    fewer = api.client.patch(url, json={"phone_numbers": kept}, headers=live.headers(Role.operator))
    assert fewer.status_code == 403, fewer.text
    assert "remove test numbers" in fewer.json()["error"]["message"]
    assert api.client.patch(url, json={"phone_numbers": kept}, headers=admin).status_code == 409
    forced = api.client.patch(url, params={"force": True}, json=empty, headers=admin)
    assert forced.status_code == 200, forced.text
    event = audit(api, target=HP_PAIR, action="pair.updated")[0]  # newest first
    assert event["forced"] is True and event["after"]["phone_numbers"] == []


def test_an_admin_lowers_a_high_priority_pair_with_force_audited(live: Live) -> None:
    """Unmarked, a pair's sessions are anyone's to stop: lowering its priority is the
    first step of a stop, and takes what a stop takes."""
    api, admin, operator = live.api, live.headers(), live.headers(Role.operator)
    url, lower = f"/api/v1/pairs/{HP_PAIR}", {"is_high_priority": False}
    for force in (False, True):
        refused = api.client.patch(url, params={"force": force}, json=lower, headers=operator)
        assert refused.status_code == 403, refused.text
    unforced = api.client.patch(url, json=lower, headers=admin)
    assert unforced.status_code == 409, unforced.text
    error = unforced.json()["error"]
    assert error["code"] == "force_required"
    assert error["message"] == (
        f"{HP_PAIR} is high priority: repeat with force to lower the priority of it"
    )
    assert api.store.pairs.get(HP_PAIR).is_high_priority  # type: ignore[union-attr]
    # Lowered and paused in one change: one refusal names both.
    both = api.client.patch(url, json={**lower, "state": "paused"}, headers=admin)
    assert both.status_code == 409, both.text
    assert "to pause and lower the priority of it" in both.json()["error"]["message"]
    forced = api.client.patch(url, params={"force": True}, json=lower, headers=admin)
    assert forced.status_code == 200, forced.text
    assert forced.json()["is_high_priority"] is False
    event = audit(api, target=HP_PAIR, action="pair.updated")[0]  # newest first
    assert event["forced"] is True and event["actor_role"] == "admin"
    assert running(live, HP_SESSION)  # lowered, not stopped


def test_only_an_admin_marks_a_pair_high_priority(tmp_path: Path) -> None:
    """A marked pair's sessions always run and only an admin stops them: an operator (or a
    leaked control key) marking pairs would commit the hosts to what only an admin undoes."""
    with running_api(tmp_path) as api:
        operator, admin = api.headers(Role.operator), api.headers(Role.admin)
        high = {"country": "UZ", "operator": "UzMobile", "is_high_priority": True}
        for path in ("/api/v1/pairs", "/country-operator"):
            refused = api.client.post(path, json=high, headers=operator)
            assert refused.status_code == 403, (path, refused.text)
        assert api.store.pairs.list() == []
        made = api.client.post(
            "/api/v1/pairs", json={**high, "is_high_priority": False}, headers=operator
        )
        assert made.status_code == 201, made.text
        url = "/api/v1/pairs/UZ_uzmobile"
        marking = api.client.patch(url, json={"is_high_priority": True}, headers=operator)
        assert marking.status_code == 403, marking.text
        assert "only an admin may mark a pair high priority" in marking.json()["error"]["message"]
        # Its creation marked refused once (by the seed's route, the same refusal within the
        # minute, is not written again), and its marking.
        assert [(e["action"], e["target"]) for e in audit(api, target_kind="pair")] == [
            ("pair.refused", "UZ_uzmobile"),  # its marking
            ("pair.created", "UZ_uzmobile"),
            ("pair.refused", "UZ_uzmobile"),
        ]
        marked = api.client.patch(url, json={"is_high_priority": True}, headers=admin)
        assert marked.json()["is_high_priority"] is True
        # Saying it again changes nothing, and is an operator's to say.
        again = api.client.patch(
            url, json={"is_high_priority": True, "region": "Tashkent"}, headers=operator
        )
        assert again.status_code == 200, again.text


def test_only_an_admin_starts_more_of_a_high_priority_pairs_sessions(tmp_path: Path) -> None:
    """Sessions only an admin can stop are only an admin's to start: an operator adding
    programs to a high-priority pair, or enabling one an admin disabled, would commit the
    hosts to them as marking it would."""
    with running_api(tmp_path) as api:
        admin, operator = api.headers(Role.admin), api.headers(Role.operator)
        control_key = api_key(api, Role.admin, ["control"])  # acts as an operator
        for name in ("ticker", "other"):
            command = install_program(api.settings.program_dirs[-1], name, TICKING)
            made = api.client.post(
                "/api/v1/programs", json={"name": name, "command": command}, headers=admin
            )
            assert made.status_code == 201, made.text
        pair = {"country": "IN", "operator": "Vi", "slug": "vi", "is_high_priority": True}
        made = api.client.post(
            "/api/v1/pairs", json={**pair, "programs": ["ticker"]}, headers=admin
        )
        assert made.status_code == 201, made.text
        url = f"/api/v1/pairs/{HP_PAIR}"
        adding = {"programs": ["ticker", "other"], "start_sessions": False}
        for headers in (operator, control_key):
            refused = api.client.patch(url, json=adding, headers=headers)
            assert refused.status_code == 403, refused.text
            message = refused.json()["error"]["message"]
            assert f"only an admin may add other to the high-priority pair {HP_PAIR}" in message
        assert api.store.pairs.get(HP_PAIR).programs == ["ticker"]  # type: ignore[union-attr]
        disabled = api.client.patch(
            url, params={"force": True}, json={"state": "disabled"}, headers=admin
        )
        assert disabled.status_code == 200, disabled.text
        for headers in (operator, control_key):
            enabling = api.client.patch(url, json={"state": "enabled"}, headers=headers)
            assert enabling.status_code == 403, enabling.text
            assert "only an admin may enable" in enabling.json()["error"]["message"]
        assert api.store.pairs.get(HP_PAIR).state == "disabled"  # type: ignore[union-attr]
        # What starts nothing more stays an operator's to change.
        region = api.client.patch(url, json={"region": "Mumbai"}, headers=operator)
        assert region.status_code == 200, region.text
        for change in ({"state": "enabled"}, adding):
            done = api.client.patch(url, json=change, headers=admin)
            assert done.status_code == 200, done.text
        # Made within a moment of each other: compared as a set, not in order.
        assert {
            (event["actor_role"], event["after"]["state"], tuple(event["after"]["programs"]))
            for event in audit(api, target=HP_PAIR, action="pair.updated")
        } == {
            ("admin", "disabled", ("ticker",)),
            ("operator", "disabled", ("ticker",)),
            ("admin", "enabled", ("ticker",)),
            ("admin", "enabled", ("ticker", "other")),
        }


def test_only_an_admin_moves_a_high_priority_pairs_policy_lines(tmp_path: Path) -> None:
    """Under its lines a high-priority pair is held running and pages on-call as failing:
    an operator setting them at 99 % would page them at will."""
    with running_api(tmp_path) as api:
        admin, operator = api.headers(Role.admin), api.headers(Role.operator)
        pair = {"country": "IN", "operator": "Vi", "slug": "vi", "is_high_priority": True}
        made = api.client.post("/api/v1/pairs", json=pair, headers=admin)
        assert made.status_code == 201, made.text
        url = f"/api/v1/pairs/{HP_PAIR}"
        lines = {"pause_threshold": 0.99, "resume_threshold": 0.999}
        for change in (lines, {"resume_threshold": 0.9}):
            refused = api.client.patch(url, json=change, headers=operator)
            assert refused.status_code == 403, refused.text
            assert (
                f"only an admin may change the policy's lines of the high-priority pair {HP_PAIR}"
                in refused.json()["error"]["message"]
            )
        stored = api.store.pairs.get(HP_PAIR)
        assert stored is not None and (stored.pause_threshold, stored.resume_threshold) == (
            None,
            None,
        )
        # Unchanged lines sent back with an edit are no change of them.
        same = api.client.patch(
            url, json={"pause_threshold": None, "region": "Mumbai"}, headers=operator
        )
        assert same.status_code == 200, same.text
        done = api.client.patch(url, json=lines, headers=admin)
        assert done.status_code == 200, done.text
        refusals = audit(api, target=HP_PAIR, action="pair.refused")
        assert [event["actor_role"] for event in refusals] == ["operator"]  # once a minute


def test_only_an_admin_says_a_high_priority_pairs_state_again(tmp_path: Path) -> None:
    """Said again with a reason of its own, a state is set again by whoever said it: an
    operator saying an admin's `enabled` again would take its attribution over."""
    with running_api(tmp_path) as api:
        admin, operator = api.headers(Role.admin), api.headers(Role.operator)
        pair = {"country": "IN", "operator": "Vi", "slug": "vi", "is_high_priority": True}
        assert api.client.post("/api/v1/pairs", json=pair, headers=admin).is_success
        url = f"/api/v1/pairs/{HP_PAIR}"
        said = api.client.patch(
            url, json={"state": "enabled", "state_reason": "restored"}, headers=admin
        )
        assert said.status_code == 200, said.text
        refused = api.client.patch(
            url, json={"state": "enabled", "state_reason": "resumed after review"}, headers=operator
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["message"] == (
            f"only an admin may set the state of the high-priority pair {HP_PAIR} again"
            " with a reason of its own"
        )
        assert api.client.get(url, headers=operator).json() == said.json()
        # Its state as it is, said with the same reason or none, changes nothing: allowed.
        for same in ({"state": "enabled", "state_reason": "restored"}, {"state": "enabled"}):
            kept = api.client.patch(url, json=same, headers=operator)
            assert kept.status_code == 200, kept.text
            assert kept.json() == said.json()


def test_the_same_refusal_is_written_once_a_minute_to_each_person_and_key(
    tmp_path: Path,
) -> None:
    """One asking again and again would fill the log with one refusal: written again after
    a minute, and at once when someone else, or another key, asks."""
    with running_api(tmp_path) as api:
        clock = api.clock
        assert isinstance(clock, FakeClock)
        pair = {"country": "UZ", "operator": "UzMobile", "is_high_priority": True}
        callers = {
            "operator": api.headers(Role.operator),
            "key": api_key(api, Role.operator, ["read", "control"]),
        }

        def refuse(who: str) -> None:
            refused = api.client.post("/api/v1/pairs", json=pair, headers=callers[who])
            assert refused.status_code == 403, refused.text

        def written() -> list[tuple[str, bool]]:
            events = audit(api, action="pair.refused")
            return [(e["actor"], e["api_key_id"] is not None) for e in events]

        for _ in range(5):
            refuse("operator")
        assert written() == [("operator", False)]
        refuse("key")
        assert written() == [("operator", True), ("operator", False)]
        clock.advance(59)
        refuse("operator")
        assert len(written()) == 2
        clock.advance(2)
        refuse("operator")
        refuse("operator")
        assert written() == [("operator", False), ("operator", True), ("operator", False)]


def test_only_an_admin_gives_a_high_priority_pair_its_first_test_number(tmp_path: Path) -> None:
    """With no number its sessions are held stopped (an admin's forced removal, or made
    so): the first number starts them, sessions only an admin can stop."""
    with running_api(tmp_path) as api:
        operator, admin = api.headers(Role.operator), api.headers(Role.admin)
        pair = {"country": "UZ", "operator": "UzMobile", "is_high_priority": True}
        made = api.client.post("/api/v1/pairs", json=pair, headers=admin)
        assert made.status_code == 201, made.text
        url, number = "/api/v1/pairs/UZ_uzmobile", {"phone_numbers": ["+998901234567"]}
        refused = api.client.patch(url, json=number, headers=operator)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["message"] == (
            "only an admin may give a test number to the high-priority pair UZ_uzmobile:"
            " its sessions always run and only an admin can stop them"
        )
        assert api.store.pairs.get("UZ_uzmobile").phone_numbers == []  # type: ignore[union-attr]
        given = api.client.patch(url, json=number, headers=admin)
        assert given.status_code == 200, given.text
        # A number more, beside those it has, starts nothing stopped: an operator's to add.
        more = {"phone_numbers": ["+998901234567", "+998901234568"]}
        added = api.client.patch(url, json=more, headers=operator)
        assert added.status_code == 200, added.text
