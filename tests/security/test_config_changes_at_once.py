"""Two changes of the fleet's configuration made at once never lose one another, on every
config backend: a pair edited while the success-rate policy pauses it keeps both the
edit and, when it came first, the pause; two edits of a pair, of a program or of a
template are each decided on the other; a session's restart asked while a start or a
move to another host is written stays asked; the supervisor's adoption of a session
never undoes a person's stop.

Each race is made to happen every time, not by chance: the change under test reads
through a store that lets another change (on a store of its own, as on another replica)
complete after that read, just before the write (`tests.support.interleaved`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast

import pytest

from smsfleet.audit.models import Actor, AuditAction, AuditEvent
from smsfleet.auth.models import Role
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import Conflict, Forbidden, ForceRequired, NotFound
from smsfleet.core.records import RecordStore
from smsfleet.messages import templates as templates_service
from smsfleet.messages.models import Template, TemplateCreate, TemplateUpdate
from smsfleet.pairs import lifecycle as pairs_lifecycle
from smsfleet.pairs import service as pairs_service
from smsfleet.pairs.models import Country, Pair, PairState, PairUpdate
from smsfleet.programs import service as programs_service
from smsfleet.programs.models import Program, ProgramUpdate
from smsfleet.sessions import service as sessions_service
from smsfleet.sessions.hosts import Hosts
from smsfleet.sessions.models import DesiredState, SessionAction, SessionSpec
from smsfleet.sessions.supervisor import LaunchFactory, Supervisor
from smsfleet.stores import ConfigStore
from tests.support.interleaved import Interleaved

CLOCK = SystemClock()
ADMIN = Actor(username="admin", role=Role.admin)
OPERATOR = Actor(username="operator", role=Role.operator)
KEY = "UZ_uzmobile"
SESSION = f"program1_{KEY}"


def _fleet(store: ConfigStore) -> Pair:
    """A country, two programs and a pair running the first."""
    now = CLOCK.now()
    store.countries.add(Country(code="UZ", name="Uzbekistan", cap=10))
    for name in ("program1", "program2"):
        store.programs.add(
            Program(name=name, command=["python3", f"{name}.py"], created_at=now, updated_at=now)
        )
    pair = Pair(
        key=KEY,
        country="UZ",
        operator="Uzmobile",
        slug="uzmobile",
        programs=["program1"],
        created_at=now,
        updated_at=now,
    )
    store.pairs.add(pair)
    return pair


def _stored_pair(store: ConfigStore) -> Pair:
    pair = store.pairs.get(KEY)
    assert pair is not None
    return pair


def _in_turn(store: ConfigStore, action: AuditAction) -> tuple[AuditEvent, AuditEvent]:
    """The two audited changes: the one written first (the change made meanwhile), then
    the other. Both may bear the same millisecond: told apart by what each replaced."""
    one, other = store.audit.recent(limit=2, action=action)
    return (one, other) if other.before == one.after else (other, one)


# --- pairs: the policy and people -------------------------------------------------------


def _edit_pair(
    store: ConfigStore,
    data: PairUpdate,
    pairs: RecordStore[Pair] | None = None,
    *,
    actor: Actor = OPERATOR,
) -> Pair:
    return pairs_service.update_pair(
        pairs=pairs or store.pairs,
        programs=store.programs,
        clock=CLOCK,
        actor=actor,
        key=KEY,
        data=data,
        audit=store.audit,
    )


def _policy_pauses(pairs: RecordStore[Pair], seen: Pair) -> Pair | None:
    return pairs_service.set_state_unless_changed(
        pairs=pairs,
        seen=seen,
        state=PairState.paused,
        reason="paused by the policy: success rate 10 % below 50 %",
        actor="policy",
        at=CLOCK.now(),
    )


def test_a_pair_edited_while_the_policy_paused_it_keeps_the_edit_and_runs(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The policy decided on the pair as it read it; a person changed the pair before the
    pause was written: the pause is not written, the next evaluation decides again."""
    seen = _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    pairs.before_next_writes(lambda: _edit_pair(elsewhere, PairUpdate(pause_threshold=0.2)))
    assert _policy_pauses(pairs, seen) is None
    assert pairs.pending == 0
    stored = _stored_pair(elsewhere)
    assert stored.pause_threshold == 0.2
    assert stored.state is PairState.enabled


def test_a_pause_by_the_policy_while_a_person_edited_the_pair_stays(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The person's edit read the pair running; the policy paused it before the edit was
    written: the edit is decided again on the paused pair, and keeps it paused."""
    seen = _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    pairs.before_next_writes(lambda: _policy_pauses(elsewhere.pairs, seen))
    edited = _edit_pair(config_store, PairUpdate(region="Tashkent"), pairs)
    assert pairs.pending == 0
    stored = _stored_pair(elsewhere)
    assert stored == edited
    assert (stored.region, stored.state, stored.state_actor) == (
        "Tashkent",
        PairState.paused,
        "policy",
    )


def test_two_edits_of_a_pair_at_once_keep_both(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    pairs.before_next_writes(
        lambda: _edit_pair(elsewhere, PairUpdate(programs=["program1", "program2"]))
    )
    _edit_pair(config_store, PairUpdate(pause_threshold=0.3, resume_threshold=0.6), pairs)
    assert pairs.pending == 0
    stored = _stored_pair(elsewhere)
    assert stored.programs == ["program1", "program2"]
    assert (stored.pause_threshold, stored.resume_threshold) == (0.3, 0.6)
    first, second = _in_turn(elsewhere, AuditAction.pair_updated)
    assert first.after is not None and first.after["pause_threshold"] is None
    assert second.before == first.after  # the audit shows one change after the other


def test_a_pair_changed_under_every_try_is_a_conflict_and_keeps_the_other_changes(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """Read again and decided again after each lost race, a few times, then refused."""
    _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    offered = 10
    regions = iter(f"region {n}" for n in range(offered))
    pairs.before_next_writes(
        *[lambda: _edit_pair(elsewhere, PairUpdate(region=next(regions)))] * offered
    )
    with pytest.raises(Conflict, match=f"pair {KEY} was being changed by another request"):
        _edit_pair(config_store, PairUpdate(pause_threshold=0.3), pairs)
    tries = offered - pairs.pending
    assert 1 < tries < offered
    stored = _stored_pair(elsewhere)
    assert stored.pause_threshold is None
    assert stored.region == f"region {tries - 1}"


def _delete_pair(store: ConfigStore, pairs: RecordStore[Pair] | None = None) -> None:
    pairs_service.delete_pair(
        pairs=pairs or store.pairs, actor=OPERATOR, key=KEY, audit=store.audit, clock=CLOCK
    )


def test_a_pair_marked_high_priority_while_an_operator_deleted_it_stays(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The operator's deletion read the pair unmarked; an admin marked it before the
    removal: the deletion is decided again on the marked pair, and refused."""
    _fleet(config_store)
    pairs = Interleaved(config_store.pairs)

    pairs.before_next_writes(
        lambda: _edit_pair(elsewhere, PairUpdate(is_high_priority=True), actor=ADMIN)
    )
    with pytest.raises(Forbidden, match="only an admin may delete the high-priority pair"):
        _delete_pair(config_store, pairs)
    assert pairs.pending == 0
    assert _stored_pair(elsewhere).is_high_priority
    assert elsewhere.audit.recent(limit=5, action=AuditAction.pair_deleted) == []
    [refused] = elsewhere.audit.recent(limit=5, action=AuditAction.pair_refused)
    assert refused.before is not None and refused.before["is_high_priority"] is True


def test_a_pair_paused_by_an_operator_while_an_admin_marked_it_is_asked_back(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The admin's marking read the pair running; an operator paused it before the marking
    was written: marked, it would stay paused and only an admin could resume it. The
    marking is decided again on the paused pair and asked back; the pause stands."""
    _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    pairs.before_next_writes(
        lambda: _edit_pair(elsewhere, PairUpdate(state=PairState.paused, state_reason="mine"))
    )
    with pytest.raises(ForceRequired, match="is paused by operator: marked high priority"):
        _edit_pair(config_store, PairUpdate(is_high_priority=True), pairs, actor=ADMIN)
    assert pairs.pending == 0
    stored = _stored_pair(elsewhere)
    assert (stored.is_high_priority, stored.state, stored.state_actor) == (
        False,
        PairState.paused,
        "operator",
    )


def test_of_two_deletions_of_a_pair_at_once_one_deletes_it(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    _fleet(config_store)
    pairs = Interleaved(config_store.pairs)
    pairs.before_next_writes(lambda: _delete_pair(elsewhere))
    with pytest.raises(NotFound):
        _delete_pair(config_store, pairs)
    assert elsewhere.pairs.get(KEY) is None
    assert len(elsewhere.audit.recent(limit=5, action=AuditAction.pair_deleted)) == 1


def test_a_program_deleted_while_it_was_assigned_is_kept_or_the_assignment_undone(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """Each looked at the other before writing: whichever writes last sees the other's
    write and stands down, so no pair is left with a program that is gone."""

    def delete(store: ConfigStore, name: str, programs: RecordStore[Program] | None = None) -> None:
        programs_service.delete_program(
            programs=programs or store.programs,
            pairs=store.pairs,
            audit=store.audit,
            clock=CLOCK,
            actor=ADMIN,
            name=name,
        )

    _fleet(config_store)
    # The assignment writes last: it finds program2 gone, and is undone.
    pairs = Interleaved(config_store.pairs)
    pairs.before_next_writes(lambda: delete(elsewhere, "program2"))
    with pytest.raises(Conflict, match="program 'program2' was deleted as it was assigned"):
        _edit_pair(config_store, PairUpdate(programs=["program1", "program2"]), pairs)
    assert _stored_pair(elsewhere).programs == ["program1"]
    assert elsewhere.programs.get("program2") is None

    # The deletion writes last: it finds program3 assigned, and puts it back.
    now = CLOCK.now()
    program3 = Program(
        name="program3", command=["python3", "p3.py"], created_at=now, updated_at=now
    )
    config_store.programs.add(program3)
    programs = Interleaved(config_store.programs)
    programs.before_next_writes(
        lambda: _edit_pair(elsewhere, PairUpdate(programs=["program1", "program3"]))
    )
    with pytest.raises(Conflict, match="program 'program3' was assigned to UZ_uzmobile"):
        delete(config_store, "program3", programs)
    assert elsewhere.programs.get("program3") == program3
    assert _stored_pair(elsewhere).programs == ["program1", "program3"]
    deleted = elsewhere.audit.recent(limit=5, action=AuditAction.program_deleted)
    assert [entry.target for entry in deleted] == ["program2"]


# --- programs and templates ------------------------------------------------------------


def _edit_program(
    store: ConfigStore,
    data: ProgramUpdate,
    tmp_path: Path,
    programs: RecordStore[Program] | None = None,
) -> Program:
    return programs_service.update_program(
        programs=programs or store.programs,
        pairs=store.pairs,
        audit=store.audit,
        clock=CLOCK,
        rules=programs_service.ProgramRules.build(dirs=[tmp_path], workdir=tmp_path),
        actor=ADMIN,
        name="program1",
        data=data,
    )


def test_two_edits_of_a_program_at_once_keep_both(
    config_store: ConfigStore, elsewhere: ConfigStore, tmp_path: Path
) -> None:
    _fleet(config_store)
    programs = Interleaved(config_store.programs)
    programs.before_next_writes(
        lambda: _edit_program(elsewhere, ProgramUpdate(provider="Twilio"), tmp_path)
    )
    _edit_program(
        config_store, ProgramUpdate(description="The primary gateway"), tmp_path, programs
    )
    assert programs.pending == 0
    stored = elsewhere.programs.get("program1")
    assert stored is not None
    assert (stored.provider, stored.description) == ("Twilio", "The primary gateway")


def _edit_template(
    store: ConfigStore, name: str, templates: RecordStore[Template] | None = None
) -> Template:
    return templates_service.update_template(
        templates=templates or store.templates,
        audit=store.audit,
        clock=CLOCK,
        actor=ADMIN,
        template_id="otp",
        data=TemplateUpdate(name=name, body=f"{name}: {{token}}"),
    )


def test_of_two_edits_of_a_template_at_once_the_later_replaces_the_earlier(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """Each edit replaces the whole wording: the one written last is decided again on the
    other, so the audit shows what it replaced, not the wording both read."""
    templates_service.create_template(
        templates=config_store.templates,
        audit=config_store.audit,
        clock=CLOCK,
        actor=ADMIN,
        data=TemplateCreate(id="otp", name="Code", body="Your code is {token}"),
    )
    templates = Interleaved(config_store.templates)
    templates.before_next_writes(lambda: _edit_template(elsewhere, "First"))
    _edit_template(config_store, "Second", templates)
    assert templates.pending == 0
    stored = elsewhere.templates.get("otp")
    assert stored is not None and stored.body == "Second: {token}"
    first, second = _in_turn(elsewhere, AuditAction.template_updated)
    assert first.after is not None and first.after["name"] == "First"
    assert second.before == first.after


# --- session specs ---------------------------------------------------------------------


def _act(
    store: ConfigStore, action: SessionAction, specs: RecordStore[SessionSpec] | None = None
) -> None:
    sessions_service.act(
        store=dataclasses.replace(store, session_specs=specs or store.session_specs),
        clock=CLOCK,
        actor=OPERATOR,
        name=SESSION,
        action=action,
    )


def _stored_spec(store: ConfigStore) -> SessionSpec:
    spec = store.session_specs.get(SESSION)
    assert spec is not None
    return spec


def test_a_restart_asked_while_a_start_was_written_stays_asked(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The start read the session stopped; a restart was asked before it wrote: the start
    is decided again on the session wanted running, and asks nothing more."""
    _fleet(config_store)
    before = sessions_service.sync_specs(store=config_store, clock=CLOCK)[0]
    specs = Interleaved(config_store.session_specs)
    specs.before_next_writes(lambda: _act(elsewhere, SessionAction.restart))
    _act(config_store, SessionAction.start, specs)
    assert specs.pending == 0
    stored = _stored_spec(elsewhere)
    assert stored.desired is DesiredState.running
    assert stored.restart_requested_at is not None
    assert stored.generation == before.generation + 1


def test_a_start_asked_while_the_session_moved_host_is_kept(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The session follows its pair to another host; a person started it between the
    move's read and its write: both stand."""
    pair = _fleet(config_store)
    sessions_service.sync_specs(store=config_store, clock=CLOCK)
    moved = pair.model_copy(update={"host": "host2"})
    specs = Interleaved(config_store.session_specs)
    specs.before_next_writes(lambda: _act(elsewhere, SessionAction.start))
    sessions_service.sync_specs(
        store=dataclasses.replace(config_store, session_specs=specs), clock=CLOCK, pairs=[moved]
    )
    assert specs.pending == 0
    stored = _stored_spec(elsewhere)
    assert (stored.host, stored.desired, stored.desired_actor) == (
        "host2",
        DesiredState.running,
        "operator",
    )


def test_a_session_stopped_while_the_supervisor_adopted_it_stays_stopped(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The supervisor found the session's program running and wants it so, decided on
    the spec its tick read; a person stopped it before that was written: the stop stands,
    and the tick goes on with the session wanted stopped."""
    _fleet(config_store)
    seen = sessions_service.sync_specs(store=config_store, clock=CLOCK)[0]
    specs = Interleaved(config_store.session_specs)
    supervisor = Supervisor(
        store=dataclasses.replace(config_store, session_specs=specs),
        hosts=cast(Hosts, None),  # not reached: only the adoption's write is
        clock=CLOCK,
        launch=cast(LaunchFactory, None),
    )
    specs.before_next_writes(lambda: _act(elsewhere, SessionAction.stop))
    kept = supervisor._want_running(seen, "found running", CLOCK.now())
    assert specs.pending == 0
    stored = _stored_spec(elsewhere)
    assert (stored.desired, stored.desired_actor) == (DesiredState.stopped, "operator")
    assert stored.generation == seen.generation + 1
    assert kept == stored


def _mark(store: ConfigStore) -> Pair:
    """An admin marks the pair high priority, as the API does: its stopped sessions start."""
    return pairs_lifecycle.update(
        store=store,
        clock=CLOCK,
        actor=ADMIN,
        key=KEY,
        data=PairUpdate(is_high_priority=True),
        force=False,
        hosts=["local"],
        max_sessions=100,
        signals=pairs_lifecycle.NoSignals(),
    )


def _running(store: ConfigStore) -> SessionSpec:
    _fleet(store)
    sessions_service.sync_specs(store=store, clock=CLOCK)
    _act(store, SessionAction.start)
    return _stored_spec(store)


def test_a_session_stopped_while_an_admin_marked_its_pair_runs(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The operator's stop read the pair unmarked; an admin marked it before the stop was
    written, and the marking found the session running, so started nothing: the stop,
    looking at the pair after its write, is undone and refused. The session runs."""
    seen = _running(config_store)
    specs = Interleaved(config_store.session_specs)
    specs.before_next_writes(lambda: _mark(elsewhere))
    with pytest.raises(Forbidden, match=f"only an admin may stop {SESSION}: its pair was marked"):
        _act(config_store, SessionAction.stop, specs)
    assert specs.pending == 0
    stored = _stored_spec(elsewhere)
    assert (stored.desired, stored.desired_actor) == (seen.desired, seen.desired_actor)
    assert stored.desired is DesiredState.running
    assert stored.generation == seen.generation + 2  # the stop, and its undoing
    assert elsewhere.audit.recent(limit=5, action=AuditAction.session_stopped) == []
    [refused] = elsewhere.audit.recent(limit=5, action=AuditAction.session_refused)
    assert (refused.actor, refused.target) == ("operator", SESSION)
    events = elsewhere.session_events.recent(limit=5, session=SESSION)
    assert "stop_requested" not in {event.kind.value for event in events}


def test_a_stop_asked_again_while_the_first_is_undone_leaves_the_session_running(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """As above, and the stop sent twice (a double click): the second lands between the
    first's write and its undoing, reads the pair marked and is refused, though the
    session reads stopped; the undoing then finds its own stop and takes it back."""
    _running(config_store)
    specs = Interleaved(config_store.session_specs)

    def stop_again() -> None:
        # Another request: it reads the pair marked, and is refused on its own.
        with pytest.raises(Forbidden, match="its pair is high priority"):
            _act(elsewhere, SessionAction.stop)

    specs.before_next_writes(lambda: _mark(elsewhere), stop_again)
    with pytest.raises(Forbidden, match="its pair was marked"):
        _act(config_store, SessionAction.stop, specs)
    assert specs.pending == 0
    assert _stored_pair(elsewhere).is_high_priority
    assert _stored_spec(elsewhere).desired is DesiredState.running
    assert elsewhere.audit.recent(limit=5, action=AuditAction.session_stopped) == []


def test_a_stop_decided_before_another_stop_and_a_marking_is_decided_again_and_refused(
    config_store: ConfigStore, elsewhere: ConfigStore
) -> None:
    """The review's race: one operator's stop read the session running and its pair
    unmarked; before it wrote, another operator's stop and an admin's marking (which
    started the session again) came. Decided again on the session and the pair as they
    are then, it is refused: the session runs."""
    _running(config_store)
    specs = Interleaved(config_store.session_specs)

    def stop_and_mark() -> None:
        _act(elsewhere, SessionAction.stop)
        _mark(elsewhere)

    specs.before_next_writes(stop_and_mark)
    with pytest.raises(Forbidden, match="its pair is high priority"):
        _act(config_store, SessionAction.stop, specs)
    stored = _stored_spec(elsewhere)
    assert (stored.desired, stored.desired_actor) == (DesiredState.running, "admin")
