"""Admin API: run-time changes, reset, token, and answers to bad input."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from smsfleet.simulator.config import parse_config
from tests.support.simulator import MakeClient, Reliable, SendSms


def _fates(client: TestClient, send_sms: SendSms, n: int = 20) -> set[str]:
    results: list[str] = []
    for _ in range(n):
        response = send_sms(client)
        if response.status_code != 200:
            results.append(response.json()["error"]["code"])
            continue
        results.append(client.get("/admin/truth").json()["records"][-1]["outcome"])
    return set(results)


def test_route_degrades_and_recovers_at_run_time(
    make_client: MakeClient, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())
    assert _fates(client, send_sms) == {"delivered"}

    degraded = client.patch("/admin/routes/UZ_uzmobile", json={"delivery_probability": 0.0})
    assert degraded.status_code == 200
    assert degraded.json()["effective"]["delivery_probability"] == 0.0
    assert degraded.json()["effective"]["latency"]["median_seconds"] == 5.0  # kept from defaults
    assert _fates(client, send_sms) == {"not_delivered"}

    client.patch("/admin/routes/UZ_uzmobile", json={"outage": True})
    assert _fates(client, send_sms) == {"route_outage"}

    recovered = client.patch(
        "/admin/routes/UZ_uzmobile", json={"outage": False, "delivery_probability": None}
    )
    assert recovered.json()["effective"]["delivery_probability"] == 1.0
    assert _fates(client, send_sms) == {"delivered"}

    counts = client.get("/admin/truth").json()["counts"]["UZ_uzmobile"]
    assert counts == {
        "triggered": 80,
        "delivered": 40,
        "not_delivered": 20,
        "send_errors": 20,
        "pending": 60,
        "submitted": 0,
    }


def test_put_replaces_a_route_and_patch_merges_latency(
    make_client: MakeClient, reliable: Reliable
) -> None:
    client = make_client(
        {
            **reliable(),
            "routes": {"TJ_megafon": {"delivery_probability": 0.5, "phones": ["+992900123456"]}},
        }
    )
    put = client.put("/admin/routes/TJ_megafon", json={"send_error_rate": 0.2})
    assert put.status_code == 200
    assert put.json()["overrides"]["delivery_probability"] is None
    assert put.json()["effective"]["delivery_probability"] == 1.0
    assert put.json()["effective"]["phones"] == []

    patch = client.patch("/admin/routes/TJ_megafon", json={"latency": {"median_seconds": 30.0}})
    assert patch.json()["effective"]["latency"] == {
        "distribution": "fixed",
        "median_seconds": 30.0,
        "sigma": 0.5,
        "min_seconds": 1.0,
        "max_seconds": 60.0,
    }
    assert patch.json()["effective"]["send_error_rate"] == 0.2

    config = client.get("/admin/config").json()
    assert config["routes"]["TJ_megafon"]["effective"]["latency"]["median_seconds"] == 30.0


def test_null_returns_a_route_setting_to_its_configured_value(
    make_client: MakeClient, reliable: Reliable
) -> None:
    client = make_client(
        {
            **reliable(),
            "routes": {
                "UA_3mob": {
                    "delivery_probability": 0.93,
                    "latency": {"median_seconds": 9.0},
                    "phones": ["+380911234567"],
                }
            },
        }
    )
    client.patch(
        "/admin/routes/UA_3mob",
        json={
            "delivery_probability": 0.1,
            "send_error_rate": 0.5,
            "latency": {"median_seconds": 20.0, "sigma": 0.9},
        },
    )
    restored = client.patch(
        "/admin/routes/UA_3mob",
        json={
            "delivery_probability": None,
            "send_error_rate": None,
            "latency": {"median_seconds": None, "sigma": None},
        },
    )
    assert restored.status_code == 200
    assert restored.json()["overrides"]["delivery_probability"] == 0.93
    effective = restored.json()["effective"]
    assert effective["delivery_probability"] == 0.93
    assert effective["send_error_rate"] == 0.0  # none configured: the default
    assert effective["latency"]["median_seconds"] == 9.0
    assert effective["latency"]["sigma"] == 0.5
    assert effective["phones"] == ["+380911234567"]

    # A route the file does not name goes back to the defaults.
    client.patch("/admin/routes/IN_vi", json={"delivery_probability": 0.2})
    added = client.patch("/admin/routes/IN_vi", json={"delivery_probability": None})
    assert added.json()["effective"]["delivery_probability"] == 1.0


def test_null_returns_a_provider_setting_to_its_configured_value(
    make_client: MakeClient, reliable: Reliable
) -> None:
    client = make_client(
        {**reliable(), "providers": {"provider2": {"latency_factor": 3.0, "description": "slow"}}}
    )
    client.patch("/admin/providers/provider2", json={"latency_factor": 1.0, "outage": True})
    restored = client.patch(
        "/admin/providers/provider2", json={"latency_factor": None, "outage": None}
    )
    assert restored.status_code == 200
    assert restored.json()["settings"]["latency_factor"] == 3.0
    assert restored.json()["settings"]["outage"] is False
    assert restored.json()["settings"]["description"] == "slow"


def test_new_route_can_be_added_at_run_time(make_client: MakeClient, send_sms: SendSms) -> None:
    client = make_client({"simulator": {"strict": True}, "providers": {"provider1": {}}})
    missing = send_sms(client, route="IN_vi", phone="+919812345678")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_route"

    assert client.put("/admin/routes/IN_vi", json={}).status_code == 200
    assert send_sms(client, route="IN_vi", phone="+919812345678").status_code in {200, 502}


def test_strict_mode_refuses_unknown_providers(make_client: MakeClient, send_sms: SendSms) -> None:
    client = make_client({"simulator": {"strict": True}, "routes": {"UZ_uzmobile": {}}})
    response = send_sms(client, provider="provider9")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_provider"


def test_invalid_settings_are_refused_and_not_applied(make_client: MakeClient) -> None:
    client = make_client()
    response = client.patch(
        "/admin/routes/UZ_uzmobile", json={"latency": {"min_seconds": 50.0, "max_seconds": 10.0}}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_settings"
    assert "UZ_uzmobile" not in client.get("/admin/config").json()["routes"]

    out_of_range = client.patch("/admin/routes/UZ_uzmobile", json={"delivery_probability": 1.5})
    assert out_of_range.status_code == 422
    assert out_of_range.json()["error"]["code"] == "validation_error"

    typo = client.patch("/admin/routes/UZ_uzmobile", json={"delivery_probabilty": 0.5})
    assert typo.status_code == 422


def test_provider_settings_change_at_run_time(
    make_client: MakeClient, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())
    down = client.patch("/admin/providers/provider4", json={"outage": True})
    assert down.status_code == 200
    assert down.json()["settings"]["outage"] is True
    assert send_sms(client, provider="provider4").status_code == 503

    client.patch("/admin/providers/provider4", json={"outage": None})
    assert send_sms(client, provider="provider4").status_code == 200

    put = client.put(
        "/admin/providers/provider4", json={"description": "slow", "latency_factor": 2}
    )
    assert put.json()["settings"]["latency_factor"] == 2.0
    assert client.get("/admin/config").json()["providers"]["provider4"]["settings"][
        "description"
    ] == ("slow")


def test_reset_restores_config_and_forgets_triggers(
    make_client: MakeClient, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())
    trigger_id = send_sms(client).json()["trigger_id"]
    client.patch("/admin/routes/UZ_uzmobile", json={"outage": True})

    assert client.post("/admin/reset").json() == {"status": "reset", "config": True, "truth": True}
    assert client.get(f"/gateway/messages/{trigger_id}").status_code == 404
    assert client.get("/admin/truth").json()["total"]["triggered"] == 0
    assert send_sms(client).status_code == 200


def test_partial_reset_keeps_what_it_is_told_to(
    make_client: MakeClient, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())
    send_sms(client)
    client.patch("/admin/routes/UZ_uzmobile", json={"outage": True})

    client.post("/admin/reset", json={"config": False, "truth": True})
    assert client.get("/admin/config").json()["routes"]["UZ_uzmobile"]["effective"]["outage"]
    assert client.get("/admin/truth").json()["total"]["triggered"] == 0

    send_sms(client)
    client.post("/admin/reset", json={"config": True, "truth": False})
    assert client.get("/admin/truth").json()["total"]["triggered"] == 1
    assert "UZ_uzmobile" not in client.get("/admin/config").json()["routes"]


def test_admin_token_guards_admin_only(make_client: MakeClient, send_sms: SendSms) -> None:
    token = "a-long-random-admin-token-for-tests"
    client = make_client(parse_config({"simulator": {"admin_token": token}}))

    missing = client.get("/admin/config")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = client.get("/admin/truth", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert client.post("/admin/reset").status_code == 401

    good = client.get("/admin/config", headers={"Authorization": f"Bearer {token}"})
    assert good.status_code == 200
    assert good.json()["simulator"]["admin_token_set"] is True
    assert token not in good.text

    # Programs never need the token.
    assert send_sms(client).status_code in {200, 502}
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/providers/provider1/send", {"phone": "998991234567", "route": "UZ_uzmobile"}),
        ("post", "/providers/provider1/send", {"phone": "+998991234567", "route": "uz mobile"}),
        ("post", "/providers/provider1/send", {"phone": "+998991234567"}),
        ("post", "/providers/provider1/send", {"phone": "+998991234567", "route": "UZ_x", "x": 1}),
        ("post", "/providers/bad%20name/send", {"phone": "+998991234567", "route": "UZ_x"}),
        ("post", "/providers/provider1/send", {"phone": 1, "route": ["UZ_x"]}),
        ("post", "/providers/provider1/submit", {"trigger_id": "x"}),
        ("post", "/providers/provider1/submit", {"trigger_id": "../etc", "code": "1"}),
        ("get", "/gateway/inbox", None),
        ("get", "/gateway/inbox?phone=abc", None),
        ("get", "/admin/truth?since=yesterday", None),
        ("put", "/admin/routes/not-a-route", {}),
        ("patch", "/admin/providers/provider1", {"latency_factor": 0}),
    ],
)
def test_bad_input_is_a_json_4xx(
    make_client: MakeClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    client = make_client()
    response = client.request(method, path, json=body)
    assert 400 <= response.status_code < 500
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"]


def test_malformed_json_and_unknown_paths_are_json_errors(make_client: MakeClient) -> None:
    client = make_client()
    malformed = client.post(
        "/providers/provider1/send",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    # As the control plane answers it: a body that is not JSON is a bad request.
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalid_json"

    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"

    wrong_method = client.delete("/admin/config")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
