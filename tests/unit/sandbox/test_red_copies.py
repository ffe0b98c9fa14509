"""The red run's copy of the original code gets the change's test files laid over it, read
and written without following a link: a test file that is a link, or a link on the way in
the original code, is left out instead of read from (or written to) the host."""

from __future__ import annotations

from pathlib import Path

from app.sandbox.proof import _prepare_copies, changed_test_files


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_new_and_changed_test_files_are_found(tmp_path: Path) -> None:
    base = _tree(tmp_path / "base", {"calc.py": "x = 1\n", "tests/test_a.py": "old\n"})
    changed = _tree(
        tmp_path / "changed",
        {"calc.py": "x = 2\n", "tests/test_a.py": "new\n", "tests/test_b.py": "b\n"},
    )
    assert changed_test_files(base, changed) == ["tests/test_a.py", "tests/test_b.py"]


def test_a_linked_test_file_is_neither_read_nor_laid_over(tmp_path: Path) -> None:
    host = tmp_path / "host-secret.txt"
    host.write_text("canary-host-file\n")
    base = _tree(tmp_path / "base", {"calc.py": "x = 1\n"})
    changed = _tree(tmp_path / "changed", {"calc.py": "x = 2\n"})
    (changed / "tests").mkdir()
    (changed / "tests" / "test_leak.py").symlink_to(host)
    assert changed_test_files(base, changed) == []

    work, red, _green, moved = _prepare_copies(base, changed, ["tests/test_leak.py"], [], tmp_path)
    assert moved == []
    assert not (red / "tests" / "test_leak.py").exists()
    assert "canary" not in "".join(
        p.read_text() for p in work.rglob("*") if p.is_file() and not p.is_symlink()
    )


def test_a_link_in_the_original_code_is_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    base = _tree(tmp_path / "base", {"calc.py": "x = 1\n"})
    (base / "tests").symlink_to(outside, target_is_directory=True)
    changed = _tree(tmp_path / "changed", {"calc.py": "x = 2\n", "tests/test_new.py": "t\n"})

    _work, red, _green, moved = _prepare_copies(base, changed, ["tests/test_new.py"], [], tmp_path)
    assert moved == []
    assert list(outside.iterdir()) == []  # nothing written through the link
    assert (red / "tests").is_symlink()
