"""The shapes of users, projects, issues and merge requests inside GitLab's webhook
payloads (not those of its REST API)."""

from __future__ import annotations

from typing import Any

from tests.sim.gitlab.shapes import label_json, mr_json
from tests.sim.gitlab.state import GitLabState, SimProject, SimUser, hook_time, now


def hook_user(user: SimUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "avatar_url": None,
        "email": "[REDACTED]",
    }


def hook_project(sim: GitLabState, proj: SimProject) -> dict[str, Any]:
    web = sim._web_url(proj)
    return {
        "id": proj.id,
        "name": proj.name,
        "description": "",
        "web_url": web,
        "avatar_url": None,
        "git_ssh_url": f"git@sim.invalid:{proj.path}.git",
        "git_http_url": f"{web}.git",
        "namespace": proj.namespace,
        "visibility_level": {"private": 0, "internal": 10}.get(proj.visibility, 20),
        "path_with_namespace": proj.path,
        "default_branch": proj.default_branch,
        "ci_config_path": None,
        "homepage": web,
        "url": f"{web}.git",
        "ssh_url": f"git@sim.invalid:{proj.path}.git",
        "http_url": f"{web}.git",
    }


def hook_repository(sim: GitLabState, proj: SimProject) -> dict[str, Any]:
    web = sim._web_url(proj)
    return {
        "name": proj.name,
        "url": f"{web}.git",
        "description": "",
        "homepage": web,
        "git_http_url": f"{web}.git",
        "git_ssh_url": f"git@sim.invalid:{proj.path}.git",
        "visibility_level": 0,
    }


def hook_issue(sim: GitLabState, proj: SimProject, issue: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": issue["id"],
        "iid": issue["iid"],
        "title": issue["title"],
        "description": issue["description"],
        "state": issue["state"],
        "author_id": issue["author"]["id"],
        "project_id": proj.id,
        "created_at": hook_time(),
        "updated_at": hook_time(),
        "closed_at": None,
        "confidential": False,
        "url": f"{sim._web_url(proj)}/-/issues/{issue['iid']}",
        "labels": [label_json(sim, proj, t) for t in issue["labels"]],
        "assignee_ids": [],
        "assignee_id": None,
        "milestone_id": None,
        "due_date": None,
        "weight": None,
        "type": "ISSUE",
        "severity": "unknown",
    }


def hook_mr(sim: GitLabState, proj: SimProject, mr: dict[str, Any]) -> dict[str, Any]:
    full = mr_json(sim, proj, mr)
    src = hook_project(sim, sim.project(mr["source_project_id"]))
    return {
        "id": mr["id"],
        "iid": mr["iid"],
        "title": full["title"],
        "description": mr["description"],
        "state": mr["state"],
        "source_branch": mr["source_branch"],
        "target_branch": mr["target_branch"],
        "source_project_id": mr["source_project_id"],
        "target_project_id": proj.id,
        "author_id": mr["author"]["id"],
        "created_at": hook_time(),
        "updated_at": hook_time(),
        "merge_status": "can_be_merged",
        "detailed_merge_status": "mergeable",
        "draft": full["draft"],
        "work_in_progress": full["draft"],
        "url": full["web_url"],
        "last_commit": {
            "id": full["sha"],
            "message": "",
            "title": "",
            "timestamp": now(),
            "url": f"{src['web_url']}/-/commit/{full['sha']}",
            "author": {"name": "Sim", "email": "sim@example.invalid"},
        },
        "source": src,
        "target": hook_project(sim, proj),
        "labels": [label_json(sim, proj, t) for t in mr["labels"]],
        "assignee_ids": [],
        "reviewer_ids": [],
        "head_pipeline_id": None,
        "oldrev": None,
    }
