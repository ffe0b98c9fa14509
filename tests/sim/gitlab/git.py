"""Git over smart HTTP at `{base}/{path}.git/...`: HTTP Basic with a token as password;
fetching a private project needs Reporter (20), pushing needs Developer (30)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.sim.git_http import git_http_backend
from tests.sim.gitlab.auth import access_level, basic_user
from tests.sim.gitlab.state import GitLabState
from tests.sim.skeleton import LoggedRequest

GIT_PATH = re.compile(r"^/(?P<repo>.+?)\.git(?P<rest>/.*)$")


async def serve_git(sim: GitLabState, request: Request) -> Response:
    path = request.url.path
    match = GIT_PATH.match(path)
    if not match:
        return JSONResponse({"error": "404 Not Found"}, 404)
    user = basic_user(sim, request.headers.get("authorization", ""))
    service = request.query_params.get("service", "")
    pushing = match["rest"].endswith("git-receive-pack") or service == "git-receive-pack"

    def answered(response: Response) -> Response:
        name = user.username if user else None
        status = response.status_code
        sim._record(LoggedRequest(request.method, path, request.url.query, status, user=name))
        return response

    if user is None:
        challenge = {"WWW-Authenticate": 'Basic realm="GitLab"'}
        return answered(Response("HTTP Basic: Access denied\n", 401, headers=challenge))
    try:
        proj = sim.project(match["repo"])
    except KeyError:
        return answered(Response("Not Found\n", 404))
    needed = 30 if pushing else (0 if proj.visibility == "public" else 20)
    if access_level(proj, user) < needed:
        return answered(Response("You are not allowed to do this.\n", 403))
    return answered(
        await git_http_backend(
            request, sim.git_root, f"/{proj.path}.git{match['rest']}", user.username
        )
    )
