"""A remote log followed by many sockets costs its host one read per place in the log
and per `LOG_READ_FRESH_SECONDS`, not one per socket: each read is an ssh round trip."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from smsfleet.core.settings import SshHost
from smsfleet.sessions.ssh import LOG_READ_FRESH_SECONDS, SshBackend

# An `ssh` that answers every log read as the host's agent would, and counts them.
FAKE_SSH = """\
import json, sys
request = json.load(sys.stdin)
with open({calls!r}, "a") as calls:
    calls.write(json.dumps([request["name"], request["offset"]]) + "\\n")
offset = request["offset"] or 0
print(json.dumps({{"offset": offset + 6, "lines": ["line " + str(offset)]}}))
"""


def test_readers_at_one_place_in_one_log_share_a_fresh_read(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    ssh = tmp_path / "ssh"
    ssh.write_text(f"#!{sys.executable}\n" + FAKE_SSH.format(calls=str(calls)))
    ssh.chmod(0o700)
    now = [100.0]
    backend = SshBackend(
        "edge1",
        SshHost(ssh="fleet@edge1.internal"),
        ssh_bin=str(ssh),
        control_dir=tmp_path,
        clock=lambda: now[0],
    )

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
