"""The chaos suite: a real fleet through one fault after another, then the books balance.

The control plane (`smsfleet serve`) keeps its metrics in MariaDB and shares its limiter
and leadership through Redis, each reached through a proxy the suite can cut; alerts go
to a Telegram stand-in; the programs run in GNU screen against the gateway simulator.
The faults, in turn: Telegram down while a program is killed (its crash alert waits
in the outbox); Redis unreachable (the limiter fails closed); MariaDB unreachable (the
API answers 503, the programs keep their reports in their spools); the simulator down
(sends fail at the gateway); the control plane killed with SIGKILL and started again.

Then: every SMS the simulator saw is recorded once with its outcome, and no attempt is
recorded that the simulator did not see but for sends it refused while it was down;
the crash alert reached Telegram exactly once, and its resolution after it, in order
(a message the control plane's kill cut short goes out again, saying so);
no 60-second window of the country holds more grants than its cap. The figures are
written to `test-artifacts/chaos.md`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smsfleet.alerts.text import SENT_AGAIN_NOTE
from tests.support.backends import MARIADB_HOST, MARIADB_PORT, mariadb_database
from tests.support.chaos import CuttableProxy
from tests.support.fleet import (
    REPO,
    REPORTED_AS,
    SESSIONS,
    STOP_TIMEOUT,
    seed,
    sessions_running,
    started_rig,
    stop_sessions,
)
from tests.support.telegram import SentMessage, TelegramStandIn
from tests.support.waiting import START_TIMEOUT, eventually

TOKEN = "555:chaos"
CHAT = "-100777"
CAP = 60
FAULT_SECONDS = 5.0
BETWEEN_SECONDS = 4.0
REDIS_PORT = int(os.environ.get("SMSFLEET_TEST_REDIS_PORT", "6379"))
ARTIFACT = REPO / "test-artifacts" / "chaos.md"


def _at(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@contextmanager
def proxied_stores() -> Iterator[tuple[str, str, CuttableProxy, CuttableProxy]]:
    with (
        mariadb_database() as direct,
        CuttableProxy(MARIADB_HOST, MARIADB_PORT) as mariadb,
        CuttableProxy("127.0.0.1", REDIS_PORT) as redis_proxy,
    ):
        through = direct.replace(f"{MARIADB_HOST}:{MARIADB_PORT}", f"127.0.0.1:{mariadb.port}")
        yield direct, through, mariadb, redis_proxy


def attempts(url: str) -> dict[str, dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT * FROM attempts")).mappings().all()
    finally:
        engine.dispose()
    return {row["id"]: dict(row) for row in rows}


def busiest_window(times: list[datetime]) -> int:
    times = sorted(times)
    window = timedelta(seconds=60)
    return max((sum(1 for t in times if s <= t < s + window) for s in times), default=0)


def test_the_fleet_rides_out_every_fault(tmp_path: Path) -> None:
    faults: list[tuple[str, str]] = []
    with (
        proxied_stores() as (direct_url, metrics_url, mariadb, redis_proxy),
        TelegramStandIn(token=TOKEN) as telegram,
    ):
        env = {
            "SMSFLEET_METRICS_URL": metrics_url,
            "SMSFLEET_REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}/0",
            "SMSFLEET_TELEGRAM_API_URL": telegram.url,
            "SMSFLEET_TELEGRAM_BOT_TOKEN": TOKEN,
            "SMSFLEET_TELEGRAM_CHAT_IDS": CHAT,
            "SMSFLEET_ALERT_RECOVERY_SECONDS": "2",
            "SMSFLEET_LEADER_TTL_SECONDS": "3",
        }
        with started_rig(tmp_path, env) as rig:
            with rig.admin() as client:
                seed(client)
                assert client.patch("/api/v1/countries/UZ", json={"cap": CAP}).status_code == 200
                # The simulator's outage fails every send for a while: the policy would
                # rightly pause the route; this suite wants the fleet to ride it out.
                never_paused = {"pause_threshold": 0.0}
                pair = client.patch("/api/v1/pairs/UZ_uzmobile", json=never_paused)
                assert pair.status_code == 200, pair.text
                eventually(lambda: sessions_running(client), START_TIMEOUT, "the sessions to run")
                eventually(lambda: len(attempts(direct_url)) >= 4, 20, "the fleet to send")

                def fault(name: str) -> datetime:
                    faults.append((name, datetime.now(UTC).strftime("%H:%M:%S")))
                    return datetime.now(UTC)

                # 1. Telegram down while a program is killed: the alert waits in the outbox.
                killed_at = fault("Telegram down, a program killed (SIGKILL)")
                telegram.stop()
                crashed = SESSIONS[0]
                os.kill(client.get(f"/api/v1/sessions/{crashed}").json()["pid"], signal.SIGKILL)
                time.sleep(FAULT_SECONDS)
                telegram.start()
                time.sleep(BETWEEN_SECONDS)

                # 2. Redis unreachable: no grant without the limiter's word.
                fault("Redis unreachable")
                redis_proxy.cut()
                time.sleep(FAULT_SECONDS)
                redis_proxy.restore()
                time.sleep(BETWEEN_SECONDS)

                # 3. MariaDB unreachable: 503s; reports wait in the programs' spools.
                fault("MariaDB unreachable")
                mariadb.cut()
                time.sleep(FAULT_SECONDS)
                mariadb.restore()
                time.sleep(BETWEEN_SECONDS)

                # 4. The gateway simulator down: sends fail at the gateway.
                simulator_down = fault("gateway simulator down")
                rig.simulator.stop()
                time.sleep(FAULT_SECONDS)
                rig.simulator.start()
                simulator_up = datetime.now(UTC)
                time.sleep(BETWEEN_SECONDS)

                # 5. The control plane killed and started again on the same port.
                fault("control plane killed (SIGKILL) for 5 s")
                rig.control_plane.kill()
                time.sleep(FAULT_SECONDS)
                rig.control_plane.start()

            with rig.admin() as client:
                try:
                    eventually(lambda: sessions_running(client), 30, "the sessions after it all")
                except AssertionError as error:
                    states = client.get("/api/v1/sessions").text[:800]
                    raise AssertionError(f"{error}; sessions: {states}") from None
                time.sleep(BETWEEN_SECONDS)
                stop_sessions(client, timeout=STOP_TIMEOUT)
            spools = rig.data_dir / "spool"
            eventually(lambda: not any(spools.glob("*/*.json")), 20, "the spools to empty")

            def about_the_crash() -> list[SentMessage]:
                return [
                    m
                    for m in telegram.messages
                    if "session crashed" in m.text and not m.text.endswith(SENT_AGAIN_NOTE)
                ]

            eventually(lambda: len(about_the_crash()) >= 2, 30, "the crash and its resolution")
            crash_texts = [m.text for m in about_the_crash()]
            all_texts = telegram.texts()
            truth = rig.truth()
            recorded = attempts(direct_url)

    triggers = [r["trigger_id"] for r in truth]
    completed = {i: a for i, a in recorded.items() if a["outcome"] is not None}
    # Every SMS the simulator saw: recorded once, with its outcome. The one exception:
    # an SMS the killed program sent and never lived to report; its lease is still open
    # (it closes as `lease_expired` when the lease runs out).
    assert len(triggers) == len(set(triggers)), "an SMS was sent twice"
    in_flight = set(triggers) - set(completed)
    assert all(
        recorded[i]["session"] == crashed
        and killed_at - timedelta(seconds=10) <= _at(recorded[i]["leased_at"]) <= killed_at
        for i in in_flight
    ), in_flight
    assert len(in_flight) <= 1
    for record in truth:
        if record["trigger_id"] in in_flight:
            continue
        attempt = completed[record["trigger_id"]]
        if attempt["outcome"] == "error":
            continue  # interrupted by a stop or a kill before the gateway answered
        assert attempt["outcome"] == REPORTED_AS.get(record["outcome"], "send_failed"), record
    # Recorded but unseen by the simulator: only sends it could not take while down,
    # or leases a kill swallowed before any program saw them.
    unseen = {i: a for i, a in recorded.items() if i not in set(triggers)}
    margin = timedelta(seconds=15)
    for attempt in unseen.values():
        leased = _at(attempt["leased_at"])
        during_outage = simulator_down - margin <= leased <= simulator_up + margin
        assert attempt["outcome"] in (None, "send_failed", "error") and (
            during_outage or attempt["outcome"] != "send_failed"
        ), attempt
    # The crash alert: once, then its resolution, in order; nothing said twice but a
    # message whose send the control plane's kill cut short, said again as a repeat.
    repeats = [text for text in all_texts if text.endswith(SENT_AGAIN_NOTE)]
    said = [text for text in all_texts if text not in repeats]
    for repeat in repeats:
        original = repeat.removesuffix(f"\n{SENT_AGAIN_NOTE}")
        assert original in said and said.index(original) < all_texts.index(repeat), repeat
    assert len(repeats) <= 1, repeats
    assert crash_texts[0].startswith("🟠 <b>WARNING</b> · session crashed · UZ")
    assert crashed in crash_texts[0]
    assert crash_texts[1].startswith("✅ <b>RESOLVED</b> · session crashed · UZ")
    assert len(crash_texts) == 2
    assert len(said) == len(set(said)), "a message was sent twice"
    busiest = busiest_window([_at(a["leased_at"]) for a in recorded.values()])
    assert busiest <= CAP

    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(f"| {at} | {name} |" for name, at in faults)
    ARTIFACT.write_text(
        "# Chaos suite\n\n| injected at (UTC) | fault |\n| --- | --- |\n"
        f"{rows}\n\n| figure | value |\n| --- | --- |\n"
        f"| SMS seen by the simulator | {len(truth)} |\n"
        f"| attempts recorded for them | {len(set(triggers) & set(recorded))} (equal; "
        f"{len(in_flight)} still in flight from the killed program) |\n"
        f"| attempts the simulator never saw (refused while down, or swallowed by a kill) "
        f"| {len(unseen)} |\n"
        f"| crash alerts sent / expected | {len(crash_texts)} / 2 (firing, resolved) |\n"
        f"| Telegram messages, all / distinct / said again after the kill | {len(all_texts)}"
        f" / {len(set(said))} / {len(repeats)} |\n"
        f"| busiest 60-second window / cap | {busiest} / {CAP} |\n"
    )
    print(ARTIFACT.read_text())
