"""The message for a SEARCH that matches nowhere: the file's most similar lines, numbered,
and the first line where they differ, so the model can copy the right text next time."""

from __future__ import annotations

import difflib
import re

_CANDIDATES = 40
_TOKEN = re.compile(r"\w+|[^\w\s]")
_ELISION = re.compile(r"^\s*(?:#|//|/\*|<!--|--)?\s*(?:\.\.\.|…)")


def closest_lines(bodies: list[str], search: list[str], shown: int = 12) -> str:
    """A message naming the lines of the file most like `search`, with their numbers."""
    elided = next((line for line in search if _ELISION.match(line)), None)
    if elided is not None:
        return _closest(bodies, search, shown) + (
            f"\nYour SEARCH seems to leave lines out ({elided.strip()!r}); it must copy every "
            "line of the part it replaces, without abbreviations."
        )
    return _closest(bodies, search, shown)


def _closest(bodies: list[str], search: list[str], shown: int) -> str:
    wanted = [line.strip() for line in search]
    present = {line for line in wanted if line}
    size = len(search)
    if not bodies:
        return "the SEARCH text was not found: the file is empty."
    vocabulary = {token for line in wanted for token in _TOKEN.findall(line)}
    scores = [_line_score(line.strip(), present, vocabulary) for line in bodies]
    windows: list[int] = []
    if any(scores):
        prefix = [0.0]
        for score in scores:
            prefix.append(prefix[-1] + score)
        starts = range(max(1, len(bodies) - size + 1))
        total = {s: prefix[min(len(bodies), s + size)] - prefix[s] for s in starts}
        windows = sorted(starts, key=lambda s: -total[s])[:_CANDIDATES]
    if not windows:
        return (
            "the SEARCH text was not found, and no lines of the file resemble it. Check the "
            "file path, and copy the SEARCH lines from the file as it is now."
        )
    joined = "\n".join(wanted)

    def similarity(start: int) -> float:
        piece = "\n".join(line.strip() for line in bodies[start : start + size])
        return difflib.SequenceMatcher(None, joined, piece, autojunk=False).ratio()

    def rough(start: int) -> float:
        piece = "\n".join(line.strip() for line in bodies[start : start + size])
        return difflib.SequenceMatcher(None, joined, piece, autojunk=False).quick_ratio()

    best = max(sorted(windows, key=rough, reverse=True)[:3], key=similarity)
    end = min(len(bodies), best + max(size, 1))
    where = (
        f"line of the file is {best + 1}"
        if end - best == 1
        else (f"lines of the file are {best + 1}-{end}")
    )
    numbered = "\n".join(f"{n + 1:>5}| {bodies[n]}" for n in range(best, min(end, best + shown)))
    first_difference = ""
    if size == end - best and all(wanted[k] == bodies[best + k].strip() for k in range(size)):
        first_difference = (
            "Their text is the same as the SEARCH, but the indentation differs line by line, "
            "not by one shift of the whole block; copy the indentation exactly."
        )
    for k in range(min(size, end - best) if not first_difference else 0):
        if wanted[k] != bodies[best + k].strip():
            first_difference = (
                f" The first difference is your SEARCH line {k + 1}, {search[k].strip()!r}, "
                f"against the file's line {best + k + 1}, {bodies[best + k].strip()!r}."
            )
            break
    return (
        f"the SEARCH text was not found. The closest {where} "
        f"({similarity(best):.0%} alike):\n{numbered}\n{first_difference.strip()}\n"
        "Copy the SEARCH lines exactly as they are in the file."
    ).replace("\n\n", "\n")


def _line_score(line: str, present: set[str], vocabulary: set[str]) -> float:
    """1 for a line the SEARCH has, else up to 0.5 for the share of its tokens it has."""
    if line in present:
        return 1.0
    tokens = _TOKEN.findall(line)
    if not tokens:
        return 0.0
    return 0.5 * sum(token in vocabulary for token in tokens) / len(tokens)
