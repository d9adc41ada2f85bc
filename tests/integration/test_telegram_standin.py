"""The Telegram stand-in answers as the Bot API does, and fails when told to."""

from __future__ import annotations

import time

import httpx

from tests.support.telegram import TelegramStandIn, html_error

TOKEN = "123456:standin-token"


def test_messages_are_accepted_and_recorded_in_order() -> None:
    with TelegramStandIn(token=TOKEN) as telegram:
        send = f"{telegram.url}/bot{TOKEN}/sendMessage"
        first = httpx.post(send, json={"chat_id": -100, "text": "<b>one</b>", "parse_mode": "HTML"})
        second = httpx.post(send, data={"chat_id": "-200", "text": "two"})
        assert first.status_code == second.status_code == 200
        assert first.json()["ok"] is True
        assert first.json()["result"]["chat"]["id"] == -100
        assert [m.text for m in telegram.messages] == ["<b>one</b>", "two"]
        assert telegram.texts(-200) == ["two"]


def test_what_the_bot_api_refuses() -> None:
    with TelegramStandIn(token=TOKEN) as telegram:
        send = f"{telegram.url}/bot{TOKEN}/sendMessage"
        wrong_token = httpx.post(f"{telegram.url}/bot1:other/sendMessage", json={"chat_id": 1})
        assert (wrong_token.status_code, wrong_token.json()["ok"]) == (401, False)
        assert httpx.post(send, json={"text": "no chat"}).status_code == 400
        assert httpx.post(send, json={"chat_id": 1, "text": "x" * 4097}).status_code == 400
        bad_html = httpx.post(send, json={"chat_id": 1, "text": "a <x> b", "parse_mode": "HTML"})
        assert bad_html.status_code == 400
        assert "can't parse entities" in bad_html.json()["description"]
        assert telegram.messages == []
        assert telegram.requests == 4


def test_scripted_failures_then_recovery() -> None:
    with TelegramStandIn(token=TOKEN) as telegram:
        send = f"{telegram.url}/bot{TOKEN}/sendMessage"
        telegram.fail_next(1, status=429, retry_after=3)
        telegram.fail_next(1, status=502)
        limited = httpx.post(send, json={"chat_id": 1, "text": "a"})
        assert limited.status_code == 429
        assert limited.json()["parameters"]["retry_after"] == 3
        assert httpx.post(send, json={"chat_id": 1, "text": "a"}).status_code == 502
        # A window a slow machine's next request always falls in (0.3 s did not, once).
        telegram.fail_for(3.0)
        assert httpx.post(send, json={"chat_id": 1, "text": "a"}).status_code == 500
        time.sleep(3.05)
        assert httpx.post(send, json={"chat_id": 1, "text": "a"}).status_code == 200
        assert telegram.texts() == ["a"]


def test_html_is_checked_as_telegram_does() -> None:
    assert html_error("<b>bold</b> &amp; <i>it</i> &lt;tag&gt;") is None
    assert html_error("<b>open") is not None
    assert html_error("<script>x</script>") is not None
    assert html_error("</b>") is not None
