"""Telling an E.164 number of any country from one that only looks like it."""

from __future__ import annotations

import re

import pytest

from smsfleet.core import phones


@pytest.mark.parametrize(
    "number", ["+998901234567", "+12025550123", "+1234567890", "+79161234567", "+442071838750"]
)
def test_a_countrys_number_with_its_plus_is_e164(number: str) -> None:
    assert phones.is_e164(number)


@pytest.mark.parametrize(
    "number",
    [
        "+0987654321",  # no country code starts with 0
        "+999123456789",  # 999 is no country's code
        "+44123",  # too short for any British number
        "+9989012345678901",  # 16 digits
        "998901234567",  # no `+`
        "+99890123456a",
        "+\uff1998901234567",  # a digit, but not an ASCII one
    ],
)
def test_anything_else_is_not(number: str) -> None:
    assert not phones.is_e164(number)


@pytest.mark.parametrize(
    ("raw", "region", "kept"),
    [
        ("+998901234567", None, "+998901234567"),
        ("998901234567", None, "+998901234567"),  # read as international
        ("901234567", "UZ", "+998901234567"),  # a national number of a known country
        ("0987654321", None, "0987654321"),  # of no known country: kept as written
        ("+0987654321", None, "+0987654321"),  # claimed international: kept so
    ],
)
def test_a_number_is_kept_in_e164_when_it_can_be_read_else_as_written(
    raw: str, region: str | None, kept: str
) -> None:
    assert phones.canonical(raw, region) == kept


@pytest.mark.parametrize(("number", "region"), [("+994501234567", "AZ"), ("+998901234567", "UZ")])
def test_a_number_of_another_country_names_its_own_without_an_article_to_get_wrong(
    number: str, region: str
) -> None:
    """The code follows "of": no article before it to get wrong ("a AZ", "an UZ")."""
    country = "KZ"
    said = f"{number!r} is a number of {region}, not {country}"
    with pytest.raises(ValueError, match=f"^{re.escape(said)}$"):
        phones.of_country(number, country)
