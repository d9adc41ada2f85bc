from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smsfleet.worker import ControlPlaneRejected, ControlPlaneUnavailable
from smsfleet.worker._spool import Spool


def _report(trigger_id: str) -> dict[str, Any]:
    return {"trigger_id": trigger_id, "session": "s", "outcome": "delivered"}


class Server:
    def __init__(self) -> None:
        self.up = True
        self.received: list[str] = []

    def send(self, report: dict[str, Any]) -> str:
        if not self.up:
            raise ControlPlaneUnavailable("down")
        self.received.append(report["trigger_id"])
        return "recorded"


def test_reports_wait_while_down_and_replay_once_in_order(tmp_path: Path) -> None:
    spool, server = Spool(tmp_path), Server()
    server.up = False
    for n in range(5):
        spool.add(_report(f"t-{n}"))
        with pytest.raises(ControlPlaneUnavailable):
            spool.flush(server.send)
    assert len(spool) == 5
    server.up = True
    assert spool.flush(server.send) == 5
    assert spool.flush(server.send) == 0
    assert server.received == [f"t-{n}" for n in range(5)]
    assert list(tmp_path.iterdir()) == []


def test_order_survives_a_restart(tmp_path: Path) -> None:
    Spool(tmp_path).add(_report("first"))
    spool = Spool(tmp_path)
    spool.add(_report("second"))
    server = Server()
    spool.flush(server.send)
    assert server.received == ["first", "second"]


def test_files_are_whole_json_reports(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.add(_report("t/../1"))
    assert path.parent == tmp_path
    assert json.loads(path.read_text()) == _report("t/../1")
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_refused_report_is_set_aside_and_does_not_block_the_rest(tmp_path: Path) -> None:
    spool, received = Spool(tmp_path), []

    def send(report: dict[str, Any]) -> str:
        if report["trigger_id"] == "bad":
            raise ControlPlaneRejected(422, "validation_error", "no")
        received.append(report["trigger_id"])
        return "duplicate"

    for trigger_id in ("a", "bad", "b"):
        spool.add(_report(trigger_id))
    refused: list[Path] = []
    assert spool.flush(send, on_rejected=lambda path, _exc: refused.append(path)) == 2
    assert received == ["a", "b"]
    assert len(refused) == 1
    assert [p.name for p in spool.rejected.iterdir()] == [refused[0].name]
    assert len(spool) == 0
