"""Worker tokens as the control plane issues them: for a session as its spec stands, so a
test that is a session's program presents the token its program would be started with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from smsfleet.core.security import worker_token
from smsfleet.core.settings import Settings
from smsfleet.stores import ConfigStore, open_config_store

__all__ = ["ANY_CREATION", "issued_token", "issued_token_in"]

# For a stand-in control plane that keeps no session specs: any creation time will do.
ANY_CREATION = datetime(2026, 1, 1, tzinfo=UTC)


def issued_token(store: ConfigStore, *, secret: str, session: str) -> str:
    """The worker token of `session` as `store` holds its spec (its creation time)."""
    spec = store.session_specs.get(session)
    assert spec is not None, f"no session {session!r} to issue a token for"
    return worker_token(secret=secret, session=session, created_at=spec.created_at)


def issued_token_in(data_dir: Path, *, secret: str, session: str) -> str:
    """`issued_token` of a control plane in a process of its own, on `data_dir`'s store."""
    store = open_config_store(Settings(data_dir=data_dir).resolved_config_url)
    try:
        return issued_token(store, secret=secret, session=session)
    finally:
        store.close()
