"""The `smsfleet` command.

Each command imports the parts it runs when it runs: the control plane takes
seconds to import, and `smsfleet --help` or `smsfleet users add` should not wait
for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import SecretStr

from smsfleet.auth.models import Role, User, UserCreate, UserUpdate
from smsfleet.core.clock import SystemClock
from smsfleet.core.errors import ConfigurationError, DomainError
from smsfleet.core.hosts import is_loopback
from smsfleet.core.settings import LOCAL_HOST, Settings
from smsfleet.pairs import cli as pairs_cli
from smsfleet.pairs import countries_cli
from smsfleet.sessions import cli as sessions_cli

if TYPE_CHECKING:
    from smsfleet.stores import ConfigStore

app = typer.Typer(help="Control plane for a fleet of SMS test programs.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(sessions_cli.app, name="sessions")
app.add_typer(pairs_cli.app, name="pairs")
app.add_typer(countries_cli.app, name="countries")

DEMO_ADMIN_PASSWORD = "demo-admin-password"  # noqa: S105 (demo mode only)

Host = Annotated[str, typer.Option(help="Address to listen on")]
Port = Annotated[int, typer.Option(help="Port to listen on")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Overrides SMSFLEET_DATA_DIR")]
Password = Annotated[
    str | None,
    typer.Option(
        show_default=False,
        help="Asked for (twice, not shown) when not given; from a pipe, its first line",
    ),
]


@app.callback()
def _private() -> None:
    """Whatever a command writes (databases, secret, logs, spools) is private: umask 077."""
    os.umask(0o077)


def _settings(
    data_dir: Path | None = None, *, create: bool = True, **overrides: object
) -> Settings:
    """The settings, and the data dir made private; `create=False` makes none that is missing."""
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.check_production_safety()
    except ConfigurationError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if not create and not settings.data_dir.is_dir():
        return settings
    # A data dir made beforehand (by hand, by an installer) is closed to others too.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # not ours to change: the operator's call
        settings.data_dir.chmod(0o700)
    return settings


def _fail(exc: DomainError) -> typer.Exit:
    typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _listening(host: str, port: int, what: str, flag: str = "--port") -> socket.socket:
    """A socket bound to `host:port` before anything starts: a port taken (a demo or a
    control plane running already) ends the command here, before it touches a store, a
    session or another process, naming the option (`flag`) that chooses another."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bound = socket.socket(family, socket.SOCK_STREAM)
    bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        bound.bind((host, port))
    except OSError as exc:
        bound.close()
        typer.secho(
            f"error: {what} cannot listen on {host}:{port} ({exc.strerror}): is it running"
            f" already? Stop it, or choose another port ({flag}); nothing was started",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2) from exc
    return bound


def _hold_data_dir(settings: Settings) -> None:
    """Hold the data dir for this process's life (the system lets go as it ends): a second
    control plane on it would supervise the same sessions as the first, each undoing the
    other. With Redis (SMSFLEET_REDIS_URL) replicas share the work through its leadership."""
    import fcntl

    if settings.redis_url is not None:
        return
    path = settings.data_dir / "control-plane.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"
        os.close(descriptor)
        typer.secho(
            f"error: another control plane (pid {holder}) runs on the data dir"
            f" {settings.data_dir.resolve()}: stop it first, or pass another --data-dir;"
            " nothing was started",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    _HELD.append(descriptor)  # open, so held, until the process ends


_HELD: list[int] = []


def _run_server(app: Any, bound: socket.socket, **options: Any) -> None:
    """uvicorn on the socket bound beforehand, as `uvicorn.run` runs one server."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, **options))
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends it: not an error
        server.run(sockets=[bound])
    if not server.started:
        raise typer.Exit(3)


def _server(settings: Settings) -> dict[str, Any]:
    """uvicorn's options: X-Forwarded-For counts only from SMSFLEET_TRUSTED_PROXIES (never
    uvicorn's own defaults), a WebSocket message is capped like a request body, and
    headers and connections as SMSFLEET_HTTP_* say."""
    from smsfleet.core.http_server import server_options

    return {
        "proxy_headers": False,
        "ws_max_size": settings.max_body_bytes,
        **server_options(settings.http, settings.trusted_proxies),
    }


OPEN_HOSTS_WARNING = (
    "warning: listening beyond this machine with SMSFLEET_ALLOWED_HOSTS unset: any Host name"
    " is answered, so a web page a user on this network opens can reach this server through"
    " DNS rebinding: set SMSFLEET_ALLOWED_HOSTS to the names it is reached by"
    " (docs/operations.md)"
)
RUN_AS_WARNING = (
    "warning: this host's programs run as this user and can read the data dir, its signing "
    "key included (a program could sign itself an admin's token): set SMSFLEET_RUN_AS to an "
    "unprivileged user of their own (docs/security.md)"
)
SHARED_USER_WARNING = (
    "warning: this host's programs run as one user (SMSFLEET_RUN_AS) and each can read the "
    "others' environment, their worker tokens included, and spools: set "
    "SMSFLEET_RUN_AS_UIDS to a range of uids no account has, one per running session "
    "(docs/security.md)"
)


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000, data_dir: DataDir = None) -> None:
    """Run the control plane (API, dashboard, supervisor)."""
    from smsfleet.api import create_app

    # Programs are sent here unless SMSFLEET_PUBLIC_URL says otherwise.
    settings = _settings(data_dir).listening_on(host, port)
    bound = _listening(host, port, "the control plane")
    _hold_data_dir(settings)
    if not settings.allowed_hosts:
        typer.secho(OPEN_HOSTS_WARNING, fg=typer.colors.YELLOW, err=True)
    if settings.supervise and settings.run_as is None:
        typer.secho(RUN_AS_WARNING, fg=typer.colors.YELLOW, err=True)
    elif settings.supervise and settings.run_as_uids is None:
        typer.secho(SHARED_USER_WARNING, fg=typer.colors.YELLOW, err=True)
    _run_server(
        create_app(settings), bound, host=host, port=port, log_level="info", **_server(settings)
    )


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _wait_until_up(
    process: subprocess.Popen[bytes], url: str, what: str, *, timeout: float = 60
) -> None:
    """Wait until `url` answers 200; exit with an error if `process` ends first."""
    import httpx

    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.terminate()
    typer.secho(
        f"error: {what} did not start ({url}); is its port taken?", fg=typer.colors.RED, err=True
    )
    raise typer.Exit(2)


def demo_password(configured: SecretStr | None, host: str) -> str:
    """The demo admin's password: the configured one; else the published one while the
    demo listens on loopback only, and a random one for this run beyond it (the published
    one would make anyone on the network an admin)."""
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    return DEMO_ADMIN_PASSWORD if is_loopback(host) else secrets.token_urlsafe(12)


@app.command()
def demo(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    data_dir: DataDir = None,
    simulator_port: Annotated[int, typer.Option(help="Port of the gateway simulator")] = 8100,
    search_port: Annotated[int, typer.Option(help="Port of the search service")] = 8200,
    sessions: Annotated[
        bool,
        typer.Option(
            help="Start the demo sessions. With --no-sessions none is asked to start: the"
            " high-priority pairs' sessions still start, as theirs always do, and those still"
            " wanted running when the demo last ended run again"
        ),
    ] = True,
    keep_sessions: Annotated[
        bool, typer.Option(help="Leave the sessions running on exit; the next start adopts them")
    ] = False,
    access_log: Annotated[
        bool, typer.Option(help="Log every HTTP request (the programs' own traffic included)")
    ] = False,
) -> None:
    """Run the demo fleet on the embedded default and print the URL and login.

    The terminal then shows a status line every 10 s rather than every request
    (--access-log for those). Ctrl-C stops all of it: the control plane, the
    simulator, the search service and, unless --keep-sessions, the demo's sessions,
    and prints the URL and login again.
    """
    from smsfleet.api import create_app
    from smsfleet.auth import service as auth_service
    from smsfleet.demo import (
        DEMO_SIMULATOR_CONFIG,
        StatusLine,
        search_environment,
        seed_demo,
        simulator_environment,
        start_demo_sessions,
        stop_demo_sessions,
    )
    from smsfleet.programs.service import ProgramRules
    from smsfleet.sessions.hosts import Hosts
    from smsfleet.stores import open_config_store
    from smsfleet.wiring import prepare_store

    search_token = secrets.token_urlsafe(32)  # between this demo's two processes only
    settings = _settings(
        data_dir,
        demo=True,
        simulator_url=f"http://127.0.0.1:{simulator_port}",
        search_url=f"http://127.0.0.1:{search_port}",
        search_token=search_token,
    ).listening_on(host, port)
    # Before anything starts: a demo running already keeps its fleet untouched.
    bound = _listening(host, port, "the demo's control plane")
    _listening("127.0.0.1", simulator_port, "the gateway simulator", "--simulator-port").close()
    _listening("127.0.0.1", search_port, "the search service", "--search-port").close()
    _hold_data_dir(settings)
    password = demo_password(settings.admin_password, host)
    if not settings.allowed_hosts:
        typer.secho(OPEN_HOSTS_WARNING, fg=typer.colors.YELLOW, err=True)
    settings = settings.model_copy(update={"admin_password": SecretStr(password)})
    clock = SystemClock()
    store = open_config_store(settings.resolved_config_url)
    prepare_store(settings, store, clock)
    seed_demo(store=store, clock=clock, rules=ProgramRules.from_settings(settings))
    simulator_process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smsfleet.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(simulator_port),
            "--config",
            str(DEMO_SIMULATOR_CONFIG),
            *([] if access_log else ["--no-access-log"]),
        ],
        env=simulator_environment(os.environ, settings.data_dir),
    )
    # The programs' first sends go to the simulator: it answers before any session starts.
    _wait_until_up(simulator_process, f"{settings.simulator_url}/healthz", "the gateway simulator")
    search_process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smsfleet.search",
            "--port",
            str(search_port),
            "--data-dir",
            str(settings.data_dir),
        ],
        env=search_environment(os.environ, search_token),
    )
    fleet = start_demo_sessions(store=store, clock=clock) if sessions else None
    typer.secho(f"\n  smsfleet demo: http://{host}:{port}/", fg=typer.colors.GREEN, bold=True)
    typer.echo(f"  log in as: {auth_service.ADMIN_USERNAME} / {password}")
    if fleet is not None:
        held = f", {fleet.paused} held while their pair is paused" if fleet.paused else ""
        if fleet.numberless:
            held += f", {fleet.numberless} held until their pair has a test number"
        kept = f", {fleet.stopped} left stopped as people left them" if fleet.stopped else ""
        typer.echo(f"  {fleet.running} sessions to run (running ones are adopted){held}{kept}")
    typer.echo(
        f"  gateway simulator on port {simulator_port}, search service on port {search_port}"
    )
    typer.echo(
        "  Ctrl-C stops the demo"
        + (" (its sessions keep running)\n" if keep_sessions else " and its sessions\n")
    )
    status: StatusLine | None = None
    # SIGTERM (kill, systemd) ends the demo as Ctrl-C does: uvicorn shuts down, then raises
    # the signal again, and this handler turns it into an exit that runs the clean-up below.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        control_plane = create_app(settings, store=store, clock=clock)
        status = StatusLine(control_plane, typer.echo)
        status.start()
        # Without --access-log, uvicorn's own lines at INFO (each WebSocket's open and
        # close) stay out of the terminal too; its warnings and errors still show.
        level = "info" if access_log else "warning"
        _run_server(
            control_plane,
            bound,
            host=host,
            port=port,
            access_log=access_log,
            log_level=level,
            **_server(settings),
        )
    finally:
        try:
            if status is not None:
                status.stop()
            if not keep_sessions:
                backend = Hosts.from_settings(settings).backend(LOCAL_HOST)
                stopped = stop_demo_sessions(store=store, clock=clock, backend=backend)
                typer.echo(f"  {stopped} demo sessions stopped")
        finally:
            for process in (simulator_process, search_process):
                process.terminate()
                process.wait(timeout=10)
            typer.echo(f"\n  smsfleet demo was at: http://{host}:{port}/")
            typer.echo(f"  log in as: {auth_service.ADMIN_USERNAME} / {password}")


@app.command()
def simulator(
    host: Host = "127.0.0.1",
    port: Port = 8100,
    config: Annotated[
        Path | None, typer.Option(help="Routes and providers (TOML), e.g. deploy/simulator.toml")
    ] = None,
) -> None:
    """Run the SMS gateway simulator (providers and gateway) for demos and tests."""
    from smsfleet.simulator import SimulatorConfigError
    from smsfleet.simulator import server as simulator_server

    try:
        simulator_server.serve(host, port, config)
    except SimulatorConfigError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


@app.command("search-service")
def search_service(host: Host = "127.0.0.1", port: Port = 8200, data_dir: DataDir = None) -> None:
    """Run the search service (its own database; the control plane is its only client)."""
    from smsfleet.search.__main__ import main as search_main

    where = ["--data-dir", str(data_dir)] if data_dir else []
    raise typer.Exit(search_main(["--host", host, "--port", str(port), *where]))


@app.command()
def openapi() -> None:
    """Print the OpenAPI schema (the web app's client is generated from it)."""
    from smsfleet.api import create_app

    with tempfile.TemporaryDirectory() as scratch:
        schema = create_app(Settings(data_dir=Path(scratch), demo=True)).openapi()
    typer.echo(json.dumps(schema, indent=2))


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Create or migrate the config store's schema and indexes."""
    from smsfleet.core.sql import create_sql_engine, upgrade_metrics_schema
    from smsfleet.stores import open_config_store
    from smsfleet.wiring import prepare_store

    settings = _settings(data_dir)
    store = open_config_store(settings.resolved_config_url, upgrade=True)
    try:
        prepare_store(settings, store, SystemClock())
        typer.echo(f"config store up to date ({store.backend})")
    finally:
        store.close()
    engine = create_sql_engine(settings.resolved_metrics_url)
    try:
        upgrade_metrics_schema(engine)
        typer.echo(f"metrics store up to date ({engine.dialect.name})")
    finally:
        engine.dispose()


def _stdin_is_a_terminal() -> bool:
    return sys.stdin.isatty()


def _password(given: str | None) -> str:
    """The password given; else asked for at a terminal, or the first line of a pipe
    (`printf 'pw\\n' | smsfleet users add bob`), which has no one to ask twice."""
    if given is not None:
        return given
    if _stdin_is_a_terminal():
        # No default: the prompt shows none, and an empty answer is asked again.
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        typer.secho("error: no password on the first line of stdin", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    return line


def _with_store(data_dir: Path | None) -> ConfigStore:
    """The config store the control plane of the data dir uses; none is made here."""
    return sessions_cli.open_existing_store(_settings(data_dir, create=False))


@users_app.command("add")
def users_add(
    username: str,
    password: Password = None,
    role: Annotated[Role, typer.Option(help="admin, operator or viewer")] = Role.viewer,
    data_dir: DataDir = None,
) -> None:
    """Add a user."""
    from smsfleet.audit import service as audit_service
    from smsfleet.auth import service as auth_service

    password = _password(password)
    store = _with_store(data_dir)
    try:
        data = UserCreate(username=username, password=password, role=role)
        auth_service.create_user(
            users=store.users,
            audit=store.audit,
            clock=SystemClock(),
            actor=audit_service.actor_of(sessions_cli.local_admin()),
            data=data,
        )
    except DomainError as exc:
        raise _fail(exc) from exc
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    typer.echo(f"user {username} added ({role})")


@users_app.command("ls")
def users_ls(data_dir: DataDir = None) -> None:
    """List the users: name, role and whether disabled."""
    store = _with_store(data_dir)
    try:
        users = sorted(store.users.list(), key=lambda user: user.username)
    finally:
        store.close()
    typer.echo(f"{'USERNAME':32} {'ROLE':9} DISABLED")
    for user in users:
        typer.echo(f"{user.username:32} {user.role.value:9} {'yes' if user.disabled else 'no'}")


@users_app.command("passwd")
def users_passwd(username: str, password: Password = None, data_dir: DataDir = None) -> None:
    """Set a user's password (their sessions end)."""
    _update_user(username, UserUpdate(password=_password(password)), data_dir)
    typer.echo(f"password of {username} changed")


@users_app.command("set")
def users_set(
    username: str,
    role: Annotated[Role | None, typer.Option(help="admin, operator or viewer")] = None,
    disabled: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Refuse or allow their logins")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Change a user's role, or disable or enable them (their sessions end)."""
    if role is None and disabled is None:
        typer.secho("error: give --role, --disable or --enable", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    user = _update_user(username, UserUpdate(role=role, disabled=disabled), data_dir)
    state = "disabled" if user.disabled else "enabled"
    typer.echo(f"user {username}: {user.role.value}, {state}")


def _update_user(username: str, data: UserUpdate, data_dir: Path | None) -> User:
    """A user changed as the host's admin would change them, audited as `cli:<user>`."""
    from smsfleet.audit import service as audit_service
    from smsfleet.auth import service as auth_service

    store = _with_store(data_dir)
    try:
        return auth_service.update_user(
            users=store.users,
            audit=store.audit,
            clock=SystemClock(),
            actor=audit_service.actor_of(sessions_cli.local_admin()),
            username=username,
            data=data,
        ).user
    except DomainError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
