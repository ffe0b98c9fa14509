"""Which lines of a pull request's diff a review comment may sit on."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.edits import commentable_lines, diff_lines, numbered_diff
from app.edits.review_positions import DiffLine, DiffUnreadable
from app.forges.base import ReviewComment
from app.workflow.review import ReviewFinding, place_comments, prompt_diff

MODIFIED = "\n".join(
    [
        "diff --git a/calc.py b/calc.py",
        "index 1111111..2222222 100644",
        "--- a/calc.py",
        "+++ b/calc.py",
        "@@ -1,6 +1,8 @@",
        " def add(a, b):",
        "     return a + b",
        " ",
        " ",
        " def divide(a, b):",
        "-    return a / b",
        "+    if b == 0:",
        "+        raise ValueError('zero')",
        "+    return a / b",
        "@@ -20,3 +22,4 @@ def mul(a, b):",
        " x = 1",
        " y = 2",
        "+z = 3",
        " w = 4",
        "",
    ]
)


def test_added_and_context_lines_of_every_hunk_are_commentable() -> None:
    assert commentable_lines(MODIFIED) == {"calc.py": {1, 2, 3, 4, 5, 6, 7, 8, 22, 23, 24, 25}}


def test_lines_between_hunks_and_removed_lines_are_not() -> None:
    lines = commentable_lines(MODIFIED)["calc.py"]
    assert 9 not in lines and 21 not in lines and 26 not in lines


def test_added_lines_have_no_old_line_and_context_lines_have_theirs() -> None:
    lines = diff_lines(MODIFIED)["calc.py"]
    assert lines[6] == DiffLine("calc.py", "calc.py", 6, None)
    assert lines[8].old_line is None  # `return a / b`, removed and added again
    assert lines[5] == DiffLine("calc.py", "calc.py", 5, 5)
    assert lines[22] == DiffLine("calc.py", "calc.py", 22, 20)
    assert lines[24].old_line is None
    assert lines[25].old_line == 22


def test_new_renamed_and_deleted_files() -> None:
    diff = """\
diff --git a/old_name.py b/new_name.py
similarity index 80%
rename from old_name.py
rename to new_name.py
index 1..2 100644
--- a/old_name.py
+++ b/new_name.py
@@ -1,3 +1,3 @@
 a
-b
+c
 d
diff --git a/fresh.py b/fresh.py
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/fresh.py
@@ -0,0 +1,2 @@
+x = 1
+y = 2
diff --git a/gone.py b/gone.py
deleted file mode 100644
index 4444444..0000000
--- a/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-z = 0
"""
    found = diff_lines(diff)
    assert set(found) == {"new_name.py", "fresh.py"}
    assert found["new_name.py"][2] == DiffLine("new_name.py", "old_name.py", 2, None)
    assert found["new_name.py"][3] == DiffLine("new_name.py", "old_name.py", 3, 3)
    assert found["fresh.py"][1] == DiffLine("fresh.py", "fresh.py", 1, None)
    assert commentable_lines(diff)["fresh.py"] == {1, 2}


def test_files_without_text_hunks_have_no_lines() -> None:
    diff = (
        "diff --git a/logo.png b/logo.png\nindex 1..2 100644\n"
        "Binary files a/logo.png and b/logo.png differ\n"
        "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n"
    )
    assert commentable_lines(diff) == {}


def test_empty_diff() -> None:
    assert commentable_lines("") == {}
    assert numbered_diff("") == ""


def test_no_newline_marker_is_not_a_line() -> None:
    diff = (
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n"
        "-two\n\\ No newline at end of file\n+three\n\\ No newline at end of file\n"
    )
    assert commentable_lines(diff) == {"a.txt": {1, 2}}


def test_numbered_diff_shows_new_side_numbers() -> None:
    shown = numbered_diff(MODIFIED).splitlines()
    assert shown[0] == "+++ calc.py"
    assert shown[1] == "@@ -1,6 +1,8 @@"
    assert shown[2] == "    1  def add(a, b):"
    assert "      -    return a / b" in shown
    assert "    6 +    if b == 0:" in shown
    assert "   24 +z = 3" in shown


def test_numbered_diff_names_renames_and_deletions() -> None:
    diff = (
        "diff --git a/a.py b/b.py\nsimilarity index 90%\nrename from a.py\nrename to b.py\n"
        "--- a/a.py\n+++ b/b.py\n@@ -1 +1 @@\n-x\n+y\n"
        "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n"
        "+++ /dev/null\n@@ -1 +0,0 @@\n-z\n"
    )
    shown = numbered_diff(diff)
    assert "+++ b.py (renamed from a.py)" in shown
    assert "--- gone.py (deleted)" in shown


def test_an_unreadable_diff_says_so() -> None:
    with pytest.raises(DiffUnreadable):
        commentable_lines("--- a/x\n+++ b/x\n@@ -1,5 +1,5 @@\n a\n")


def test_a_diff_made_by_git_matches_the_changed_file(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    git("init", "-q")
    before = [f"line {n}" for n in range(1, 41)]
    (tmp_path / "f.txt").write_text("\n".join(before) + "\n")
    git("add", ".")
    git("commit", "-qm", "base")
    after = [*before[:10], "inserted", *before[10:30], *before[31:]]  # insert 11, drop 31
    (tmp_path / "f.txt").write_text("\n".join(after) + "\n")
    diff = git("diff")
    lines = diff_lines(diff)["f.txt"]
    assert lines[11].old_line is None
    for number, where in lines.items():
        assert after[number - 1] == (before[where.old_line - 1] if where.old_line else "inserted")
    assert set(lines) == set(range(8, 15)) | set(range(29, 35))


# --- from the reviewer's comments to the review (app/workflow/review.py) -------------------


def finding(path: str, line: int, severity: str = "minor", body: str = "text") -> Any:
    return ReviewFinding.model_validate(
        {"path": path, "line": line, "severity": severity, "body": body}
    )


def test_comments_on_lines_of_the_hunks_are_placed_and_the_others_listed() -> None:
    lines = commentable_lines(MODIFIED)
    placed, folded = place_comments(
        [
            finding("calc.py", 6, "major", "check b"),
            finding("calc.py", 15, body="far away"),
            finding("README.md", 1, body="not in the diff"),
            finding("./calc.py", 23, "nit"),
            finding("calc.py", 7, body="   "),
        ],
        lines,
    )
    assert placed == [
        ReviewComment("calc.py", 6, "**major**: check b"),
        ReviewComment("calc.py", 23, "**nit**: text"),
    ]
    assert folded == [
        ReviewComment("calc.py", 15, "**minor**: far away"),
        ReviewComment("README.md", 1, "**minor**: not in the diff"),
    ]


def test_beyond_the_limit_the_most_severe_comments_are_placed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.workflow.review.MAX_INLINE_COMMENTS", 2)
    placed, folded = place_comments(
        [
            finding("calc.py", 1, "nit"),
            finding("calc.py", 2, "blocker"),
            finding("calc.py", 3, "minor"),
            finding("calc.py", 4, "major"),
        ],
        commentable_lines(MODIFIED),
    )
    assert [c.line for c in placed] == [2, 4]  # in the model's order
    assert [c.line for c in folded] == [1, 3]


def test_the_model_reads_a_numbered_diff_cut_to_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "    6 +    if b == 0:" in prompt_diff(MODIFIED)
    assert prompt_diff("not a diff at all") == "not a diff at all"
    monkeypatch.setattr("app.workflow.review.MAX_DIFF_PROMPT_CHARS", 40)
    assert prompt_diff(MODIFIED).endswith("the rest was left out: review what is shown)")


def test_a_severity_in_other_words_is_read_not_refused() -> None:
    assert [finding("a.py", 1, word).severity for word in ("Critical", "high", "nit", "odd")] == [
        "blocker",
        "major",
        "nit",
        "minor",
    ]
