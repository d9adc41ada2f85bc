"""The host inventory's checks, and the agent's answers to requests it cannot serve."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from smsfleet.core.settings import Settings, SshHost
from smsfleet.sessions.agent import handle
from smsfleet.sessions.ssh import SshBackend


def test_hosts_come_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = {"edge-1": {"ssh": "ops@10.0.0.5", "port": 2222, "python": "/opt/sf/bin/python"}}
    monkeypatch.setenv("SMSFLEET_HOSTS", json.dumps(inventory))
    host = Settings(data_dir=Path("/tmp/unused")).hosts["edge-1"]
    assert host == SshHost(ssh="ops@10.0.0.5", port=2222, python="/opt/sf/bin/python")
    assert host.address == "ops@10.0.0.5:2222" and host.data_dir == "~/.smsfleet"


@pytest.mark.parametrize("name", ["local", "Edge", "edge_1", "-edge", "e" * 33, ""])
def test_host_names_are_plain_and_local_is_reserved(name: str) -> None:
    with pytest.raises(ValidationError, match="host name"):
        Settings(hosts={name: SshHost(ssh="ops@edge")})


@pytest.mark.parametrize(
    "target",
    ["-oProxyCommand=touch /tmp/owned", "ops@-p1", "ops@edge host", "ops@edge;id", "", "@edge"],
)
def test_an_ssh_target_cannot_smuggle_options_or_commands(target: str) -> None:
    with pytest.raises(ValidationError):
        SshHost(ssh=target)


@pytest.mark.parametrize("field", ["data_dir", "screen_dir", "programs_dir"])
def test_paths_there_are_absolute_or_under_home(field: str) -> None:
    with pytest.raises(ValidationError, match="absolute path"):
        SshHost.model_validate({"ssh": "edge", field: "relative/dir"})
    assert getattr(SshHost.model_validate({"ssh": "edge", field: "~/sf"}), field) == "~/sf"


def test_the_remote_command_is_one_quoted_word_per_argument() -> None:
    host = SshHost(ssh="ops@edge", python="/opt/my python/bin/python")
    argv = SshBackend("edge", host, control_dir=Path("/tmp/x")).ssh_argv()
    assert argv[-3:] == ["--", "ops@edge", "'/opt/my python/bin/python' -m smsfleet.sessions.agent"]
    assert "BatchMode=yes" in argv and "StrictHostKeyChecking=yes" in argv


def test_a_hosts_starts_are_checked_against_its_own_program_directories() -> None:
    host = SshHost(ssh="ops@edge", python="/opt/sf/bin/python", programs_dir="~/sf")
    rules = SshBackend("edge", host, control_dir=Path("/tmp/x")).program_rules()
    assert rules == {
        "dirs": ["~/sf"],
        "workdir": "~/sf",
        "interpreters": ["/opt/sf/bin/python"],
        "where": "program_dirs (or programs_dir) of host edge in SMSFLEET_HOSTS",
    }
    listed = host.model_copy(update={"program_dirs": ["/opt/sf/programs", "~/more"]})
    assert SshBackend("edge", listed).program_rules()["dirs"] == ["/opt/sf/programs", "~/more"]
    # Neither: no program directory there, so nothing starts (the agent says why).
    bare = SshBackend("edge", SshHost(ssh="ops@edge")).program_rules()
    assert bare["dirs"] == [] and bare["workdir"] == "~/.smsfleet"
    with pytest.raises(ValidationError, match="absolute path"):
        SshHost(ssh="ops@edge", program_dirs=["/opt/sf", "programs"])


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"op": "rm -rf"}, "unknown request"),
        ([1, 2], "unknown request"),
        ({"op": "tail", "state_dir": "/tmp/sf-unused"}, "malformed request"),
        ({"op": "tail", "state_dir": "/tmp/sf-unused", "name": "a b", "lines": 1}, "session name"),
    ],
)
def test_the_agent_answers_bad_requests_with_an_error(request_body: object, message: str) -> None:
    mode = os.stat("/tmp").st_mode
    answer = handle(request_body)
    assert answer["error"]["kind"] == "value"
    assert message in answer["error"]["message"]
    # What it did not make keeps its mode: its state dir's parent here is everyone's /tmp.
    assert os.stat("/tmp").st_mode == mode
