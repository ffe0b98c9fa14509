"""Where `start_run` files its request: the tenant, the repository's name and the forge
context a comment's run there would carry.

The repository's name comes from an MCP client: its shape is checked before it is looked
up or sent anywhere. A repository with a run on the token's forge, of a tenant still
active, is reached as that run was. Otherwise, on GitHub, the App itself is asked where it
is installed (app/forges/github/installed.py), and the run is filed for that installation
under the name GitHub gives: the client picks neither the installation nor the tenant.
A GitLab project reaches AgentOps through its hook first: it has nothing to ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.config import ConfigError
from app.events import TenantKey
from app.forges.base import ForgeError, ForgeRateLimited
from app.forges.github.auth import GitHubApp
from app.forges.github.installed import AppNotInstalled, github_full_name, installed_repository
from app.forges.github.spec import KIND as GITHUB
from app.forges.registry import ForgeRegistry, display_name
from app.mcp.errors import ToolRefusal
from app.runpage.control import forge_context
from app.store.runs import Run
from app.store.tenants import Tenant

MAX_NAME_CHARS = 255
_FULL_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+")


@dataclass(frozen=True)
class StartTarget:
    tenant: TenantKey
    repo: str
    context: dict[str, Any]


def checked_name(forge: str, repository: str) -> str:
    """The client's repository name, when it has the shape of one on `forge`: no `.` or
    `..` part, no escape, query or empty part; GitHub's exactly `owner/name`."""
    name = repository.strip()
    parts = name.split("/")
    if len(name) > MAX_NAME_CHARS or not _FULL_NAME.fullmatch(name) or {".", ".."} & set(parts):
        raise ToolRefusal("repository must be a full name: owner/name (GitLab: group/project)")
    if forge == GITHUB and github_full_name(name) is None:
        raise ToolRefusal("a GitHub repository is named owner/name")
    return name


def known_target(run: Run, tenant: Tenant) -> StartTarget:
    """A repository's newest run's tenant and forge context, as its webhook proved them."""
    return StartTarget(
        TenantKey(tenant.forge, tenant.external_key, tenant.account),
        run.repo,
        forge_context(run),
    )


async def unknown_target(registry: ForgeRegistry, forge: str, name: str) -> StartTarget:
    """The target of a repository AgentOps has no (live) run on: GitHub is asked where
    its App is installed; any other forge has nothing to ask."""
    if forge != GITHUB:
        where = display_name(forge, forge)
        raise ToolRefusal(
            f"AgentOps has had no run on {where} {name!r}: a {where} project reaches "
            "AgentOps through its hook first; write `/agentops help` in one of its issues once"
        )
    try:
        app = registry.connection(GITHUB)
        assert isinstance(app, GitHubApp)
        found = await installed_repository(app, name)
    except AppNotInstalled:
        raise ToolRefusal(
            f"the AgentOps App is not installed on {name} (or GitHub has no such repository "
            "that it can see)"
        ) from None
    except ForgeRateLimited as exc:
        raise ToolRefusal(
            f"GitHub is rate-limiting AgentOps: try again in {exc.retry_after:.0f} s"
        ) from None
    except (ForgeError, ConfigError) as exc:
        raise ToolRefusal(f"GitHub could not be asked about {name}: {exc}") from None
    return StartTarget(
        TenantKey(GITHUB, str(found.installation_id), found.account),
        found.repo,
        {"installation_id": found.installation_id, "repo_id": found.repo_id},
    )
