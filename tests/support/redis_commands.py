"""The commands a Redis server runs while a block runs, as MONITOR sees them."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis

__all__ = ["redis_commands"]


@contextmanager
def redis_commands(url: str, *, naming: str) -> Iterator[list[str]]:
    """Collect, while the block runs, the commands clients sent that name `naming` (a key
    prefix), each as its words joined by spaces.

    MONITOR sees every client's commands: other tests' go by other prefixes.
    """
    seen: list[str] = []
    ready = threading.Event()
    end = f"smsfleet-test-end-{secrets.token_hex(4)}"
    errors: list[BaseException] = []

    def watch() -> None:
        client = redis.Redis.from_url(url)
        try:
            with client.monitor() as monitor:  # type: ignore[no-untyped-call]
                ready.set()
                while True:
                    seen_now = monitor.next_command()
                    command = str(seen_now["command"])
                    if end in command:
                        return
                    # What scripts run inside is not a command of a client.
                    if naming in command and seen_now.get("client_type") != "lua":
                        seen.append(command)
        except BaseException as error:  # reported by the block's caller
            errors.append(error)
            ready.set()
        finally:
            client.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    client = redis.Redis.from_url(url)
    try:
        # MONITOR has started once it sees this.
        client.echo(f"{naming}-start")
        yield seen
    finally:
        client.echo(end)
        client.close()
        thread.join(10)
    assert not errors, errors
    assert seen and seen[0] == f"ECHO {naming}-start", seen[:1]
    del seen[0]
