"""`git status --porcelain=v2 -z` read into a checkout's HEAD and changed paths."""

from __future__ import annotations

from pathlib import Path

from app.mcp.work_tree import parse_status, tree_key

HEAD = "7ff88eb1bb50a9ac2186b68d34bd1980c9205fbf"


def test_every_kind_of_change_is_a_changed_path() -> None:
    listed = b"\0".join(
        [
            f"# branch.oid {HEAD}".encode(),
            b"# branch.head main",
            b"1 .M N... 100644 100644 100644 aaaa bbbb a b/changed file.py",
            b"2 R. N... 100644 100644 100644 aaaa aaaa R100 new name.py",
            b"old name.py",
            b"u UU N... 100644 100644 100644 100644 a b c both.py",
            b"? untracked/x.py",
            b"",
        ]
    )
    head, changed = parse_status(listed)
    assert head == HEAD
    assert changed == (
        "a b/changed file.py",
        "both.py",
        "new name.py",
        "old name.py",
        "untracked/x.py",
    )


def test_a_repository_without_a_commit_has_no_head() -> None:
    assert parse_status(b"# branch.oid (initial)\0# branch.head main\0? a.py\0") == (
        None,
        ("a.py",),
    )


def test_a_clean_tree_is_keyed_by_its_commit_and_an_edit_makes_a_new_key(tmp_path: Path) -> None:
    assert tree_key(tmp_path, HEAD, ()) == HEAD
    (tmp_path / "a.py").write_text("x = 1\n")
    edited = tree_key(tmp_path, HEAD, ("a.py",))
    assert len(edited) == 40 and edited != HEAD
    (tmp_path / "a.py").write_text("x = 22\n")
    assert tree_key(tmp_path, HEAD, ("a.py",)) != edited
    assert tree_key(tmp_path, HEAD, ("gone.py",)) != tree_key(tmp_path, HEAD, ("a.py",))
