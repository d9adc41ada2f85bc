"""`python -m smsfleet.simulator [--host H] [--port P] [--config FILE] [--no-access-log]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from smsfleet.simulator.config import SimulatorConfigError, SimulatorSettings
from smsfleet.simulator.server import serve


def main(argv: list[str] | None = None) -> int:
    settings = SimulatorSettings()
    parser = argparse.ArgumentParser(
        prog="python -m smsfleet.simulator",
        description="Simulated SMS providers and test-phone gateway.",
    )
    parser.add_argument("--host", default=settings.host, help="address to listen on")
    parser.add_argument("--port", type=int, default=settings.port, help="port to listen on")
    parser.add_argument(
        "--config",
        type=Path,
        default=settings.config,
        help="TOML file of defaults, routes and providers (see deploy/simulator.toml)",
    )
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="log no request nor its start-up lines, only warnings",
    )
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, args.config, access_log=args.access_log)
    except SimulatorConfigError as exc:
        print(f"smsfleet simulator: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
