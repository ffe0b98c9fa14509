"""A run's trigger against what the forge's API says (pure parts, and the read-back with a
recording forge)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from app.forges.base import Comment, Issue, RepoInfo, Target
from app.store.runs import Run
from app.workflow.provenance import (
    TriggerRefused,
    comment_mismatch,
    label_mismatch,
    needs_read_back,
    project_mismatch,
    read_back,
)

TARGET = Target("team/app", "issue", 3)


def run(**overrides: Any) -> Run:
    values: dict[str, Any] = {
        "id": 1,
        "tenant_id": 1,
        "forge": "gitlab",
        "repo": "team/app",
        "target_kind": "issue",
        "target_number": 3,
        "command": "implement",
        "args": "",
        "requested_by": "dana",
        "trigger": "comment",
        "trigger_key": "k",
        "comment_id": 77,
        "context": {"project_id": 5},
        "status": "running",
        "cancel_requested": False,
        "retry_of": None,
        "attempts": 1,
        "check_ref": None,
        "result": {},
        "error": None,
        "created_at": datetime.now(UTC),
        "started_at": None,
        "finished_at": None,
    }
    values.update(overrides)
    return Run(**values)


class RecordingForge:
    def __init__(
        self,
        comment: Comment | None = None,
        labels: tuple[str, ...] = (),
        project_id: int = 5,
        labeler: str | None = "dana",
    ) -> None:
        self.comment = comment
        self.labels = labels
        self.project_id = project_id
        self.labeler = labeler
        self.calls: list[str] = []

    async def label_added_by(self, target: Target, label: str) -> str | None:
        self.calls.append(f"label_added_by {target.repo}#{target.number} {label}")
        return self.labeler

    async def get_repo(self, repo: str) -> RepoInfo:
        self.calls.append(f"get_repo {repo}")
        return RepoInfo(repo, "main", True, "", id=self.project_id)

    async def get_comment(self, target: Target, comment_id: int) -> Comment | None:
        self.calls.append(f"get_comment {target.repo}#{target.number} {comment_id}")
        return self.comment

    async def get_issue(self, target: Target) -> Issue:
        self.calls.append(f"get_issue {target.repo}#{target.number}")
        return Issue(target, "t", "", "dana", "opened", self.labels)


def test_only_gitlab_comments_and_labels_are_read_back() -> None:
    assert needs_read_back(run())
    assert needs_read_back(run(trigger="label", comment_id=None))
    assert not needs_read_back(run(forge="github"))  # GitHub signs its payloads
    assert not needs_read_back(run(trigger="retry"))


def test_the_same_author_and_command_is_proven() -> None:
    assert comment_mismatch(run(), Comment(77, "please\n/agentops implement", "Dana")) is None


@pytest.mark.parametrize(
    ("comment", "reason"),
    [
        (None, "comment 77 does not exist"),
        (Comment(77, "/agentops implement", "eve"), "written by @eve, not by @dana"),
        (Comment(77, "/agentops help", "dana"), "does not say `/agentops implement`"),
        (Comment(77, "nothing to see", "dana"), "does not say `/agentops implement`"),
    ],
)
def test_what_the_api_says_otherwise_is_the_reason(comment: Comment | None, reason: str) -> None:
    found = comment_mismatch(run(), comment)
    assert found is not None and reason in found


def test_a_label_must_be_on_the_issue() -> None:
    assert label_mismatch("AgentOps", ("bug", "agentops")) is None
    assert label_mismatch("agentops", ("bug",)) == (
        "the label 'agentops' is not on this issue or merge request"
    )


def test_read_back_of_a_note_returns_the_apis_author() -> None:
    forge = RecordingForge(Comment(77, "/agentops implement", "Dana"))
    proven = asyncio.run(read_back(forge, TARGET, run()))  # type: ignore[arg-type]
    assert proven.author == "Dana"
    assert forge.calls == ["get_repo team/app", "get_comment team/app#3 77"]


def test_read_back_refuses_a_forged_author() -> None:
    forge = RecordingForge(Comment(77, "/agentops implement", "eve"))
    with pytest.raises(TriggerRefused, match="written by @eve"):
        asyncio.run(read_back(forge, TARGET, run()))  # type: ignore[arg-type]


def test_read_back_of_a_label_reads_the_issue() -> None:
    labelled = run(trigger="label", comment_id=None, context={"label": "agentops", "project_id": 5})
    forge = RecordingForge(labels=("agentops",), labeler="Dana")
    assert asyncio.run(read_back(forge, TARGET, labelled)).author == "Dana"  # type: ignore[arg-type]
    assert forge.calls == [
        "get_repo team/app",
        "get_issue team/app#3",
        "label_added_by team/app#3 agentops",
    ]
    with pytest.raises(TriggerRefused, match="not on this issue"):
        asyncio.run(read_back(RecordingForge(), TARGET, labelled))  # type: ignore[arg-type]
    forged = RecordingForge(labels=("agentops",), labeler="eve")
    with pytest.raises(TriggerRefused, match="was added by @eve, not by @dana"):
        asyncio.run(read_back(forged, TARGET, labelled))  # type: ignore[arg-type]
    unrecorded = RecordingForge(labels=("agentops",), labeler=None)
    with pytest.raises(TriggerRefused, match="no one is recorded"):
        asyncio.run(read_back(unrecorded, TARGET, labelled))  # type: ignore[arg-type]


def test_github_runs_cost_no_call() -> None:
    forge = RecordingForge()
    proven = asyncio.run(read_back(forge, TARGET, run(forge="github")))  # type: ignore[arg-type]
    assert proven.author == "dana" and forge.calls == []


def test_the_payloads_project_id_must_be_the_proven_projects() -> None:
    assert project_mismatch(run(), 5) is None
    assert project_mismatch(run(context={}), 9) is None  # older runs name no id
    assert project_mismatch(run(), 9) == (
        "the webhook named project id 5, but team/app is project 9"
    )
    forge = RecordingForge(Comment(77, "/agentops implement", "dana"), project_id=9)
    with pytest.raises(TriggerRefused, match="named project id 5"):
        asyncio.run(read_back(forge, TARGET, run()))  # type: ignore[arg-type]
    assert forge.calls == ["get_repo team/app"]
