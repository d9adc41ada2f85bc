"""`smsfleet pairs …`: the country-operator pairs' state from a shell on the host.

Each pair's state and who set it (a person, or the policy), its sessions and what the
policy holds, read from the control plane's stores directly as `smsfleet sessions ls`
reads them; `pause` and `resume` change a pair's state as `PATCH /api/v1/pairs/{key}`
does, as the host's admin (`cli:<user>`). The stores are imported by the commands that
open them, so `smsfleet --help` does not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel, Field, ValidationError

from smsfleet.core.clock import SystemClock, human_time
from smsfleet.core.errors import DomainError, ForceRequired
from smsfleet.pairs.models import (
    Pair,
    PairState,
    PairUpdate,
    halted_said,
    key_as_written,
)
from smsfleet.policy.models import POLICY_ACTOR, PolicyAction
from smsfleet.sessions.cli import (
    AsJson,
    CountryFilter,
    DataDir,
    Reason,
    ago,
    local_admin,
    open_existing_store,
    read_metrics,
    settings_for,
    warn_if_unsupervised,
)
from smsfleet.sessions.models import DesiredState, SessionState

if TYPE_CHECKING:
    from smsfleet.core.settings import Settings
    from smsfleet.policy.models import PolicyDecision
    from smsfleet.stores import ConfigStore

app = typer.Typer(help="Country-operator pairs and their state.", no_args_is_help=True)

HIGH_PRIORITY = "★"


class PairListing(BaseModel):
    """A pair as `pairs ls` lists it."""

    key: str
    country: str
    operator: str
    is_high_priority: bool
    state: PairState
    state_actor: str | None = Field(description="Who set its state: a person, or `policy`")
    state_reason: str | None
    state_changed_at: datetime | None
    became: str = Field(description="What it became then: `created`, or its state")
    sessions: int = Field(description="Its sessions, one per program")
    sessions_wanted: int = Field(description="Its sessions desired running")
    sessions_running: int = Field(description="Its sessions running, as last seen")
    sessions_stopping: int = Field(
        default=0,
        description="Its sessions stopping, as last seen: their programs still run (a pair the"
        " policy paused lets them finish their sends in flight, up to its drain)",
    )
    numbers: int = Field(description="Its test phone numbers")
    held_since: datetime | None = Field(
        description="A high-priority pair the policy would have paused and keeps running:"
        " since when"
    )
    country_halted: bool = Field(description="Its country's cap is 0: nothing is sent")


def _held_since(settings: Settings, pairs: Sequence[Pair]) -> dict[str, datetime]:
    """When the policy began holding each high-priority pair it holds: its latest decision
    is `held` (the looks after one take none until the pair recovers)."""
    from smsfleet.policy.store import PolicyStore, policy_decisions_table

    keys = [pair.key for pair in pairs if pair.is_high_priority]
    if not keys:
        return {}
    latest: Mapping[str, PolicyDecision] = (
        read_metrics(
            settings, policy_decisions_table, lambda e: PolicyStore(e).latest_decisions(keys)
        )
        or {}
    )
    return {
        key: decision.at for key, decision in latest.items() if decision.action is PolicyAction.held
    }


def _listings(
    store: ConfigStore, pairs: Sequence[Pair], held: Mapping[str, datetime]
) -> list[PairListing]:
    statuses = {status.name: status.state for status in store.session_status.list()}
    specs = store.session_specs.list()
    halted = {country.code for country in store.countries.list() if country.halted}
    found = []
    for pair in pairs:
        own = [spec for spec in specs if spec.pair == pair.key]
        found.append(
            PairListing(
                key=pair.key,
                country=pair.country,
                operator=pair.operator,
                is_high_priority=pair.is_high_priority,
                state=pair.state,
                state_actor=pair.state_actor,
                state_reason=pair.state_reason,
                state_changed_at=pair.state_changed_at,
                became=pair.became(),
                sessions=len(own),
                sessions_wanted=sum(spec.desired is DesiredState.running for spec in own),
                sessions_running=sum(
                    statuses.get(spec.name) is SessionState.running for spec in own
                ),
                sessions_stopping=sum(
                    statuses.get(spec.name) is SessionState.stopping for spec in own
                ),
                numbers=len(pair.phone_numbers),
                held_since=held.get(pair.key) if pair.is_high_priority else None,
                country_halted=pair.country in halted,
            )
        )
    return found


def _note(listing: PairListing, now: datetime) -> str:
    """Why the pair is in its state and since when; and the policy's hold."""
    said = []
    if listing.state_reason:
        said.append(listing.state_reason)
    if listing.state_changed_at is not None:
        changed = listing.state_changed_at
        elapsed = ago((now - changed).total_seconds())
        said.append(f"{listing.became} {human_time(changed, now=now)} ({elapsed})")
    if stopped := listing.sessions - listing.sessions_wanted:
        # Not in SESSIONS' count of those wanted: said, so none goes unexplained.
        said.append(f"{stopped} of its {listing.sessions} sessions stopped on purpose")
    if stopping := listing.sessions_stopping:
        # Not counted running, though their programs run yet: a pause of the policy's lets
        # them finish their sends; a person's stop or pause ends them within the stop grace.
        drained = listing.state is PairState.paused and listing.state_actor == POLICY_ACTOR
        finishing = ", finishing their sends in flight" if drained else ""
        said.append(f"{stopping} of its sessions stopping{finishing}")
    if listing.country_halted:
        said.append(halted_said(listing.country))
    if listing.held_since is not None:
        elapsed = ago((now - listing.held_since).total_seconds())
        since = human_time(listing.held_since, now=now)
        said.append(f"held by the policy since {since} ({elapsed}): it keeps running")
    return "; ".join(said) or "-"


@app.command("ls")
def list_pairs(
    country: CountryFilter = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List pairs: state and who set it, sessions running of those wanted, the policy's hold."""
    settings = settings_for(data_dir)
    store = open_existing_store(settings)
    try:
        every = store.pairs.list()
        wanted = country.upper() if country else None
        known = {pair.country for pair in every}
        chosen = sorted(
            (pair for pair in every if wanted is None or pair.country == wanted),
            key=lambda pair: (pair.country, pair.key),
        )
        listed = _listings(store, chosen, _held_since(settings, chosen))
    finally:
        store.close()
    if wanted is not None and wanted not in known:  # an empty table would read as none
        having = ", ".join(sorted(known)) if known else "none"
        typer.secho(
            f"error: no pair of country {wanted} (countries with pairs: {having})",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    # The session counts are as the supervisor last saw them.
    warn_if_unsupervised(settings, listing=True)
    if as_json:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in listed], indent=2))
        return
    # PAIR: ★ marks a high-priority pair (never paused by the policy: held, it keeps running).
    # SESSIONS: running of those desired running. NUMBERS: its test phone numbers.
    typer.echo(f"{'PAIR':28} {'STATE':24} {'SESSIONS':>8} {'NUMBERS':>7}  NOTE")
    now = datetime.now(UTC)
    for p in listed:
        key = f"{p.key} {HIGH_PRIORITY}" if p.is_high_priority else p.key
        state = f"{p.state} by {p.state_actor}" if p.state_actor else str(p.state)
        sessions = f"{p.sessions_running}/{p.sessions_wanted}"
        typer.echo(f"{key:28} {state:24} {sessions:>8} {p.numbers:>7}  {_note(p, now)}")


Key = Annotated[str, typer.Argument(help="The pair's key, e.g. UZ_uzmobile", parser=key_as_written)]
Force = Annotated[bool, typer.Option(help="Confirm the pause of a high-priority pair")]


def _set_state(
    key: str, state: PairState, reason: str | None, force: bool, data_dir: Path | None
) -> None:
    """The pair's state changed as the API changes it, as the host's admin, and said."""
    from smsfleet.pairs import lifecycle, service
    from smsfleet.sessions.hosts import Hosts

    try:
        # Without --reason, the reason it has stays: a resume of a running pair is no change.
        data = PairUpdate(state=state, **({"state_reason": reason} if reason is not None else {}))
    except ValidationError as exc:
        said = "; ".join(f"reason: {error['msg']}" for error in exc.errors())
        typer.secho(f"error: {said}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    settings = settings_for(data_dir)
    store = open_existing_store(settings)
    try:
        before = service.get_pair(pairs=store.pairs, key=key)
        pair = lifecycle.update(
            store=store,
            clock=SystemClock(),
            actor=local_admin(),
            key=key,
            data=data,
            force=force,
            hosts=Hosts.from_settings(settings).names,
            max_sessions=settings.max_sessions,
            signals=lifecycle.NoSignals(),
        )
    except DomainError as exc:
        hint = " (--force)" if isinstance(exc, ForceRequired) else ""
        typer.secho(f"error: {exc.message}{hint}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    why = f" ({pair.state_reason})" if pair.state_reason else ""
    if pair == before:
        typer.echo(f"{pair.key}: already {pair.state}{why}: nothing changed")
    elif before.state is pair.state:
        typer.echo(f"{pair.key}: {pair.state} again by {pair.state_actor}{why}")
    else:
        typer.echo(f"{pair.key}: {before.state} → {pair.state} by {pair.state_actor}{why}")
    # Its sessions stop or start as the supervisor carries out the new state.
    warn_if_unsupervised(settings)


@app.command()
def pause(key: Key, reason: Reason = None, force: Force = False, data_dir: DataDir = None) -> None:
    """Pause a pair: its sessions stop (a high-priority pair's only with --force)."""
    _set_state(key, PairState.paused, reason, force, data_dir)


@app.command()
def resume(key: Key, reason: Reason = None, data_dir: DataDir = None) -> None:
    """Resume a pair (enable it): its sessions run again."""
    _set_state(key, PairState.enabled, reason, False, data_dir)
