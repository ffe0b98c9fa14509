"""GitLab's JSON shapes of the simulator's projects, issues, merge requests and labels."""

from __future__ import annotations

import re
from typing import Any

from tests.sim.git_http import rev_parse
from tests.sim.gitlab.diffs import git_changes, merge_base
from tests.sim.gitlab.state import GitLabState, SimProject, hook_time, now

_DRAFT = re.compile(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s|draft\s|wip:)", re.I)


def project_json(sim: GitLabState, proj: SimProject, base: str) -> dict[str, Any]:
    web = sim._web_url(proj, base)
    ns_path = proj.namespace
    return {
        "id": proj.id,
        "name": proj.name,
        "path": proj.name,
        "path_with_namespace": proj.path,
        "name_with_namespace": proj.path.replace("/", " / "),
        "description": "",
        "default_branch": proj.default_branch,
        "visibility": proj.visibility,
        "repository_access_level": "enabled",
        "web_url": web,
        "http_url_to_repo": f"{web}.git",
        "ssh_url_to_repo": f"git@sim.invalid:{proj.path}.git",
        "archived": False,
        "empty_repo": False,
        "created_at": now(),
        "last_activity_at": now(),
        "namespace": {
            "id": 1000 + proj.id,
            "name": ns_path.rsplit("/", 1)[-1],
            "path": ns_path.rsplit("/", 1)[-1],
            "kind": "group",
            "full_path": ns_path,
            "web_url": f"{base}/groups/{ns_path}",
        },
        "merge_requests_enabled": True,
        "issues_enabled": True,
    }


def member_json(sim: GitLabState, uid: int, level: int, base: str) -> dict[str, Any]:
    user = next(u for u in sim.users.values() if u.id == uid)
    return {
        **user.json(base),
        "access_level": level,
        "expires_at": None,
        "created_at": now(),
        "membership_state": "active",
    }


def _notes_count(sim: GitLabState, proj: SimProject, kind: str, iid: int) -> int:
    return len(sim._notes.get((proj.id, kind, iid), []))


def issue_json(
    sim: GitLabState, proj: SimProject, issue: dict[str, Any], base: str | None = None
) -> dict[str, Any]:
    out = {k: v for k, v in issue.items() if not k.startswith("_")}
    out.update(
        project_id=proj.id,
        closed_at=None,
        closed_by=None,
        assignees=[],
        assignee=None,
        milestone=None,
        confidential=False,
        type="ISSUE",
        issue_type="issue",
        user_notes_count=_notes_count(sim, proj, "issue", issue["iid"]),
        web_url=f"{sim._web_url(proj, base)}/-/issues/{issue['iid']}",
        references={
            "short": f"#{issue['iid']}",
            "relative": f"#{issue['iid']}",
            "full": f"{proj.path}#{issue['iid']}",
        },
    )
    return out


def mr_json(
    sim: GitLabState, proj: SimProject, mr: dict[str, Any], base: str | None = None
) -> dict[str, Any]:
    source_proj = sim.project(mr["source_project_id"])
    head = rev_parse(source_proj.bare, f"refs/heads/{mr['source_branch']}")
    target = rev_parse(proj.bare, f"refs/heads/{mr['target_branch']}")
    base_sha = merge_base(proj, source_proj, target, head) if head and target else None
    draft = bool(_DRAFT.match(mr["title"]))
    out = {k: v for k, v in mr.items() if not k.startswith("_")}
    out.update(
        project_id=proj.id,
        draft=draft,
        work_in_progress=draft,
        sha=head,
        merge_status="can_be_merged",
        detailed_merge_status="mergeable",
        merge_commit_sha=None,
        squash_commit_sha=None,
        assignees=[],
        reviewers=[],
        web_url=f"{sim._web_url(proj, base)}/-/merge_requests/{mr['iid']}",
        diff_refs={"base_sha": base_sha, "head_sha": head, "start_sha": target},
        references={
            "short": f"!{mr['iid']}",
            "relative": f"!{mr['iid']}",
            "full": f"{proj.path}!{mr['iid']}",
        },
        user_notes_count=_notes_count(sim, proj, "merge_request", mr["iid"]),
    )
    return out


def changes(sim: GitLabState, proj: SimProject, mr: dict[str, Any]) -> list[dict[str, Any]]:
    """The merge request's changes, from its merge base to its head."""
    refs = mr_json(sim, proj, mr)["diff_refs"]
    if not refs["base_sha"] or not refs["head_sha"]:
        return []
    source = sim.project(mr["source_project_id"])
    return git_changes(proj, source, refs["base_sha"], refs["head_sha"])


def label_json(sim: GitLabState, proj: SimProject, title: str) -> dict[str, Any]:
    label_id = proj.labels.setdefault(title, next(sim._ids))
    return {
        "id": label_id,
        "title": title,
        "color": "#428BCA",
        "project_id": proj.id,
        "created_at": hook_time(),
        "updated_at": hook_time(),
        "template": False,
        "description": None,
        "type": "ProjectLabel",
        "group_id": None,
    }
