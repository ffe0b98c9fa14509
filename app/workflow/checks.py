"""A run's check reference (check run or commit status + note) as stored JSON."""

from __future__ import annotations

from typing import Any

from app.forges.base import CheckRef, Target


def check_ref_from_json(data: dict[str, Any]) -> CheckRef:
    note_target = data.get("note_target")
    return CheckRef(
        repo=data["repo"],
        head_sha=data["head_sha"],
        id=data.get("id"),
        name=data.get("name", "AgentOps"),
        note_target=Target(**note_target) if note_target else None,
        note_id=data.get("note_id"),
    )


def check_ref_to_json(ref: CheckRef) -> dict[str, Any]:
    target = ref.note_target
    return {
        "repo": ref.repo,
        "head_sha": ref.head_sha,
        "id": ref.id,
        "name": ref.name,
        "note_target": (
            {"repo": target.repo, "kind": target.kind, "number": target.number} if target else None
        ),
        "note_id": ref.note_id,
    }
