"""Notes (comments) on issues and merge requests, and award emoji on them and on notes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from tests.sim.gitlab.http import KINDS, Call, page, route
from tests.sim.gitlab.state import (
    NOTE_MAX_CHARS,
    GitLabState,
    SimProject,
    SimUser,
    kind_of,
    not_found,
    now,
)
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from tests.sim.gitlab.app import GitLabSim

_TOO_LONG = {"note": [f"is too long (maximum is {NOTE_MAX_CHARS} characters)"]}


def create_note(
    sim: GitLabState, proj: SimProject, kind: str, iid: int, body: str, user: SimUser
) -> dict[str, Any]:
    obj = sim._awardable(proj, kind, iid)
    if not body.strip():
        raise SimError(400, {"note": ["can't be blank"]})
    if len(body) > NOTE_MAX_CHARS:
        raise SimError(400, _TOO_LONG)
    note = {
        "id": next(sim._ids),
        "type": None,
        "body": body,
        "attachment": None,
        "author": user.json(sim.base_url),
        "created_at": now(),
        "updated_at": now(),
        "system": False,
        "noteable_id": obj["id"],
        "noteable_type": obj["_type"],
        "noteable_iid": iid,
        "project_id": proj.id,
        "resolvable": False,
        "confidential": False,
        "internal": False,
    }
    sim._notes.setdefault((proj.id, kind, iid), []).append(note)
    return note


class NotesSetup(GitLabState):
    def add_note(
        self, project: str | SimProject, kind: str, iid: int, body: str, author: str | None = None
    ) -> dict[str, Any]:
        return create_note(self, self.project(project), kind, iid, body, self._author(author))

    def delete_note(self, project: str | SimProject, kind: str, iid: int, note_id: int) -> None:
        notes = self._notes.get((self.project(project).id, kind_of(kind), iid), [])
        notes[:] = [n for n in notes if n["id"] != note_id]

    def notes(self, project: str | SimProject, kind: str, iid: int) -> list[dict[str, Any]]:
        return list(self._notes.get((self.project(project).id, kind_of(kind), iid), []))

    def award_emoji(
        self, project: str | SimProject, kind: str, iid: int, note_id: int | None = None
    ) -> list[dict[str, Any]]:
        proj = self.project(project)
        if note_id is not None:
            return [
                e
                for e in self._emoji
                if e["awardable_type"] == "Note" and e["awardable_id"] == note_id
            ]
        obj = self._awardable(proj, kind_of(kind), iid)
        return [
            e
            for e in self._emoji
            if e["awardable_type"] == obj["_type"] and e["awardable_id"] == obj["id"]
        ]


def _note(sim: GitLabSim, call: Call) -> dict[str, Any]:
    proj, kind = call.proj, kind_of(call.params["kind"])
    sim._awardable(proj, kind, call.iid)
    for note in sim._notes.get((proj.id, kind, call.iid), []):
        if note["id"] == int(call.params["nid"]):
            return note
    raise not_found("Note")


@route("GET", KINDS + "/notes")
def _list_notes(sim: GitLabSim, call: Call) -> Response:
    kind = kind_of(call.params["kind"])
    sim._awardable(call.proj, kind, call.iid)
    notes = list(sim._notes.get((call.proj.id, kind, call.iid), []))
    key = call.data.get("order_by", "created_at")
    key = key if key in ("created_at", "updated_at") else "created_at"
    notes.sort(key=lambda n: (n[key], n["id"]), reverse=call.data.get("sort", "desc") == "desc")
    return page(call.request, notes)


@route("POST", KINDS + "/notes")
def _create_note(sim: GitLabSim, call: Call) -> Response:
    if "body" not in call.data:
        raise SimError(400, "body is missing")
    kind = kind_of(call.params["kind"])
    note = create_note(sim, call.proj, kind, call.iid, str(call.data["body"]), call.user)
    return JSONResponse(note, 201)


@route("GET", KINDS + "/notes/{nid:int}")
def _get_note(sim: GitLabSim, call: Call) -> Response:
    return JSONResponse(_note(sim, call))


@route("PUT", KINDS + "/notes/{nid:int}")
def _update_note(sim: GitLabSim, call: Call) -> Response:
    note, user = _note(sim, call), call.user
    if note["author"]["id"] != user.id and not user.admin:
        raise SimError(403, "403 Forbidden")
    body = str(call.data.get("body") or "")
    if not body.strip():
        raise SimError(400, "body is missing")
    if len(body) > NOTE_MAX_CHARS:
        raise SimError(400, _TOO_LONG)
    note["body"] = body
    note["updated_at"] = now()
    return JSONResponse(note)


def _emoji_target(sim: GitLabSim, call: Call) -> tuple[str, int]:
    if "nid" in call.params:
        return "Note", int(_note(sim, call)["id"])
    obj = sim._awardable(call.proj, kind_of(call.params["kind"]), call.iid)
    return obj["_type"], obj["id"]


@route("GET", KINDS + "(?:/notes/{nid:int})?/award_emoji")
def _list_emoji(sim: GitLabSim, call: Call) -> Response:
    typ, oid = _emoji_target(sim, call)
    return page(
        call.request,
        [e for e in sim._emoji if e["awardable_type"] == typ and e["awardable_id"] == oid],
    )


@route("POST", KINDS + "(?:/notes/{nid:int})?/award_emoji")
def _award_emoji(sim: GitLabSim, call: Call) -> Response:
    typ, oid = _emoji_target(sim, call)
    user, name = call.user, str(call.data.get("name") or "")
    if not name:
        raise SimError(400, "name is missing")
    if not re.fullmatch(r"[a-z0-9_+\-]+", name) or name in ("+1", "-1"):
        raise not_found("Award Emoji Name is not a valid emoji name")
    for emoji in sim._emoji:
        if (
            emoji["awardable_type"],
            emoji["awardable_id"],
            emoji["name"],
            emoji["user"]["id"],
        ) == (typ, oid, name, user.id):
            raise not_found("Award Emoji Name has already been taken")
    emoji = {
        "id": next(sim._ids),
        "name": name,
        "user": user.json(call.base),
        "created_at": now(),
        "updated_at": now(),
        "awardable_id": oid,
        "awardable_type": typ,
    }
    sim._emoji.append(emoji)
    return JSONResponse(emoji, 201)
