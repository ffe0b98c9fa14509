"""Git on a checkout whose `.git/config` and `.gitattributes` were written by an attacker:
no configured program runs (a marker file it would create never appears), and a
delivery stages exactly the paths it is given, never a link."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import git
from app.codemap.discover import SkipRules, discover_files
from app.forges.github.auth import GitHubApp
from app.workflow import workspace
from tests.sim.github import GitHubSim
from tests.sim.serve import serve_app

REPO = "mallory/filters"
BOT = git.Person("agentops[bot]", "bot@users.noreply.github.com")


def plain_git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def make_hostile(root: Path, marker: Path) -> None:
    """Every way a written `.git` can name a program, each one creating `marker`."""
    program = root / ".git" / "evil.sh"
    program.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    program.chmod(0o755)
    config = root / ".git" / "config"
    config.write_text(
        config.read_text()
        + f"""
[core]
\tfsmonitor = {program}
\tpager = {program}
\tsshCommand = {program}
\thooksPath = .git/hooks
[diff]
\texternal = {program}
[diff "evil"]
\ttextconv = {program}
\tcommand = {program}
[merge "evil"]
\tdriver = {program}
[filter "evil"]
\tclean = {program}
\tsmudge = {program}
\tprocess = {program}
\trequired = true
[filter "Evil"]
\tclean = {program}
[credential]
\thelper = !{program}
[gpg]
\tprogram = {program}
[commit]
\tgpgSign = true
[gc]
\tauto = 1
"""
    )
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "attributes").write_text("* filter=evil diff=evil merge=evil\n")
    (root / ".gitattributes").write_text("* filter=Evil diff=evil\n")
    hooks = root / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    for hook in ("pre-commit", "post-checkout", "post-commit", "pre-auto-gc", "post-index-change"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / hook).chmod(0o755)


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[GitHubSim, str]]:
    sim = GitHubSim(tmp_path / "gh")
    sim.add_repo(REPO, {"a.py": "A = 1\n", ".gitattributes": "* filter=evil\n", "b.py": "B = 1\n"})
    with serve_app(sim.app) as url:
        yield sim, url


async def checkout(sim: GitHubSim, url: str, folder: Path) -> tuple[Path, str]:
    sha = sim.branch_sha(REPO, "main")
    assert sha is not None
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=url)
    try:
        remote = await app.forge(sim.installation_id(REPO)).git_remote(REPO)
        return await workspace.ensure_checkout(folder, remote, "main", sha), sha
    finally:
        await app.aclose()


async def test_no_configured_program_runs_on_a_written_git_dir(
    github: tuple[GitHubSim, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, url = github
    marker = tmp_path / "program-ran"
    # A global config that would run the repository's own `.gitattributes` filter on clone.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f'[filter "evil"]\n\tsmudge = touch {marker}; cat\n')
    monkeypatch.setenv("HOME", str(home))
    root, sha = await checkout(sim, url, tmp_path / "run")
    assert not marker.exists(), "the clone ran the repository's filter"

    make_hostile(root, marker)
    (root / "a.py").write_text("A = 2\n")
    (root / "c.py").write_text("C = 1\n")
    (root / "stray.log").write_text("left behind\n")

    found, _ = discover_files(root, SkipRules())  # the code map asks git too
    changed = await workspace.changed_paths(root, sha, ["a.py", "c.py"])
    diff = await workspace.working_diff(root, sha, ["a.py", "c.py"])
    await git.run_git(["diff", sha], cwd=root)
    await git.run_git(["log", "-p", "-1"], cwd=root)
    await git.run_git(["status"], cwd=root)
    base = await workspace.base_copy(tmp_path / "run", root, sha)
    worktree = tmp_path / "worktree"  # local mode and replay check out a worktree
    await git.run_git(["worktree", "add", "--quiet", "--detach", str(worktree), sha], cwd=root)
    await git.create_branch(root, "agentops/1-x")
    commit = await git.commit(root, "change", author=BOT, paths=["a.py", "c.py"])
    await git.run_git(["checkout", "--quiet", "--detach", sha], cwd=root)
    await workspace.reset_to(root, commit)
    await workspace.apply_diff(root, "")

    assert not marker.exists(), "git ran a program the repository's config named"
    assert changed == ["a.py", "c.py"]
    assert "a.py" in {f.path for f in found}
    assert "A = 2" in diff and "stray.log" not in diff
    assert sorted(p.name for p in base.iterdir()) == [".gitattributes", "a.py", "b.py"]
    assert (base / "a.py").read_text() == "A = 1\n"  # the raw blob, no filter
    assert (worktree / "a.py").read_text() == "A = 1\n"
    files = plain_git(root, "show", "--name-only", "--format=", commit).split()
    assert files == ["a.py", "c.py"]
    # the commit was not signed, although the repository's config asked for it
    assert "gpgsig" not in plain_git(root, "cat-file", "commit", commit)


@pytest.mark.parametrize(
    "key, value",
    [
        ("include.path", "/etc/hostname"),
        ("includeIf.gitdir:/.path", "/etc/hostname"),
        ("url.http://attacker.invalid/.insteadOf", "http://"),
        ("url.http://attacker.invalid/.pushInsteadOf", "http://"),
        ("core.worktree", "/"),
    ],
)
async def test_config_that_cannot_be_neutralised_is_refused(
    github: tuple[GitHubSim, str], tmp_path: Path, key: str, value: str
) -> None:
    sim, url = github
    root, sha = await checkout(sim, url, tmp_path / "run")
    plain_git(root, "config", key, value)
    (root / "a.py").write_text("A = 2\n")
    with pytest.raises(git.GitError, match="refusing to run git on it"):
        await workspace.working_diff(root, sha, ["a.py"])


async def test_staging_takes_only_the_given_regular_files(
    github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    sim, url = github
    root, sha = await checkout(sim, url, tmp_path / "run")
    (root / "a.py").write_text("A = 2\n")
    (root / "other.py").write_text("O = 1\n")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "x.yml").write_text("on: push\n")
    (root / "shadow").symlink_to("/etc/shadow")
    (root / "linked").symlink_to(root / "a.py")

    assert await workspace.changed_paths(root, sha, ["a.py"]) == ["a.py"]
    for refused in ("shadow", "linked", ".github", "../outside", ".git/config"):
        with pytest.raises(git.GitError, match="refusing to stage"):
            await git.stage_paths(root, [refused])
    (root / "b.py").unlink()
    (root / "b.py").symlink_to("/etc/passwd")  # a file replaced by a link
    with pytest.raises(git.GitError, match="symbolic link"):
        await git.commit(root, "x", author=BOT, paths=["a.py", "b.py"])
    (root / "b.py").unlink()
    commit = await git.commit(root, "x", author=BOT, paths=["a.py", "b.py"])
    shown = plain_git(root, "show", "--name-status", "--format=", commit).split("\n")
    assert [line for line in shown if line] == ["M\ta.py", "D\tb.py"]
    untracked = plain_git(root, "status", "--porcelain", "--untracked-files=all")
    assert "other.py" in untracked and "x.yml" in untracked  # left alone, not committed


async def test_a_diff_creating_a_link_is_not_applied(
    github: tuple[GitHubSim, str], tmp_path: Path
) -> None:
    sim, url = github
    root, _ = await checkout(sim, url, tmp_path / "run")
    link_diff = (
        "diff --git a/shadow b/shadow\nnew file mode 120000\nindex 0000000..1111111\n"
        "--- /dev/null\n+++ b/shadow\n@@ -0,0 +1 @@\n+/etc/shadow\n\\ No newline at end of file\n"
    )
    with pytest.raises(git.GitError, match="symbolic link"):
        await workspace.apply_diff(root, link_diff)
    assert not (root / "shadow").is_symlink()
