"""Sign-in with GitHub through the App's user authorization (the OAuth web flow), and what
a signed-in person's own token (a user-to-server token) may read: such a token reaches
only what both the person and the App can, so a repository it reads is one the person
can read."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import httpx

from app.config import Settings
from app.forges.github.manifest import github_web_url
from app.forges.github.spec import KIND
from app.signin.forge_client import (
    OAuthGrants,
    Person,
    SignInRefused,
    Workspace,
    get_json,
    get_pages,
)
from app.store.runs import Run


class GitHubSignIn(OAuthGrants):
    kind = KIND

    def __init__(
        self, api_url: str, client_id: str, client_secret: str, client: httpx.AsyncClient
    ) -> None:
        self.api = api_url.rstrip("/")
        self.web = github_web_url(api_url)
        self.client_id, self._secret = client_id, client_secret
        self.token_url = f"{self.web}/login/oauth/access_token"
        self._client = client

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def authorize_url(self, redirect_uri: str, state: str, challenge: str) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "allow_signup": "false",
        }
        return f"{self.web}/login/oauth/authorize?{urlencode(query)}"

    async def person(self, token: str) -> Person:
        status, data = await get_json(self._client, f"{self.api}/user", self._headers(token), {})
        if status != 200 or not isinstance(data, dict) or not data.get("login"):
            raise SignInRefused(f"GitHub did not say who the token belongs to (HTTP {status})")
        return Person(KIND, str(data["id"]), str(data["login"]))

    async def can_read(self, token: str, run: Run) -> bool:
        repo_id = run_repo_id(run)
        if repo_id is not None:
            url = f"{self.api}/repositories/{repo_id}"
        else:  # a run filed before its webhook's repository id was kept
            owner, _, name = run.repo.partition("/")
            url = f"{self.api}/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        status, data = await get_json(self._client, url, self._headers(token), {})
        if status != 200 or not isinstance(data, dict):
            return False
        permissions: Any = data.get("permissions")
        # a user token's answer says what the person may do; no `pull` there: no read
        return not isinstance(permissions, dict) or bool(permissions.get("pull", True))

    async def workspaces(self, token: str) -> list[Workspace]:
        headers = self._headers(token)
        installations = await get_pages(
            self._client,
            f"{self.api}/user/installations",
            headers,
            {"per_page": "100"},
            "installations",
        )
        found = []
        for installation in installations:
            if not isinstance(installation, dict) or "id" not in installation:
                continue
            repos = await get_pages(
                self._client,
                f"{self.api}/user/installations/{int(installation['id'])}/repositories",
                headers,
                {"per_page": "100"},
                "repositories",
            )
            account = installation.get("account") or {}
            named = [r for r in repos if isinstance(r, dict) and "full_name" in r]
            found.append(
                Workspace(
                    str(installation["id"]),
                    str(account.get("login", "")) if isinstance(account, dict) else "",
                    frozenset(str(r["full_name"]) for r in named),
                    {str(r["full_name"]): r["id"] for r in named if _an_id(r.get("id"))},
                )
            )
        return found


def sign_in_for(settings: Settings, client: httpx.AsyncClient) -> GitHubSignIn | None:
    """Sign-in through the GitHub App's user authorization, when its client is set."""
    if not settings.github_client_id or settings.github_client_secret is None:
        return None
    secret = settings.github_client_secret.get_secret_value()
    return GitHubSignIn(settings.github_api_url, settings.github_client_id, secret, client)


def _an_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def run_repo_id(run: Run) -> int | None:
    """The id of the repository a run was filed on, as its webhook gave it. A name is
    given up when its repository is renamed or deleted, and whoever takes it next (a
    new account of the old owner's name, say) must not read that run: its repository is
    asked for by id."""
    repo_id = run.context.get("repo_id")
    return repo_id if _an_id(repo_id) else None
