"""Simulator configuration: a TOML file of defaults, routes and providers, plus env settings.

A route is a country-operator pair (`UZ_uzmobile`) and describes the operator's network:
how often an SMS reaches the handset, how long it takes, how often the hand-off fails.
A provider is the company a program asks to send; its settings combine with the route's
(probabilities multiply, latency scales, outages of either side stop the send), so degrading
a route through the admin API affects every provider that sends to it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROUTE_KEY_PATTERN = r"^[A-Z]{2}_[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
PROVIDER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ERROR_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"

RouteKey = Annotated[str, Field(pattern=ROUTE_KEY_PATTERN)]
ProviderName = Annotated[str, Field(pattern=PROVIDER_PATTERN)]
ErrorCode = Annotated[str, Field(pattern=ERROR_CODE_PATTERN)]
Phone = Annotated[str, Field(pattern=PHONE_PATTERN)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0, le=86_400.0)]
ErrorStatus = Annotated[int, Field(ge=400, le=599)]
PerMinute = Annotated[int, Field(ge=0, le=1_000_000)]
ErrorCodes = Annotated[list[ErrorCode], Field(min_length=1, max_length=32)]
Phones = Annotated[list[Phone], Field(max_length=1000)]
Distribution = Literal["fixed", "uniform", "lognormal"]


class SimulatorConfigError(ValueError):
    """The configuration file cannot be used; the message says where and why."""


class _Strict(BaseModel):
    # Unknown keys are typos in a hand-written TOML file; refuse them loudly.
    model_config = ConfigDict(extra="forbid")


class LatencyConfig(_Strict):
    """Seconds from trigger to delivery.

    `fixed` always takes `median_seconds`; `uniform` draws in [min, max]; `lognormal` draws
    around `median_seconds` with spread `sigma` (long right tail, like real SMS) and is clamped
    to [min, max].
    """

    distribution: Distribution = "lognormal"
    median_seconds: Seconds = 5.0
    sigma: Annotated[float, Field(ge=0.0, le=5.0)] = 0.5
    min_seconds: Seconds = 1.0
    max_seconds: Seconds = 60.0

    @model_validator(mode="after")
    def _check_bounds(self) -> Self:
        if self.min_seconds > self.max_seconds:
            raise ValueError("min_seconds must not exceed max_seconds")
        if self.distribution != "uniform" and not (
            self.min_seconds <= self.median_seconds <= self.max_seconds
        ):
            raise ValueError("median_seconds must lie within [min_seconds, max_seconds]")
        return self


class LatencyOverlay(_Strict):
    distribution: Distribution | None = None
    median_seconds: Seconds | None = None
    sigma: Annotated[float, Field(ge=0.0, le=5.0)] | None = None
    min_seconds: Seconds | None = None
    max_seconds: Seconds | None = None


class OutageCycle(_Strict):
    """A recurring outage: down for `duration_seconds` every `every_seconds`, counted from
    simulator start plus `offset_seconds`."""

    every_seconds: Annotated[float, Field(gt=0.0, le=86_400.0)]
    duration_seconds: Seconds
    offset_seconds: Seconds = 0.0

    @model_validator(mode="after")
    def _check_duration(self) -> Self:
        if self.duration_seconds >= self.every_seconds:
            raise ValueError("duration_seconds must be shorter than every_seconds")
        return self

    def active(self, elapsed: float) -> bool:
        if elapsed < self.offset_seconds:
            return False
        return (elapsed - self.offset_seconds) % self.every_seconds < self.duration_seconds


class RouteSettings(_Strict):
    """Everything that decides a trigger's fate on a route (the `[defaults]` table)."""

    delivery_probability: Probability = 0.95
    latency: LatencyConfig = LatencyConfig()
    send_error_rate: Probability = 0.01
    error_codes: ErrorCodes = ["ROUTE_ERROR"]
    error_status: ErrorStatus = 502
    outage: bool = False
    outage_cycle: OutageCycle | None = None
    rate_limit_per_minute: PerMinute = 0
    give_up_after_seconds: Seconds = 120.0
    phones: Phones = []


class RouteOverlay(_Strict):
    """A route's own values; anything left out comes from `[defaults]`."""

    delivery_probability: Probability | None = None
    latency: LatencyOverlay | None = None
    send_error_rate: Probability | None = None
    error_codes: ErrorCodes | None = None
    error_status: ErrorStatus | None = None
    outage: bool | None = None
    outage_cycle: OutageCycle | None = None
    rate_limit_per_minute: PerMinute | None = None
    give_up_after_seconds: Seconds | None = None
    phones: Phones | None = None


class ProviderConfig(_Strict):
    """One provider's behaviour, applied on top of the route it sends to."""

    description: Annotated[str, Field(max_length=500)] = ""
    delivery_probability: Probability = 1.0
    latency_factor: Annotated[float, Field(gt=0.0, le=100.0)] = 1.0
    send_error_rate: Probability = 0.0
    error_codes: ErrorCodes = ["PROVIDER_ERROR"]
    error_status: ErrorStatus = 502
    outage: bool = False
    outage_cycle: OutageCycle | None = None
    rate_limit_per_minute: PerMinute = 0


class ProviderOverlay(_Strict):
    """A partial provider change for `PATCH /admin/providers/{provider}`."""

    description: Annotated[str, Field(max_length=500)] | None = None
    delivery_probability: Probability | None = None
    latency_factor: Annotated[float, Field(gt=0.0, le=100.0)] | None = None
    send_error_rate: Probability | None = None
    error_codes: ErrorCodes | None = None
    error_status: ErrorStatus | None = None
    outage: bool | None = None
    outage_cycle: OutageCycle | None = None
    rate_limit_per_minute: PerMinute | None = None


class SimulatorOptions(_Strict):
    """The `[simulator]` table."""

    code_length: Annotated[int, Field(ge=4, le=10)] = 6
    # When true, unknown routes and providers are refused (404) instead of using defaults.
    strict: bool = False
    truth_log: Path | None = None
    admin_token: SecretStr | None = None


class SimulatorConfig(_Strict):
    simulator: SimulatorOptions = SimulatorOptions()
    defaults: RouteSettings = RouteSettings()
    routes: dict[RouteKey, RouteOverlay] = {}
    providers: dict[ProviderName, ProviderConfig] = {}


class SimulatorSettings(BaseSettings):
    """Environment (`SMSFLEET_SIMULATOR_*`, also from `.env`); flags and files come on top."""

    model_config = SettingsConfigDict(
        env_prefix="SMSFLEET_SIMULATOR_", env_file=".env", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65_535)] = 8100
    config: Path | None = None
    admin_token: SecretStr | None = None
    truth_log: Path | None = None


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` on top of `base`, merging nested tables instead of replacing them."""
    merged = dict(base)
    for key, value in overlay.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def apply_patch(
    current: dict[str, Any], configured: dict[str, Any], patch: dict[str, Any]
) -> dict[str, Any]:
    """`patch` on top of `current`, nested tables key by key; a null takes the key back to
    `configured` (the value the configuration file gave it), or drops it if it gave none."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            if key in configured:
                merged[key] = configured[key]
            else:
                merged.pop(key, None)
        elif isinstance(value, dict):
            base = merged.get(key)
            given = configured.get(key)
            merged[key] = apply_patch(
                base if isinstance(base, dict) else {},
                given if isinstance(given, dict) else {},
                value,
            )
        else:
            merged[key] = value
    return merged


def resolve_route(defaults: RouteSettings, overlay: RouteOverlay | None) -> RouteSettings:
    if overlay is None:
        return defaults
    merged = deep_merge(defaults.model_dump(), overlay.model_dump(exclude_none=True))
    return RouteSettings.model_validate(merged)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], *, source: str = "configuration") -> SimulatorConfig:
    """Validate a parsed TOML document, including every route against the defaults."""
    try:
        config = SimulatorConfig.model_validate(data)
        for overlay in config.routes.values():
            resolve_route(config.defaults, overlay)
    except ValidationError as exc:
        raise SimulatorConfigError(f"{source} is invalid:\n{_describe(exc)}") from exc
    return config


def load_config(path: Path) -> SimulatorConfig:
    """Read and validate a simulator TOML file."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise SimulatorConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SimulatorConfigError(f"{path} is not valid TOML: {exc}") from exc
    return parse_config(data, source=str(path))


def apply_settings(config: SimulatorConfig, settings: SimulatorSettings) -> SimulatorConfig:
    """Environment values win over the file, so secrets need not be written into it."""
    options = config.simulator
    updates: dict[str, Any] = {}
    if settings.admin_token is not None:
        updates["admin_token"] = settings.admin_token
    if settings.truth_log is not None:
        updates["truth_log"] = settings.truth_log
    if not updates:
        return config
    return config.model_copy(update={"simulator": options.model_copy(update=updates)})
