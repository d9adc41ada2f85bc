from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from smsfleet.sessions.backend import ScreenEntry
from smsfleet.sessions.screen import parse_screen_ls, screen_ls_directory

FIXTURE = Path(__file__).parents[2] / "fixtures" / "screen_ls_sample.txt"


def test_operators_sample_output() -> None:
    entries = parse_screen_ls(FIXTURE.read_text(encoding="utf-8"))

    assert [(e.pid, e.name) for e in entries] == [
        (3245168, "program1_UZ_uzmobile"),
        (3245130, "program1_UA_3mob"),
        (3245095, "program1_TJ_megafon"),
        (3245060, "program1_IN_reliance"),
        (3245025, "program1_IN_docomo"),
        (3244990, "program1_IN_vi"),
        (3244955, "program1_IN_airtel"),
        (3244920, "program1_AZ_azercell"),
    ]
    started = datetime(2024, 10, 20, 12, 6, 21).astimezone()
    for entry in entries:
        assert entry.started_at == started
        assert entry.started_at.tzinfo is not None
        assert entry.status == "Detached"
        assert not entry.attached
        assert entry.alive
    assert entries[0].socket_name == "3245168.program1_UZ_uzmobile"


def test_debian_format_without_a_start_time() -> None:
    output = (
        "There are screens on:\n"
        "\t12345.program2_IN_airtel\t(Detached)\n"
        "\t12346.program2_IN_vi\t(Attached)\n"
        "2 Sockets in /run/screen/S-root.\n"
    )
    assert parse_screen_ls(output) == [
        ScreenEntry(12345, "program2_IN_airtel", None, "Detached"),
        ScreenEntry(12346, "program2_IN_vi", None, "Attached"),
    ]
    assert parse_screen_ls(output)[1].attached


def test_single_screen_with_c_locale_time() -> None:
    output = (
        "There is a screen on:\n"
        "\t10484.program3_UA_3mob\t(11/22/26 06:29:09)\t(Attached)\n"
        "1 Socket in /tmp/sd.\n"
    )
    [entry] = parse_screen_ls(output)
    assert entry == ScreenEntry(
        10484, "program3_UA_3mob", datetime(2026, 11, 22, 6, 29, 9).astimezone(), "Attached"
    )
    assert entry.attached


def test_dead_screens_are_listed_but_not_alive() -> None:
    output = (
        "There are screens on:\n"
        "\t999.program1_IN_vi\t(10/20/2024 12:06:21 PM)\t(Dead ???)\n"
        "\t1000.program1_IN_vi\t(10/20/2024 12:07:00 PM)\t(Detached)\n"
        "Remove dead screens with 'screen -wipe'.\n"
        "2 Sockets in /run/screen/S-root.\n"
    )
    dead, live = parse_screen_ls(output)
    assert dead.status == "Dead ???"
    assert not dead.alive
    assert not dead.attached
    assert live.alive


@pytest.mark.parametrize(
    "output",
    [
        "No Sockets found in /run/screen/S-root.\n\n",
        "",
        "Cannot access /nonexistent: No such file or directory\n",
    ],
)
def test_outputs_without_screens(output: str) -> None:
    assert parse_screen_ls(output) == []


def test_names_are_kept_exactly() -> None:
    output = (
        "There are screens on:\n"
        "\t1.program1_IN_vip\t(Detached)\n"
        "\t2.program1_IN_vi-2\t(Detached)\n"
        "\t3.program1_IN_vi\t(Detached)\n"
    )
    names = [entry.name for entry in parse_screen_ls(output)]
    assert names == ["program1_IN_vip", "program1_IN_vi-2", "program1_IN_vi"]
    assert [e.pid for e in parse_screen_ls(output) if e.name == "program1_IN_vi"] == [3]


def test_unknown_time_format_gives_no_start_time() -> None:
    [entry] = parse_screen_ls("\t42.program1_IN_vi\t(sometime)\t(Multi, detached)\n")
    assert entry.started_at is None
    assert entry.status == "Multi, detached"
    assert not entry.attached


def test_names_with_dots_and_spaces_from_other_tools_parse() -> None:
    # Screens not started by smsfleet may have any name; they must not break listing.
    [entry] = parse_screen_ls("\t77.my work.v2\t(Detached)\n")
    assert (entry.pid, entry.name) == (77, "my work.v2")


@pytest.mark.parametrize(
    ("output", "directory"),
    [
        ("No Sockets found in /run/screen/S-fleet.\n", "/run/screen/S-fleet"),
        ("There is a screen on:\n\t1.a\t(Detached)\n1 Socket in /tmp/s.\n", "/tmp/s"),
        ("There are screens on:\n\t1.a\t(Detached)\n22 Sockets in /run/s/S-x.\n\n", "/run/s/S-x"),
        ("unexpected\n", None),
    ],
)
def test_the_directory_a_listing_looked_in(output: str, directory: str | None) -> None:
    assert screen_ls_directory(output) == directory


def test_the_directory_of_the_operators_sample() -> None:
    assert screen_ls_directory(FIXTURE.read_text(encoding="utf-8")) == "/run/screen/S-root"
