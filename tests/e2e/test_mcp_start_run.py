"""`start_run` on a GitHub repository AgentOps has had no run on, through the real web
process and worker, the MCP SDK's client and the GitHub simulator: the App's installation
is asked of GitHub, the run is filed for it under the name GitHub spells, and the worker
checks the token's person's write access there as for a comment. What a hostile client
with an operator's token could try: a name that is not `owner/name` (a path, an escape, a
query) reaches no forge; a repository without the App, or GitHub failing, is a tool error
with the reason; a GitLab token does not act on a repository AgentOps knows from GitHub;
a reinstalled App's repository is reached through its new installation, never the old
tenant's."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import asyncpg
import pytest

from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET, forge_env
from tests.e2e.harness import RedisServer, Service, base_env, running, wait_for
from tests.e2e.test_mcp_http import ALICE_TOKEN, RITA_TOKEN, connected, data, text_of
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, text

pytestmark = pytest.mark.e2e
FRESH = "globex/Widgets"  # an installation AgentOps has never heard from
MOVED = "initech/tps"  # a comment's run first; then the App is reinstalled
GAIL_TOKEN = "gail-" + "c3" * 20  # a GitLab operator


@pytest.fixture(scope="module")
def sims(github: tuple[GitHubSim, str]) -> GitHubSim:
    gh, _ = github
    for name, account in ((FRESH, "globex"), (MOVED, "initech")):
        gh.add_repo(name, script.FILES, installation_id=gh.add_installation(account=account))
        gh.set_permission(name, "alice", "write")
        gh.set_permission(name, "rita", "read")
    return gh


@pytest.fixture(scope="module")
def service(
    e2e_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    gitlab: tuple[GitLabSim, str],
    llm: tuple[LLMSimulator, str],
    sims: GitHubSim,
    workdir: Path,
) -> Iterator[Service]:
    env = base_env(e2e_database_url, redis_server.url, workdir)
    env |= forge_env(*github, *gitlab) | script.llm_env(llm[1])
    settings = {
        "AGENTOPS_OPERATOR_LOGINS": "github:alice,github:rita,gitlab:gail",
        "AGENTOPS_MCP_TOKENS": (
            f"github:alice={ALICE_TOKEN},github:rita={RITA_TOKEN},gitlab:gail={GAIL_TOKEN}"
        ),
    }
    with running(env, workdir, settings) as svc:
        yield svc


async def tenant_of(database_url: str, tenant_id: int) -> tuple[str, str, str]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT forge, external_key, account FROM tenants WHERE id = $1", tenant_id
        )
    finally:
        await conn.close()
    assert row is not None
    return str(row["forge"]), str(row["external_key"]), str(row["account"])


def installation_calls(gh: GitHubSim) -> list[str]:
    return [r.path for r in gh.requests if r.path.endswith("/installation")]


async def test_a_repository_with_the_app_and_no_run_yet(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str], e2e_database_url: str
) -> None:
    llm[0].script(script.PLANNER, text("**Change**\n1. `calc.py`: refuse zero."))
    number = sims.add_issue(FRESH, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    asked = {"repository": "GLOBEX/widgets", "target_kind": "issue", "number": number}
    async with connected(service, ALICE_TOKEN) as alice:
        filed = data(await alice.call_tool("start_run", asked | {"command": "plan"}))
    assert filed["requested_by"] == "alice"
    run = wait_for(lambda: service.finished(filed["run_id"]), 60, what="alice's run to end")
    assert run["status"] == "succeeded", service.logs()[-4000:]
    # filed as a comment there would be: GitHub's spelling, its installation, its tenant
    assert (run["repo"], run["trigger"], run["requested_by"]) == (FRESH, "web", "alice")
    installation = sims.installation_id(FRESH)
    assert run["context"]["installation_id"] == installation
    assert run["context"]["repo_id"] == sims._repo(FRESH).id
    tenant = await tenant_of(e2e_database_url, run["tenant_id"])
    assert tenant == ("github", str(installation), "globex")
    paths = [r.path for r in sims.requests]
    assert f"/repos/{FRESH}/collaborators/alice/permission" in paths  # the worker's check
    assert any(c["user"]["login"] == sims.bot_login for c in sims.comments(FRESH, number))

    # rita reads the repository but cannot write: filed, and refused by the worker alone
    async with connected(service, RITA_TOKEN) as rita:
        hers = data(await rita.call_tool("start_run", asked | {"command": "plan"}))
    refused = wait_for(lambda: service.finished(hers["run_id"]), 60, what="rita's run to end")
    assert refused["status"] == "failed" and "no write access" in (refused["error"] or "")
    assert refused["context"]["installation_id"] == installation


async def test_where_the_app_is_not_installed_github_fails_or_the_name_is_no_name(
    service: Service, sims: GitHubSim
) -> None:
    asked = {"target_kind": "issue", "number": 1, "command": "plan"}
    async with connected(service, ALICE_TOKEN) as alice:
        missing = await alice.call_tool("start_run", asked | {"repository": "globex/nowhere"})
        assert missing.is_error, text_of(missing)
        assert "not installed on globex/nowhere" in text_of(missing)
        sims.fail_next(r"GET /repos/globex/down/installation", "503", count=3)
        down = await alice.call_tool("start_run", asked | {"repository": "globex/down"})
        assert down.is_error, text_of(down)
        assert "GitHub could not be asked about globex/down" in text_of(down)
        assert "HTTP 503" in text_of(down)
        asked_before = installation_calls(sims)
        hostile = [
            "globex",
            "globex/Widgets/issues",
            "globex/..",
            "../globex/Widgets",
            "globex/%2e%2e",
            "globex%2FWidgets/x",
            "globex/Widgets?per_page=1",
            "globex/Widgets#x",
            "globex//Widgets",
            "glo bex/Widgets",
            ".globex/Widgets",
            "globex/" + "w" * 101,
            "acme/ﬁle",  # a letter GitHub does not allow, however it folds
        ]
        for name in hostile:
            answer = await alice.call_tool("start_run", asked | {"repository": name})
            assert answer.is_error, (name, text_of(answer))
            assert "owner/name" in text_of(answer), (name, text_of(answer))
        too_big = await alice.call_tool(
            "start_run", asked | {"repository": FRESH} | {"number": 2**31}
        )
        assert too_big.is_error and "number must be" in text_of(too_big)
    # none of them was asked of GitHub, nor went into any URL
    assert installation_calls(sims) == asked_before
    assert not [r.path for r in sims.requests if "%" in r.path or ".." in r.path]


async def test_a_gitlab_token_does_not_act_on_a_github_repository(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    llm[0].script(script.PLANNER, text("**Change**\n1. `calc.py`: refuse zero."))
    number = sims.add_issue(MOVED, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    run_id = script.comment_command(service, sims, MOVED, number, "/agentops plan")
    wait_for(lambda: service.finished(run_id), 60, what="the comment's run to end")
    asked = {"repository": MOVED, "target_kind": "issue", "number": number, "command": "plan"}
    async with connected(service, GAIL_TOKEN) as gail:
        refused = await gail.call_tool("start_run", asked)
    assert refused.is_error and "through its hook first" in text_of(refused), text_of(refused)


async def test_a_reinstalled_app_is_reached_through_its_new_installation(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    llm[0].script(script.PLANNER, text("**Change**\n1. `calc.py`: refuse zero."))
    number = sims.add_issue(MOVED, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    old = sims.installation_id(MOVED)
    run_id = script.comment_command(service, sims, MOVED, number, "/agentops plan")
    wait_for(lambda: service.finished(run_id), 60, what="the comment's run to end")
    gone = sims.webhook_installation_event(old, action="deleted")
    assert service.post_github("installation", gone, GITHUB_SECRET).status_code < 300
    new = sims.reinstall(old)
    asked = {"repository": MOVED, "target_kind": "issue", "number": number, "command": "plan"}
    async with connected(service, ALICE_TOKEN) as alice:
        filed = data(await alice.call_tool("start_run", asked))
    run = wait_for(lambda: service.finished(filed["run_id"]), 60, what="alice's run to end")
    assert run["status"] == "succeeded", service.logs()[-4000:]
    assert run["context"]["installation_id"] == new != old


async def runs_on(database_url: str, repo: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM runs WHERE repo = $1", repo))
    finally:
        await conn.close()


async def test_a_number_is_looked_up_and_a_command_for_the_other_kind_refused(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str], e2e_database_url: str
) -> None:
    """Attack: a client (or a model steering one) names a pull request as an issue, so that
    `implement` reads the pull request's text as a task and opens a second pull request
    from it, or asks `review` of an issue; a number GitHub has not at all. The forge is
    asked what the number is; the mismatch is refused naming what to use, nothing filed."""
    issue = sims.add_issue(FRESH, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    pull = sims.add_pull(FRESH, head="feature", title="Refuse zero", user="alice")
    filed_before = await runs_on(e2e_database_url, FRESH)
    replies_before = len(llm[0].requests)
    refusals = [
        # (target_kind, number, command): what the answer must say
        (("issue", pull, "implement"), [f"pull request #{pull} of {FRESH} on GitHub is a pull"]),
        (("pull_request", pull, "implement"), ["`implement` works on an issue", "review"]),
        (("issue", pull, "plan"), ["on it use test, review, fix", "give the number of an issue"]),
        (("pull_request", issue, "review"), ["`review` works on a pull request", "implement"]),
        (("pull_request", issue, "fix make it faster"), ["on it use implement, plan"]),
        (("issue", issue + 1000, "implement"), [f"has no issue or pull request #{issue + 1000}"]),
        (
            ("issue", pull, "status"),
            [f"#{pull}", "is a pull request, not an issue", "pull_request"],
        ),
        (("pull_request", issue, "status"), ["is an issue, not a pull request", "issue"]),
    ]
    async with connected(service, ALICE_TOKEN) as alice:
        for (kind, number, command), reasons in refusals:
            asked = {"repository": FRESH, "target_kind": kind, "number": number}
            answer = await alice.call_tool("start_run", asked | {"command": command})
            said = text_of(answer)
            assert answer.is_error, (kind, number, command, said)
            assert all(r in said for r in reasons), (kind, number, command, said)
        assert await runs_on(e2e_database_url, FRESH) == filed_before
        assert len(llm[0].requests) == replies_before

        # the kinds as they are: filed (`status`, a control command, works on both)
        for kind, number in (("pull_request", pull), ("issue", issue)):
            asked = {"repository": FRESH, "target_kind": kind, "number": number}
            filed = data(await alice.call_tool("start_run", asked | {"command": "status"}))
            run = wait_for(partial(service.finished, filed["run_id"]), 60, what="the status run")
            assert run["status"] == "succeeded", service.logs()[-4000:]
            assert (run["target_kind"], run["target_number"]) == (kind, number)
    looked_up = [r.path for r in sims.requests if r.path.startswith(f"/repos/{FRESH}/issues/")]
    assert f"/repos/{FRESH}/issues/{pull}" in looked_up
