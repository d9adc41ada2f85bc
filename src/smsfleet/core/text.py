"""Free text people write (names, reasons, descriptions, message bodies): refused when it
holds what would change how the text around it is shown.

Control characters (a NUL, an escape, a bell) and the Unicode controls that reorder
text (bidirectional embeddings, overrides and isolates, U+202A-U+202E and U+2066-U+2069)
never belong in a name or a reason: shown beside other text, an override turns the
neighbouring region or reason around ("evil" read as "live"). The marks that only hint a
direction (U+200E, U+200F) and the joiners that some scripts need stay allowed.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["OneLine", "Prose", "escaped"]

_REORDERING = "\u202a-\u202e\u2066-\u2069"
_NOT_IN_ONE_LINE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_REORDERING}]")
_NOT_IN_PROSE = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_REORDERING}]")


def escaped(text: str) -> str:
    """`text` with what `OneLine` refuses written as `\\uXXXX`: for echoing what someone
    sent (a field's name, a value in an error message) into text others are shown."""
    return _NOT_IN_ONE_LINE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _refuse(found: re.Match[str] | None, what: str) -> None:
    if found is not None:
        raise ValueError(
            f"{what}: U+{ord(found.group()):04X} at position {found.start()} is not allowed"
        )


def _one_line(value: str) -> str:
    _refuse(_NOT_IN_ONE_LINE.search(value), "no control or text-reordering characters")
    return value


def _prose(value: str) -> str:
    _refuse(
        _NOT_IN_PROSE.search(value),
        "no control or text-reordering characters but new lines and tabs",
    )
    return value


# A name, a reason: one line of plain text.
OneLine = Annotated[str, AfterValidator(_one_line)]
# A description or a message: new lines and tabs allowed.
Prose = Annotated[str, AfterValidator(_prose)]
