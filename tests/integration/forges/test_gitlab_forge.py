"""GitLabForge against the GitLab simulator on loopback: real HTTP, real python-gitlab."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from unidiff.patch import PatchSet

from app.config import Settings
from app.forges.base import (
    CheckUpdate,
    ForgeAccessError,
    ForgeError,
    ForgeRateLimited,
    ForgeTransientError,
    Target,
)
from app.forges.gitlab.forge import GitLabForge
from app.forges.gitlab.format import CHECK_MARKER, NOTE_LIMIT
from app.forges.markers import unmarked
from app.forges.retry import RetryPolicy
from tests.sim.gitlab import GitLabSim
from tests.sim.serve import SwitchableApp

REPO = "group/sub/app"
FILES = {"README.md": "# app\n", "app.py": "def add(a, b):\n    return a + b\n"}
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)


@pytest.fixture
def sim(server: tuple[SwitchableApp, str], tmp_path: Path) -> GitLabSim:
    switch, base = server
    sim = GitLabSim(tmp_path)
    sim.base_url = base
    switch.current = sim.app
    for name in ("alice", "rita", "olga"):
        sim.add_user(name)
    sim.add_project(REPO, FILES)
    sim.set_access(REPO, "alice", 30)
    sim.set_access(REPO, "rita", 20)
    sim.add_issue(
        REPO, "Add subtraction", "Please add sub()", author="alice", labels=["agentops", "bug"]
    )
    return sim


def make_forge(sim: GitLabSim, timeout: float = 5.0) -> GitLabForge:
    settings = Settings(
        gitlab_url=sim.base_url,
        gitlab_token=SecretStr(sim.bot_token),
        gitlab_webhook_secret=SecretStr("hook-secret"),
        gitlab_bot_username="agentops-bot",
        forge_timeout_seconds=timeout,
    )
    return GitLabForge(settings, retry=FAST)


@pytest.fixture
async def forge(sim: GitLabSim) -> AsyncIterator[GitLabForge]:
    forge = make_forge(sim)
    yield forge
    await forge.aclose()


ISSUE = Target(repo=REPO, kind="issue", number=1)


def api_calls(sim: GitLabSim, method: str, suffix: str) -> list[Any]:
    return [r for r in sim.requests if r.method == method and r.path.endswith(suffix)]


# ------------------------------------------------------------------ notes and emoji
async def test_comment_create_update_list(forge: GitLabForge, sim: GitLabSim) -> None:
    comment = await forge.create_comment(ISSUE, "Working on it")
    assert comment.author == "agentops-bot"
    assert comment.url == f"{sim.base_url}/{REPO}/-/issues/1#note_{comment.id}"
    edited = await forge.update_comment(ISSUE, comment.id, "Done")
    assert edited.id == comment.id and edited.body == "Done"
    notes = sim.notes(REPO, "issue", 1)
    assert [n["body"] for n in notes] == ["Done"]
    sim.add_note(REPO, "issue", 1, "thanks!", author="alice")
    listed = await forge.list_comments(ISSUE)
    assert [(c.author, c.body) for c in listed] == [("agentops-bot", "Done"), ("alice", "thanks!")]


async def test_every_call_is_counted_by_family_and_status_class(forge: GitLabForge) -> None:
    def calls(method: str, status: str) -> float:
        labels = {"forge": "gitlab", "method": method, "endpoint": "issues", "status": status}
        return REGISTRY.get_sample_value("agentops_forge_calls_total", labels) or 0.0

    before = (calls("write", "2xx"), calls("read", "2xx"), calls("write", "4xx"))
    await forge.create_comment(ISSUE, "Working on it")
    await forge.list_comments(ISSUE)
    with pytest.raises(ForgeError):
        await forge.update_comment(ISSUE, 999_999, "no such note")
    after = (calls("write", "2xx"), calls("read", "2xx"), calls("write", "4xx"))
    assert after[0] == before[0] + 1 and after[1] > before[1] and after[2] == before[2] + 1


async def test_long_comment_is_cut_with_a_note(forge: GitLabForge, sim: GitLabSim) -> None:
    comment = await forge.create_comment(ISSUE, "x" * (NOTE_LIMIT + 5000))
    stored = sim.notes(REPO, "issue", 1)[0]["body"]
    assert len(stored) == NOTE_LIMIT and "truncated" in stored[-200:]
    await forge.update_comment(ISSUE, comment.id, "y" * (NOTE_LIMIT * 2))
    assert len(sim.notes(REPO, "issue", 1)[0]["body"]) == NOTE_LIMIT


async def test_award_emoji_on_issue_and_note(forge: GitLabForge, sim: GitLabSim) -> None:
    note = sim.add_note(REPO, "issue", 1, "/agentops implement", author="alice")
    await forge.add_reaction(ISSUE, None, "eyes")
    await forge.add_reaction(ISSUE, note["id"], "+1")
    await forge.add_reaction(ISSUE, note["id"], "+1")  # already awarded: fine
    assert [e["name"] for e in sim.award_emoji(REPO, "issue", 1)] == ["eyes"]
    on_note = sim.award_emoji(REPO, "issue", 1, note_id=note["id"])
    assert [(e["name"], e["user"]["username"]) for e in on_note] == [("thumbsup", "agentops-bot")]


# ------------------------------------------------------------------ issues, repo
async def test_get_issue_and_repo(forge: GitLabForge, sim: GitLabSim) -> None:
    issue = await forge.get_issue(ISSUE)
    assert (issue.title, issue.body, issue.author, issue.state) == (
        "Add subtraction",
        "Please add sub()",
        "alice",
        "open",
    )
    assert issue.labels == ("agentops", "bug")
    assert issue.url == f"{sim.base_url}/{REPO}/-/issues/1"
    info = await forge.get_repo(REPO)
    assert (info.repo, info.default_branch, info.private) == (REPO, "main", True)
    assert info.clone_url == f"{sim.base_url}/{REPO}.git"


async def test_missing_issue_is_a_clear_error(forge: GitLabForge) -> None:
    with pytest.raises(ForgeError, match=r"group/sub/app#99.*404"):
        await forge.get_issue(Target(REPO, "issue", 99))


# ------------------------------------------------------------------ merge requests
async def test_open_merge_request_as_draft_then_find_it(forge: GitLabForge, sim: GitLabSim) -> None:
    head = sim.push_files(
        REPO,
        "agentops/issue-1",
        {
            "app.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
            "tests/test_app.py": "from app import sub\n\n\ndef test_sub():\n"
            "    assert sub(3, 1) == 2\n",
        },
    )
    pr = await forge.open_pull_request(
        REPO, "agentops/issue-1", "main", "Add sub()", "Closes #1", draft=True
    )
    assert pr.title == "Draft: Add sub()" and pr.draft
    assert (pr.head_ref, pr.head_sha, pr.base_ref) == ("agentops/issue-1", head, "main")
    assert pr.base_sha == sim.head_sha(REPO) and pr.state == "open"
    assert pr.head_repo == REPO and not pr.from_fork
    again = await forge.open_pull_request(
        REPO, "agentops/issue-1", "main", "Add sub()", "Closes #1", draft=True
    )
    assert again.target == pr.target
    assert len(sim.merge_requests(REPO)) == 1
    fetched = await forge.get_pull_request(pr.target)
    assert fetched == pr


async def test_merge_request_race_returns_the_existing_one(
    forge: GitLabForge, sim: GitLabSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.push_files(REPO, "feature", {"new.txt": "new\n"})
    sim.add_merge_request(REPO, "feature", "main", "Someone else's")
    lookups = 0
    find = forge.find_open_pull_request

    async def miss_first_lookup(repo: str, head: str) -> Any:
        nonlocal lookups
        lookups += 1
        return None if lookups == 1 else await find(repo, head)

    monkeypatch.setattr(forge, "find_open_pull_request", miss_first_lookup)
    pr = await forge.open_pull_request(REPO, "feature", "main", "Mine", "", draft=False)
    assert pr.title == "Someone else's" and lookups == 2
    assert [r.status for r in api_calls(sim, "POST", "/merge_requests")] == [409]


async def test_merge_request_from_a_fork(forge: GitLabForge, sim: GitLabSim) -> None:
    sim.add_project("alice/app", FILES, visibility="public", bot_access=None)
    head = sim.push_files("alice/app", "fix", {"app.py": "def add(a, b):\n    return 0\n"})
    mr = sim.add_merge_request(
        REPO, "fix", "main", "Fix", author="alice", source_project="alice/app"
    )
    pr = await forge.get_pull_request(Target(REPO, "pull_request", mr["iid"]))
    assert pr.head_repo == "alice/app" and pr.from_fork and pr.head_sha == head
    files = await forge.list_changed_files(pr.target)
    assert [(f.path, f.status) for f in files] == [("app.py", "modified")]


async def test_merge_request_changes_and_diff(forge: GitLabForge, sim: GitLabSim) -> None:
    sim.push_files(
        REPO, "change", {"app.py": "def add(a, b):\n    return b + a\n", "docs/new.md": "hello\n"}
    )
    mr = sim.add_merge_request(REPO, "change", "main", "Change")
    target = Target(REPO, "pull_request", mr["iid"])
    files = {f.path: f for f in await forge.list_changed_files(target)}
    assert {p: f.status for p, f in files.items()} == {"app.py": "modified", "docs/new.md": "added"}
    assert files["app.py"].patch and "+    return b + a" in files["app.py"].patch
    diff = await forge.get_diff(target)
    patch = PatchSet(diff)
    assert sorted(p.path for p in patch) == ["app.py", "docs/new.md"]
    assert [p.is_added_file for p in sorted(patch, key=lambda p: p.path)] == [False, True]


# ------------------------------------------------------------------ progress display
async def test_commit_status_and_single_note_in_place(forge: GitLabForge, sim: GitLabSim) -> None:
    sha = sim.head_sha(REPO)
    assert sha
    ref = await forge.start_check(
        REPO, sha, CheckUpdate("queued", "Queued", "Waiting"), target=ISSUE
    )
    assert ref.id is not None and ref.name == "AgentOps"
    assert [s["status"] for s in sim.statuses(REPO, sha)] == ["pending"]
    ref = await forge.update_check(ref, CheckUpdate("in_progress", "Planning", "Reading"))
    # Same state twice: GitLab answers 400 "Cannot transition status"; that is success.
    ref = await forge.update_check(
        ref,
        CheckUpdate("in_progress", "Implementing", "Writing", details_url="http://x.invalid/run/1"),
    )
    assert any(r.status == 400 for r in api_calls(sim, "POST", sha))
    ref = await forge.update_check(
        ref, CheckUpdate("completed", "Done", "MR !1 opened", conclusion="success")
    )
    statuses = sim.statuses(REPO, sha)
    assert [(s["name"], s["status"]) for s in statuses] == [("AgentOps", "success")]
    assert statuses[0]["description"] == "Done"
    notes = sim.notes(REPO, "issue", 1)
    assert len(notes) == 1 and notes[0]["id"] == ref.id
    assert "Done" in notes[0]["body"] and "MR !1 opened" in notes[0]["body"]
    assert CHECK_MARKER in notes[0]["body"]


async def test_failed_and_cancelled_checks(forge: GitLabForge, sim: GitLabSim) -> None:
    sha = sim.head_sha(REPO)
    assert sha
    ref = await forge.start_check(REPO, sha, CheckUpdate("in_progress", "Working", ""))
    assert ref.id is None
    await forge.update_check(
        ref, CheckUpdate("completed", "Tests failed", "2 failing", conclusion="failure")
    )
    ref = await forge.start_check(REPO, sha, CheckUpdate("queued", "Again", ""))
    await forge.update_check(ref, CheckUpdate("completed", "Stopped", "", conclusion="cancelled"))
    assert [s["status"] for s in sim.statuses(REPO, sha)] == ["failed", "canceled"]


async def test_deleted_progress_note_is_posted_again(forge: GitLabForge, sim: GitLabSim) -> None:
    sha = sim.head_sha(REPO)
    assert sha
    ref = await forge.start_check(REPO, sha, CheckUpdate("queued", "Queued", ""), target=ISSUE)
    sim.delete_note(REPO, "issue", 1, ref.id or 0)
    ref2 = await forge.update_check(ref, CheckUpdate("in_progress", "Working", ""))
    assert ref2.id not in (None, ref.id)
    assert [n["id"] for n in sim.notes(REPO, "issue", 1)] == [ref2.id]


# ------------------------------------------------------------------ access
async def test_write_access_by_role(forge: GitLabForge, sim: GitLabSim) -> None:
    assert await forge.has_write_access(REPO, "alice") is True  # Developer
    assert await forge.has_write_access(REPO, "rita") is False  # Reporter
    assert await forge.has_write_access(REPO, "olga") is False  # not a member
    assert await forge.has_write_access(REPO, "nobody-at-all") is False
    sim.set_access(REPO, "olga", 40)
    assert await forge.has_write_access(REPO, "OLGA") is True


async def test_write_access_check_failing_raises(forge: GitLabForge, sim: GitLabSim) -> None:
    sim.fail("GET", r"/members/all$", status=500, times=10)
    with pytest.raises(ForgeTransientError):
        await forge.has_write_access(REPO, "alice")
    assert len(api_calls(sim, "GET", "/members/all")) == FAST.attempts
    sim.clear_faults()
    sim.fail("GET", r"/members/all$", status=403)
    with pytest.raises(ForgeAccessError):
        await forge.has_write_access(REPO, "alice")


# ------------------------------------------------------------------ faults
async def test_server_errors_are_retried_then_succeed(forge: GitLabForge, sim: GitLabSim) -> None:
    sim.fail("POST", r"/issues/1/notes$", status=502, times=2)
    comment = await forge.create_comment(ISSUE, "hello")
    assert unmarked(comment.body) == "hello"
    assert [r.status for r in api_calls(sim, "POST", "/issues/1/notes")] == [502, 502, 201]


async def test_rate_limit_raises_with_retry_after_and_does_not_sleep(
    forge: GitLabForge, sim: GitLabSim
) -> None:
    sim.fail("GET", r"/issues/1$", status=429, retry_after=120)
    started = time.monotonic()
    with pytest.raises(ForgeRateLimited) as caught:
        await forge.get_issue(ISSUE)
    assert time.monotonic() - started < 2
    assert caught.value.retry_after == 120
    assert len(api_calls(sim, "GET", "/issues/1")) == 1


async def test_rate_limit_reset_header(forge: GitLabForge, sim: GitLabSim) -> None:
    reset = int(time.time()) + 45
    sim.fail(
        "GET", r"/issues/1$", status=429, headers={"Retry-After": "", "RateLimit-Reset": str(reset)}
    )
    with pytest.raises(ForgeRateLimited) as caught:
        await forge.get_issue(ISSUE)
    assert 40 <= caught.value.retry_after <= 46


async def test_forbidden_is_an_access_error_not_retried(forge: GitLabForge, sim: GitLabSim) -> None:
    sim.fail(
        "POST", r"/notes$", status=403, times=5, message=f"403 Forbidden for token {sim.bot_token}"
    )
    with pytest.raises(ForgeAccessError) as caught:
        await forge.create_comment(ISSUE, "hi")
    text = str(caught.value)
    assert "Developer" in text and "group/sub/app#1" in text
    assert sim.bot_token not in text
    assert len(api_calls(sim, "POST", "/notes")) == 1


async def test_other_client_errors_are_clear(forge: GitLabForge, sim: GitLabSim) -> None:
    sim.fail("POST", r"/notes$", status=422, message=f"bad {sim.bot_token}")
    with pytest.raises(ForgeError) as caught:
        await forge.create_comment(ISSUE, "hi")
    assert not isinstance(caught.value, ForgeTransientError)
    assert "422" in str(caught.value) and sim.bot_token not in str(caught.value)


async def test_bad_token_is_an_access_error(sim: GitLabSim) -> None:
    settings = Settings(
        gitlab_url=sim.base_url,
        gitlab_token=SecretStr("glpat-wrongwrongwrong12345"),
        gitlab_webhook_secret=SecretStr("s"),
    )
    forge = GitLabForge(settings, retry=FAST)
    with pytest.raises(ForgeAccessError, match="401") as caught:
        await forge.get_repo(REPO)
    assert "wrongwrong" not in str(caught.value)
    await forge.aclose()


async def test_hung_server_gives_a_transient_error_within_the_timeout(sim: GitLabSim) -> None:
    forge = make_forge(sim, timeout=0.5)
    sim.delay("GET", r"/issues/1$", seconds=2.0, times=5)
    started = time.monotonic()
    with pytest.raises(ForgeTransientError, match=r"did not answer within 0\.5s"):
        await forge.get_issue(ISSUE)
    assert time.monotonic() - started < 1.0
    await forge.aclose()


async def test_unreachable_gitlab_is_transient() -> None:
    settings = Settings(
        gitlab_url="http://127.0.0.1:9",
        gitlab_token=SecretStr("t0ken-xyz"),
        gitlab_webhook_secret=SecretStr("s"),
        forge_timeout_seconds=3,
    )
    forge = GitLabForge(settings, retry=FAST)
    with pytest.raises(ForgeTransientError, match="Could not reach GitLab"):
        await forge.get_repo(REPO)
    await forge.aclose()


# ------------------------------------------------------------------ git
def _git(
    *args: str, cwd: Path | None = None, header: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    if header:
        env.update(
            GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="http.extraHeader", GIT_CONFIG_VALUE_0=header
        )
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30
    )


async def test_git_remote_clones_and_pushes(
    forge: GitLabForge, sim: GitLabSim, tmp_path: Path
) -> None:
    remote = await forge.git_remote(REPO)
    assert remote.url == f"{sim.base_url}/{REPO}.git"
    assert sim.bot_token not in remote.url and "@" not in remote.url
    assert remote.auth_header.startswith("Authorization: Basic ")
    assert sim.bot_token not in repr(remote)
    assert remote.default_branch == "main"

    denied = _git("clone", "-q", remote.url, str(tmp_path / "denied"))
    assert denied.returncode != 0

    work = tmp_path / "clone"
    done = _git("clone", "-q", remote.url, str(work), header=remote.auth_header)
    assert done.returncode == 0, done.stderr
    assert (work / "app.py").read_text() == FILES["app.py"]

    (work / "NEW.md").write_text("pushed\n")
    assert _git("checkout", "-q", "-b", "pushed", cwd=work).returncode == 0
    assert _git("add", "-A", cwd=work).returncode == 0
    assert _git("commit", "-q", "-m", "push test", cwd=work).returncode == 0
    pushed = _git("push", "-q", "origin", "pushed", cwd=work, header=remote.auth_header)
    assert pushed.returncode == 0, pushed.stderr
    assert sim.head_sha(REPO, "pushed")


async def test_git_push_needs_developer(forge: GitLabForge, sim: GitLabSim, tmp_path: Path) -> None:
    remote = await forge.git_remote(REPO)
    work = tmp_path / "clone"
    assert _git("clone", "-q", remote.url, str(work), header=remote.auth_header).returncode == 0
    sim.set_access(REPO, "agentops-bot", 20)
    (work / "x").write_text("x\n")
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "x", cwd=work)
    pushed = _git("push", "-q", "origin", "HEAD:refs/heads/x", cwd=work, header=remote.auth_header)
    assert pushed.returncode != 0


async def test_a_note_is_read_back_by_its_id_on_its_issue(
    forge: GitLabForge, sim: GitLabSim
) -> None:
    note = sim.add_note(REPO, "issue", 1, "/agentops plan", author="alice")
    found = await forge.get_comment(ISSUE, int(note["id"]))
    assert found is not None and (found.id, found.author, found.body) == (
        note["id"],
        "alice",
        "/agentops plan",
    )
    other = sim.add_issue(REPO, "Elsewhere", author="alice")["iid"]
    assert await forge.get_comment(Target(REPO, "issue", other), int(note["id"])) is None
    sim.delete_note(REPO, "issue", 1, int(note["id"]))
    assert await forge.get_comment(ISSUE, int(note["id"])) is None
    # read by its id, on its issue
    assert api_calls(sim, "GET", f"/issues/1/notes/{note['id']}")


async def test_who_added_a_label_is_read_from_the_label_events(
    forge: GitLabForge, sim: GitLabSim
) -> None:
    # the fixture's issue was opened by alice with `agentops` and `bug`
    assert await forge.label_added_by(ISSUE, "AgentOps") == "alice"
    sim.webhook_issue_event(
        REPO, 1, "rita", labels_previous=["agentops", "bug"], labels_current=["bug"]
    )
    sim.webhook_issue_event(
        REPO, 1, "rita", labels_previous=["bug"], labels_current=["bug", "agentops"]
    )
    assert await forge.label_added_by(ISSUE, "agentops") == "rita"  # the last addition
    assert await forge.label_added_by(ISSUE, "wontfix") is None
    assert api_calls(sim, "GET", "/issues/1/resource_label_events")
