from __future__ import annotations

import re

import pytest

from smsfleet.sessions.names import (
    PAIR_KEY_PATTERN,
    PROGRAM_NAME_PATTERN,
    SESSION_NAME_PATTERN,
    SLUG_PATTERN,
    InvalidSessionName,
    parse_session_name,
    session_name,
)

HOSTILE_NAMES = [
    "",
    "x;rm -rf /",
    "program1_IN_vi;rm -rf /",
    "$(id)",
    "program1_IN_$(id)",
    "program1_IN_`id`",
    "program1_IN_vi x",
    "program1 IN vi",
    "program1_IN_vi\n",
    "program1_IN_vi\nprogram2_IN_vi",
    "\nprogram1_IN_vi",
    "program1_IN_vi\0",
    "program1_IN_vi\t",
    "program1_IN_" + "a" * 300,
    "p" * 300,
    "program1_IN_\u0430irtel",  # Cyrillic small a
    "progr\u0430m1_IN_airtel",
    "program\uff11_IN_airtel",  # fullwidth digit one
    "program1_\uff29N_airtel",  # fullwidth 'I'
    "program1_IN_airte\u217c",  # Roman numeral fifty, looks like 'l'
    "../program1_IN_vi",
    "program1_IN_vi/../../etc",
    "program1_in_vi",
    "Program1_IN_vi",
    "1program_IN_vi",
    "program1_IND_vi",
    "program1_I_vi",
    "program1_IN_-vi",
    "program1_IN_Vi",
    "program1_IN_vi_extra",
    "program1__IN_vi",
    "program1_IN",
    "program_1_IN_vi",
    "program1.IN.vi",
    "123.program1_IN_vi",
]


@pytest.mark.parametrize(
    ("name", "program", "pair_key"),
    [
        ("program1_UZ_uzmobile", "program1", "UZ_uzmobile"),
        ("program2_IN_airtel", "program2", "IN_airtel"),
        ("program3_UA_3mob", "program3", "UA_3mob"),
        ("sms-gw_IN_vi", "sms-gw", "IN_vi"),
        ("p_TJ_megafon-2", "p", "TJ_megafon-2"),
    ],
)
def test_valid_names_round_trip(name: str, program: str, pair_key: str) -> None:
    assert parse_session_name(name) == (program, pair_key)
    assert session_name(program, pair_key) == name
    assert re.fullmatch(SESSION_NAME_PATTERN, name)


def test_longest_valid_name_is_accepted() -> None:
    program, slug = "p" * 32, "s" * 32
    assert parse_session_name(f"{program}_IN_{slug}") == (program, f"IN_{slug}")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_session_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidSessionName, match="invalid session name"):
        parse_session_name(name)


def test_rejection_is_a_value_error_with_a_short_message() -> None:
    with pytest.raises(ValueError, match=r"expected \{program\}_\{CC\}_") as caught:
        parse_session_name("x" * 300)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("program", ["", "Program1", "1program", "prog ram", "prog;ram", "p" * 33])
def test_session_name_rejects_bad_programs(program: str) -> None:
    with pytest.raises(InvalidSessionName, match="invalid program name"):
        session_name(program, "IN_vi")


@pytest.mark.parametrize("pair_key", ["", "IN", "in_vi", "IN_Vi", "IN_vi\n", "IN_v i", "IN_$(id)"])
def test_session_name_rejects_bad_pair_keys(pair_key: str) -> None:
    with pytest.raises(InvalidSessionName, match="invalid pair key"):
        session_name("program1", pair_key)


def test_non_strings_are_rejected() -> None:
    with pytest.raises(InvalidSessionName):
        parse_session_name(None)  # type: ignore[arg-type]


def test_patterns_are_anchored_strings() -> None:
    for pattern in (PROGRAM_NAME_PATTERN, SLUG_PATTERN, PAIR_KEY_PATTERN, SESSION_NAME_PATTERN):
        assert isinstance(pattern, str)
        assert pattern.startswith("^")
        assert pattern.endswith("$")
    assert re.fullmatch(SLUG_PATTERN, "3mob")
    assert not re.fullmatch(SLUG_PATTERN, "-3mob")
    assert re.fullmatch(PROGRAM_NAME_PATTERN, "program1")
