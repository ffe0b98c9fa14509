"""Reading one file as committed (`.agentops.yml` of a pull request's head, of a blobless
clone's tip): the safe reader's rules on a real git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.git_tip import read_committed_file
from app.repo_files import RepositoryFileRefused


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=T", "-c", "user.email=t@example.invalid", *args],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q", "-b", "main")
    (root / "settings.yml").write_text("labels: {a: implement}\n")
    (root / "big.txt").write_text("x" * 5000)
    (root / "docs").mkdir()
    (root / "docs" / "a.md").write_text("# a\n")
    (root / ".agentops.yml").symlink_to("/etc/passwd")
    git("add", "-A")
    git("commit", "-q", "-m", "files")
    sha = git("rev-parse", "HEAD")
    git("update-index", "--add", "--cacheinfo", f"160000,{sha},vendor")  # a submodule
    git("commit", "-q", "-m", "submodule")
    return root


async def test_a_committed_file_is_read(repo: Path) -> None:
    assert await read_committed_file(repo, "HEAD", "settings.yml") == "labels: {a: implement}\n"
    assert await read_committed_file(repo, "HEAD", "absent.yml") is None


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (".agentops.yml", "symbolic link"),
        ("docs", "tree, not a file"),
        ("vendor", "commit, not a file"),
    ],
)
async def test_links_and_other_entries_are_refused(repo: Path, path: str, reason: str) -> None:
    with pytest.raises(RepositoryFileRefused, match=reason) as refused:
        await read_committed_file(repo, "HEAD", path)
    assert "root:" not in str(refused.value)


async def test_an_oversized_blob_is_refused(repo: Path) -> None:
    with pytest.raises(RepositoryFileRefused, match="larger than 4096 bytes"):
        await read_committed_file(repo, "HEAD", "big.txt", max_bytes=4096)
