"""The composition root: one of each shared resource per process, one owner per table."""

from __future__ import annotations

import gc
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from smsfleet.api import create_app
from smsfleet.core.settings import Settings
from tests.support.waiting import eventually

SOURCE = Path(__file__).resolve().parents[2] / "src" / "smsfleet"
# Any way a module could name the ledger's table: its object, or the table in SQL text.
NAMES_THE_LEDGER = re.compile(
    r"\battempts_table\b|\b(?:FROM|JOIN|INTO|UPDATE)\s+`?attempts\b|\btable\(\s*[\"']attempts[\"']",
    re.IGNORECASE,
)


def _engines_on(url: str) -> list[Engine]:
    gc.collect()
    # By type(), which never dereferences: isinstance() asks a weakref proxy whose
    # object is gone for its class, and that raises ReferenceError.
    return [o for o in gc.get_objects() if issubclass(type(o), Engine) and str(o.url) == url]


def test_a_control_plane_opens_one_engine_per_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, web_dir=tmp_path / "no-web", supervise=False)
    metrics_url, config_url = settings.resolved_metrics_url, settings.resolved_config_url
    assert metrics_url != config_url
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        # Every feature on the metrics store shares one engine (and one pool).
        assert len(_engines_on(metrics_url)) == 1
        assert len(_engines_on(config_url)) == 1


def test_no_module_but_the_ledgers_own_names_the_attempts_table() -> None:
    owner = SOURCE / "attempts"
    migrations = SOURCE / "metrics_migrations" / "versions"  # they create and alter it
    naming = [
        str(path.relative_to(SOURCE))
        for path in sorted(SOURCE.rglob("*.py"))
        if not path.is_relative_to(owner)
        and not path.is_relative_to(migrations)
        and NAMES_THE_LEDGER.search(path.read_text())
    ]
    assert naming == []
    # The check finds what it looks for.
    assert NAMES_THE_LEDGER.search((owner / "store.py").read_text())


def test_two_fleets_on_one_redis_keep_to_their_own_keys(tmp_path: Path, redis_url: str) -> None:
    """Each fleet (its own metrics database) leads its own sessions and relays its own
    events: the keys and channels are named after the database."""
    apps = [
        create_app(
            Settings(
                data_dir=tmp_path / name,
                web_dir=tmp_path / "no-web",
                redis_url=redis_url,
                screen_dir=tmp_path / f"screens-{name}",
                supervisor_interval_seconds=0.1,
            )
        )
        for name in ("one", "two")
    ]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:

        def both_lead() -> bool:
            roles = [c.get("/readyz").json()["supervisor"] for c in (first, second)]
            return roles == ["leader", "leader"]

        eventually(both_lead, what="both fleets' supervisors to lead")
        fanouts = [app.state.services.bus.fanout for app in apps]
        assert all(fanouts) and len({f._channel for f in fanouts if f is not None}) == 2
