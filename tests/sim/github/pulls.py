"""Pull requests: set-up, reading, and the API (list, open, read, diff, files)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from tests.sim.git_http import rev_parse
from tests.sim.github.http import body_of, git, invalid, paginate, route
from tests.sim.github.issues import IssuesSetup
from tests.sim.github.shapes import pull_json
from tests.sim.github.state import Call, SimRepo
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from tests.sim.github.app import GitHubSim


class PullsSetup(IssuesSetup):
    """Pull requests a test starts from (the head branch lives in the same bare repo)."""

    def add_pull(
        self,
        repo: str,
        head: str,
        base: str | None = None,
        title: str = "A change",
        body: str = "",
        *,
        user: str = "alice",
        draft: bool = False,
        head_repo: str | None = None,
    ) -> int:
        with self._lock:
            sim_repo = self._repo(repo)
            number = self.add_issue(repo, title, body, user=user)
            sim_repo.pulls[number] = {
                "head": head,
                "base": base or sim_repo.default_branch,
                "head_repo": head_repo or repo,
                "draft": draft,
            }
            return number

    def pulls(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            sim_repo = self._repo(repo)
            return [pull_json(sim_repo, n, "", "") for n in sorted(sim_repo.pulls)]


def pull_number(repo: SimRepo, call: Call) -> int:
    number = int(call.params["number"])
    if number not in repo.pulls:
        raise SimError(404, "Not Found")
    return number


def merge_base(repo: SimRepo, pull: dict[str, Any]) -> tuple[str, str]:
    """The merge base of a pull request's head and base, and its head."""
    head = rev_parse(repo.bare, f"refs/heads/{pull['head']}") or ""
    base = rev_parse(repo.bare, f"refs/heads/{pull['base']}") or ""
    return git(repo.bare, "merge-base", base, head).strip(), head


@route("GET", "/repos/{owner}/{repo}/pulls")
def _list_pulls(sim: GitHubSim, call: Call) -> Response:
    repo, state = sim._visible_repo(call), call.query.get("state", "open")
    head, base = call.query.get("head"), call.query.get("base")
    items = []
    for number in sorted(repo.pulls, reverse=True):
        pull, issue = repo.pulls[number], repo.issues[number]
        label = f"{pull['head_repo'].split('/', 1)[0]}:{pull['head']}"
        if (
            (state != "all" and issue["state"] != state)
            or (head and head != label)
            or (base and base != pull["base"])
        ):
            continue
        items.append(pull_json(repo, number, call.web, call.api))
    return paginate(call, items)


@route("POST", "/repos/{owner}/{repo}/pulls")
def _create_pull(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo, body = sim._visible_repo(call), body_of(call)
    owner = repo.full_name.split("/", 1)[0]
    for required in ("title", "head", "base"):
        if not body.get(required):
            raise invalid("PullRequest", required, "missing_field")
    head_owner, _, head = str(body["head"]).rpartition(":")
    if (head_owner and head_owner != owner) or not rev_parse(repo.bare, f"refs/heads/{head}"):
        raise invalid("PullRequest", "head")
    if not rev_parse(repo.bare, f"refs/heads/{body['base']}"):
        raise invalid("PullRequest", "base")
    for number, pull in repo.pulls.items():
        if pull["head"] == head and repo.issues[number]["state"] == "open":
            raise invalid(
                "PullRequest", "head", message=f"A pull request already exists for {owner}:{head}."
            )
    if not git(repo.bare, "rev-list", f"{body['base']}..{head}").strip():
        raise invalid(
            "PullRequest", "head", message=f"No commits between {body['base']} and {head}"
        )
    number = sim.add_pull(
        repo.full_name,
        head,
        str(body["base"]),
        str(body["title"]),
        str(body.get("body") or ""),
        user=sim.bot_login,
        draft=bool(body.get("draft", False)),
    )
    return 201, pull_json(repo, number, call.web, call.api)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}")
def _get_pull(sim: GitHubSim, call: Call) -> tuple[int, Any] | Response:
    repo = sim._visible_repo(call)
    number = pull_number(repo, call)
    if "diff" in call.accept:
        start, head = merge_base(repo, repo.pulls[number])
        return Response(
            git(repo.bare, "diff", start, head),
            media_type="application/vnd.github.v3.diff; charset=utf-8",
        )
    return 200, pull_json(repo, number, call.web, call.api)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/files")
def _list_pull_files(sim: GitHubSim, call: Call) -> Response:
    repo = sim._visible_repo(call)
    start, head = merge_base(repo, repo.pulls[pull_number(repo, call)])
    statuses = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied"}
    files = []
    for line in git(repo.bare, "diff", "--name-status", "-M", start, head).splitlines():
        code, *paths = line.split("\t")
        patch = git(repo.bare, "diff", "-M", start, head, "--", *paths)
        hunk = patch.find("\n@@")
        item: dict[str, Any] = {
            "filename": paths[-1],
            "status": statuses.get(code[0], "modified"),
            "patch": patch[hunk + 1 :] if hunk >= 0 else None,
        }
        if code[0] == "R":
            item["previous_filename"] = paths[0]
        files.append(item)
    return paginate(call, files)
