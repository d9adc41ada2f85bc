"""Free text people write (names, reasons, descriptions, message bodies): refused when it
holds what would change how the text around it is shown.

Control characters (a NUL, an escape, a bell) and the Unicode controls that reorder
text (bidirectional embeddings, overrides and isolates, U+202A-U+202E and U+2066-U+2069)
never belong in a name or a reason: shown beside other text, an override turns the
neighbouring region or reason around ("evil" read as "live"). Nor do names and other
one-line fields hold the invisible characters that change what is shown or compared:
direction marks, line and paragraph separators, zero-width characters, tags and
interlinear annotations. The joiners that some scripts and emoji need (U+200C, U+200D)
stay allowed. Prose (an SMS text, a message, a description) keeps them: real text in
right-to-left scripts carries direction marks, and a received SMS is kept as it came.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["NonBlankProse", "OneLine", "Prose", "escaped"]

_CONTROLS = "\\x00-\\x1f\\x7f-\\x9f"
_REORDERING = "\u202a-\u202e\u2066-\u2069"
# Unseen, yet each changes what is shown or compared: a direction mark moves the
# neutral characters around it, a separator breaks the line, a zero-width character or
# a tag makes two names that look the same differ (tags hide a whole text), an
# interlinear annotation hides the text it annotates. The joiners (U+200C, U+200D) stay:
# Persian and emoji need them.
_DIRECTION_MARKS = "\u200e\u200f\u061c"
_SEPARATORS = "\u2028\u2029"
_INVISIBLE = "\u200b\u2060-\u2064\ufeff"
_TAGS = "\U000e0000-\U000e007f"
_ANNOTATION = "\ufff9-\ufffb"
_UNSEEN = f"{_REORDERING}{_DIRECTION_MARKS}{_SEPARATORS}{_INVISIBLE}{_TAGS}{_ANNOTATION}"
_NOT_IN_ONE_LINE = re.compile(f"[{_CONTROLS}{_UNSEEN}]")
_NOT_IN_PROSE = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_REORDERING}]")
_WHY = [
    (re.compile(f"[{_CONTROLS}]"), "a control character"),
    (re.compile(f"[{_REORDERING}]"), "a bidirectional control, which reorders the text around it"),
    (
        re.compile(f"[{_DIRECTION_MARKS}]"),
        "an invisible direction mark, which moves the text around it",
    ),
    (re.compile(f"[{_SEPARATORS}]"), "a line or paragraph separator, which breaks the line"),
    (
        re.compile(f"[{_INVISIBLE}]"),
        "an invisible character, which makes text that looks the same differ",
    ),
    (re.compile(f"[{_TAGS}]"), "a tag character, which is invisible text"),
    (re.compile(f"[{_ANNOTATION}]"), "an interlinear annotation character, which hides text"),
]


def escaped(text: str) -> str:
    """`text` with what `OneLine` refuses written as `\\uXXXX` (`\\UXXXXXXXX` past U+FFFF):
    for echoing what someone sent (a field's name, a value in an error message) into text
    others are shown."""
    return _NOT_IN_ONE_LINE.sub(lambda found: _escape(found.group()), text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _refuse(found: re.Match[str] | None, allowed: str = "") -> None:
    if found is not None:
        char = found.group()
        why = next(why for pattern, why in _WHY if pattern.match(char))
        raise ValueError(
            f"U+{ord(char):04X} at position {found.start()} is not allowed: {why}{allowed}"
        )


def _one_line(value: str) -> str:
    _refuse(_NOT_IN_ONE_LINE.search(value))
    return value


def _prose(value: str) -> str:
    _refuse(_NOT_IN_PROSE.search(value), " (new lines and tabs are allowed)")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("holds only white space: there is nothing to tell")
    return value


# A name, a reason: one line of plain text.
OneLine = Annotated[str, AfterValidator(_one_line)]
# A description or a message: new lines and tabs allowed.
Prose = Annotated[str, AfterValidator(_prose)]
# A message for others to read (a chat's alert): prose with something to read in it.
NonBlankProse = Annotated[Prose, AfterValidator(_non_blank)]
