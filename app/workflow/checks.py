"""A run's check reference (check run or commit status + note) as stored JSON."""

from __future__ import annotations

from typing import Any

from app.forges.base import CheckRef, Target


def check_ref_from_json(data: dict[str, Any]) -> CheckRef:
    # Stored before the forges' refs were one shape: a GitLab note's id was `note_id`.
    target = data.get("target", data.get("note_target"))
    handle = data.get("note_id")
    return CheckRef(
        repo=data["repo"],
        head_sha=data["head_sha"],
        id=handle if handle is not None else data.get("id"),
        name=data.get("name", "AgentOps"),
        target=Target(**target) if target else None,
    )


def check_ref_to_json(ref: CheckRef) -> dict[str, Any]:
    target = ref.target
    return {
        "repo": ref.repo,
        "head_sha": ref.head_sha,
        "id": ref.id,
        "name": ref.name,
        "target": (
            {"repo": target.repo, "kind": target.kind, "number": target.number} if target else None
        ),
    }
