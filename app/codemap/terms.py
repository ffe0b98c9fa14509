"""Splitting code and prose into the words the ranking compares."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b)|[A-Z]?[a-z]+|[A-Z]+|\d+")

# Words too common in code or issue prose to say anything about where a change belongs.
_STOPWORD_TEXT = """
    a an and are as at be but by can could did do does for from had has have how i if in into
    is it its me my no not of on or our should so such than that the their them then there these
    they this to too was we were what when where which while who why will with would you your
    def self cls return none true false import class pass else elif try except raise lambda
    var let const function new null void int str bool string public private static
    get set value values use used using like just also one two any all some only
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@lru_cache(maxsize=200_000)
def split_identifier(identifier: str) -> tuple[str, ...]:
    """Lower-cased words of an identifier: `getHTTPResponse_code` → get, http, response, code."""
    parts: list[str] = []
    for chunk in identifier.split("_"):
        if chunk:
            parts.extend(p.lower() for p in _CAMEL_PARTS.findall(chunk))
    return tuple(parts)


@lru_cache(maxsize=400_000)
def identifier_terms(identifier: str) -> tuple[str, ...]:
    """The identifier itself (lower-cased) and its sub-words, without stopwords and digits."""
    whole = identifier.lower().strip("_")
    words = [w for w in split_identifier(identifier) if len(w) > 1 and not w.isdigit()]
    terms = [w for w in words if w not in STOPWORDS]
    # the whole name too when it is more than its one word: bulk_create, QuerySet, E108
    if len(whole) > 1 and words != [whole] and whole not in STOPWORDS:
        terms.append(whole)
    return tuple(terms)


def source_identifiers(text: str) -> Counter[str]:
    """Every identifier-like token of a source file with its count (one C-speed pass)."""
    return Counter(IDENTIFIER.findall(text))


def text_terms(text: str) -> list[str]:
    """The terms of prose or code in an issue, in order, repeated as often as they occur."""
    terms: list[str] = []
    for identifier in IDENTIFIER.findall(text):
        terms.extend(identifier_terms(identifier))
    return terms


def path_terms(path: str) -> list[str]:
    """Terms of a file path: directory and file names without the extension."""
    stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    return text_terms(stem.replace("/", " ").replace("-", "_"))
