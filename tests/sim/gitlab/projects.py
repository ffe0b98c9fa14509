"""Users, projects, members and branches: set-up, and the API's endpoints for them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response

from tests.sim.git_http import commit_files, init_bare_repo, rev_parse
from tests.sim.gitlab.http import PROJECT, Call, page, route
from tests.sim.gitlab.shapes import member_json, project_json
from tests.sim.gitlab.state import GitLabState, SimProject, not_found

if TYPE_CHECKING:
    from tests.sim.gitlab.app import GitLabSim

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Sim",
    "GIT_AUTHOR_EMAIL": "sim@example.invalid",
    "GIT_COMMITTER_NAME": "Sim",
    "GIT_COMMITTER_EMAIL": "sim@example.invalid",
}


class ProjectsSetup(GitLabState):
    """Projects (real bare repositories), their members, and commits pushed into them."""

    def add_project(
        self,
        path: str,
        files: dict[str, str],
        default_branch: str = "main",
        visibility: str = "private",
        bot_access: int | None = 40,
    ) -> SimProject:
        bare = init_bare_repo(self.git_root, path, files, branch=default_branch)
        project = SimProject(next(self._ids), path, default_branch, visibility, bare)
        self.projects[project.id] = project
        if bot_access is not None:
            project.members[self.bot.id] = bot_access
        return project

    def set_access(self, project: str | SimProject, username: str, level: int | None) -> None:
        proj = self.project(project)
        user = self.users[username]
        if level is None:
            proj.members.pop(user.id, None)
        else:
            proj.members[user.id] = level

    def push_files(
        self,
        project: str | SimProject,
        branch: str,
        files: dict[str, str],
        message: str = "change",
        base: str | None = None,
    ) -> str:
        """Commit `files` onto `branch` (created from `base`, default branch by default)."""
        proj = self.project(project)
        start = rev_parse(proj.bare, f"refs/heads/{branch}") and branch
        (self.root / ".push").mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.root / ".push") as work:
            return commit_files(
                proj.bare,
                Path(work),
                start or base or proj.default_branch,
                branch,
                files,
                message=message,
                env={**os.environ, **GIT_ENV},
            )

    def head_sha(self, project: str | SimProject, branch: str | None = None) -> str | None:
        proj = self.project(project)
        return rev_parse(proj.bare, f"refs/heads/{branch or proj.default_branch}")


@route("GET", "/user")
def _current_user(sim: GitLabSim, call: Call) -> Response:
    user = call.user
    return JSONResponse({**user.json(call.base), "is_admin": user.admin, "bot": user is sim.bot})


@route("GET", "/users")
def _users(sim: GitLabSim, call: Call) -> Response:
    wanted = call.data.get("username")
    found = [
        u.json(call.base)
        for u in sim.users.values()
        if not wanted or u.username.lower() == str(wanted).lower()
    ]
    return page(call.request, found)


@route("GET", "/projects")
def _projects(sim: GitLabSim, call: Call) -> Response:
    user = call.user
    member_only = str(call.data.get("membership", "")).lower() == "true"
    min_level = int(str(call.data.get("min_access_level") or 0) or 0)
    found = [
        project_json(sim, p, call.base)
        for p in sim.projects.values()
        if (p.visibility != "private" or user.admin or p.members.get(user.id))
        and (not member_only or p.members.get(user.id, 0) > 0)
        and p.members.get(user.id, 50 if user.admin else 0) >= min_level
    ]
    return page(call.request, found)


@route("GET", PROJECT)
def _project(sim: GitLabSim, call: Call) -> Response:
    out = project_json(sim, call.proj, call.base)
    level = call.proj.members.get(call.user.id)
    out["permissions"] = {
        "project_access": {"access_level": level, "notification_level": 3} if level else None,
        "group_access": None,
    }
    return JSONResponse(out)


@route("GET", PROJECT + "/members/all")
def _members_all(sim: GitLabSim, call: Call) -> Response:
    query = str(call.data.get("query") or "").lower()
    given = call.request.query_params
    ids = {int(x) for x in given.getlist("user_ids[]") + given.getlist("user_ids") if x.isdigit()}
    members = []
    for uid, level in call.proj.members.items():
        member = member_json(sim, uid, level, call.base)
        if (
            query
            and query not in member["username"].lower()
            and query not in member["name"].lower()
        ):
            continue
        if ids and uid not in ids:
            continue
        members.append(member)
    return page(call.request, members)


@route("GET", PROJECT + "/members/all/{uid:int}")
def _member_all(sim: GitLabSim, call: Call) -> Response:
    uid = int(call.params["uid"])
    level = call.proj.members.get(uid)
    if level is None:
        raise not_found()
    return JSONResponse(member_json(sim, uid, level, call.base))


@route("GET", PROJECT + "/repository/branches/{branch:path}")
def _branch(sim: GitLabSim, call: Call) -> Response:
    proj, branch = call.proj, call.params["branch"]
    sha = rev_parse(proj.bare, f"refs/heads/{branch}")
    if not sha:
        raise not_found("Branch")
    return JSONResponse(
        {
            "name": branch,
            "merged": False,
            "protected": False,
            "default": branch == proj.default_branch,
            "web_url": f"{sim._web_url(proj, call.base)}/-/tree/{branch}",
            "commit": {"id": sha, "short_id": sha[:8]},
        }
    )
