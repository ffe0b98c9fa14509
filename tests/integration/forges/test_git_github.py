"""app/git.py against real git served by the GitHub simulator."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app import git
from app.forges.base import GitRemote
from app.forges.github.auth import GitHubApp
from app.forges.github.forge import GitHubForge
from app.forges.retry import RetryPolicy
from tests.sim.github import GitHubSim, generate_app_key

REPO = "acme/app"
BOT = git.Person("agentops[bot]", "41898282+agentops[bot]@users.noreply.github.com")
ALICE = git.Person("Alice Liddell", "alice@example.com")


@functools.cache
def app_key() -> tuple[str, str]:
    return generate_app_key()


@pytest.fixture
def sim(tmp_path: Path) -> GitHubSim:
    private, public = app_key()
    sim = GitHubSim(tmp_path / "sim", private_key_pem=private, public_key_pem=public)
    sim.add_repo(REPO, {"README.md": "hello\n", "src/app.py": "print('hi')\n"})
    return sim


@pytest.fixture
async def forge(sim: GitHubSim, base_url: str) -> AsyncIterator[GitHubForge]:
    app = GitHubApp(
        sim.app_id, sim.private_key_pem, api_url=base_url, retry=RetryPolicy(3, 0.001, 0.005)
    )
    yield app.forge(sim.installation_id(REPO))
    await app.aclose()


@pytest.fixture
async def remote(forge: GitHubForge) -> GitRemote:
    return await forge.git_remote(REPO)


def secret_forms(sim: GitHubSim) -> list[str]:
    forms = []
    for token in sim.tokens_issued:
        forms += [token, base64.b64encode(f"x-access-token:{token}".encode()).decode()]
    return forms


def bare_git(sim: GitHubSim, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=sim.bare_path(REPO), check=True, capture_output=True, text=True
    ).stdout


async def test_clone_branch_commit_push(sim: GitHubSim, remote: GitRemote, tmp_path: Path) -> None:
    work = await git.clone(remote, tmp_path / "work")
    assert (work / "src/app.py").read_text() == "print('hi')\n"
    assert (await git.run_git(["config", "remote.origin.url"], cwd=work)).strip() == remote.url
    await git.create_branch(work, "agentops/issue-7")
    (work / "src/app.py").write_text("print('bye')\n")
    sha = await git.commit(
        work, "Say bye\n\nCloses #7", author=BOT, co_authors=[ALICE], paths=["src/app.py"]
    )
    await git.push(work, remote, "agentops/issue-7")

    assert sim.branch_sha(REPO, "agentops/issue-7") == sha
    author = bare_git(sim, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha).strip()
    assert author == f"{BOT}|{BOT}"
    message = bare_git(sim, "log", "-1", "--format=%B", sha)
    assert message.strip().endswith(f"Closes #7\n\nCo-authored-by: {ALICE}")
    trailers = bare_git(sim, "log", "-1", "--format=%(trailers:key=Co-authored-by)", sha)
    assert trailers.strip() == f"Co-authored-by: {ALICE}"


async def test_nothing_to_commit(remote: GitRemote, tmp_path: Path) -> None:
    work = await git.clone(remote, tmp_path / "work")
    with pytest.raises(git.NothingToCommit):
        await git.commit(work, "empty", author=BOT, paths=["src/app.py"])


async def test_push_never_forces_unless_asked(
    sim: GitHubSim, remote: GitRemote, tmp_path: Path
) -> None:
    first = await git.clone(remote, tmp_path / "first")
    second = await git.clone(remote, tmp_path / "second")
    for work, content in ((first, "one"), (second, "two")):
        await git.create_branch(work, "agentops/fix")
        (work / "f.txt").write_text(content)
        await git.commit(work, content, author=BOT, paths=["f.txt"])
    await git.push(first, remote, "agentops/fix")
    with pytest.raises(git.PushRejected):
        await git.push(second, remote, "agentops/fix")
    await git.push(second, remote, "agentops/fix", force=True)
    assert sim.branch_sha(REPO, "agentops/fix") == await git.head_sha(second)


async def test_push_to_default_branch_refused(
    sim: GitHubSim, remote: GitRemote, tmp_path: Path
) -> None:
    before = sim.branch_sha(REPO, "main")
    work = await git.clone(remote, tmp_path / "work")
    (work / "f.txt").write_text("x")
    await git.commit(work, "x", author=BOT, paths=["f.txt"])
    with pytest.raises(git.PushRejected, match="default branch"):
        await git.push(work, remote, "main")
    assert sim.branch_sha(REPO, "main") == before


async def test_shallow_clone_then_fetch_more(
    sim: GitHubSim, remote: GitRemote, tmp_path: Path
) -> None:
    sim.push_branch(REPO, "main", {"second.txt": "2\n"}, message="second")
    sim.push_branch(REPO, "feature", {"f.txt": "f\n"})
    work = await git.clone(remote, tmp_path / "work")
    count = await git.run_git(["rev-list", "--count", "HEAD"], cwd=work)
    assert count.strip() == "1"
    await git.fetch_more(work, remote, refs=["feature"])
    assert await git.head_sha(work, "origin/feature") == sim.branch_sha(REPO, "feature")
    await git.fetch_more(work, remote)
    count = await git.run_git(["rev-list", "--count", "HEAD"], cwd=work)
    assert count.strip() == "2"


async def test_blobless_full_clone(sim: GitHubSim, remote: GitRemote, tmp_path: Path) -> None:
    sim.push_branch(REPO, "feature", {"f.txt": "f\n"})
    work = await git.clone(remote, tmp_path / "work", depth=None, blobless=True)
    assert await git.head_sha(work, "origin/feature") == sim.branch_sha(REPO, "feature")


async def test_git_without_credentials_is_rejected(
    sim: GitHubSim, base_url: str, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"{base_url}/acme/app.git/info/refs", params={"service": "git-upload-pack"}
        )
    assert answer.status_code == 401
    bare = GitRemote(url=f"{base_url}/acme/app.git", auth_header="")
    started = time.monotonic()
    with pytest.raises(git.GitError):
        await git.clone(bare, tmp_path / "work", time_limit=20)
    assert time.monotonic() - started < 10  # no prompt, no hang


def _watch_cmdlines(stop: threading.Event, seen: list[str]) -> None:
    """Record the command line of every process on the machine until `stop`."""
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                with contextlib.suppress(OSError):
                    seen.append(
                        Path(f"/proc/{pid}/cmdline")
                        .read_bytes()
                        .decode(errors="replace")
                        .replace("\0", " ")
                    )
        time.sleep(0.003)


async def test_token_never_in_argv_nor_logs(
    sim: GitHubSim,
    remote: GitRemote,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A `git` shim first on PATH records the argv and environment git is started with.
    real_git = shutil.which("git")
    assert real_git
    shim_dir, argv_log, env_log = tmp_path / "shim", tmp_path / "argv.log", tmp_path / "env.log"
    shim_dir.mkdir()
    (shim_dir / "git").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" >> {argv_log}\nenv >> {env_log}\nexec {real_git} "$@"\n'
    )
    (shim_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim_dir}:{os.environ['PATH']}")
    caplog.set_level(logging.DEBUG)

    stop = threading.Event()
    seen: list[str] = []
    watcher = threading.Thread(target=_watch_cmdlines, args=(stop, seen), daemon=True)
    watcher.start()
    try:
        work = await git.clone(remote, tmp_path / "work")
        await git.create_branch(work, "agentops/t")
        (work / "t.txt").write_text("t")
        await git.commit(work, "t", author=BOT, co_authors=[ALICE], paths=["t.txt"])
        await git.push(work, remote, "agentops/t")
        await git.fetch_more(work, remote, refs=["main"])
        # A failing command with git's own header tracing switched on still leaks nothing.
        with pytest.raises(git.GitError) as caught:
            await git.run_git(
                ["ls-remote", "--", f"{remote.url[:-4]}-missing.git"],
                remote=GitRemote(f"{remote.url[:-4]}-missing.git", remote.auth_header),
                extra_env={"GIT_TRACE_CURL": "1", "GIT_TRACE_REDACT": "0"},
            )
    finally:
        stop.set()
        watcher.join()

    secrets = secret_forms(sim)
    assert secrets and sim.branch_sha(REPO, "agentops/t")
    argv, env = argv_log.read_text(), env_log.read_text()
    assert "clone" in argv and "push" in argv
    assert any(s in env for s in secrets)  # it did travel, through the environment
    assert "GIT_CONFIG_COUNT=" in env and "GIT_TERMINAL_PROMPT=0" in env
    assert any("git-remote-http" in line or "http-backend" in line for line in seen)
    for secret in secrets:
        assert secret not in argv
        assert not any(secret in line for line in seen)
        assert secret not in caplog.text
        assert secret not in str(caught.value) and secret not in caught.value.stderr
    assert "[REDACTED]" in caught.value.stderr  # the trace did carry the header


async def test_timeout_kills_git(tmp_path: Path) -> None:
    work = tmp_path / "w"
    await git.run_git(["init", "-q", str(work)])
    (work / "a").write_text("a")
    await git.run_git(["add", "a"], cwd=work)
    started = time.monotonic()
    with pytest.raises(git.GitTimeout):
        await git.run_git(
            ["commit"],
            cwd=work,
            time_limit=0.3,
            extra_env={
                "GIT_EDITOR": "sleep 30; true",
                "GIT_AUTHOR_NAME": "a",
                "GIT_AUTHOR_EMAIL": "a@b",
                "GIT_COMMITTER_NAME": "a",
                "GIT_COMMITTER_EMAIL": "a@b",
            },
        )
    assert time.monotonic() - started < 5
    await asyncio.sleep(0)
