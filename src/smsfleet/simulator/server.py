"""Running the simulator as its own process."""

from __future__ import annotations

from pathlib import Path

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

    app = create_simulator_app(build_config(config_path))
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log)
