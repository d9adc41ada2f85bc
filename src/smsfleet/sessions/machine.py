"""The session state machine: every state, and the only moves between them.

stopped ──start──► starting ──up for start_seconds──► running
   ▲                 │ died                              │ died / hung
   │                 ▼                                   ▼
   ├──────────── backoff ◄──────── (quick failures < N) exited
   │                 │ N quick failures in a row          │
   │                 ▼                                    │
   └──── stop ──── fatal  (down until someone acts) ◄─────┘
running ──stop──► stopping ──► stopped
   ▲                 │ its paused pair runs again before its program was told to stop
   └─────────────────┘
"""

from __future__ import annotations

from smsfleet.sessions.models import SessionState

__all__ = ["MAY_RUN", "TRANSITIONS", "InvalidTransition", "check_transition"]

S = SessionState

# The states in which a session's screen may be up: it starts, runs or stops.
MAY_RUN = frozenset({S.starting, S.running, S.stopping})

TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    S.stopped: frozenset({S.starting, S.running}),  # running: adopted from outside
    S.starting: frozenset({S.running, S.exited, S.stopping, S.stopped}),
    S.running: frozenset({S.exited, S.stopping}),
    S.exited: frozenset({S.starting, S.backoff, S.fatal, S.stopped, S.running}),
    S.backoff: frozenset({S.starting, S.running, S.stopped}),
    S.fatal: frozenset({S.starting, S.running, S.stopped}),
    S.stopping: frozenset({S.stopped, S.exited, S.running}),
}


class InvalidTransition(RuntimeError):
    """A move the machine does not allow: a bug, never user input."""


def check_transition(current: SessionState, target: SessionState) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"{current} → {target} is not a session transition")
