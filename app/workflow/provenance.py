"""Who asked, and what, as the forge's API says: a run's trigger read back before it acts.

A GitLab delivery is proven only by its project's hook token, which every maintainer of
that project can read, so its payload's user, note text and labels are claims. Before a
run acts, the note is read back by its id on its issue or merge request (its author and
its command must be the payload's), and a label must be on the issue or merge request
with the payload's user as the last one who added it (GitLab's resource label events);
the write-access check then uses the author the API gave. The project's numeric
id, by which the run was filed (its tenant), must be the id of the project the token
proved (its path). A GitHub delivery is signed with the App's secret, which only the
operator and GitHub hold, so its payload is GitHub's word and costs no extra call.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.commands import parse_comment
from app.forges.base import Comment, Forge, Target
from app.forges.registry import spec_for
from app.store.runs import Run


@dataclass(frozen=True)
class Proven:
    author: str  # who asked, as the forge's API says


class TriggerRefused(Exception):
    """The API does not confirm the payload; the text says what differs."""


def needs_read_back(run: Run) -> bool:
    """Whether the person behind `run` must be read back from the forge's API: its
    webhook's proof covers the project, not who wrote the comment or added the label."""
    return not spec_for(run.forge).webhook_proves_author and run.trigger in ("comment", "label")


def comment_mismatch(run: Run, comment: Comment | None) -> str | None:
    """Why the API's comment does not prove `run`'s request; None when it does."""
    if comment is None:
        return f"comment {run.comment_id} does not exist on this issue or merge request"
    if comment.author.lower() != run.requested_by.lower():
        return (
            f"comment {run.comment_id} was written by @{comment.author}, not by"
            f" @{run.requested_by} as the webhook said"
        )
    command = parse_comment(comment.body)
    if command is None or (command.name, command.args) != (run.command, run.args):
        return f"comment {run.comment_id} does not say `/agentops {run.command}` (any more)"
    return None


def label_mismatch(label: str, labels: tuple[str, ...]) -> str | None:
    if label.casefold() not in {existing.casefold() for existing in labels}:
        return f"the label {label!r} is not on this issue or merge request"
    return None


def labeler_mismatch(run: Run, label: str, added_by: str | None) -> str | None:
    """Who added the label, as the forge records it, against the payload's user."""
    if added_by is None:
        return f"no one is recorded as having added the label {label!r} here"
    if added_by.lower() != run.requested_by.lower():
        return (
            f"the label {label!r} was added by @{added_by}, not by @{run.requested_by}"
            " as the webhook said"
        )
    return None


def project_mismatch(run: Run, project_id: int | None) -> str | None:
    """The payload's numeric project id (which files the run under its tenant) against the
    project the proven path names: a token proves the path, not the id."""
    claimed = run.context.get("project_id")
    if claimed is None or claimed == project_id:
        return None
    return f"the webhook named project id {claimed}, but {run.repo} is project {project_id}"


async def read_back(forge: Forge, target: Target, run: Run) -> Proven:
    """The run's trigger as the API has it; `TriggerRefused` when the API says otherwise."""
    if not needs_read_back(run):
        return Proven(run.requested_by)
    reason = project_mismatch(run, (await forge.get_repo(run.repo)).id)
    if reason is not None:
        raise TriggerRefused(reason)
    if run.trigger == "comment":
        if run.comment_id is None:
            raise TriggerRefused("the webhook named no comment")
        comment = await forge.get_comment(target, run.comment_id)
        reason = comment_mismatch(run, comment)
        if reason is not None or comment is None:
            raise TriggerRefused(reason or "no comment")
        return Proven(comment.author)
    label = str(run.context.get("label") or "")
    issue = await forge.get_issue(target)
    if (reason := label_mismatch(label, issue.labels)) is not None:
        raise TriggerRefused(reason)
    added_by = await forge.label_added_by(target, label)
    if (reason := labeler_mismatch(run, label, added_by)) is not None or added_by is None:
        raise TriggerRefused(reason or "no one added the label")
    return Proven(added_by)
