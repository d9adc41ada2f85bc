"""A stand-in test program for the demo fleet: it logs a line now and then until stopped."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--provider", default="provider1")
    parser.add_argument("--interval", type=float, default=6.0, help="seconds between lines")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        print(f"received {signal.Signals(signum).name}, stopping", flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    session = os.environ.get("SMSFLEET_SESSION", "standalone")
    print(f"{session}: started with {args.provider}", flush=True)
    beat = 0
    while not stop.wait(args.interval):
        beat += 1
        print(f"{session}: alive ({beat})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
