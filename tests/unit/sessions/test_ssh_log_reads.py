"""A remote log followed by many sockets costs its host one read per place in the log
and per `LOG_READ_FRESH_SECONDS`, not one per socket, and so do many asking for its last
lines: each read is an ssh round trip that starts an agent there."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from smsfleet.core.settings import SshHost
from smsfleet.sessions.ssh import LOG_READ_FRESH_SECONDS, SshBackend

# An `ssh` that answers every log read as the host's agent would, and counts them.
FAKE_SSH = """\
import json, sys, time
request = json.load(sys.stdin)
with open({calls!r}, "a") as calls:
    calls.write(json.dumps([request["name"], request.get("offset", request.get("lines"))]) + "\\n")
if request["op"] == "tail":
    time.sleep(0.2)  # long enough for readers to come while it is read
    print(json.dumps({{"lines": ["line " + str(n) for n in range(request["lines"])]}}))
else:
    offset = request["offset"] or 0
    print(json.dumps({{"offset": offset + 6, "lines": ["line " + str(offset)]}}))
"""


def backend_counting(tmp_path: Path, now: list[float]) -> tuple[SshBackend, Path]:
    """A backend on the fake ssh, and the file its reads are counted in."""
    calls = tmp_path / "calls"
    ssh = tmp_path / "ssh"
    ssh.write_text(f"#!{sys.executable}\n" + FAKE_SSH.format(calls=str(calls)))
    ssh.chmod(0o700)
    backend = SshBackend(
        "edge1",
        SshHost(ssh="fleet@edge1.internal"),
        ssh_bin=str(ssh),
        control_dir=tmp_path,
        clock=lambda: now[0],
    )
    return backend, calls


def test_readers_at_one_place_in_one_log_share_a_fresh_read(tmp_path: Path) -> None:
    now = [100.0]
    backend, calls = backend_counting(tmp_path, now)

    def reads() -> list[list[object]]:
        return [json.loads(line) for line in calls.read_text().splitlines()]

    name = "program1_UZ_uzmobile"
    # Ten sockets at one place: one read, the same lines for each.
    answers = {repr(backend.log_since(name, 12)) for _ in range(10)}
    assert answers == {repr((18, ["line 12"]))}
    assert reads() == [[name, 12]]
    # Another place or another log is a read of its own.
    assert backend.log_since(name, 18) == (24, ["line 18"])
    assert backend.log_since("program2_UZ_uzmobile", 12) == (18, ["line 12"])
    assert len(reads()) == 3
    # Once not fresh, read again: lines written since are never held back longer.
    now[0] += LOG_READ_FRESH_SECONDS
    backend.log_since(name, 12)
    assert reads()[-1] == [name, 12] and len(reads()) == 4
    # The lines handed out are each reader's own to change.
    backend.log_since(name, 12)[1].append("changed")
    assert backend.log_since(name, 12) == (18, ["line 12"])


def test_readers_of_a_logs_same_last_lines_share_a_fresh_read(tmp_path: Path) -> None:
    now = [100.0]
    backend, calls = backend_counting(tmp_path, now)
    name = "program1_UZ_uzmobile"
    assert {repr(backend.tail(name, 3)) for _ in range(10)} == {
        repr(["line 0", "line 1", "line 2"])
    }
    assert len(calls.read_text().splitlines()) == 1
    assert backend.tail(name, 2) == ["line 0", "line 1"]  # other lines: a read of its own
    assert len(calls.read_text().splitlines()) == 2
    now[0] += LOG_READ_FRESH_SECONDS
    backend.tail(name, 3)
    assert len(calls.read_text().splitlines()) == 3


def test_readers_coming_while_a_read_is_under_way_wait_for_it(tmp_path: Path) -> None:
    now = [100.0]
    backend, calls = backend_counting(tmp_path, now)
    answers: list[list[str]] = []
    readers = [
        threading.Thread(target=lambda: answers.append(backend.tail("program1_UZ_uzmobile", 2)))
        for _ in range(8)
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(10)
    assert answers == [["line 0", "line 1"]] * 8
    assert len(calls.read_text().splitlines()) == 1
