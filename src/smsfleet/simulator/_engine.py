"""The simulated providers and gateway: every fate is decided when the SMS is triggered."""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from smsfleet.simulator._errors import SimulatorError, conflict, invalid, not_found
from smsfleet.simulator._truth import ResetEvent, SubmitEvent, TriggerEvent, TruthLog
from smsfleet.simulator.config import (
    LatencyConfig,
    ProviderConfig,
    ProviderOverlay,
    RouteOverlay,
    RouteSettings,
    SimulatorConfig,
    apply_patch,
    resolve_route,
)
from smsfleet.simulator.models import (
    ConfigView,
    Inbox,
    InboxMessage,
    MessageState,
    MessageStatus,
    OptionsView,
    ProviderView,
    RouteCounts,
    RouteView,
    SendRequest,
    SendResponse,
    SubmitRequest,
    SubmitResponse,
    TruthRecord,
    TruthReport,
)

RATE_WINDOW_SECONDS = 60.0


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def sample_latency(latency: LatencyConfig, rng: random.Random) -> float:
    if latency.distribution == "fixed":
        return latency.median_seconds
    if latency.distribution == "uniform":
        return rng.uniform(latency.min_seconds, latency.max_seconds)
    if latency.median_seconds <= 0.0 or latency.sigma == 0.0:
        value = latency.median_seconds
    else:
        value = rng.lognormvariate(math.log(latency.median_seconds), latency.sigma)
    return min(max(value, latency.min_seconds), latency.max_seconds)


@dataclass
class _Trigger:
    event: TriggerEvent
    submitted_at: float | None = None
    wrong_codes: int = 0

    def state(self, now: float) -> MessageState | None:
        event = self.event
        if event.outcome == "delivered":
            assert event.deliver_at is not None
            return "delivered" if now >= event.deliver_at else "pending"
        if event.outcome == "not_delivered":
            assert event.give_up_at is not None
            # A real gateway cannot tell "late" from "lost" until it stops waiting.
            return "not_delivered" if now >= event.give_up_at else "pending"
        return None


def _validation_details(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in item["loc"]], "message": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]


def _invalid_settings(error: ValidationError) -> SimulatorError:
    return SimulatorError(
        422, "invalid_settings", "the settings are invalid", details=_validation_details(error)
    )


class Simulator:
    """All state of one simulator; every public method is safe to call from any thread."""

    def __init__(
        self, config: SimulatorConfig, *, clock: Callable[[], float], rng: random.Random
    ) -> None:
        self._initial = config
        self._config = config
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        path = config.simulator.truth_log
        self._log = TruthLog(path) if path is not None else None
        self._started_at = clock()
        self._records: list[_Trigger] = []
        self._by_seq: dict[int, _Trigger] = {}
        self._by_id: dict[str, _Trigger] = {}
        self._windows: dict[str, deque[float]] = {}
        if self._log is not None:
            self._replay(self._log)

    @property
    def admin_token(self) -> str | None:
        token = self._config.simulator.admin_token
        return token.get_secret_value() if token is not None else None

    # -- providers -------------------------------------------------------------------------

    def send(self, provider: str, request: SendRequest) -> SendResponse:
        with self._lock:
            now = self._clock()
            if request.trigger_id is not None:
                existing = self._by_id.get(request.trigger_id)
                if existing is not None:
                    return self._replayed(existing, provider, request)
            route = self._route_settings(request.route)
            settings = self._provider_settings(provider)
            failure = self._send_failure(now, provider, request.route, route, settings)
            if failure is not None:
                if request.trigger_id is not None:
                    failure.details = {**(failure.details or {}), "trigger_id": request.trigger_id}
                self._add(
                    TriggerEvent(
                        seq=self._next_seq(),
                        trigger_id=request.trigger_id,
                        provider=provider,
                        route=request.route,
                        phone=request.phone,
                        triggered_at=now,
                        outcome="send_error",
                        error_code=failure.code,
                        http_status=failure.status,
                    )
                )
                raise failure
            trigger_id = request.trigger_id or self._new_trigger_id()
            # Always draw all three so one trigger consumes the same randomness whatever its fate.
            delivered = self._rng.random() < (
                route.delivery_probability * settings.delivery_probability
            )
            latency = sample_latency(route.latency, self._rng) * settings.latency_factor
            code = self._new_code()
            self._add(
                TriggerEvent(
                    seq=self._next_seq(),
                    trigger_id=trigger_id,
                    provider=provider,
                    route=request.route,
                    phone=request.phone,
                    triggered_at=now,
                    outcome="delivered" if delivered else "not_delivered",
                    code=code,
                    latency_seconds=latency if delivered else None,
                    deliver_at=now + latency if delivered else None,
                    give_up_at=None if delivered else now + route.give_up_after_seconds,
                )
            )
            return SendResponse(trigger_id=trigger_id)

    def submit(self, provider: str, request: SubmitRequest) -> SubmitResponse:
        with self._lock:
            now = self._clock()
            record = self._by_id.get(request.trigger_id)
            if record is None or record.event.provider != provider:
                raise not_found(
                    "unknown_trigger",
                    f"{provider} never sent trigger {request.trigger_id}",
                    trigger_id=request.trigger_id,
                )
            settings = self._provider_settings(provider)
            if self._provider_down(now, settings):
                raise SimulatorError(
                    503,
                    "provider_outage",
                    f"{provider} is unavailable",
                    details={"provider": provider},
                )
            if record.submitted_at is not None:
                raise conflict(
                    "already_submitted",
                    f"trigger {request.trigger_id} was already submitted",
                    trigger_id=request.trigger_id,
                    submitted_at=_dt(record.submitted_at).isoformat(),
                )
            state = record.state(now)
            if state != "delivered":
                raise conflict(
                    "message_not_delivered",
                    f"no SMS has arrived for trigger {request.trigger_id}",
                    trigger_id=request.trigger_id,
                    status=state,
                )
            if request.code != record.event.code:
                record.wrong_codes += 1
                self._write(SubmitEvent(seq=record.event.seq, at=now, accepted=False))
                raise invalid(
                    "code_mismatch",
                    "the code does not match the SMS sent for this trigger",
                    trigger_id=request.trigger_id,
                )
            record.submitted_at = now
            self._write(SubmitEvent(seq=record.event.seq, at=now, accepted=True))
            return SubmitResponse(trigger_id=request.trigger_id)

    # -- gateway ---------------------------------------------------------------------------

    def message(self, trigger_id: str) -> MessageStatus:
        with self._lock:
            record = self._by_id.get(trigger_id)
            if record is None:
                raise not_found(
                    "unknown_trigger",
                    f"no SMS was triggered as {trigger_id}",
                    trigger_id=trigger_id,
                )
            state = record.state(self._clock())
            assert state is not None
            if state != "delivered":
                return MessageStatus(trigger_id=trigger_id, status=state)
            assert record.event.deliver_at is not None
            return MessageStatus(
                trigger_id=trigger_id,
                status=state,
                code=record.event.code,
                delivered_at=_dt(record.event.deliver_at),
            )

    def inbox(self, phone: str, limit: int) -> Inbox:
        with self._lock:
            now = self._clock()
            arrived = [
                record
                for record in self._by_id.values()
                if record.event.phone == phone and record.state(now) == "delivered"
            ]
        arrived.sort(key=lambda record: record.event.deliver_at or 0.0, reverse=True)
        messages = []
        for record in arrived[:limit]:
            event = record.event
            assert event.trigger_id is not None
            assert event.code is not None
            assert event.deliver_at is not None
            messages.append(
                InboxMessage(
                    trigger_id=event.trigger_id,
                    provider=event.provider,
                    route=event.route,
                    code=event.code,
                    text=f"Your verification code is {event.code}",
                    delivered_at=_dt(event.deliver_at),
                )
            )
        return Inbox(phone=phone, messages=messages)

    def numbers(self, route: str | None) -> dict[str, list[str]]:
        with self._lock:
            config = self._config
            keys = [route] if route is not None else sorted(config.routes)
            if route is not None and config.simulator.strict and route not in config.routes:
                raise not_found("unknown_route", f"route {route} is not configured", route=route)
            return {
                key: list(resolve_route(config.defaults, config.routes.get(key)).phones)
                for key in keys
            }

    # -- admin -----------------------------------------------------------------------------

    def config_view(self) -> ConfigView:
        with self._lock:
            config = self._config
            options = config.simulator
            return ConfigView(
                simulator=OptionsView(
                    code_length=options.code_length,
                    strict=options.strict,
                    truth_log=str(options.truth_log) if options.truth_log else None,
                    admin_token_set=options.admin_token is not None,
                ),
                defaults=config.defaults,
                routes={key: self._route_view(key) for key in sorted(config.routes)},
                providers={
                    name: ProviderView(provider=name, settings=settings)
                    for name, settings in sorted(config.providers.items())
                },
            )

    def put_route(self, route: str, overlay: RouteOverlay) -> RouteView:
        with self._lock:
            self._store_route(route, overlay)
            return self._route_view(route)

    def patch_route(self, route: str, patch: RouteOverlay) -> RouteView:
        with self._lock:
            current = self._config.routes.get(route, RouteOverlay())
            configured = self._initial.routes.get(route, RouteOverlay())
            merged = apply_patch(
                current.model_dump(exclude_none=True),
                configured.model_dump(exclude_none=True),
                patch.model_dump(exclude_unset=True),
            )
            try:
                overlay = RouteOverlay.model_validate(merged)
            except ValidationError as exc:
                raise _invalid_settings(exc) from exc
            self._store_route(route, overlay)
            return self._route_view(route)

    def put_provider(self, provider: str, settings: ProviderConfig) -> ProviderView:
        with self._lock:
            self._store_provider(provider, settings)
            return ProviderView(provider=provider, settings=settings)

    def patch_provider(self, provider: str, patch: ProviderOverlay) -> ProviderView:
        with self._lock:
            current = self._config.providers.get(provider, ProviderConfig())
            configured = self._initial.providers.get(provider)
            merged = apply_patch(
                current.model_dump(),
                configured.model_dump() if configured is not None else {},
                patch.model_dump(exclude_unset=True),
            )
            try:
                settings = ProviderConfig.model_validate(merged)
            except ValidationError as exc:
                raise _invalid_settings(exc) from exc
            self._store_provider(provider, settings)
            return ProviderView(provider=provider, settings=settings)

    def reset(self, *, config: bool, truth: bool) -> None:
        with self._lock:
            now = self._clock()
            if config:
                self._config = self._initial
                self._started_at = now
            if truth:
                self._records.clear()
                self._by_seq.clear()
                self._by_id.clear()
                if self._log is not None:
                    self._log.append(ResetEvent(at=now))
            self._windows.clear()

    def truth(
        self, *, route: str | None, provider: str | None, since: datetime | None
    ) -> TruthReport:
        with self._lock:
            now = self._clock()
            since_seconds = None
            if since is not None:
                aware = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
                since_seconds = aware.timestamp()
            records: list[TruthRecord] = []
            counts: dict[str, RouteCounts] = {}
            total = RouteCounts()
            for record in self._records:
                event = record.event
                if route is not None and event.route != route:
                    continue
                if provider is not None and event.provider != provider:
                    continue
                if since_seconds is not None and event.triggered_at < since_seconds:
                    continue
                state = record.state(now)
                records.append(self._truth_record(record, state))
                for tally in (counts.setdefault(event.route, RouteCounts()), total):
                    _count(tally, record, state)
            return TruthReport(records=records, counts=dict(sorted(counts.items())), total=total)

    # -- helpers (callers hold the lock) ---------------------------------------------------

    def _replay(self, log: TruthLog) -> None:
        for event in log.replay():
            if isinstance(event, TriggerEvent):
                self._index(_Trigger(event))
                continue
            record = self._by_seq.get(event.seq)
            if record is None:
                continue
            if event.accepted:
                record.submitted_at = event.at
            else:
                record.wrong_codes += 1

    def _replayed(self, record: _Trigger, provider: str, request: SendRequest) -> SendResponse:
        event = record.event
        if (event.provider, event.route, event.phone) != (provider, request.route, request.phone):
            raise conflict(
                "trigger_id_conflict",
                f"trigger id {request.trigger_id} was already used for another SMS",
                trigger_id=request.trigger_id,
            )
        assert event.trigger_id is not None
        return SendResponse(trigger_id=event.trigger_id)

    def _route_settings(self, route: str) -> RouteSettings:
        config = self._config
        overlay = config.routes.get(route)
        if overlay is None and config.simulator.strict:
            raise not_found("unknown_route", f"route {route} is not configured", route=route)
        return resolve_route(config.defaults, overlay)

    def _provider_settings(self, provider: str) -> ProviderConfig:
        config = self._config
        settings = config.providers.get(provider)
        if settings is None:
            if config.simulator.strict:
                raise not_found(
                    "unknown_provider", f"provider {provider} is not configured", provider=provider
                )
            return ProviderConfig()
        return settings

    def _provider_down(self, now: float, settings: ProviderConfig) -> bool:
        cycle = settings.outage_cycle
        return settings.outage or (cycle is not None and cycle.active(now - self._started_at))

    def _send_failure(
        self,
        now: float,
        provider: str,
        route: str,
        route_settings: RouteSettings,
        settings: ProviderConfig,
    ) -> SimulatorError | None:
        where = {"provider": provider, "route": route}
        if self._provider_down(now, settings):
            return SimulatorError(
                503, "provider_outage", f"{provider} is unavailable", details=where
            )
        cycle = route_settings.outage_cycle
        if route_settings.outage or (cycle is not None and cycle.active(now - self._started_at)):
            return SimulatorError(
                503,
                "route_outage",
                f"{provider} cannot reach {route}: operator outage",
                details=where,
            )
        limited = self._rate_limited(
            now,
            (f"provider:{provider}", settings.rate_limit_per_minute),
            (f"route:{route}", route_settings.rate_limit_per_minute),
        )
        if limited is not None:
            scope, retry_after = limited
            return SimulatorError(
                429,
                "rate_limited",
                f"too many SMS for this {scope}; retry in {retry_after} s",
                details={**where, "scope": scope, "retry_after": retry_after},
                headers={"Retry-After": str(retry_after)},
            )
        if self._rng.random() < settings.send_error_rate:
            code = self._rng.choice(settings.error_codes)
            return SimulatorError(
                settings.error_status, code, f"{provider} failed to send the SMS", details=where
            )
        if self._rng.random() < route_settings.send_error_rate:
            code = self._rng.choice(route_settings.error_codes)
            return SimulatorError(
                route_settings.error_status,
                code,
                f"{provider} could not hand the SMS to {route}",
                details=where,
            )
        return None

    def _rate_limited(self, now: float, *limits: tuple[str, int]) -> tuple[str, int] | None:
        """The first exhausted (scope, retry-after seconds), or None after counting this send."""
        windows = []
        for key, per_minute in limits:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - RATE_WINDOW_SECONDS:
                window.popleft()
            if per_minute and len(window) >= per_minute:
                retry_after = max(1, math.ceil(window[0] + RATE_WINDOW_SECONDS - now))
                return key.split(":", 1)[0], retry_after
            windows.append(window)
        for window in windows:
            window.append(now)
        return None

    def _next_seq(self) -> int:
        return self._records[-1].event.seq + 1 if self._records else 1

    def _new_trigger_id(self) -> str:
        while True:
            trigger_id = f"sim-{self._rng.getrandbits(64):016x}"
            if trigger_id not in self._by_id:
                return trigger_id

    def _new_code(self) -> str:
        length = self._config.simulator.code_length
        return f"{self._rng.randrange(10**length):0{length}d}"

    def _add(self, event: TriggerEvent) -> None:
        self._write(event)
        self._index(_Trigger(event))

    def _index(self, record: _Trigger) -> None:
        self._records.append(record)
        self._by_seq[record.event.seq] = record
        if record.event.outcome != "send_error" and record.event.trigger_id is not None:
            self._by_id[record.event.trigger_id] = record

    def _write(self, event: TriggerEvent | SubmitEvent) -> None:
        if self._log is not None:
            self._log.append(event)

    def _store_route(self, route: str, overlay: RouteOverlay) -> None:
        try:
            resolve_route(self._config.defaults, overlay)
        except ValidationError as exc:
            raise _invalid_settings(exc) from exc
        routes = {**self._config.routes, route: overlay}
        self._config = self._config.model_copy(update={"routes": routes})

    def _store_provider(self, provider: str, settings: ProviderConfig) -> None:
        providers = {**self._config.providers, provider: settings}
        self._config = self._config.model_copy(update={"providers": providers})

    def _route_view(self, route: str) -> RouteView:
        overlay = self._config.routes.get(route, RouteOverlay())
        return RouteView(
            route=route,
            overrides=overlay,
            effective=resolve_route(self._config.defaults, overlay),
        )

    @staticmethod
    def _truth_record(record: _Trigger, state: MessageState | None) -> TruthRecord:
        event = record.event
        return TruthRecord(
            seq=event.seq,
            trigger_id=event.trigger_id,
            provider=event.provider,
            route=event.route,
            phone=event.phone,
            triggered_at=_dt(event.triggered_at),
            outcome=event.outcome,
            error_code=event.error_code,
            http_status=event.http_status,
            code=event.code,
            latency_seconds=event.latency_seconds,
            delivered_at=_dt(event.deliver_at) if event.deliver_at is not None else None,
            give_up_at=_dt(event.give_up_at) if event.give_up_at is not None else None,
            status=state,
            submitted=record.submitted_at is not None,
            submitted_at=_dt(record.submitted_at) if record.submitted_at is not None else None,
            wrong_codes=record.wrong_codes,
        )


def _count(tally: RouteCounts, record: _Trigger, state: MessageState | None) -> None:
    tally.triggered += 1
    outcome = record.event.outcome
    if outcome == "delivered":
        tally.delivered += 1
    elif outcome == "not_delivered":
        tally.not_delivered += 1
    else:
        tally.send_errors += 1
    if state == "pending":
        tally.pending += 1
    if record.submitted_at is not None:
        tally.submitted += 1
