"""The fleet holds at most SMSFLEET_MAX_PAIRS pairs and SMSFLEET_MAX_TEMPLATES message
templates: any operator (or an operator's `control` key) may add both, and every viewer's
listing, the policy's standing and the dispatch goals read them all, so adding them without
end slowed those pages for everyone (3,000 pairs: 0.03 s to 14 s) and made the template
listing megabytes long."""

from __future__ import annotations

from pathlib import Path

from smsfleet.auth.models import Role
from tests.support.api import running_api


def test_pairs_past_the_bound_are_refused_on_both_routes(tmp_path: Path) -> None:
    with running_api(tmp_path, max_pairs=2) as api:
        operator = api.headers(Role.operator)
        first = {"country": "UZ", "operator": "UzMobile"}
        assert api.client.post("/api/v1/pairs", json=first, headers=operator).status_code == 201
        seeded = {"country": "Tajikistan", "operator": "MegaFon"}
        made = api.client.post("/country-operator", json=seeded, headers=operator)
        assert made.status_code == 201, made.text
        for path, body in (
            ("/api/v1/pairs", {"country": "AZ", "operator": "Azercell"}),
            ("/country-operator", {"country": "Azerbaijan", "operator": "Azercell"}),
        ):
            refused = api.client.post(path, json=body, headers=operator)
            assert refused.status_code == 409, (path, refused.text)
            assert refused.json()["error"]["message"].startswith(
                "the fleet would hold 3 pairs, more than the 2 SMSFLEET_MAX_PAIRS allows"
            )
        assert [pair.key for pair in api.store.pairs.list()] == ["TJ_megafon", "UZ_uzmobile"]
        # Room made is room to use.
        assert api.client.delete("/api/v1/pairs/UZ_uzmobile", headers=operator).status_code == 204
        again = api.client.post(
            "/api/v1/pairs", json={"country": "AZ", "operator": "Azercell"}, headers=operator
        )
        assert again.status_code == 201, again.text


def test_templates_past_the_bound_are_refused(tmp_path: Path) -> None:
    with running_api(tmp_path, max_templates=2) as api:
        operator = api.headers(Role.operator)
        path = "/api/v1/messages/templates"
        bodies = {f"provider{n}": "x" * 1600 for n in range(20)}

        def add(template_id: str) -> int:
            body = {"id": template_id, "name": "Code", "body": "{token}", "provider_bodies": bodies}
            return api.client.post(path, json=body, headers=operator).status_code

        assert [add("otp1"), add("otp2")] == [201, 201]
        refused = api.client.post(
            path, json={"id": "otp3", "name": "Code", "body": "{token}"}, headers=operator
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["message"].startswith(
            "there would be 3 message templates, more than the 2 SMSFLEET_MAX_TEMPLATES allows"
        )
        assert [template.id for template in api.store.templates.list()] == ["otp1", "otp2"]
        # A change of one that exists is no new template.
        change = {"name": "Code", "body": "Your code: {token}"}
        assert api.client.put(f"{path}/otp1", json=change, headers=operator).status_code == 200
        assert api.client.delete(f"{path}/otp1", headers=operator).status_code == 204
        assert add("otp3") == 201


def test_the_defaults_bound_pairs_and_templates(tmp_path: Path) -> None:
    with running_api(tmp_path) as api:
        assert (api.settings.max_pairs, api.settings.max_templates) == (1000, 500)
