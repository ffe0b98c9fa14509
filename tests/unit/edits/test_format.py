from __future__ import annotations

import pytest

from app.edits import Edit, EditFormatError, parse_edits
from app.edits.format import parse_hint


def test_aider_like_block_with_prose_and_fence() -> None:
    text = (
        "I will fix the off-by-one.\n\n"
        "src/app/models.py\n"
        "```python\n"
        "<<<<<<< SEARCH\n"
        "    return items[1:]\n"
        "=======\n"
        "    return items[0:]\n"
        ">>>>>>> REPLACE\n"
        "```\n"
        "That is all.\n"
    )
    assert parse_edits(text) == [
        Edit("src/app/models.py", "    return items[1:]\n", "    return items[0:]\n")
    ]


@pytest.mark.parametrize(
    "path_line",
    ["src/a.py", "`src/a.py`", "**src/a.py**", "File: src/a.py", "### src/a.py", "src/a.py:"],
)
def test_path_line_decorations_are_tolerated(path_line: str) -> None:
    text = f"{path_line}\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    assert parse_edits(text)[0].path == "src/a.py"


def test_path_in_fence_info() -> None:
    text = "```python:src/a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n"
    assert parse_edits(text)[0].path == "src/a.py"


@pytest.mark.parametrize(
    "text",
    [
        "a.py\n@@ line 42\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n",
        "a.py\n<<<<<<< SEARCH @@ line 42\nx\n=======\ny\n>>>>>>> REPLACE\n",
        "a.py\n<<<<<<< SEARCH\n@@ line 42\nx\n=======\ny\n>>>>>>> REPLACE\n",
        "a.py\n@@ -42,7 +42,8 @@\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n",
    ],
)
def test_line_hint_placements(text: str) -> None:
    edit = parse_edits(text)[0]
    assert (edit.path, edit.line_hint, edit.search, edit.replace) == ("a.py", 42, "x\n", "y\n")


def test_hint_forms() -> None:
    assert parse_hint("@@ line 7") == 7
    assert parse_hint("@@ lines 7-9 @@") == 7
    assert parse_hint("@@ -7,3 +7,4 @@ def f():") == 7
    assert parse_hint("@@ whatever") is None


def test_several_blocks_and_path_reuse() -> None:
    text = (
        "a.py\n<<<<<<< SEARCH\n1\n=======\n2\n>>>>>>> REPLACE\n\n"
        "<<<<<<< SEARCH\n3\n=======\n4\n>>>>>>> REPLACE\n"
        "b.py\n<<<<<<< SEARCH\n5\n=======\n>>>>>>> REPLACE\n"
    )
    edits = parse_edits(text)
    assert [(e.path, e.number) for e in edits] == [("a.py", 1), ("a.py", 2), ("b.py", 3)]
    assert edits[2].replace == ""


def test_blank_lines_are_kept_and_distinct_from_nothing() -> None:
    text = "a.py\n<<<<<<< SEARCH\nx\n\n=======\n\n>>>>>>> REPLACE\n"
    edit = parse_edits(text)[0]
    assert (edit.search, edit.replace) == ("x\n\n", "\n")


def test_crlf_answer_is_read_as_lf() -> None:
    text = "a.py\r\n<<<<<<< SEARCH\r\nx = 1\r\n=======\r\nx = 2\r\n>>>>>>> REPLACE\r\n"
    assert parse_edits(text) == [Edit("a.py", "x = 1\n", "x = 2\n")]


def test_new_file_block() -> None:
    text = "docs/new.md\n<<<<<<< NEW FILE\n# Title\n\nBody\n>>>>>>> NEW FILE\n"
    assert parse_edits(text) == [Edit("docs/new.md", "", "# Title\n\nBody\n", whole_file=True)]


def test_rst_underline_inside_a_block_is_not_the_divider() -> None:
    text = "doc.rst\n<<<<<<< SEARCH\nTitle\n=====\n=======\nNew title\n=========\n>>>>>>> REPLACE\n"
    edit = parse_edits(text)[0]
    assert (edit.search, edit.replace) == ("Title\n=====\n", "New title\n=========\n")


def test_marker_lengths_five_to_nine() -> None:
    text = "a.py\n<<<<< SEARCH\nx\n=====\ny\n>>>>>>>>> REPLACE\n"
    assert parse_edits(text)[0].replace == "y\n"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n", "not closed"),
        ("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "no file path"),
        ("a.py\n<<<<<<< SEARCH\nx\ny\n>>>>>>> REPLACE\n", "no `=======`"),
        ("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n=======\nz\n>>>>>>> REPLACE\n", "several"),
        (
            "a.py\n<<<<<<< SEARCH\nx\n=======\ny\n<<<<<<< SEARCH\nq\n=======\nr\n>>>>>>> REPLACE\n",
            "not closed",
        ),
    ],
)
def test_malformed_blocks_say_which_and_why(text: str, needle: str) -> None:
    with pytest.raises(EditFormatError, match="Block 1") as caught:
        parse_edits(text)
    assert needle in str(caught.value)


def test_no_blocks_no_edits() -> None:
    assert parse_edits("I could not find anything to change.") == []


def test_a_prose_word_is_not_a_path() -> None:
    with pytest.raises(EditFormatError, match="no file path"):
        parse_edits("Change:\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")


def test_files_without_a_dot() -> None:
    text = "Makefile\n<<<<<<< SEARCH\nall:\n=======\nall: build\n>>>>>>> REPLACE\n"
    assert parse_edits(text)[0].path == "Makefile"


def test_fence_language_is_not_a_path() -> None:
    text = "a/b.py\n```python\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n"
    assert parse_edits(text)[0].path == "a/b.py"
