"""Finding a SEARCH block in a file and splicing its REPLACE in (pure functions).

Matching is tried in tiers, strictest first; the first tier that finds the block wins:

1. exact: the lines are equal (line endings aside);
2. trailing whitespace ignored;
3. indentation shifted: every non-blank line differs by the same leading whitespace,
   which is then added to (or taken from) the REPLACE lines too;
4. blank lines ignored (with the indentation rule of tier 3).

When no tier finds it, the second readings of `app.edits.second_chance` (copied line
numbers, tabs against spaces) are tried the same way. Several places matching at the
winning tier is ambiguous unless the line hint is clearly nearer to one of them. Lines
the REPLACE keeps from the SEARCH are taken from the file as they are, so whitespace the
model got wrong in context lines never reaches the file.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from app.edits.closest import closest_lines
from app.edits.second_chance import second_chances, without_line_numbers

TIERS = ("exact", "trailing whitespace", "indentation", "blank lines")


@dataclass(frozen=True)
class Spliced:
    """The file's lines [start, end) are to be replaced by `lines` (with line endings)."""

    start: int
    end: int
    lines: list[str]
    tier: str


@dataclass(frozen=True)
class NotSpliced:
    """Why a block could not be applied; `detail` is written for the model."""

    reason: Literal["no match", "ambiguous", "empty", "no change"]
    detail: str


@dataclass(frozen=True)
class _Indent:
    add: str = ""
    remove: str = ""

    def apply(self, line: str) -> str:
        if not line.strip():
            return line
        if self.remove:
            if line.startswith(self.remove):
                return line[len(self.remove) :]
            leading = len(line) - len(line.lstrip())
            return line[min(leading, len(self.remove)) :]
        return self.add + line


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    mapping: list[int | None]  # search line -> file line (None: a blank line left out)
    indent: _Indent


def body(line: str) -> str:
    """A line without its line ending."""
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith("\n"):
        return line[:-1]
    return line


def split_lines(text: str) -> list[str]:
    """Lines of an edit's text, without line endings ("" has none, "\\n" has one blank)."""
    parts = text.replace("\r\n", "\n").split("\n")
    if parts[-1] == "":
        parts.pop()
    return parts


def splice(
    file_lines: list[str], search: list[str], replace: list[str], hint: int | None, eol: str
) -> Spliced | NotSpliced:
    """Where `search` sits in `file_lines` and what replaces it, or why that is not known.

    `file_lines` keep their line endings; `search` and `replace` do not. `hint` is a
    1-based line number of the file where the search starts, possibly stale.
    """
    if not any(line.strip() for line in search):
        return NotSpliced(
            "empty",
            "the SEARCH part has only blank lines, which do not say where to change the file; "
            "include the lines with text next to the change.",
        )
    if search == replace:
        return NotSpliced("no change", "the REPLACE part is the same as the SEARCH part.")
    bodies = [body(line) for line in file_lines]
    found = _locate(file_lines, bodies, search, replace, hint, eol)
    if found is not None:
        return found
    for retry in second_chances(bodies, search, replace, hint):
        again = _locate(file_lines, bodies, retry.search, retry.replace, retry.hint, eol)
        if isinstance(again, Spliced):
            more = "" if again.tier == "exact" else f"; {again.tier}"
            return replace_tier(again, retry.forgiven + more)
        if again is not None:
            return again
    ungutted = without_line_numbers(search, replace)
    if ungutted is not None:
        return NotSpliced(
            "no match",
            closest_lines(bodies, ungutted[1])
            + "\nLeave out the line numbers: they are not part of the file.",
        )
    return NotSpliced("no match", closest_lines(bodies, search))


def replace_tier(spliced: Spliced, tier: str) -> Spliced:
    return Spliced(spliced.start, spliced.end, spliced.lines, tier)


def _locate(
    file_lines: list[str],
    bodies: list[str],
    search: list[str],
    replace: list[str],
    hint: int | None,
    eol: str,
) -> Spliced | NotSpliced | None:
    for tier, finder in zip(TIERS, _FINDERS, strict=True):
        matches = finder(bodies, search)
        if not matches:
            continue
        chosen = _choose(matches, hint, tier, bodies)
        if isinstance(chosen, NotSpliced):
            return chosen
        if hint is not None and tier != TIERS[-1]:
            doubt = _looser_match_nearer(bodies, search, chosen, hint)
            if doubt is not None:
                return doubt
        return _build(file_lines, bodies, search, replace, chosen, tier, eol)
    return None


def _looser_match_nearer(
    bodies: list[str], search: list[str], chosen: _Match, hint: int
) -> NotSpliced | None:
    """A place that matches only with whitespace forgiven but is clearly nearer the hint
    than the strict match: the model may have meant it (same code, other indentation)."""
    distance = abs(chosen.start + 1 - hint)
    for loose in _blank_insensitive(bodies, search):
        if loose.start != chosen.start and distance >= 2 * abs(loose.start + 1 - hint) + 3:
            return NotSpliced(
                "ambiguous",
                f"the SEARCH text matches exactly at line {chosen.start + 1}, but with other "
                f"whitespace also at line {loose.start + 1}, much nearer the hint "
                f"`@@ line {hint}`. Copy the lines exactly from the place you mean.",
            )
    return None


def _exact(bodies: list[str], search: list[str]) -> list[_Match]:
    return _find_runs(bodies, search, lambda line: line, indent=False)


def _rstripped(bodies: list[str], search: list[str]) -> list[_Match]:
    return _find_runs(bodies, search, str.rstrip, indent=False)


def _indented(bodies: list[str], search: list[str]) -> list[_Match]:
    return _find_runs(bodies, search, str.strip, indent=True)


def _find_runs(
    bodies: list[str], search: list[str], key: Callable[[str], str], *, indent: bool
) -> list[_Match]:
    wanted = [key(line) for line in search]
    size = len(wanted)
    found: list[_Match] = []
    first = wanted[0]
    for start in range(len(bodies) - size + 1):
        if key(bodies[start]) != first:
            continue
        if all(key(bodies[start + k]) == wanted[k] for k in range(1, size)):
            mapping: list[int | None] = list(range(start, start + size))
            shift = _indent_shift(bodies, search, mapping) if indent else _Indent()
            if shift is not None:
                found.append(_Match(start, start + size, mapping, shift))
    return found


def _blank_insensitive(bodies: list[str], search: list[str]) -> list[_Match]:
    wanted = [(k, line.strip()) for k, line in enumerate(search) if line.strip()]
    text_lines = [(i, line.strip()) for i, line in enumerate(bodies) if line.strip()]
    size = len(wanted)
    found: list[_Match] = []
    for at in range(len(text_lines) - size + 1):
        if any(text_lines[at + n][1] != wanted[n][1] for n in range(size)):
            continue
        mapping: list[int | None] = [None] * len(search)
        for n, (k, _text) in enumerate(wanted):
            mapping[k] = text_lines[at + n][0]
        _pair_blank_lines(bodies, mapping)
        shift = _indent_shift(bodies, search, mapping)
        if shift is not None:
            placed = [line for line in mapping if line is not None]
            found.append(_Match(placed[0], placed[-1] + 1, mapping, shift))
    return found


def _pair_blank_lines(bodies: list[str], mapping: list[int | None]) -> None:
    """Give the SEARCH's blank lines the file's blank lines that sit in the same gap, in order
    (at the ends of the block: the blank lines right next to it)."""
    anchors = [k for k, line in enumerate(mapping) if line is not None]
    for left, right in zip([-1, *anchors], [*anchors, len(mapping)], strict=True):
        ours = list(range(left + 1, right))
        if not ours:
            continue
        if left >= 0 and right < len(mapping):
            low, high = mapping[left], mapping[right]
            assert low is not None and high is not None
            theirs = list(range(low + 1, high))
        elif left < 0:
            first = mapping[right]
            assert first is not None
            theirs = _blank_run(bodies, first - 1, -1)[::-1]
            ours = ours[len(ours) - min(len(ours), len(theirs)) :]
            theirs = theirs[len(theirs) - len(ours) :]
        else:
            last = mapping[left]
            assert last is not None
            theirs = _blank_run(bodies, last + 1, 1)
        for k, line in zip(ours, theirs, strict=False):
            mapping[k] = line


def _blank_run(bodies: list[str], start: int, step: int) -> list[int]:
    run = []
    at = start
    while 0 <= at < len(bodies) and not bodies[at].strip():
        run.append(at)
        at += step
    return run


_FINDERS = (_exact, _rstripped, _indented, _blank_insensitive)


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _indent_shift(
    bodies: list[str], search: list[str], mapping: list[int | None]
) -> _Indent | None:
    """The one indentation change that turns every search line into its file line, if any."""
    shift: _Indent | None = None
    for k, at in enumerate(mapping):
        if at is None or not search[k].strip():
            continue
        ours, theirs = _leading(search[k]), _leading(bodies[at])
        if shift is None:
            if theirs.endswith(ours):
                shift = _Indent(add=theirs[: len(theirs) - len(ours)])
            elif ours.endswith(theirs):
                shift = _Indent(remove=ours[: len(ours) - len(theirs)])
            else:
                return None
        if _leading(shift.apply(search[k])) != theirs:
            return None
    return shift


def _choose(
    matches: list[_Match], hint: int | None, tier: str, bodies: list[str]
) -> _Match | NotSpliced:
    if len(matches) == 1:
        return matches[0]
    if hint is not None:
        ranked = sorted(matches, key=lambda m: abs(m.start + 1 - hint))
        nearest, second = (abs(m.start + 1 - hint) for m in ranked[:2])
        if second >= 2 * nearest + 3:
            return ranked[0]
    places = ", ".join(str(m.start + 1) for m in matches[:10])
    if tier != "exact":
        places += f"; {tier} ignored"
    why = "" if hint is None else f" and the hint `@@ line {hint}` is not clearly nearer to one"
    return NotSpliced(
        "ambiguous",
        f"the SEARCH text is found in {len(matches)} places (starting at lines {places}){why}. "
        "Add surrounding lines that occur only at the place you mean, or a correct line hint "
        f"`@@ line N`. The lines just before each place:\n{_preceding(matches[:5], bodies)}",
    )


def _preceding(matches: list[_Match], bodies: list[str]) -> str:
    shown = []
    for match in matches:
        before = range(max(0, match.start - 2), match.start)
        lines = [f"{n + 1:>5}| {bodies[n]}" for n in before] or ["(the start of the file)"]
        shown.append("\n".join([*lines, f"{match.start + 1:>5}| {bodies[match.start]}"]))
    return "\n  ---\n".join(shown)


def _build(
    file_lines: list[str],
    bodies: list[str],
    search: list[str],
    replace: list[str],
    match: _Match,
    tier: str,
    eol: str,
) -> Spliced | NotSpliced:
    exact = tier == "exact"
    strip_added = _adds_whitespace(bodies, search, match) or not any(
        line != line.rstrip() for line in bodies
    )

    def added(line: str) -> str:
        text = match.indent.apply(line)
        return (text.rstrip() if strip_added else text) + eol

    ours = search if exact else [line.rstrip() for line in search]
    theirs = replace if exact else [line.rstrip() for line in replace]
    opcodes = difflib.SequenceMatcher(None, ours, theirs, autojunk=False).get_opcodes()
    out: list[str] = []
    covered = match.start
    last_added = tail_added = False
    emitted = 0
    for tag, i1, i2, j1, j2 in opcodes:
        mapped = [at for at in match.mapping[i1:i2] if at is not None]
        if mapped:
            gap = range(covered, mapped[0])
            inner = [
                at for at in range(mapped[0], mapped[-1] + 1) if at not in match.mapping[i1:i2]
            ]
            unclear = [*gap] if last_added or tag == "replace" else []
            unclear += inner if tag != "equal" else _near_changes(inner, match, i1, i2)
            if unclear:
                return NotSpliced(
                    "ambiguous",
                    f"the SEARCH text matches lines {match.start + 1}-{match.end} only if blank "
                    f"lines are ignored, and the file's blank line {unclear[0] + 1} is next to "
                    "lines you change, so where it belongs is unclear. Copy the lines exactly, "
                    "blank lines included.",
                )
            out.extend(file_lines[covered : mapped[0]])
            if tag == "equal":
                out.extend(file_lines[mapped[0] : mapped[-1] + 1])
            tail_added = tail_added and len(out) == emitted
            covered = mapped[-1] + 1
        if tag in ("replace", "insert"):
            out.extend(added(line) for line in replace[j1:j2])
            last_added = tail_added = True
        elif mapped:
            last_added = False
        emitted = len(out)
    no_final_newline = bool(file_lines) and file_lines[-1] == bodies[-1]
    if tail_added and match.end == len(file_lines) and no_final_newline:
        out[-1] = body(out[-1])  # the file had no final newline; keep it that way
    return Spliced(match.start, match.end, out, tier)


def _near_changes(blank_lines: list[int], match: _Match, i1: int, i2: int) -> list[int]:
    """The file's left-out blank lines inside kept lines that are too near a change to be
    placed with confidence: the line on either side must not border the change."""
    near = []
    placed = [(k, at) for k in range(i1, i2) if (at := match.mapping[k]) is not None]
    for blank in blank_lines:
        before = max(k for k, at in placed if at < blank)
        after = min(k for k, at in placed if at > blank)
        if (i1 > 0 and before <= i1) or (i2 < len(match.mapping) and after >= i2 - 1):
            near.append(blank)
    return near


def _adds_whitespace(bodies: list[str], search: list[str], match: _Match) -> bool:
    """Whether the SEARCH has trailing whitespace the file does not: then the model's
    trailing whitespace is noise, and added lines lose theirs."""
    for k, at in enumerate(match.mapping):
        if at is None:
            continue
        tail = search[k][len(search[k].rstrip()) :]
        if tail and not bodies[at].endswith(tail):
            return True
    return False
