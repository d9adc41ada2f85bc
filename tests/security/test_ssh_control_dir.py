"""The directory of ssh's shared-connection sockets is this user's own, never followed
through a link: another local user's link in the temporary directory could later point
at a directory holding a master socket of theirs, which ssh would then use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smsfleet.sessions.screen import ScreenError
from smsfleet.sessions.ssh import default_control_dir


def test_a_private_directory_is_made_and_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    made = default_control_dir()
    assert made == tmp_path / f"smsfleet-ssh-{os.getuid()}"
    assert made.is_dir() and (made.stat().st_mode & 0o777) == 0o700
    assert default_control_dir() == made  # and again, as it is


def test_a_link_in_its_place_is_refused_even_to_a_directory_of_this_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / f"smsfleet-ssh-{os.getuid()}").symlink_to(target)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with pytest.raises(ScreenError, match="a link, or another user's"):
        default_control_dir()
