"""Countries and country-operator pairs. Keyword-only functions taking their stores."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Any

import pycountry
from slugify import slugify

from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, AuditAction, AuditEvent
from smsfleet.auth.models import Role, User
from smsfleet.core import phones
from smsfleet.core.clock import Clock
from smsfleet.core.errors import Conflict, Forbidden, ForceRequired, NotFound, ValidationFailed
from smsfleet.core.records import (
    EventKey,
    EventLog,
    RecordStore,
    change_record,
    delete_record,
    holds_already,
    stamp_after,
    write_if_unchanged,
)
from smsfleet.core.settings import LOCAL_HOST
from smsfleet.pairs.models import (
    CapChange,
    Country,
    CountryUpdate,
    Pair,
    PairCreate,
    PairPublic,
    PairState,
    PairUpdate,
    pair_key,
)
from smsfleet.programs.models import Program


def _check_host(host: str, hosts: Collection[str]) -> None:
    if host not in hosts:
        known = ", ".join(hosts)
        raise _field_error("host", f"unknown host {host!r}; the inventory has {known}")


def _field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed.for_field(field, message, message=message)


# --- countries ---------------------------------------------------------------


def iso_countries(default_cap: int) -> list[Country]:
    """Every ISO 3166-1 country, named as the maintained dataset names it."""
    return [
        Country(code=entry.alpha_2, name=getattr(entry, "common_name", entry.name), cap=default_cap)
        for entry in pycountry.countries
    ]


def ensure_countries(*, countries: RecordStore[Country], default_cap: int) -> int:
    """Add the countries the store lacks (caps already set are kept); returns how many."""
    return countries.add_missing(iso_countries(default_cap))


def get_country(*, countries: RecordStore[Country], code: str) -> Country:
    country = countries.get(code.upper())
    if country is None:
        raise NotFound(f"unknown country {code!r}: use an ISO 3166-1 alpha-2 code")
    return country


def resolve_country(*, countries: RecordStore[Country], text: str) -> Country:
    """A country by ISO code or by name ("UZ", "Uzbekistan", "uzbekistan")."""
    text = text.strip()
    if len(text) == 2 and text.isalpha():
        return get_country(countries=countries, code=text)
    try:
        code = pycountry.countries.lookup(text).alpha_2
    except LookupError:
        wanted = text.casefold()
        matches = [c for c in countries.list() if c.name.casefold() == wanted]
        if not matches:
            raise NotFound(f"unknown country {text!r}") from None
        return matches[0]
    return get_country(countries=countries, code=code)


def update_country(
    *,
    countries: RecordStore[Country],
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    code: str,
    data: CountryUpdate,
    confirm_above: int,
    force: bool = False,
) -> Country:
    """Set a country's cap, audited; one raised above `confirm_above` takes `force` (and
    is audited as forced)."""
    forced = False

    def change(country: Country) -> dict[str, object]:
        nonlocal forced
        if data.cap == country.cap:
            return {}
        forced = data.cap > max(confirm_above, country.cap)
        if forced and not force:
            raise ForceRequired(
                f"a cap of {data.cap} a minute for {country.code} is above {confirm_above},"
                " the most set without force: repeat with force to set it",
                details={"confirm_above": confirm_above},
            )
        return {"cap": data.cap, "previous_cap": country.cap, "cap_changed_at": clock.now()}

    # Written only while the cap is as read, so the audit's `before` is what it replaced.
    before, country = change_record(
        countries,
        code.upper(),
        change,
        read=lambda: get_country(countries=countries, code=code),
        decided_on={"cap"},
        what=f"country {code.upper()}",
    )
    if country == before:
        return country  # the same cap again: nothing changed, nothing to audit
    audit_service.record(
        audit=audit,
        clock=clock,
        actor=actor,
        action=AuditAction.country_updated,
        target=country.code,
        before=before,
        after=country,
        forced=forced,
        reason=data.reason,
    )
    return country


# Changes read a page at a time; more than the most in a range is refused, not cut: a
# trend drawn against some of them would draw caps that were not.
CAP_CHANGES_PAGE = 1_000
CAP_CHANGES_AT_MOST = 10_000


def cap_changes(
    *,
    audit: EventLog[AuditEvent],
    since: datetime,
    page: int = CAP_CHANGES_PAGE,
    at_most: int = CAP_CHANGES_AT_MOST,
) -> list[CapChange]:
    """The countries' cap changes made at or after `since`, oldest first, from the audit
    log (kept `SMSFLEET_AUDIT_RETENTION_DAYS`): a country's cap before its first is that
    change's `previous_cap`, after its last its cap now. More than `at_most` entries:
    `ValidationFailed` on `since`."""
    entries: list[AuditEvent] = []
    while True:
        found = audit.recent(
            limit=min(page, at_most + 1 - len(entries)),
            older_than=EventKey(at=entries[-1].at, id=entries[-1].id) if entries else None,
            since=since,
            action=AuditAction.country_updated.value,
        )
        entries.extend(found)
        if len(entries) > at_most:
            raise ValidationFailed.for_field(
                "since", f"more than {at_most:,} cap changes since then: ask for a later since"
            )
        if len(found) < page:
            break
    changes = []
    for entry in reversed(entries):
        before, after = (entry.before or {}).get("cap"), (entry.after or {}).get("cap")
        if isinstance(before, int) and isinstance(after, int) and before != after:
            # When the country says it changed, not when its entry was written after.
            at = (entry.after or {}).get("cap_changed_at") or entry.at
            changes.append(CapChange(country=entry.target, at=at, cap=after, previous_cap=before))
    return changes


# --- pairs -------------------------------------------------------------------

# What every change of a pair is written on: its `updated_at`, which each write moves on
# (`stamp_after`), is as read, so nothing else changed it meanwhile.
PAIR_VERSION = frozenset({"updated_at"})


def operator_slug(operator: str) -> str:
    slug = slugify(operator, max_length=32, word_boundary=True)
    if not slug:
        raise _field_error("operator", "the operator name must contain letters or digits")
    return slug


def normalize_phone_numbers(numbers: Iterable[str], country: str) -> list[str]:
    """E.164 forms of valid numbers of `country`; duplicates removed, order kept."""
    normalized: list[str] = []
    errors: list[dict[str, str]] = []
    for index, raw in enumerate(numbers):
        try:
            e164 = phones.of_country(raw, country)
        except ValueError as refused:
            errors.append({"field": f"phone_numbers.{index}", "message": str(refused)})
            continue
        if e164 not in normalized:
            normalized.append(e164)
    if errors:
        raise ValidationFailed("invalid test phone numbers", details=errors)
    return normalized


def _check_numbers_free(pairs: RecordStore[Pair], numbers: list[str], key: str) -> None:
    """A test number belongs to one pair: it awaits one code at a time, and two pairs
    leasing it apart would each send it one while the other's is awaited."""
    owners = {
        number: other.key
        for other in pairs.list()
        if other.key != key
        for number in other.phone_numbers
    }
    taken = [
        {
            "field": f"phone_numbers.{index}",
            "message": f"{number} is a test number of {owners[number]}",
        }
        for index, number in enumerate(numbers)
        if number in owners
    ]
    if taken:
        raise Conflict(
            "; ".join(entry["message"] for entry in taken)
            + ": a number awaits one code at a time, so it belongs to one pair",
            details=taken,
        )


def _check_programs(programs: RecordStore[Program], names: list[str]) -> list[str]:
    known = {program.name for program in programs.list()}
    errors = [
        {"field": f"programs.{index}", "message": f"unknown program {name!r}"}
        for index, name in enumerate(names)
        if name not in known
    ]
    if errors:
        raise ValidationFailed("unknown programs", details=errors)
    return list(dict.fromkeys(names))


def _check_thresholds(pause: float | None, resume: float | None) -> None:
    if pause is not None and resume is not None and resume < pause:
        raise _field_error(
            "resume_threshold", "the resume threshold must not be below the pause threshold"
        )


def to_public(pair: Pair, countries: RecordStore[Country]) -> PairPublic:
    country = countries.get(pair.country)
    return _public(pair, country)


def to_public_all(pairs: Iterable[Pair], countries: RecordStore[Country]) -> list[PairPublic]:
    """`to_public` of each pair, the countries read once rather than once a pair."""
    by_code = {country.code: country for country in countries.list()}
    return [_public(pair, by_code.get(pair.country)) for pair in pairs]


def _public(pair: Pair, country: Country | None) -> PairPublic:
    return PairPublic(
        **pair.model_dump(),
        country_name=country.name if country else pair.country,
        country_halted=country is not None and country.halted,
    )


def list_pairs(
    *,
    pairs: RecordStore[Pair],
    country: str | None = None,
    state: PairState | None = None,
    high_priority: bool | None = None,
    query: str | None = None,
) -> list[Pair]:
    found = pairs.list()
    if country:
        found = [p for p in found if p.country == country.upper()]
    if state:
        found = [p for p in found if p.state == state]
    if high_priority is not None:
        found = [p for p in found if p.is_high_priority == high_priority]
    if query:
        needle = query.casefold()
        found = [
            p for p in found if needle in " ".join([p.key, p.operator, p.region or ""]).casefold()
        ]
    return found


def get_pair(*, pairs: RecordStore[Pair], key: str) -> Pair:
    pair = pairs.get(key)
    if pair is None:
        raise NotFound(f"pair {key!r} does not exist")
    return pair


def create_pair(
    *,
    pairs: RecordStore[Pair],
    countries: RecordStore[Country],
    programs: RecordStore[Program],
    clock: Clock,
    actor: User | Actor,
    data: PairCreate,
    audit: EventLog[AuditEvent],
    hosts: Collection[str] = (LOCAL_HOST,),
    max_sessions: int | None = None,
    max_pairs: int | None = None,
) -> Pair:
    """Add a pair, audited: refused (409) when the fleet holds `max_pairs` already."""
    slug = data.slug or operator_slug(data.operator)
    if data.is_high_priority:
        asked = pair_key(data.country, slug)
        with audit_service.refusals_recorded(
            audit, clock, actor, AuditAction.pair_refused, asked, record_as_was=None
        ):
            _guard_marking(actor)
    try:
        country = get_country(countries=countries, code=data.country)
    except NotFound as unknown:  # a field of the body, not the resource asked for
        raise _field_error("country", unknown.message) from None
    _check_host(data.host, hosts)
    _check_thresholds(data.pause_threshold, data.resume_threshold)
    now = clock.now()
    pair = Pair(
        key=pair_key(country.code, slug),
        country=country.code,
        operator=data.operator.strip(),
        slug=slug,
        region=data.region,
        is_high_priority=data.is_high_priority,
        state_actor=actor.username,
        state_changed_at=now,
        pause_threshold=data.pause_threshold,
        resume_threshold=data.resume_threshold,
        phone_numbers=normalize_phone_numbers(data.phone_numbers, country.code),
        programs=_check_programs(programs, data.programs),
        host=data.host,
        created_at=now,
        updated_at=now,
    )
    _check_pair_room(pairs, max_pairs)
    _check_session_room(pairs, len(pair.programs), max_sessions)
    _check_numbers_free(pairs, pair.phone_numbers, pair.key)
    pairs.add(pair)
    _kept_or_undone(
        pairs,
        pair,
        max_sessions,
        sessions_added=bool(pair.programs),
        undo=lambda: pairs.delete(pair.key),
        max_pairs=max_pairs,
        programs=programs,
        added=pair.programs,
    )
    audit_service.record(
        audit=audit,
        clock=clock,
        actor=audit_service.actor_of(actor),
        action=AuditAction.pair_created,
        target=pair.key,
        before=None,
        after=pair,
    )
    return pair


def _kept_or_undone(
    pairs: RecordStore[Pair],
    written: Pair,
    max_sessions: int | None,
    *,
    sessions_added: bool,
    undo: Callable[[], object],
    max_pairs: int | None = None,
    programs: RecordStore[Program] | None = None,
    added: Collection[str] = (),
) -> None:
    """What a new or changed pair was allowed on, looked at again once it is written:
    another pair given the same test number at the same time, sessions added at the
    same time past `max_sessions`, (a new pair: `max_pairs` given) pairs added at the
    same time past `max_pairs`, or programs it was given (`added`) deleted at the same
    time, each allowed on what it read (two replicas). When that holds no longer the write
    is undone and refused: of two such changes at least one stands down, and none may
    leave a number with two pairs, nor a pair with a program that is gone
    (`programs.service.delete_program` looks again too)."""
    sessions = len(written.programs) if sessions_added else 0
    try:
        if programs is not None:
            _check_still_defined(programs, added)
        _check_numbers_free(pairs, written.phone_numbers, written.key)
        _check_session_room(pairs, sessions, max_sessions, besides=written.key)
        _check_pair_room(pairs, max_pairs, besides=written.key)
    except Conflict:
        undo()
        raise


def _check_still_defined(programs: RecordStore[Program], names: Collection[str]) -> None:
    gone = [name for name in names if programs.get(name) is None]
    if gone:
        raise Conflict(
            f"program {gone[0]!r} was deleted as it was assigned: define it again, or leave it out",
            details={"programs": gone},
        )


def _guard_high_priority(pair: Pair, actor: User | Actor, force: bool, action: str) -> None:
    """High-priority pairs are only stopped on purpose: by an admin, with force."""
    if not pair.is_high_priority:
        return
    if not actor.role.allows(Role.admin):
        raise Forbidden(f"only an admin may {action} the high-priority pair {pair.key}")
    if not force:
        raise ForceRequired(f"{pair.key} is high priority: repeat with force to {action} it")


def _check_session_room(
    pairs: RecordStore[Pair], adding: int, max_sessions: int | None, *, besides: str = ""
) -> None:
    """Each program of a pair is a session, a program running on a host: the fleet holds
    no more than `max_sessions` of them (None: no bound). `besides`: a pair already
    written, whose sessions are the `adding`."""
    if adding == 0 or max_sessions is None:
        return
    Conflict.check_room(
        sum(len(pair.programs) for pair in pairs.list() if pair.key != besides),
        adding,
        max_sessions,
        would="the fleet would hold {total} sessions",
        setting="SMSFLEET_MAX_SESSIONS",
        remedy="remove unused pairs or programs, or raise it for hosts that run that many programs",
    )


def _check_pair_room(pairs: RecordStore[Pair], max_pairs: int | None, *, besides: str = "") -> None:
    """The fleet holds no more than `max_pairs` pairs (None: no bound): the dashboards'
    listings and the policy's standing read them all. `besides`: the pair already
    written, the one being added."""
    if max_pairs is None:
        return
    Conflict.check_room(
        sum(1 for pair in pairs.list() if pair.key != besides),
        1,
        max_pairs,
        would="the fleet would hold {total} pairs",
        setting="SMSFLEET_MAX_PAIRS",
        remedy="delete unused pairs, or raise it",
    )


def _guard_marking(actor: User | Actor) -> None:
    """Only an admin marks a pair high priority: its sessions then always run, and only an
    admin can stop them or take the mark off again."""
    if not actor.role.allows(Role.admin):
        raise Forbidden(
            "only an admin may mark a pair high priority: its sessions always run and only"
            " an admin can stop them"
        )


def _marking_held(pair: Pair, state: PairState, force: bool) -> list[str]:
    """Marking a pair its state holds stopped (paused, disabled) leaves it so, and only an
    admin can then resume it: it is asked back unless it is resumed in the same change or
    `force` confirms it. As a verb for the audit's `forced` when it is confirmed."""
    if state.runs_sessions:
        return []
    if not force:
        if state is not pair.state:
            now = f"this change leaves {pair.key} {state}"
        else:
            now = f"{pair.key} is {state}" + (f" by {pair.state_actor}" if pair.state_actor else "")
        raise ForceRequired(
            f"{now}: marked high priority it stays {state}, and only an admin can then resume"
            f" it; resume it in the same change (state enabled), or repeat with force to mark"
            f" it while {state}"
        )
    return [f"mark {state}"]


def _committing_changes(pair: Pair, changes: dict[str, Any]) -> list[str]:
    """What in `changes` would start more of the pair's sessions, as verbs: on a
    high-priority pair, sessions only an admin can stop, so only an admin starts them."""
    verbs = []
    if changes.get("state") is PairState.enabled and pair.state is not PairState.enabled:
        verbs.append("enable" if pair.state is PairState.disabled else "resume")
    added = set(changes.get("programs", pair.programs)) - set(pair.programs)
    if added:
        verbs.append(f"add {', '.join(sorted(added))} to")
    if not pair.phone_numbers and changes.get("phone_numbers"):
        # Without one its sessions are held stopped: the first starts them.
        verbs.append("give a test number to")
    return verbs


def _lines_changed(pair: Pair, changes: dict[str, Any]) -> bool:
    """Whether `changes` move the pair's own pause or resume line."""
    return any(
        name in changes and changes[name] != getattr(pair, name)
        for name in ("pause_threshold", "resume_threshold")
    )


def _stopping_changes(pair: Pair, changes: dict[str, Any]) -> list[str]:
    """What in `changes` would stop some of the pair's sessions, as verbs."""
    verbs = []
    if changes.get("state") in (PairState.paused, PairState.disabled):
        verbs.append("pause" if changes["state"] == PairState.paused else "disable")
    removed = set(pair.programs) - set(changes.get("programs", pair.programs))
    if removed:
        verbs.append(f"remove {', '.join(sorted(removed))} from")
    if changes.get("host", pair.host) != pair.host:
        verbs.append(f"move to host {changes['host']}")
    numbers = changes.get("phone_numbers")
    if numbers is not None and (dropped := set(pair.phone_numbers) - set(numbers)):
        # With no number to send to, its sessions are held stopped; with none of
        # its numbers left, its SMS go where no code of theirs may be known, and the policy
        # never pauses it: as good as stopped. Any number removed counts, or two edits
        # (add others, then drop the old ones) would do the same.
        if not numbers:
            verbs.append("remove every test number of")
        elif not set(numbers) & set(pair.phone_numbers):
            verbs.append("replace every test number of")
        else:
            verbs.append(f"remove test numbers {', '.join(sorted(dropped))} from")
    return verbs


def update_pair(
    *,
    pairs: RecordStore[Pair],
    programs: RecordStore[Program],
    clock: Clock,
    actor: User | Actor,
    key: str,
    data: PairUpdate,
    audit: EventLog[AuditEvent],
    force: bool = False,
    hosts: Collection[str] = (LOCAL_HOST,),
    max_sessions: int | None = None,
) -> Pair:
    """Change a pair, audited. On a high-priority pair, whatever would stop some of its
    sessions (pausing or disabling it, removing a program, moving it to another host,
    removing any of its test numbers) or lower its priority, which leaves them anyone's
    to stop, takes an admin and `force`, and whatever would start
    more of them (adding a program, enabling or resuming it) or move its policy lines
    (under which it pages as failing) takes an admin. Marking a pair high priority takes
    an admin, and `force` too if it leaves the pair paused or disabled."""
    # Checked again on the pair as it is at each try (`change_record`): an edit made
    # meanwhile, a person's or the policy's pause, is kept, and this one decided on it.
    forced: list[str] = []

    def change(pair: Pair) -> dict[str, Any]:
        # A refusal is recorded with the pair as this try decided on it.
        with audit_service.refusals_recorded(
            audit, clock, actor, AuditAction.pair_refused, key, record_as_was=pair
        ):
            return decide(pair)

    def decide(pair: Pair) -> dict[str, Any]:
        # Starting the sessions of added programs is the caller's (a sessions action).
        changes = data.model_dump(exclude_unset=True, exclude={"start_sessions"})
        if changes.get("operator") is None:
            changes.pop("operator", None)
        if changes.get("host") is not None:
            _check_host(changes["host"], hosts)
        for flag in ("is_high_priority", "state", "host"):
            if changes.get(flag) is None:
                changes.pop(flag, None)
        if changes.get("state") is PairState.probing:
            raise _field_error("state", "probing is set by the success-rate policy, not by hand")
        if changes.get("programs") is not None:
            changes["programs"] = _check_programs(programs, changes["programs"])
            added = len(set(changes["programs"]) - set(pair.programs))
            _check_session_room(pairs, added, max_sessions)
        else:
            changes.pop("programs", None)
        if changes.get("phone_numbers") is not None:
            changes["phone_numbers"] = normalize_phone_numbers(
                changes["phone_numbers"], pair.country
            )
            _check_numbers_free(pairs, changes["phone_numbers"], pair.key)
        else:
            changes.pop("phone_numbers", None)
        committing = _committing_changes(pair, changes) if pair.is_high_priority else []
        if committing and not actor.role.allows(Role.admin):
            raise Forbidden(
                f"only an admin may {' and '.join(committing)} the high-priority pair"
                f" {pair.key}: its sessions always run and only an admin can stop them"
            )
        if (
            pair.is_high_priority
            and _lines_changed(pair, changes)
            and not actor.role.allows(Role.admin)
        ):
            raise Forbidden(
                f"only an admin may change the policy's lines of the high-priority pair"
                f" {pair.key}: under them it is held running and pages as failing"
            )
        stopping = _stopping_changes(pair, changes) if pair.is_high_priority else []
        if pair.is_high_priority and changes.get("is_high_priority") is False:
            # Unprotected, its sessions are anyone's to stop: as good as stopping them.
            stopping.append("lower the priority of")
        if stopping:
            _guard_high_priority(pair, actor, force, " and ".join(stopping))
        if not pair.is_high_priority and changes.get("is_high_priority") is True:
            _guard_marking(actor)
            stopping += _marking_held(pair, changes.get("state", pair.state), force)
        forced[:] = stopping
        now = clock.now()
        if "state" in changes and changes["state"] != pair.state:
            changes.update(state_actor=actor.username, state_changed_at=now)
            # A reason given for the state left behind (a pause's) is not this one's.
            changes.setdefault("state_reason", None)
        elif "state" in changes and changes.get("state_reason", pair.state_reason) != (
            pair.state_reason
        ):
            # The state said again with a reason of its own: set again, by whom and when.
            # A high-priority pair's state is an admin's to say, and to be said by.
            if pair.is_high_priority and not actor.role.allows(Role.admin):
                raise Forbidden(
                    f"only an admin may set the state of the high-priority pair {pair.key}"
                    " again with a reason of its own"
                )
            changes.update(state_actor=actor.username, state_changed_at=now)
        elif "state" not in changes:
            changes.pop("state_reason", None)
        _check_thresholds(
            changes.get("pause_threshold", pair.pause_threshold),
            changes.get("resume_threshold", pair.resume_threshold),
        )
        if holds_already(pair, changes):
            return {}  # as it is already: nothing written, nothing audited
        return {**changes, "updated_at": stamp_after(pair.updated_at, now)}

    pair, updated = change_record(
        pairs,
        key,
        change,
        read=lambda: get_pair(pairs=pairs, key=key),
        decided_on=PAIR_VERSION,
        what=f"pair {key}",
    )
    if updated == pair:
        return updated
    sessions_added = bool(set(updated.programs) - set(pair.programs))
    if sessions_added or set(updated.phone_numbers) - set(pair.phone_numbers):
        changed = {
            name
            for name in Pair.model_fields
            if getattr(updated, name) != getattr(pair, name) and name != "updated_at"
        }
        undo = {
            **pair.model_dump(include=changed),
            "updated_at": stamp_after(updated.updated_at, clock.now()),
        }
        _kept_or_undone(
            pairs,
            updated,
            max_sessions,
            sessions_added=sessions_added,
            undo=lambda: write_if_unchanged(pairs, key, updated, undo, decided_on=PAIR_VERSION),
            programs=programs,
            added=set(updated.programs) - set(pair.programs),
        )
    audit_service.record(
        audit=audit,
        clock=clock,
        actor=audit_service.actor_of(actor),
        action=AuditAction.pair_updated,
        target=key,
        before=pair,
        after=updated,
        forced=bool(forced),
        reason=updated.state_reason if data.state is not None else None,
    )
    return updated


def set_state_unless_changed(
    *,
    pairs: RecordStore[Pair],
    seen: Pair,
    state: PairState,
    reason: str,
    actor: str,
    at: datetime,
) -> Pair | None:
    """A state change decided on `seen` at `at` (by the success-rate policy): written, in
    one conditional write, only while the pair is still as seen, so a person's change made
    meanwhile stands and is not undone. A high-priority pair is never stopped this way.
    None when nothing was written: the next evaluation decides again on the pair as it is.
    The change is dated when it was decided, so the times its decision gives (when probing
    starts) are the ones the pair then keeps, to the second.
    """
    if seen.is_high_priority and not state.runs_sessions:
        return None
    changes: dict[str, object] = {
        "state": state,
        "state_reason": reason[:256],
        "state_actor": actor,
        "state_changed_at": at,
        "updated_at": stamp_after(seen.updated_at, at),
    }
    return write_if_unchanged(pairs, seen.key, seen, changes, decided_on=PAIR_VERSION)


def delete_pair(
    *,
    pairs: RecordStore[Pair],
    actor: User | Actor,
    key: str,
    audit: EventLog[AuditEvent],
    clock: Clock,
    force: bool = False,
) -> None:
    """Delete a pair, audited; a high-priority one takes an admin and `force`, decided on
    the pair as it is when it is removed (`delete_record`): one marked meanwhile is not
    removed on an operator's word, and of two deletions one removes it, the other is 404."""

    def allowed(pair: Pair) -> None:
        with audit_service.refusals_recorded(
            audit, clock, actor, AuditAction.pair_refused, key, record_as_was=pair
        ):
            _guard_high_priority(pair, actor, force, "delete")

    pair = delete_record(
        pairs,
        key,
        allowed,
        read=lambda: get_pair(pairs=pairs, key=key),
        decided_on=PAIR_VERSION,
        what=f"pair {key}",
    )
    audit_service.record(
        audit=audit,
        clock=clock,
        actor=audit_service.actor_of(actor),
        action=AuditAction.pair_deleted,
        target=key,
        before=pair,
        after=None,
        forced=pair.is_high_priority,
    )


def find_pair(
    *, pairs: RecordStore[Pair], countries: RecordStore[Country], country: str, operator: str
) -> Pair:
    """A pair by country name or code and operator name or slug (the seed routes' way)."""
    code = resolve_country(countries=countries, text=country).code
    wanted = operator.strip().casefold()
    for pair in pairs.list():
        if pair.country == code and wanted in (pair.slug, pair.operator.casefold()):
            return pair
    raise NotFound(f"no operator {operator!r} in {code}")
