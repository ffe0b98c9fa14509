"""`GitLabSim`: the resources put together, the fault controls, and the ASGI side."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The resource modules register their API routes on import, in this order.
from tests.sim.gitlab import (
    discussions,
    hooks,
    issues,
    merge_requests,
    notes,
    oauth,
    projects,
    statuses,
    webhooks,
)
from tests.sim.gitlab.auth import find_project, token_user
from tests.sim.gitlab.git import serve_git
from tests.sim.gitlab.http import ROUTES, Call, fault_response, params_of
from tests.sim.gitlab.state import GitLabFault, SimUser
from tests.sim.skeleton import LoggedRequest, SimError, answer_with_fault, logged_status


class GitLabSim(
    projects.ProjectsSetup,
    issues.IssuesSetup,
    merge_requests.MergeRequestsSetup,
    notes.NotesSetup,
    discussions.DiscussionsReading,
    statuses.StatusesReading,
    webhooks.Webhooks,
    hooks.ProjectHooks,
    oauth.OAuthState,
):
    """In-memory GitLab; `.app` is the Starlette application to serve."""

    def __init__(
        self,
        root: Path,
        bot_username: str = "agentops-bot",
        bot_token: str = "glpat-simbot0000000000000000",  # noqa: S107
    ) -> None:
        super().__init__(root, bot_username, bot_token)
        self._init_oauth()
        self._init_hooks()
        self.app = Starlette(
            routes=[
                Route("/oauth/authorize", self._authorize),
                Route("/oauth/token", self._token, methods=["POST"]),
                Route("/api/v4/{rest:path}", self._api, methods=["GET", "POST", "PUT", "DELETE"]),
                Route("/{rest:path}", self._git, methods=["GET", "POST"]),
            ]
        )

    # --- faults --------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int = 500,
        times: int = 1,
        retry_after: float | None = None,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        applied: bool = False,
        body_contains: str | None = None,
    ) -> None:
        self._add_fault(
            method,
            path_regex,
            times,
            status=status,
            retry_after=retry_after,
            message=message,
            headers=dict(headers or {}),
            applied=applied,
            body_contains=body_contains,
        )

    def delay(
        self,
        method: str,
        path_regex: str,
        seconds: float,
        times: int = 1,
        *,
        applied: bool = False,
        body_contains: str | None = None,
    ) -> None:
        self._add_fault(
            method,
            path_regex,
            times,
            status=0,
            delay=seconds,
            applied=applied,
            body_contains=body_contains,
        )

    def drop(
        self,
        method: str,
        path_regex: str,
        times: int = 1,
        *,
        applied: bool = False,
        body_contains: str | None = None,
    ) -> None:
        self._add_fault(
            method,
            path_regex,
            times,
            status=0,
            drop=True,
            applied=applied,
            body_contains=body_contains,
        )

    def _add_fault(self, method: str, path_regex: str, times: int, **kind: Any) -> None:
        fault = GitLabFault(re.compile(path_regex), times, method=method.upper(), **kind)
        with self._lock:
            self._faults.append(fault)

    # --- the ASGI side -------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        if not self.base_url:
            self.base_url = str(request.base_url).rstrip("/")
        return await oauth.authorize(self, request)

    async def _token(self, request: Request) -> Response:
        return await oauth.token(self, request)

    async def _git(self, request: Request) -> Response:
        return await serve_git(self, request)

    async def _api(self, request: Request) -> Response:
        raw = request.scope.get("raw_path") or request.url.path.encode()
        rel_raw = raw.decode("latin-1").split("?", 1)[0].split("/api/v4", 1)[1] or "/"
        rel = unquote(rel_raw)
        base = str(request.base_url).rstrip("/")
        if not self.base_url:
            self.base_url = base
        data = await params_of(request)
        user = token_user(self, request)
        scopes: frozenset[str] | None = None  # None: a personal access token (all its user's)
        bearer = request.headers.get("authorization", "")
        if user is None and bearer.lower().startswith("bearer "):
            found = oauth.oauth_user(self, bearer[7:].strip())
            user, scopes = found if found is not None else (None, None)
        fault = self._take_fault(request.method, rel, [str(v) for v in data.values()])

        async def handle() -> Response:
            if scopes is not None and request.method != "GET" and "api" not in scopes:
                return JSONResponse(
                    {
                        "error": "insufficient_scope",
                        "error_description": "The request requires higher privileges than "
                        "provided by the access token.",
                        "scope": "api",
                    },
                    403,
                )
            return self._dispatch(request, rel_raw, user, data, base)

        response = await answer_with_fault(fault, handle, fault_response)
        name = user.username if user else None
        status = logged_status(response)
        self._record(
            LoggedRequest(request.method, rel, request.url.query, status, user=name, body=data)
        )
        return response

    def _dispatch(
        self, request: Request, rel_raw: str, user: SimUser | None, data: dict[str, Any], base: str
    ) -> Response:
        if user is None:
            return JSONResponse({"message": "401 Unauthorized"}, 401)
        found = ROUTES.match(request.method, rel_raw)
        if found is None:
            return JSONResponse({"error": "404 Not Found"}, 404)
        entry, params = found
        params = {k: unquote(v) for k, v in params.items()}
        call = Call(request, user, data, base, params)
        try:
            if "pid" in params:
                call.found_project = find_project(self, params.pop("pid"), user)
            return entry.handler(self, call)
        except SimError as exc:
            return JSONResponse({"message": exc.message}, exc.status, headers=exc.headers)
