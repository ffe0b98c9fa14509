"""Second readings of a SEARCH that matched nowhere, for two mistakes models often make.

- Line numbers copied with the code: the code map shows files as `   42 code` (and refusal
  messages as `   42| code`); a SEARCH whose every line starts with consecutive numbers
  is read without them, and its first number becomes the line hint.
- Spaces where the file indents with tabs (or tabs where it indents with spaces): the
  SEARCH and REPLACE are read again with their indentation converted, at 4, 8 or 2 spaces
  to a tab.

Each reading is then matched with all the usual tiers and the usual refusals.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_GUTTER = re.compile(r"^ *(\d{1,7})(?:\| ?| |$)")
TAB_WIDTHS = (4, 8, 2)


@dataclass(frozen=True)
class Reading:
    search: list[str]
    replace: list[str]
    hint: int | None
    forgiven: str


def second_chances(
    bodies: list[str], search: list[str], replace: list[str], hint: int | None
) -> Iterator[Reading]:
    ungutted = without_line_numbers(search, replace)
    if ungutted is not None:
        first, search, replace = ungutted
        hint = hint if hint is not None else first
        yield Reading(search, replace, hint, "line numbers")
    if _indents_with_tabs(bodies) and not any(line.startswith("\t") for line in search):
        for width in TAB_WIDTHS:
            yield Reading(_tabbed(search, width), _tabbed(replace, width), hint, "spaces for tabs")
    elif not _indents_with_tabs(bodies) and any(line.startswith("\t") for line in search):
        for width in TAB_WIDTHS:
            yield Reading(_spaced(search, width), _spaced(replace, width), hint, "tabs for spaces")


def without_line_numbers(
    search: list[str], replace: list[str]
) -> tuple[int, list[str], list[str]] | None:
    """(first number, search, replace) without a copied line-number gutter, if the search
    has one: every non-blank line numbered, the numbers consecutive."""
    numbered = [(k, _GUTTER.match(line)) for k, line in enumerate(search)]
    texts = [(k, found) for k, found in numbered if search[k].strip()]
    if len(texts) < 2 or any(found is None for _k, found in texts):
        return None
    numbers = {k: int(found.group(1)) for k, found in numbered if found is not None}
    first_k, first = next(iter(numbers.items()))
    if any(number != first + (k - first_k) for k, number in numbers.items()):
        return None
    stripped = [_cut(line) for line in search]
    if all(_GUTTER.match(line) or not line.strip() for line in replace):
        new = [_cut(line) for line in replace]
    else:  # only the lines copied from the search carry numbers
        copied = set(search)
        new = [_cut(line) if line in copied else line for line in replace]
    return first - first_k, stripped, new


def _cut(line: str) -> str:
    found = _GUTTER.match(line)
    return line[found.end() :] if found else line


def _indents_with_tabs(bodies: list[str]) -> bool:
    return any(line.startswith("\t") for line in bodies)


def _tabbed(lines: list[str], width: int) -> list[str]:
    out = []
    for line in lines:
        spaces = len(line) - len(line.lstrip(" "))
        out.append("\t" * (spaces // width) + " " * (spaces % width) + line[spaces:])
    return out


def _spaced(lines: list[str], width: int) -> list[str]:
    out = []
    for line in lines:
        tabs = len(line) - len(line.lstrip("\t"))
        out.append(" " * (width * tabs) + line[tabs:])
    return out
