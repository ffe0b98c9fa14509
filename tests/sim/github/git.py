"""Git over smart HTTP at `{base}/{owner}/{name}.git/...`, for installation tokens."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from tests.sim.git_http import git_http_backend
from tests.sim.github.auth import token_installation
from tests.sim.github.state import GitHubState
from tests.sim.skeleton import basic_password

GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)\.git(?P<rest>/.*)$")


def git_token(header: str) -> str | None:
    """The token git sends: `Bearer <token>` or the password of HTTP Basic."""
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "bearer":
        return credential.strip() or None
    return basic_password(header)


async def serve_git(sim: GitHubState, request: Request, repo: str, rest: str) -> Response:
    token = git_token(request.headers.get("authorization", ""))
    with sim._lock:
        sim_repo = sim._repos.get(repo)
        installation = token_installation(sim, token) if token else None
    if installation is None:
        return Response(
            "Invalid username or token.\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="GitHub"'},
        )
    if sim_repo is None or sim_repo.installation_id != installation.id:
        return Response("Repository not found.\n", status_code=404)
    return await git_http_backend(
        request, sim.git_root, f"/{repo}.git{rest}", sim.bot_login, sim.git_server_config
    )
