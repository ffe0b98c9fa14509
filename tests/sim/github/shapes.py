"""GitHub's JSON shapes of the simulator's objects, and storing what they are made from."""

from __future__ import annotations

import copy
from typing import Any

from tests.sim.git_http import rev_parse
from tests.sim.github.state import GitHubState, SimRepo, iso, user_json
from tests.sim.skeleton import SimError


def store_comment(
    sim: GitHubState, repo: str, number: int, body: str, user: str, association: str
) -> dict[str, Any]:
    if number not in sim._repo(repo).issues:
        raise SimError(404, "Not Found")
    comment: dict[str, Any] = {
        "id": sim._next_id(),
        "repo": repo,
        "number": number,
        "body": body,
        "user": user,
        "author_association": association,
        "created_at": iso(),
        "updated_at": iso(),
        "edits": [],
    }
    sim._comments[comment["id"]] = comment
    return comment


def record_labeled(sim: GitHubState, repo: str, number: int, label: str, actor: str) -> None:
    sim._issue_events.setdefault((repo, number), []).append(
        {
            "id": sim._next_id(),
            "event": "labeled",
            "actor": user_json(actor),
            "label": {"name": label, "color": "ededed"},
            "created_at": iso(),
        }
    )


def comment_json(comment: dict[str, Any], web: str, api: str) -> dict[str, Any]:
    repo, number, cid = comment["repo"], comment["number"], comment["id"]
    return {
        "id": cid,
        "node_id": f"IC_{cid}",
        "body": comment["body"],
        "user": user_json(comment["user"]),
        "author_association": comment["author_association"],
        "created_at": comment["created_at"],
        "updated_at": comment["updated_at"],
        "html_url": f"{web}{repo}/issues/{number}#issuecomment-{cid}",
        "url": f"{api}/repos/{repo}/issues/comments/{cid}",
        "issue_url": f"{api}/repos/{repo}/issues/{number}",
        "edits": list(comment["edits"]),
    }


def repo_json(repo: SimRepo, web: str, api: str) -> dict[str, Any]:
    owner, name = repo.full_name.split("/", 1)
    return {
        "id": repo.id,
        "name": name,
        "full_name": repo.full_name,
        "owner": user_json(owner),
        "private": repo.private,
        "default_branch": repo.default_branch,
        "clone_url": f"{web}{repo.full_name}.git",
        "html_url": f"{web}{repo.full_name}",
        "url": f"{api}/repos/{repo.full_name}",
    }


def issue_json(repo: SimRepo, number: int, web: str, api: str) -> dict[str, Any]:
    issue = repo.issues[number]
    kind = "pull" if number in repo.pulls else "issues"
    data = {
        "id": issue["id"],
        "number": number,
        "title": issue["title"],
        "body": issue["body"],
        "user": user_json(issue["user"]),
        "state": issue["state"],
        "labels": [{"name": label} for label in issue["labels"]],
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "html_url": f"{web}{repo.full_name}/{kind}/{number}",
        "url": f"{api}/repos/{repo.full_name}/issues/{number}",
    }
    if number in repo.pulls:
        data["pull_request"] = {"url": f"{api}/repos/{repo.full_name}/pulls/{number}"}
    return data


def pull_json(repo: SimRepo, number: int, web: str, api: str) -> dict[str, Any]:
    pull = repo.pulls[number]
    data = issue_json(repo, number, web, api)
    data.pop("pull_request", None)
    head_owner = pull["head_repo"].split("/", 1)[0]
    owner = repo.full_name.split("/", 1)[0]
    data.update(
        {
            "draft": pull["draft"],
            "merged": False,
            "mergeable": True,
            "html_url": f"{web}{repo.full_name}/pull/{number}",
            "url": f"{api}/repos/{repo.full_name}/pulls/{number}",
            "head": {
                "ref": pull["head"],
                "label": f"{head_owner}:{pull['head']}",
                "sha": rev_parse(repo.bare, f"refs/heads/{pull['head']}") or "",
                "repo": {"full_name": pull["head_repo"]},
            },
            "base": {
                "ref": pull["base"],
                "label": f"{owner}:{pull['base']}",
                "sha": rev_parse(repo.bare, f"refs/heads/{pull['base']}") or "",
                "repo": {"full_name": repo.full_name},
            },
        }
    )
    return data


def check_json(sim: GitHubState, repo: SimRepo, run: dict[str, Any], web: str) -> dict[str, Any]:
    data = {k: copy.deepcopy(v) for k, v in run.items() if k != "history"}
    data["html_url"] = f"{web}{repo.full_name}/runs/{run['id']}"
    data["app"] = {"id": sim.app_id, "slug": sim.slug}
    return data
