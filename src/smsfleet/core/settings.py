"""All configuration in one place: `SMSFLEET_*` variables, a `.env` file, CLI overrides."""

from __future__ import annotations

import fcntl
import os
import pwd
import re
import secrets
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from smsfleet.core.errors import ConfigurationError
from smsfleet.core.hosts import host_name, is_loopback, loopback_hosts
from smsfleet.core.program_env import is_withheld

# Secrets and passwords seen in tutorials, seed documents and default configs.
KNOWN_WEAK_SECRETS = frozenset(
    {
        "secret",
        "secret_key",
        "your_secret_key",
        "your-secret-key",
        "changeme",
        "change-me",
        "jwt_secret",
        "supersecret",
        "password",
        "admin",
        "admin123",
        "123456",
        "12345678",
        "qwerty",
        "letmein",
        "test",
        "demo",
        "smsfleet",
    }
)
MIN_SECRET_LENGTH = 32
MIN_PASSWORD_LENGTH = 12
# Each dashboard tab signs in on its own, and a closed tab's login stays until it expires:
# twice the live sockets a user may have open leaves room for a person's tabs, devices
# and scripts (the oldest, ended first, are most likely closed tabs), while a loop of
# logins holds no more than this.
MAX_OPEN_LOGINS_PER_USER = 20
# A device token (given at each login) lasts this long, and a login presenting it may fail
# this many times on its own budget before it counts as any other: a user who logged in
# from a browser before is not locked out by failures of others at the same address.
DEVICE_TOKEN_DAYS = 30
FAILURES_PER_DEVICE = 5
# How long a refresh token just replaced still refreshes (to the token that replaced it):
# long enough for a page reloaded while its refresh was on the way to load and refresh
# with the token it kept, short enough that a copy of it is of little use to anyone else.
REFRESH_GRACE_SECONDS = 10
MAX_REFRESH_GRACE_SECONDS = 30
# A lease outlives the longest wait for a code a program asks for (program2's 400 s, the
# SDK's 150 s) and its report: a shorter one would cut every slow SMS to "not delivered".
LEASE_TTL_SECONDS = 420.0
SECRET_FILE_NAME = "secret_key"  # noqa: S105 (a file name)
CHECKOUT_DIR = Path(__file__).resolve().parents[3]
WEB_DIST_DEFAULT = CHECKOUT_DIR / "web" / "dist"
PROGRAM_DIR_DEFAULT = CHECKOUT_DIR / "programs"


# Words at the heart of the passwords guessed first, with the demo's own login: a known
# word padded with digits or signs ("password1234"), or repeated ("changemechangeme"), is
# as guessable as the word.
_GUESSED_FIRST = (
    "demo-admin-password",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "iloveyou",
    "welcome",
    "trustno",
    "passw",
    "abc",
    # A season or a month and a year: what password spraying tries first.
    "spring",
    "summer",
    "autumn",
    "fall",
    "winter",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def _letters(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalpha())


_WEAK_CORES = frozenset(_letters(word) for word in (*KNOWN_WEAK_SECRETS, *_GUESSED_FIRST)) - {""}


# zxcvbn's score from which a password is accepted: 3, "safely unguessable", at least
# 10^8 guesses by its estimate (a dictionary word in l33t, a keyboard walk, a word and
# digits score less). It reads at most this many characters: more only add guesses.
MIN_PASSWORD_SCORE = 3
_SCORED_LENGTH = 72


def weak_password_reason(password: str, *, username: str = "") -> str | None:
    """Why a password must be refused, or None when it is acceptable: `username`'s own
    name, padded or repeated, is guessed as early as the well-known ones; so is anything
    zxcvbn's estimate puts within 10^8 guesses."""
    from zxcvbn import zxcvbn  # its lists take a moment to load: only where a password is set

    if len(password) < MIN_PASSWORD_LENGTH:
        return f"it has fewer than {MIN_PASSWORD_LENGTH} characters"
    core = _letters(password)
    guessable = (
        len(set(password)) < 5
        or password.lower() in KNOWN_WEAK_SECRETS
        or not core
        or any(
            core == word * (len(core) // len(word))
            for word in _WEAK_CORES | ({_letters(username)} - {""})
        )
    )
    if guessable:
        return "it is a well-known or trivially guessable password"
    estimate = zxcvbn(password[:_SCORED_LENGTH], user_inputs=[username] if username else [])
    if estimate["score"] < MIN_PASSWORD_SCORE:
        warning = estimate["feedback"]["warning"]
        said = f" ({warning.rstrip('.').lower()})" if warning else ""
        return f"it is a well-known or trivially guessable password{said}"
    return None


LOCAL_HOST = "local"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_EVERY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 (names, not a bind)


def kept_days(kept: str) -> Any:
    """A kind's retention: a year by default, a day at least, what is `kept` said."""
    return Field(
        default=365,
        ge=1,
        le=36_500,
        description=f"{kept} kept this long, the older deleted hourly by the leader",
    )


def listen_url(host: str, port: int) -> str:
    """The URL a program on this machine reaches a server listening on `host:port` at."""
    if host in _EVERY_ADDRESS:
        host = "[::1]" if ":" in host else DEFAULT_HOST
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{port}"


HOST_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"


def _anchored_there(path: str) -> None:
    if not path.startswith(("/", "~/")):
        raise ValueError(f"{path!r}: give an absolute path or one under ~/")


class SshHost(BaseModel):
    """A host whose sessions run over OpenSSH; it has screen and smsfleet installed.

    Paths are the host's own: absolute, or under its login's home (`~/…`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ssh: str = Field(
        pattern=r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]*@)?(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])$",
        max_length=255,
        description="user@address as ssh takes it",
    )
    port: int = Field(default=22, ge=1, le=65535)
    identity_file: Path | None = Field(default=None, description="Private key (this host's path)")
    known_hosts_file: Path | None = Field(
        default=None, description="Its host key, checked strictly; default: ~/.ssh/known_hosts"
    )
    python: str = Field(default="python3", min_length=1, description="Python with smsfleet there")
    data_dir: str = Field(default="~/.smsfleet", description="Logs, run status and spools")
    screen_dir: str | None = Field(default=None, description="SCREENDIR for its screens")
    programs_dir: str | None = Field(
        default=None, description="The programs' working directory; default: data_dir"
    )
    program_dirs: list[str] | None = Field(
        default=None,
        description="Where program executables may live there, checked on its own disk at"
        " every start; default: programs_dir (none without it: nothing starts there)",
    )
    connect_timeout_seconds: int = Field(default=5, ge=1, le=120)

    @field_validator("data_dir", "screen_dir", "programs_dir")
    @classmethod
    def _anchored(cls, value: str | None) -> str | None:
        if value is not None:
            _anchored_there(value)
        return value

    @field_validator("program_dirs")
    @classmethod
    def _all_anchored(cls, value: list[str] | None) -> list[str] | None:
        for path in value or ():
            _anchored_there(path)
        return value

    @property
    def program_dirs_there(self) -> list[str]:
        """The host's program directories: `program_dirs`, else its `programs_dir`."""
        if self.program_dirs is not None:
            return list(self.program_dirs)
        return [self.programs_dir] if self.programs_dir is not None else []

    @property
    def address(self) -> str:
        return f"{self.ssh}:{self.port}"


def _empty_is_unset(value: object) -> object:
    # `SMSFLEET_INBOUND_TOKEN=` must turn a check off, never make "" the token.
    return None if isinstance(value, str) and not value.strip() else value


OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_empty_is_unset)]


class _Group(BaseModel):
    """Settings of one feature, read from `SMSFLEET_<GROUP>_<FIELD>`."""

    # Served as they are read (the policy's settings): every field in the response.
    model_config = ConfigDict(extra="ignore", json_schema_serialization_defaults_required=True)


class MetricsSettings(_Group):
    url: str | None = Field(
        default=None, description="The metrics database; default: SQLite in the data dir"
    )
    retention_days: int = Field(default=14, ge=1, description="Raw attempts kept")
    rollup_interval_seconds: float = Field(default=10.0, gt=0)
    # Few: the reads are CPU-bound under one GIL, so more threads answer no more of them and
    # take it from the leases more often (two answered the most, docs/benchmarks.md).
    read_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Metrics reads (summary, trends, heatmap, export) answered at once;"
        " the others wait their turn",
    )
    # A dashboard asks for four or five at once; two of its pages open, about ten.
    reads_per_user: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Metrics reads one user (with any of their API keys) may have waiting"
        " or answered at once; past it one more is answered 429",
    )


class TelegramSettings(_Group):
    bot_token: OptionalSecret = None
    chat_ids: str | None = Field(default=None, description="Chats (comma-separated) of every alert")
    api_url: str = "https://api.telegram.org"
    routes: Annotated[dict[str, list[str]], NoDecode] = Field(
        default_factory=dict,
        description="Extra chats by least severity: 'critical=-100123,-100456;warning=-100789'",
    )

    @field_validator("routes", mode="before")
    @classmethod
    def _parse_routes(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        routes: dict[str, list[str]] = {}
        for part in filter(None, (p.strip() for p in value.split(";"))):
            severity, _, chats = part.partition("=")
            if severity.strip() not in ("info", "warning", "critical") or not chats.strip():
                raise ValueError(
                    f"route {part!r}: write severity=chat,chat with severity info, "
                    "warning or critical"
                )
            routes[severity.strip()] = [c.strip() for c in chats.split(",") if c.strip()]
        return routes

    @property
    def chats(self) -> list[str]:
        """Chats that receive every alert."""
        return [c.strip() for c in (self.chat_ids or "").split(",") if c.strip()]


class SentrySettings(_Group):
    dsn: SecretStr | None = Field(
        default=None,
        description="Report unhandled errors of the control plane and the search service to"
        " this Sentry DSN; unset: no reports",
    )
    environment: str | None = Field(
        default=None, description="The environment errors are reported under (production ...)"
    )


class SearchSettings(_Group):
    url: str | None = Field(default=None, description="The search service; unset: search is off")
    token: OptionalSecret = Field(
        default=None, description="Between the control plane and the search service"
    )
    db_url: str | None = Field(
        default=None, description="The search service's own database (SQLite in the data dir)"
    )
    max_jobs_per_user: int = Field(
        default=5, ge=1, description="Search jobs one person may have queued or running at once"
    )
    max_matches: int = Field(
        default=10_000,
        ge=1,
        description="Matches one search job holds; at this many it stops and says truncated",
    )
    kept_jobs_per_user: int = Field(
        default=100,
        ge=1,
        description="Search jobs one person keeps, finished or not: a new one drops their oldest"
        " finished ones past it",
    )
    job_retention_days: int = Field(
        default=7, ge=1, le=3650, description="Finished search jobs are deleted this long after"
    )


class SendSettings(_Group):
    """On-demand sends (those a person asks for)."""

    claim_timeout_seconds: float = Field(
        default=120.0, gt=0, description="An on-demand send moves on from a program this silent"
    )
    retry_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="How often stuck on-demand sends are moved on to their next program",
    )
    # Each pending send takes a slot of its country's cap ahead of the routine tests: a
    # person (or a leaked control key) cannot queue an hour of a country's sends.
    max_pending_per_actor: int = Field(
        default=20, ge=1, description="On-demand sends one user may have waiting at once"
    )
    max_pending_per_pair: int = Field(
        default=50, ge=1, description="On-demand sends that may wait for one pair at once"
    )


class LiveSettings(_Group):
    """The live WebSocket (`/api/v1/ws`): sockets open in this process at once, and what
    each may ask."""

    max_sockets_per_user: int = Field(
        default=10, ge=1, description="Live sockets one user may have open at once"
    )
    max_sockets: int = Field(
        default=500, ge=1, description="Live sockets open at once in this process, everyone's"
    )
    # A socket waiting for its first message holds none of the places above, but it holds
    # the server for up to 5 s: a client opening thousands would slow everyone's requests.
    max_signing_in_per_address: int = Field(
        default=10, ge=1, description="Live sockets one client address has open before they sign in"
    )
    max_signing_in: int = Field(
        default=100, ge=1, description="Live sockets open before they sign in, in this process"
    )
    # What a signed-in socket sends: the dashboard sends a command or two as a log drawer
    # opens, closes or moves to another session (each with two HTTP reads: a person
    # switches a few times a second at most), and one per log it follows again after a
    # reconnect. A socket over its budget is closed (4429), the command not carried out.
    commands_per_second: float = Field(
        default=20.0,
        gt=0,
        le=1000,
        description="Commands (messages) one user's live sockets may send a second, all"
        " together, after their burst",
    )
    command_burst: int = Field(
        default=60,
        ge=1,
        le=10_000,
        description="Commands one user's live sockets may send at once, all together",
    )


class HttpSettings(_Group):
    """The HTTP server, before any request reaches the app: a client that sends endless
    headers, or never finishes them, must not hold the server's memory or its places."""

    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=4096,
        le=16 * 1024 * 1024,
        description="A request line and headers larger than this are refused with 431",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A connection whose request headers are not all in this long after it"
        " opens (or after their first byte, on a connection kept alive) is closed, with 408",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="A request whose body is not all in this long after its headers is"
        " closed (no body of this server's takes more than its 1 MiB cap)",
    )
    # Sized for the programs of this host (SMSFLEET_MAX_SESSIONS, 1,000, come from its
    # loopback address), with room for the dashboards' pages and sockets beside them.
    max_connections_per_client: int = Field(
        default=1024,
        ge=1,
        description="Connections one client address (IPv6: its /64) holds at once; past it"
        " a new one is answered 429 and closed. Trusted proxies are not counted",
    )
    # Sized for SMSFLEET_MAX_SESSIONS programs (1,000), a connection or two each, and
    # the dashboards' pages and sockets.
    max_connections: int = Field(
        default=4096,
        ge=1,
        description="Connections and requests at once in this process; past it a request"
        " is answered 503",
    )


class ApiKeysSettings(_Group):
    max_active_per_user: int = Field(
        default=50, ge=1, description="API keys one user may have that are not revoked"
    )
    kept_revoked_per_user: int = Field(
        default=50,
        ge=0,
        le=10_000,
        description="Revoked API keys one user keeps: a revoke past it deletes their oldest"
        " revoked ones",
    )
    made_per_hour: int = Field(
        default=20,
        ge=1,
        le=1_000,
        description="API keys one user may make an hour (each made and each revoked is an"
        " audit entry, kept a year: a loop of them would fill the log)",
    )


class LoginSettings(_Group):
    failures_per_user: int = Field(default=5, ge=1)
    failures_per_address: int = Field(default=20, ge=1)
    failure_window_seconds: int = Field(default=900, ge=1)
    failures_per_device: int = Field(
        default=FAILURES_PER_DEVICE,
        ge=1,
        description="Failed logins with one device token before it counts no more",
    )
    device_token_days: int = Field(
        default=DEVICE_TOKEN_DAYS,
        ge=1,
        le=365,
        description="Lifetime of the device token a login returns",
    )
    max_open_per_user: int = Field(
        default=MAX_OPEN_LOGINS_PER_USER,
        ge=1,
        le=1000,
        description="Logins one user may hold at once; a further one ends their oldest",
    )


class PasswordSettings(_Group):
    checks: int = Field(
        default=4, ge=1, le=64, description="Password hashes computed at once (19 MiB each)"
    )
    check_wait_seconds: float = Field(
        default=5.0, gt=0, le=60, description="A login waits this long for a check, then 503"
    )


class PolicySettings(_Group):
    """The success-rate policy's global defaults; a pair's own thresholds override the
    ratios."""

    window_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    window_max_attempts: int = Field(default=50, ge=1, le=10_000)
    min_samples: int = Field(default=20, ge=1, le=10_000)
    pause_threshold: float = Field(default=0.5, ge=0, le=1)
    resume_threshold: float = Field(default=0.7, ge=0, le=1)
    cooldown_seconds: float = Field(
        default=120.0, ge=0, description="How long a route paused from running waits to be probed"
    )
    cooldown_max_seconds: float = Field(
        default=1800.0,
        ge=0,
        description="Each pause in a row (its probes still fail) doubles the cool-down, to this",
    )
    probe_interval_seconds: float = Field(default=30.0, gt=0)
    probe_samples: int = Field(
        default=10, ge=1, le=10_000, description="Probes a probing route is resumed or paused on"
    )
    evaluation_interval_seconds: float = Field(default=30.0, gt=0)
    z: float = Field(default=1.96, gt=0, le=5, description="Wilson bound's normal quantile")
    decision_retention_days: int = kept_days(
        "Policy decisions (a pair's latest and its latest pause always)"
    )


class AlertSettings(_Group):
    """Success lines (a pair alerts when confidently under one: the Wilson upper bound
    below it), repeats, the rules' pace and how long a cleared alert holds."""

    success_warning: float = Field(default=0.8, ge=0, le=1)
    success_critical: float = Field(default=0.5, ge=0, le=1)
    repeat_minutes: float = Field(default=240.0, gt=0, description="Unacknowledged: again")
    evaluation_interval_seconds: float = Field(default=15.0, gt=0)
    hold_minutes: float = Field(
        default=5.0, ge=0, description="A rule's alert resolves once not seen for this long"
    )
    recovery_seconds: float = Field(
        default=10.0, ge=0, description="A crashed session's alert resolves once it runs this long"
    )
    # Each alert a person raises goes to every chat its severity reaches, and acknowledging
    # one makes room under the cap on open ones: a loop of both is bounded here.
    max_raised_per_actor: int = Field(
        default=30,
        ge=1,
        description="Alerts one person may raise (`POST /alert`) within the window,"
        " acknowledged ones too",
    )
    # Each message a person sends to the chats goes to every one of them.
    max_messages_per_actor: int = Field(
        default=10,
        ge=1,
        description="Messages one person may send to the chats (`POST /api/v1/alerts/test`)"
        " within the window",
    )
    raised_window_minutes: float = Field(
        default=60.0,
        gt=0,
        le=24 * 60,
        description="The window of max_raised_per_actor and max_messages_per_actor",
    )
    retention_days: int = kept_days(
        "Resolved alerts (from when resolved; a firing one always) and people's own Telegram"
        " messages (from when queued; one still to send always)"
    )


class Settings(BaseSettings):
    """Every setting; a feature's own are a group, read from `SMSFLEET_<GROUP>_<FIELD>`
    (`SMSFLEET_POLICY_MIN_SAMPLES` is `policy.min_samples`)."""

    model_config = SettingsConfigDict(
        env_prefix="SMSFLEET_",
        env_file=".env",
        extra="ignore",
        validate_default=True,
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    data_dir: Path = Path("./var")
    config_url: str | None = None
    redis_url: str | None = None
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    sentry: SentrySettings = Field(default_factory=SentrySettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    send: SendSettings = Field(default_factory=SendSettings)
    login: LoginSettings = Field(default_factory=LoginSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    apikeys: ApiKeysSettings = Field(default_factory=ApiKeysSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    password: PasswordSettings = Field(default_factory=PasswordSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    alert: AlertSettings = Field(default_factory=AlertSettings)
    secret_key: OptionalSecret = None
    admin_password: OptionalSecret = None
    program_sentry_dsn: str | None = Field(
        default=None,
        description="The Sentry DSN programs report their errors to (handed to them as"
        " SMSFLEET_PROGRAM_SENTRY_DSN); unset: programs report nowhere",
    )
    simulator_url: str = "http://127.0.0.1:8100"
    breaker_reset_seconds: float = Field(
        default=10.0, gt=0, description="An open circuit breaker tries its service again after"
    )
    inbound_token: OptionalSecret = Field(
        default=None, description="The gateway's token for the inbound SMS webhook"
    )
    phone_region: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}$",
        description="The country (ISO code) of a phone number written without +country code",
    )
    web_dir: Path = WEB_DIST_DEFAULT
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (comma-separated) whose browsers may call the API; none by default",
    )

    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names (comma-separated) the control plane answers to; any other"
        " Host header gets 400. Default: any, but for a server listening on a loopback"
        " address only: localhost, the loopback addresses and SMSFLEET_PUBLIC_URL's host, so"
        " that a web page pointing a name of its own at 127.0.0.1 reaches nothing",
    )
    public_url: str | None = Field(
        default=None,
        description="How programs reach the control plane (their SMSFLEET_URL); default:"
        " where `serve` or `demo` listens (127.0.0.1 when it listens on every address)",
    )
    screen_dir: Path | None = Field(
        default=None, description="SCREENDIR for the sessions' screens (isolates them)"
    )
    programs_dir: Path = Field(
        default=CHECKOUT_DIR, description="Working directory of the programs"
    )
    program_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [PROGRAM_DIR_DEFAULT],
        description="Where program executables may live (comma-separated); only an admin"
        " installs files there",
    )
    program_env: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Names of further environment variables handed to programs"
        " (comma-separated); the control plane's secrets are never among them",
    )
    run_as: str | None = Field(
        default=None,
        description="Unprivileged user this host's programs run as; it can read neither the"
        " data dir nor the control plane's /proc (the control plane needs root, or"
        " CAP_SETUID, CAP_SETGID and CAP_CHOWN)",
    )
    run_as_uids: Annotated[tuple[int, int] | None, NoDecode] = Field(
        default=None,
        description="With SMSFLEET_RUN_AS: a range of uids no account has, first-last (e.g."
        " 60000-60999); each session's program runs as one of them, its own while it runs,"
        " in that user's group, so programs cannot read each other's environment (their"
        " worker tokens) nor spools",
    )
    hosts: dict[str, SshHost] = Field(
        default_factory=dict,
        description='Remote hosts, JSON: {"edge1": {"ssh": "ops@10.0.0.5"}}; `local` is this one',
    )
    supervise: bool = True
    max_sessions: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Sessions (programs assigned to pairs) the fleet may hold, each a program"
        " running on a host: a pair or change that would pass it is refused",
    )
    country_cap_confirm_above: int = Field(
        default=60,
        ge=0,
        le=10_000,
        description="A country's cap raised above this many SMS a minute takes force (409"
        " `force_required` without it): a typed 1000 for 100 is not taken at its word",
    )
    max_pairs: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Country-operator pairs the fleet may hold: every dashboard listing and"
        " the policy's standing read them all, so a pair that would pass it is refused",
    )
    max_templates: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Message templates the fleet may hold (each up to 20 provider bodies):"
        " their listing returns them all, so a template that would pass it is refused",
    )
    seed_messages_per_hour: int = Field(
        default=1_000,
        ge=1,
        le=100_000,
        description="SMS one user (with their API keys) may record an hour through the seed"
        " routes (`/api/send-sms`, `/api/receive-sms`): each is an audit entry and a"
        " search-indexed message, kept a year",
    )
    # GitLab's default for its authenticated API, which a person or a script rarely meets.
    changes_per_minute: int = Field(
        default=120,
        ge=1,
        le=100_000,
        description="Changes (API requests that write: POST, PUT, PATCH, DELETE) one user,"
        " with their API keys, may make in any minute; past it a 429 with Retry-After."
        " Logging oneself out everywhere is never refused. Each change is audited and kept a year",
    )
    supervisor_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    start_seconds: float = Field(default=1.0, ge=0, description="Up this long counts as started")
    backoff_initial_seconds: float = Field(default=1.0, gt=0)
    backoff_max_seconds: float = Field(default=60.0, gt=0)
    stable_seconds: float = Field(
        default=60.0, gt=0, description="Running this long resets backoff"
    )
    max_quick_failures: int = Field(default=5, ge=1)
    stop_grace_seconds: float = Field(default=5.0, ge=0)
    pause_drain_seconds: float = Field(
        default=150.0,
        ge=0,
        description="A session of a pair the policy paused lets its attempts in flight"
        " finish for at most this long, then it is stopped (SIGTERM and the stop grace)",
    )
    session_log_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=4096, description="A session's log is rotated past this"
    )
    request_log_retention_days: int = Field(
        default=7, ge=1, le=3650, description="Raw API requests kept (the daily rollup stays)"
    )
    audit_retention_days: int = kept_days("Audit log entries")
    session_event_retention_days: int = kept_days("Session events")
    message_retention_days: int = kept_days(
        "SMS (from when recorded) and settled sends (from when settled; a pending one,"
        " and its SMS, always)"
    )
    heartbeat_timeout_seconds: float = Field(default=60.0, gt=0)
    leader_ttl_seconds: float = Field(
        default=10.0, gt=0, description="With replicas: a silent leader is replaced after this"
    )

    demo: bool = False
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=7, ge=1, le=90)
    refresh_grace_seconds: int = Field(
        default=REFRESH_GRACE_SECONDS,
        ge=0,
        le=MAX_REFRESH_GRACE_SECONDS,
        description="How long a refresh token just replaced still refreshes (0: not at all)",
    )
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="Proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For counts",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Larger request bodies are refused with 413"
    )
    default_country_cap: int = Field(default=10, ge=1, le=10_000)
    # Dispatcher: a high-priority pair's share of its country's cap against a normal one's.
    high_priority_weight: float = Field(default=2.0, gt=0, le=100)
    program_weights: dict[str, float] = Field(default_factory=dict)
    lease_ttl_seconds: float = Field(
        default=LEASE_TTL_SECONDS,
        gt=0,
        le=3600,
        description="An attempt unreported this long after its lease is given up"
        " (`lease_expired`) and its test number freed. At most an hour: it bounds how long"
        " a number is held and the latency a report may record",
    )
    config_max_age_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How old the config a lease reads may be: another process's change"
        " (a pair paused through another replica) reaches leases within it; this"
        " process's at once. 0: every lease looks for changes",
    )
    # Attempts in flight: the control plane sizes each session's allowance; these bound it.
    max_in_flight_per_session: int = Field(default=16, ge=1, le=256)
    program_max_in_flight: dict[str, Annotated[int, Field(ge=1, le=256)]] = Field(
        default_factory=dict, description='Per program, e.g. {"program2": 1}'
    )
    # Each session's worker requests (a token bucket per replica): the demo's programs make
    # under 1 a second, 4 at most in a second; after an outage a program sends the reports
    # of its every attempt in flight at once.
    worker_requests_per_second: float = Field(
        default=20.0, gt=0, description="Worker requests one session may make a second"
    )
    worker_request_burst: int = Field(
        default=60, ge=1, description="Worker requests one session may make at once"
    )

    @classmethod
    def variables(cls) -> dict[str, tuple[str, ...]]:
        """Every variable read, with the path of the setting it fills: `SMSFLEET_DATA_DIR`
        is ("data_dir",), `SMSFLEET_POLICY_Z` ("policy", "z")."""
        found: dict[str, tuple[str, ...]] = {}
        for name, info in cls.model_fields.items():
            group = info.annotation
            if isinstance(group, type) and issubclass(group, _Group):
                for field in group.model_fields:
                    found[f"SMSFLEET_{name}_{field}".upper()] = (name, field)
            else:
                found[f"SMSFLEET_{name}".upper()] = (name,)
        return found

    @model_validator(mode="before")
    @classmethod
    def _gather_groups(cls, data: object) -> object:
        """A group's settings given by their flat names (`policy_min_samples=5`, as the
        variables name them) join the group."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for group, info in cls.model_fields.items():
            if not (isinstance(info.annotation, type) and issubclass(info.annotation, _Group)):
                continue
            prefix = f"{group}_"
            flat = {
                key[len(prefix) :]: data.pop(key) for key in list(data) if key.startswith(prefix)
            }
            if flat:
                given = data.get(group) or {}
                if isinstance(given, _Group):
                    given = given.model_dump(exclude_unset=True)
                data[group] = {**given, **flat}
        return data

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [host_name(str(host)) for host in value if str(host).strip()]
        return value

    @field_validator("program_dirs", mode="before")
    @classmethod
    def _split_program_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("program_dirs")
    @classmethod
    def _absolute_program_dirs(cls, value: list[Path]) -> list[Path]:
        if not value:
            raise ValueError("name at least one directory programs may live in")
        return [Path(os.path.realpath(path)) for path in value]

    @field_validator("program_env", mode="before")
    @classmethod
    def _split_program_env(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("run_as")
    @classmethod
    def _check_run_as(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                pwd.getpwnam(value)
            except KeyError:
                raise ValueError(f"no user {value!r} on this host") from None
        return value

    @field_validator("run_as_uids", mode="before")
    @classmethod
    def _parse_uid_range(cls, value: object) -> object:
        if isinstance(value, str):
            first, dash, last = (part.strip() for part in value.partition("-"))
            if not (dash and first.isdigit() and last.isdigit()):
                raise ValueError(f"{value!r} is not a range of uids: first-last, e.g. 60000-60999")
            return int(first), int(last)
        return value

    @field_validator("run_as_uids")
    @classmethod
    def _check_uid_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is None:
            return value
        first, last = value
        if not 1000 <= first <= last < 2**31 - 1:
            raise ValueError(f"{first}-{last}: a range of uids from 1000 up, first to last")
        # Processes a session's program left behind are ended by their uid: no account's.
        accounts = sorted(user.pw_name for user in pwd.getpwall() if first <= user.pw_uid <= last)
        if accounts:
            raise ValueError(f"{first}-{last} holds the uids of accounts: {', '.join(accounts)}")
        return value

    @model_validator(mode="after")
    def _uids_need_run_as(self) -> Settings:
        if self.run_as_uids is not None and self.run_as is None:
            raise ValueError("SMSFLEET_RUN_AS_UIDS needs SMSFLEET_RUN_AS (the programs' group)")
        return self

    @field_validator("program_env")
    @classmethod
    def _check_program_env(cls, value: list[str]) -> list[str]:
        for name in value:
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name, re.ASCII) is None:
                raise ValueError(f"{name!r} is not an environment variable name")
            if is_withheld(name):
                raise ValueError(
                    f"{name} is a setting of the control plane, which may hold its secrets:"
                    " never a program's"
                )
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [ip_network(p, strict=False) if isinstance(p, str) else p for p in value]
        return value

    @field_validator("hosts")
    @classmethod
    def _check_host_names(cls, value: dict[str, SshHost]) -> dict[str, SshHost]:
        for name in value:
            if name == LOCAL_HOST or re.fullmatch(HOST_NAME_PATTERN, name, re.ASCII) is None:
                raise ValueError(
                    f"host name {name!r}: lowercase letters, digits and dashes, not {LOCAL_HOST!r}"
                )
        return value

    @property
    def resolved_config_url(self) -> str:
        return self.config_url or f"sqlite:///{(self.data_dir / 'config.db').resolve()}"

    @property
    def resolved_metrics_url(self) -> str:
        return self.metrics.url or f"sqlite:///{(self.data_dir / 'metrics.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        """What programs are told: SMSFLEET_PUBLIC_URL, else where the server listens."""
        return self.public_url or listen_url(DEFAULT_HOST, DEFAULT_PORT)

    def listening_on(self, host: str, port: int) -> Settings:
        """These settings for a server on `host:port`: unless SMSFLEET_PUBLIC_URL says
        otherwise, programs reach it there; listening on a loopback address only, it
        answers to the loopback names only, unless SMSFLEET_ALLOWED_HOSTS says others
        (`allowed_hosts`)."""
        public_url = self.public_url or listen_url(host, port)
        update: dict[str, object] = {"public_url": public_url}
        if not self.allowed_hosts and is_loopback(host):
            update["allowed_hosts"] = loopback_hosts(host, urlsplit(public_url).hostname or host)
        return self.model_copy(update=update)

    @property
    def resolved_search_db_url(self) -> str:
        return self.search.db_url or f"sqlite:///{(self.data_dir / 'search.db').resolve()}"

    @property
    def sessions_dir(self) -> Path:
        """Per-session logs and run status files."""
        return self.data_dir / "sessions"

    @cached_property
    def jwt_secret(self) -> str:
        """The configured key, or one generated once and kept in the data dir (0600)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / SECRET_FILE_NAME
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first; read theirs
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
        secret = path.read_text().strip()
        if len(secret) < MIN_SECRET_LENGTH:
            # Empty or cut short (a full disk, a hand edit): a key anyone could guess.
            # Replaced under a lock, so processes starting together agree on the new one;
            # tokens signed with the old one end with it.
            with path.open("r+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                secret = handle.read().strip()
                if len(secret) < MIN_SECRET_LENGTH:
                    secret = secrets.token_urlsafe(48)
                    handle.seek(0)
                    handle.truncate()
                    handle.write(secret)
                    handle.flush()
                    os.fsync(handle.fileno())
            path.chmod(0o600)
        return secret

    def check_production_safety(self) -> None:
        """Refuse known-weak secrets and passwords outside demo mode."""
        if self.demo:
            return
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value()
            if key.lower() in KNOWN_WEAK_SECRETS or len(key) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    "SMSFLEET_SECRET_KEY is too weak: use at least "
                    f"{MIN_SECRET_LENGTH} random characters, or unset it to have one generated "
                    "and kept in the data dir."
                )
        if self.admin_password is not None:
            reason = weak_password_reason(self.admin_password.get_secret_value())
            if reason:
                raise ConfigurationError(f"SMSFLEET_ADMIN_PASSWORD is refused: {reason}.")
