"""What the browser tests share with their fixtures (tests/e2e/conftest.py): the running
control plane's description, where screenshots go, the states of a session at rest,
alerts raised by hand, and the check that a table sorts by a column."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, expect

from tests.support.programs import install_program

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
# States in which a session has no process left.
AT_REST = {"stopped", "exited", "fatal"}


@dataclass(frozen=True)
class ControlPlane:
    url: str
    admin_password: str
    screen_dir: Path
    data_dir: Path
    # Host `edge1` of its inventory: a loopback sshd with screens of its own.
    edge_screen_dir: Path
    # A program directory of its own (beside the checkout's), where tests install programs.
    programs_dir: Path

    def install(self, name: str, source: str) -> list[str]:
        """Install `source` as a program, as an admin would; the command that runs it."""
        return install_program(self.programs_dir, name, source)


@contextmanager
def raised_alerts(api: httpx.Client, messages: Iterable[str]) -> Iterator[list[str]]:
    """Alerts raised by hand (the seed's `POST /alert`, critical), their ids; acknowledged,
    so resolved, afterwards."""
    ids = []
    try:
        for message in messages:
            response = api.post("/alert", json={"message": message})
            assert response.status_code == 202, response.text
            ids.append(response.json()["alert_id"])
        yield ids
    finally:
        for alert_id in ids:
            api.post(f"/api/v1/alerts/{alert_id}/ack", json={})


def natural(text: str) -> tuple[str | int, ...]:
    """Text in the order the tables sort it: case aside, runs of digits by their number
    ('b2' before 'B10')."""
    return tuple(
        int(part) if index % 2 else part.casefold()
        for index, part in enumerate(re.split(r"(\d+)", text))
    )


def expect_sorts_by(header: Locator, values: Callable[[], Sequence[Any]]) -> None:
    """Clicking a sortable column's header orders the rows by that column, clicking it again
    reverses them, and a third click gives back the order they came in.

    `values` reads that column's value of the rows looked at, in the order shown, as values
    Python orders the way the table does (numbers, `natural` for text); None is an empty
    cell, last in either direction. Numeric columns start largest first, text A to Z:
    whichever the header says (`aria-sort`) is checked.
    """
    given = list(values())
    filled = [value for value in given if value is not None]
    assert len(set(filled)) > 1, f"rows with at least two values are needed to tell: {given}"
    empty = [None] * (len(given) - len(filled))
    button = header.get_by_role("button")
    button.click()
    expect(header).not_to_have_attribute("aria-sort", "none")
    descending = header.get_attribute("aria-sort") == "descending"
    assert list(values()) == sorted(filled, reverse=descending) + empty
    button.click()
    expect(header).to_have_attribute("aria-sort", "ascending" if descending else "descending")
    assert list(values()) == sorted(filled, reverse=not descending) + empty
    button.click()
    expect(header).to_have_attribute("aria-sort", "none")
    assert list(values()) == given
