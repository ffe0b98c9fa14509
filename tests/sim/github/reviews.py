"""Pull request reviews with line comments, checked against the diff as GitHub does."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from tests.sim.git_http import rev_parse
from tests.sim.github.http import body_of, git, invalid, paginate, route
from tests.sim.github.pulls import pull_number
from tests.sim.github.state import Call, GitHubState, iso, user_json
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from starlette.responses import Response

    from tests.sim.github.app import GitHubSim

REVIEW_STATES = {
    "COMMENT": "COMMENTED",
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    None: "PENDING",
}
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
MAX_BODY = 65_536


class ReviewsReading(GitHubState):
    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The reviews of a pull request, oldest first, each with its `comments`."""
        with self._lock:
            return [
                copy.deepcopy(r)
                for r in self._reviews
                if r["repo"] == repo and r["number"] == number
            ]


def diff_hunk_lines(diff: str) -> dict[str, dict[str, set[int]]]:
    """Per new path, the lines a review comment may sit on: "RIGHT" (new side: added and
    context lines of the hunks) and "LEFT" (old side: removed and context lines)."""
    found: dict[str, dict[str, set[int]]] = {}
    sides: dict[str, set[int]] = {}
    old = new = 0
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            sides = {}
        elif line.startswith("+++ "):
            name = line[4:]
            sides = found.setdefault(
                name[2:] if name.startswith("b/") else name, {"RIGHT": set(), "LEFT": set()}
            )
        elif (hunk := _HUNK_HEADER.match(line)) is not None:
            old, new = int(hunk.group(1)), int(hunk.group(2))
        elif sides and line[:1] in (" ", "+", "-"):
            if line[0] in " -":
                sides["LEFT"].add(old)
                old += 1
            if line[0] in " +":
                sides["RIGHT"].add(new)
                new += 1
    return found


def _review_json(review: dict[str, Any], web: str, api: str) -> dict[str, Any]:
    repo, number, rid = review["repo"], review["number"], review["id"]
    return {
        "id": rid,
        "node_id": f"PRR_{rid}",
        "user": user_json(review["user"]),
        "body": review["body"],
        "state": review["state"],
        "commit_id": review["commit_id"],
        "author_association": "NONE",
        "submitted_at": review["submitted_at"],
        "html_url": f"{web}{repo}/pull/{number}#pullrequestreview-{rid}",
        "pull_request_url": f"{api}/repos/{repo}/pulls/{number}",
    }


def _review_comment_json(
    review: dict[str, Any], comment: dict[str, Any], web: str, api: str
) -> dict[str, Any]:
    repo, number, cid = review["repo"], review["number"], comment["id"]
    return {
        **comment,
        "pull_request_review_id": review["id"],
        "user": user_json(review["user"]),
        "commit_id": review["commit_id"],
        "html_url": f"{web}{repo}/pull/{number}#discussion_r{cid}",
        "url": f"{api}/repos/{repo}/pulls/comments/{cid}",
    }


def _unprocessable(reason: str) -> SimError:
    return SimError(422, "Unprocessable Entity", errors=[reason])


def _line_comment(
    sim: GitHubSim, comment: Any, hunks: dict[str, dict[str, set[int]]]
) -> dict[str, Any]:
    """One of a review's `comments`, checked against the diff's hunks, as stored."""
    if not isinstance(comment, dict) or not comment.get("path") or not comment.get("body"):
        raise invalid("PullRequestReviewComment", "comments", "missing_field")
    side = comment.get("side", "RIGHT")
    if comment["path"] not in hunks:
        raise _unprocessable("Path could not be resolved")
    if (
        side not in ("LEFT", "RIGHT")
        or not isinstance(comment.get("line"), int)
        or comment["line"] not in hunks[comment["path"]][side]
    ):
        raise _unprocessable("Line could not be resolved")
    if len(str(comment["body"])) > MAX_BODY:
        raise invalid("PullRequestReviewComment", "body")
    return {
        "id": sim._next_id(),
        "path": comment["path"],
        "line": comment["line"],
        "side": side,
        "body": comment["body"],
    }


@route("POST", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def _create_review(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo, body = sim._visible_repo(call), body_of(call)
    number = pull_number(repo, call)
    event = body.get("event")
    if event not in REVIEW_STATES:
        raise invalid("PullRequestReview", "event")
    pull = repo.pulls[number]
    commit = str(body.get("commit_id") or rev_parse(repo.bare, f"refs/heads/{pull['head']}"))
    if not rev_parse(repo.bare, f"{commit}^{{commit}}"):
        raise _unprocessable("Commit could not be resolved")
    base = rev_parse(repo.bare, f"refs/heads/{pull['base']}") or ""
    start = git(repo.bare, "merge-base", base, commit).strip()
    hunks = diff_hunk_lines(git(repo.bare, "diff", "-M", start, commit))
    text, comments = str(body.get("body") or ""), body.get("comments") or []
    if event in ("COMMENT", "REQUEST_CHANGES") and not text and not comments:
        raise _unprocessable(
            f"Review Body is required for {event.lower().replace('_', ' ')} reviews"
        )
    stored = [_line_comment(sim, comment, hunks) for comment in comments]
    if len(text) > MAX_BODY:
        raise invalid("PullRequestReview", "body")
    review = {
        "id": sim._next_id(),
        "repo": repo.full_name,
        "number": number,
        "user": sim.bot_login,
        "body": text,
        "state": REVIEW_STATES[event],
        "commit_id": commit,
        "submitted_at": iso(),
        "comments": stored,
    }
    sim._reviews.append(review)
    return 200, _review_json(review, call.web, call.api)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def _list_reviews(sim: GitHubSim, call: Call) -> Response:
    repo = sim._visible_repo(call)
    number = pull_number(repo, call)
    return paginate(
        call,
        [
            _review_json(r, call.web, call.api)
            for r in sim._reviews
            if r["repo"] == repo.full_name and r["number"] == number
        ],
    )


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/comments")
def _list_review_comments(sim: GitHubSim, call: Call) -> Response:
    repo = sim._visible_repo(call)
    number = pull_number(repo, call)
    return paginate(
        call,
        [
            _review_comment_json(r, c, call.web, call.api)
            for r in sim._reviews
            if r["repo"] == repo.full_name and r["number"] == number
            for c in r["comments"]
        ],
    )
