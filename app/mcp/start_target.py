"""Where `start_run` files its request: the tenant, the repository's name and the forge
context a comment's run there would carry.

The repository's name comes from an MCP client: its shape is checked before it is looked
up or sent anywhere. A repository with a run on the token's forge, of a tenant still
active, is reached as that run was. Otherwise, on GitHub, the App itself is asked where it
is installed (app/forges/github/installed.py), and the run is filed for that installation
under the name GitHub gives: the client picks neither the installation nor the tenant.
A GitLab project reaches AgentOps through its hook first: it has nothing to ask.

The number is the client's too: the forge is asked what it is (`checked_kind`) before
anything is filed. A command for issues on a pull request (its body read as a task, a
second pull request opened from it), or one for pull requests on an issue, is refused
with the commands that do fit, as is a `target_kind` the number is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.commands import SPEC, CommandName, TargetKind
from app.config import ConfigError
from app.events import TenantKey
from app.forges.base import ForgeAPIError, ForgeError, ForgeRateLimited, Target
from app.forges.github.auth import GitHubApp
from app.forges.github.installed import AppNotInstalled, github_full_name, installed_repository
from app.forges.github.spec import KIND as GITHUB
from app.forges.registry import ForgeRegistry, display_name, wording_for
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


async def checked_kind(
    registry: ForgeRegistry,
    forge: str,
    target: StartTarget,
    declared: TargetKind,
    number: int,
    command: CommandName,
    startable: tuple[str, ...],
) -> None:
    """Refuse (naming what to use instead) unless `number` of the target's repository is,
    on the forge, a `declared` (issue or pull request) that `command` works on. GitHub
    numbers issues and pull requests together (each pull request is an issue too); GitLab
    apart: there the number is looked up as the kind declared."""
    wording = wording_for(forge)
    change = wording.change_request
    shown = {"issue": f"issue #{number}", "pull_request": f"{change} {wording.change_ref(number)}"}
    where = f"{target.repo} on {wording.display_name}"
    try:
        on_forge = await registry.for_context(forge, target.context)
        if forge == GITHUB:
            issue = await on_forge.get_issue(Target(target.repo, "issue", number))
            actual: TargetKind = "pull_request" if issue.pull_request else "issue"
        elif declared == "issue":
            await on_forge.get_issue(Target(target.repo, "issue", number))
            actual = "issue"
        else:
            await on_forge.get_pull_request(Target(target.repo, "pull_request", number))
            actual = "pull_request"
    except ForgeRateLimited as exc:
        raise ToolRefusal(
            f"{wording.display_name} is rate-limiting AgentOps: try again in "
            f"{exc.retry_after:.0f} s"
        ) from None
    except ForgeAPIError as exc:
        if exc.status in (404, 410):
            asked = f"issue or {change} #{number}" if forge == GITHUB else shown[declared]
            raise ToolRefusal(f"{where} has no {asked}") from None
        raise ToolRefusal(f"cannot look up {shown[declared]} of {where}: {exc}") from None
    except (ForgeError, ConfigError) as exc:
        raise ToolRefusal(f"cannot look up {shown[declared]} of {where}: {exc}") from None
    called = {"issue": "an issue", "pull_request": f"a {change}"}
    if actual not in SPEC[command].applies_to:
        fitting = ", ".join(c for c in startable if actual in SPEC[c].applies_to)
        other: TargetKind = "pull_request" if actual == "issue" else "issue"
        raise ToolRefusal(
            f"`{command}` works on {called[other]}, and {shown[actual]} of {where} is "
            f"{called[actual]}: on it use {fitting}; or give the number of {called[other]}"
        )
    if actual != declared:
        raise ToolRefusal(
            f"#{number} of {where} is {called[actual]}, not {called[declared]}: give "
            f"target_kind {actual}"
        )
