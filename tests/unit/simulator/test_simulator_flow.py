"""Trigger, poll, submit: the path every program takes, on a fake clock."""

from __future__ import annotations

from datetime import datetime

from tests.support.simulator import FakeClock, MakeClient, Reliable, SendSms


def test_sms_is_pending_until_its_latency_then_delivered(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())

    sent = send_sms(client)
    assert sent.status_code == 200
    trigger_id = sent.json()["trigger_id"]
    assert sent.json() == {"status": "sent successfully", "trigger_id": trigger_id}

    clock.advance(4.999)
    assert client.get(f"/gateway/messages/{trigger_id}").json() == {
        "trigger_id": trigger_id,
        "status": "pending",
    }

    clock.advance(0.001)
    body = client.get(f"/gateway/messages/{trigger_id}").json()
    assert body["status"] == "delivered"
    assert len(body["code"]) == 6
    assert body["code"].isdigit()
    delivered_at = datetime.fromisoformat(body["delivered_at"])
    assert delivered_at.timestamp() == clock.now


def test_submit_right_code_wrong_code_and_twice(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())
    trigger_id = send_sms(client).json()["trigger_id"]
    clock.advance(5)
    code = client.get(f"/gateway/messages/{trigger_id}").json()["code"]
    wrong = "000000" if code != "000000" else "111111"

    response = client.post(
        "/providers/provider1/submit", json={"trigger_id": trigger_id, "code": wrong}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "code_mismatch"

    response = client.post(
        "/providers/provider1/submit", json={"trigger_id": trigger_id, "code": code}
    )
    assert response.status_code == 200
    assert response.json() == {"status": "submitted successfully", "trigger_id": trigger_id}

    response = client.post(
        "/providers/provider1/submit", json={"trigger_id": trigger_id, "code": code}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_submitted"

    record = client.get("/admin/truth").json()["records"][0]
    assert record["submitted"] is True
    assert record["wrong_codes"] == 1


def test_submit_before_delivery_or_to_another_provider_is_refused(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())
    trigger_id = send_sms(client).json()["trigger_id"]

    early = client.post("/providers/provider1/submit", json={"trigger_id": trigger_id, "code": "1"})
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "message_not_delivered"

    clock.advance(5)
    elsewhere = client.post(
        "/providers/provider2/submit", json={"trigger_id": trigger_id, "code": "123456"}
    )
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["code"] == "unknown_trigger"


def test_lost_sms_reads_pending_until_give_up_then_not_delivered(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable(delivery_probability=0.0, give_up_after_seconds=30))
    trigger_id = send_sms(client).json()["trigger_id"]

    clock.advance(29.9)
    assert client.get(f"/gateway/messages/{trigger_id}").json()["status"] == "pending"
    clock.advance(0.1)
    assert client.get(f"/gateway/messages/{trigger_id}").json() == {
        "trigger_id": trigger_id,
        "status": "not_delivered",
    }
    response = client.post(
        "/providers/provider1/submit", json={"trigger_id": trigger_id, "code": "123456"}
    )
    assert response.status_code == 409


def test_unknown_trigger_is_404(make_client: MakeClient) -> None:
    client = make_client()
    response = client.get("/gateway/messages/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_trigger"


def test_client_trigger_id_is_idempotent(
    make_client: MakeClient, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())

    first = send_sms(client, trigger_id="attempt-42")
    again = send_sms(client, trigger_id="attempt-42")
    assert first.status_code == again.status_code == 200
    assert (
        first.json() == again.json() == {"status": "sent successfully", "trigger_id": "attempt-42"}
    )
    assert client.get("/admin/truth").json()["total"]["triggered"] == 1

    clash = send_sms(client, trigger_id="attempt-42", route="IN_vi", phone="+919812345678")
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "trigger_id_conflict"


def test_inbox_lists_arrived_messages_newest_first(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms, reliable: Reliable
) -> None:
    client = make_client(reliable())
    first = send_sms(client).json()["trigger_id"]
    clock.advance(1)
    second = send_sms(client).json()["trigger_id"]
    send_sms(client, phone="+998991234999")

    clock.advance(4.5)  # only the first has arrived
    inbox = client.get("/gateway/inbox", params={"phone": "+998991234567"}).json()
    assert [m["trigger_id"] for m in inbox["messages"]] == [first]
    assert inbox["messages"][0]["code"] in inbox["messages"][0]["text"]

    clock.advance(1)
    inbox = client.get("/gateway/inbox", params={"phone": "+998991234567"}).json()
    assert [m["trigger_id"] for m in inbox["messages"]] == [second, first]


def test_numbers_lists_route_phones(make_client: MakeClient) -> None:
    client = make_client({"routes": {"UZ_uzmobile": {"phones": ["+998991234567"]}}})
    assert client.get("/gateway/numbers").json() == [
        {"route": "UZ_uzmobile", "phones": ["+998991234567"]}
    ]


def test_same_seed_and_clock_give_the_same_run(
    make_client: MakeClient, clock: FakeClock, send_sms: SendSms
) -> None:
    config = {"defaults": {"send_error_rate": 0.2, "delivery_probability": 0.5}}

    def run() -> list[object]:
        clock.now = 1_700_000_000.0
        client = make_client(config, seed=123)
        results = []
        for _ in range(20):
            results.append(send_sms(client).json())
            clock.advance(1)
        results.append(client.get("/admin/truth").json())
        return results

    assert run() == run()
