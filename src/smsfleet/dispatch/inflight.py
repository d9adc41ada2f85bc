"""How many attempts a session may carry at once, so its country can reach its cap.

A session's program sends an SMS, then waits for the code at the gateway; one at a time
it can send at most 60 / cycle SMS a minute (cycle: lease to report, 4 to 40 s on real
routes). The cap per country is also the target, so the control plane lets each
session carry several attempts in flight, sized by Little's law from the country's cap,
the pair's observed cycle and the number of sessions sharing the country, with headroom
for the spread of delivery times, and room for the swings of a count (two standard
deviations of a Poisson count): an SMS that is never delivered holds its slot until the
gateway gives up on it (two minutes on real routes), and a few of them at once would
otherwise leave the session at its allowance when its next slot opens.
A test number awaits one code at a time, so a pair never has more attempts in flight than
test numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

__all__ = ["InFlightPolicy", "Outlook", "allowance", "capacity_per_minute"]


@dataclass(frozen=True)
class InFlightPolicy:
    # No session carries more than this, whatever the sizing says.
    ceiling: int = 16
    # Above what the mean cycle needs: delivery times spread (lognormal on real routes).
    headroom: float = 1.5
    # The cycle assumed until a pair has completed attempts to measure.
    default_cycle: timedelta = timedelta(seconds=30)
    # How many of a pair's latest completed attempts measure its cycle, and how many
    # must have completed before a cycle shorter than `default_cycle` is believed.
    sample: int = 50
    min_sample: int = 20
    # How long a measured cycle is reused before it is measured again.
    refresh: timedelta = timedelta(seconds=15)
    # Per program: providers that cannot take parallel sends get 1.
    program_limits: Mapping[str, int] = field(default_factory=dict)


def allowance(
    *,
    cap_per_minute: int,
    cycle_seconds: float,
    sessions_in_country: int,
    pairs_in_country: int,
    sessions_in_pair: int,
    phones: int,
    program: str,
    policy: InFlightPolicy,
) -> int:
    """Attempts one session of the country may have leased and not yet reported.

    Enough for the country's cap spread over its sessions, and for the pair's equal share
    of the cap spread over the pair's own sessions: the limiter serves a country's pairs
    equally, so a pair run by fewer programs than the others must still carry its share.
    """
    needed = cap_per_minute * max(cycle_seconds, 0.0) / 60 * policy.headroom
    per_session = max(
        needed / max(sessions_in_country, 1),
        needed / max(pairs_in_country, 1) / max(sessions_in_pair, 1),
    )
    share = math.ceil(per_session + 2 * math.sqrt(per_session))
    limit = min(policy.ceiling, policy.program_limits.get(program, policy.ceiling))
    return max(1, min(share, phones, limit))


def capacity_per_minute(*, in_flight: int, cycle_seconds: float) -> float:
    """What `in_flight` attempts at a time can send a minute with this cycle."""
    return math.inf if cycle_seconds <= 0 else in_flight * 60 / cycle_seconds


@dataclass(frozen=True)
class Outlook:
    """What a country can send with the sessions it has, as the dispatcher sizes them."""

    country: str
    cap: int
    sessions: int
    in_flight_limit: int
    """Attempts the country's sessions may carry at once (test numbers and allowances)."""
    cycle_seconds: float
    """The longest observed lease-to-report time among the country's pairs."""
    phones: int
    """The test numbers of its pairs that run sessions (`pairs`); a paused pair's are not."""
    pairs: frozenset[str] = frozenset()
    """The pairs whose numbers `phones` counts: those with a session wanted running."""

    @property
    def capacity_per_minute(self) -> float:
        return capacity_per_minute(in_flight=self.in_flight_limit, cycle_seconds=self.cycle_seconds)
