"""The outside measurement's builder (bench/codemap_outside.py): which SWE-bench Lite rows
it keeps, and their gold files, on a real mirror."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.codemap_outside import outside_tasks

PATCH = (
    "diff --git a/pkg/a.py b/pkg/a.py\n--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ -1 +1 @@\n-x\n+y\n"
    "diff --git a/pkg/b.py b/pkg/b.py\n--- a/pkg/b.py\n+++ b/pkg/b.py\n@@ -1 +1 @@\n-x\n+y\n"
)


@pytest.fixture
def mirrors(tmp_path: Path) -> tuple[Path, str]:
    work = tmp_path / "work"
    work.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "dev@example.com"],
        ["config", "user.name", "dev"],
    ):
        subprocess.run(["git", "-C", str(work), *args], check=True)
    (work / "a.py").write_text("x\n")
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(work), "commit", "-q", "-m", "start"], check=True)
    head = subprocess.run(
        ["git", "-C", str(work), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    bare = tmp_path / "mirrors" / "someone+pkg" / "repo"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return tmp_path / "mirrors", head


def _row(repo: str, instance: str, base: str) -> dict[str, str]:
    return {
        "repo": repo, "instance_id": instance, "base_commit": base, "patch": PATCH,
        "problem_statement": "It breaks.",
    }  # fmt: skip


def test_rows_of_the_dev_repositories_are_left_to_the_dev_set_and_the_unmirrored_counted(
    mirrors: tuple[Path, str],
) -> None:
    root, head = mirrors
    rows = [
        _row("django/django", "django__django-1", head),
        _row("someone/pkg", "someone__pkg-7", head),
        _row("matplotlib/matplotlib", "matplotlib__matplotlib-2", head),
        _row("matplotlib/matplotlib", "matplotlib__matplotlib-3", head),
    ]
    tasks, left = outside_tasks(rows, root)
    assert [(t["instance_id"], t["gold_files"]) for t in tasks] == [
        ("someone__pkg-7", ["pkg/a.py", "pkg/b.py"])
    ]
    assert left == {"matplotlib/matplotlib": 2}


def test_a_base_commit_the_mirror_lacks_stops_the_build(mirrors: tuple[Path, str]) -> None:
    root, _ = mirrors
    with pytest.raises(subprocess.CalledProcessError):
        outside_tasks([_row("someone/pkg", "someone__pkg-8", "0" * 40)], root)


def test_a_base_commit_that_is_not_a_commit_id_never_reaches_git(
    mirrors: tuple[Path, str],
) -> None:
    root, _ = mirrors
    with pytest.raises(ValueError, match="no commit id"):
        outside_tasks([_row("someone/pkg", "someone__pkg-9", "--remote=ext::sh")], root)
