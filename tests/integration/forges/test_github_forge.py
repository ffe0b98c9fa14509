"""The real GitHubForge against the GitHub simulator on loopback."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.forges.base import (
    CheckAction,
    CheckUpdate,
    ForgeAccessError,
    ForgeError,
    ForgeRateLimited,
    ForgeTransientError,
    Target,
)
from app.forges.github.auth import GitHubApp
from app.forges.github.forge import GitHubForge
from app.forges.markers import unmarked
from app.forges.retry import RetryPolicy
from tests.sim.github import GitHubSim, generate_app_key
from tests.sim.serve import serve_app

REPO = "acme/app"
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.005)


@functools.cache
def app_key() -> tuple[str, str]:
    return generate_app_key()


def make_sim(root: Path, **kwargs: object) -> GitHubSim:
    private, public = app_key()
    sim = GitHubSim(root, private_key_pem=private, public_key_pem=public, **kwargs)  # type: ignore[arg-type]
    sim.add_repo(REPO, {"README.md": "hello\n", "src/app.py": "print('hi')\n"})
    return sim


@pytest.fixture
def sim(tmp_path: Path) -> GitHubSim:
    return make_sim(tmp_path)


@pytest.fixture
async def gh(sim: GitHubSim, base_url: str) -> AsyncIterator[GitHubApp]:
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=base_url, retry=FAST)
    yield app
    await app.aclose()


@pytest.fixture
def forge(gh: GitHubApp, sim: GitHubSim) -> GitHubForge:
    return gh.forge(sim.installation_id(REPO))


def token_requests(sim: GitHubSim) -> int:
    return sum(1 for r in sim.requests if r.path.endswith("/access_tokens"))


def calls(sim: GitHubSim, method: str, suffix: str) -> list[int]:
    return [r.status for r in sim.requests if r.method == method and r.path.endswith(suffix)]


# --- auth ----------------------------------------------------------------------------


async def test_get_app_with_jwt(gh: GitHubApp, sim: GitHubSim) -> None:
    assert (await gh.get_app())["slug"] == "agentops"
    assert await gh.installation_for_repo(REPO) == sim.installation_id(REPO)


async def test_wrong_private_key_is_a_clear_error(sim: GitHubSim, base_url: str) -> None:
    other_private, _ = generate_app_key()
    app = GitHubApp(sim.app_id, other_private, api_url=base_url, retry=FAST)
    with pytest.raises(ForgeError, match="JWT"):
        await app.forge(sim.installation_id(REPO)).get_repo(REPO)
    await app.aclose()


async def test_installation_token_is_cached(forge: GitHubForge, sim: GitHubSim) -> None:
    await forge.get_repo(REPO)
    await forge.get_issue(Target(REPO, "issue", sim.add_issue(REPO, "t")))
    assert token_requests(sim) == 1
    assert all(r.auth == "token" for r in sim.requests if "/repos/" in r.path)


async def test_token_refreshed_once_on_401(forge: GitHubForge, sim: GitHubSim) -> None:
    await forge.get_repo(REPO)
    sim.revoke_tokens()
    info = await forge.get_repo(REPO)
    assert info.default_branch == "main"
    assert token_requests(sim) == 2
    assert calls(sim, "GET", "/repos/acme/app") == [200, 401, 200]


async def test_persistent_401_raises(forge: GitHubForge, sim: GitHubSim) -> None:
    sim.fail_next(r"GET /repos/acme/app$", "unauthorized", count=5)
    with pytest.raises(ForgeError, match="credentials"):
        await forge.get_repo(REPO)
    assert calls(sim, "GET", "/repos/acme/app") == [401, 401]


async def test_token_near_expiry_is_refreshed(tmp_path: Path) -> None:
    sim = make_sim(tmp_path, token_ttl=120.0)  # inside the refresh margin: never fresh
    with serve_app(sim.app) as base:
        app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=base, retry=FAST)
        forge = app.forge(sim.installation_id(REPO))
        await forge.get_repo(REPO)
        await forge.get_repo(REPO)
        await app.aclose()
    assert token_requests(sim) == 2


async def test_suspended_installation(forge: GitHubForge, sim: GitHubSim) -> None:
    sim.suspend(sim.installation_id(REPO))
    with pytest.raises(ForgeAccessError, match="suspended"):
        await forge.get_repo(REPO)


async def test_unknown_installation(gh: GitHubApp) -> None:
    with pytest.raises(ForgeAccessError, match="not installed"):
        await gh.forge(999).get_repo(REPO)


# --- comments, reactions, reads ------------------------------------------------------


async def test_comment_create_update_list(forge: GitHubForge, sim: GitHubSim) -> None:
    number = sim.add_issue(REPO, "Add a flag", "please", user="alice")
    target = Target(REPO, "issue", number)
    comment = await forge.create_comment(target, "Working on it")
    assert comment.author == "agentops[bot]"
    updated = await forge.update_comment(target, comment.id, "Done")
    assert updated.body == "Done"
    stored = sim.comments(REPO, number)
    assert [c["body"] for c in stored] == ["Done"]
    assert [unmarked(e) for e in stored[0]["edits"]] == ["Working on it"]
    assert stored[0]["author_association"] == "NONE"
    assert [c.body for c in await forge.list_comments(target)] == ["Done"]


async def test_long_comment_is_cut_with_a_note(forge: GitHubForge, sim: GitHubSim) -> None:
    number = sim.add_issue(REPO, "t")
    target = Target(REPO, "issue", number)
    comment = await forge.create_comment(target, "x" * 70_000)
    await forge.update_comment(target, comment.id, "y" * 100_000)
    body = sim.comments(REPO, number)[0]["body"]
    assert len(body) == 65_536
    assert "truncated" in body[-100:]


async def test_list_comments_follows_pages(forge: GitHubForge, sim: GitHubSim) -> None:
    number = sim.add_issue(REPO, "t")
    for i in range(130):
        sim.add_comment(REPO, number, f"c{i}", user="bob", association="CONTRIBUTOR")
    comments = await forge.list_comments(Target(REPO, "issue", number))
    assert [c.body for c in comments] == [f"c{i}" for i in range(130)]
    assert comments[0].author == "bob"


async def test_reactions(forge: GitHubForge, sim: GitHubSim) -> None:
    number = sim.add_issue(REPO, "t")
    comment_id = sim.add_comment(REPO, number, "/agentops implement")
    target = Target(REPO, "issue", number)
    await forge.add_reaction(target, comment_id, "eyes")
    await forge.add_reaction(target, None, "rocket")
    assert sim.reactions(REPO, comment_id=comment_id) == ["eyes"]
    assert sim.reactions(REPO, number=number) == ["rocket"]


async def test_issue_and_repo_reads(forge: GitHubForge, sim: GitHubSim) -> None:
    number = sim.add_issue(REPO, "Bug", "it breaks", user="carol", labels=["agentops"])
    issue = await forge.get_issue(Target(REPO, "issue", number))
    assert (issue.title, issue.body, issue.author, issue.labels) == (
        "Bug",
        "it breaks",
        "carol",
        ("agentops",),
    )
    repo = await forge.get_repo(REPO)
    assert repo.private and repo.clone_url.endswith("/acme/app.git")


async def test_permission_check(forge: GitHubForge, sim: GitHubSim) -> None:
    for user, role in [
        ("w", "write"),
        ("m", "maintain"),
        ("a", "admin"),
        ("r", "read"),
        ("t", "triage"),
        ("n", "none"),
    ]:
        sim.set_permission(REPO, user, role)
    assert [await forge.has_write_access(REPO, u) for u in "wmartn"] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert await forge.has_write_access(REPO, "stranger") is False
    assert await forge.has_write_access(REPO, "acme") is True  # the owning account


async def test_permission_check_failing_raises(forge: GitHubForge, sim: GitHubSim) -> None:
    sim.set_permission(REPO, "w", "write")
    sim.fail_next(r"/permission$", "502", count=10)
    with pytest.raises(ForgeTransientError):
        await forge.has_write_access(REPO, "w")
    assert calls(sim, "GET", "/permission") == [502, 502, 502]


# --- faults --------------------------------------------------------------------------


async def test_5xx_retried_then_success(
    forge: GitHubForge, sim: GitHubSim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number = sim.add_issue(REPO, "t")
    sim.fail_next(r"POST .*/comments$", "500", count=2)
    await forge.create_comment(Target(REPO, "issue", number), "hi")
    assert calls(sim, "POST", "/comments") == [500, 500, 201]
    assert len(sim.comments(REPO, number)) == 1
    assert "retry" in caplog.text
    assert sim.tokens_issued and all(t not in caplog.text for t in sim.tokens_issued)


async def test_network_drop_retried(forge: GitHubForge, sim: GitHubSim) -> None:
    sim.fail_next(r"GET /repos/acme/app$", "drop", count=1)
    assert (await forge.get_repo(REPO)).repo == REPO
    assert len(calls(sim, "GET", "/repos/acme/app")) == 2


async def test_429_raises_rate_limited(forge: GitHubForge, sim: GitHubSim) -> None:
    sim.fail_next(r"GET /repos/acme/app$", "429", retry_after=7)
    with pytest.raises(ForgeRateLimited) as caught:
        await forge.get_repo(REPO)
    assert caught.value.retry_after == 7
    assert len(calls(sim, "GET", "/repos/acme/app")) == 1  # not retried here


@pytest.mark.parametrize("kind", ["secondary", "rate_limit"])
async def test_403_rate_limits(forge: GitHubForge, sim: GitHubSim, kind: str) -> None:
    sim.fail_next(r"GET /repos/acme/app$", kind, retry_after=30)
    with pytest.raises(ForgeRateLimited) as caught:
        await forge.get_repo(REPO)
    assert 1 <= caught.value.retry_after <= 31


async def test_403_not_accessible(forge: GitHubForge, sim: GitHubSim) -> None:
    sim.fail_next(r"check-runs$", "not_accessible")
    with pytest.raises(ForgeAccessError, match="may not do this in acme/app") as caught:
        await forge.start_check(REPO, "0" * 40, CheckUpdate("queued", "t", "s"))
    assert not isinstance(caught.value, ForgeTransientError)
    assert calls(sim, "POST", "/check-runs") == [403]


# --- check runs ----------------------------------------------------------------------


async def test_check_run_lifecycle(forge: GitHubForge, sim: GitHubSim) -> None:
    sha = sim.branch_sha(REPO, "main")
    assert sha
    buttons = (
        CheckAction("Retry", "retry", "Run again"),
        CheckAction("Cancel", "cancel", "Stop this run"),
        CheckAction("Details please, long!", "x" * 30, "d" * 50),
        CheckAction("Fourth", "fourth", "dropped"),
    )
    ref = await forge.start_check(
        REPO, sha, CheckUpdate("in_progress", "Planning", "step 1 of 5", actions=buttons)
    )
    assert ref.id is not None
    await forge.update_check(
        ref, CheckUpdate("in_progress", "Verifying", "é" * 40_000, text="ü" * 50_000)
    )
    await forge.update_check(
        ref, CheckUpdate("completed", "Done", "PR opened", conclusion="success")
    )
    [run] = sim.check_runs(REPO)
    history = run["history"]
    assert [h["status"] for h in history] == ["in_progress", "in_progress", "completed"]
    assert [a["identifier"] for a in history[0]["actions"]] == ["retry", "cancel", "x" * 20]
    summary, text = history[1]["output"]["summary"], history[1]["output"]["text"]
    assert len(summary.encode()) <= 65_535 and "truncated" in summary
    assert len(text.encode()) <= 65_535
    assert run["conclusion"] == "success" and run["output"]["title"] == "Done"
    assert run["head_sha"] == sha


# --- pull requests -------------------------------------------------------------------


async def test_open_pull_request_draft_and_reuse(forge: GitHubForge, sim: GitHubSim) -> None:
    sim.push_branch(REPO, "agentops/issue-1", {"src/app.py": "print('bye')\n", "NEW.md": "new\n"})
    pr = await forge.open_pull_request(REPO, "agentops/issue-1", "main", "Fix", "Body")
    assert pr.draft and pr.head_ref == "agentops/issue-1" and pr.base_ref == "main"
    assert pr.head_sha == sim.branch_sha(REPO, "agentops/issue-1")
    again = await forge.open_pull_request(REPO, "agentops/issue-1", "main", "Fix", "Body")
    assert again.target == pr.target
    assert len(sim.pulls(REPO)) == 1
    assert sim.pulls(REPO)[0]["user"]["login"] == "agentops[bot]"

    files = await forge.list_changed_files(pr.target)
    assert {(f.path, f.status) for f in files} == {("src/app.py", "modified"), ("NEW.md", "added")}
    assert "+print('bye')" in (next(f for f in files if f.path == "src/app.py").patch or "")
    diff = await forge.get_diff(pr.target)
    assert diff.startswith("diff --git") and "+new" in diff
    fetched = await forge.get_pull_request(pr.target)
    assert fetched.head_repo == REPO and not fetched.from_fork


async def test_pull_request_from_fork_label(forge: GitHubForge, sim: GitHubSim) -> None:
    sim.push_branch(REPO, "feature", {"a.txt": "a\n"})
    number = sim.add_pull(REPO, "feature", title="From a fork", head_repo="mallory/app")
    pr = await forge.get_pull_request(Target(REPO, "pull_request", number))
    assert pr.from_fork and pr.author == "alice"


# --- GitHub Enterprise Server layout -------------------------------------------------


async def test_ghes_api_prefix(tmp_path: Path) -> None:
    sim = make_sim(tmp_path, api_prefix="/api/v3")
    number = sim.add_issue(REPO, "t")
    with serve_app(sim.app) as base:
        app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=f"{base}/api/v3", retry=FAST)
        forge = app.forge(sim.installation_id(REPO))
        await forge.create_comment(Target(REPO, "issue", number), "hello")
        remote = await forge.git_remote(REPO)
        await app.aclose()
    assert remote.url == f"{base}/acme/app.git"
    assert all(r.path.startswith("/api/v3/") for r in sim.requests)
    assert len(sim.comments(REPO, number)) == 1


async def test_a_comment_is_read_back_by_its_id_on_its_issue(
    forge: GitHubForge, sim: GitHubSim
) -> None:
    number = sim.add_issue(REPO, "Read me", "", user="alice")
    other = sim.add_issue(REPO, "Elsewhere", "", user="alice")
    comment_id = sim.add_comment(REPO, number, "/agentops plan", user="alice")
    found = await forge.get_comment(Target(REPO, "issue", number), comment_id)
    assert found is not None and (found.id, found.author, found.body) == (
        comment_id,
        "alice",
        "/agentops plan",
    )
    # the id names a comment of another issue, or none at all: not this issue's comment
    assert await forge.get_comment(Target(REPO, "issue", other), comment_id) is None
    assert await forge.get_comment(Target(REPO, "issue", number), 999_999_999) is None


async def test_who_added_a_label_is_read_from_the_issue_events(
    forge: GitHubForge, sim: GitHubSim
) -> None:
    number = sim.add_issue(REPO, "Label me", "", user="alice", labels=["bug"])
    target = Target(REPO, "issue", number)
    assert await forge.label_added_by(target, "bug") == "alice"
    sim.webhook_labeled_event(REPO, number, "agentops", user="mallory")
    assert await forge.label_added_by(target, "AgentOps") == "mallory"
    assert await forge.label_added_by(target, "wontfix") is None
