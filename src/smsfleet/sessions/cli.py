"""`smsfleet sessions …`: the supervisor's desired state from a shell on the host.

The commands write what should run, as the API does; the control plane's
supervisor makes it so within a tick. Shell access to the host is admin access.
The store is imported by the commands that open it, so `smsfleet --help` does not.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from smsfleet.auth.models import Role, User
from smsfleet.core.clock import SystemClock, human_time
from smsfleet.core.errors import DomainError, ForceRequired
from smsfleet.core.settings import Settings
from smsfleet.sessions.backend import SessionBackend
from smsfleet.sessions.hosts import Hosts
from smsfleet.sessions.logtail import LogCursor
from smsfleet.sessions.models import (
    DesiredState,
    SessionAction,
    SessionPublic,
    SessionState,
    SignsOfLife,
)
from smsfleet.sessions.names import parse_session_name
from smsfleet.sessions.screen import ScreenBackend, ScreenError
from smsfleet.sessions.ssh import for_operators

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    from smsfleet.sessions.ticks import LastTick
    from smsfleet.stores import ConfigStore

_T = TypeVar("_T")

app = typer.Typer(help="Program sessions (screens) and their state.", no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Overrides SMSFLEET_DATA_DIR")]
CountryFilter = Annotated[str | None, typer.Option()]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
Reason = Annotated[str | None, typer.Option(help="Why, kept in the event log")]
Force = Annotated[
    bool, typer.Option(help="Confirm a stop or restart of a high-priority pair's session")
]


def settings_for(data_dir: Path | None) -> Settings:
    """The settings a command reads the control plane's stores by: --data-dir, else the
    environment's."""
    return Settings(data_dir=data_dir) if data_dir else Settings()


def open_existing_store(settings: Settings) -> ConfigStore:
    """The config store of the control plane these settings name (its data dir, or
    SMSFLEET_CONFIG_URL), read directly. A SQLite store that is not there is not made
    (`serve`, `demo` and `db upgrade` make one): the command says where it looked."""
    from smsfleet.core.sql import sqlite_file
    from smsfleet.stores import open_config_store

    url = settings.resolved_config_url
    path = sqlite_file(url)
    if path is not None and not path.exists():
        if settings.config_url is None:
            where = f"no control plane data in {settings.data_dir.resolve()}"
            hint = "pass --data-dir or set SMSFLEET_DATA_DIR"
        else:
            where, hint = f"no config store at {path}", "check SMSFLEET_CONFIG_URL"
        typer.secho(
            f"error: {where}: {hint} (`smsfleet db upgrade` makes a new one)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    return open_config_store(url)


def read_metrics(settings: Settings, table: sa.Table, read: Callable[[Engine], _T]) -> _T | None:
    """What `read` finds in the metrics database these settings name, read directly; None
    while it has no `table` yet (none before the control plane first ran: the metrics
    database is made then, and is not made here: an empty one would be all it held)."""
    import sqlalchemy as sa

    from smsfleet.core.sql import create_sql_engine, sqlite_file

    path = sqlite_file(settings.resolved_metrics_url)
    if path is not None and not path.exists():
        return None
    engine = create_sql_engine(settings.resolved_metrics_url)
    try:
        if not sa.inspect(engine).has_table(table.name):
            return None
        return read(engine)
    finally:
        engine.dispose()


def _heartbeats(settings: Settings) -> dict[str, datetime]:
    """Each session's last sign of life, as the control plane last wrote them."""
    from smsfleet.dispatch.store import HeartbeatStore, session_heartbeats_table

    beats = read_metrics(settings, session_heartbeats_table, lambda e: HeartbeatStore(e).all())
    return beats or {}


def _last_tick(settings: Settings) -> LastTick | None:
    """The last tick a control plane's supervisor recorded."""
    from smsfleet.sessions.ticks import SupervisorTicks, supervisor_ticks_table

    return read_metrics(settings, supervisor_ticks_table, lambda e: SupervisorTicks(e).last())


def ago(seconds: float) -> str:
    if seconds < 120:
        return f"{max(0, int(seconds))} s ago"
    if seconds < 120 * 60:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def _unsupervised_warning(
    last: LastTick | None, *, now: datetime, interval_seconds: float, listing: bool = False
) -> str | None:
    """What to tell whoever changes sessions (or, `listing`, reads them) when no
    supervisor has ticked lately: nothing carries out the desired state, and the states
    read are as last seen."""
    from smsfleet.sessions.ticks import stale_after

    if last is not None and not last.stopped and now - last.at <= stale_after(interval_seconds):
        return None
    if last is None:
        since = "ever"
    else:
        elapsed = ago((now - last.at).total_seconds())
        stopped = ", which stopped then" if last.stopped else ""
        since = f"since {human_time(last.at, now=now)} ({elapsed}, by {last.holder}{stopped})"
    effect = "changes take effect" if listing else "this takes effect"
    stale = "; the states below are as last seen" if listing else ""
    return (
        f"warning: no control plane has carried out changes {since}: {effect} when one runs"
        f" (`smsfleet serve` or `make run`){stale}"
    )


def warn_if_unsupervised(settings: Settings, *, listing: bool = False) -> None:
    """The warning above on stderr, when it applies: what was written stands (exit 0)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        last = _last_tick(settings)
    except SQLAlchemyError as error:  # the metrics database away
        typer.secho(
            f"warning: cannot tell whether a control plane carries out changes: {error}",
            fg=typer.colors.YELLOW,
            err=True,
        )
        return
    now = datetime.now(UTC)
    interval = settings.supervisor_interval_seconds
    warning = _unsupervised_warning(last, now=now, interval_seconds=interval, listing=listing)
    if warning is not None:
        typer.secho(warning, fg=typer.colors.YELLOW, err=True)


def local_admin() -> User:
    """Whoever runs the command on the control plane's host, as the audit log names them."""
    now = datetime.now(UTC)
    return User(
        username=f"cli:{getpass.getuser()}",
        role=Role.admin,
        password_hash="",
        created_at=now,
        updated_at=now,
    )


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _unknown_filter(store: ConfigStore, country: str | None, program: str | None) -> str | None:
    """What to say when `--country` or `--program` names one no session has (a typo, a
    country with no pair): None when each names one some session has."""
    specs = store.session_specs.list()
    filters = (
        ("country", "countries", country.upper() if country else None, {s.pair[:2] for s in specs}),
        ("program", "programs", program, {spec.program for spec in specs}),
    )
    for what, whats, wanted, known in filters:
        if wanted and wanted not in known:
            having = ", ".join(sorted(known)) if known else "none"
            return f"no session of {what} {wanted} ({whats} with sessions: {having})"
    return None


@app.command("ls")
def list_sessions(
    country: CountryFilter = None,
    program: Annotated[str | None, typer.Option()] = None,
    state: Annotated[SessionState | None, typer.Option()] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List sessions with their state."""
    from smsfleet.sessions import service

    settings = settings_for(data_dir)
    store = open_existing_store(settings)
    try:
        found = service.list_sessions(
            store=store,
            clock=SystemClock(),
            country=country,
            program=program,
            state=state,
            signs=SignsOfLife(
                _heartbeats(settings), timedelta(seconds=settings.heartbeat_timeout_seconds)
            ),
        )
        unknown = _unknown_filter(store, country, program)
        # Those whose pair runs no sessions (paused, disabled, no test number): held.
        holding = {pair.key for pair in store.pairs.list() if not pair.runs_sessions}
    finally:
        store.close()
    if unknown is not None:  # an empty table would read as all of them stopped or gone
        typer.secho(f"error: {unknown}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    warn_if_unsupervised(settings, listing=True)
    if as_json:
        typer.echo(json.dumps([s.model_dump(mode="json") for s in found], indent=2))
        return
    # DESIRED: `held` for one wanted running whose pair runs no sessions, stopped on purpose
    # (as /metrics' smsfleet_session_desired_running says, 0): its own wish would read
    # `running`, though nothing runs it until its pair does. RESTARTS: the supervisor's own
    # (a flapping program); ASKED: the ones people asked for. NOTE: the API's note (why one
    # wanted running is stopped, a session given up on, a pair probed), or when a crashed
    # one retries. EXIT: how its last run ended (`before: …` while a run is alive after
    # one), its column as wide as the longest (cut only past `EXIT_WIDTH`); whole in
    # --json (`last_exit`, `previous_exit`).
    exits = [_exit_column(s) for s in found]
    width = max([len("EXIT"), *(len(said) for said in exits)])
    typer.echo(
        f"{'NAME':40} {'STATE':9} {'DESIRED':8} {'PID':>8} {'UPTIME':>9} {'RESTARTS':>8} "
        f"{'ASKED':>5}  {'EXIT':{width}}  NOTE"
    )
    now = datetime.now(UTC)
    for s, said in zip(found, exits, strict=True):
        retry = f"retry at {human_time(s.retry_at, now=now)}" if s.retry_at else None
        held = s.desired is DesiredState.running and s.pair in holding
        desired = "held" if held else s.desired
        typer.echo(
            f"{s.name:40} {s.state:9} {desired:8} {s.pid or '-':>8} "
            f"{_uptime(s.uptime_seconds):>9} {s.restarts:>8} {s.requested_restarts:>5}  "
            f"{said:{width}}  {s.note or retry or '-'}"
        )


# Said whole up to this: `before: killed by signal 15 (SIGTERM) when stopped (no heartbeat)`;
# a person's reason for a stop may run longer.
EXIT_WIDTH = 72


def _exit_column(session: SessionPublic) -> str:
    """How its last run ended, or `before: …` how the run before this one did, at most
    `EXIT_WIDTH` long."""
    said = session.last_exit or (
        f"before: {session.previous_exit}" if session.previous_exit else "-"
    )
    return said if len(said) <= EXIT_WIDTH else f"{said[: EXIT_WIDTH - 1]}…"


def _act(
    names: list[str], action: SessionAction, reason: str | None, force: bool, data_dir: Path | None
) -> None:
    from smsfleet.sessions import service

    settings = settings_for(data_dir)
    store = open_existing_store(settings)
    failed = False
    acted = False
    try:
        for name in names:
            try:
                result = service.act(
                    store=store,
                    clock=SystemClock(),
                    actor=local_admin(),
                    name=name,
                    action=action,
                    reason=reason,
                    force=force,
                )
            except DomainError as exc:
                hint = " (--force)" if isinstance(exc, ForceRequired) else ""
                # The message may name the session already.
                said = exc.message if exc.message.startswith(name) else f"{name}: {exc.message}"
                typer.secho(f"{said}{hint}", fg=typer.colors.RED, err=True)
                failed = True
                continue
            # Written for the control plane's supervisor to carry out, within a tick: what
            # runs is what it was when asked.
            note = f" ({result.note})" if result.note else ""
            typer.echo(
                f"{name}: {action.value} asked; it was {result.state}, and is wanted"
                f" {result.desired} from now{note}"
            )
            acted = True
    finally:
        store.close()
    if acted:
        warn_if_unsupervised(settings)
    if failed:
        raise typer.Exit(1)


Names = Annotated[list[str], typer.Argument(help="Session names, e.g. program1_UZ_uzmobile")]


@app.command()
def start(names: Names, reason: Reason = None, data_dir: DataDir = None) -> None:
    """Start sessions (a running one is left as it is)."""
    _act(names, SessionAction.start, reason, False, data_dir)


@app.command()
def stop(
    names: Names, reason: Reason = None, force: Force = False, data_dir: DataDir = None
) -> None:
    """Stop sessions."""
    _act(names, SessionAction.stop, reason, force, data_dir)


@app.command()
def restart(
    names: Names, reason: Reason = None, force: Force = False, data_dir: DataDir = None
) -> None:
    """Restart sessions."""
    _act(names, SessionAction.restart, reason, force, data_dir)


@app.command()
def logs(
    name: str,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, max=100_000)] = 100,
    follow: Annotated[bool, typer.Option("-f", "--follow")] = False,
    data_dir: DataDir = None,
) -> None:
    """Print the last lines of a session's log (on whichever host), and with -f follow it."""
    settings = settings_for(data_dir)
    try:
        parse_session_name(name)
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    store = open_existing_store(settings)
    try:
        spec = store.session_specs.get(name)
    finally:
        store.close()
    if spec is None:  # as `start` and `stop` say, and the API: no one's log to read
        typer.secho(f"error: session {name!r} does not exist", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    try:
        backend = Hosts.from_settings(settings).backend(spec.host)
        # Made before the tail is read: a line written between the two is shown twice
        # at worst, never lost.
        cursor = LogCursor(backend, name) if follow else None
        for line in backend.tail(name, lines):
            typer.echo(line)
        if cursor is None:
            return
        while True:
            time.sleep(0.25)
            for line in cursor.read_new():
                typer.echo(line)
    except (DomainError, ScreenError) as exc:
        message = exc.message if isinstance(exc, DomainError) else for_operators(exc)
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


def _screen_directory(settings: Settings, backend: SessionBackend) -> str:
    """Where this host's screens were looked for, and what chose it: screens run under
    another directory (another user's, another SCREENDIR) are not seen, and counted 0."""
    if not isinstance(backend, ScreenBackend) or backend.listed_in is None:
        return ""
    if settings.screen_dir is not None:
        chosen = "SMSFLEET_SCREEN_DIR"
    elif os.environ.get("SCREENDIR"):
        chosen = "SCREENDIR; SMSFLEET_SCREEN_DIR is not set"
    else:
        chosen = "screen's default; SMSFLEET_SCREEN_DIR is not set"
    return f" in {backend.listed_in} ({chosen})"


def _last_seen_running(settings: Settings) -> dict[str, set[str]]:
    """The sessions the control plane last saw running, by host; none where it has no
    store (the command still lists what each host runs)."""
    from smsfleet.core.sql import sqlite_file

    path = sqlite_file(settings.resolved_config_url)
    if path is not None and not path.exists():
        return {}
    store = open_existing_store(settings)
    try:
        states = {status.name: status.state for status in store.session_status.list()}
        running: dict[str, set[str]] = {}
        for spec in store.session_specs.list():
            if states.get(spec.name) is SessionState.running:
                running.setdefault(spec.host, set()).add(spec.name)
        return running
    finally:
        store.close()


@app.command()
def hosts(data_dir: DataDir = None) -> None:
    """List the hosts sessions run on (SMSFLEET_HOSTS) and check that each answers."""
    settings = settings_for(data_dir)
    inventory = Hosts.from_settings(settings)
    running = _last_seen_running(settings)
    now = datetime.now(UTC)
    unreachable = False
    typer.echo(f"{'HOST':20} {'ADDRESS':36} {'STATE':12} SCREENS")
    for name in inventory.names:
        try:
            found = inventory.list(name, now)
        except ScreenError as exc:
            unreachable = True
            said = for_operators(exc)
            typer.echo(f"{name:20} {inventory.address(name):36} {'unreachable':12} {said}")
            continue
        where = _screen_directory(settings, inventory.backend(name))
        if unseen := running.get(name, set()) - {entry.name for entry in found}:
            # Looked for where its screens are not: `0` alone would read as all gone.
            where += (
                f"; {len(unseen)} the control plane last saw running here not among them:"
                " run this with its SMSFLEET_SCREEN_DIR (or SCREENDIR)"
            )
        typer.echo(f"{name:20} {inventory.address(name):36} {'ok':12} {len(found)}{where}")
    if unreachable:
        raise typer.Exit(1)
