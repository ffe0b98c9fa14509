"""`GitHubClient`: one app installation's view of the REST API, the plumbing every call uses.

The HTTP client, the installation tokens and the retries belong to the `GitHubApp`
(`auth.py`, errors in `errors.py`); this class binds them to one
installation and fills `{owner}`/`{name}` from a repository's `owner/name`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gidgethub import sansio

from app.forges.github.format import split_repo
from app.forges.retry import ONE_TRY

if TYPE_CHECKING:
    from app.forges.github.auth import GitHubApp


class GitHubClient:
    """REST calls as one GitHub App installation."""

    def __init__(self, app: GitHubApp, installation_id: int) -> None:
        self.app = app
        self.installation_id = installation_id

    async def _api(
        self,
        method: str,
        url: str,
        repo: str,
        *,
        action: str,
        data: Any = b"",
        accept: str | None = None,
        once: bool = False,
        **url_vars: Any,
    ) -> Any:
        """One call; `once` for a creation that `create_once` guards (no blind retry)."""
        return await self.app.api(
            self.installation_id,
            method,
            url,
            url_vars={**split_repo(repo), **url_vars},
            data=data,
            accept=accept or sansio.accept_format(),
            action=action,
            repo=repo,
            retry=ONE_TRY if once else None,
        )

    async def _list(self, url: str, repo: str, *, action: str, **url_vars: Any) -> list[Any]:
        return await self.app.api_list(
            self.installation_id,
            url,
            url_vars={**split_repo(repo), **url_vars},
            action=action,
            repo=repo,
        )
