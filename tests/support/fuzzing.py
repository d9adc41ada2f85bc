"""Hypothesis profiles: derandomized in `make test`, randomized and longer in `make fuzz`.

`SMSFLEET_HYPOTHESIS_PROFILE` picks the profile (`ci` by default):

- `ci`: a fixed seed per test (`derandomize=True`), no example database, so every
  run of `make test` tries the same inputs and a failure is a change in the code;
- `fuzz`: random inputs on every run, `SMSFLEET_FUZZ_FACTOR` (10) times the examples,
  failures kept in `.hypothesis/` and replayed first on the next run.

Tests ask `examples(n)` for their example count: `n` under `ci`, more under `fuzz`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["FUZZ", "PROFILE", "examples", "load_profile"]

CI, FUZZ = "ci", "fuzz"
PROFILE = os.environ.get("SMSFLEET_HYPOTHESIS_PROFILE", CI)
_SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def _factor() -> int:
    raw = os.environ.get("SMSFLEET_FUZZ_FACTOR", "10")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"SMSFLEET_FUZZ_FACTOR is a whole number of at least 1, not {raw!r}")
    return int(raw)


def load_profile() -> None:
    """Register both profiles and load the one `SMSFLEET_HYPOTHESIS_PROFILE` names."""
    settings.register_profile(
        CI, derandomize=True, database=None, deadline=None, suppress_health_check=_SLOW
    )
    settings.register_profile(
        FUZZ, derandomize=False, deadline=None, print_blob=True, suppress_health_check=_SLOW
    )
    if PROFILE not in (CI, FUZZ):
        raise ValueError(f"SMSFLEET_HYPOTHESIS_PROFILE is {CI!r} or {FUZZ!r}, not {PROFILE!r}")
    settings.load_profile(PROFILE)


def examples(count: int) -> int:
    """How many examples a test runs: `count` in `make test`, more in `make fuzz`."""
    return count * _factor() if PROFILE == FUZZ else count
