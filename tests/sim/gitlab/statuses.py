"""Commit statuses, with GitLab's state machine (a status moves only as GitLab allows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from tests.sim.gitlab.diffs import sha_exists
from tests.sim.gitlab.http import PROJECT, Call, page, route
from tests.sim.gitlab.state import GitLabState, SimProject, SimUser, not_found, now
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from tests.sim.gitlab.app import GitLabSim

# GitLab's commit status state machine (Ci::HasStatus): event -> states it may leave.
_EVENT_FROM = {
    "enqueue": {"created", "skipped", "manual", "scheduled"},
    "run": {"pending"},
    "succeed": {"created", "pending", "running"},
    "drop": {"created", "pending", "running"},
    "cancel": {"created", "pending", "running"},
}
_EVENT_TO = {
    "enqueue": "pending",
    "run": "running",
    "succeed": "success",
    "drop": "failed",
    "cancel": "canceled",
}
_STATE_EVENTS = {
    "pending": ["enqueue"],
    "running": ["enqueue?", "run"],
    "success": ["succeed"],
    "failed": ["drop"],
    "canceled": ["cancel"],
}


class StatusesReading(GitLabState):
    def statuses(self, project: str | SimProject, sha: str) -> list[dict[str, Any]]:
        return list(self._statuses.get((self.project(project).id, sha), []))


def _moved(status: str, state: str) -> str:
    """Where the events that lead to `state` take a status now in `status`."""
    for event in _STATE_EVENTS[state]:
        optional = event.endswith("?")
        event = event.rstrip("?")
        if status not in _EVENT_FROM[event]:
            if optional:
                continue
            raise SimError(
                400,
                f"Cannot transition status via :{event} from "
                f":{status} (Reason(s): Status cannot transition "
                f'via "{event}")',
            )
        status = _EVENT_TO[event]
    return status


def set_status(
    sim: GitLabState, proj: SimProject, sha: str, user: SimUser, data: dict[str, Any]
) -> dict[str, Any]:
    state = str(data.get("state") or "")
    if state not in _STATE_EVENTS:
        raise SimError(400, "state does not have a valid value")
    if not sha_exists(proj.bare, sha):
        raise not_found("Commit")
    name = str(data.get("name") or data.get("context") or "default")
    ref = str(data.get("ref") or proj.default_branch)
    statuses = sim._statuses.setdefault((proj.id, sha), [])
    current = next(
        (
            s
            for s in reversed(statuses)
            if s["name"] == name and s["ref"] == ref and s["status"] in ("pending", "running")
        ),
        None,
    )
    fresh = current is None
    if current is None:
        current = {
            "id": next(sim._ids),
            "sha": sha,
            "ref": ref,
            "status": "created",
            "name": name,
            "target_url": None,
            "description": None,
            "created_at": now(),
            "started_at": None,
            "finished_at": None,
            "allow_failure": False,
            "coverage": None,
            "pipeline_id": 1,
            "author": user.json(sim.base_url),
        }
    status = _moved(current["status"], state)
    current["status"] = status
    for key in ("target_url", "description", "coverage"):
        if data.get(key) is not None:
            current[key] = data[key]
    if status == "running" and not current["started_at"]:
        current["started_at"] = now()
    if status in ("success", "failed", "canceled"):
        current["finished_at"] = now()
    if fresh:
        statuses.append(current)
    return dict(current)


@route("POST", PROJECT + "/statuses/{sha:hex}")
def _post_status(sim: GitLabSim, call: Call) -> Response:
    user = call.user
    if call.proj.members.get(user.id, 0) < 30 and not user.admin:
        raise SimError(403, "403 Forbidden")
    return JSONResponse(set_status(sim, call.proj, call.params["sha"], user, call.data), 201)


@route("GET", PROJECT + "/repository/commits/{sha}/statuses")
def _list_statuses(sim: GitLabSim, call: Call) -> Response:
    found = list(sim._statuses.get((call.proj.id, call.params["sha"]), []))
    if call.data.get("name"):
        found = [s for s in found if s["name"] == call.data["name"]]
    return page(call.request, found)
