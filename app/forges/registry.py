"""Which `Forge` serves a run: the GitHub App installation or the GitLab instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.config import Settings
from app.forges.base import Forge, ForgeError

if TYPE_CHECKING:
    from app.forges.github_auth import GitHubApp
    from app.forges.gitlab import GitLabForge
    from app.store.runs import Run


class ForgeRegistry:
    """One GitHub App client (token cache shared by all runs) and one GitLab client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._github: GitHubApp | None = None
        self._gitlab: GitLabForge | None = None

    async def for_run(self, run: Run) -> Forge:
        return self._forge(run.forge, run.context, f"run {run.id}")

    async def for_context(self, forge: str, context: Mapping[str, Any]) -> Forge:
        """The forge for a repository named in an event's context (a label check)."""
        return self._forge(forge, context, "the event")

    def _forge(self, forge: str, context: Mapping[str, Any], what: str) -> Forge:
        if forge == "github":
            installation = context.get("installation_id")
            if installation is None:
                raise ForgeError(f"{what} does not name its GitHub installation")
            return self.github.forge(int(installation))
        if forge == "gitlab":
            return self.gitlab
        raise ForgeError(f"{what} is for an unknown forge {forge!r}")

    @property
    def github(self) -> GitHubApp:
        if self._github is None:
            from app.forges.github_auth import GitHubApp

            self._github = GitHubApp.from_settings(self.settings)
        return self._github

    @property
    def gitlab(self) -> GitLabForge:
        if self._gitlab is None:
            from app.forges.gitlab import GitLabForge

            self._gitlab = GitLabForge(self.settings)
        return self._gitlab

    async def aclose(self) -> None:
        if self._github is not None:
            await self._github.aclose()
        if self._gitlab is not None:
            await self._gitlab.aclose()
