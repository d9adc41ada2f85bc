"""Every change an operator makes to what the fleet sends, and to whom, is in the audit log
with who made it (and the API key, when a key made it): pairs, templates and sessions."""

from __future__ import annotations

from typing import Any

from smsfleet.auth.models import Role
from tests.security.test_programs_trust import audit
from tests.support.api import Api
from tests.support.programs import TICKING, install_program

PAIR = "UZ_tmpnet"
SESSION = f"ticker_{PAIR}"


def test_pairs_templates_and_sessions_changed_by_an_operators_key_are_audited(api: Api) -> None:
    # Installed in the test's own program directory, defined by the admin.
    command = install_program(api.settings.program_dirs[-1], "ticker", TICKING)
    program = {"name": "ticker", "command": command}
    assert (
        api.client.post("/api/v1/programs", json=program, headers=api.headers()).status_code == 201
    )
    made = api.client.post(
        "/api/v1/auth/api-keys",
        json={"name": "script", "scopes": ["read", "control"]},
        headers=api.headers(Role.operator),
    )
    assert made.status_code == 201, made.text
    key = {"X-API-Key": made.json()["key"]}
    key_id = made.json()["id"]
    before = {event["id"] for event in audit(api)}

    def ok(method: str, path: str, body: dict[str, Any] | None = None) -> None:
        answer = api.client.request(method, path, json=body, headers=key)
        assert answer.status_code in (200, 201, 204), (path, answer.text)
        api.clock.advance(1)  # type: ignore[attr-defined]  # one entry after the other

    template = {"name": "Code", "body": "Your code is {token}"}
    phishing = {**template, "body": "Your code is {token}. Verify at http://evil.example"}
    ok("post", "/api/v1/pairs", {"country": "UZ", "operator": "Tmpnet", "programs": ["ticker"]})
    ok("patch", f"/api/v1/pairs/{PAIR}", {"phone_numbers": ["+998901234567"]})
    ok("post", f"/api/v1/sessions/{SESSION}/start", {"reason": "try it"})
    ok("post", f"/api/v1/sessions/{SESSION}/start")  # already wanted running: nothing changes
    ok("post", f"/api/v1/sessions/{SESSION}/restart")
    ok("post", "/api/v1/sessions/actions", {"action": "stop", "country": "UZ"})
    ok("post", "/api/v1/messages/templates", {"id": "otp", **template})
    ok("put", "/api/v1/messages/templates/otp", phishing)
    ok("delete", "/api/v1/messages/templates/otp")
    ok("delete", f"/api/v1/pairs/{PAIR}")

    done = [event for event in audit(api) if event["id"] not in before][::-1]  # oldest first
    assert [(event["action"], event["target"]) for event in done] == [
        ("pair.created", PAIR),
        ("pair.updated", PAIR),
        ("session.started", SESSION),
        ("session.restarted", SESSION),
        ("session.stopped", SESSION),
        ("template.created", "otp"),
        ("template.updated", "otp"),
        ("template.deleted", "otp"),
        ("pair.deleted", PAIR),
    ]
    assert {(e["actor"], e["actor_role"], e["api_key_id"]) for e in done} == {
        ("operator", "operator", key_id)
    }
    changed = next(event for event in done if event["action"] == "template.updated")
    assert changed["before"]["body"] == template["body"]
    assert changed["after"]["body"] == phishing["body"]
    numbers = next(event for event in done if event["action"] == "pair.updated")
    assert numbers["before"]["phone_numbers"] == []
    assert numbers["after"]["phone_numbers"] == ["+998901234567"]
    started = next(event for event in done if event["action"] == "session.started")
    assert started["reason"] == "try it" and started["after"]["desired"] == "running"


def test_a_refused_change_leaves_no_entry(api: Api) -> None:
    before = audit(api)
    viewer = api.headers(Role.viewer)
    refused = [
        api.client.post("/api/v1/pairs", json={"country": "UZ", "operator": "X"}, headers=viewer),
        api.client.post(
            "/api/v1/messages/templates",
            json={"id": "otp", "name": "Code", "body": "{token"},
            headers=api.headers(Role.operator),
        ),
        api.client.delete("/api/v1/pairs/UZ_nothere", headers=api.headers(Role.operator)),
    ]
    assert [answer.status_code for answer in refused] == [403, 422, 404]
    assert audit(api) == before
