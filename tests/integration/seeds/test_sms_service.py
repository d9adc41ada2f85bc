"""The seed SMS service document: `POST /api/send-sms`, `/api/receive-sms`, `GET
/api/get-conversation/<phone_number>`, its sample requests and answers word for word.

The document writes numbers without `+` (`1234567890`), times as Unix seconds
(`1645845235`) and a conversation's directions as `sent` and `received`. Only the first
test sends the document's own numbers; the others, on the same running control plane,
numbers of their own.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from smsfleet.auth.models import Role
from tests.support.live_server import LiveApi, live_api

SENT = {
    "senderPhone": "1234567890",
    "receiverPhone": "0987654321",
    "messageText": "Hello, this is a test message.",
    "timestamp": 1645845235,
    "uuid": "3f2c1f7e-9a4b-4c0e-8d6a-1b2c3d4e5f60",
}
RECEIVED = {
    "senderPhone": "0987654321",
    "receiverPhone": "1234567890",
    "messageText": "Hello back!",
    "timestamp": 1645845300,
    "uuid": "7a1d2e3f-4b5c-4d6e-9f80-a1b2c3d4e5f6",
}


def another(message: dict[str, object], **numbers: str) -> dict[str, object]:
    """`message` between other numbers, as a message of its own (a uuid is sent once)."""
    return message | numbers | {"uuid": str(uuid.uuid4())}


def test_the_documents_requests_and_its_conversation(control_plane: LiveApi) -> None:
    api = control_plane
    headers = api.headers(Role.operator)
    sent = api.client.post("/api/send-sms", json=SENT, headers=headers)
    assert (sent.status_code, sent.json()) == (200, {"message": "SMS sent successfully"})
    received = api.client.post("/api/receive-sms", json=RECEIVED, headers=headers)
    assert (received.status_code, received.json()) == (
        200,
        {"message": "SMS received successfully"},
    )
    conversation = api.client.get("/api/get-conversation/1234567890", headers=headers)
    assert conversation.status_code == 200, conversation.text
    assert conversation.json() == {
        "messages": [
            {
                "phone_number": "1234567890",
                "message_text": "Hello, this is a test message.",
                "timestamp": 1645845235,
                "direction": "sent",
            },
            {
                "phone_number": "1234567890",
                "message_text": "Hello back!",
                "timestamp": 1645845300,
                "direction": "received",
            },
        ]
    }


def test_a_number_is_found_with_or_without_its_plus(control_plane: LiveApi) -> None:
    api = control_plane
    headers = api.headers(Role.operator)
    plus = another(SENT, senderPhone="+1234567801", receiverPhone="+998901234567")
    assert api.client.post("/api/send-sms", json=plus, headers=headers).status_code == 200
    for number in ("1234567801", "+1234567801"):
        found = api.client.get(f"/api/get-conversation/{number}", headers=headers)
        assert found.status_code == 200, (number, found.text)
        (message,) = found.json()["messages"]
        assert message == {
            "phone_number": number,
            "message_text": "Hello, this is a test message.",
            "timestamp": 1645845235,
            "direction": "sent",
        }
    other = api.client.get("/api/get-conversation/998901234567", headers=headers)
    assert other.status_code == 200
    assert api.client.get("/api/get-conversation/1234567809", headers=headers).status_code == 404


def test_the_projects_own_conversation_keeps_its_shape(control_plane: LiveApi) -> None:
    api = control_plane
    headers = api.headers(Role.operator)
    own = another(SENT, senderPhone="1234567802")
    assert api.client.post("/api/send-sms", json=own, headers=headers).status_code == 200
    thread = api.client.get("/api/v1/messages/conversations/+1234567802", headers=headers)
    assert thread.status_code == 200, thread.text
    (item,) = thread.json()["items"]
    assert (item["direction"], item["at"], item["sender"]) == (
        "outbound",
        "2022-02-26T03:13:55Z",
        "+1234567802",
    )


def test_national_numbers_take_the_configured_region(tmp_path: Path) -> None:
    with live_api(tmp_path, SMSFLEET_PHONE_REGION="UZ") as api:
        headers = api.headers(Role.operator)
        national = SENT | {"senderPhone": "901234567", "receiverPhone": "998907654321"}
        assert api.client.post("/api/send-sms", json=national, headers=headers).status_code == 200
        for number in ("901234567", "+998901234567", "998901234567"):
            found = api.client.get(f"/api/get-conversation/{number}", headers=headers)
            assert found.status_code == 200, (number, found.text)
            assert found.json()["messages"][0]["phone_number"] == number
        other = api.client.get("/api/get-conversation/907654321", headers=headers)
        assert other.status_code == 200
