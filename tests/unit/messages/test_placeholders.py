"""A template body's placeholders: `{name}` only, and a refusal names what was written."""

from __future__ import annotations

import pytest

from smsfleet.messages.models import placeholders


def test_named_placeholders_are_found() -> None:
    assert placeholders("Your code {token}, {name}: {token}") == {"token", "name"}
    assert placeholders("no placeholder, {{braces}} kept") == set()


@pytest.mark.parametrize(
    ("body", "written"),
    [
        ("{token:>999999999}", "{token:>999999999}"),
        ("{token!r}", "{token!r}"),
        ("{token!s:%Y}", "{token!s:%Y}"),
        ("{0}", "{0}"),
        ("{token.__class__}", "{token.__class__}"),
        ("{token[0]}", "{token[0]}"),
    ],
)
def test_a_formatted_or_positional_placeholder_is_refused_as_written(
    body: str, written: str
) -> None:
    with pytest.raises(ValueError, match="a name, with no index, attribute") as refused:
        placeholders(f"Code: {body}")
    assert str(refused.value).endswith(f"; {written} is not")
