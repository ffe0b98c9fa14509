"""`GitLabClient`: python-gitlab set up for AgentOps, and the plumbing every call uses.

Build it from the process settings: it reads `gitlab_url`, `gitlab_token`,
`gitlab_bot_username` and `forge_timeout_seconds`. python-gitlab blocks, so every call
goes through `_call` (`call_with_retries` in app/forges/gitlab/errors.py): a thread, the
client's own timeout and an `asyncio.wait_for`, bounded retries of 5xx/network faults
(one try when the caller passes `ONE_TRY`), 429 -> `ForgeRateLimited`,
401/403 -> `ForgeAccessError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import gitlab
import requests

from app import tracing
from app.config import Settings
from app.forges.base import Comment, ForgeError, Target
from app.forges.gitlab.errors import call_with_retries, raise_on_rate_limit
from app.forges.gitlab.format import basic_auth_header, username_of
from app.forges.retry import RetryPolicy
from app.metrics.forges import requests_hook
from app.redaction import register_secret

T = TypeVar("T")


class GitLabClient:
    """One GitLab instance, as the configured bot user."""

    def __init__(
        self, settings: Settings, *, retry: RetryPolicy | None = None, timeout: float | None = None
    ) -> None:
        token = settings.gitlab_token.get_secret_value() if settings.gitlab_token else ""
        if not settings.gitlab_url or not token:
            raise ForgeError(
                "GitLab is not configured: set AGENTOPS_GITLAB_URL and AGENTOPS_GITLAB_TOKEN"
            )
        self.url = settings.gitlab_url.rstrip("/")
        self.bot_username = settings.gitlab_bot_username
        self._token = token
        register_secret(token)
        self._basic = basic_auth_header(token)
        register_secret(self._basic.split()[-1])
        self._timeout = timeout if timeout is not None else settings.forge_timeout_seconds
        self._retry = retry or RetryPolicy()
        session = requests.Session()
        session.hooks["response"].append(requests_hook("gitlab"))
        session.hooks["response"].append(raise_on_rate_limit)
        self._gl = gitlab.Gitlab(
            self.url,
            private_token=token,
            timeout=self._timeout,
            session=session,
            retry_transient_errors=False,
            keep_base_url=True,
            user_agent="AgentOps",
        )

    async def _call(self, action: str, fn: Callable[[], T], policy: RetryPolicy | None = None) -> T:
        return await call_with_retries(
            fn,
            action=action,
            time_budget=self._timeout,
            policy=policy or self._retry,
            secrets=[self._token],
        )

    def _get(self, path: str, **query: Any) -> dict[str, Any]:
        with tracing.forge_span("GET", path):
            data = self._gl.http_get(path, query_data=query or None)
        if not isinstance(data, dict):
            raise ForgeError(f"GitLab answered GET {path} with something other than JSON")
        return data

    def _list(self, path: str, **query: Any) -> list[dict[str, Any]]:
        with tracing.forge_span("GET", path):
            data = self._gl.http_list(path, query_data=query, get_all=True, per_page=100)
        return [item for item in data if isinstance(item, dict)]

    def _first(
        self, path: str, wanted: Callable[[dict[str, Any]], bool], **query: Any
    ) -> dict[str, Any] | None:
        """The first listed item that is `wanted`, reading pages only as far as needed."""
        with tracing.forge_span("GET", path):
            for item in self._gl.http_list(path, query_data=query, iterator=True, per_page=100):
                if isinstance(item, dict) and wanted(item):
                    return item
        return None

    def _post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        with tracing.forge_span("POST", path):
            result = self._gl.http_post(path, post_data=data)
        return result if isinstance(result, dict) else {}

    def _put(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        with tracing.forge_span("PUT", path):
            result = self._gl.http_put(path, post_data=data)
        return result if isinstance(result, dict) else {}

    @staticmethod
    def _project(repo: str) -> str:
        return f"/projects/{quote(repo, safe='')}"

    def _noteable(self, target: Target) -> str:
        kind = "merge_requests" if target.kind == "pull_request" else "issues"
        return f"{self._project(target.repo)}/{kind}/{target.number}"

    def _note_url(self, target: Target, note_id: int) -> str:
        kind = "merge_requests" if target.kind == "pull_request" else "issues"
        return f"{self.url}/{target.repo}/-/{kind}/{target.number}#note_{note_id}"

    def _comment(self, target: Target, data: dict[str, Any]) -> Comment:
        note_id = int(data.get("id", 0))
        return Comment(
            id=note_id,
            body=str(data.get("body") or ""),
            author=username_of(data.get("author")),
            url=self._note_url(target, note_id),
        )

    def _where(self, target: Target) -> str:
        sign = "!" if target.kind == "pull_request" else "#"
        return f"{target.repo}{sign}{target.number}"

    async def current_username(self) -> str:
        """The bot's user name: from settings, else asked of GitLab (`GET /user`)."""
        if not self.bot_username:
            data = await self._call("read the bot user", lambda: self._get("/user"))
            self.bot_username = str(data.get("username", ""))
        return self.bot_username

    async def aclose(self) -> None:
        self._gl.session.close()
