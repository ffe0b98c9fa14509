"""The GitHub simulator itself: webhook payloads the real handlers accept, mounting."""

from __future__ import annotations

import functools
from pathlib import Path

import httpx
from gidgethub import sansio
from starlette.applications import Starlette
from starlette.routing import Mount

from app.events import RunRequest, TenantChange
from app.forges.base import CheckAction, CheckUpdate, Target
from app.forges.github.auth import GitHubApp
from app.forges.retry import RetryPolicy
from app.git import clone
from handlers.github import GitHubContext, interpret
from tests.sim.github import GitHubSim, generate_app_key
from tests.sim.serve import serve_app

REPO = "acme/app"
SECRET = "webhook-secret-for-tests"


@functools.cache
def app_key() -> tuple[str, str]:
    return generate_app_key()


def make_sim(root: Path) -> GitHubSim:
    private, public = app_key()
    sim = GitHubSim(root, private_key_pem=private, public_key_pem=public)
    sim.add_repo(REPO, {"README.md": "hello\n"})
    return sim


def receive(sim: GitHubSim, event: str, payload: dict[str, object]) -> object:
    body, headers = sim.webhook_request(event, payload, SECRET)
    lowered = {k.lower(): v for k, v in headers.items()}
    parsed = sansio.Event.from_http(lowered, body, secret=SECRET)
    ctx = GitHubContext(
        app_id=sim.app_id, bot_login=sim.bot_login, labels={"agentops": "implement"}
    )
    return interpret(parsed, ctx)


async def test_webhook_payloads_are_understood(tmp_path: Path) -> None:
    sim = make_sim(tmp_path)
    number = sim.add_issue(REPO, "Add a flag", "please")
    with sim.serve() as base:
        outcome = receive(
            sim,
            "issue_comment",
            sim.webhook_issue_comment_event(REPO, number, "/agentops implement", user="alice"),
        )
        assert isinstance(outcome, RunRequest)
        assert (outcome.repo, outcome.target_number, outcome.requested_by) == (
            REPO,
            number,
            "alice",
        )
        assert outcome.context["installation_id"] == sim.installation_id(REPO)
        assert sim.comments(REPO, number)[0]["body"] == "/agentops implement"

        event, payload = sim.webhook_labeled_event(REPO, number, "agentops")
        assert event == "issues" and isinstance(receive(sim, event, payload), RunRequest)
        assert sim.issue(REPO, number)["labels"] == ["agentops"]

        app = GitHubApp(
            sim.app_id, sim.private_key_pem, api_url=base, retry=RetryPolicy(2, 0.001, 0.001)
        )
        forge = app.forge(sim.installation_id(REPO))
        ref = await forge.start_check(
            REPO,
            sim.branch_sha(REPO, "main") or "",
            CheckUpdate(
                "in_progress",
                "Working",
                "…",
                actions=(CheckAction("Cancel", "cancel", "Stop"),),
                external_id="17",
            ),
        )
        await app.aclose()
        assert ref.id is not None
        outcome = receive(sim, "check_run", sim.webhook_check_run_event(REPO, ref.id, "cancel"))
        assert isinstance(outcome, RunRequest) and outcome.refers_to_run == 17

        env = sim.service_env(SECRET)
        assert env["AGENTOPS_GITHUB_API_URL"] == base
        assert env["AGENTOPS_GITHUB_PRIVATE_KEY"] == sim.private_key_pem

        outcome = receive(
            sim, "installation", sim.webhook_installation_event(sim.installation_id(REPO))
        )
        assert isinstance(outcome, TenantChange) and outcome.action == "created"


async def test_mounted_under_a_path_prefix(tmp_path: Path) -> None:
    sim = make_sim(tmp_path)
    number = sim.add_issue(REPO, "t")
    outer = Starlette(routes=[Mount("/github", app=sim.app)])
    with serve_app(outer) as base:
        app = GitHubApp(
            sim.app_id,
            sim.private_key_pem,
            api_url=f"{base}/github",
            retry=RetryPolicy(2, 0.001, 0.001),
        )
        forge = app.forge(sim.installation_id(REPO))
        comment = await forge.create_comment(Target(REPO, "issue", number), "hi")
        remote = await forge.git_remote(REPO)
        work = await clone(remote, tmp_path / "work")
        await app.aclose()
        async with httpx.AsyncClient() as client:
            anonymous = await client.get(
                f"{base}/github/acme/app.git/info/refs", params={"service": "git-upload-pack"}
            )
    assert remote.url == f"{base}/github/acme/app.git"
    assert comment.url.startswith(f"{base}/github/acme/app/issues/")
    assert (work / "README.md").read_text() == "hello\n"
    assert anonymous.status_code == 401
