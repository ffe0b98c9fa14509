"""Merge requests (also from forks): set-up, reading, and the API (list, open, read,
update, changes, diffs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from tests.sim.git_http import rev_parse
from tests.sim.gitlab.http import PROJECT, Call, labels_of, page, route
from tests.sim.gitlab.shapes import changes, mr_json
from tests.sim.gitlab.state import GitLabState, SimProject, SimUser, now
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from tests.sim.gitlab.app import GitLabSim

MR = PROJECT + "/merge_requests/{iid:int}"


def create_mr(
    sim: GitLabState, proj: SimProject, user: SimUser, data: dict[str, Any]
) -> dict[str, Any]:
    source = str(data.get("source_branch") or "")
    target = str(data.get("target_branch") or "")
    title = str(data.get("title") or "")
    if not source or not target or not title:
        missing = [k for k in ("source_branch", "target_branch", "title") if not data.get(k)]
        raise SimError(400, f"{', '.join(missing)} is missing")
    source_proj = proj
    if data.get("source_project_id"):
        source_proj = sim.project(int(data["source_project_id"]))
    if not rev_parse(source_proj.bare, f"refs/heads/{source}"):
        raise SimError(400, [f'Source branch "{source}" does not exist'])
    if not rev_parse(proj.bare, f"refs/heads/{target}"):
        raise SimError(400, [f'Target branch "{target}" does not exist'])
    for other in proj.merge_requests.values():
        if (
            other["source_branch"] == source
            and other["state"] == "opened"
            and other["source_project_id"] == source_proj.id
        ):
            raise SimError(
                409,
                [
                    "Another open merge request already exists for "
                    f"this source branch: !{other['iid']}"
                ],
            )
    iid = proj.next_iid["merge_request"]
    proj.next_iid["merge_request"] += 1
    mr = {
        "id": next(sim._ids),
        "iid": iid,
        "title": title,
        "description": str(data.get("description") or ""),
        "state": "opened",
        "source_branch": source,
        "target_branch": target,
        "source_project_id": source_proj.id,
        "target_project_id": proj.id,
        "labels": labels_of(data),
        "author": user.json(sim.base_url),
        "created_at": now(),
        "updated_at": now(),
        "_type": "MergeRequest",
        "remove_source_branch": bool(data.get("remove_source_branch")),
    }
    proj.merge_requests[iid] = mr
    return mr_json(sim, proj, mr)


class MergeRequestsSetup(GitLabState):
    def add_merge_request(
        self,
        project: str | SimProject,
        source_branch: str,
        target_branch: str | None = None,
        title: str = "Change",
        author: str | None = None,
        description: str = "",
        source_project: str | None = None,
    ) -> dict[str, Any]:
        """Open a merge request; `source_project` (a fork's path) defaults to `project`."""
        proj = self.project(project)
        data: dict[str, Any] = {
            "source_branch": source_branch,
            "target_branch": target_branch or proj.default_branch,
            "title": title,
            "description": description,
        }
        if source_project is not None:
            data["source_project_id"] = self.project(source_project).id
        return create_mr(self, proj, self._author(author), data)

    def merge_requests(self, project: str | SimProject) -> list[dict[str, Any]]:
        proj = self.project(project)
        return [mr_json(self, proj, mr) for mr in proj.merge_requests.values()]


def the_mr(sim: GitLabState, call: Call) -> dict[str, Any]:
    return sim._awardable(call.proj, "merge_request", call.iid)


@route("GET", PROJECT + "/merge_requests")
def _list_mrs(sim: GitLabSim, call: Call) -> Response:
    data, state = call.data, call.data.get("state", "all")
    found = []
    for mr in reversed(list(call.proj.merge_requests.values())):
        if state not in ("all", mr["state"]):
            continue
        if data.get("source_branch") and mr["source_branch"] != data["source_branch"]:
            continue
        if data.get("target_branch") and mr["target_branch"] != data["target_branch"]:
            continue
        found.append(mr_json(sim, call.proj, mr, call.base))
    return page(call.request, found)


@route("POST", PROJECT + "/merge_requests")
def _create_mr(sim: GitLabSim, call: Call) -> Response:
    return JSONResponse(create_mr(sim, call.proj, call.user, call.data), 201)


@route("GET", MR)
def _get_mr(sim: GitLabSim, call: Call) -> Response:
    return JSONResponse(mr_json(sim, call.proj, the_mr(sim, call), call.base))


@route("PUT", MR)
def _update_mr(sim: GitLabSim, call: Call) -> Response:
    mr, data = the_mr(sim, call), call.data
    for key in ("title", "description", "target_branch"):
        if data.get(key) is not None:
            mr[key] = str(data[key])
    if data.get("state_event") == "close":
        mr["state"] = "closed"
    elif data.get("state_event") == "reopen":
        mr["state"] = "opened"
    mr["updated_at"] = now()
    return JSONResponse(mr_json(sim, call.proj, mr, call.base))


@route("GET", MR + "/changes")
def _mr_changes(sim: GitLabSim, call: Call) -> Response:
    mr = the_mr(sim, call)
    out = mr_json(sim, call.proj, mr, call.base)
    out["changes"] = changes(sim, call.proj, mr)
    out["changes_count"] = str(len(out["changes"]))
    out["overflow"] = False
    return JSONResponse(out)


@route("GET", MR + "/diffs")
def _mr_diffs(sim: GitLabSim, call: Call) -> Response:
    return page(call.request, changes(sim, call.proj, the_mr(sim, call)))
