from __future__ import annotations

import subprocess
from pathlib import Path

from unidiff.patch import PatchSet

from app.edits import FileChange, diff_stats, render_diff
from tests.unit.edits.helpers import block, run


def test_diff_is_parseable_and_counts_lines() -> None:
    result = run(
        {"a.py": "import os\n\n\ndef f():\n    return 1\n"},
        block("a.py", "def f():\n    return 1\n", "def f():\n    # two\n    return 2\n")
        + "b.py\n<<<<<<< NEW FILE\nx = 1\n>>>>>>> NEW FILE\n",
    )
    patch = PatchSet(result.diff)
    assert [(p.path, p.added, p.removed, p.is_added_file) for p in patch] == [
        ("a.py", 2, 1, False),
        ("b.py", 1, 0, True),
    ]
    assert [(s.path, s.added, s.removed) for s in diff_stats(result.diff)] == [
        ("a.py", 2, 1),
        ("b.py", 1, 0),
    ]


def test_no_newline_at_end_of_file_marker() -> None:
    text = render_diff([FileChange("a.txt", "one\ntwo", "one\nthree")])
    assert text.endswith(
        "-two\n\\ No newline at end of file\n+three\n\\ No newline at end of file\n"
    )
    assert PatchSet(text)[0].added == 1


def test_unchanged_files_render_nothing() -> None:
    assert render_diff([FileChange("a.txt", "x\n", "x\n")]) == ""


def test_empty_new_file_has_a_header() -> None:
    assert (
        render_diff([FileChange("e.txt", None, "")])
        == "diff --git a/e.txt b/e.txt\nnew file mode 100644\n"
    )


def test_git_applies_the_rendered_diff(tmp_path: Path) -> None:
    before = {"a.py": "x = 1\r\ny = 2\r\n", "b.txt": "no newline"}
    after = {"a.py": "x = 1\r\ny = 3\r\n", "b.txt": "no newline\nnow"}
    for name, text in before.items():
        (tmp_path / name).write_bytes(text.encode())
    changes = [FileChange(n, before[n], after[n]) for n in before] + [
        FileChange("c/new.py", None, "z\n")
    ]
    (tmp_path / "p.diff").write_bytes(render_diff(changes).encode())
    subprocess.run(["git", "apply", "p.diff"], cwd=tmp_path, check=True, capture_output=True)
    for name, text in after.items():
        assert (tmp_path / name).read_bytes() == text.encode()
    assert (tmp_path / "c/new.py").read_text() == "z\n"
