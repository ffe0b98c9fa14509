"""GitHub App authentication: the app JWT and a cache of installation tokens.

One `GitHubApp` per process holds the HTTP client (httpx, through gidgethub) and the
token cache; `GitHubApp.forge(installation_id)` hands out a cheap `GitHubForge` bound to
one installation. All URLs are built from `api_url` (`https://api.github.com`, or
`https://host/api/v3` on GitHub Enterprise Server).

- The JWT is RS256, `iat` 60 s in the past (clock drift), `exp` 9 minutes ahead.
- An installation token is cached until `TOKEN_REFRESH_MARGIN` before it expires, and
  fetched again once when GitHub answers 401 (a revoked or rotated token).
- Every token is registered with the log redaction filter as soon as it is known.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx
import jwt
from gidgethub import abc as gh_abc
from gidgethub import sansio

from app import tracing
from app.forges.base import ForgeAccessError, ForgeError
from app.forges.github.errors import (
    GitHubAPIError,
    GitHubUnauthorized,
    call_with_retries,
)
from app.forges.retry import RetryPolicy
from app.metrics.forges import observe_forge_call
from app.redaction import register_secret

if TYPE_CHECKING:
    from app.config import Settings
    from app.forges.github.forge import GitHubForge

T = TypeVar("T")

DEFAULT_API_URL = "https://api.github.com"
JWT_BACKDATE_SECONDS = 60
JWT_LIFETIME_SECONDS = 9 * 60
TOKEN_REFRESH_MARGIN = 5 * 60
JSON_ACCEPT = sansio.accept_format()


def app_jwt(app_id: int | str, private_key_pem: str, now: float | None = None) -> str:
    """The GitHub App's own credential: RS256, `iat` 60 s back, expiring in 9 minutes."""
    issued = int(time.time() if now is None else now)
    payload = {
        "iat": issued - JWT_BACKDATE_SECONDS,
        "exp": issued + JWT_LIFETIME_SECONDS,
        "iss": str(app_id),
    }
    return jwt.encode(payload, private_key_pem, algorithm="RS256")


def parse_github_time(value: str) -> float:
    """`2026-01-01T00:00:00Z` → epoch seconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class InstallationToken:
    token: str
    expires_at: float  # epoch seconds

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - TOKEN_REFRESH_MARGIN


class HttpxGitHubAPI(gh_abc.GitHubAPI):
    """gidgethub over an `httpx.AsyncClient` (the 25-line transport, as in gidgethub.httpx)."""

    def __init__(self, client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        self._client = client
        super().__init__(*args, **kwargs)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        started = time.monotonic()
        try:
            response = await self._client.request(method, url, headers=dict(headers), content=body)
        except httpx.HTTPError:
            observe_forge_call(
                "github", method, urlsplit(url).path, None, time.monotonic() - started
            )
            raise
        observe_forge_call(
            "github", method, response.url.path, response.status_code,
            time.monotonic() - started, response.headers,
        )  # fmt: skip
        return response.status_code, response.headers, response.content

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class GitHubApp:
    """A GitHub App: JWT signing, installation tokens, and the shared HTTP client."""

    def __init__(
        self,
        app_id: int | str,
        private_key_pem: str,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        client: httpx.AsyncClient | None = None,
        requester: str = "agentops",
        bot_login: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self.api_url = api_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.bot_login = bot_login
        self._private_key_pem = private_key_pem
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._gh = HttpxGitHubAPI(self._client, requester, base_url=self.api_url)
        self._tokens: dict[int, InstallationToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.token_requests = 0  # how many installation tokens were fetched (for tests/metrics)
        register_secret(private_key_pem)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> GitHubApp:
        """Build from `AGENTOPS_GITHUB_*` settings; raises ForgeError if not configured."""
        if settings.github_app_id is None:
            raise ForgeError("GitHub is not configured: set AGENTOPS_GITHUB_APP_ID")
        kwargs.setdefault("api_url", settings.github_api_url)
        kwargs.setdefault("timeout", settings.forge_timeout_seconds)
        kwargs.setdefault("bot_login", settings.github_bot_login)
        return cls(settings.github_app_id, settings.github_private_key_pem, **kwargs)

    def jwt(self) -> str:
        return app_jwt(self.app_id, self._private_key_pem, self._clock())

    def forge(self, installation_id: int) -> GitHubForge:
        from app.forges.github.forge import GitHubForge

        return GitHubForge(self, installation_id)

    def forge_for(self, context: Mapping[str, Any], what: str) -> GitHubForge:
        """The forge of the installation an event's stored context names."""
        installation = context.get("installation_id")
        if installation is None:
            raise ForgeError(f"{what} does not name its GitHub installation")
        return self.forge(int(installation))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # --- installation tokens -------------------------------------------------------

    async def installation_token(self, installation_id: int) -> str:
        """A valid token for the installation, from the cache when it is fresh enough."""
        cached = self._tokens.get(installation_id)
        if cached is not None and cached.fresh(self._clock()):
            return cached.token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(installation_id)
            if cached is not None and cached.fresh(self._clock()):
                return cached.token
            token = await self._fetch_token(installation_id)
            self._tokens[installation_id] = token
            return token.token

    def invalidate_token(self, installation_id: int, token: str | None = None) -> None:
        """Forget the cached token (only if it is still `token`, when given)."""
        cached = self._tokens.get(installation_id)
        if cached is not None and (token is None or cached.token == token):
            del self._tokens[installation_id]

    async def _fetch_token(self, installation_id: int) -> InstallationToken:
        async def post() -> Any:
            return await self._gh.post(
                "/app/installations/{installation_id}/access_tokens",
                {"installation_id": installation_id},
                data=b"",
                jwt=self.jwt(),
            )

        try:
            with tracing.forge_span("POST", "/app/installations/{installation_id}/access_tokens"):
                answer = await call_with_retries(
                    post, action="get an installation token", policy=self.retry
                )
        except GitHubAPIError as exc:
            if exc.status == 404:
                raise ForgeAccessError(
                    f"The AgentOps GitHub App is not installed (installation {installation_id} "
                    "was not found)."
                ) from exc
            if exc.status == 401:
                raise ForgeError(
                    "GitHub rejected the app's JWT: check AGENTOPS_GITHUB_APP_ID "
                    "and the private key"
                ) from exc
            raise
        self.token_requests += 1
        token = str(answer["token"])
        register_secret(token)
        expires = answer.get("expires_at")
        expires_at = parse_github_time(expires) if expires else self._clock() + 3600
        return InstallationToken(token, expires_at)

    # --- API calls -----------------------------------------------------------------

    async def _with_token(
        self,
        installation_id: int,
        call: Callable[[str], Awaitable[T]],
        action: str,
        repo: str | None,
        retry: RetryPolicy | None = None,
    ) -> T:
        """Run `call(token)` with retries; on 401 refetch the token once and try again."""
        for attempt in (1, 2):
            token = await self.installation_token(installation_id)
            try:
                return await call_with_retries(
                    functools.partial(call, token),
                    action=action,
                    policy=retry or self.retry,
                    repo=repo,
                )
            except GitHubUnauthorized:
                self.invalidate_token(installation_id, token)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def api(
        self,
        installation_id: int,
        method: str,
        url: str,
        *,
        url_vars: Mapping[str, Any] | None = None,
        data: Any = b"",
        accept: str = JSON_ACCEPT,
        action: str,
        repo: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """One REST call as the installation: GET, POST, PATCH, PUT or DELETE.

        `retry` overrides the app's policy (`ONE_TRY` for a POST that `create_once` guards).
        """
        variables = dict(url_vars or {})

        async def call(token: str) -> Any:
            if method == "GET":
                return await self._gh.getitem(url, variables, accept=accept, oauth_token=token)
            if method == "POST":
                return await self._gh.post(
                    url, variables, data=data, accept=accept, oauth_token=token
                )
            if method == "PATCH":
                return await self._gh.patch(
                    url, variables, data=data, accept=accept, oauth_token=token
                )
            if method == "PUT":
                return await self._gh.put(
                    url, variables, data=data, accept=accept, oauth_token=token
                )
            if method == "DELETE":
                await self._gh.delete(url, variables, accept=accept, oauth_token=token)
                return None
            raise ValueError(f"unsupported method {method}")

        with tracing.forge_span(method, url):
            return await self._with_token(installation_id, call, action, repo, retry)

    async def api_list(
        self,
        installation_id: int,
        url: str,
        *,
        url_vars: Mapping[str, Any] | None = None,
        action: str,
        repo: str | None = None,
    ) -> list[Any]:
        """A paginated GET, every page collected (retried as a whole)."""
        variables = dict(url_vars or {})

        async def call(token: str) -> list[Any]:
            return [item async for item in self._gh.getiter(url, variables, oauth_token=token)]

        with tracing.forge_span("GET", url):
            return await self._with_token(installation_id, call, action, repo)

    async def app_api(
        self, method: str, url: str, *, url_vars: Mapping[str, Any] | None = None, action: str
    ) -> Any:
        """A call as the app itself (JWT): `GET /app`, `GET /repos/{repo}/installation`."""
        variables = dict(url_vars or {})

        async def call() -> Any:
            if method == "GET":
                return await self._gh.getitem(url, variables, jwt=self.jwt())
            return await self._gh.post(url, variables, data=b"", jwt=self.jwt())

        with tracing.forge_span(method, url):
            return await call_with_retries(call, action=action, policy=self.retry)

    async def hook_deliveries(self, since: float) -> list[dict[str, Any]]:
        """The App webhook's deliveries from `since` (epoch seconds) on, newest first."""

        async def call() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            pages = self._gh.getiter("/app/hook/deliveries?per_page=100", jwt=self.jwt())
            async for delivery in pages:
                when = datetime.fromisoformat(str(delivery["delivered_at"]).replace("Z", "+00:00"))
                if when.timestamp() < since:
                    break
                found.append(delivery)
            return found

        return await call_with_retries(call, action="list webhook deliveries", policy=self.retry)

    async def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to send a delivery again (a new attempt with the same guid)."""
        await self.app_api(
            "POST",
            "/app/hook/deliveries/{delivery_id}/attempts",
            url_vars={"delivery_id": delivery_id},
            action=f"redeliver webhook delivery {delivery_id}",
        )

    async def get_app(self) -> dict[str, Any]:
        """`GET /app`: the app's id, slug and name (checks the JWT and key)."""
        answer: dict[str, Any] = await self.app_api("GET", "/app", action="read the app")
        return answer

    async def installation_for_repo(self, repo: str) -> int:
        """The installation id of the app on `owner/name`."""
        owner, name = repo.split("/", 1)
        answer = await self.app_api(
            "GET",
            "/repos/{owner}/{name}/installation",
            url_vars={"owner": owner, "name": name},
            action=f"find the installation on {repo}",
        )
        return int(answer["id"])
