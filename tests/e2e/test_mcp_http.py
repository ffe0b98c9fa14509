"""`/mcp` in the real web process (with its worker and the simulators), driven by the MCP
SDK's own client over streamable HTTP: never open; the admin token reads every run and
acts on none; an operator's own token starts and cancels runs through the intake, and the
worker checks that person's write access as for a comment; a run's log is a resource with
update events while it runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import CallToolResult, ResourceUpdatedNotification

from tests.e2e import implement_script as script
from tests.e2e.conftest import forge_env
from tests.e2e.harness import ADMIN_TOKEN, RedisServer, Service, base_env, running, wait_for
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, slow, text

pytestmark = pytest.mark.e2e
REPO = "acme/mcp-runs"
ALICE_TOKEN = "alice-" + "a1" * 20  # write access
RITA_TOKEN = "rita-" + "b2" * 20  # read access only


@pytest.fixture(scope="module")
def sims(github: tuple[GitHubSim, str]) -> GitHubSim:
    gh, _ = github
    gh.add_repo(REPO, script.FILES)
    gh.set_permission(REPO, "alice", "admin")
    gh.set_permission(REPO, "rita", "read")
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
        "AGENTOPS_OPERATOR_LOGINS": "github:alice,github:rita",
        "AGENTOPS_MCP_TOKENS": f"github:alice={ALICE_TOKEN},github:rita={RITA_TOKEN}",
    }
    with running(env, workdir, settings) as svc:
        yield svc


@contextlib.asynccontextmanager
async def connected(service: Service, token: str, **options: Any) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    transport = streamable_http_client(f"{service.url}/mcp", http_client=http)
    async with Client(transport, **options) as c:
        yield c


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


def plan_run(service: Service, gh: GitHubSim) -> int:
    number = gh.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    return script.comment_command(service, gh, REPO, number, "/agentops plan")


def test_the_endpoint_is_never_open(service: Service) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN}):
        answer = httpx.post(f"{service.url}/mcp", json=hello, headers=accept | headers)
        assert answer.status_code == 401, answer.text
        assert "Authorization: Bearer" in answer.text
        assert answer.headers["www-authenticate"] == 'Bearer realm="mcp"'


async def test_the_admin_token_reads_every_run_and_acts_on_none(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    llm[0].script(script.PLANNER, text("**Change**\n1. `calc.py`: refuse zero."))
    run_id = plan_run(service, sims)
    wait_for(lambda: service.finished(run_id), 60, what="the plan run to end")
    async with connected(service, ADMIN_TOKEN) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {
            *("list_runs", "run_status", "start_run", "cancel_run"),
            *("locate", "find_symbol", "outline", "context", "index_status"),  # the code map
        }
        assert all(t.output_schema is not None for t in tools.values())

        answer = await client.call_tool("list_runs", {"repo": REPO})
        listed = data(answer)
        assert run_id in [r["id"] for r in listed["runs"]]
        assert text_of(answer).startswith("<untrusted-data") and f"#{run_id} " in text_of(answer)

        status = data(await client.call_tool("run_status", {"run_id": run_id}))
        assert status["run"]["status"] == "succeeded" and status["run"]["command"] == "plan"
        assert [s["name"] for s in status["steps"]][-1] == "plan"
        assert status["model_calls"] >= 1
        assert status["links"]["page"] == f"{service.url}/runs/{run_id}"

        log = await client.read_resource(status["links"]["log"])
        lines = getattr(log.contents[0], "text", "").splitlines()
        # the log is the run's data (issue text, model turns), fenced as such
        assert lines[0].startswith("<untrusted-data") and lines[-1] == "</untrusted-data>"
        assert lines[-2].split()[2] == "run_ended"
        with pytest.raises(MCPError, match=f"run {run_id} has no diff"):
            await client.read_resource(status["links"]["diff"])  # a plan changes no code

        refusals: list[tuple[str, dict[str, Any], str]] = [
            ("run_status", {"run_id": 99_999_999}, "there is no run 99999999"),
            ("cancel_run", {"run_id": run_id}, "belongs to no one"),
            (
                "start_run",
                {"repository": REPO, "target_kind": "issue", "number": 1, "command": "plan"},
                "belongs to no one",
            ),
            ("list_runs", {"status": "bogus"}, "status must be one of"),
        ]
        for tool, arguments, reason in refusals:
            refused = await client.call_tool(tool, arguments)
            assert refused.is_error and reason in text_of(refused), text_of(refused)


async def test_an_operator_starts_a_run_as_themselves_through_the_intake(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    llm[0].script(script.PLANNER, text("**Change**\n1. `calc.py`: refuse zero."))
    plan_run(service, sims)  # the service knows the repository from a comment's run
    number = sims.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    asked = {"repository": REPO, "target_kind": "issue", "number": number, "command": "plan"}
    async with connected(service, ALICE_TOKEN) as alice:
        filed = data(await alice.call_tool("start_run", asked))
        unknown = await alice.call_tool("start_run", asked | {"repository": "nobody/there"})
        assert unknown.is_error and "not installed on nobody/there" in text_of(unknown)
        bad = await alice.call_tool("start_run", asked | {"command": "dance"})
        assert bad.is_error and "command must start with one of" in text_of(bad)
    run = wait_for(lambda: service.finished(filed["run_id"]), 60, what="alice's run to end")
    assert run["status"] == "succeeded", service.logs()[-4000:]
    assert (run["requested_by"], run["trigger"], run["command"]) == ("alice", "web", "plan")

    # rita reads the repository but cannot write: filed, then refused by the worker
    async with connected(service, RITA_TOKEN) as rita:
        hers = data(await rita.call_tool("start_run", asked))
    refused = wait_for(lambda: service.finished(hers["run_id"]), 60, what="rita's run to end")
    assert refused["status"] == "failed" and "no write access" in (refused["error"] or "")


async def test_cancel_and_the_log_updates_while_a_run_runs(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    llm[0].script(script.PLANNER, slow(30.0, text("**Change**\n1. never seen.")))
    run_id = plan_run(service, sims)
    uri = f"agentops://runs/{run_id}/log"
    async with (
        connected(service, ALICE_TOKEN) as alice,
        alice.listen(resource_subscriptions=[uri]) as events,
    ):
        before = await alice.read_resource(uri)  # starts the watcher of this run
        seen = len(getattr(before.contents[0], "text", "").splitlines())
        filed = data(await alice.call_tool("cancel_run", {"run_id": run_id}))
        assert filed["requested_by"] == "alice"
        # as a client does: on each update, read the log again, until it has grown
        with anyio.fail_after(30):
            async for event in events:
                assert isinstance(event, ResourceUpdated) and event.uri == uri
                after = await alice.read_resource(uri)
                if len(getattr(after.contents[0], "text", "").splitlines()) > seen:
                    break
    run = wait_for(lambda: service.finished(run_id), 30, what="the run to be cancelled")
    assert run["status"] == "cancelled"
    runs = service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"]
    control = [r for r in runs if r["id"] == filed["run_id"]]
    assert control[0]["command"] == "cancel" and control[0]["requested_by"] == "alice"
    assert control[0]["trigger_key"] == f"web:{run_id}:cancel"


async def test_a_client_of_an_older_protocol_subscribes_to_the_log(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    """`resources/subscribe` (protocols before 2026-07-28, most desktop clients today)."""
    llm[0].script(script.PLANNER, slow(30.0, text("**Change**\n1. never seen.")))
    run_id = plan_run(service, sims)
    uri = f"agentops://runs/{run_id}/log"
    updated = anyio.Event()

    async def heard(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification) and message.params.uri == uri:
            updated.set()

    async with connected(service, ALICE_TOKEN, mode="legacy", message_handler=heard) as alice:
        assert alice.server_capabilities is not None
        resources = alice.server_capabilities.resources
        assert resources is not None and resources.subscribe
        with pytest.warns(MCPDeprecationWarning):
            await alice.subscribe_resource(uri)
        data(await alice.call_tool("cancel_run", {"run_id": run_id}))
        with anyio.fail_after(30):
            await updated.wait()
        with (
            pytest.raises(MCPError, match="there is no run 99999999"),
            pytest.warns(MCPDeprecationWarning),
        ):
            await alice.subscribe_resource("agentops://runs/99999999/log")
    run = wait_for(lambda: service.finished(run_id), 30, what="the run to be cancelled")
    assert run["status"] == "cancelled"
