"""Who a request is: personal access tokens (`PRIVATE-TOKEN`, `Bearer`, or git's Basic
password) and what they may see."""

from __future__ import annotations

from starlette.requests import Request

from tests.sim.gitlab.state import GitLabState, SimProject, SimUser, not_found
from tests.sim.skeleton import basic_password


def _user_of(sim: GitLabState, token: str | None) -> SimUser | None:
    return next((u for u in sim.users.values() if token and u.token == token), None)


def token_user(sim: GitLabState, request: Request) -> SimUser | None:
    token = request.headers.get("private-token") or ""
    auth = request.headers.get("authorization", "")
    if not token and auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    return _user_of(sim, token)


def basic_user(sim: GitLabState, header: str) -> SimUser | None:
    """The user whose token git sent as its Basic password (any user name)."""
    return _user_of(sim, basic_password(header))


def access_level(proj: SimProject, user: SimUser) -> int:
    return 50 if user.admin else proj.members.get(user.id, 0)


def find_project(sim: GitLabState, ref: str, user: SimUser) -> SimProject:
    """The project `:id` names, if `user` may see it (404 as GitLab says otherwise)."""
    try:
        proj = sim.project(ref)
    except KeyError:
        raise not_found("Project") from None
    if proj.visibility == "private" and not user.admin and proj.members.get(user.id, 0) < 10:
        raise not_found("Project")
    return proj
