"""Running the simulator as its own process."""

from __future__ import annotations

from pathlib import Path

from starlette.types import ASGIApp

from smsfleet.core.hosts import AllowedHosts, is_loopback, loopback_hosts
from smsfleet.simulator.app import create_simulator_app
from smsfleet.simulator.config import (
    SimulatorConfig,
    SimulatorSettings,
    apply_settings,
    load_config,
)


def build_config(
    config_path: Path | None, settings: SimulatorSettings | None = None
) -> SimulatorConfig:
    """The file (or built-in defaults) with `SMSFLEET_SIMULATOR_*` values on top."""
    settings = settings or SimulatorSettings()
    path = config_path or settings.config
    config = load_config(path) if path is not None else SimulatorConfig()
    return apply_settings(config, settings)


def serve(host: str, port: int, config_path: Path | None, *, access_log: bool = True) -> None:
    """Serve the simulator with uvicorn until interrupted.

    Raises `SimulatorConfigError` when the configuration cannot be used.
    """
    import uvicorn

    from smsfleet.core.http_server import server_options
    from smsfleet.core.settings import HttpSettings

    app = listening_on(host, create_simulator_app(build_config(config_path)))
    # The control plane's default limits: a client reaching it must not hold its memory.
    limits = server_options(HttpSettings())
    # Without its access log (as the demo runs it) its start-up lines go too: printed
    # before the demo's banner, its URL would be the first a new user reads.
    level = "info" if access_log else "warning"
    uvicorn.run(app, host=host, port=port, log_level=level, access_log=access_log, **limits)


def listening_on(host: str, app: ASGIApp) -> ASGIApp:
    """`app` as served on `host`. Its admin routes take no login: on a loopback address,
    a page elsewhere pointing a name of its own at 127.0.0.1 must not reach them."""
    return AllowedHosts(app, hosts=loopback_hosts(host)) if is_loopback(host) else app
