"""`start_run`'s look-up of the number on GitLab (app/mcp/start_target.py `checked_kind`),
against the GitLab simulator: GitLab numbers issues and merge requests apart, so the number
is looked up as the kind the client declared, and a command for the other kind, or a
number GitLab has not, is refused naming what to use. (GitHub: tests/e2e/
test_mcp_start_run.py, through the real MCP path.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from app.commands import CommandName, TargetKind
from app.config import Settings
from app.events import TenantKey
from app.forges.registry import ForgeRegistry
from app.mcp.errors import ToolRefusal
from app.mcp.run_tools import STARTABLE
from app.mcp.start_target import StartTarget, checked_kind
from tests.integration.forges.test_gitlab_forge import REPO, sim
from tests.sim.gitlab import GitLabSim

__all__ = ["sim"]  # the fixture
TARGET = StartTarget(TenantKey("gitlab", "1", "group"), REPO, {})


@pytest.fixture
async def registry(sim: GitLabSim) -> AsyncIterator[ForgeRegistry]:
    registry = ForgeRegistry(
        Settings(
            gitlab_url=sim.base_url,
            gitlab_token=SecretStr(sim.bot_token),
            gitlab_webhook_secret=SecretStr("hook-secret"),
            gitlab_bot_username="agentops-bot",
        )
    )
    yield registry
    await registry.aclose()


async def check(registry: ForgeRegistry, kind: TargetKind, number: int, command: str) -> None:
    name: CommandName = command  # type: ignore[assignment]
    await checked_kind(registry, "gitlab", TARGET, kind, number, name, STARTABLE)


async def test_a_number_of_the_wrong_kind_is_refused_naming_what_fits(
    sim: GitLabSim, registry: ForgeRegistry
) -> None:
    issue = 1  # the fixture's issue
    merge = int(sim.add_merge_request(REPO, "main", "main", "Change")["iid"])
    await check(registry, "issue", issue, "implement")
    await check(registry, "pull_request", merge, "review")
    with pytest.raises(ToolRefusal, match=r"`review` works on a merge request.*use implement, "):
        await check(registry, "issue", issue, "review")
    with pytest.raises(ToolRefusal, match=rf"merge request !{merge} .*use test, review, fix"):
        await check(registry, "pull_request", merge, "implement")
    with pytest.raises(ToolRefusal, match="on GitLab has no issue #99"):
        await check(registry, "issue", 99, "implement")
    with pytest.raises(ToolRefusal, match="on GitLab has no merge request !99"):
        await check(registry, "pull_request", 99, "review")
