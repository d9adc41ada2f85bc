"""A real fleet: a program killed in its screen session reaches Telegram, then its recovery.

The control plane runs as `smsfleet serve` with a Telegram stand-in for the Bot API;
the crash is a SIGKILL of the program's process, as an out-of-memory kill would be.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.support.fleet import (
    SESSIONS,
    seed,
    sessions_running,
    started_rig,
)
from tests.support.telegram import SentMessage, TelegramStandIn
from tests.support.waiting import START_TIMEOUT, eventually

TOKEN = "777:crash-test"
CHAT = "-1001"
RECOVERY_SECONDS = 3


def test_a_crash_reaches_telegram_within_seconds_and_its_recovery_follows(
    tmp_path: Path,
) -> None:
    with TelegramStandIn(token=TOKEN) as telegram:
        env = {
            "SMSFLEET_TELEGRAM_API_URL": telegram.url,
            "SMSFLEET_TELEGRAM_BOT_TOKEN": TOKEN,
            "SMSFLEET_TELEGRAM_CHAT_IDS": CHAT,
            "SMSFLEET_ALERT_RECOVERY_SECONDS": str(RECOVERY_SECONDS),
        }
        with started_rig(tmp_path, env) as rig, rig.admin() as client:
            seed(client)
            eventually(lambda: sessions_running(client), START_TIMEOUT, "the sessions to run")
            session = SESSIONS[0]
            pid = client.get(f"/api/v1/sessions/{session}").json()["pid"]
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)

            def about_it() -> list[SentMessage]:
                # Other rules (the success rate of the route) may speak too.
                return [m for m in telegram.messages if "session crashed" in m.text]

            eventually(lambda: len(about_it()) >= 1, 10, "the crash on Telegram")
            crash = about_it()[0]
            assert crash.chat_id == CHAT and crash.parse_mode == "HTML"
            assert crash.text.startswith("🟠 <b>WARNING</b> · session crashed · UZ")
            assert f"{session} killed by signal 9 (SIGKILL)" in crash.text
            assert crash.received_at - killed_at <= 5.0

            # The supervisor restarts it after its backoff; up for the recovery time, the
            # alert resolves.
            eventually(lambda: len(about_it()) >= 2, 20, "the recovery on Telegram")
            assert about_it()[1].received_at - killed_at >= RECOVERY_SECONDS
            resolved = about_it()[1]
            assert resolved.text.startswith("✅ <b>RESOLVED</b> · session crashed · UZ")
            assert f"<b>{session}</b>: cleared after" in resolved.text
            alerts = client.get("/api/v1/alerts", params={"rule": "session_crashed"}).json()
            assert [(a["subject"], a["state"], a["notifications"]) for a in alerts] == [
                (session, "resolved", 2)
            ]
            assert len(about_it()) == 2
