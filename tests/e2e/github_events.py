"""GitHub webhook payloads as GitHub sends them (the fields AgentOps reads, and more)."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tests.sim.github.state import repo_id_of

if TYPE_CHECKING:
    from tests.sim.github import GitHubSim

_ids = itertools.count(9_000_000)
# Each labeling is a new moment of its issue (`updated_at`), as it is on GitHub, where
# people take more than a second between two changes; tests take less.
_moments = itertools.count(int(time.time()))


def _moment() -> str:
    return datetime.fromtimestamp(next(_moments), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user(login: str, kind: str = "User") -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10**7, "type": kind}


def _repo(full_name: str) -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {
        "id": repo_id_of(full_name),
        "name": name,
        "full_name": full_name,
        "owner": _user(owner, "Organization"),
        "private": True,
        "default_branch": "main",
    }


def commented(gh: GitHubSim, repo: str, number: int, body: str, sender: str) -> dict[str, Any]:
    """`body` commented by `sender` on issue `number` of `repo` in the simulator, and the
    webhook GitHub sends for it, with the repository's own id (a renamed one's too)."""
    comment_id = gh.add_comment(repo, number, body, user=sender)
    payload = issue_comment(
        repo, gh.installation_id(repo), number, body, sender, comment_id=comment_id
    )
    payload["repository"]["id"] = gh.repo_id(repo)
    return payload


def issue_comment(
    repo: str,
    installation_id: int,
    number: int,
    body: str,
    sender: str,
    *,
    pull_request: bool = False,
    comment_id: int | None = None,
    action: str = "created",
) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "number": number,
        "title": "An issue",
        "state": "open",
        "user": _user(sender),
        "labels": [],
    }
    if pull_request:
        issue["pull_request"] = {"url": f"https://api.invalid/repos/{repo}/pulls/{number}"}
    return {
        "action": action,
        "issue": issue,
        "comment": {
            "id": comment_id or next(_ids),
            "body": body,
            "user": _user(sender),
            "author_association": "MEMBER",
            "performed_via_github_app": None,
        },
        "repository": _repo(repo),
        "sender": _user(sender),
        "installation": {"id": installation_id},
    }


def issues_labeled(
    repo: str, installation_id: int, number: int, label: str, sender: str
) -> dict[str, Any]:
    return {
        "action": "labeled",
        "issue": {
            "number": number,
            "title": "An issue",
            "state": "open",
            "user": _user(sender),
            "labels": [{"name": label}],
            "updated_at": _moment(),
        },
        "label": {"name": label, "color": "ededed"},
        "repository": _repo(repo),
        "sender": _user(sender),
        "installation": {"id": installation_id},
    }


def check_run_action(
    repo: str,
    installation_id: int,
    app_id: int,
    check_run_id: int,
    external_id: str,
    head_sha: str,
    identifier: str,
    sender: str,
) -> dict[str, Any]:
    return {
        "action": "requested_action",
        "check_run": {
            "id": check_run_id,
            "head_sha": head_sha,
            "external_id": external_id,
            "app": {"id": app_id},
            "name": "AgentOps",
        },
        "requested_action": {"identifier": identifier},
        "repository": _repo(repo),
        "sender": _user(sender),
        "installation": {"id": installation_id},
    }


def command_on_new_issue(
    gh: GitHubSim, repo: str, title: str, command: str = "/agentops help", user: str = "alice"
) -> tuple[int, dict[str, Any]]:
    """A new issue in the simulator with `command` commented by `user`: (its number, the
    `issue_comment` payload GitHub would send for it)."""
    number = gh.add_issue(repo, title, "", user=user)
    comment_id = gh.add_comment(repo, number, command, user=user)
    payload = issue_comment(
        repo, gh.installation_id(repo), number, command, user, comment_id=comment_id
    )
    return number, payload
