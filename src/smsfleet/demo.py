"""The demo fleet: the seed documents' pairs and six programs."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smsfleet.audit.models import Actor
from smsfleet.auth.models import Role
from smsfleet.auth.service import DEMO_USERNAME
from smsfleet.core.clock import Clock
from smsfleet.core.errors import Conflict
from smsfleet.core.settings import CHECKOUT_DIR
from smsfleet.dispatch.goals import ReasonKind
from smsfleet.messages.models import Template
from smsfleet.pairs import service as pairs_service
from smsfleet.pairs.models import PairCreate
from smsfleet.programs import service as programs_service
from smsfleet.programs.models import ProgramCreate
from smsfleet.programs.service import ProgramRules
from smsfleet.sessions.backend import RunStatus, SessionBackend
from smsfleet.sessions.models import DesiredState, SessionAction
from smsfleet.sessions.service import act, never_asked, record_stopped, sync_specs
from smsfleet.stores import ConfigStore
from smsfleet.wiring import Services

DEMO_SIMULATOR_CONFIG = CHECKOUT_DIR / "deploy" / "simulator.toml"
TRUTH_LOG_VARIABLE = "SMSFLEET_SIMULATOR_TRUTH_LOG"
# How often the demo's terminal says how the fleet does.
STATUS_INTERVAL_SECONDS = 10.0
# Who the demo's own programs, pairs and session starts are told as made by.
DEMO_ACTOR = Actor(username=DEMO_USERNAME, role=Role.admin)

log = logging.getLogger(__name__)


def search_environment(host: Mapping[str, str], token: str) -> dict[str, str]:
    """The demo's search service's environment: the host's, without the control plane's
    settings (its secrets among them) but for the search service's and error reports'."""
    kept = ("SMSFLEET_SEARCH_", "SMSFLEET_SENTRY_")
    env = {k: v for k, v in host.items() if not k.startswith("SMSFLEET_") or k.startswith(kept)}
    return {**env, "SMSFLEET_SEARCH_TOKEN": token}


def simulator_environment(host: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """The demo's gateway simulator's environment: its ground-truth log in the demo's data
    dir (`simulator/truth.jsonl`), unless SMSFLEET_SIMULATOR_TRUTH_LOG names one."""
    truth = (data_dir / "simulator" / "truth.jsonl").resolve()
    return {TRUTH_LOG_VARIABLE: str(truth), **host}


def _numbers(first: str, count: int) -> list[str]:
    """`count` consecutive test numbers from `first` (a SIM bank's block)."""
    return [f"+{int(first[1:]) + n}" for n in range(count)]


# A test number awaits one code at a time, so each pair has enough of them for its country
# to reach 10 SMS a minute with the simulator's delivery times (deploy/simulator.toml):
# a slow route (TJ, about 25 s, 75 s through the slow provider) needs more at once.
DEMO_PAIRS = [
    PairCreate(
        country="UZ",
        operator="UzMobile",
        slug="uzmobile",
        phone_numbers=_numbers("+998991234567", 6),
    ),
    PairCreate(
        country="UA", operator="3Mob", slug="3mob", phone_numbers=_numbers("+380911234567", 8)
    ),
    PairCreate(
        country="TJ",
        operator="MegaFon (TT Mobile)",
        slug="megafon",
        phone_numbers=_numbers("+992900123456", 16),
    ),
    PairCreate(
        country="IN",
        operator="Reliance",
        slug="reliance",
        region="West Bengal",
        phone_numbers=_numbers("+917012345678", 4),
    ),
    PairCreate(
        country="IN",
        operator="TATA DOCOMO",
        slug="docomo",
        region="Maharashtra & Goa",
        phone_numbers=_numbers("+919212345678", 4),
    ),
    PairCreate(
        country="IN",
        operator="Vi India",
        slug="vi",
        region="Maharashtra & Goa",
        is_high_priority=True,
        phone_numbers=_numbers("+919812345678", 4),
    ),
    PairCreate(
        country="IN",
        operator="AirTel",
        slug="airtel",
        region="Gujarat",
        phone_numbers=_numbers("+919912345678", 4),
    ),
    PairCreate(
        country="AZ",
        operator="Azercell",
        slug="azercell",
        phone_numbers=_numbers("+994501234567", 6),
    ),
    # The seed verification service's sample request sends to +1234567890.
    PairCreate(
        country="US", operator="Verizon", slug="verizon", phone_numbers=_numbers("+12025550123", 6)
    ),
]

# Templates of the seed verification service's `POST /sendsms/` (`template_id` 1, 2, 3).
DEMO_TEMPLATES = [
    ("1", "Verification code", "Your code is {token}"),
    ("2", "Login code", "{token} is your login code. It expires in 10 minutes."),
    ("3", "Password reset", "Use {token} to reset your password."),
]

DEMO_PROGRAMS = [
    ProgramCreate(
        name=f"program{n}",
        command=[sys.executable, f"programs/program{n}.py"],
        provider=f"provider{n}",
        description=description,
    )
    for n, description in enumerate(
        [
            "Fast, reliable provider",
            "Slow provider",
            "Flaky provider",
            "Primary provider with a fallback",
            "Provider with occasional outages",
            "Budget provider",
        ],
        start=1,
    )
]


def seed_demo(*, store: ConfigStore, clock: Clock, rules: ProgramRules) -> None:
    """Add what the demo fleet lacks, as `DEMO_ACTOR`; existing records are left as they are.

    The demo's programs are the checkout's `programs/`, run by `rules` like any other.
    """
    for program in DEMO_PROGRAMS:
        with contextlib.suppress(Conflict):
            programs_service.create_program(
                programs=store.programs,
                audit=store.audit,
                clock=clock,
                rules=rules,
                actor=DEMO_ACTOR,
                data=program,
            )
    names = [program.name for program in DEMO_PROGRAMS[:2]]
    for pair in DEMO_PAIRS:
        with contextlib.suppress(Conflict):
            pairs_service.create_pair(
                pairs=store.pairs,
                countries=store.countries,
                programs=store.programs,
                clock=clock,
                actor=DEMO_ACTOR,
                data=pair.model_copy(update={"programs": names}),
                audit=store.audit,
            )
    seed_templates(store=store, clock=clock)


def seed_templates(*, store: ConfigStore, clock: Clock) -> None:
    """Add the demo's message templates that are missing."""
    for template_id, name, body in DEMO_TEMPLATES:
        now = clock.now()
        template = Template(id=template_id, name=name, body=body, created_at=now, updated_at=now)
        with contextlib.suppress(Conflict):
            store.templates.add(template)


@dataclass(frozen=True)
class DemoSessions:
    """The demo's sessions as it starts: wanted running (the supervisor starts them, or
    adopts those whose screens still run), wanted running but held while their pair is
    paused (or disabled) or has no test number, and left stopped as people left them."""

    running: int
    stopped: int
    paused: int = 0
    numberless: int = 0


def start_demo_sessions(*, store: ConfigStore, clock: Clock) -> DemoSessions:
    """Want running every demo session no one has asked anything of yet (a first start, a
    program given to a pair since); the others keep what people asked, so a session an
    operator stopped stays stopped when the demo starts again."""
    sync_specs(store=store, clock=clock)
    for spec in store.session_specs.list():
        if never_asked(spec):
            act(
                store=store,
                clock=clock,
                actor=DEMO_ACTOR,
                name=spec.name,
                action=SessionAction.start,
                reason="demo",
            )
    specs = store.session_specs.list()
    pairs = {pair.key: pair for pair in store.pairs.list()}
    wanted = [spec for spec in specs if spec.desired is DesiredState.running]
    held = [pairs[s.pair] for s in wanted if s.pair in pairs and not s.should_run(pairs[s.pair])]
    paused = sum(not pair.state.runs_sessions for pair in held)
    return DemoSessions(
        running=len(wanted) - len(held),
        stopped=len(specs) - len(wanted),
        paused=paused,
        numberless=len(held) - paused,
    )


def stop_demo_sessions(*, store: ConfigStore, clock: Clock, backend: SessionBackend) -> int:
    """Stop the demo's sessions that run on `backend`, together, once its control plane
    has ended, and record them stopped. Returns how many.

    Screens of other names on the host are left alone.
    """
    demo = {spec.name for spec in store.session_specs.list()}
    running = sorted({entry.name for entry in backend.list() if entry.alive} & demo)
    began = clock.now()
    ended: dict[str, RunStatus | None] = {}
    if running:
        # Each stop may wait out its program's grace period; in parallel they take one.
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            ended = dict(zip(running, pool.map(backend.stop, running), strict=True))
    record_stopped(
        store=store,
        clock=clock,
        ended=ended,
        actor=DEMO_ACTOR.username,
        reason="the demo ended",
        began=began,
    )
    return len(running)


def fleet_status(app: Any) -> str:
    """One line on how the fleet does now, from a running control plane's own services."""
    services: Services = app.state.services
    running = sum(1 for status in services.store.session_status.list() if status.state == "running")
    # As the dashboard's: a country no session is wanted running in, or halted, is expected
    # to send nothing; neither its goal nor its last minutes' grants count.
    expected = [
        goal
        for goal in services.dispatcher.goals()
        if goal.reason_kind not in (ReasonKind.no_session, ReasonKind.halted)
    ]
    granted = sum(goal.achieved_per_minute for goal in expected)
    goal = sum(g.goal_per_minute for g in expected)
    firing = services.alerts.service.counts().firing
    return (
        f"{running} sessions running · {granted:.1f} sends granted per minute"
        f" (goal {goal}) · {firing} alert{'' if firing == 1 else 's'} open"
    )


class StatusLine:
    """Prints `fleet_status` every `interval` seconds on a thread until stopped.

    The control plane's services exist once its app started; until then, and
    whenever a figure cannot be read, the line is skipped.
    """

    def __init__(
        self,
        app: Any,
        write: Callable[[str], None],
        interval: float = STATUS_INTERVAL_SECONDS,
    ) -> None:
        self.app = app
        self.write = write
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                line = fleet_status(self.app)
            except Exception:  # the stores may be starting or closing
                log.debug("no status line this time", exc_info=True)
                continue
            self.write(f"  {line}")
