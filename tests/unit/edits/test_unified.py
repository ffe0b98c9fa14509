"""Answers that are unified diffs instead of blocks: read leniently, applied like blocks."""

from __future__ import annotations

import pytest

from app.edits import Edit, EditFormatError, parse_edits
from tests.unit.edits.helpers import after, run

SOURCE = "import os\n\n\ndef f():\n    return 1\n\n\ndef g():\n    return 2\n"


def test_a_git_diff_becomes_one_edit_per_hunk() -> None:
    text = (
        "Here is the patch:\n```diff\n"
        "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n"
        "@@ -4,2 +4,2 @@\n def f():\n-    return 1\n+    return 10\n"
        "@@ -8,2 +8,2 @@ def f():\n def g():\n-    return 2\n+    return 20\n```\n"
    )
    assert parse_edits(text) == [
        Edit("m.py", "def f():\n    return 1\n", "def f():\n    return 10\n", 4, number=1),
        Edit("m.py", "def g():\n    return 2\n", "def g():\n    return 20\n", 8, number=2),
    ]
    assert after(run({"m.py": SOURCE}, text), "m.py") == SOURCE.replace("1\n", "10\n").replace(
        "2\n", "20\n"
    )


def test_wrong_counts_no_numbers_and_spaceless_blank_context() -> None:
    text = (
        "--- m.py\n+++ m.py\n@@ -1,99 +1,1 @@\n import os\n+import re\n\n"
        "@@ @@\n def g():\n-    return 2\n+    return 3\n"
    )
    expected = SOURCE.replace("import os\n", "import os\nimport re\n").replace("2\n", "3\n")
    assert after(run({"m.py": SOURCE}, text), "m.py") == expected


def test_blank_context_inside_a_hunk() -> None:
    text = "--- a/m.py\n+++ b/m.py\n@@ -5,4 +5,4 @@\n     return 1\n\n\n-def g():\n+def h():\n"
    assert "def h():" in after(run({"m.py": SOURCE}, text), "m.py")


def test_new_file_from_dev_null() -> None:
    text = "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n"
    assert parse_edits(text) == [Edit("pkg/new.py", "", "x = 1\ny = 2\n", whole_file=True)]


def test_deleting_a_file_is_refused() -> None:
    with pytest.raises(EditFormatError, match="deleting files is not supported"):
        parse_edits("--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n")


def test_blocks_win_over_a_diff_shown_as_explanation() -> None:
    text = (
        "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-import os\n+import sys\n\n"
        "m.py\n<<<<<<< SEARCH\nimport os\n=======\nimport re\n>>>>>>> REPLACE\n"
    )
    assert [e.replace for e in parse_edits(text)] == ["import re\n"]


def test_crlf_diff() -> None:
    text = "--- a/m.py\r\n+++ b/m.py\r\n@@ -1 +1 @@\r\n-import os\r\n+import sys\r\n"
    assert after(run({"m.py": SOURCE}, text), "m.py").startswith("import sys\n")
