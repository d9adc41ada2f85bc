"""`python -m smsfleet.search [--host H] [--port P] [--data-dir DIR]` (token from the env)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from smsfleet.core.errors import ConfigurationError
from smsfleet.core.hosts import AllowedHosts, is_loopback, loopback_hosts
from smsfleet.core.http_server import server_options
from smsfleet.core.settings import Settings
from smsfleet.search.app import create_search_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smsfleet.search", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    try:
        app = create_search_app(settings)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Reached by the control plane only: on a loopback address, no name a page elsewhere
    # points at 127.0.0.1 reaches it.
    served = AllowedHosts(app, hosts=loopback_hosts(args.host)) if is_loopback(args.host) else app
    limits = server_options(settings.http)
    uvicorn.run(served, host=args.host, port=args.port, log_level="warning", **limits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
