"""`GitHubSim`: the resources put together, and the ASGI side that answers requests."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# The resource modules register their API routes on import, in this order.
from tests.sim.github import (  # noqa: F401
    app_api,
    checks,
    issues,
    oauth,
    pulls,
    repos,
    reviews,
    webhooks,
)
from tests.sim.github.auth import auth_kind, authenticate
from tests.sim.github.git import GIT_PATH, serve_git
from tests.sim.github.http import ROUTES, error_response, fault_response, json_response
from tests.sim.github.state import Call
from tests.sim.skeleton import LoggedRequest, SimError, answer_with_fault, logged_status


class GitHubSim(
    repos.ReposSetup,
    pulls.PullsSetup,
    reviews.ReviewsReading,
    checks.ChecksReading,
    webhooks.Webhooks,
    oauth.OAuthState,
):
    """In-memory GitHub with real git repositories under `root`. See the package docs."""

    def __init__(
        self,
        root: Path,
        *,
        app_id: int = 1,
        slug: str = "agentops",
        private_key_pem: str | None = None,
        public_key_pem: str | None = None,
        api_prefix: str = "",
        token_ttl: float = 3600.0,
        user_token_ttl: float = 28800.0,
    ) -> None:
        super().__init__(
            root,
            app_id=app_id,
            slug=slug,
            private_key_pem=private_key_pem,
            public_key_pem=public_key_pem,
            api_prefix=api_prefix,
            token_ttl=token_ttl,
        )
        self._init_oauth(user_token_ttl)
        self._app = Starlette(
            routes=[
                Route("/login/oauth/authorize", self._authorize),
                Route("/login/oauth/access_token", self._access_token, methods=["POST"]),
                Route(
                    "/settings/apps/new",
                    self._new_app_from_manifest,
                    methods=["POST"],
                ),
                Route(
                    "/{path:path}",
                    self._endpoint,
                    methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                ),
            ]
        )

    @property
    def app(self) -> Starlette:
        return self._app

    async def _authorize(self, request: Request) -> Response:
        return await oauth.authorize(self, request)

    async def _access_token(self, request: Request) -> Response:
        raw = await request.body()  # kept by the request: the handler reads it again
        fault = self._take_fault(
            request.method, request.url.path, [raw.decode("utf-8", errors="replace")]
        )
        return await answer_with_fault(
            fault, lambda: oauth.access_token(self, request), fault_response
        )

    async def _new_app_from_manifest(self, request: Request) -> Response:
        return await app_api.new_app_from_manifest(self, request)

    async def _endpoint(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        root_path = str(request.scope.get("root_path", "")).rstrip("/")
        web = str(request.url.replace(path=root_path + "/", query="", fragment=""))
        raw = await request.body()
        fault = self._take_fault(
            request.method,
            self._api_path(path) or path,
            [raw.decode("utf-8", errors="replace")],
        )

        async def handle() -> Response:
            try:
                git = GIT_PATH.match(path)
                if git is not None:
                    repo = git["owner"] + "/" + git["name"]
                    return await serve_git(self, request, repo, git["rest"])
                return await self._api(request, path, web)
            except SimError as exc:
                return error_response(exc)

        response = await answer_with_fault(fault, handle, fault_response)
        # GitHub's own answers, errors included, carry it; a proxy's do not
        response.headers["x-github-request-id"] = f"SIM:{len(self.requests):08X}"
        auth = auth_kind(request.headers.get("authorization", ""))
        self._record(
            LoggedRequest(request.method, path, request.url.query, logged_status(response), auth)
        )
        return response

    async def _api(self, request: Request, path: str, web: str) -> Response:
        api_path = self._api_path(path)
        if api_path is None:
            raise SimError(404, "Not Found")
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise SimError(400, "Problems parsing JSON") from None
        found = ROUTES.match(request.method, api_path)
        if found is None:
            raise SimError(404, "Not Found")
        entry, params = found
        _, _, credential = request.headers.get("authorization", "").partition(" ")
        user = self.user_of_token(credential.strip()) if entry.auth == "token" else None
        if user is not None and request.method != "GET":
            raise SimError(403, "Resource not accessible by integration")
        with self._lock:
            call = Call(
                request.method,
                api_path,
                params,
                dict(request.query_params),
                body,
                request.headers.get("accept", ""),
                None if user is not None else authenticate(self, request, entry.auth),
                web,
                web.rstrip("/") + self.api_prefix,
                user,
            )
            if "owner" in params and "repo" in params and entry.auth == "token":
                self._visible_repo(call)
            result = entry.handler(self, call)
        if isinstance(result, Response):
            return result
        status, data = result
        return json_response(status, data)
