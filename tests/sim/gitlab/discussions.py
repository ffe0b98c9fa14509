"""Discussions on issues and merge requests; on a merge request a diff note's position
is checked against the diff as GitLab does."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from tests.sim.gitlab.diffs import checked_position
from tests.sim.gitlab.http import KINDS, Call, page, route
from tests.sim.gitlab.merge_requests import the_mr
from tests.sim.gitlab.notes import create_note
from tests.sim.gitlab.shapes import changes, mr_json
from tests.sim.gitlab.state import GitLabState, SimProject, kind_of
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from tests.sim.gitlab.app import GitLabSim


class DiscussionsReading(GitLabState):
    def discussions(
        self, project: str | SimProject, iid: int, kind: str = "merge_request"
    ) -> list[dict[str, Any]]:
        """The discussions of a merge request (or issue), oldest first, with their notes."""
        return list(self._discussions.get((self.project(project).id, kind_of(kind), iid), []))


@route("GET", KINDS + "/discussions")
def _list_discussions(sim: GitLabSim, call: Call) -> Response:
    kind = kind_of(call.params["kind"])
    sim._awardable(call.proj, kind, call.iid)
    return page(call.request, list(sim._discussions.get((call.proj.id, kind, call.iid), [])))


def _given_position(data: dict[str, Any]) -> dict[str, Any] | None:
    position = data.get("position")
    if isinstance(position, dict):
        return position
    # form-encoded: position[new_line]=...
    return {
        k[len("position[") : -1]: v
        for k, v in data.items()
        if k.startswith("position[") and k.endswith("]")
    } or None


@route("POST", KINDS + "/discussions")
def _create_discussion(sim: GitLabSim, call: Call) -> Response:
    kind, proj = kind_of(call.params["kind"]), call.proj
    if "body" not in call.data:
        raise SimError(400, "body is missing")
    position = _given_position(call.data)
    if position is not None:
        if kind != "merge_request":
            raise SimError(400, "position is only allowed on merge requests")
        mr = the_mr(sim, call)
        refs = mr_json(sim, proj, mr)["diff_refs"]
        position = checked_position(refs, changes(sim, proj, mr), position)
    note = create_note(sim, proj, kind, call.iid, str(call.data["body"]), call.user)
    note.update(
        type="DiffNote" if position else "DiscussionNote",
        resolvable=True,
        resolved=False,
        position=position,
    )
    discussion = {
        "id": uuid.uuid4().hex + uuid.uuid4().hex[:8],
        "individual_note": False,
        "notes": [note],
    }
    note["discussion_id"] = discussion["id"]
    sim._discussions.setdefault((proj.id, kind, call.iid), []).append(discussion)
    return JSONResponse(discussion, 201)
