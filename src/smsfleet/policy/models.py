"""The policy's decisions and settings, as stored and as served."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from smsfleet.core.bounds import QueryTime
from smsfleet.core.records import Timestamp
from smsfleet.core.settings import PolicySettings
from smsfleet.pairs.models import COUNTRY_CODE_PATTERN, PairState

__all__ = [
    "POLICY_ACTOR",
    "DecisionQuery",
    "EvaluationResult",
    "EvidenceBound",
    "PairStanding",
    "PolicyAction",
    "PolicyDecision",
    "PolicySettings",
    "StandingQuery",
    "named_actor",
]

POLICY_ACTOR = "policy"


def named_actor(actor: str) -> str:
    """Who changed a pair's state, in a sentence: `the policy`, or the person's name."""
    return "the policy" if actor == POLICY_ACTOR else actor


class PolicyAction(StrEnum):
    paused = "paused"
    probing = "probing"
    resumed = "resumed"
    # A high-priority pair that would have been paused: it keeps running and alerts.
    held = "held"
    # A held high-priority pair back above its resume threshold.
    recovered = "recovered"


class EvidenceBound(StrEnum):
    """The end of the success ratio's Wilson interval a decision was taken on."""

    # Confidently under the pause line: the whole interval below it (paused, held).
    upper_bound = "upper_bound"
    # Confidently over the resume line: the whole interval above it (resumed, recovered).
    lower_bound = "lower_bound"


class PolicyDecision(BaseModel):
    """One decision of the policy with the figures it was taken on; a `probing` decision,
    taken on none (its pause's cool-down is over), records none."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    at: Timestamp
    pair: str
    country: str
    action: PolicyAction
    reason: str = Field(description="What happened and why, in one sentence")
    lower_bound: float | None = Field(
        description="Wilson lower bound of the success ratio, at the quantile decided on;"
        " none without figures (`probing`)"
    )
    upper_bound: float | None = Field(
        description="Wilson upper bound of the success ratio, at the quantile decided on;"
        " none without figures (`probing`)"
    )
    decided_on: EvidenceBound | None = Field(
        description="The bound the action was taken on: `upper_bound` under the pause line "
        "(paused, held), `lower_bound` over the resume line (resumed, recovered); none when "
        "no figure decided it (a cool-down over, a high-priority pair let go)"
    )
    success_ratio: float | None = Field(
        description="Delivered over completed; none without any, or without figures (`probing`)"
    )
    samples: int | None = Field(
        description="Completed attempts in the window, or in its newest attempts when a"
        " pause was decided on those; none without figures (`probing`)"
    )
    delivered: int | None = Field(description="none without figures (`probing`)")
    pause_threshold: float
    resume_threshold: float
    window: str | None = Field(
        description="The window of the figures: 'last 30 min, at most 50 attempts'; none"
        " without figures (`probing`: taken because its pause's cool-down is over)"
    )
    cooldown_seconds: float | None = Field(
        default=None,
        description="A pause's cool-down before the route is probed: the configured one for a"
        " route paused from running, twice the last (to a maximum) for one paused again while"
        " probing; none for other actions",
    )


class DecisionQuery(BaseModel):
    """Filters of `GET /api/v1/policy/decisions`."""

    model_config = ConfigDict(extra="forbid")

    pair: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, pattern=COUNTRY_CODE_PATTERN)
    action: PolicyAction | None = None
    since: QueryTime | None = Field(default=None, description="ISO 8601; UTC when no offset")
    limit: int = Field(default=100, ge=1, le=1000)


class PairStanding(BaseModel):
    """Where a pair stands with the policy now: what its next look does, or why nothing,
    with the figures that say so."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    pair: str
    country: str
    state: PairState
    is_high_priority: bool
    held: bool = Field(
        description="Held by the policy: a high-priority pair it found confidently under its"
        " pause line and has not found recovered since; it keeps running all the while"
    )
    action: PolicyAction | None = Field(
        description="What the policy's next look does on these figures, not yet carried out;"
        " none: nothing"
    )
    reason: str = Field(
        description="What and why, or why nothing, in one sentence; an action's starts"
        " 'at its next look (12:03:10 UTC):', and any moment in it counts from that look"
    )
    success_ratio: float | None = Field(description="Delivered over completed; None without any")
    samples: int = Field(
        description="Completed attempts of the figures said: for a pair paused by the policy,"
        " those of the pause that paused it (its reason's), else the pair's window now"
    )
    delivered: int
    lower_bound: float = Field(
        description="Wilson lower bound, at the quantile read at: the policy's `z` for one"
        " look; when the window holds more than `min_samples`, it is read whole and its"
        " newest `min_samples` apart, each at the stricter quantile that keeps the two"
        " together at `z`'s confidence (1.96, 95 %: 2.24 each, 97.5 %)"
    )
    upper_bound: float = Field(description="Wilson upper bound, read as `lower_bound` is")
    pause_threshold: float
    resume_threshold: float
    window: str = Field(
        description="Which figures these are: 'last 30 min, at most 50 attempts'; for a pair"
        " paused by the policy 'what paused it at 12:12:01 UTC: its probes since it was"
        " probed, at most 50'"
    )
    next_look_at: Timestamp | None = Field(
        description="When the policy looks next (every `evaluation_interval_seconds`), which"
        " carries out `action`; none when no policy loop looks from this server (it is"
        " stopped, or another replica leads)"
    )


class StandingQuery(BaseModel):
    """Filters of `GET /api/v1/policy/standing`."""

    model_config = ConfigDict(extra="forbid")

    pair: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, pattern=COUNTRY_CODE_PATTERN)


class EvaluationResult(BaseModel):
    """What `POST /api/v1/policy/evaluate` did."""

    evaluated: int = Field(description="Pairs looked at")
    decisions: list[PolicyDecision]
    unchanged: list[PairStanding] = Field(
        description="The pairs it looked at and left as they were, each with why"
    )
