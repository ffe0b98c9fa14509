"""Whether the App is installed on a repository, and what a comment's run would know of it.

A webhook names the installation, the repository's id and its full name; a request made
on AgentOps's own tools (the MCP `start_run`) has none of that, only a name a client
typed. GitHub is asked instead, with the App's own credentials: the installation on the
repository (`GET /repos/{owner}/{name}/installation`, the App's JWT), then the repository
with that installation's token (its id and its full name as GitHub spells it).

`name` must already be a checked `owner/name` (`github_full_name`): it goes into a URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.forges.base import ForgeAccessError
from app.forges.github.auth import GitHubApp
from app.forges.github.errors import GitHubAPIError

# An owner (user or organization; managed users have `_`) has no `.`; a repository name is
# letters, digits, `.`, `-` and `_`, and never `.` or `..`.
_FULL_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]{0,99})/([A-Za-z0-9._-]{1,100})")


class AppNotInstalled(ForgeAccessError):
    """GitHub answered 404: the App is not installed there, or there is no such repository
    (GitHub does not tell the two apart to an App)."""


@dataclass(frozen=True)
class InstalledRepository:
    installation_id: int
    account: str  # the installation's account, as GitHub names it
    repo: str  # the full name as GitHub spells it
    repo_id: int


def github_full_name(name: str) -> str | None:
    """`name` when it is the shape of a GitHub `owner/name` (nothing a URL could read as
    a path, a query or an escape); None otherwise."""
    found = _FULL_NAME.fullmatch(name)
    if found is None or found.group(2) in (".", ".."):
        return None
    return name


async def installed_repository(app: GitHubApp, name: str) -> InstalledRepository:
    """The App's installation on `name` and the repository as that installation reads it.
    `AppNotInstalled` for a 404 from either; other failures as the `ForgeError` kinds."""
    if github_full_name(name) is None:
        raise ValueError(f"not a GitHub full name: {name!r}")
    owner, repo = name.split("/")
    try:
        installation = await app.app_api(
            "GET",
            "/repos/{owner}/{name}/installation",
            url_vars={"owner": owner, "name": repo},
            action=f"find the installation on {name}",
        )
    except GitHubAPIError as exc:
        if exc.status == 404:
            raise AppNotInstalled(f"the AgentOps GitHub App is not installed on {name}") from exc
        raise
    if installation.get("suspended_at"):
        raise ForgeAccessError(
            f"the AgentOps GitHub App's installation on {name} is suspended: an owner must "
            "unsuspend it first"
        )
    installation_id = int(installation["id"])
    account = installation.get("account") or {}
    try:
        info = await app.forge(installation_id).get_repo(name)
    except GitHubAPIError as exc:
        if exc.status == 404:
            raise AppNotInstalled(
                f"the AgentOps GitHub App's installation does not reach {name}"
            ) from exc
        raise
    if info.id is None:
        raise GitHubAPIError(f"GitHub did not give the id of {name}", 502)
    return InstalledRepository(
        installation_id=installation_id,
        account=str(account.get("login") or "") if isinstance(account, dict) else "",
        repo=info.repo,
        repo_id=info.id,
    )
