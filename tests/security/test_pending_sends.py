"""On-demand sends take slots of a country's cap ahead of the routine tests: how many
may wait at once is capped per user and per pair, so that no one (nor a leaked control
key) can queue a country's whole hour; and what a send keeps is bounded."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from smsfleet.auth.models import Role
from tests.support.api import Api, running_api

UZ, UA = "+998991234567", "+380911234567"


def _pairs(api: Api) -> None:
    admin = api.headers(Role.admin)
    program = {"name": "program1", "command": [sys.executable, "programs/program1.py"]}
    assert api.client.post("/api/v1/programs", json=program, headers=admin).status_code == 201
    # Each with a test number: a pair without one tells its programs to stop.
    for country, operator, number in (
        ("UZ", "UzMobile", "+998991234500"),
        ("UA", "3Mob", "+380911234500"),
    ):
        pair = {
            "country": country,
            "operator": operator,
            "phone_numbers": [number],
            "programs": ["program1"],
            "start_sessions": True,
        }
        made = api.client.post("/api/v1/pairs", json=pair, headers=admin)
        assert made.status_code == 201, made.text


def _send(api: Api, role: Role, phone: str) -> int:
    body = {"phone": phone, "text": "a code"}
    return api.client.post(
        "/api/v1/messages/send", json=body, headers=api.headers(role)
    ).status_code


def test_pending_sends_are_capped_per_user_and_per_pair(tmp_path: Path) -> None:
    limits = {"send_max_pending_per_actor": 2, "send_max_pending_per_pair": 3}
    with running_api(tmp_path, **limits) as api:
        _pairs(api)
        assert [_send(api, Role.operator, UZ) for _ in range(2)] == [202, 202]
        refused = api.client.post(
            "/api/v1/messages/send",
            json={"phone": UA, "text": "a code"},
            headers=api.headers(Role.operator),
        )
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert int(refused.headers["Retry-After"]) > 0
        # Another user has room of their own, until the pair is full.
        assert _send(api, Role.admin, UZ) == 202
        assert _send(api, Role.admin, UZ) == 429  # UZ_uzmobile has 3 waiting
        assert _send(api, Role.admin, UA) == 202
        # A settled (here cancelled) send makes room again.
        pending = api.client.get(
            "/api/v1/messages/sends",
            params={"status": "PENDING"},
            headers=api.headers(Role.operator),
        ).json()
        mine = next(s for s in pending if s["actor"] == "operator")
        cancel = f"/api/v1/messages/sends/{mine['id']}/cancel"
        assert api.client.post(cancel, headers=api.headers(Role.operator)).status_code == 200
        assert _send(api, Role.operator, UA) == 202
        sends = api.client.get("/api/v1/messages/sends", headers=api.headers(Role.admin)).json()
        assert len(sends) == 5  # nothing refused was stored


def _sends(api: Api, status: str) -> list[dict[str, object]]:
    found = api.client.get(
        "/api/v1/messages/sends", params={"status": status}, headers=api.headers(Role.admin)
    )
    assert found.status_code == 200, found.text
    sends: list[dict[str, object]] = found.json()
    return sends


def test_a_retried_send_counts_against_its_owners_room_and_its_pairs(tmp_path: Path) -> None:
    """Cancelled sends retried would otherwise queue past both caps: each retry is a send
    in line again, and stays the send of whoever made it."""
    limits = {"send_max_pending_per_actor": 2, "send_max_pending_per_pair": 3}
    with running_api(tmp_path, **limits) as api:
        _pairs(api)
        operator, admin = api.headers(Role.operator), api.headers(Role.admin)
        assert [_send(api, Role.operator, UZ) for _ in range(2)] == [202, 202]
        cancelled = [str(send["id"]) for send in _sends(api, "PENDING")]
        for send_id in cancelled:
            cancel = f"/api/v1/messages/sends/{send_id}/cancel"
            assert api.client.post(cancel, headers=operator).status_code == 200
        assert [_send(api, Role.operator, UZ) for _ in range(2)] == [202, 202]

        # The operator's room is full: their cancelled send waits for it, whoever retries.
        retry = f"/api/v1/messages/sends/{cancelled[0]}/retry"
        refused = api.client.post(retry, headers=admin)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["message"].startswith(
            "operator, whose send this is, has 2 sends waiting"
        )
        assert int(refused.headers["Retry-After"]) > 0
        refused = api.client.post(retry, headers=operator)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["message"].startswith("you have 2 sends waiting")

        # With room of its owner's, the pair's cap holds it: UZ_uzmobile has 3 waiting.
        assert _send(api, Role.admin, UZ) == 202
        pending = _sends(api, "PENDING")
        mine = next(send for send in pending if send["actor"] == "operator")
        cancel = f"/api/v1/messages/sends/{mine['id']}/cancel"
        assert api.client.post(cancel, headers=operator).status_code == 200
        assert _send(api, Role.admin, UZ) == 202
        refused = api.client.post(retry, headers=operator)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["message"].startswith("3 sends wait for UZ_uzmobile")
        assert len(_sends(api, "PENDING")) == 3
        assert len(_sends(api, "CANCELLED")) == 3

        # Room again: the retry goes back in line, still the operator's.
        first = next(send for send in _sends(api, "PENDING") if send["actor"] == "admin")
        cancel = f"/api/v1/messages/sends/{first['id']}/cancel"
        assert api.client.post(cancel, headers=admin).status_code == 200
        retried = api.client.post(retry, headers=admin)
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "PENDING"
        assert retried.json()["actor"] == "operator"


def test_sends_and_retries_made_at_once_pass_no_cap(tmp_path: Path) -> None:
    """Each send counts what waits and is kept in one step: many at once, as a script or
    a leaked key would make them, fill the room exactly."""
    limits = {"send_max_pending_per_actor": 5, "send_max_pending_per_pair": 8}
    at_once = 24

    def send_at_once(role: Role) -> list[int]:
        def send(n: int) -> int:
            body = {"phone": f"+9989912{n:05d}", "text": "a code"}
            return api.client.post(
                "/api/v1/messages/send", json=body, headers=api.headers(role)
            ).status_code

        with ThreadPoolExecutor(at_once) as pool:
            return sorted(pool.map(send, range(at_once)))

    with running_api(tmp_path, **limits) as api:
        _pairs(api)
        operator = api.headers(Role.operator)
        assert send_at_once(Role.operator) == [202] * 5 + [429] * (at_once - 5)
        assert send_at_once(Role.admin) == [202] * 3 + [429] * (at_once - 3)  # the pair's 8
        assert len(_sends(api, "PENDING")) == 8

        cancelled = [
            str(send["id"]) for send in _sends(api, "PENDING") if send["actor"] == "operator"
        ]
        for send_id in cancelled:
            cancel = f"/api/v1/messages/sends/{send_id}/cancel"
            assert api.client.post(cancel, headers=operator).status_code == 200
        assert [_send(api, Role.operator, UZ) for _ in range(2)] == [202, 202]

        def retry(send_id: str) -> int:
            path = f"/api/v1/messages/sends/{send_id}/retry"
            return api.client.post(path, headers=operator).status_code

        with ThreadPoolExecutor(len(cancelled)) as pool:
            retried = sorted(pool.map(retry, cancelled))
        assert retried == [200] * 3 + [429] * 2  # the operator's room, and the pair's
        assert len(_sends(api, "PENDING")) == 8


def test_a_send_through_a_named_pair_goes_to_none_of_another_pairs_numbers(
    tmp_path: Path,
) -> None:
    """A test number awaits one code at a time, of its own pair's attempts: a code sent to
    it through another pair would be taken for theirs, and spoil that pair's results."""
    with running_api(tmp_path) as api:
        _pairs(api)
        admin, operator = api.headers(Role.admin), api.headers(Role.operator)
        beeline = {
            "country": "UZ",
            "operator": "Beeline",
            "phone_numbers": ["+998901234511"],
            "programs": ["program1"],
            "start_sessions": True,
        }
        assert api.client.post("/api/v1/pairs", json=beeline, headers=admin).status_code == 201
        crossed = {"phone": "+998901234511", "text": "a code", "pair": "UZ_uzmobile"}
        refused = api.client.post("/api/v1/messages/send", json=crossed, headers=operator)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["message"] == (
            "+998901234511 is a test number of UZ_beeline, not of UZ_uzmobile: send it"
            " through UZ_beeline, or without naming a pair"
        )
        assert error["details"] == [
            {"field": "pair", "message": "+998901234511 is a test number of UZ_beeline"}
        ]
        assert _sends(api, "PENDING") == []
        # Through its own pair, named or not; and the named pair's own number through it.
        for body in (
            {"phone": "+998901234511", "text": "a code", "pair": "UZ_beeline"},
            {"phone": "+998901234511", "text": "a code"},
            {"phone": "+998991234500", "text": "a code", "pair": "UZ_uzmobile"},
        ):
            sent = api.client.post("/api/v1/messages/send", json=body, headers=operator)
            assert sent.status_code == 202, (body, sent.text)
        assert [send["pair"] for send in _sends(api, "PENDING")].count("UZ_beeline") == 2


def test_a_send_through_a_named_pair_goes_to_a_number_of_its_country(tmp_path: Path) -> None:
    """A number of another country would be sent on the named pair's country's room, which
    the number's own country's cap and policy never see."""
    with running_api(tmp_path) as api:
        _pairs(api)
        operator = api.headers(Role.operator)
        crossed = {"phone": UA, "text": "a code", "pair": "UZ_uzmobile"}
        refused = api.client.post("/api/v1/messages/send", json=crossed, headers=operator)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["message"].startswith(f"'{UA}' is a number of UA, not UZ")
        assert error["details"] == [{"field": "phone", "message": "not a number of UZ"}]
        sends = api.client.get("/api/v1/messages/sends", headers=operator).json()
        assert sends == []
        # Its own country's pair, named or not, and a national number of the pair's country.
        for body in (
            {"phone": UA, "text": "a code", "pair": "UA_3mob"},
            {"phone": UA, "text": "a code"},
            {"phone": "991234567", "text": "a code", "pair": "UZ_uzmobile"},
        ):
            sent = api.client.post("/api/v1/messages/send", json=body, headers=operator)
            assert sent.status_code == 202, (body, sent.text)


def test_a_sends_values_are_bounded(tmp_path: Path) -> None:
    """Each send keeps its values for good: a few short ones, never a document."""
    with running_api(tmp_path) as api:
        _pairs(api)
        headers = api.headers(Role.operator)
        template = {"id": "otp", "name": "OTP", "body": "Your code is {code}"}
        made = api.client.post("/api/v1/messages/templates", json=template, headers=headers)
        assert made.status_code == 201, made.text
        for params, field in [
            ({"code": "1" * 100_000}, "params.code"),
            ({"code": "1" * 201}, "params.code"),
            ({"code": "1", **{f"p{n}": "x" for n in range(20)}}, "params"),
        ]:
            body = {"phone": UZ, "template_id": "otp", "params": params}
            refused = api.client.post("/api/v1/messages/send", json=body, headers=headers)
            assert refused.status_code == 422, refused.text
            fields = {d["field"] for d in refused.json()["error"]["details"]}
            assert field in fields, refused.text
        body = {"phone": UZ, "template_id": "otp", "params": {"code": "1" * 200}}
        accepted = api.client.post("/api/v1/messages/send", json=body, headers=headers)
        assert accepted.status_code == 202, accepted.text
        sends = api.client.get("/api/v1/messages/sends", headers=headers).json()
        assert [s["params"] for s in sends] == [{"code": "1" * 200}]


def test_a_templates_text_filled_in_is_no_longer_than_a_text(tmp_path: Path) -> None:
    """A body of 533 placeholders, each filled with 200 characters, made a text of 106,600
    characters (about 700 billed segments a send): refused as a text of its own is."""
    with running_api(tmp_path) as api:
        _pairs(api)
        headers = api.headers(Role.operator)
        templates = "/api/v1/messages/templates"
        template = {
            "id": "amp",
            "name": "Amplified",
            "body": "{x}",
            "provider_bodies": {"gw": "{x}" * 533},
        }
        assert api.client.post(templates, json=template, headers=headers).status_code == 201
        body = {"phone": UZ, "template_id": "amp", "params": {"x": "Z" * 200}}
        refused = api.client.post("/api/v1/messages/send", json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["message"] == (
            "template amp's gw's body filled with these params is 106600 characters:"
            " an SMS text is at most 1600"
        )
        assert [d["field"] for d in error["details"]] == ["params"]
        assert api.client.get("/api/v1/messages/sends", headers=headers).json() == []
        # Filled in to 1,600 characters it is a text: queued.
        shorter = {**template, "provider_bodies": {"gw": "{x}" * 200}}
        del shorter["id"]
        changed = api.client.put(f"{templates}/amp", json=shorter, headers=headers)
        assert changed.status_code == 200, changed.text
        body["params"] = {"x": "Z" * 8}
        queued = api.client.post("/api/v1/messages/send", json=body, headers=headers)
        assert queued.status_code == 202, queued.text
