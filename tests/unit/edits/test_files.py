"""The writing layer on a real directory: atomic writes, and never a write through a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.edits import EditPolicy, EditResult, apply_edits, parse_edits
from tests.unit.edits.helpers import block


def apply(root: Path, text: str, policy: EditPolicy | None = None) -> EditResult:
    return apply_edits(root, parse_edits(text), policy or EditPolicy())


def test_writes_the_change_and_keeps_the_mode(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "run.py"
    script.parent.mkdir()
    script.write_text("x = 1\n")
    script.chmod(0o755)
    result = apply(tmp_path, block("bin/run.py", "x = 1\n", "x = 2\n"))
    assert script.read_text() == "x = 2\n"
    assert script.stat().st_mode & 0o777 == 0o755
    assert result.files == ("bin/run.py",)
    assert sorted(p.name for p in script.parent.iterdir()) == ["run.py"]  # no temporary left


def test_creates_directories_for_a_new_file(tmp_path: Path) -> None:
    apply(tmp_path, "pkg/sub/new.py\n<<<<<<< NEW FILE\nx = 1\n>>>>>>> NEW FILE\n")
    assert (tmp_path / "pkg/sub/new.py").read_text() == "x = 1\n"


def test_refused_edit_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    before = os.stat(tmp_path / "a.py").st_mtime_ns
    result = apply(tmp_path, block("a.py", "y = 1\n", "y = 2\n"))
    assert result.refusals and result.changes == ()
    assert os.stat(tmp_path / "a.py").st_mtime_ns == before


def test_crlf_bytes_on_disk(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    apply(tmp_path, block("w.py", "b = 2\n", "b = 3\nc = 4\n"))
    assert (tmp_path / "w.py").read_bytes() == b"a = 1\r\nb = 3\r\nc = 4\r\n"


def test_symlinked_file_pointing_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("x = 1\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "link.py").symlink_to(outside)
    result = apply(repo, block("link.py", "x = 1\n", "x = 2\n"))
    assert result.refusals[0].reason == "path"
    assert "symbolic link" in result.refusals[0].message
    assert outside.read_text() == "x = 1\n"
    assert (repo / "link.py").is_symlink()


def test_symlinked_directory_is_refused_for_new_files_too(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "out").symlink_to(outside)
    result = apply(repo, "out/new.py\n<<<<<<< NEW FILE\nx = 1\n>>>>>>> NEW FILE\n")
    assert result.refusals[0].reason == "path"
    assert list(outside.iterdir()) == []


def test_symlink_inside_the_repository_is_not_followed_either(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text("x = 1\n")
    (tmp_path / "alias.py").symlink_to("real.py")
    result = apply(tmp_path, block("alias.py", "x = 1\n", "x = 2\n"))
    assert result.refusals[0].reason == "path"
    assert (tmp_path / "real.py").read_text() == "x = 1\n"


def test_directory_in_place_of_a_file(tmp_path: Path) -> None:
    (tmp_path / "pkg.d").mkdir()
    result = apply(tmp_path, block("pkg.d", "x\n", "y\n"))
    assert result.refusals[0].reason == "path"


def test_file_in_place_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "pkg").write_text("")
    result = apply(tmp_path, "pkg/new.py\n<<<<<<< NEW FILE\nx = 1\n>>>>>>> NEW FILE\n")
    assert result.refusals[0].reason == "path"
    assert result.changes == () and result.diff == ""


def test_traversal_and_workflows_never_reach_the_disk(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    text = "../escape.py\n<<<<<<< NEW FILE\nx = 1\n>>>>>>> NEW FILE\n"
    text += ".github/workflows/ci.yml\n<<<<<<< NEW FILE\non: push\n>>>>>>> NEW FILE\n"
    result = apply(repo, text)
    assert [r.reason for r in result.refusals] == ["path", "path"]
    assert not (tmp_path / "escape.py").exists()
    assert not (repo / ".github").exists()
    apply(
        repo,
        text.split("../escape.py")[0] + text[text.index(".github") :],
        EditPolicy(allow_workflows=True),
    )
    assert (repo / ".github/workflows/ci.yml").read_text() == "on: push\n"


@pytest.mark.parametrize("name", ["a.py", "dir/a.py"])
def test_diff_matches_what_was_written(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("x = 1\n")
    result = apply(tmp_path, block(name, "x = 1\n", "x = 2\n"))
    header = f"diff --git a/{name} b/{name}\n--- a/{name}\n+++ b/{name}\n"
    assert result.diff == header + "@@ -1 +1 @@\n-x = 1\n+x = 2\n"


def test_all_or_nothing_writes_nothing_on_disk(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    text = block("a.py", "x = 1\n", "x = 2\n") + block("b.py", "y\n", "z\n")
    result = apply(tmp_path, text, EditPolicy(all_or_nothing=True))
    assert [r.reason for r in result.refusals] == ["missing"]
    assert (tmp_path / "a.py").read_text() == "x = 1\n"
    assert not (tmp_path / "b.py").exists()
