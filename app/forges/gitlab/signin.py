"""Sign-in with GitLab through an OAuth application (scopes `read_user read_api`), and what
the signed-in person's own token may read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx

from app.config import Settings
from app.forges.gitlab.spec import KIND
from app.signin.forge_client import (
    OAuthGrants,
    Person,
    SignInRefused,
    Workspace,
    get_json,
    get_pages,
)
from app.store.runs import Run

SCOPES = "read_user read_api"
REPORTER = 20  # a Guest of a private project cannot read its code


class GitLabSignIn(OAuthGrants):
    kind = KIND
    code_grant: ClassVar[Mapping[str, str]] = {"grant_type": "authorization_code"}

    def __init__(
        self, gitlab_url: str, client_id: str, client_secret: str, client: httpx.AsyncClient
    ) -> None:
        self.instance = gitlab_url.rstrip("/")  # as the webhook handler names tenants
        self.api = f"{self.instance}/api/v4"
        self.client_id, self._secret = client_id, client_secret
        self.token_url = f"{self.instance}/oauth/token"
        self._client = client

    @staticmethod
    def _headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def authorize_url(self, redirect_uri: str, state: str, challenge: str) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": state,
            "scope": SCOPES,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.instance}/oauth/authorize?{urlencode(query)}"

    async def person(self, token: str) -> Person:
        status, data = await get_json(self._client, f"{self.api}/user", self._headers(token), {})
        if status != 200 or not isinstance(data, dict) or not data.get("username"):
            raise SignInRefused(f"GitLab did not say who the token belongs to (HTTP {status})")
        return Person(KIND, str(data["id"]), str(data["username"]))

    async def can_read(self, token: str, run: Run) -> bool:
        project = run.context.get("project_id")
        ref = str(int(project)) if isinstance(project, int) else quote(run.repo, safe="")
        status, data = await get_json(
            self._client, f"{self.api}/projects/{ref}", self._headers(token), {}
        )
        return status == 200 and isinstance(data, dict) and _reads_code(data)

    async def workspaces(self, token: str) -> list[Workspace]:
        projects = await get_pages(
            self._client,
            f"{self.api}/projects",
            self._headers(token),
            {
                "membership": "true",
                "min_access_level": str(REPORTER),
                "simple": "true",
                "per_page": "100",
            },
        )
        return [
            Workspace(
                f"{self.instance}#{int(p['id'])}",
                str(p.get("path_with_namespace", "")),
                frozenset({str(p.get("path_with_namespace", ""))}),
            )
            for p in projects
            if isinstance(p, dict) and "id" in p
        ]


def _reads_code(project: dict[str, Any]) -> bool:
    """Whether the token's person may read the project's code, which the run page shows
    (diffs, test output): Reporter or more, or a project whose repository everyone who
    sees it may read. A Guest sees a private project, but not its code."""
    permissions = project.get("permissions")
    levels = [0]
    if isinstance(permissions, dict):
        for kind in ("project_access", "group_access"):
            access = permissions.get(kind)
            if isinstance(access, dict) and isinstance(access.get("access_level"), int):
                levels.append(access["access_level"])
    if max(levels) >= REPORTER:
        return True
    return (
        project.get("visibility") in ("public", "internal")
        and project.get("repository_access_level") == "enabled"
    )


def sign_in_for(settings: Settings, client: httpx.AsyncClient) -> GitLabSignIn | None:
    """Sign-in through the operator's GitLab OAuth application, when it is set."""
    if (
        not settings.gitlab_url
        or not settings.gitlab_oauth_client_id
        or settings.gitlab_oauth_client_secret is None
    ):
        return None
    secret = settings.gitlab_oauth_client_secret.get_secret_value()
    return GitLabSignIn(settings.gitlab_url, settings.gitlab_oauth_client_id, secret, client)
