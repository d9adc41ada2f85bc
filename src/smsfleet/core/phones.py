"""Phone numbers as people write them: with or without `+`, international or national.

`canonical` gives the E.164 form a number is kept and looked up by: a number with
`+` is international; one without is national when it is a valid number of the
default region (`SMSFLEET_PHONE_REGION`), and otherwise international written
without its `+` (`1234567890` is `+1234567890`, as the seed SMS service writes it).
"""

from __future__ import annotations

import phonenumbers

__all__ = ["canonical", "country_of", "is_e164", "of_country", "spellings"]

# A number no region claims is taken for its country code's main region only when it
# is this long: `+1234567890` is a US number, `+123` is nobody's.
MIN_NATIONAL_DIGITS = 6
# E.164's longest number, country code included.
E164_MAX_DIGITS = 15


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def canonical(raw: str, region: str | None = None) -> str:
    """The E.164 form of `raw`. One the library cannot read keeps its digits as given:
    with its `+`, or without one when it had none (`0987654321`, a national number of no
    known country, is not made to look like an international one)."""
    plus = raw.strip().startswith("+")
    digits = raw.strip().removeprefix("+")
    if not plus and region:
        national = _parse(digits, region)
        if national is not None and phonenumbers.is_valid_number(national):
            return _e164(national)
    number = _parse(f"+{digits}", None)
    if number is not None:
        return _e164(number)
    return f"+{digits}" if plus else digits


def spellings(raw: str, region: str | None = None) -> list[str]:
    """Every form a number may have been kept in: canonical, as given, with and without `+`."""
    digits = raw.strip().removeprefix("+")
    forms = [canonical(raw, region), raw, f"+{digits}", digits]
    return list(dict.fromkeys(forms))


def country_of(raw: str, region: str | None = None) -> str | None:
    """The ISO country of a number; for one no region claims, its country code's main one."""
    number = _parse(canonical(raw, region), None)
    if number is None or number.country_code is None:
        return None
    found = phonenumbers.region_code_for_number(number)
    if (not found or found == "ZZ") and len(str(number.national_number)) >= MIN_NATIONAL_DIGITS:
        found = phonenumbers.region_code_for_country_code(number.country_code)
    return None if not found or found in ("ZZ", "001") else str(found)


def is_e164(raw: str) -> bool:
    """Whether `raw` is a country's number written in E.164: `+`, a country code in use and
    at most 15 digits, as many as that country's numbers have."""
    digits = raw.removeprefix("+")
    return (
        raw.startswith("+")
        and digits.isascii()
        and digits.isdigit()
        and len(digits) <= E164_MAX_DIGITS
        and country_of(raw) is not None
    )


def of_country(raw: str, country: str) -> str:
    """The E.164 form of `raw`, a valid number of `country` written nationally or with its
    `+country code`; ValueError saying why not."""
    number = _parse(raw, country)
    if number is None:
        raise ValueError(f"{raw[:40]!r} is not a phone number")
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw[:40]!r} is not a valid number")
    region = phonenumbers.region_code_for_number(number)
    if region != country:
        raise ValueError(f"{raw[:40]!r} is a number of {region}, not {country}")
    return _e164(number)
