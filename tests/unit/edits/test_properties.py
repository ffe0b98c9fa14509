"""Properties: exact unique blocks act like str.replace; forgiven drift never changes the result."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.edits import Edit, EditPolicy, diff_stats, plan_edits

NO_SYNTAX = EditPolicy(check_syntax=False)
WORDS = st.sampled_from(["a", "b", "c", "x = 1", "return y", "if z:", "pass", "", "# c"])
LINE = st.builds(lambda indent, word: (" " * indent + word).rstrip(), st.integers(0, 8), WORDS)
LINES = st.lists(LINE, min_size=1, max_size=30)


def _lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _as_is(line: str) -> str:
    return line


def _occurrences(lines: list[str], search: list[str], key: Callable[[str], str] = _as_is) -> int:
    size = len(search)
    wanted = [key(t) for t in search]
    return sum(
        [key(t) for t in lines[at : at + size]] == wanted for at in range(len(lines) - size + 1)
    )


def _apply(text: str, edit: Edit) -> tuple[str | None, int]:
    result = plan_edits([edit], NO_SYNTAX, {"f.txt": text.encode()}.get)
    if not result.changes:
        return (text if result.applied else None), len(result.refusals)
    return result.changes[0].after, len(result.refusals)


@st.composite
def file_and_block(draw: st.DrawFn) -> tuple[list[str], int, int, list[str]]:
    lines = draw(LINES)
    start = draw(st.integers(0, len(lines) - 1))
    end = draw(st.integers(start + 1, len(lines)))
    replacement = draw(st.lists(LINE, max_size=6))
    return lines, start, end, replacement


@settings(max_examples=80, deadline=None)
@given(file_and_block())
def test_exact_unique_search_is_string_replace(case: tuple[list[str], int, int, list[str]]) -> None:
    lines, start, end, replacement = case
    text, search = _lines(lines), _lines(lines[start:end])
    assume(any(line.strip() for line in lines[start:end]))
    assume(_occurrences(lines, lines[start:end]) == 1 and search != _lines(replacement))
    after, refusals = _apply(text, Edit("f.txt", search, _lines(replacement)))
    assert refusals == 0
    assert after == _lines(lines[:start] + replacement + lines[end:])


@settings(max_examples=80, deadline=None)
@given(file_and_block(), st.integers(1, 8))
def test_outdenting_the_whole_block_changes_nothing(
    case: tuple[list[str], int, int, list[str]], cut: int
) -> None:
    lines, start, end, replacement = case
    block = lines[start:end] + replacement
    common = min((len(t) - len(t.lstrip()) for t in block if t.strip()), default=0)
    cut = min(cut, common)
    outdented = [t[cut:] if t.strip() else t for t in lines[start:end]]
    new = [t[cut:] if t.strip() else t for t in replacement]
    exact, _ = _apply(_lines(lines), Edit("f.txt", _lines(lines[start:end]), _lines(replacement)))
    drifted, _ = _apply(_lines(lines), Edit("f.txt", _lines(outdented), _lines(new)))
    unique = _occurrences(lines, lines[start:end], str.strip) == 1
    if exact is not None and unique:
        assert drifted == exact


@settings(max_examples=60, deadline=None)
@given(file_and_block())
def test_a_correct_hint_always_picks_the_intended_place(
    case: tuple[list[str], int, int, list[str]],
) -> None:
    lines, start, end, replacement = case
    search = lines[start:end]
    assume(any(t.strip() for t in search) and search != replacement)
    text = _lines(lines)
    after, refusals = _apply(text, Edit("f.txt", _lines(search), _lines(replacement), start + 1))
    if refusals == 0:
        assert after == _lines(lines[:start] + replacement + lines[end:])


@settings(max_examples=60, deadline=None)
@given(file_and_block())
def test_diff_adds_and_removes_what_changed(case: tuple[list[str], int, int, list[str]]) -> None:
    lines, start, end, replacement = case
    search = lines[start:end]
    assume(any(t.strip() for t in search) and search != replacement)
    result = plan_edits(
        [Edit("f.txt", _lines(search), _lines(replacement), start + 1)],
        NO_SYNTAX,
        {"f.txt": _lines(lines).encode()}.get,
    )
    for change in result.changes:
        (stat,) = diff_stats(result.diff)
        assert change.before is not None and change.after is not None  # f.txt exists throughout
        before_lines, after_lines = change.before.splitlines(), change.after.splitlines()
        assert len(before_lines) - stat.removed == len(after_lines) - stat.added


@settings(max_examples=60, deadline=None)
@given(file_and_block())
def test_a_crlf_file_gives_the_crlf_form_of_the_lf_result(
    case: tuple[list[str], int, int, list[str]],
) -> None:
    lines, start, end, replacement = case
    edit = Edit("f.txt", _lines(lines[start:end]), _lines(replacement), start + 1)
    lf, _ = _apply(_lines(lines), edit)
    crlf, _ = _apply(_lines(lines).replace("\n", "\r\n"), edit)
    assert (crlf is None) == (lf is None)
    if lf is not None and crlf is not None:
        assert crlf == lf.replace("\n", "\r\n")


@settings(max_examples=60, deadline=None)
@given(file_and_block(), st.lists(st.sampled_from(["", " ", "\t", "  "]), min_size=40, max_size=40))
def test_trailing_whitespace_in_the_answer_never_changes_the_result(
    case: tuple[list[str], int, int, list[str]], tails: list[str]
) -> None:
    lines, start, end, replacement = case
    search = lines[start:end]
    noisy_search = [line + tails[k] for k, line in enumerate(search)]
    noisy_replace = [line + tails[-1 - k] for k, line in enumerate(replacement)]
    clean, _ = _apply(_lines(lines), Edit("f.txt", _lines(search), _lines(replacement), start + 1))
    noisy, _ = _apply(
        _lines(lines), Edit("f.txt", _lines(noisy_search), _lines(noisy_replace), start + 1)
    )
    if clean is not None and noisy is not None:
        assert noisy == clean
