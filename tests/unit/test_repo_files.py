"""The safe reader on real directories: links to host files and directories, a link in the
middle of a path, a FIFO, a device, an oversized file, and plain files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app import repo_files
from app.repo_files import DirectoryChain, RepositoryFileRefused

CANARY = "CANARY-4b1d-host-secret"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A host directory outside the checkout, holding a secret."""
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "shadow").write_text(f"root:{CANARY}:19000:0:99999:7:::\n")
    return outside


@pytest.fixture
def repo(tmp_path: Path, host: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "README.md").write_text("# hello\n")
    (root / "pkg" / "sub" / "mod.py").write_text("x = 1\n")
    (root / "notes.txt").symlink_to(host / "shadow")
    (root / "docs").symlink_to(host)
    (root / "pkg" / "up").symlink_to("../..")  # inside the tree, still not followed
    (root / "alias.md").symlink_to("README.md")
    (root / "null").symlink_to("/dev/null")
    os.mkfifo(root / "pipe")
    return root


def test_a_normal_file_is_read(repo: Path) -> None:
    assert repo_files.read_bytes(repo, "README.md") == b"# hello\n"
    assert repo_files.read_text(repo, "./pkg/sub/../sub/mod.py") == "x = 1\n"
    assert repo_files.read_bytes(repo, "absent.txt") is None
    assert repo_files.read_bytes(repo, "nowhere/absent.txt") is None


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("notes.txt", "symbolic link"),  # a link to a host file
        ("docs/shadow", "symbolic link"),  # a linked directory in the middle
        ("pkg/up/README.md", "symbolic link"),  # a link deeper down, pointing inside
        ("alias.md", "symbolic link"),  # a link inside the tree
        ("null", "symbolic link"),  # a device, through a link
        ("pipe", "not a regular file"),  # a FIFO: would hang a reader
        ("pkg", "directory"),
        ("README.md/x", "not a directory"),
        ("../host/shadow", "outside the repository"),
        ("/etc/passwd", "absolute"),
    ],
)
def test_what_is_refused(repo: Path, path: str, reason: str) -> None:
    with pytest.raises(RepositoryFileRefused, match=reason) as refused:
        repo_files.read_bytes(repo, path)
    assert CANARY not in str(refused.value)


def test_a_device_itself_is_not_read(tmp_path: Path) -> None:
    """A device node in the tree (the sandbox copy could hold one): never opened."""
    with pytest.raises(RepositoryFileRefused, match="not a regular file"):
        repo_files.read_bytes(Path("/"), "dev/null")
    with pytest.raises(RepositoryFileRefused, match="not a regular file"):
        repo_files.read_bytes(Path("/"), "dev/zero")  # would never end


def test_an_oversized_file_is_refused(repo: Path) -> None:
    (repo / "big.bin").write_bytes(b"x" * 2048)
    with pytest.raises(RepositoryFileRefused, match="larger than 1024 bytes"):
        repo_files.read_bytes(repo, "big.bin", max_bytes=1024)
    assert repo_files.read_bytes(repo, "big.bin", max_bytes=2048) == b"x" * 2048


def test_the_walker_lists_regular_files_only_and_never_enters_a_link(repo: Path) -> None:
    walked = [path for path, _entry in repo_files.walk_files(repo)]
    assert walked == ["README.md", "pkg/sub/mod.py"]
    assert [p for p, _ in repo_files.walk_files(repo, "pkg")] == ["pkg/sub/mod.py"]
    assert list(repo_files.walk_files(repo, "docs")) == []  # a linked directory: nothing


def test_a_listing_shows_links_as_links(repo: Path) -> None:
    listed = {e.name: e.kind for e in repo_files.list_directory(repo) or []}
    assert listed == {
        "README.md": "file",
        "alias.md": "link",
        "docs": "link",
        "notes.txt": "link",
        "null": "link",
        "pipe": "other",
        "pkg": "dir",
    }
    with pytest.raises(RepositoryFileRefused, match="symbolic link"):
        repo_files.list_directory(repo, "docs")
    assert repo_files.list_directory(repo, "absent") is None


def test_stat_entry_never_follows(repo: Path) -> None:
    assert repo_files.stat_entry(repo, "notes.txt") == repo_files.Entry(
        "notes.txt",
        "link",
        len(str(repo.parent / "host" / "shadow")),
        os.lstat(repo / "notes.txt").st_mtime_ns,
    )
    assert repo_files.stat_entry(repo, "docs/shadow") is None
    entry = repo_files.stat_entry(repo, "pkg/sub/mod.py")
    assert entry is not None and (entry.kind, entry.size) == ("file", 6)


def test_a_chain_reuses_directories_and_stays_safe(repo: Path) -> None:
    with DirectoryChain(repo) as tree:
        assert tree.read_bytes("pkg/sub/mod.py") == b"x = 1\n"
        assert tree.read_bytes("README.md") == b"# hello\n"
        with pytest.raises(RepositoryFileRefused):
            tree.read_bytes("docs/shadow")
        assert tree.read_bytes("pkg/sub/mod.py") == b"x = 1\n"


def test_a_directory_swapped_for_a_link_is_not_followed(repo: Path, host: Path) -> None:
    """Checked with lstat, opened with O_NOFOLLOW: a swap in between fails closed."""
    with DirectoryChain(repo) as tree:
        assert tree.read_bytes("pkg/sub/mod.py") == b"x = 1\n"
        (repo / "pkg" / "sub" / "mod.py").unlink()
        (repo / "pkg" / "sub").rmdir()
        (repo / "pkg" / "sub").symlink_to(host)
        (host / "mod.py").write_text(CANARY)
        assert tree.read_bytes("pkg/sub/mod.py") is None  # the open directory is the old one
        with pytest.raises(RepositoryFileRefused):
            repo_files.read_bytes(repo, "pkg/sub/mod.py")
