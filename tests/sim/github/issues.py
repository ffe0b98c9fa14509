"""Issues, their comments, labels' events and reactions: set-up, reading, and the API."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tests.sim.github.http import body_of, invalid, paginate, route
from tests.sim.github.shapes import comment_json, issue_json, record_labeled, store_comment
from tests.sim.github.state import Call, GitHubState, iso, user_json
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from starlette.responses import Response

    from tests.sim.github.app import GitHubSim

REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
MAX_BODY = 65_536


class IssuesSetup(GitHubState):
    """Issues and comments a test starts from, and reading them back (copies)."""

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str = "",
        *,
        user: str = "alice",
        labels: tuple[str, ...] | list[str] = (),
    ) -> int:
        with self._lock:
            sim_repo = self._repo(repo)
            number = sim_repo.next_number
            sim_repo.next_number += 1
            sim_repo.issues[number] = {
                "id": self._next_id(),
                "number": number,
                "title": title,
                "body": body,
                "user": user,
                "state": "open",
                "labels": list(labels),
                "created_at": iso(),
                "updated_at": iso(),
            }
            for label in labels:
                record_labeled(self, repo, number, label, user)
            return number

    def add_comment(
        self, repo: str, number: int, body: str, *, user: str = "alice", association: str = "OWNER"
    ) -> int:
        with self._lock:
            comment_id: int = store_comment(self, repo, number, body, user, association)["id"]
            return comment_id

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                comment_json(c, "", "")
                for c in self._comments.values()
                if c["repo"] == repo and c["number"] == number
            ]

    def issue(self, repo: str, number: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._repo(repo).issues[number])

    def reactions(
        self, repo: str, number: int | None = None, comment_id: int | None = None
    ) -> list[str]:
        with self._lock:
            return [
                r["content"]
                for r in self._reactions
                if r["repo"] == repo
                and (number is None or r.get("number") == number)
                and (comment_id is None or r.get("comment_id") == comment_id)
            ]


def _issue_number(sim: GitHubSim, call: Call) -> int:
    number = int(call.params["number"])
    if number not in sim._visible_repo(call).issues:
        raise SimError(404, "Not Found")
    return number


def _comment_text(call: Call) -> str:
    text = body_of(call).get("body")
    if not isinstance(text, str) or not text:
        raise invalid("IssueComment", "body", "missing_field")
    if len(text) > MAX_BODY:
        raise invalid(
            "IssueComment", "body", message="Body is too long (maximum is 65536 characters)"
        )
    return text


@route("GET", "/repos/{owner}/{repo}/issues/{number}")
def _get_issue(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    number = _issue_number(sim, call)
    return 200, issue_json(sim._visible_repo(call), number, call.web, call.api)


@route("GET", "/repos/{owner}/{repo}/issues/{number}/events")
def _list_issue_events(sim: GitHubSim, call: Call) -> Response:
    number = _issue_number(sim, call)
    repo = sim._visible_repo(call)
    return paginate(call, list(sim._issue_events.get((repo.full_name, number), [])))


@route("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
def _list_comments(sim: GitHubSim, call: Call) -> Response:
    number = _issue_number(sim, call)
    repo = sim._visible_repo(call)
    items = [
        comment_json(c, call.web, call.api)
        for c in sim._comments.values()
        if c["repo"] == repo.full_name and c["number"] == number
    ]
    return paginate(call, items)


@route("POST", "/repos/{owner}/{repo}/issues/{number}/comments")
def _create_comment(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo = sim._visible_repo(call)
    text = _comment_text(call)
    comment = store_comment(
        sim, repo.full_name, int(call.params["number"]), text, sim.bot_login, "NONE"
    )
    return 201, comment_json(comment, call.web, call.api)


def _own_comment(sim: GitHubSim, call: Call) -> dict[str, Any]:
    repo = sim._visible_repo(call)
    comment = sim._comments.get(int(call.params["comment_id"]))
    if comment is None or comment["repo"] != repo.full_name:
        raise SimError(404, "Not Found")
    return comment


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def _get_comment(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    return 200, comment_json(_own_comment(sim, call), call.web, call.api)


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def _update_comment(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    comment = _own_comment(sim, call)
    text = _comment_text(call)
    comment["edits"].append(comment["body"])
    comment["body"], comment["updated_at"] = text, iso()
    return 200, comment_json(comment, call.web, call.api)


def _react(sim: GitHubSim, call: Call, **subject: int) -> tuple[int, Any]:
    repo, content = sim._visible_repo(call), body_of(call).get("content")
    if content not in REACTIONS:
        raise invalid("Reaction", "content")
    for reaction in sim._reactions:
        if (
            reaction["repo"] == repo.full_name
            and reaction["content"] == content
            and all(reaction.get(k) == v for k, v in subject.items())
        ):
            return 200, {"id": reaction["id"], "content": content, "user": user_json(sim.bot_login)}
    reaction = {
        "id": sim._next_id(),
        "repo": repo.full_name,
        "content": content,
        "user": sim.bot_login,
        **subject,
    }
    sim._reactions.append(reaction)
    return 201, {"id": reaction["id"], "content": content, "user": user_json(sim.bot_login)}


@route("POST", "/repos/{owner}/{repo}/issues/{number}/reactions")
def _react_issue(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    return _react(sim, call, number=_issue_number(sim, call))


@route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def _react_comment(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    comment = _own_comment(sim, call)
    return _react(sim, call, comment_id=comment["id"])
