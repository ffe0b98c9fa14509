"""What both forges' sign-in clients share: their answers as values, their errors, and
a JSON GET that follows pages. The person's token goes in a header only, never in a URL
or a log line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import httpx

from app.store.runs import Run

MAX_PAGES = 20


class SignInRefused(Exception):
    """The forge refused the sign-in (a bad or used code, wrong client credentials); the
    message is safe to show."""


class ForgeUnreachable(Exception):
    """The forge did not answer, or answered 5xx: nothing is known, nothing is cached."""


@dataclass(frozen=True)
class ForgeTokens:
    access: str
    refresh: str | None
    expires_in: float | None  # seconds, as the forge said; None: does not expire


@dataclass(frozen=True)
class Person:
    forge: str
    id: str
    login: str


@dataclass(frozen=True)
class Workspace:
    """A tenant the person can access, as the forge names it (`tenants.external_key`),
    and the repositories in it they can read."""

    external_key: str
    account: str
    repos: frozenset[str]
    # name → id, where a run knows its repository by the id (GitHub: `context.repo_id`)
    repo_ids: Mapping[str, int] = field(default_factory=dict)


class ForgeSignIn(Protocol):
    kind: str

    def authorize_url(self, redirect_uri: str, state: str, challenge: str) -> str: ...

    async def exchange(self, code: str, redirect_uri: str, verifier: str) -> ForgeTokens: ...

    async def refresh(self, refresh_token: str) -> ForgeTokens: ...

    async def person(self, token: str) -> Person: ...

    async def can_read(self, token: str, run: Run) -> bool: ...

    async def workspaces(self, token: str) -> list[Workspace]: ...


def tokens_from(data: Any) -> ForgeTokens:
    """An OAuth token answer (RFC 6749 §5.1); `SignInRefused` for an error answer."""
    if not isinstance(data, Mapping):
        raise SignInRefused("the forge's token answer is not an object")
    if data.get("error") or not isinstance(data.get("access_token"), str):
        raise SignInRefused(f"the forge refused the code: {str(data.get('error'))[:80]}")
    expires = data.get("expires_in")
    refresh = data.get("refresh_token")
    return ForgeTokens(
        str(data["access_token"]),
        str(refresh) if isinstance(refresh, str) and refresh else None,
        float(expires) if isinstance(expires, int | float) and expires > 0 else None,
    )


async def post_token(client: httpx.AsyncClient, url: str, form: dict[str, str]) -> ForgeTokens:
    try:
        response = await client.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ForgeUnreachable(f"{url}: {type(exc).__name__}") from None
    if response.status_code >= 500:
        raise ForgeUnreachable(f"{url}: HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise SignInRefused(f"the forge answered HTTP {response.status_code}, not JSON") from None
    return tokens_from(data)


class OAuthGrants:
    """A forge's token endpoint: the code grant (with PKCE) and the refresh grant, the
    same form on both forges but for what `code_grant` adds."""

    token_url: str
    client_id: str
    _secret: str
    _client: httpx.AsyncClient
    code_grant: ClassVar[Mapping[str, str]] = {}

    async def exchange(self, code: str, redirect_uri: str, verifier: str) -> ForgeTokens:
        grant = {"code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
        return await self._grant({**self.code_grant, **grant})

    async def refresh(self, refresh_token: str) -> ForgeTokens:
        return await self._grant({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def _grant(self, form: dict[str, str]) -> ForgeTokens:
        ours = {"client_id": self.client_id, "client_secret": self._secret}
        return await post_token(self._client, self.token_url, {**ours, **form})


async def get_json(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], params: Mapping[str, str]
) -> tuple[int, Any]:
    """(status, JSON body or None); `ForgeUnreachable` for no answer or a 5xx."""
    try:
        response = await client.get(url, headers=dict(headers), params=dict(params))
    except httpx.HTTPError as exc:
        raise ForgeUnreachable(f"GET {url.split('?')[0]}: {type(exc).__name__}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise ForgeUnreachable(f"GET {url.split('?')[0]}: HTTP {response.status_code}")
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


async def get_pages(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    params: Mapping[str, str],
    items_key: str | None = None,
) -> list[Any]:
    """Every item of a paginated list (following `Link: rel="next"`), or []
    when the forge refuses it (401, 403, 404)."""
    found: list[Any] = []
    next_url: str | None = url
    query: Mapping[str, str] = params
    for _ in range(MAX_PAGES):
        if next_url is None:
            break
        try:
            response = await client.get(next_url, headers=dict(headers), params=dict(query))
        except httpx.HTTPError as exc:
            raise ForgeUnreachable(f"GET {url}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ForgeUnreachable(f"GET {url}: HTTP {response.status_code}")
        if response.status_code != 200:
            return found
        data = response.json()
        page = data.get(items_key, []) if items_key and isinstance(data, dict) else data
        found.extend(page if isinstance(page, list) else [])
        link = response.links.get("next")
        next_url, query = (link["url"], {}) if link else (None, {})
    return found
