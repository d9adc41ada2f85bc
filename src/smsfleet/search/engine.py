"""The search algorithms: each scores a document against a query, or leaves it out."""

from __future__ import annotations

import re
from collections.abc import Callable

from rapidfuzz import fuzz

from smsfleet.search.models import Algorithm, Document

__all__ = ["ALGORITHMS", "score"]

FUZZY_THRESHOLD = 80.0
_WORD = re.compile(r"\w+", re.UNICODE)


def _haystack(document: Document) -> str:
    return f"{document.phone} {document.text}".casefold()


def _exact(query: str, document: Document) -> float | None:
    return 1.0 if query.casefold() in _haystack(document) else None


def _fulltext(query: str, document: Document) -> float | None:
    wanted = set(_WORD.findall(query.casefold()))
    words = set(_WORD.findall(_haystack(document)))
    return 1.0 if wanted and wanted <= words else None


def _fuzzy(query: str, document: Document) -> float | None:
    similarity = fuzz.partial_ratio(query.casefold(), _haystack(document))
    return similarity / 100 if similarity >= FUZZY_THRESHOLD else None


# Pluggable: a new algorithm is one function here and one name in `Algorithm`.
ALGORITHMS: dict[Algorithm, Callable[[str, Document], float | None]] = {
    Algorithm.exact: _exact,
    Algorithm.fulltext: _fulltext,
    Algorithm.fuzzy: _fuzzy,
}


def score(algorithm: Algorithm, query: str, document: Document) -> float | None:
    return ALGORITHMS[algorithm](query, document)
