"""`run_tests` runs on its own copy of the checkout, without `.git`: whatever the tests
write (git config, hooks, links, logs) never reaches the worker's checkout."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

from app.sandbox import run_tests
from app.sandbox.workcopy import copy_tree
from tests.integration.sandbox.repos import PYTEST, policy, write_repo

HOSTILE_TEST = """
import os
import pathlib


def test_writes_everywhere_it_can():
    seen = {"git": os.path.exists(".git"), "parent_git": os.path.exists("../.git")}
    print("SEEN", seen)
    for gitdir in ("/workspace/.git", ".git", "../.git"):
        try:
            pathlib.Path(gitdir, "hooks").mkdir(parents=True, exist_ok=True)
            with open(pathlib.Path(gitdir, "config"), "a") as config:
                config.write('[core]\\n\\tfsmonitor = touch {marker}\\n')
            pathlib.Path(gitdir, "hooks", "pre-commit").write_text("#!/bin/sh\\ntouch {marker}\\n")
            print("WROTE", gitdir)
        except OSError as exc:
            print("BLOCKED", gitdir, type(exc).__name__)
    pathlib.Path(".gitattributes").write_text("* filter=evil\\n")
    pathlib.Path("calc.py").write_text("broken = True\\n")
    pathlib.Path("test.log").write_text("log\\n")
    os.symlink("/etc/passwd", "passwd-link")
    pathlib.Path(".github/workflows").mkdir(parents=True)
    pathlib.Path(".github/workflows/x.yml").write_text("on: push\\n")
"""


def snapshot(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry under root: its kind and its content (link target for links)."""
    found: dict[str, tuple[str, bytes]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path).encode())
            elif path.is_dir():
                found[rel] = ("dir", b"")
            else:
                found[rel] = ("file", path.read_bytes())
    return found


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


async def test_the_tests_cannot_reach_the_checkout_or_its_git(tmp_path: Path) -> None:
    marker = tmp_path / "program-ran"
    repo = write_repo(
        tmp_path / "repo",
        {
            "calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_hostile.py": HOSTILE_TEST.replace("{marker}", str(marker)),
        },
    )
    git(repo, "init", "-q")
    git(repo, "add", "--all")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    before = snapshot(repo)
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    run = await run_tests(repo, PYTEST, policy=replace(policy(), scratch_root=scratch))

    assert run.tests is not None and run.passed, run.tests.output.text if run.tests else ""
    out = run.tests.output.text
    assert "SEEN {'git': False, 'parent_git': False}" in out  # no .git in the copy
    assert "BLOCKED ../.git" in out  # the copy's parent is the sandbox's read-only root
    assert snapshot(repo) == before  # nothing the tests wrote came back
    assert list(scratch.iterdir()) == []  # the copy is gone
    assert git(repo, "status", "--porcelain") == ""
    assert not marker.exists()


def test_the_copy_keeps_links_as_links_and_leaves_git_out(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "pkg" / ".git").mkdir(parents=True)  # a submodule's git dir
    (source / ".git").mkdir()
    (source / ".git" / "config").write_text("[core]\n")
    (source / "pkg" / "mod.py").write_text("X = 1\n")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    (source / "shadow").symlink_to("/etc/shadow")
    (source / "etc").symlink_to("/etc")
    os.mkfifo(source / "pipe")

    copy_tree(source, tmp_path / "copy")

    copy = tmp_path / "copy"
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*")) == [
        "etc",
        "pkg",
        "pkg/mod.py",
        "run.sh",
        "shadow",
    ]
    assert os.readlink(copy / "shadow") == "/etc/shadow"
    assert os.readlink(copy / "etc") == "/etc"
    assert (copy / "run.sh").stat().st_mode & 0o777 == 0o755
