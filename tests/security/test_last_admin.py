"""Two admins taking each other away at once (disabling, demoting or deleting the other,
each allowed on what it read) never leave the fleet without an active admin, on every
config backend: the change written second is undone and refused.

The race is made to happen every time: the request under test reads through a store that
lets the other admin's request (on a store of its own, as on another replica) complete
after that read, just before the write."""

from __future__ import annotations

import pytest

from smsfleet.audit.models import Actor
from smsfleet.auth import service as auth_service
from smsfleet.auth.models import Role, User, UserUpdate
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import Conflict
from smsfleet.core.records import RecordStore
from smsfleet.stores import ConfigStore
from tests.support.fakes import stored_account
from tests.support.interleaved import Interleaved

CLOCK = SystemClock()


def _admins(store: ConfigStore, *names: str) -> None:
    for name in names:
        stored_account(store, name, Role.admin)


def _update(
    store: ConfigStore,
    by: str,
    who: str,
    data: UserUpdate,
    users: RecordStore[User] | None = None,
) -> None:
    auth_service.update_user(
        users=users or store.users,
        audit=store.audit,
        clock=CLOCK,
        actor=Actor(username=by, role=Role.admin),
        username=who,
        data=data,
    )


def _active(store: ConfigStore) -> list[str]:
    return sorted(u.username for u in store.users.list() if u.role is Role.admin and not u.disabled)


TAKEN_AWAY = [UserUpdate(disabled=True), UserUpdate(role=Role.viewer)]


@pytest.mark.parametrize("data", TAKEN_AWAY, ids=["disable", "demote"])
def test_two_admins_taking_each_other_away_at_once_leave_one(
    config_store: ConfigStore, elsewhere: ConfigStore, data: UserUpdate
) -> None:
    _admins(config_store, "ra", "rb")
    users = Interleaved(config_store.users)
    # rb takes ra away while ra's request, having read rb active, is about to write.
    users.before_next_writes(lambda: _update(elsewhere, "rb", "ra", data))
    with pytest.raises(Conflict, match="rb was the last active admin"):
        _update(config_store, "ra", "rb", data, users)
    assert users.pending == 0
    assert _active(elsewhere) == ["rb"]


def test_an_admin_deleted_while_taking_the_other_away_is_put_back(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    _admins(config_store, "ra", "rb")
    users = Interleaved(config_store.users)
    users.before_next_writes(lambda: _update(elsewhere, "rb", "ra", UserUpdate(disabled=True)))
    with pytest.raises(Conflict, match="last active admin"):
        auth_service.delete_user(
            users=users,
            audit=config_store.audit,
            clock=CLOCK,
            actor=Actor(username="ra", role=Role.admin),
            username="rb",
        )
    assert users.pending == 0
    assert _active(elsewhere) == ["rb"]


def test_taking_one_of_three_away_at_once_stands(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """Only a change that leaves none is undone."""
    _admins(config_store, "ra", "rb", "rc")
    users = Interleaved(config_store.users)
    users.before_next_writes(lambda: _update(elsewhere, "rb", "ra", UserUpdate(disabled=True)))
    _update(config_store, "rc", "rb", UserUpdate(disabled=True), users)
    assert _active(elsewhere) == ["rc"]
