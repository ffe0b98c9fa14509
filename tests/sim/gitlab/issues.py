"""Issues and the resource label events of issues and merge requests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from tests.sim.gitlab.http import KINDS, PROJECT, Call, labels_of, page, route
from tests.sim.gitlab.shapes import issue_json
from tests.sim.gitlab.state import GitLabState, SimProject, SimUser, kind_of, now
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from tests.sim.gitlab.app import GitLabSim


def record_label_events(
    sim: GitLabState,
    proj: SimProject,
    obj: dict[str, Any],
    user: SimUser,
    titles: list[str],
    action: str,
) -> None:
    """GitLab's resource label events: who added or removed which label, when."""
    kind = "issue" if obj["_type"] == "Issue" else "merge_request"
    events = sim._label_events.setdefault((proj.id, kind, int(obj["iid"])), [])
    for title in titles:
        label_id = proj.labels.setdefault(title, next(sim._ids))
        events.append(
            {
                "id": next(sim._ids),
                "user": user.json(sim.base_url),
                "created_at": now(),
                "resource_type": obj["_type"],
                "resource_id": obj["id"],
                "label": {"id": label_id, "name": title, "color": "#428BCA", "description": None},
                "action": action,
            }
        )


def create_issue(
    sim: GitLabState,
    proj: SimProject,
    user: SimUser,
    title: str,
    description: str,
    labels: list[str],
) -> dict[str, Any]:
    iid = proj.next_iid["issue"]
    proj.next_iid["issue"] += 1
    issue = {
        "id": next(sim._ids),
        "iid": iid,
        "title": title,
        "description": description,
        "state": "opened",
        "labels": labels,
        "author": user.json(sim.base_url),
        "created_at": now(),
        "updated_at": now(),
        "_type": "Issue",
    }
    proj.issues[iid] = issue
    record_label_events(sim, proj, issue, user, list(labels), "add")
    return issue_json(sim, proj, issue)


class IssuesSetup(GitLabState):
    def add_issue(
        self,
        project: str | SimProject,
        title: str,
        description: str = "",
        author: str | None = None,
        labels: Iterable[str] = (),
    ) -> dict[str, Any]:
        proj = self.project(project)
        return create_issue(self, proj, self._author(author), title, description, list(labels))

    def issues(self, project: str | SimProject) -> list[dict[str, Any]]:
        proj = self.project(project)
        return [issue_json(self, proj, i) for i in proj.issues.values()]

    def label_events(self, project: str | SimProject, kind: str, iid: int) -> list[dict[str, Any]]:
        return list(self._label_events.get((self.project(project).id, kind_of(kind), iid), []))


@route("GET", PROJECT + "/issues")
def _list_issues(sim: GitLabSim, call: Call) -> Response:
    state = call.data.get("state", "all")
    found = [
        issue_json(sim, call.proj, i, call.base)
        for i in call.proj.issues.values()
        if state in ("all", i["state"])
    ]
    return page(call.request, list(reversed(found)))


@route("POST", PROJECT + "/issues")
def _create_issue(sim: GitLabSim, call: Call) -> Response:
    if not call.data.get("title"):
        raise SimError(400, "title is missing")
    title, description = str(call.data["title"]), str(call.data.get("description") or "")
    issue = create_issue(sim, call.proj, call.user, title, description, labels_of(call.data))
    return JSONResponse(issue, 201)


@route("GET", PROJECT + "/issues/{iid:int}")
def _get_issue(sim: GitLabSim, call: Call) -> Response:
    issue = sim._awardable(call.proj, "issue", call.iid)
    return JSONResponse(issue_json(sim, call.proj, issue, call.base))


@route("GET", KINDS + "/resource_label_events")
def _label_events(sim: GitLabSim, call: Call) -> Response:
    kind = kind_of(call.params["kind"])
    sim._awardable(call.proj, kind, call.iid)
    return page(call.request, list(sim._label_events.get((call.proj.id, kind, call.iid), [])))
